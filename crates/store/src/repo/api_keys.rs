use jiff::Timestamp;
use loyalty_core::tenancy::{ApiKey, Scope};

use super::{ms, ts, ts_opt};
use crate::params;
use crate::sql::{DbError, Row, Sql};
use crate::{Page, Paged};

/// A key as needed to check a request: the hash to compare and what it grants.
#[derive(Debug, Clone)]
pub struct KeyCredentials {
    pub tenant_id: String,
    pub key: ApiKey,
    pub secret_hash: String,
}

pub fn insert(
    sql: &mut dyn Sql,
    tenant_id: &str,
    key: &ApiKey,
    secret_hash: &str,
    created_by: Option<&str>,
) -> Result<(), DbError> {
    sql.execute(
        "insert into api_keys (tenant_id, id, name, key_prefix, secret_hash, scopes, created_by, created_at,
             rate_limit_per_s)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        params![
            tenant_id,
            &key.id,
            &key.name,
            &key.prefix,
            secret_hash,
            scopes_text(&key.scopes),
            created_by,
            ms(key.created_at),
            key.rate_limit_per_s
        ],
    )?;
    Ok(())
}

/// The one lookup not scoped by tenant: the prefix is what tells us the tenant.
pub fn by_prefix(sql: &mut dyn Sql, prefix: &str) -> Result<Option<KeyCredentials>, DbError> {
    let row = sql.query_opt(
        "select tenant_id, id, name, key_prefix, secret_hash, scopes, created_at, last_used_at, revoked_at,
                rate_limit_per_s
         from api_keys
         where key_prefix = $1",
        params![prefix],
    )?;
    row.map(|row| {
        Ok(KeyCredentials {
            tenant_id: row.get("tenant_id")?,
            secret_hash: row.get("secret_hash")?,
            key: from_row(&row)?,
        })
    })
    .transpose()
}

pub fn get(sql: &mut dyn Sql, tenant_id: &str, id: &str) -> Result<Option<ApiKey>, DbError> {
    sql.query_opt(
        "select tenant_id, id, name, key_prefix, secret_hash, scopes, created_at, last_used_at, revoked_at,
                rate_limit_per_s
         from api_keys
         where tenant_id = $1 and id = $2",
        params![tenant_id, id],
    )?
    .map(|row| from_row(&row))
    .transpose()
}

pub fn list(sql: &mut dyn Sql, tenant_id: &str, page: &Page) -> Result<Paged<ApiKey>, DbError> {
    let rows = sql.query(
        "select tenant_id, id, name, key_prefix, secret_hash, scopes, created_at, last_used_at, revoked_at,
                rate_limit_per_s
         from api_keys
         where tenant_id = $1 and id > $2
         order by id
         limit $3",
        params![tenant_id, page.after.as_deref().unwrap_or(""), page.limit + 1],
    )?;
    let keys = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    Ok(Paged::from_rows(keys, page.limit, |k| &k.id))
}

pub fn revoke(
    sql: &mut dyn Sql,
    tenant_id: &str,
    id: &str,
    now: Timestamp,
) -> Result<bool, DbError> {
    let changed = sql.execute(
        "update api_keys set revoked_at = $3 where tenant_id = $1 and id = $2 and revoked_at is null",
        params![tenant_id, id, ms(now)],
    )?;
    Ok(changed == 1)
}

pub fn touch(sql: &mut dyn Sql, tenant_id: &str, id: &str, now: Timestamp) -> Result<(), DbError> {
    sql.execute(
        "update api_keys set last_used_at = $3 where tenant_id = $1 and id = $2",
        params![tenant_id, id, ms(now)],
    )?;
    Ok(())
}

fn scopes_text(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn from_row(row: &Row) -> Result<ApiKey, DbError> {
    let scopes: String = row.get("scopes")?;
    Ok(ApiKey {
        id: row.get("id")?,
        name: row.get("name")?,
        prefix: row.get("key_prefix")?,
        scopes: scopes.split(',').filter_map(Scope::parse).collect(),
        created_at: ts(row, "created_at")?,
        last_used_at: ts_opt(row, "last_used_at")?,
        revoked_at: ts_opt(row, "revoked_at")?,
        rate_limit_per_s: row.get("rate_limit_per_s")?,
    })
}
