//! The member portal's records (migration 0020): the slug that finds a tenant, sign-in codes
//! and members' sessions.

use jiff::Timestamp;
use loyalty_core::portal::StoredCode;

use super::{ms, ts};
use crate::params;
use crate::sql::{DbError, Sql};

/// The tenant whose portal is at `slug`.
pub fn tenant_by_slug(sql: &mut dyn Sql, slug: &str) -> Result<Option<String>, DbError> {
    let rows = sql.query(
        "select tenant_id from tenants where portal_slug = $1",
        params![slug],
    )?;
    rows.first().map(|r| r.get("tenant_id")).transpose()
}

/// Whether another tenant's portal has `slug`.
pub fn slug_taken(sql: &mut dyn Sql, tenant_id: &str, slug: &str) -> Result<bool, DbError> {
    let n: i64 = sql.query_scalar(
        "select count(*) from tenants where portal_slug = $1 and tenant_id <> $2",
        params![slug, tenant_id],
    )?;
    Ok(n > 0)
}

pub fn set_slug(sql: &mut dyn Sql, tenant_id: &str, slug: Option<&str>) -> Result<(), DbError> {
    sql.execute(
        "update tenants set portal_slug = $2 where tenant_id = $1",
        params![tenant_id, slug],
    )?;
    Ok(())
}

/// For the sending limits: when the phone's latest code went, and how many codes went to the
/// phone and were asked from the client since `since`.
pub fn code_counts(
    sql: &mut dyn Sql,
    tenant_id: &str,
    phone: &str,
    client: &str,
    since: Timestamp,
) -> Result<(Option<Timestamp>, i64, i64), DbError> {
    let row = sql.query_one(
        "select max(created_at) as last, count(*) as n from portal_codes
         where tenant_id = $1 and phone = $2 and created_at >= $3",
        params![tenant_id, phone, ms(since)],
    )?;
    let last: Option<i64> = row.get("last")?;
    let phone_n: i64 = row.get("n")?;
    let client_n: i64 = sql.query_scalar(
        "select count(*) from portal_codes where tenant_id = $1 and client = $2 and created_at >= $3",
        params![tenant_id, client, ms(since)],
    )?;
    let last = last
        .map(Timestamp::from_millisecond)
        .transpose()
        .map_err(|e| DbError::Decode(e.to_string()))?;
    Ok((last, phone_n, client_n))
}

pub fn insert_code(
    sql: &mut dyn Sql,
    tenant_id: &str,
    phone: &str,
    client: &str,
    code: &StoredCode,
) -> Result<(), DbError> {
    sql.execute(
        "insert into portal_codes (tenant_id, id, phone, client, salt, hash, tries, created_at)
         values ($1, $2, $3, $4, $5, $6, 0, $7)",
        params![
            tenant_id,
            code.id.as_str(),
            phone,
            client,
            code.salt.as_str(),
            code.hash.as_str(),
            ms(code.created_at)
        ],
    )?;
    Ok(())
}

/// The phone's latest code not used yet, locked for the transaction on PostgreSQL (two tries
/// at once count as two).
pub fn latest_code(
    sql: &mut dyn Sql,
    tenant_id: &str,
    phone: &str,
) -> Result<Option<StoredCode>, DbError> {
    let lock = sql.backend().for_update();
    let rows = sql.query(
        &format!(
            "select id, salt, hash, tries, created_at from portal_codes
             where tenant_id = $1 and phone = $2 and used_at is null
             order by created_at desc, id desc limit 1{lock}"
        ),
        params![tenant_id, phone],
    )?;
    rows.first()
        .map(|r| {
            Ok(StoredCode {
                id: r.get("id")?,
                salt: r.get("salt")?,
                hash: r.get("hash")?,
                tries: r.get("tries")?,
                created_at: ts(r, "created_at")?,
            })
        })
        .transpose()
}

pub fn add_try(sql: &mut dyn Sql, tenant_id: &str, id: &str) -> Result<(), DbError> {
    sql.execute(
        "update portal_codes set tries = tries + 1 where tenant_id = $1 and id = $2",
        params![tenant_id, id],
    )?;
    Ok(())
}

pub fn use_code(
    sql: &mut dyn Sql,
    tenant_id: &str,
    id: &str,
    now: Timestamp,
) -> Result<(), DbError> {
    sql.execute(
        "update portal_codes set used_at = $3 where tenant_id = $1 and id = $2",
        params![tenant_id, id, ms(now)],
    )?;
    Ok(())
}

pub fn insert_session(
    sql: &mut dyn Sql,
    tenant_id: &str,
    token_hash: &str,
    member_id: &str,
    expires_at: Timestamp,
    now: Timestamp,
) -> Result<(), DbError> {
    sql.execute(
        "insert into portal_sessions (tenant_id, token_hash, member_id, expires_at, created_at)
         values ($1, $2, $3, $4, $5)",
        params![tenant_id, token_hash, member_id, ms(expires_at), ms(now)],
    )?;
    Ok(())
}

/// The member a live session token belongs to.
pub fn session_member(
    sql: &mut dyn Sql,
    tenant_id: &str,
    token_hash: &str,
    now: Timestamp,
) -> Result<Option<String>, DbError> {
    let rows = sql.query(
        "select member_id from portal_sessions
         where tenant_id = $1 and token_hash = $2 and expires_at > $3",
        params![tenant_id, token_hash, ms(now)],
    )?;
    rows.first().map(|r| r.get("member_id")).transpose()
}
