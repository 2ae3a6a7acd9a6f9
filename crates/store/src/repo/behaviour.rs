//! When members first did what a rule's behaviour block asks about (API.md "Earning rules"
//! with the segments' behaviour blocks): their first order matching the block, or first
//! voucher use, in the block's period. A rule's block holds for an order when that first time
//! is before the order: one indexed query per block, for one member at the till or for a
//! page of members in a rule's preview.

use std::collections::HashMap;

use crate::sql::{DbError, Sql, Value};

/// A block with its period already in instants (the shop's local days).
#[derive(Debug, Clone, Default)]
pub struct Question<'a> {
    /// A voucher use rather than a purchase.
    pub voucher: bool,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub sku: Option<&'a str>,
    pub category: Option<&'a str>,
    pub store: Option<&'a str>,
    pub brand: Option<&'a str>,
}

/// Each member's first matching time, for those who have one.
pub fn first_times(
    sql: &mut dyn Sql,
    tenant_id: &str,
    member_ids: &[&str],
    q: &Question<'_>,
) -> Result<HashMap<String, i64>, DbError> {
    let mut found = HashMap::new();
    for chunk in member_ids.chunks(500) {
        let mut values: Vec<Value<'_>> = vec![tenant_id.into()];
        let bind = |values: &mut Vec<Value<'_>>, v: Value<'static>| {
            values.push(v);
            format!("${}", values.len())
        };
        let marks: Vec<String> = chunk
            .iter()
            .map(|id| bind(&mut values, Value::from(id.to_string())))
            .collect();
        let (table, alias, time, filter) = if q.voucher {
            (
                "voucher_redemptions",
                "r",
                "r.created_at",
                "r.status = 'redeemed'",
            )
        } else {
            ("orders", "o", "o.placed_at", "o.status <> 'cancelled'")
        };
        let column = format!("{alias}.member_id");
        let mut query = format!(
            "select {column} as member_id, min({time}) as first from {table} {alias}
             where {alias}.tenant_id = $1 and {column} in ({}) and {filter}",
            marks.join(", ")
        );
        if let Some(from) = q.from_ms {
            query.push_str(&format!(
                " and {time} >= {}",
                bind(&mut values, from.into())
            ));
        }
        if let Some(to) = q.to_ms {
            query.push_str(&format!(" and {time} < {}", bind(&mut values, to.into())));
        }
        if !q.voucher {
            if let Some(store) = q.store {
                let mark = bind(&mut values, Value::from(store.to_string()));
                query.push_str(&format!(" and o.store = {mark}"));
            }
            if let Some(brand) = q.brand {
                let mark = bind(&mut values, Value::from(brand.to_string()));
                query.push_str(&format!(" and o.brand = {mark}"));
            }
            if q.sku.is_some() || q.category.is_some() {
                query.push_str(
                    " and exists (select 1 from order_lines l
                       where l.tenant_id = o.tenant_id and l.order_id = o.id",
                );
                if let Some(sku) = q.sku {
                    let mark = bind(&mut values, Value::from(sku.to_string()));
                    query.push_str(&format!(" and l.sku = {mark}"));
                }
                if let Some(category) = q.category {
                    let mark = bind(&mut values, Value::from(category.to_string()));
                    query.push_str(&format!(" and l.category = {mark}"));
                }
                query.push(')');
            }
        }
        query.push_str(&format!(" group by {column}"));
        for row in sql.query(&query, &values)? {
            found.insert(row.get("member_id")?, row.get("first")?);
        }
    }
    Ok(found)
}
