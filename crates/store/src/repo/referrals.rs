//! Referrals and members' referral codes (migration 0021).

use jiff::Timestamp;

use super::{ms, ts, ts_opt};
use crate::params;
use crate::sql::{DbError, Row, Sql};

/// A referral as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferralRow {
    pub id: String,
    pub referrer_id: String,
    pub friend_id: String,
    /// `pending`, `completed` or `reversed`.
    pub status: String,
    /// `registration`, `pos` or `portal`.
    pub source: String,
    pub created_at: Timestamp,
    pub completed_order_id: Option<String>,
    pub completed_at: Option<Timestamp>,
    pub reversed_at: Option<Timestamp>,
    pub referrer_points: i64,
    pub referrer_voucher: Option<String>,
    pub friend_points: i64,
    pub friend_voucher: Option<String>,
}

const COLUMNS: &str = "id, referrer_id, friend_id, status, source, created_at, completed_order_id, \
    completed_at, reversed_at, referrer_points, referrer_voucher, friend_points, friend_voucher";

fn row(r: &Row) -> Result<ReferralRow, DbError> {
    Ok(ReferralRow {
        id: r.get("id")?,
        referrer_id: r.get("referrer_id")?,
        friend_id: r.get("friend_id")?,
        status: r.get("status")?,
        source: r.get("source")?,
        created_at: ts(r, "created_at")?,
        completed_order_id: r.get("completed_order_id")?,
        completed_at: ts_opt(r, "completed_at")?,
        reversed_at: ts_opt(r, "reversed_at")?,
        referrer_points: r.get("referrer_points")?,
        referrer_voucher: r.get("referrer_voucher")?,
        friend_points: r.get("friend_points")?,
        friend_voucher: r.get("friend_voucher")?,
    })
}

/// The member's referral code, if one was drawn.
pub fn code_of(
    sql: &mut dyn Sql,
    tenant_id: &str,
    member_id: &str,
) -> Result<Option<String>, DbError> {
    let rows = sql.query(
        "select code from referral_codes where tenant_id = $1 and member_id = $2",
        params![tenant_id, member_id],
    )?;
    rows.first().map(|r| r.get("code")).transpose()
}

/// Keeps `code` as the member's unless the member has one or the code is taken; whether it
/// was kept.
pub fn insert_code(
    sql: &mut dyn Sql,
    tenant_id: &str,
    member_id: &str,
    code: &str,
    now: Timestamp,
) -> Result<bool, DbError> {
    let n = sql.execute(
        "insert into referral_codes (tenant_id, member_id, code, created_at)
         values ($1, $2, $3, $4) on conflict do nothing",
        params![tenant_id, member_id, code, ms(now)],
    )?;
    Ok(n > 0)
}

/// The member whose referral code is `code`.
pub fn member_by_code(
    sql: &mut dyn Sql,
    tenant_id: &str,
    code: &str,
) -> Result<Option<String>, DbError> {
    let rows = sql.query(
        "select member_id from referral_codes where tenant_id = $1 and code = $2",
        params![tenant_id, code],
    )?;
    rows.first().map(|r| r.get("member_id")).transpose()
}

/// Records a new pending referral; false when the friend was referred meanwhile.
pub fn insert(sql: &mut dyn Sql, tenant_id: &str, r: &ReferralRow) -> Result<bool, DbError> {
    let n = sql.execute(
        "insert into referrals (tenant_id, id, referrer_id, friend_id, status, source, created_at)
         values ($1, $2, $3, $4, $5, $6, $7) on conflict do nothing",
        params![
            tenant_id,
            r.id.as_str(),
            r.referrer_id.as_str(),
            r.friend_id.as_str(),
            r.status.as_str(),
            r.source.as_str(),
            ms(r.created_at)
        ],
    )?;
    Ok(n > 0)
}

/// The referral that made `friend_id` a friend, locked on PostgreSQL.
pub fn of_friend_for_update(
    sql: &mut dyn Sql,
    tenant_id: &str,
    friend_id: &str,
) -> Result<Option<ReferralRow>, DbError> {
    let query = format!(
        "select {COLUMNS} from referrals where tenant_id = $1 and friend_id = $2{}",
        sql.backend().for_update()
    );
    let rows = sql.query(&query, params![tenant_id, friend_id])?;
    rows.first().map(row).transpose()
}

/// The referral the order completed, locked on PostgreSQL.
pub fn completed_by_order_for_update(
    sql: &mut dyn Sql,
    tenant_id: &str,
    order_id: &str,
) -> Result<Option<ReferralRow>, DbError> {
    let query = format!(
        "select {COLUMNS} from referrals
         where tenant_id = $1 and completed_order_id = $2 and status = 'completed'{}",
        sql.backend().for_update()
    );
    let rows = sql.query(&query, params![tenant_id, order_id])?;
    rows.first().map(row).transpose()
}

/// Referrals `referrer_id` made since `since` (the monthly cap).
pub fn made_since(
    sql: &mut dyn Sql,
    tenant_id: &str,
    referrer_id: &str,
    since: Timestamp,
) -> Result<i64, DbError> {
    sql.query_scalar(
        "select count(*) from referrals where tenant_id = $1 and referrer_id = $2 and created_at >= $3",
        params![tenant_id, referrer_id, ms(since)],
    )
}

/// Referrals the member made, and how many of them completed.
pub fn made_counts(
    sql: &mut dyn Sql,
    tenant_id: &str,
    referrer_id: &str,
) -> Result<(i64, i64), DbError> {
    let row = sql.query_one(
        "select count(*) as made,
                cast(coalesce(sum(case when status = 'completed' then 1 else 0 end), 0) as bigint) as completed
         from referrals where tenant_id = $1 and referrer_id = $2",
        params![tenant_id, referrer_id],
    )?;
    Ok((row.get("made")?, row.get("completed")?))
}

/// Writes a referral's completion or reversal (status, order, times and rewards).
pub fn update(sql: &mut dyn Sql, tenant_id: &str, r: &ReferralRow) -> Result<(), DbError> {
    sql.execute(
        "update referrals set status = $3, completed_order_id = $4, completed_at = $5,
             reversed_at = $6, referrer_points = $7, referrer_voucher = $8, friend_points = $9,
             friend_voucher = $10
         where tenant_id = $1 and id = $2",
        params![
            tenant_id,
            r.id.as_str(),
            r.status.as_str(),
            r.completed_order_id.as_deref(),
            r.completed_at.map(ms),
            r.reversed_at.map(ms),
            r.referrer_points,
            r.referrer_voucher.as_deref(),
            r.friend_points,
            r.friend_voucher.as_deref()
        ],
    )?;
    Ok(())
}

/// Referrals the member made or was referred by (newest first), or the shop's latest.
pub fn list(
    sql: &mut dyn Sql,
    tenant_id: &str,
    member_id: Option<&str>,
    limit: i64,
) -> Result<Vec<ReferralRow>, DbError> {
    let rows = match member_id {
        Some(member) => sql.query(
            &format!(
                "select {COLUMNS} from referrals where tenant_id = $1 and referrer_id = $2
                 union all
                 select {COLUMNS} from referrals where tenant_id = $1 and friend_id = $2
                 order by created_at desc, id desc limit $3"
            ),
            params![tenant_id, member, limit],
        )?,
        None => sql.query(
            &format!(
                "select {COLUMNS} from referrals where tenant_id = $1
                 order by created_at desc, id desc limit $2"
            ),
            params![tenant_id, limit],
        )?,
    };
    rows.iter().map(row).collect()
}

/// The referral report's sums over `[from, to)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportRow {
    pub referrers: i64,
    pub friends: i64,
    pub completed: i64,
    pub reversed: i64,
    pub points_given: i64,
    pub vouchers_given: i64,
    pub friends_orders: i64,
    pub friends_revenue: i64,
}

pub fn report(
    sql: &mut dyn Sql,
    tenant_id: &str,
    from: Timestamp,
    to: Timestamp,
) -> Result<ReportRow, DbError> {
    let (from, to) = (ms(from), ms(to));
    let made = sql.query_one(
        "select count(distinct referrer_id) as referrers, count(*) as friends from referrals
         where tenant_id = $1 and created_at >= $2 and created_at < $3",
        params![tenant_id, from, to],
    )?;
    // Rewards count where the referral completed in the period and still stands.
    let done = sql.query_one(
        "select count(*) as completed,
                cast(coalesce(sum(referrer_points + friend_points), 0) as bigint) as points,
                cast(coalesce(sum((case when referrer_voucher is null then 0 else 1 end)
                           + (case when friend_voucher is null then 0 else 1 end)), 0) as bigint) as vouchers
         from referrals
         where tenant_id = $1 and completed_at >= $2 and completed_at < $3 and status = 'completed'",
        params![tenant_id, from, to],
    )?;
    let reversed: i64 = sql.query_scalar(
        "select count(*) from referrals
         where tenant_id = $1 and reversed_at >= $2 and reversed_at < $3",
        params![tenant_id, from, to],
    )?;
    // What referred friends bought in the period (paid and partly refunded orders, net).
    let bought = sql.query_one(
        "select count(*) as orders, cast(coalesce(sum(o.total - o.refunded_amount), 0) as bigint) as revenue
         from referrals r
         join orders o on o.tenant_id = r.tenant_id and o.member_id = r.friend_id
         where r.tenant_id = $1 and o.placed_at >= $2 and o.placed_at < $3
           and o.status <> 'cancelled'",
        params![tenant_id, from, to],
    )?;
    Ok(ReportRow {
        referrers: made.get("referrers")?,
        friends: made.get("friends")?,
        completed: done.get("completed")?,
        reversed,
        points_given: done.get("points")?,
        vouchers_given: done.get("vouchers")?,
        friends_orders: bought.get("orders")?,
        friends_revenue: bought.get("revenue")?,
    })
}
