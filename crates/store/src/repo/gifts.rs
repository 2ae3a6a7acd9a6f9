//! Gift rewards waiting to be handed over, and their settling (migration 0022). A handed-over
//! gift is stored as `fulfilled` (the value 0006's check allows) and read as `handed_over`.

use jiff::Timestamp;

use super::{ms, ts, ts_opt};
use crate::params;
use crate::sql::{DbError, Row, Sql};

/// A gift redemption with what the queue shows of its reward and member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GiftRow {
    pub id: String,
    pub reward_id: String,
    pub reward_name: String,
    pub member_id: String,
    pub member_name: Option<String>,
    pub member_phone: Option<String>,
    pub points_spent: i64,
    pub ledger_entry_id: String,
    /// `pending`, `handed_over` or `cancelled` (`issued` for a voucher reward).
    pub fulfilment: String,
    pub store: Option<String>,
    pub cancel_reason: Option<String>,
    pub created_at: Timestamp,
    pub settled_at: Option<Timestamp>,
}

const HANDED_OVER_STORED: &str = "fulfilled";

fn shown(stored: String) -> String {
    if stored == HANDED_OVER_STORED {
        "handed_over".to_string()
    } else {
        stored
    }
}

fn stored(shown: &str) -> &str {
    if shown == "handed_over" {
        HANDED_OVER_STORED
    } else {
        shown
    }
}

const SELECT: &str =
    "select g.id, g.reward_id, r.name as reward_name, g.member_id, m.name as member_name,
        m.phone as member_phone, g.points_spent, g.ledger_entry_id, g.fulfilment, g.store,
        g.cancel_reason, g.created_at, g.settled_at
    from reward_redemptions g
    join rewards r on r.tenant_id = g.tenant_id and r.id = g.reward_id
    join members m on m.tenant_id = g.tenant_id and m.id = g.member_id";

fn row(r: &Row) -> Result<GiftRow, DbError> {
    Ok(GiftRow {
        id: r.get("id")?,
        reward_id: r.get("reward_id")?,
        reward_name: r.get("reward_name")?,
        member_id: r.get("member_id")?,
        member_name: r.get("member_name")?,
        member_phone: r.get("member_phone")?,
        points_spent: r.get("points_spent")?,
        ledger_entry_id: r.get("ledger_entry_id")?,
        fulfilment: shown(r.get("fulfilment")?),
        store: r.get("store")?,
        cancel_reason: r.get("cancel_reason")?,
        created_at: ts(r, "created_at")?,
        settled_at: ts_opt(r, "settled_at")?,
    })
}

/// Gift redemptions in one state (`pending`, `handed_over`, `cancelled`), oldest first for the
/// queue, newest first otherwise.
pub fn list(
    sql: &mut dyn Sql,
    tenant_id: &str,
    fulfilment: &str,
    limit: i64,
) -> Result<Vec<GiftRow>, DbError> {
    let order = if fulfilment == "pending" {
        "asc"
    } else {
        "desc"
    };
    let query = format!(
        "{SELECT} where g.tenant_id = $1 and g.fulfilment = $2
         order by g.created_at {order}, g.id {order} limit $3"
    );
    sql.query(&query, params![tenant_id, stored(fulfilment), limit])?
        .iter()
        .map(row)
        .collect()
}

/// One redemption, its row locked on PostgreSQL.
pub fn get_for_update(
    sql: &mut dyn Sql,
    tenant_id: &str,
    id: &str,
) -> Result<Option<GiftRow>, DbError> {
    let query = format!(
        "{SELECT} where g.tenant_id = $1 and g.id = $2{}",
        sql.backend()
            .for_update()
            .replace(" for update", " for update of g")
    );
    sql.query(&query, params![tenant_id, id])?
        .first()
        .map(row)
        .transpose()
}

/// Writes a gift's settling: handed over at `store`, or cancelled for `reason`.
pub fn settle(
    sql: &mut dyn Sql,
    tenant_id: &str,
    id: &str,
    fulfilment: &str,
    store: Option<&str>,
    reason: Option<&str>,
    at: Timestamp,
) -> Result<(), DbError> {
    sql.execute(
        "update reward_redemptions
         set fulfilment = $3, store = $4, cancel_reason = $5, settled_at = $6, updated_at = $6
         where tenant_id = $1 and id = $2",
        params![tenant_id, id, stored(fulfilment), store, reason, ms(at)],
    )?;
    Ok(())
}

/// The member a redemption belongs to (its write's queue key).
pub fn member_of(sql: &mut dyn Sql, tenant_id: &str, id: &str) -> Result<Option<String>, DbError> {
    sql.query(
        "select member_id from reward_redemptions where tenant_id = $1 and id = $2",
        params![tenant_id, id],
    )?
    .first()
    .map(|r| r.get("member_id"))
    .transpose()
}
