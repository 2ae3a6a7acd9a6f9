//! Automations and their runs (migration 0018).

use loyalty_core::automation::Automation;

use super::{json, ms, to_json, ts};
use crate::params;
use crate::sql::{DbError, Row, Sql, Value};

const COLUMNS: &str = "id, name, active, trigger_type, trigger, steps, created_at, updated_at";

fn from_row(row: &Row) -> Result<Automation, DbError> {
    Ok(Automation {
        id: row.get("id")?,
        name: row.get("name")?,
        active: row.get("active")?,
        trigger: json(row, "trigger")?,
        steps: json(row, "steps")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
    })
}

fn values<'a>(tenant_id: &'a str, a: &'a Automation) -> Vec<Value<'a>> {
    params![
        tenant_id,
        a.id.as_str(),
        a.name.as_str(),
        a.active,
        a.trigger.type_name(),
        to_json(&a.trigger),
        to_json(&a.steps),
        ms(a.created_at),
        ms(a.updated_at)
    ]
    .to_vec()
}

pub fn insert(sql: &mut dyn Sql, tenant_id: &str, a: &Automation) -> Result<(), DbError> {
    sql.execute(
        &format!(
            "insert into automations (tenant_id, {COLUMNS}) values ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ),
        &values(tenant_id, a),
    )?;
    Ok(())
}

pub fn update(sql: &mut dyn Sql, tenant_id: &str, a: &Automation) -> Result<(), DbError> {
    sql.execute(
        "update automations set name = $3, active = $4, trigger_type = $5, trigger = $6,
             steps = $7, created_at = $8, updated_at = $9
         where tenant_id = $1 and id = $2",
        &values(tenant_id, a),
    )?;
    Ok(())
}

pub fn get(sql: &mut dyn Sql, tenant_id: &str, id: &str) -> Result<Option<Automation>, DbError> {
    sql.query(
        &format!("select {COLUMNS} from automations where tenant_id = $1 and id = $2"),
        params![tenant_id, id],
    )?
    .first()
    .map(from_row)
    .transpose()
}

/// The tenant's automations, oldest first (a shop has tens, not thousands).
pub fn list(sql: &mut dyn Sql, tenant_id: &str) -> Result<Vec<Automation>, DbError> {
    sql.query(
        &format!("select {COLUMNS} from automations where tenant_id = $1 order by created_at, id"),
        params![tenant_id],
    )?
    .iter()
    .map(from_row)
    .collect()
}

/// The tenant's active automations with this trigger type.
pub fn active_with_trigger(
    sql: &mut dyn Sql,
    tenant_id: &str,
    trigger_type: &str,
) -> Result<Vec<Automation>, DbError> {
    sql.query(
        &format!(
            "select {COLUMNS} from automations
             where tenant_id = $1 and trigger_type = $2 and active order by created_at, id"
        ),
        params![tenant_id, trigger_type],
    )?
    .iter()
    .map(from_row)
    .collect()
}
