//! Idempotency keys of mutating API requests: claimed in the transaction of the change they
//! protect, answered once the answer is known, forgotten after a day.

use jiff::Timestamp;

use super::{ms, ts};
use crate::params;
use crate::sql::{DbError, Sql};

/// A request taking a key: who, what, and the hash of what it sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub tenant_id: String,
    pub key: String,
    pub method: String,
    pub path: String,
    pub request_hash: String,
    /// Unique to the request that makes the claim.
    pub claim_id: String,
    pub created_at: Timestamp,
}

/// A key as stored: the request that took it and, once known, its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub request_hash: String,
    pub answer: Option<Answer>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    /// The `Location` header of a 201.
    pub location: Option<String>,
    pub body: String,
}

/// Takes the key for this request, or fails with [`DbError::KeyTaken`] when another request
/// holds it. On PostgreSQL a concurrent claim of the same key waits here until the first
/// transaction ends, so of two racing requests exactly one change commits.
pub fn claim(sql: &mut dyn Sql, c: &Claim) -> Result<(), DbError> {
    let inserted = sql.execute(
        "insert into idempotency_keys (tenant_id, key, method, path, request_hash, claim_id, created_at)
         values ($1, $2, $3, $4, $5, $6, $7)
         on conflict (tenant_id, key) do nothing",
        params![
            &c.tenant_id,
            &c.key,
            &c.method,
            &c.path,
            &c.request_hash,
            &c.claim_id,
            ms(c.created_at)
        ],
    )?;
    if inserted == 0 {
        return Err(DbError::KeyTaken);
    }
    Ok(())
}

pub fn get(sql: &mut dyn Sql, tenant_id: &str, key: &str) -> Result<Option<Record>, DbError> {
    sql.query_opt(
        "select request_hash, status, content_type, location, response, created_at
         from idempotency_keys
         where tenant_id = $1 and key = $2",
        params![tenant_id, key],
    )?
    .map(|row| {
        let status: Option<i64> = row.get("status")?;
        let answer = match status {
            Some(status) => Some(Answer {
                status: u16::try_from(status)
                    .map_err(|_| DbError::Decode(format!("status {status}")))?,
                content_type: row
                    .get::<Option<String>>("content_type")?
                    .unwrap_or_default(),
                location: row.get("location")?,
                body: row.get::<Option<String>>("response")?.unwrap_or_default(),
            }),
            None => None,
        };
        Ok(Record {
            request_hash: row.get("request_hash")?,
            answer,
            created_at: ts(&row, "created_at")?,
        })
    })
    .transpose()
}

/// Stores the answer of the request whose claim is `claim_id`; false when that claim was not
/// committed (the request changed nothing, so a retry may simply run again).
pub fn answer(
    sql: &mut dyn Sql,
    tenant_id: &str,
    key: &str,
    claim_id: &str,
    answer: &Answer,
) -> Result<bool, DbError> {
    let changed = sql.execute(
        "update idempotency_keys
         set status = $4, content_type = $5, location = $6, response = $7
         where tenant_id = $1 and key = $2 and claim_id = $3 and status is null",
        params![
            tenant_id,
            key,
            claim_id,
            i64::from(answer.status),
            answer.content_type.as_str(),
            answer.location.as_deref(),
            answer.body.as_str()
        ],
    )?;
    Ok(changed > 0)
}

/// Forgets keys taken before `before`; returns how many.
pub fn purge(sql: &mut dyn Sql, before: Timestamp) -> Result<u64, DbError> {
    sql.execute(
        "delete from idempotency_keys where created_at < $1",
        params![ms(before)],
    )
}

/// Forgets one key if it was taken before `before` (an expired key may be taken again).
pub fn purge_one(
    sql: &mut dyn Sql,
    tenant_id: &str,
    key: &str,
    before: Timestamp,
) -> Result<(), DbError> {
    sql.execute(
        "delete from idempotency_keys where tenant_id = $1 and key = $2 and created_at < $3",
        params![tenant_id, key, ms(before)],
    )?;
    Ok(())
}
