//! Failed sign-ins per subject (`account:…` or `client:…`), shared by every instance. The delay
//! policy is `app::throttle`'s; this table only remembers.

use jiff::Timestamp;
use loyalty_core::clock::to_millis;

use super::ts_opt;
use crate::params;
use crate::sql::{DbError, Sql};

/// The latest moment until which any of `subjects` must wait, if one must.
pub fn blocked_until(
    sql: &mut dyn Sql,
    account: &str,
    client: &str,
) -> Result<Option<Timestamp>, DbError> {
    let row = sql.query_one(
        "select max(blocked_until) as until from sign_in_failures where subject in ($1, $2)",
        params![account, client],
    )?;
    ts_opt(&row, "until")
}

/// Counts one more failure of `subject` (starting again from one when the last was before
/// `forget_before`); returns the failures counted.
pub fn add_failure(
    sql: &mut dyn Sql,
    subject: &str,
    now: Timestamp,
    forget_before: Timestamp,
) -> Result<i64, DbError> {
    sql.query_scalar(
        "insert into sign_in_failures (subject, failures, last_failure_at, blocked_until)
         values ($1, 1, $2, $2)
         on conflict (subject) do update set
           failures = case when sign_in_failures.last_failure_at < $3 then 1
                           else sign_in_failures.failures + 1 end,
           last_failure_at = $2
         returning failures",
        params![subject, to_millis(now), to_millis(forget_before)],
    )
}

/// Makes `subject` wait until `until`.
pub fn block(sql: &mut dyn Sql, subject: &str, until: Timestamp) -> Result<(), DbError> {
    sql.execute(
        "update sign_in_failures set blocked_until = $2 where subject = $1",
        params![subject, to_millis(until)],
    )?;
    Ok(())
}

/// Forgets `subject`'s failures (a successful sign-in of the account).
pub fn clear(sql: &mut dyn Sql, subject: &str) -> Result<(), DbError> {
    sql.execute(
        "delete from sign_in_failures where subject = $1",
        params![subject],
    )?;
    Ok(())
}

/// Forgets failures last seen before `before` whose wait is over (housekeeping).
pub fn purge(sql: &mut dyn Sql, before: Timestamp) -> Result<u64, DbError> {
    sql.execute(
        "delete from sign_in_failures where last_failure_at < $1 and blocked_until < $1",
        params![to_millis(before)],
    )
}
