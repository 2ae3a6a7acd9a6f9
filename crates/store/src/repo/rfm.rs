//! RFM scoring's reads and writes on `members`: the quintile cuts found by the database, the
//! buyers a page at a time, and their classes (`app::jobs::score_rfm_for`, decision 0022).

use loyalty_core::rfm::{Cuts, Scorer};

use crate::params;
use crate::sql::{DbError, Sql, Value};

/// A member who has bought, as RFM scoring reads them.
#[derive(Debug, Clone, PartialEq)]
pub struct RfmRow {
    pub id: String,
    pub last_order_at: i64,
    pub order_count: i64,
    pub lifetime_spend: i64,
    pub class: Option<String>,
    pub score: Option<String>,
}

const RFM_BUYERS: &str = "tenant_id = $1 and order_count > 0 and last_order_at is not null";

/// The quintile cuts of recency, frequency and money among the tenant's buyers, found by the
/// database (a sort per measure), or `None` when nobody has bought.
pub fn rfm_scorer(sql: &mut dyn Sql, tenant_id: &str) -> Result<Option<Scorer>, DbError> {
    let buyers: i64 = sql
        .query_one(
            &format!("select count(*) as n from members where {RFM_BUYERS}"),
            params![tenant_id],
        )?
        .get("n")?;
    if buyers <= 0 {
        return Ok(None);
    }
    let positions = Cuts::positions(buyers as u64).map(|p| p as i64);
    let mut cuts = |column: &str| -> Result<Cuts, DbError> {
        let rows = sql.query(
            &format!(
                "select pos, v from (
                    select {column} as v, row_number() over (order by {column}) - 1 as pos
                    from members where {RFM_BUYERS}) ranked
                 where pos in ($2, $3, $4, $5)"
            ),
            params![
                tenant_id,
                positions[0],
                positions[1],
                positions[2],
                positions[3]
            ],
        )?;
        let mut at = [0i64; 4];
        for (k, position) in positions.iter().enumerate() {
            let row = rows
                .iter()
                .find(|r| r.get::<i64>("pos").ok() == Some(*position))
                .ok_or_else(|| DbError::Decode(format!("no {column} at position {position}")))?;
            at[k] = row.get("v")?;
        }
        Ok(Cuts(at))
    };
    Ok(Some(Scorer {
        recency: cuts("last_order_at")?,
        frequency: cuts("order_count")?,
        money: cuts("lifetime_spend")?,
    }))
}

/// A page of buyers after `after` in id order, with the class and score they hold now.
pub fn rfm_page(
    sql: &mut dyn Sql,
    tenant_id: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<RfmRow>, DbError> {
    sql.query(
        &format!(
            "select id, last_order_at, order_count, lifetime_spend, rfm_class, rfm_score
             from members where {RFM_BUYERS} and id > $2 order by id limit $3"
        ),
        params![tenant_id, after, limit],
    )?
    .iter()
    .map(|row| {
        Ok(RfmRow {
            id: row.get("id")?,
            last_order_at: row.get("last_order_at")?,
            order_count: row.get("order_count")?,
            lifetime_spend: row.get("lifetime_spend")?,
            class: row.get("rfm_class")?,
            score: row.get("rfm_score")?,
        })
    })
    .collect()
}

/// Members who no longer buy (their orders cancelled or merged away) lose their class.
pub fn clear_rfm_of_non_buyers(sql: &mut dyn Sql, tenant_id: &str) -> Result<u64, DbError> {
    sql.execute(
        "update members set rfm_class = null, rfm_score = null
         where tenant_id = $1 and rfm_class is not null
           and (order_count = 0 or last_order_at is null)",
        params![tenant_id],
    )
}

/// Writes RFM classes and scores, a few hundred members per statement.
pub fn set_rfm(
    sql: &mut dyn Sql,
    tenant_id: &str,
    rows: &[(String, &'static str, String)],
) -> Result<(), DbError> {
    for chunk in rows.chunks(200) {
        let mut tuples = Vec::with_capacity(chunk.len());
        let mut values: Vec<Value<'_>> = vec![tenant_id.into()];
        for (i, (id, class, score)) in chunk.iter().enumerate() {
            let b = 2 + i * 3;
            tuples.push(format!("(${}, ${}, ${})", b, b + 1, b + 2));
            values.extend([
                Value::from(id.as_str()),
                Value::from(*class),
                Value::from(score.as_str()),
            ]);
        }
        let query = format!(
            "with v (id, class, score) as (values {})
             update members set rfm_class = v.class, rfm_score = v.score
             from v where members.tenant_id = $1 and members.id = v.id",
            tuples.join(", ")
        );
        sql.execute(&query, &values)?;
    }
    Ok(())
}
