//! Leases for background jobs: one instance at a time runs a job, and a crashed holder's lease
//! runs out so another takes over.

use jiff::Timestamp;

use super::ms;
use crate::params;
use crate::sql::{DbError, Sql};

/// Takes (or renews) the lease `name` for `holder` until `until`, unless another holder's
/// lease is still running. Returns whether `holder` now holds it.
pub fn acquire(
    sql: &mut dyn Sql,
    tenant_id: &str,
    name: &str,
    holder: &str,
    now: Timestamp,
    until: Timestamp,
) -> Result<bool, DbError> {
    let rows = sql.query(
        "insert into job_leases (tenant_id, name, holder, expires_at)
         values ($1, $2, $3, $4)
         on conflict (tenant_id, name) do update
         set holder = excluded.holder, expires_at = excluded.expires_at
         where job_leases.holder = excluded.holder or job_leases.expires_at <= $5
         returning holder",
        params![tenant_id, name, holder, ms(until), ms(now)],
    )?;
    Ok(!rows.is_empty())
}

pub fn release(
    sql: &mut dyn Sql,
    tenant_id: &str,
    name: &str,
    holder: &str,
) -> Result<(), DbError> {
    sql.execute(
        "delete from job_leases where tenant_id = $1 and name = $2 and holder = $3",
        params![tenant_id, name, holder],
    )?;
    Ok(())
}
