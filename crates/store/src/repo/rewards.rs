//! The rewards catalogue (phần thưởng / quà) and its redemptions.

use jiff::Timestamp;

use super::{json, ms, to_json, ts, ts_opt};
use crate::params;
use crate::sql::{DbError, Row, Sql};
pub use loyalty_core::records::Reward;

pub fn insert(sql: &mut dyn Sql, tenant_id: &str, r: &Reward) -> Result<(), DbError> {
    sql.execute(
        "insert into rewards (tenant_id, id, name, points_cost, kind, voucher_program_id, stock,
            per_member_limit, tiers, active, starts_at, ends_at, redeemed, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        params![
            tenant_id,
            &r.id,
            &r.name,
            r.points_cost,
            r.kind.as_str(),
            &r.voucher_program_id,
            r.stock,
            r.per_member_limit,
            to_json(&r.tiers),
            r.active,
            r.starts_at.map(ms),
            r.ends_at.map(ms),
            r.redeemed,
            ms(r.created_at),
            ms(r.updated_at)
        ],
    )?;
    Ok(())
}

pub fn update(sql: &mut dyn Sql, tenant_id: &str, r: &Reward) -> Result<(), DbError> {
    sql.execute(
        "update rewards
         set name = $3, points_cost = $4, kind = $5, voucher_program_id = $6, stock = $7,
             per_member_limit = $8, tiers = $9, active = $10, starts_at = $11, ends_at = $12,
             redeemed = $13, updated_at = $14
         where tenant_id = $1 and id = $2",
        params![
            tenant_id,
            &r.id,
            &r.name,
            r.points_cost,
            r.kind.as_str(),
            &r.voucher_program_id,
            r.stock,
            r.per_member_limit,
            to_json(&r.tiers),
            r.active,
            r.starts_at.map(ms),
            r.ends_at.map(ms),
            r.redeemed,
            ms(r.updated_at)
        ],
    )?;
    Ok(())
}

const COLUMNS: &str = "id, name, points_cost, kind, voucher_program_id, stock, per_member_limit, tiers, active, starts_at, ends_at, redeemed, created_at, updated_at";

pub fn get(sql: &mut dyn Sql, tenant_id: &str, id: &str) -> Result<Option<Reward>, DbError> {
    let query = format!("select {COLUMNS} from rewards where tenant_id = $1 and id = $2");
    sql.query_opt(&query, params![tenant_id, id])?
        .map(|r| from_row(&r))
        .transpose()
}

/// The reward, locked until the transaction ends (PostgreSQL): two members racing for the last
/// item in stock take turns.
pub fn get_for_update(
    sql: &mut dyn Sql,
    tenant_id: &str,
    id: &str,
) -> Result<Option<Reward>, DbError> {
    let lock = sql.backend().for_update();
    let query = format!("select {COLUMNS} from rewards where tenant_id = $1 and id = $2{lock}");
    sql.query_opt(&query, params![tenant_id, id])?
        .map(|r| from_row(&r))
        .transpose()
}

pub fn list(sql: &mut dyn Sql, tenant_id: &str) -> Result<Vec<Reward>, DbError> {
    let query =
        format!("select {COLUMNS} from rewards where tenant_id = $1 order by created_at, id");
    sql.query(&query, params![tenant_id])?
        .iter()
        .map(from_row)
        .collect()
}

fn from_row(row: &Row) -> Result<Reward, DbError> {
    Ok(Reward {
        id: row.get("id")?,
        name: row.get("name")?,
        points_cost: row.get("points_cost")?,
        kind: row.get("kind")?,
        voucher_program_id: row.get("voucher_program_id")?,
        stock: row.get("stock")?,
        per_member_limit: row.get("per_member_limit")?,
        tiers: json(row, "tiers")?,
        active: row.get("active")?,
        starts_at: ts_opt(row, "starts_at")?,
        ends_at: ts_opt(row, "ends_at")?,
        redeemed: row.get("redeemed")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
    })
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RewardRedemption {
    pub id: String,
    pub reward_id: String,
    pub member_id: loyalty_core::id::MemberId,
    pub points_spent: i64,
    pub ledger_entry_id: String,
    pub voucher_code: Option<String>,
    /// `issued` (a voucher), `pending` (a gift to hand over), `fulfilled`, `cancelled`.
    pub fulfilment: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

pub fn insert_redemption(
    sql: &mut dyn Sql,
    tenant_id: &str,
    r: &RewardRedemption,
) -> Result<(), DbError> {
    sql.execute(
        "insert into reward_redemptions (tenant_id, id, reward_id, member_id, points_spent,
            ledger_entry_id, voucher_code, fulfilment, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        params![
            tenant_id,
            &r.id,
            &r.reward_id,
            &r.member_id,
            r.points_spent,
            &r.ledger_entry_id,
            &r.voucher_code,
            r.fulfilment.as_str(),
            ms(r.created_at),
            ms(r.updated_at)
        ],
    )?;
    Ok(())
}

pub fn member_redemptions(
    sql: &mut dyn Sql,
    tenant_id: &str,
    reward_id: &str,
    member_id: &str,
) -> Result<i64, DbError> {
    sql.query_scalar(
        "select count(*) from reward_redemptions
         where tenant_id = $1 and reward_id = $2 and member_id = $3 and fulfilment <> 'cancelled'",
        params![tenant_id, reward_id, member_id],
    )
}

/// (day key, redemptions, points) per redemption, oldest first, for the report.
pub fn redemptions_of(
    sql: &mut dyn Sql,
    tenant_id: &str,
    reward_id: &str,
) -> Result<Vec<(Timestamp, i64)>, DbError> {
    sql.query(
        "select created_at, points_spent from reward_redemptions
         where tenant_id = $1 and reward_id = $2 and fulfilment <> 'cancelled'
         order by created_at",
        params![tenant_id, reward_id],
    )?
    .iter()
    .map(|row| Ok((ts(row, "created_at")?, row.get("points_spent")?)))
    .collect()
}
