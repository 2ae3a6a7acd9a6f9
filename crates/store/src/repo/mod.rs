//! The SQL of each table, next to the code that maps its rows. Every function takes the tenant
//! and every statement is scoped by it; the only exception is finding an API key by its public
//! prefix, which is how a request's tenant becomes known.

pub mod activity;
pub mod api_keys;
pub mod automations;
pub mod behaviour;
pub mod brands;
pub mod connections;
pub mod consent;
pub mod events;
pub mod gifts;
pub mod idempotency;
pub mod imports;
pub mod leases;
pub mod ledger;
pub mod members;
pub mod merge;
pub mod messaging;
pub mod orders;
pub mod portal;
pub mod products;
pub mod queue;
pub mod referrals;
pub mod reports;
pub mod rewards;
pub mod rfm;
pub mod rules;
pub mod segments;
pub mod sessions;
pub mod sign_ins;
pub mod staff;
pub mod statistics;
pub mod stores;
pub mod tenants;
pub mod tiers;
pub mod vouchers;
pub mod webhooks;

use jiff::Timestamp;
use loyalty_core::clock::{from_millis, to_millis};

use crate::sql::{DbError, Row};

pub(crate) fn ts(row: &Row, column: &str) -> Result<Timestamp, DbError> {
    row.get::<i64>(column).map(from_millis)
}

pub(crate) fn ts_opt(row: &Row, column: &str) -> Result<Option<Timestamp>, DbError> {
    Ok(row.get::<Option<i64>>(column)?.map(from_millis))
}

pub(crate) fn ms(t: Timestamp) -> i64 {
    to_millis(t)
}

pub(crate) fn json<T: serde::de::DeserializeOwned>(row: &Row, column: &str) -> Result<T, DbError> {
    let text: String = row.get(column)?;
    serde_json::from_str(&text).map_err(|e| DbError::Decode(format!("column {column}: {e}")))
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_string())
}

/// Escapes `%`, `_` and `\` so user text matches literally inside `like … escape '\'`.
pub(crate) fn like_contains(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// The right side of a row-value `in`: one row per item, the `fixed` values followed by the
/// item, each row with parameters of its own (appended to `values`). PostgreSQL plans a list of
/// rows as an index probe per row, whatever the table's statistics say (a young table has none)
/// — unless a parameter is shared by every row: its cached generic plan then took the shared
/// `tenant_id = $1` out and walked the tenant's whole table. SQLite, which takes rows only from
/// a subquery, gets a `values` list.
pub(crate) fn rows_in<'a>(
    backend: crate::sql::Backend,
    values: &mut Vec<crate::sql::Value<'a>>,
    fixed: &[&'a str],
    items: &[&'a str],
) -> String {
    let rows: Vec<String> = items
        .iter()
        .map(|item| {
            let marks: Vec<String> = fixed
                .iter()
                .chain(std::iter::once(item))
                .map(|value| {
                    values.push((*value).into());
                    format!("${}", values.len())
                })
                .collect();
            format!("({})", marks.join(", "))
        })
        .collect();
    match backend {
        crate::sql::Backend::Postgres => rows.join(", "),
        crate::sql::Backend::Sqlite => format!("values {}", rows.join(", ")),
    }
}
