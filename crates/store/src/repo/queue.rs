//! The durable job queue shared by every instance: enqueue by key (once), claim under a lease
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so instances never wait on each other's jobs),
//! renew, finish, retry later, or give up.

use jiff::Timestamp;
use loyalty_core::id::new_id;

use super::{ms, ts, ts_opt};
use crate::params;
use crate::sql::{Backend, DbError, Row, Sql};

pub const QUEUED: &str = "queued";
pub const RUNNING: &str = "running";
pub const DONE: &str = "done";
pub const DEAD: &str = "dead";

/// A job to add.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub tenant_id: String,
    pub kind: String,
    /// At most one job is ever enqueued per key.
    pub key: String,
    pub payload: serde_json::Value,
    pub due_at: Timestamp,
    pub max_attempts: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: String,
    pub tenant_id: String,
    pub kind: String,
    pub key: String,
    pub payload: serde_json::Value,
    pub status: String,
    pub due_at: Timestamp,
    pub attempts: i64,
    pub max_attempts: i64,
    pub leased_by: Option<String>,
    pub lease_until: Option<Timestamp>,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub finished_at: Option<Timestamp>,
}

const COLUMNS: &str = "id, tenant_id, kind, key, payload, status, due_at, attempts, max_attempts,
    leased_by, lease_until, last_error, created_at, finished_at";

fn job(row: &Row) -> Result<Job, DbError> {
    let payload: String = row.get("payload")?;
    Ok(Job {
        id: row.get("id")?,
        tenant_id: row.get("tenant_id")?,
        kind: row.get("kind")?,
        key: row.get("key")?,
        payload: serde_json::from_str(&payload)
            .map_err(|e| DbError::Decode(format!("job payload: {e}")))?,
        status: row.get("status")?,
        due_at: ts(row, "due_at")?,
        attempts: row.get("attempts")?,
        max_attempts: row.get("max_attempts")?,
        leased_by: row.get("leased_by")?,
        lease_until: ts_opt(row, "lease_until")?,
        last_error: row.get("last_error")?,
        created_at: ts(row, "created_at")?,
        finished_at: ts_opt(row, "finished_at")?,
    })
}

/// Adds the job unless one with its key exists (whatever its state); returns whether it was
/// added.
pub fn enqueue(sql: &mut dyn Sql, job: &NewJob, now: Timestamp) -> Result<bool, DbError> {
    let added = sql.execute(
        "insert into jobs (id, tenant_id, kind, key, payload, status, due_at, attempts,
             max_attempts, created_at)
         values ($1, $2, $3, $4, $5, 'queued', $6, 0, $7, $8)
         on conflict (key) do nothing",
        params![
            new_id("job"),
            &job.tenant_id,
            &job.kind,
            &job.key,
            job.payload.to_string(),
            ms(job.due_at),
            job.max_attempts,
            ms(now)
        ],
    )?;
    Ok(added > 0)
}

/// Leases up to `limit` jobs that are due, or whose holder's lease ran out, to `holder` until
/// `until`, counting an attempt for each. Oldest due first.
pub fn claim(
    sql: &mut dyn Sql,
    holder: &str,
    now: Timestamp,
    until: Timestamp,
    limit: i64,
) -> Result<Vec<Job>, DbError> {
    let skip_locked = match sql.backend() {
        Backend::Sqlite => "",
        Backend::Postgres => " for update skip locked",
    };
    let rows = sql.query(
        &format!(
            "update jobs set status = 'running', leased_by = $1, lease_until = $2,
                 attempts = attempts + 1
             where id in (
                 select id from jobs
                 where (status = 'queued' and due_at <= $3)
                    or (status = 'running' and lease_until <= $3)
                 order by due_at limit $4{skip_locked}
             )
             returning {COLUMNS}"
        ),
        params![holder, ms(until), ms(now), limit],
    )?;
    rows.iter().map(job).collect()
}

/// Extends `holder`'s lease on a running job; false when the lease was lost (it ran out and
/// another instance took the job).
pub fn renew(sql: &mut dyn Sql, id: &str, holder: &str, until: Timestamp) -> Result<bool, DbError> {
    let renewed = sql.execute(
        "update jobs set lease_until = $3
         where id = $1 and leased_by = $2 and status = 'running'",
        params![id, holder, ms(until)],
    )?;
    Ok(renewed > 0)
}

/// Marks the job done, if `holder` still holds it. Called in the transaction of the job's
/// own writes when it has any, so that its work and its completion commit together.
pub fn finish(sql: &mut dyn Sql, id: &str, holder: &str, now: Timestamp) -> Result<bool, DbError> {
    let done = sql.execute(
        "update jobs set status = 'done', finished_at = $3, lease_until = null, last_error = null
         where id = $1 and leased_by = $2 and status = 'running'",
        params![id, holder, ms(now)],
    )?;
    Ok(done > 0)
}

/// Records a failed attempt: queued again at `retry_at`, or dead when `retry_at` is `None`.
pub fn fail(
    sql: &mut dyn Sql,
    id: &str,
    holder: &str,
    error: &str,
    retry_at: Option<Timestamp>,
    now: Timestamp,
) -> Result<bool, DbError> {
    let changed = match retry_at {
        Some(at) => sql.execute(
            "update jobs set status = 'queued', due_at = $3, last_error = $4, leased_by = null,
                 lease_until = null
             where id = $1 and leased_by = $2 and status = 'running'",
            params![id, holder, ms(at), error],
        )?,
        None => sql.execute(
            "update jobs set status = 'dead', finished_at = $3, last_error = $4,
                 lease_until = null
             where id = $1 and leased_by = $2 and status = 'running'",
            params![id, holder, ms(now), error],
        )?,
    };
    Ok(changed > 0)
}

/// Hands a running job back to the queue, due now, without counting the attempt: its holder
/// is stopping before it could finish.
pub fn release(sql: &mut dyn Sql, id: &str, holder: &str) -> Result<bool, DbError> {
    let changed = sql.execute(
        "update jobs set status = 'queued', leased_by = null, lease_until = null,
             attempts = attempts - 1
         where id = $1 and leased_by = $2 and status = 'running'",
        params![id, holder],
    )?;
    Ok(changed > 0)
}

pub fn get(sql: &mut dyn Sql, id: &str) -> Result<Option<Job>, DbError> {
    sql.query_opt(
        &format!("select {COLUMNS} from jobs where id = $1"),
        params![id],
    )?
    .map(|row| job(&row))
    .transpose()
}

/// How many jobs are in each state, for `loyalty jobs status` and the tests.
pub fn counts(sql: &mut dyn Sql) -> Result<Vec<(String, i64)>, DbError> {
    let rows = sql.query(
        "select status, count(*) as n from jobs group by status order by status",
        params![],
    )?;
    rows.iter()
        .map(|row| Ok((row.get("status")?, row.get("n")?)))
        .collect()
}

/// Forgets jobs that finished (done or dead) before `before`.
pub fn purge(sql: &mut dyn Sql, before: Timestamp) -> Result<u64, DbError> {
    // The probes' runs go with the jobs they proved.
    sql.execute(
        "delete from job_probes where ran_at < $1",
        params![ms(before)],
    )?;
    sql.execute(
        "delete from jobs where finished_at is not null and finished_at < $1",
        params![ms(before)],
    )
}

/// Records a run of a probe job (see `job_probes`).
pub fn record_probe(
    sql: &mut dyn Sql,
    job_id: &str,
    instance: &str,
    now: Timestamp,
) -> Result<(), DbError> {
    sql.execute(
        "insert into job_probes (job_id, instance, ran_at) values ($1, $2, $3)",
        params![job_id, instance, ms(now)],
    )?;
    Ok(())
}

/// Probe runs: (job id, how many times it ran, which instances ran it).
pub fn probe_runs(sql: &mut dyn Sql) -> Result<Vec<(String, i64, String)>, DbError> {
    let rows = sql.query(
        "select job_id, count(*) as runs, min(instance) as instance from job_probes
         group by job_id order by job_id",
        params![],
    )?;
    rows.iter()
        .map(|row| Ok((row.get("job_id")?, row.get("runs")?, row.get("instance")?)))
        .collect()
}
