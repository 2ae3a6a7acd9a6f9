//! The dashboard's figures: a handful of aggregate queries over one tenant. Money and points
//! are summed exactly in two halves (`wide_sum`), so no volume of orders can make them fail.

use jiff::Timestamp;

use super::ms;
use crate::params;
use crate::sql::{DbError, Sql, wide_sum};
pub use loyalty_core::records::Dashboard;

/// `offset_seconds` is the tenant's UTC offset, used to cut days (Việt Nam has no daylight
/// saving; elsewhere a day at a clock change is cut an hour off).
pub fn dashboard(
    sql: &mut dyn Sql,
    tenant_id: &str,
    from: Timestamp,
    to: Timestamp,
    offset_seconds: i64,
) -> Result<Dashboard, DbError> {
    let (from, to) = (ms(from), ms(to));
    let mut d = Dashboard::default();

    let row = sql.query_one(
        &format!(
            "select count(*) as total,
                cast(coalesce(sum(case when coalesce(member_since, created_at) >= $2 and coalesce(member_since, created_at) < $3 then 1 else 0 end), 0) as bigint) as new,
                cast(coalesce(sum(case when last_order_at >= $2 and last_order_at < $3 then 1 else 0 end), 0) as bigint) as active,
                {}
             from members where tenant_id = $1 and status <> 'merged'",
            wide_sum("points_available + points_pending", "outstanding")
        ),
        params![tenant_id, from, to],
    )?;
    d.members_total = row.get("total")?;
    d.members_new = row.get("new")?;
    d.members_active = row.get("active")?;
    d.points_outstanding = row.wide_saturated("outstanding")?;

    let row = sql.query_one(
        &format!(
            "select {}, {},
                cast(coalesce(sum(case when member_id is not null then 1 else 0 end), 0) as bigint) as n_m,
                cast(coalesce(sum(case when member_id is null then 1 else 0 end), 0) as bigint) as n_g
             from orders
             where tenant_id = $1 and placed_at >= $2 and placed_at < $3 and status <> 'cancelled'",
            wide_sum("case when member_id is not null then total - refunded_amount else 0 end", "rev_m"),
            wide_sum("case when member_id is null then total - refunded_amount else 0 end", "rev_g"),
        ),
        params![tenant_id, from, to],
    )?;
    d.revenue_members = row.wide_saturated("rev_m")?;
    d.revenue_guests = row.wide_saturated("rev_g")?;
    d.orders_members = row.get("n_m")?;
    d.orders_guests = row.get("n_g")?;

    let row = sql.query_one(
        &format!(
            "select {}, {}, {}
             from ledger_entries
             where tenant_id = $1 and created_at >= $2 and created_at < $3",
            wide_sum(
                "case when kind in ('earn', 'adjust') and points > 0 then points else 0 end",
                "issued"
            ),
            wide_sum(
                "case when kind = 'redeem' then -points else 0 end",
                "redeemed"
            ),
            wide_sum(
                "case when kind = 'expire' then -points else 0 end",
                "expired"
            ),
        ),
        params![tenant_id, from, to],
    )?;
    d.points_issued = row.wide_saturated("issued")?;
    d.points_redeemed = row.wide_saturated("redeemed")?;
    d.points_expired = row.wide_saturated("expired")?;

    d.tiers = sql
        .query(
            "select tier_id, count(*) as n from members
             where tenant_id = $1 and status <> 'merged'
             group by tier_id order by n desc",
            params![tenant_id],
        )?
        .iter()
        .map(|row| Ok((row.get("tier_id")?, row.get("n")?)))
        .collect::<Result<_, DbError>>()?;

    d.new_per_day = sql
        .query(
            "select (coalesce(member_since, created_at) + $4) / 86400000 as day, count(*) as n
             from members
             where tenant_id = $1 and status <> 'merged'
               and coalesce(member_since, created_at) >= $2 and coalesce(member_since, created_at) < $3
             group by (coalesce(member_since, created_at) + $4) / 86400000 order by day",
            params![tenant_id, from, to, offset_seconds * 1000],
        )?
        .iter()
        .map(|row| Ok((row.get("day")?, row.get("n")?)))
        .collect::<Result<_, DbError>>()?;
    Ok(d)
}
