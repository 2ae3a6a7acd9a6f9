//! The points ledger: append-only entries, credits that are also lots, and which lots each
//! debit took from.

use jiff::Timestamp;
use loyalty_core::book::EntryKind;
use loyalty_core::ledger::Lot;
use loyalty_core::tenancy::{Actor, ActorKind};

use super::{ms, ts, ts_opt};
use crate::params;
use crate::sql::{DbError, Row, Sql, Value, wide_sum};
use crate::{Page, Paged};
pub use loyalty_core::records::Entry;

pub fn insert(sql: &mut dyn Sql, tenant_id: &str, e: &Entry) -> Result<(), DbError> {
    sql.defer(
        "insert into ledger_entries (tenant_id, id, member_id, kind, points, remaining, order_id,
            reason, actor_kind, actor_id, actor_name, created_at, available_at, expires_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        params![
            tenant_id,
            &e.id,
            &e.member_id,
            e.kind.as_str(),
            e.points,
            e.remaining,
            &e.order_id,
            &e.reason,
            e.actor.as_ref().map(|a| a.kind.as_str()),
            e.actor.as_ref().and_then(|a| a.id.as_deref()),
            e.actor.as_ref().and_then(|a| a.name.as_deref()),
            ms(e.created_at),
            e.available_at.map(ms),
            e.expires_at.map(ms)
        ],
    )?;
    Ok(())
}

/// The member's lots that still hold points (expired ones included until expiry is written).
pub fn live_lots(sql: &mut dyn Sql, tenant_id: &str, member_id: &str) -> Result<Vec<Lot>, DbError> {
    sql.query(
        "select id, order_id, remaining, created_at, available_at, expires_at
         from ledger_entries
         where tenant_id = $1 and member_id = $2 and remaining > 0",
        params![tenant_id, member_id],
    )?
    .iter()
    .map(|row| {
        Ok(Lot {
            id: row.get("id")?,
            order_id: row.get("order_id")?,
            remaining: row.get("remaining")?,
            created_at: ts(row, "created_at")?,
            available_at: ts_opt(row, "available_at")?.unwrap_or(ts(row, "created_at")?),
            expires_at: ts_opt(row, "expires_at")?,
        })
    })
    .collect()
}

/// Changes what is left of a lot by `delta` (negative to take, positive to give back).
pub fn change_remaining(
    sql: &mut dyn Sql,
    tenant_id: &str,
    lot_id: &str,
    delta: i64,
) -> Result<(), DbError> {
    sql.defer(
        "update ledger_entries set remaining = remaining + $3 where tenant_id = $1 and id = $2",
        params![tenant_id, lot_id, delta],
    )?;
    Ok(())
}

/// Records which lots a debit took from.
pub fn record_takes(
    sql: &mut dyn Sql,
    tenant_id: &str,
    entry_id: &str,
    takes: &[(String, i64)],
) -> Result<(), DbError> {
    if takes.is_empty() {
        return Ok(());
    }
    let mut query =
        String::from("insert into lot_takes (tenant_id, entry_id, lot_id, points) values ");
    let mut values: Vec<Value<'_>> = Vec::with_capacity(takes.len() * 4);
    for (i, (lot_id, points)) in takes.iter().enumerate() {
        let n = i * 4;
        if i > 0 {
            query.push_str(", ");
        }
        query.push_str(&format!("(${}, ${}, ${}, ${})", n + 1, n + 2, n + 3, n + 4));
        values.extend([
            tenant_id.into(),
            entry_id.into(),
            lot_id.into(),
            (*points).into(),
        ]);
    }
    sql.defer(&query, &values)?;
    Ok(())
}

pub fn takes_of(
    sql: &mut dyn Sql,
    tenant_id: &str,
    entry_id: &str,
) -> Result<Vec<(String, i64)>, DbError> {
    sql.query(
        "select lot_id, points from lot_takes where tenant_id = $1 and entry_id = $2 order by lot_id",
        params![tenant_id, entry_id],
    )?
    .iter()
    .map(|row| Ok((row.get("lot_id")?, row.get("points")?)))
    .collect()
}

/// The entries of an order of one kind (the redemption an order made, its earnings).
pub fn of_order(
    sql: &mut dyn Sql,
    tenant_id: &str,
    order_id: &str,
    kind: &str,
) -> Result<Vec<Entry>, DbError> {
    sql.query(
        "select id, member_id, kind, points, remaining, order_id, reason, actor_kind, actor_id,
                actor_name, created_at, available_at, expires_at
         from ledger_entries
         where tenant_id = $1 and order_id = $2 and kind = $3
         order by id",
        params![tenant_id, order_id, kind],
    )?
    .iter()
    .map(from_row)
    .collect()
}

/// A member's entries, newest first.
pub fn list(
    sql: &mut dyn Sql,
    tenant_id: &str,
    member_id: &str,
    page: &Page,
) -> Result<Paged<Entry>, DbError> {
    let after = page.after.clone().unwrap_or_else(|| "~".to_string());
    let rows = sql.query(
        "select id, member_id, kind, points, remaining, order_id, reason, actor_kind, actor_id,
                actor_name, created_at, available_at, expires_at
         from ledger_entries
         where tenant_id = $1 and member_id = $2 and id < $3
         order by id desc
         limit $4",
        params![tenant_id, member_id, after.as_str(), page.limit + 1],
    )?;
    let entries = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    Ok(Paged::from_rows(entries, page.limit, |e| &e.id))
}

/// Lifetime points credited to the member by earnings and positive adjustments.
/// (Summed exactly; a total beyond `i64` reads as `i64::MAX`.)
pub fn lifetime_earned(
    sql: &mut dyn Sql,
    tenant_id: &str,
    member_id: &str,
) -> Result<i64, DbError> {
    sql.query_one(
        &format!(
            "select {} from ledger_entries
             where tenant_id = $1 and member_id = $2 and kind in ('earn', 'adjust') and points > 0",
            wide_sum("points", "earned")
        ),
        params![tenant_id, member_id],
    )?
    .wide_saturated("earned")
}

/// Per member: the sum of entries, what the lots hold, and the smallest lot (negative is a bug).
/// The sums are exact whatever the entries hold, so `verify` can judge a corrupt ledger too.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberSums {
    pub member_id: String,
    pub entries: i128,
    pub remaining: i128,
    pub min_remaining: i64,
}

/// Sums for the members of a tenant whose id is in (after, upto].
pub fn sums(
    sql: &mut dyn Sql,
    tenant_id: &str,
    after: &str,
    upto: &str,
) -> Result<Vec<MemberSums>, DbError> {
    sql.query(
        &format!(
            "select member_id, {}, {},
                cast(coalesce(min(remaining), 0) as bigint) as min_remaining
             from ledger_entries
             where tenant_id = $1 and member_id > $2 and member_id <= $3
             group by member_id",
            wide_sum("points", "entries"),
            wide_sum(
                "case when remaining > 0 then remaining else 0 end",
                "remaining"
            ),
        ),
        params![tenant_id, after, upto],
    )?
    .iter()
    .map(|row| {
        Ok(MemberSums {
            member_id: row.get("member_id")?,
            entries: row.wide("entries")?,
            remaining: row.wide("remaining")?,
            min_remaining: row.get("min_remaining")?,
        })
    })
    .collect()
}

fn from_row(row: &Row) -> Result<Entry, DbError> {
    let actor_kind: Option<String> = row.get("actor_kind")?;
    Ok(Entry {
        id: row.get("id")?,
        member_id: row.get("member_id")?,
        kind: {
            let kind: String = row.get("kind")?;
            EntryKind::parse(&kind)
                .ok_or_else(|| DbError::Decode(format!("ledger entry kind {kind}")))?
        },
        points: row.get("points")?,
        remaining: row.get("remaining")?,
        order_id: row.get("order_id")?,
        reason: row.get("reason")?,
        actor: actor_kind
            .as_deref()
            .and_then(ActorKind::parse)
            .map(|kind| Actor {
                kind,
                id: row.get("actor_id").ok().flatten(),
                name: row.get("actor_name").ok().flatten(),
            }),
        created_at: ts(row, "created_at")?,
        available_at: ts_opt(row, "available_at")?,
        expires_at: ts_opt(row, "expires_at")?,
    })
}

/// Lots by id, whatever they hold (a give-back refills lots that were emptied).
pub fn lots_by_id(
    sql: &mut dyn Sql,
    tenant_id: &str,
    member_id: &str,
    ids: &[&str],
) -> Result<Vec<Lot>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 3)).collect();
    let query = format!(
        "select id, order_id, remaining, created_at, available_at, expires_at
         from ledger_entries
         where tenant_id = $1 and member_id = $2 and id in ({})",
        placeholders.join(", ")
    );
    let mut values: Vec<Value<'_>> = vec![tenant_id.into(), member_id.into()];
    values.extend(ids.iter().map(|id| Value::from(*id)));
    sql.query(&query, &values)?
        .iter()
        .map(|row| {
            Ok(Lot {
                id: row.get("id")?,
                order_id: row.get("order_id")?,
                remaining: row.get::<Option<i64>>("remaining")?.unwrap_or(0),
                created_at: ts(row, "created_at")?,
                available_at: ts_opt(row, "available_at")?.unwrap_or(ts(row, "created_at")?),
                expires_at: ts_opt(row, "expires_at")?,
            })
        })
        .collect()
}

/// The live lots of several members, with the member each belongs to.
pub fn live_lots_of(
    sql: &mut dyn Sql,
    tenant_id: &str,
    member_ids: &[&str],
) -> Result<Vec<(String, Lot)>, DbError> {
    if member_ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (0..member_ids.len())
        .map(|i| format!("${}", i + 2))
        .collect();
    let query = format!(
        "select member_id, id, order_id, remaining, created_at, available_at, expires_at
         from ledger_entries
         where tenant_id = $1 and member_id in ({}) and remaining > 0",
        placeholders.join(", ")
    );
    let mut values: Vec<Value<'_>> = vec![tenant_id.into()];
    values.extend(member_ids.iter().map(|id| Value::from(*id)));
    sql.query(&query, &values)?
        .iter()
        .map(|row| {
            Ok((
                row.get("member_id")?,
                Lot {
                    id: row.get("id")?,
                    order_id: row.get("order_id")?,
                    remaining: row.get("remaining")?,
                    created_at: ts(row, "created_at")?,
                    available_at: ts_opt(row, "available_at")?.unwrap_or(ts(row, "created_at")?),
                    expires_at: ts_opt(row, "expires_at")?,
                },
            ))
        })
        .collect()
}

/// Inserts many entries with a few multi-row statements.
pub fn insert_many(sql: &mut dyn Sql, tenant_id: &str, entries: &[Entry]) -> Result<(), DbError> {
    const COLUMNS: usize = 14;
    for chunk in entries.chunks(100) {
        let mut query = String::from(
            "insert into ledger_entries (tenant_id, id, member_id, kind, points, remaining, order_id,
                reason, actor_kind, actor_id, actor_name, created_at, available_at, expires_at) values ",
        );
        let mut values: Vec<Value<'_>> = Vec::with_capacity(chunk.len() * COLUMNS);
        for (i, e) in chunk.iter().enumerate() {
            if i > 0 {
                query.push_str(", ");
            }
            let placeholders: Vec<String> = (1..=COLUMNS)
                .map(|c| format!("${}", i * COLUMNS + c))
                .collect();
            query.push_str(&format!("({})", placeholders.join(", ")));
            values.extend([
                Value::from(tenant_id),
                Value::from(e.id.as_str()),
                Value::from(e.member_id.as_str()),
                Value::from(e.kind.as_str()),
                Value::from(e.points),
                Value::from(e.remaining),
                Value::from(&e.order_id),
                Value::from(&e.reason),
                Value::from(e.actor.as_ref().map(|a| a.kind.as_str())),
                Value::from(e.actor.as_ref().and_then(|a| a.id.as_deref())),
                Value::from(e.actor.as_ref().and_then(|a| a.name.as_deref())),
                Value::from(ms(e.created_at)),
                Value::from(e.available_at.map(ms)),
                Value::from(e.expires_at.map(ms)),
            ]);
        }
        sql.defer(&query, &values)?;
    }
    Ok(())
}

/// Empties the members' lots that have expired by `now` (their points were written off by an
/// `expire` entry in the same transaction).
pub fn zero_expired(
    sql: &mut dyn Sql,
    tenant_id: &str,
    member_ids: &[&str],
    now: Timestamp,
) -> Result<u64, DbError> {
    if member_ids.is_empty() {
        return Ok(0);
    }
    let placeholders: Vec<String> = (0..member_ids.len())
        .map(|i| format!("${}", i + 3))
        .collect();
    let query = format!(
        "update ledger_entries set remaining = 0
         where tenant_id = $1 and member_id in ({}) and remaining > 0 and expires_at <= $2",
        placeholders.join(", ")
    );
    let mut values: Vec<Value<'_>> = vec![tenant_id.into(), ms(now).into()];
    values.extend(member_ids.iter().map(|id| Value::from(*id)));
    sql.execute(&query, &values)
}
