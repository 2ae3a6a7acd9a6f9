//! Import jobs: their progress and the first rows' errors, for `GET /api/v1/imports/{id}`.

use super::{json, ms, to_json, ts, ts_opt};
use crate::params;
use crate::sql::{DbError, Row, Sql};
pub use loyalty_core::records::ImportJob;
pub use loyalty_core::records::RowError;

pub fn insert(sql: &mut dyn Sql, tenant_id: &str, job: &ImportJob) -> Result<(), DbError> {
    sql.execute(
        "insert into imports (tenant_id, id, kind, status, total, imported, failed, errors,
            message, created_at, finished_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        params![
            tenant_id,
            &job.id,
            &job.kind,
            &job.status,
            job.total,
            job.imported,
            job.failed,
            to_json(&job.errors),
            &job.message,
            ms(job.created_at),
            job.finished_at.map(ms)
        ],
    )?;
    Ok(())
}

/// Writes the job's progress (in the transaction of the batch it counts).
pub fn update(sql: &mut dyn Sql, tenant_id: &str, job: &ImportJob) -> Result<(), DbError> {
    sql.execute(
        "update imports set status = $3, total = $4, imported = $5, failed = $6, errors = $7,
            message = $8, finished_at = $9
         where tenant_id = $1 and id = $2",
        params![
            tenant_id,
            &job.id,
            &job.status,
            job.total,
            job.imported,
            job.failed,
            to_json(&job.errors),
            &job.message,
            job.finished_at.map(ms)
        ],
    )?;
    Ok(())
}

pub fn get(sql: &mut dyn Sql, tenant_id: &str, id: &str) -> Result<Option<ImportJob>, DbError> {
    sql.query_opt(
        "select id, kind, status, total, imported, failed, errors, message, created_at, finished_at
         from imports where tenant_id = $1 and id = $2",
        params![tenant_id, id],
    )?
    .map(|row| from_row(&row))
    .transpose()
}

/// The most recent imports, newest first (ids are time-ordered).
pub fn recent(sql: &mut dyn Sql, tenant_id: &str, limit: i64) -> Result<Vec<ImportJob>, DbError> {
    sql.query(
        "select id, kind, status, total, imported, failed, errors, message, created_at, finished_at
         from imports where tenant_id = $1 order by id desc limit $2",
        params![tenant_id, limit],
    )?
    .iter()
    .map(from_row)
    .collect()
}

fn from_row(row: &Row) -> Result<ImportJob, DbError> {
    Ok(ImportJob {
        id: row.get("id")?,
        kind: row.get("kind")?,
        status: row.get("status")?,
        total: row.get("total")?,
        imported: row.get("imported")?,
        failed: row.get("failed")?,
        errors: json(row, "errors")?,
        message: row.get("message")?,
        created_at: ts(row, "created_at")?,
        finished_at: ts_opt(row, "finished_at")?,
    })
}
