//! Bonus earning rules and what they have given (budgets, per-member daily caps).

use loyalty_core::rules::{Caps, EarnRule, parse_condition, parse_effect};

use super::{ms, to_json, ts, ts_opt};
use crate::params;
use crate::sql::{DbError, Row, Sql};

pub fn insert(sql: &mut dyn Sql, tenant_id: &str, r: &EarnRule) -> Result<(), DbError> {
    sql.execute(
        "insert into earn_rules (tenant_id, id, name, active, starts_at, ends_at, conditions,
            effect, caps, awarded_points, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        params![
            tenant_id,
            &r.id,
            &r.name,
            r.active,
            r.starts_at.map(ms),
            r.ends_at.map(ms),
            r.conditions_json.to_string(),
            r.effect.to_json().to_string(),
            to_json(&r.caps),
            r.awarded_points,
            ms(r.created_at),
            ms(r.updated_at)
        ],
    )?;
    Ok(())
}

pub fn update(sql: &mut dyn Sql, tenant_id: &str, r: &EarnRule) -> Result<(), DbError> {
    sql.execute(
        "update earn_rules
         set name = $3, active = $4, starts_at = $5, ends_at = $6, conditions = $7, effect = $8,
             caps = $9, updated_at = $10
         where tenant_id = $1 and id = $2",
        params![
            tenant_id,
            &r.id,
            &r.name,
            r.active,
            r.starts_at.map(ms),
            r.ends_at.map(ms),
            r.conditions_json.to_string(),
            r.effect.to_json().to_string(),
            to_json(&r.caps),
            ms(r.updated_at)
        ],
    )?;
    Ok(())
}

pub fn delete(sql: &mut dyn Sql, tenant_id: &str, id: &str) -> Result<bool, DbError> {
    Ok(sql.execute(
        "delete from earn_rules where tenant_id = $1 and id = $2",
        params![tenant_id, id],
    )? == 1)
}

const COLUMNS: &str = "id, name, active, starts_at, ends_at, conditions, effect, caps, awarded_points, created_at, updated_at";

pub fn get(sql: &mut dyn Sql, tenant_id: &str, id: &str) -> Result<Option<EarnRule>, DbError> {
    let query = format!("select {COLUMNS} from earn_rules where tenant_id = $1 and id = $2");
    sql.query_opt(&query, params![tenant_id, id])?
        .map(|row| from_row(&row))
        .transpose()
}

pub fn list(sql: &mut dyn Sql, tenant_id: &str) -> Result<Vec<EarnRule>, DbError> {
    let query =
        format!("select {COLUMNS} from earn_rules where tenant_id = $1 order by created_at, id");
    sql.query(&query, params![tenant_id])?
        .iter()
        .map(from_row)
        .collect()
}

/// What the rule has given in all, locking the rule's row (PostgreSQL) so that two orders
/// cannot both spend the last of a budget.
pub fn awarded_for_update(sql: &mut dyn Sql, tenant_id: &str, id: &str) -> Result<i64, DbError> {
    let query = match sql.backend() {
        crate::Backend::Sqlite => {
            "select awarded_points from earn_rules where tenant_id = $1 and id = $2"
        }
        crate::Backend::Postgres => {
            "select awarded_points from earn_rules where tenant_id = $1 and id = $2 for update"
        }
    };
    Ok(sql
        .query_opt(query, params![tenant_id, id])?
        .map(|row| row.at(0))
        .transpose()?
        .unwrap_or(0))
}

pub fn add_awarded(
    sql: &mut dyn Sql,
    tenant_id: &str,
    id: &str,
    points: i64,
) -> Result<(), DbError> {
    sql.execute(
        "update earn_rules set awarded_points = awarded_points + $3 where tenant_id = $1 and id = $2",
        params![tenant_id, id, points],
    )?;
    Ok(())
}

/// What the rule gave the member on `day`, locking the row (created if missing) so concurrent
/// orders of the member see each other's awards.
pub fn member_day_for_update(
    sql: &mut dyn Sql,
    tenant_id: &str,
    rule_id: &str,
    member_id: &str,
    day: &str,
) -> Result<i64, DbError> {
    sql.execute(
        "insert into earn_rule_days (tenant_id, rule_id, member_id, day, points)
         values ($1, $2, $3, $4, 0)
         on conflict (tenant_id, rule_id, member_id, day) do nothing",
        params![tenant_id, rule_id, member_id, day],
    )?;
    let query = match sql.backend() {
        crate::Backend::Sqlite => {
            "select points from earn_rule_days where tenant_id = $1 and rule_id = $2 and member_id = $3 and day = $4"
        }
        crate::Backend::Postgres => {
            "select points from earn_rule_days where tenant_id = $1 and rule_id = $2 and member_id = $3 and day = $4 for update"
        }
    };
    sql.query_scalar(query, params![tenant_id, rule_id, member_id, day])
}

pub fn add_member_day(
    sql: &mut dyn Sql,
    tenant_id: &str,
    rule_id: &str,
    member_id: &str,
    day: &str,
    points: i64,
) -> Result<(), DbError> {
    sql.execute(
        "update earn_rule_days set points = points + $5
         where tenant_id = $1 and rule_id = $2 and member_id = $3 and day = $4",
        params![tenant_id, rule_id, member_id, day, points],
    )?;
    Ok(())
}

fn from_row(row: &Row) -> Result<EarnRule, DbError> {
    let decode = |e: loyalty_core::Invalid| DbError::Decode(format!("stored rule: {e}"));
    let conditions: serde_json::Value = super::json(row, "conditions")?;
    let effect: serde_json::Value = super::json(row, "effect")?;
    let caps: Caps = super::json(row, "caps")?;
    Ok(EarnRule {
        id: row.get("id")?,
        name: row.get("name")?,
        active: row.get("active")?,
        starts_at: ts_opt(row, "starts_at")?,
        ends_at: ts_opt(row, "ends_at")?,
        condition: parse_condition(&conditions, "conditions").map_err(decode)?,
        conditions_json: conditions,
        effect: parse_effect(&effect, "effect").map_err(decode)?,
        caps,
        awarded_points: row.get("awarded_points")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
    })
}
