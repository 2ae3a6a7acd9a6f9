use loyalty_core::tenancy::{Role, StaffUser};

use super::{ms, ts, ts_opt};
use crate::params;
use crate::sql::{DbError, Row, Sql};
use crate::{Page, Paged};

pub fn insert(
    sql: &mut dyn Sql,
    tenant_id: &str,
    user: &StaffUser,
    password_hash: &str,
) -> Result<(), DbError> {
    sql.execute(
        "insert into staff_users (tenant_id, id, email, name, role, password_hash, active, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        params![
            tenant_id,
            &user.id,
            &user.email,
            &user.name,
            user.role.as_str(),
            password_hash,
            user.active,
            ms(user.created_at)
        ],
    )?;
    Ok(())
}

pub fn list(sql: &mut dyn Sql, tenant_id: &str, page: &Page) -> Result<Paged<StaffUser>, DbError> {
    let rows = sql.query(
        "select id, email, name, role, active, created_at, last_login_at
         from staff_users
         where tenant_id = $1 and id > $2
         order by id
         limit $3",
        params![
            tenant_id,
            page.after.as_deref().unwrap_or(""),
            page.limit + 1
        ],
    )?;
    let users = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    Ok(Paged::from_rows(users, page.limit, |u| &u.id))
}

/// The user and their password hash, for signing in.
pub fn by_email(
    sql: &mut dyn Sql,
    tenant_id: &str,
    email: &str,
) -> Result<Option<(StaffUser, String)>, DbError> {
    sql.query_opt(
        "select id, email, name, role, active, created_at, last_login_at, password_hash
         from staff_users
         where tenant_id = $1 and email = $2",
        params![tenant_id, email],
    )?
    .map(|row| Ok((from_row(&row)?, row.get("password_hash")?)))
    .transpose()
}

/// Every account with this e-mail, in any tenant, with its password hash: signing in to the
/// admin UI names no tenant. (An e-mail is unique within a tenant, rarely across them.)
pub fn by_email_any_tenant(
    sql: &mut dyn Sql,
    email: &str,
) -> Result<Vec<(String, StaffUser, String)>, DbError> {
    sql.query(
        "select tenant_id, id, email, name, role, active, created_at, last_login_at, password_hash
         from staff_users
         where email = $1 and active
         order by created_at",
        params![email],
    )?
    .iter()
    .map(|row| {
        Ok((
            row.get("tenant_id")?,
            from_row(row)?,
            row.get("password_hash")?,
        ))
    })
    .collect()
}

pub fn get(sql: &mut dyn Sql, tenant_id: &str, id: &str) -> Result<Option<StaffUser>, DbError> {
    sql.query_opt(
        "select id, email, name, role, active, created_at, last_login_at
         from staff_users
         where tenant_id = $1 and id = $2",
        params![tenant_id, id],
    )?
    .map(|row| from_row(&row))
    .transpose()
}

/// The account's password hash, to check its owner's current password.
pub fn password_hash(sql: &mut dyn Sql, tenant_id: &str, id: &str) -> Result<String, DbError> {
    sql.query_scalar(
        "select password_hash from staff_users where tenant_id = $1 and id = $2",
        params![tenant_id, id],
    )
}

/// Writes a user's name, role and whether they may sign in.
pub fn update(
    sql: &mut dyn Sql,
    tenant_id: &str,
    user: &StaffUser,
    now: jiff::Timestamp,
) -> Result<(), DbError> {
    sql.execute(
        "update staff_users set name = $3, role = $4, active = $5, updated_at = $6
         where tenant_id = $1 and id = $2",
        params![
            tenant_id,
            &user.id,
            &user.name,
            user.role.as_str(),
            user.active,
            ms(now)
        ],
    )?;
    Ok(())
}

pub fn set_password(
    sql: &mut dyn Sql,
    tenant_id: &str,
    id: &str,
    password_hash: &str,
    now: jiff::Timestamp,
) -> Result<(), DbError> {
    sql.execute(
        "update staff_users set password_hash = $3, updated_at = $4 where tenant_id = $1 and id = $2",
        params![tenant_id, id, password_hash, ms(now)],
    )?;
    Ok(())
}

/// Active owners of the tenant (there must always be one), locked: two owners demoting each
/// other at once take turns, and the second sees the first's change.
pub fn active_owners(sql: &mut dyn Sql, tenant_id: &str) -> Result<usize, DbError> {
    let query = format!(
        "select id from staff_users where tenant_id = $1 and role = 'owner' and active{}",
        sql.backend().for_update()
    );
    Ok(sql.query(&query, params![tenant_id])?.len())
}

pub fn touch_login(
    sql: &mut dyn Sql,
    tenant_id: &str,
    id: &str,
    at: jiff::Timestamp,
) -> Result<(), DbError> {
    sql.execute(
        "update staff_users set last_login_at = $3 where tenant_id = $1 and id = $2",
        params![tenant_id, id, ms(at)],
    )?;
    Ok(())
}

pub(crate) fn from_row(row: &Row) -> Result<StaffUser, DbError> {
    let role: String = row.get("role")?;
    Ok(StaffUser {
        id: row.get("id")?,
        email: row.get("email")?,
        name: row.get("name")?,
        role: Role::parse(&role).ok_or_else(|| DbError::Decode(format!("unknown role {role}")))?,
        active: row.get("active")?,
        created_at: ts(row, "created_at")?,
        last_login_at: ts_opt(row, "last_login_at")?,
    })
}
