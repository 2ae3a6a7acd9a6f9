//! The tier ladder and members' tier history.

use jiff::Timestamp;
use loyalty_core::tenancy::Actor;
use loyalty_core::tier::{BrandDiscount, Tier};

use super::{json, ms, to_json, ts};
use crate::params;
use crate::sql::{DbError, Row, Sql, Value};
use crate::{Page, Paged};
pub use loyalty_core::records::TierChange;

pub fn insert(sql: &mut dyn Sql, tenant_id: &str, t: &Tier) -> Result<(), DbError> {
    sql.execute(
        "insert into tiers (tenant_id, id, name, rank, threshold, earn_multiplier, discount_percent,
            brand_discounts, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        params![
            tenant_id,
            &t.id,
            &t.name,
            t.rank,
            t.threshold,
            t.earn_multiplier_per_mille,
            t.discount_percent,
            to_json(&t.brand_discounts),
            ms(t.created_at),
            ms(t.updated_at)
        ],
    )?;
    Ok(())
}

pub fn update(sql: &mut dyn Sql, tenant_id: &str, t: &Tier) -> Result<(), DbError> {
    sql.execute(
        "update tiers
         set name = $3, rank = $4, threshold = $5, earn_multiplier = $6, discount_percent = $7,
             brand_discounts = $8, updated_at = $9
         where tenant_id = $1 and id = $2",
        params![
            tenant_id,
            &t.id,
            &t.name,
            t.rank,
            t.threshold,
            t.earn_multiplier_per_mille,
            t.discount_percent,
            to_json(&t.brand_discounts),
            ms(t.updated_at)
        ],
    )?;
    Ok(())
}

pub fn delete(sql: &mut dyn Sql, tenant_id: &str, id: &str) -> Result<bool, DbError> {
    Ok(sql.execute(
        "delete from tiers where tenant_id = $1 and id = $2",
        params![tenant_id, id],
    )? == 1)
}

/// The ladder, lowest rank first.
pub fn list(sql: &mut dyn Sql, tenant_id: &str) -> Result<Vec<Tier>, DbError> {
    sql.query(
        "select id, name, rank, threshold, earn_multiplier, discount_percent, brand_discounts, created_at, updated_at
         from tiers
         where tenant_id = $1
         order by rank",
        params![tenant_id],
    )?
    .iter()
    .map(from_row)
    .collect()
}

fn from_row(row: &Row) -> Result<Tier, DbError> {
    let brand_discounts: Vec<BrandDiscount> = json(row, "brand_discounts")?;
    Ok(Tier {
        id: row.get("id")?,
        name: row.get("name")?,
        rank: row.get("rank")?,
        threshold: row.get("threshold")?,
        earn_multiplier_per_mille: row.get("earn_multiplier")?,
        discount_percent: row.get("discount_percent")?,
        brand_discounts,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
    })
}

/// Records tier changes with a few multi-row statements. Call it through
/// `app::tiers::record_moves`, which raises their `tier.changed` events with them.
pub fn record_many(
    sql: &mut dyn Sql,
    tenant_id: &str,
    changes: &[TierChange],
) -> Result<(), DbError> {
    const COLUMNS: usize = 12;
    for chunk in changes.chunks(100) {
        let mut query = String::from(
            "insert into tier_history (tenant_id, id, member_id, from_tier_id, from_name, to_tier_id,
                to_name, reason, value, note, actor_kind, actor_id, at) values ",
        );
        let mut values: Vec<Value<'_>> = vec![tenant_id.into()];
        for (i, c) in chunk.iter().enumerate() {
            if i > 0 {
                query.push_str(", ");
            }
            let placeholders: Vec<String> = (0..COLUMNS)
                .map(|k| format!("${}", 2 + i * COLUMNS + k))
                .collect();
            query.push_str(&format!("($1, {})", placeholders.join(", ")));
            values.extend([
                Value::from(c.id.as_str()),
                Value::from(c.member_id.as_str()),
                Value::from(c.from.as_ref().map(|(id, _)| id.as_str())),
                Value::from(c.from.as_ref().map(|(_, name)| name.as_str())),
                Value::from(c.to.as_ref().map(|(id, _)| id.as_str())),
                Value::from(c.to.as_ref().map(|(_, name)| name.as_str())),
                Value::from(c.reason.as_str()),
                Value::from(c.value),
                Value::from(&c.note),
                Value::from(c.actor.as_ref().map(|a| a.kind.as_str())),
                Value::from(c.actor.as_ref().and_then(|a| a.id.as_deref())),
                Value::from(ms(c.at)),
            ]);
        }
        sql.execute(&query, &values)?;
    }
    Ok(())
}

/// A member's tier changes, newest first, optionally within [from, to).
pub fn history(
    sql: &mut dyn Sql,
    tenant_id: &str,
    member_id: &str,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
    page: &Page,
) -> Result<Paged<TierChange>, DbError> {
    let after = page.after.clone().unwrap_or_else(|| "~".to_string());
    let rows = sql.query(
        "select id, member_id, from_tier_id, from_name, to_tier_id, to_name, reason, value, note,
                actor_kind, actor_id, at
         from tier_history
         where tenant_id = $1 and member_id = $2 and id < $3 and at >= $4 and at < $5
         order by id desc
         limit $6",
        params![
            tenant_id,
            member_id,
            after.as_str(),
            from.map_or(i64::MIN, ms),
            to.map_or(i64::MAX, ms),
            page.limit + 1
        ],
    )?;
    let changes = rows
        .iter()
        .map(|row| {
            let pair = |id: &str, name: &str| -> Result<Option<(String, String)>, DbError> {
                Ok(
                    match (
                        row.get::<Option<String>>(id)?,
                        row.get::<Option<String>>(name)?,
                    ) {
                        (Some(id), Some(name)) => Some((id, name)),
                        _ => None,
                    },
                )
            };
            let kind: Option<String> = row.get("actor_kind")?;
            Ok(TierChange {
                id: row.get("id")?,
                member_id: row.get("member_id")?,
                from: pair("from_tier_id", "from_name")?,
                to: pair("to_tier_id", "to_name")?,
                reason: row.get("reason")?,
                value: row.get("value")?,
                note: row.get("note")?,
                actor: kind
                    .as_deref()
                    .and_then(loyalty_core::tenancy::ActorKind::parse)
                    .map(|kind| Actor {
                        kind,
                        id: row.get("actor_id").ok().flatten(),
                        name: None,
                    }),
                at: ts(row, "at")?,
            })
        })
        .collect::<Result<Vec<_>, DbError>>()?;
    Ok(Paged::from_rows(changes, page.limit, |c| &c.id))
}
