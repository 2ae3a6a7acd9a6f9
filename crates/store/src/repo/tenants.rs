use jiff::Timestamp;
use loyalty_core::tenancy::Tenant;

use super::{ms, ts};
use crate::params;
use crate::sql::{Backend, DbError, Row, Sql};

pub fn insert(sql: &mut dyn Sql, tenant: &Tenant) -> Result<(), DbError> {
    sql.execute(
        "insert into tenants (tenant_id, name, timezone, currency, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $5)",
        params![
            &tenant.id,
            &tenant.name,
            &tenant.timezone,
            &tenant.currency,
            ms(tenant.created_at)
        ],
    )?;
    Ok(())
}

pub fn get(sql: &mut dyn Sql, tenant_id: &str) -> Result<Option<Tenant>, DbError> {
    sql.query_opt(
        "select tenant_id, name, timezone, currency, created_at
         from tenants
         where tenant_id = $1",
        params![tenant_id],
    )?
    .map(|row| from_row(&row))
    .transpose()
}

/// Whether the installation has any tenant yet.
pub fn any(sql: &mut dyn Sql) -> Result<bool, DbError> {
    Ok(!sql
        .query("select 1 as one from tenants limit 1", &[])?
        .is_empty())
}

/// Serialises first-run setups until the transaction ends. SQLite's writer already holds the
/// whole database; on PostgreSQL a transaction-scoped advisory lock (its key is arbitrary but
/// fixed) makes a second setup wait for the first to commit, then see its tenant.
pub fn lock_first_run(sql: &mut dyn Sql) -> Result<(), DbError> {
    if sql.backend() == Backend::Postgres {
        sql.execute("select pg_advisory_xact_lock(7301042)", &[])?;
    }
    Ok(())
}

pub fn list(sql: &mut dyn Sql) -> Result<Vec<Tenant>, DbError> {
    sql.query(
        "select tenant_id, name, timezone, currency, created_at
         from tenants
         order by created_at",
        &[],
    )?
    .iter()
    .map(from_row)
    .collect()
}

pub fn program(sql: &mut dyn Sql, tenant_id: &str) -> Result<String, DbError> {
    sql.query_scalar(
        "select program from tenants where tenant_id = $1",
        params![tenant_id],
    )
}

/// Stores the program settings (JSON) and the tenant's time zone, which they include.
pub fn set_program(
    sql: &mut dyn Sql,
    tenant_id: &str,
    program: &str,
    timezone: &str,
    now: Timestamp,
) -> Result<(), DbError> {
    sql.execute(
        "update tenants set program = $2, timezone = $3, updated_at = $4 where tenant_id = $1",
        params![tenant_id, program, timezone, ms(now)],
    )?;
    Ok(())
}

fn from_row(row: &Row) -> Result<Tenant, DbError> {
    Ok(Tenant {
        id: row.get("tenant_id")?,
        name: row.get("name")?,
        timezone: row.get("timezone")?,
        currency: row.get("currency")?,
        created_at: ts(row, "created_at")?,
    })
}
