//! Admin UI sessions. Looked up by the hash of the cookie's token, which is how a browser's
//! tenant becomes known (as an API key's prefix does for the API).

use jiff::Timestamp;
use loyalty_core::tenancy::StaffUser;

use super::{ms, ts};
use crate::params;
use crate::sql::{DbError, Sql};

#[derive(Debug, Clone)]
pub struct SessionRow {
    pub tenant_id: String,
    pub user: StaffUser,
    pub csrf_token: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

pub struct NewSession<'a> {
    pub id_hash: &'a str,
    pub tenant_id: &'a str,
    pub staff_id: &'a str,
    pub csrf_token: &'a str,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

pub fn insert(sql: &mut dyn Sql, s: &NewSession<'_>) -> Result<(), DbError> {
    sql.execute(
        "insert into admin_sessions (id_hash, tenant_id, staff_id, csrf_token, created_at, expires_at)
         values ($1, $2, $3, $4, $5, $6)",
        params![
            s.id_hash,
            s.tenant_id,
            s.staff_id,
            s.csrf_token,
            ms(s.created_at),
            ms(s.expires_at)
        ],
    )?;
    Ok(())
}

/// The live session with this token hash, if its user is still active.
pub fn get(
    sql: &mut dyn Sql,
    id_hash: &str,
    now: Timestamp,
) -> Result<Option<SessionRow>, DbError> {
    sql.query_opt(
        "select s.tenant_id, s.csrf_token, s.created_at as signed_in_at, s.expires_at,
                u.id, u.email, u.name, u.role, u.active, u.created_at, u.last_login_at
         from admin_sessions s
         join staff_users u on u.tenant_id = s.tenant_id and u.id = s.staff_id
         where s.id_hash = $1 and s.expires_at > $2 and u.active",
        params![id_hash, ms(now)],
    )?
    .map(|row| {
        Ok(SessionRow {
            tenant_id: row.get("tenant_id")?,
            user: super::staff::from_row(&row)?,
            csrf_token: row.get("csrf_token")?,
            created_at: ts(&row, "signed_in_at")?,
            expires_at: ts(&row, "expires_at")?,
        })
    })
    .transpose()
}

/// Moves the end of a session that is in use (sliding expiry).
pub fn extend(sql: &mut dyn Sql, id_hash: &str, expires_at: Timestamp) -> Result<(), DbError> {
    sql.execute(
        "update admin_sessions set expires_at = $2 where id_hash = $1",
        params![id_hash, ms(expires_at)],
    )?;
    Ok(())
}

pub fn delete(sql: &mut dyn Sql, id_hash: &str) -> Result<(), DbError> {
    sql.execute(
        "delete from admin_sessions where id_hash = $1",
        params![id_hash],
    )?;
    Ok(())
}

/// Ends every session of a staff member but `keep` (the one making the change, if any).
pub fn delete_for_staff(
    sql: &mut dyn Sql,
    tenant_id: &str,
    staff_id: &str,
    keep: Option<&str>,
) -> Result<u64, DbError> {
    sql.execute(
        "delete from admin_sessions where tenant_id = $1 and staff_id = $2 and id_hash <> $3",
        params![tenant_id, staff_id, keep.unwrap_or("")],
    )
}

pub fn delete_expired(sql: &mut dyn Sql, now: Timestamp) -> Result<u64, DbError> {
    sql.execute(
        "delete from admin_sessions where expires_at <= $1",
        params![ms(now)],
    )
}
