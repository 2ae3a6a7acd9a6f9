//! Automations and their runs (migration 0018).

use jiff::Timestamp;
use loyalty_core::automation::{Automation, Run, RunStatus};
use loyalty_core::event::Position;

use super::segments::Compiled;
use super::{json, ms, to_json, ts, ts_opt};
use crate::params;
use crate::sql::{DbError, Row, Sql, Value, row_placeholders};

const COLUMNS: &str = "id, name, active, trigger_type, trigger, steps, created_at, updated_at";

fn from_row(row: &Row) -> Result<Automation, DbError> {
    Ok(Automation {
        id: row.get("id")?,
        name: row.get("name")?,
        active: row.get("active")?,
        trigger: json(row, "trigger")?,
        steps: json(row, "steps")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
    })
}

fn values<'a>(tenant_id: &'a str, a: &'a Automation) -> Vec<Value<'a>> {
    params![
        tenant_id,
        a.id.as_str(),
        a.name.as_str(),
        a.active,
        a.trigger.type_name(),
        to_json(&a.trigger),
        to_json(&a.steps),
        ms(a.created_at),
        ms(a.updated_at)
    ]
    .to_vec()
}

/// Writes a new automation; an event trigger reads the feed from `from` (the newest event when
/// it was saved: it acts on what happens from then on).
pub fn insert(
    sql: &mut dyn Sql,
    tenant_id: &str,
    a: &Automation,
    from: Position,
) -> Result<(), DbError> {
    let mut values = values(tenant_id, a);
    values.push(from.tx.into());
    values.push(from.seq.into());
    sql.execute(
        &format!(
            "insert into automations (tenant_id, {COLUMNS}, feed_tx, feed_seq)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ),
        &values,
    )?;
    Ok(())
}

/// An active automation, with where it has read the event feed to and when it last looked at
/// the members.
#[derive(Debug, Clone)]
pub struct Active {
    pub tenant_id: String,
    pub automation: Automation,
    pub place: Position,
    pub passed_at: Option<Timestamp>,
}

/// Every tenant's active automations whose trigger is one of `types`.
pub fn active_of_types(sql: &mut dyn Sql, types: &[&str]) -> Result<Vec<Active>, DbError> {
    let mut values: Vec<Value<'_>> = Vec::with_capacity(types.len());
    let marks: Vec<String> = types
        .iter()
        .enumerate()
        .map(|(i, t)| {
            values.push((*t).into());
            format!("${}", i + 1)
        })
        .collect();
    sql.query(
        &format!(
            "select tenant_id, {COLUMNS}, feed_tx, feed_seq, passed_at from automations
             where active and trigger_type in ({}) order by tenant_id, created_at, id",
            marks.join(", ")
        ),
        &values,
    )?
    .iter()
    .map(|r| {
        Ok(Active {
            tenant_id: r.get("tenant_id")?,
            automation: from_row(r)?,
            place: Position {
                tx: r.get("feed_tx")?,
                seq: r.get("feed_seq")?,
            },
            passed_at: ts_opt(r, "passed_at")?,
        })
    })
    .collect()
}

/// Moves an automation's place in the event feed on.
pub fn set_place(
    sql: &mut dyn Sql,
    tenant_id: &str,
    id: &str,
    place: Position,
) -> Result<(), DbError> {
    sql.execute(
        "update automations set feed_tx = $3, feed_seq = $4 where tenant_id = $1 and id = $2",
        params![tenant_id, id, place.tx, place.seq],
    )?;
    Ok(())
}

/// Records when a periodic trigger last looked at the members.
pub fn set_passed(
    sql: &mut dyn Sql,
    tenant_id: &str,
    id: &str,
    at: Timestamp,
) -> Result<(), DbError> {
    sql.execute(
        "update automations set passed_at = $3 where tenant_id = $1 and id = $2",
        params![tenant_id, id, ms(at)],
    )?;
    Ok(())
}

/// A page of members (after `after`, by id) whose birthday falls on one of `month_days`
/// (`12-25`): (id, birthday as stored).
pub fn birthday_page(
    sql: &mut dyn Sql,
    tenant_id: &str,
    month_days: &[String],
    after: &str,
    limit: i64,
) -> Result<Vec<(String, String)>, DbError> {
    let mut values: Vec<Value<'_>> = vec![tenant_id.into(), after.into(), limit.into()];
    let likes: Vec<String> = month_days
        .iter()
        .map(|md| {
            values.push(format!("%-{md}").into());
            format!("birthday like ${}", values.len())
        })
        .collect();
    sql.query(
        &format!(
            "select id, birthday from members
             where tenant_id = $1 and id > $2 and birthday is not null and status <> 'merged'
               and ({})
             order by id limit $3",
            likes.join(" or ")
        ),
        &values,
    )?
    .iter()
    .map(|r| Ok((r.get("id")?, r.get("birthday")?)))
    .collect()
}

/// A page of members (after `after`, by id) with points in lots expiring in [`from`, `to`):
/// (id, the first such expiry, the points left in those lots). One walk of the live lots in
/// member order, whatever the window.
pub fn expiring_page(
    sql: &mut dyn Sql,
    tenant_id: &str,
    from: Timestamp,
    to: Timestamp,
    after: &str,
    limit: i64,
) -> Result<Vec<(String, Timestamp, i64)>, DbError> {
    sql.query(
        "select member_id, min(expires_at) as first, cast(sum(remaining) as bigint) as points
         from ledger_entries
         where tenant_id = $1 and remaining > 0 and member_id > $2
           and expires_at >= $3 and expires_at < $4
         group by member_id order by member_id limit $5",
        params![tenant_id, after, ms(from), ms(to), limit],
    )?
    .iter()
    .map(|r| Ok((r.get("member_id")?, ts(r, "first")?, r.get("points")?)))
    .collect()
}

/// A page of members whose last purchase was in [`from`, `to`): (id, last purchase).
pub fn lapsed_page(
    sql: &mut dyn Sql,
    tenant_id: &str,
    from: Timestamp,
    to: Timestamp,
    after: &str,
    limit: i64,
) -> Result<Vec<(String, Timestamp)>, DbError> {
    sql.query(
        "select id, last_order_at from members
         where tenant_id = $1 and id > $2 and last_order_at >= $3 and last_order_at < $4
           and status <> 'merged'
         order by id limit $5",
        params![tenant_id, after, ms(from), ms(to), limit],
    )?
    .iter()
    .map(|r| Ok((r.get("id")?, ts(r, "last_order_at")?)))
    .collect()
}

pub fn update(sql: &mut dyn Sql, tenant_id: &str, a: &Automation) -> Result<(), DbError> {
    sql.execute(
        "update automations set name = $3, active = $4, trigger_type = $5, trigger = $6,
             steps = $7, created_at = $8, updated_at = $9
         where tenant_id = $1 and id = $2",
        &values(tenant_id, a),
    )?;
    Ok(())
}

pub fn get(sql: &mut dyn Sql, tenant_id: &str, id: &str) -> Result<Option<Automation>, DbError> {
    sql.query(
        &format!("select {COLUMNS} from automations where tenant_id = $1 and id = $2"),
        params![tenant_id, id],
    )?
    .first()
    .map(from_row)
    .transpose()
}

/// The tenant's automations, oldest first (a shop has tens, not thousands).
pub fn list(sql: &mut dyn Sql, tenant_id: &str) -> Result<Vec<Automation>, DbError> {
    sql.query(
        &format!("select {COLUMNS} from automations where tenant_id = $1 order by created_at, id"),
        params![tenant_id],
    )?
    .iter()
    .map(from_row)
    .collect()
}

/// The tenant's active automations with this trigger type.
pub fn active_with_trigger(
    sql: &mut dyn Sql,
    tenant_id: &str,
    trigger_type: &str,
) -> Result<Vec<Automation>, DbError> {
    sql.query(
        &format!(
            "select {COLUMNS} from automations
             where tenant_id = $1 and trigger_type = $2 and active order by created_at, id"
        ),
        params![tenant_id, trigger_type],
    )?
    .iter()
    .map(from_row)
    .collect()
}

const RUN_COLUMNS: &str =
    "id, automation_id, member_id, occurrence, status, step, steps, context, log,
     next_at, created_at, updated_at";
const RUN_WIDTH: usize = 13;

fn run_from_row(row: &Row) -> Result<Run, DbError> {
    let status: String = row.get("status")?;
    Ok(Run {
        id: row.get("id")?,
        automation_id: row.get("automation_id")?,
        member_id: row.get("member_id")?,
        occurrence: row.get("occurrence")?,
        status: RunStatus::parse(&status)
            .ok_or_else(|| DbError::Decode(format!("run status {status}")))?,
        step: row.get("step")?,
        steps: json(row, "steps")?,
        context: json(row, "context")?,
        log: json(row, "log")?,
        next_at: ts_opt(row, "next_at")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
    })
}

fn push_run<'a>(values: &mut Vec<Value<'a>>, tenant_id: &'a str, r: &'a Run) {
    values.extend([
        tenant_id.into(),
        r.id.as_str().into(),
        r.automation_id.as_str().into(),
        r.member_id.as_str().into(),
        r.occurrence.as_str().into(),
        r.status.as_str().into(),
        r.step.into(),
        to_json(&r.steps).into(),
        to_json(&r.context).into(),
        to_json(&r.log).into(),
        r.next_at.map(ms).into(),
        ms(r.created_at).into(),
        ms(r.updated_at).into(),
    ]);
}

/// Starts runs, many to a statement; a run already started for its (automation, member,
/// occurrence) is left as it is. Returns how many started.
pub fn start_runs(sql: &mut dyn Sql, tenant_id: &str, runs: &[Run]) -> Result<u64, DbError> {
    let mut started = 0;
    for chunk in runs.chunks(50) {
        let mut values = Vec::with_capacity(chunk.len() * RUN_WIDTH);
        let mut rows = Vec::with_capacity(chunk.len());
        for (i, r) in chunk.iter().enumerate() {
            push_run(&mut values, tenant_id, r);
            rows.push(row_placeholders(i, RUN_WIDTH, 1));
        }
        started += sql.execute(
            &format!(
                "insert into automation_runs (tenant_id, {RUN_COLUMNS}) values {}
                 on conflict (tenant_id, automation_id, member_id, occurrence) do nothing",
                rows.join(", ")
            ),
            &values,
        )?;
    }
    Ok(started)
}

/// Runs of every tenant whose next step is due, earliest first: (tenant, run id).
pub fn due_runs(
    sql: &mut dyn Sql,
    now: Timestamp,
    limit: i64,
) -> Result<Vec<(String, String)>, DbError> {
    sql.query(
        "select tenant_id, id from automation_runs where next_at <= $1 order by next_at, id limit $2",
        params![ms(now), limit],
    )?
    .iter()
    .map(|r| Ok((r.get("tenant_id")?, r.get("id")?)))
    .collect()
}

/// A run to move on: on PostgreSQL the row stays locked until the transaction ends.
pub fn get_run_for_update(
    sql: &mut dyn Sql,
    tenant_id: &str,
    id: &str,
) -> Result<Option<Run>, DbError> {
    let lock = sql.backend().for_update();
    sql.query(
        &format!(
            "select {RUN_COLUMNS} from automation_runs where tenant_id = $1 and id = $2{lock}"
        ),
        params![tenant_id, id],
    )?
    .first()
    .map(run_from_row)
    .transpose()
}

/// A run as it is.
pub fn runs_by_id(sql: &mut dyn Sql, tenant_id: &str, id: &str) -> Result<Option<Run>, DbError> {
    sql.query(
        &format!("select {RUN_COLUMNS} from automation_runs where tenant_id = $1 and id = $2"),
        params![tenant_id, id],
    )?
    .first()
    .map(run_from_row)
    .transpose()
}

/// Writes where a run is after a step.
pub fn save_run(sql: &mut dyn Sql, tenant_id: &str, r: &Run) -> Result<(), DbError> {
    sql.execute(
        "update automation_runs set status = $3, step = $4, context = $5, log = $6, next_at = $7,
             updated_at = $8
         where tenant_id = $1 and id = $2",
        params![
            tenant_id,
            r.id.as_str(),
            r.status.as_str(),
            r.step,
            to_json(&r.context),
            to_json(&r.log),
            r.next_at.map(ms),
            ms(r.updated_at)
        ],
    )?;
    Ok(())
}

/// An automation's runs, newest first, optionally of one member.
pub fn runs(
    sql: &mut dyn Sql,
    tenant_id: &str,
    automation_id: &str,
    member_id: Option<&str>,
    limit: i64,
) -> Result<Vec<Run>, DbError> {
    let rows = match member_id {
        Some(member) => sql.query(
            &format!(
                "select {RUN_COLUMNS} from automation_runs
                 where tenant_id = $1 and member_id = $3 and automation_id = $2
                 order by created_at desc, id desc limit $4"
            ),
            params![tenant_id, automation_id, member, limit],
        )?,
        None => sql.query(
            &format!(
                "select {RUN_COLUMNS} from automation_runs
                 where tenant_id = $1 and automation_id = $2
                 order by created_at desc, id desc limit $3"
            ),
            params![tenant_id, automation_id, limit],
        )?,
    };
    rows.iter().map(run_from_row).collect()
}

/// Holds the automation's row until the transaction ends (PostgreSQL; SQLite has one writer
/// anyway): two instances looking at a segment at once do not both start the same entries.
pub fn lock(sql: &mut dyn Sql, tenant_id: &str, id: &str) -> Result<bool, DbError> {
    let lock = sql.backend().for_update();
    Ok(!sql
        .query(
            &format!("select id from automations where tenant_id = $1 and id = $2{lock}"),
            params![tenant_id, id],
        )?
        .is_empty())
}

/// Records everyone in the segment now as already in it, starting nothing (a `segment_entered`
/// automation's first look: switching it on does not greet the whole segment).
pub fn segment_baseline(
    sql: &mut dyn Sql,
    automation_id: &str,
    compiled: &Compiled,
    now: Timestamp,
) -> Result<u64, DbError> {
    let mut values = compiled.values.clone();
    values.push(Value::from(automation_id.to_string()));
    let a = values.len();
    values.push(Value::from(ms(now)));
    let at = values.len();
    sql.execute(
        &format!(
            "insert into automation_segment_members (tenant_id, automation_id, member_id, entered_at)
             select m.tenant_id, ${a}, m.id, ${at} from members m where {}
             on conflict do nothing",
            compiled.clause
        ),
        &values,
    )
}

/// Up to `limit` members after `after` (a member id) in the segment who were not when the
/// automation last looked, in id order, now recorded as in it.
pub fn segment_entrants(
    sql: &mut dyn Sql,
    tenant_id: &str,
    automation_id: &str,
    compiled: &Compiled,
    (after, limit): (&str, i64),
    now: Timestamp,
) -> Result<Vec<String>, DbError> {
    let mut values = compiled.values.clone();
    values.push(Value::from(automation_id.to_string()));
    let a = values.len();
    values.push(Value::from(after.to_string()));
    let from = values.len();
    values.push(Value::from(limit));
    let l = values.len();
    let ids: Vec<String> = sql
        .query(
            &format!(
                "select m.id from members m where {} and m.id > ${from} and not exists (
                     select 1 from automation_segment_members s
                     where s.tenant_id = m.tenant_id and s.automation_id = ${a} and s.member_id = m.id)
                 order by m.id limit ${l}",
                compiled.clause
            ),
            &values,
        )?
        .iter()
        .map(|row| row.get("id"))
        .collect::<Result<_, _>>()?;
    for chunk in ids.chunks(500) {
        let mut values: Vec<Value> = vec![tenant_id.into(), automation_id.into(), ms(now).into()];
        let rows: Vec<String> = chunk
            .iter()
            .map(|id| {
                values.push(id.as_str().into());
                format!("($1, $2, ${}, $3)", values.len())
            })
            .collect();
        sql.execute(
            &format!(
                "insert into automation_segment_members (tenant_id, automation_id, member_id, entered_at)
                 values {} on conflict do nothing",
                rows.join(", ")
            ),
            &values,
        )?;
    }
    Ok(ids)
}

/// Forgets the members who are no longer in the segment (their next entry is a new one).
pub fn segment_leavers(
    sql: &mut dyn Sql,
    automation_id: &str,
    compiled: &Compiled,
) -> Result<u64, DbError> {
    let mut values = compiled.values.clone();
    values.push(Value::from(automation_id.to_string()));
    let a = values.len();
    sql.execute(
        &format!(
            "delete from automation_segment_members
             where tenant_id = $1 and automation_id = ${a} and not exists (
                 select 1 from members m where m.id = automation_segment_members.member_id and {})",
            compiled.clause
        ),
        &values,
    )
}

/// Forgets who was in an automation's segment and when it last looked (its trigger changed).
pub fn reset_trigger_state(sql: &mut dyn Sql, tenant_id: &str, id: &str) -> Result<(), DbError> {
    sql.execute(
        "delete from automation_segment_members where tenant_id = $1 and automation_id = $2",
        params![tenant_id, id],
    )?;
    sql.execute(
        "update automations set passed_at = null where tenant_id = $1 and id = $2",
        params![tenant_id, id],
    )?;
    Ok(())
}

/// A member's runs through every automation, newest first.
pub fn member_runs(
    sql: &mut dyn Sql,
    tenant_id: &str,
    member_id: &str,
    limit: i64,
) -> Result<Vec<Run>, DbError> {
    let rows = sql.query(
        &format!(
            "select {RUN_COLUMNS} from automation_runs
             where tenant_id = $1 and member_id = $2
             order by created_at desc, id desc limit $3"
        ),
        params![tenant_id, member_id, limit],
    )?;
    rows.iter().map(run_from_row).collect()
}

/// Runs started, finished and messages sent, of every automation of a tenant at once (the
/// list's columns; the full report is one automation's).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub entered: i64,
    pub done: i64,
    pub messages: i64,
}

pub fn counts(
    sql: &mut dyn Sql,
    tenant_id: &str,
) -> Result<std::collections::HashMap<String, Counts>, DbError> {
    let mut counts = std::collections::HashMap::<String, Counts>::new();
    for row in sql.query(
        "select automation_id, count(*) as entered,
             coalesce(sum(case when status = 'done' then 1 else 0 end), 0) as done
         from automation_runs where tenant_id = $1 group by automation_id",
        params![tenant_id],
    )? {
        let c = counts.entry(row.get("automation_id")?).or_default();
        c.entered = row.get("entered")?;
        c.done = row.get("done")?;
    }
    for row in sql.query(
        "select automation_id, count(*) as n from messages
         where tenant_id = $1 and automation_id is not null and status in ('sent', 'delivered')
         group by automation_id",
        params![tenant_id],
    )? {
        counts
            .entry(row.get("automation_id")?)
            .or_default()
            .messages = row.get("n")?;
    }
    Ok(counts)
}

/// What an automation did (API.md's report): runs by status, messages sent, vouchers issued and
/// redeemed, and the orders of members within `days` after a message of it, with their revenue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    pub entered: i64,
    pub done: i64,
    pub stopped: i64,
    pub failed: i64,
    pub messages: i64,
    pub vouchers_issued: i64,
    pub vouchers_redeemed: i64,
    pub orders: i64,
    pub revenue: i64,
}

pub fn totals(
    sql: &mut dyn Sql,
    tenant_id: &str,
    automation_id: &str,
    days: i64,
) -> Result<Totals, DbError> {
    let mut totals = Totals::default();
    for row in sql.query(
        "select status, count(*) as n from automation_runs
         where tenant_id = $1 and automation_id = $2 group by status",
        params![tenant_id, automation_id],
    )? {
        let status: String = row.get("status")?;
        let n: i64 = row.get("n")?;
        totals.entered += n;
        match status.as_str() {
            "done" => totals.done = n,
            "stopped" => totals.stopped = n,
            "failed" => totals.failed = n,
            _ => {}
        }
    }
    totals.messages = sql.query_scalar(
        "select count(*) from messages
         where tenant_id = $1 and automation_id = $2 and status in ('sent', 'delivered')",
        params![tenant_id, automation_id],
    )?;
    let via = format!("automation:{automation_id}");
    let row = sql.query_one(
        "select count(*) as issued, coalesce(sum(case when uses > 0 then 1 else 0 end), 0) as redeemed
         from vouchers where tenant_id = $1 and issued_via = $2",
        params![tenant_id, via.as_str()],
    )?;
    totals.vouchers_issued = row.get("issued")?;
    totals.vouchers_redeemed = row.get::<i64>("redeemed")?;
    let row = sql.query_one(
        "select count(o.id) as orders,
             cast(coalesce(sum(o.total - o.refunded_amount), 0) as bigint) as revenue
         from orders o
         where o.tenant_id = $1 and o.status in ('paid', 'partially_refunded')
           and exists (select 1 from messages m
               where m.tenant_id = o.tenant_id and m.member_id = o.member_id
                 and m.automation_id = $2 and m.sent_at is not null
                 and o.placed_at >= m.sent_at and o.placed_at < m.sent_at + $3)",
        params![tenant_id, automation_id, days.saturating_mul(86_400_000)],
    )?;
    totals.orders = row.get("orders")?;
    totals.revenue = row.get("revenue")?;
    Ok(totals)
}
