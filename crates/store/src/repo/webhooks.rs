//! Outbound webhook endpoints and their deliveries, and the check of the server's secret key.

use jiff::Timestamp;
use loyalty_core::event::Position;
use loyalty_core::webhook::{Delivery, DeliveryStatus, Webhook};

use super::{json, ms, rows_in, to_json, ts, ts_opt};
use crate::params;
use crate::sql::{Backend, DbError, Row, Sql};
use crate::{Page, Paged};

const COLUMNS: &str = "id, url, events, description, secret_sealed, active, disabled_reason,
     cursor_tx, cursor_seq, failing_since, created_at, updated_at";

fn from_row(row: &Row) -> Result<Webhook, DbError> {
    Ok(Webhook {
        id: row.get("id")?,
        url: row.get("url")?,
        events: json(row, "events")?,
        description: row.get("description")?,
        secret_sealed: row.get("secret_sealed")?,
        active: row.get("active")?,
        disabled_reason: row.get("disabled_reason")?,
        cursor: Position {
            tx: row.get("cursor_tx")?,
            seq: row.get("cursor_seq")?,
        },
        failing_since: ts_opt(row, "failing_since")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
    })
}

pub fn insert(sql: &mut dyn Sql, tenant_id: &str, w: &Webhook) -> Result<(), DbError> {
    sql.execute(
        "insert into webhooks (tenant_id, id, url, events, description, secret_sealed, active,
             disabled_reason, cursor_tx, cursor_seq, failing_since, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        params![
            tenant_id,
            w.id.as_str(),
            w.url.as_str(),
            to_json(&w.events),
            w.description.as_deref(),
            w.secret_sealed.as_str(),
            w.active,
            w.disabled_reason.as_deref(),
            w.cursor.tx,
            w.cursor.seq,
            w.failing_since.map(ms),
            ms(w.created_at),
            ms(w.updated_at)
        ],
    )?;
    Ok(())
}

pub fn get(sql: &mut dyn Sql, tenant_id: &str, id: &str) -> Result<Option<Webhook>, DbError> {
    let rows = sql.query(
        &format!("select {COLUMNS} from webhooks where tenant_id = $1 and id = $2"),
        params![tenant_id, id],
    )?;
    rows.first().map(from_row).transpose()
}

/// The shop's endpoint at `url` (an automation's `webhook` step signs with its secret).
pub fn by_url(sql: &mut dyn Sql, tenant_id: &str, url: &str) -> Result<Option<Webhook>, DbError> {
    let rows = sql.query(
        &format!(
            "select {COLUMNS} from webhooks where tenant_id = $1 and url = $2 order by id limit 1"
        ),
        params![tenant_id, url],
    )?;
    rows.first().map(from_row).transpose()
}

/// The endpoint, locked for the transaction (PostgreSQL; SQLite's writers take turns), so
/// that its health is read and written by one transaction at a time.
pub fn get_for_update(
    sql: &mut dyn Sql,
    tenant_id: &str,
    id: &str,
) -> Result<Option<Webhook>, DbError> {
    let lock = sql.backend().for_update();
    let rows = sql.query(
        &format!("select {COLUMNS} from webhooks where tenant_id = $1 and id = $2{lock}"),
        params![tenant_id, id],
    )?;
    rows.first().map(from_row).transpose()
}

pub fn list(sql: &mut dyn Sql, tenant_id: &str, page: &Page) -> Result<Paged<Webhook>, DbError> {
    let rows = sql.query(
        &format!(
            "select {COLUMNS} from webhooks where tenant_id = $1 and id > $2 order by id limit $3"
        ),
        params![
            tenant_id,
            page.after.as_deref().unwrap_or(""),
            page.limit + 1
        ],
    )?;
    let hooks = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    Ok(Paged::from_rows(hooks, page.limit, |w| &w.id))
}

pub fn update(sql: &mut dyn Sql, tenant_id: &str, w: &Webhook) -> Result<(), DbError> {
    sql.execute(
        "update webhooks set url = $3, events = $4, description = $5, active = $6,
             disabled_reason = $7, cursor_tx = $8, cursor_seq = $9, failing_since = $10,
             updated_at = $11
         where tenant_id = $1 and id = $2",
        params![
            tenant_id,
            w.id.as_str(),
            w.url.as_str(),
            to_json(&w.events),
            w.description.as_deref(),
            w.active,
            w.disabled_reason.as_deref(),
            w.cursor.tx,
            w.cursor.seq,
            w.failing_since.map(ms),
            ms(w.updated_at)
        ],
    )?;
    Ok(())
}

/// Moves the endpoint's place in the events feed.
pub fn set_cursor(
    sql: &mut dyn Sql,
    tenant_id: &str,
    id: &str,
    cursor: Position,
) -> Result<(), DbError> {
    sql.execute(
        "update webhooks set cursor_tx = $3, cursor_seq = $4 where tenant_id = $1 and id = $2",
        params![tenant_id, id, cursor.tx, cursor.seq],
    )?;
    Ok(())
}

/// Writes whether the endpoint is on and how its deliveries have been going, leaving its
/// place in the feed (the sender's) alone.
pub fn update_health(sql: &mut dyn Sql, tenant_id: &str, w: &Webhook) -> Result<(), DbError> {
    sql.execute(
        "update webhooks set active = $3, disabled_reason = $4, failing_since = $5, updated_at = $6
         where tenant_id = $1 and id = $2",
        params![
            tenant_id,
            w.id.as_str(),
            w.active,
            w.disabled_reason.as_deref(),
            w.failing_since.map(ms),
            ms(w.updated_at)
        ],
    )?;
    Ok(())
}

/// Deletes the endpoint and its deliveries; returns whether it existed.
pub fn delete(sql: &mut dyn Sql, tenant_id: &str, id: &str) -> Result<bool, DbError> {
    sql.execute(
        "delete from webhook_deliveries where tenant_id = $1 and webhook_id = $2",
        params![tenant_id, id],
    )?;
    Ok(sql.execute(
        "delete from webhooks where tenant_id = $1 and id = $2",
        params![tenant_id, id],
    )? == 1)
}

const DELIVERY_COLUMNS: &str = "id, webhook_id, event_id, event_type, lane, event_tx, event_seq,
     body, status, attempts, last_status_code, last_error, next_attempt_at, created_at,
     delivered_at";

fn delivery_from_row(row: &Row) -> Result<Delivery, DbError> {
    let status: String = row.get("status")?;
    Ok(Delivery {
        id: row.get("id")?,
        webhook_id: row.get("webhook_id")?,
        event_id: row.get("event_id")?,
        event_type: row.get("event_type")?,
        lane: row.get("lane")?,
        position: Position {
            tx: row.get("event_tx")?,
            seq: row.get("event_seq")?,
        },
        body: row.get("body")?,
        status: DeliveryStatus::parse(&status)
            .ok_or_else(|| DbError::Decode(format!("delivery status {status}")))?,
        attempts: row.get("attempts")?,
        last_status_code: row.get("last_status_code")?,
        last_error: row.get("last_error")?,
        next_attempt_at: ts_opt(row, "next_attempt_at")?,
        created_at: ts(row, "created_at")?,
        delivered_at: ts_opt(row, "delivered_at")?,
    })
}

/// Adds a delivery unless the endpoint already has one for the event; returns whether added.
pub fn insert_delivery(sql: &mut dyn Sql, tenant_id: &str, d: &Delivery) -> Result<bool, DbError> {
    Ok(sql.execute(
        "insert into webhook_deliveries (tenant_id, id, webhook_id, event_id, event_type, lane,
             event_tx, event_seq, body, status, attempts, created_at, next_attempt_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         on conflict (tenant_id, webhook_id, event_id) do nothing",
        params![
            tenant_id,
            d.id.as_str(),
            d.webhook_id.as_str(),
            d.event_id.as_str(),
            d.event_type.as_str(),
            d.lane.as_str(),
            d.position.tx,
            d.position.seq,
            d.body.as_str(),
            d.status.as_str(),
            d.attempts,
            ms(d.created_at),
            d.next_attempt_at.map(ms)
        ],
    )? == 1)
}

/// Adds deliveries (skipping any event the endpoint already has one for), many rows to a
/// statement; returns how many were added.
pub fn insert_deliveries(
    sql: &mut dyn Sql,
    tenant_id: &str,
    deliveries: &[Delivery],
) -> Result<u64, DbError> {
    let mut added = 0;
    for chunk in deliveries.chunks(40) {
        let mut values: Vec<crate::sql::Value<'_>> = Vec::with_capacity(chunk.len() * 16);
        let mut rows = Vec::with_capacity(chunk.len());
        for (i, d) in chunk.iter().enumerate() {
            values.extend([
                tenant_id.into(),
                d.id.as_str().into(),
                d.webhook_id.as_str().into(),
                d.event_id.as_str().into(),
                d.event_type.as_str().into(),
                d.lane.as_str().into(),
                d.position.tx.into(),
                d.position.seq.into(),
                d.body.as_str().into(),
                d.status.as_str().into(),
                d.attempts.into(),
                ms(d.created_at).into(),
                d.next_attempt_at.map(ms).into(),
                d.last_status_code.into(),
                d.last_error.as_deref().into(),
                d.delivered_at.map(ms).into(),
            ]);
            rows.push(crate::sql::row_placeholders(i, 16, 1));
        }
        added += sql.execute(
            &format!(
                "insert into webhook_deliveries (tenant_id, id, webhook_id, event_id, event_type,
                     lane, event_tx, event_seq, body, status, attempts, created_at, next_attempt_at,
                     last_status_code, last_error, delivered_at)
                 values {}
                 on conflict (tenant_id, webhook_id, event_id) do nothing",
                rows.join(", ")
            ),
            &values,
        )?;
    }
    Ok(added)
}

pub fn delivery(sql: &mut dyn Sql, tenant_id: &str, id: &str) -> Result<Option<Delivery>, DbError> {
    let rows = sql.query(
        &format!(
            "select {DELIVERY_COLUMNS} from webhook_deliveries where tenant_id = $1 and id = $2"
        ),
        params![tenant_id, id],
    )?;
    rows.first().map(delivery_from_row).transpose()
}

/// An endpoint's deliveries, newest first.
pub fn deliveries(
    sql: &mut dyn Sql,
    tenant_id: &str,
    webhook_id: &str,
    page: &Page,
) -> Result<Paged<Delivery>, DbError> {
    let rows = sql.query(
        &format!(
            "select {DELIVERY_COLUMNS} from webhook_deliveries
             where tenant_id = $1 and webhook_id = $2 and id < $3
             order by id desc limit $4"
        ),
        params![
            tenant_id,
            webhook_id,
            page.after.as_deref().unwrap_or("\u{10FFFF}"),
            page.limit + 1
        ],
    )?;
    let found = rows
        .iter()
        .map(delivery_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Paged::from_rows(found, page.limit, |d| &d.id))
}

/// The pending deliveries that head their lane: the oldest pending one of each member's
/// events (and of the events without a member) for the endpoint. One walk of the pending
/// deliveries' index either way.
pub fn lane_heads(
    sql: &mut dyn Sql,
    tenant_id: &str,
    webhook_id: &str,
) -> Result<Vec<String>, DbError> {
    let query = match sql.backend() {
        Backend::Postgres => {
            "select distinct on (lane) id from webhook_deliveries
             where tenant_id = $1 and webhook_id = $2 and status = 'pending'
             order by lane, event_tx, event_seq"
        }
        // SQLite's `tx` is always 0, and a bare column beside `min()` comes from the row that
        // has the minimum.
        Backend::Sqlite => {
            "select id, min(event_seq) from webhook_deliveries
             where tenant_id = $1 and webhook_id = $2 and status = 'pending'
             group by lane"
        }
    };
    let rows = sql.query(query, params![tenant_id, webhook_id])?;
    rows.iter().map(|row| row.get("id")).collect()
}

/// Which of `lanes` have a pending delivery for the endpoint (one query per 400 lanes).
pub fn busy_lanes(
    sql: &mut dyn Sql,
    tenant_id: &str,
    webhook_id: &str,
    lanes: &[&str],
) -> Result<std::collections::HashSet<String>, DbError> {
    let mut busy = std::collections::HashSet::new();
    for chunk in lanes.chunks(400) {
        let mut values = Vec::new();
        let lanes = rows_in(sql.backend(), &mut values, &[tenant_id, webhook_id], chunk);
        let rows = sql.query(
            &format!(
                "select distinct lane from webhook_deliveries
                 where status = 'pending' and (tenant_id, webhook_id, lane) in ({lanes})"
            ),
            &values,
        )?;
        for row in &rows {
            busy.insert(row.get::<String>("lane")?);
        }
    }
    Ok(busy)
}

/// Takes (or keeps) the endpoint's sender lease for `holder` until `until`, unless another
/// holder's lease is still running; returns whether `holder` has it. One sender per endpoint
/// at a time, across instances, so that no delivery goes out twice at once.
pub fn claim_sender(
    sql: &mut dyn Sql,
    tenant_id: &str,
    webhook_id: &str,
    holder: &str,
    now: Timestamp,
    until: Timestamp,
) -> Result<bool, DbError> {
    Ok(sql.execute(
        "update webhooks set sender = $3, sender_until = $5
         where tenant_id = $1 and id = $2
           and (sender_until is null or sender_until <= $4 or sender = $3)",
        params![tenant_id, webhook_id, holder, ms(now), ms(until)],
    )? == 1)
}

/// Lets go of the endpoint's sender lease, if `holder` has it.
pub fn release_sender(
    sql: &mut dyn Sql,
    tenant_id: &str,
    webhook_id: &str,
    holder: &str,
) -> Result<(), DbError> {
    sql.execute(
        "update webhooks set sender_until = null
         where tenant_id = $1 and id = $2 and sender = $3",
        params![tenant_id, webhook_id, holder],
    )?;
    Ok(())
}

/// Endpoints a sender may have work for: the active ones, and the others with a test ping
/// waiting (a ping goes out even to an endpoint that is off).
pub fn with_work(sql: &mut dyn Sql) -> Result<Vec<(String, String)>, DbError> {
    let rows = sql.query(
        "select tenant_id, id from webhooks w
         where active or exists (
             select 1 from webhook_deliveries d
             where d.tenant_id = w.tenant_id and d.webhook_id = w.id and d.status = 'pending'
               and d.lane >= 'ping:' and d.lane < 'ping;')
         order by tenant_id, id",
        params![],
    )?;
    rows.iter()
        .map(|row| Ok((row.get("tenant_id")?, row.get("id")?)))
        .collect()
}

/// Up to `limit` pending deliveries of the endpoint that are due and head their lane, the
/// longest-waiting first; only pings when the endpoint is off.
pub fn due_heads(
    sql: &mut dyn Sql,
    tenant_id: &str,
    webhook_id: &str,
    active: bool,
    now: Timestamp,
    limit: i64,
) -> Result<Vec<Delivery>, DbError> {
    // The head check is a subquery with a limit, run per candidate with its lane (never
    // flattened into a join that would walk every pending delivery per candidate).
    let rows = sql.query(
        &format!(
            "select {DELIVERY_COLUMNS} from webhook_deliveries d
             where d.tenant_id = $1 and d.webhook_id = $2 and d.status = 'pending'
               and d.next_attempt_at is not null and d.next_attempt_at <= $3
               and ($4 or d.event_type = 'ping')
               and d.id = (
                   select e.id from webhook_deliveries e
                   where e.tenant_id = d.tenant_id and e.webhook_id = d.webhook_id
                     and e.lane = d.lane and e.status = 'pending'
                   order by e.event_tx, e.event_seq limit 1)
             order by d.next_attempt_at limit $5"
        ),
        params![tenant_id, webhook_id, ms(now), active, limit],
    )?;
    rows.iter().map(delivery_from_row).collect()
}

/// Marks delivered, in one statement, the deliveries that the endpoint answered with `status`.
pub fn settle_delivered(
    sql: &mut dyn Sql,
    tenant_id: &str,
    ids: &[&str],
    status: i64,
    now: Timestamp,
) -> Result<(), DbError> {
    for chunk in ids.chunks(400) {
        let mut values: Vec<crate::sql::Value<'_>> = vec![status.into(), ms(now).into()];
        let ids = rows_in(sql.backend(), &mut values, &[tenant_id], chunk);
        sql.execute(
            &format!(
                "update webhook_deliveries set status = 'delivered', attempts = attempts + 1,
                     last_status_code = $1, last_error = null, next_attempt_at = null,
                     delivered_at = $2
                 where (tenant_id, id) in ({ids})"
            ),
            &values,
        )?;
    }
    Ok(())
}

/// Makes the oldest pending delivery of each of `lanes` due now, unless it has its own time
/// already (a retry's, or a replay's): called when the deliveries before them settled.
pub fn wake_lanes(
    sql: &mut dyn Sql,
    tenant_id: &str,
    webhook_id: &str,
    lanes: &[&str],
    now: Timestamp,
) -> Result<(), DbError> {
    for chunk in lanes.chunks(400) {
        let mut values = Vec::new();
        let lanes = rows_in(sql.backend(), &mut values, &[tenant_id, webhook_id], chunk);
        let heads = match sql.backend() {
            Backend::Postgres => format!(
                "select distinct on (lane) id from webhook_deliveries
                 where status = 'pending' and (tenant_id, webhook_id, lane) in ({lanes})
                 order by lane, event_tx, event_seq"
            ),
            Backend::Sqlite => format!(
                "select id, min(event_seq) from webhook_deliveries
                 where status = 'pending' and (tenant_id, webhook_id, lane) in ({lanes})
                 group by lane"
            ),
        };
        let rows = sql.query(&heads, &values)?;
        let ids = rows
            .iter()
            .map(|row| row.get::<String>("id"))
            .collect::<Result<Vec<_>, _>>()?;
        wake(sql, tenant_id, &ids, now)?;
    }
    Ok(())
}

/// Makes the pending deliveries `ids` due now, unless they have a time of their own.
pub fn wake(
    sql: &mut dyn Sql,
    tenant_id: &str,
    ids: &[String],
    now: Timestamp,
) -> Result<(), DbError> {
    for chunk in ids.chunks(400) {
        let mut values: Vec<crate::sql::Value<'_>> = vec![ms(now).into()];
        let ids: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let ids = rows_in(sql.backend(), &mut values, &[tenant_id], &ids);
        sql.execute(
            &format!(
                "update webhook_deliveries set next_attempt_at = $1
                 where status = 'pending' and next_attempt_at is null and (tenant_id, id) in ({ids})"
            ),
            &values,
        )?;
    }
    Ok(())
}

/// Writes how the delivery stands after an attempt (or a replay).
pub fn update_delivery(sql: &mut dyn Sql, tenant_id: &str, d: &Delivery) -> Result<(), DbError> {
    sql.execute(
        "update webhook_deliveries set status = $3, attempts = $4, last_status_code = $5,
             last_error = $6, next_attempt_at = $7, delivered_at = $8, body = $9
         where tenant_id = $1 and id = $2",
        params![
            tenant_id,
            d.id.as_str(),
            d.status.as_str(),
            d.attempts,
            d.last_status_code,
            d.last_error.as_deref(),
            d.next_attempt_at.map(ms),
            d.delivered_at.map(ms),
            d.body.as_str()
        ],
    )?;
    Ok(())
}

/// Forgets settled deliveries made before `before` (all tenants): the log keeps as long as
/// the events feed does. Pending ones stay whatever their age.
pub fn purge_deliveries(sql: &mut dyn Sql, before: Timestamp) -> Result<u64, DbError> {
    sql.execute(
        "delete from webhook_deliveries where status <> 'pending' and created_at < $1",
        params![ms(before)],
    )
}

/// The sealed check text of the server's secret key, if a secret was ever stored.
pub fn key_check(sql: &mut dyn Sql) -> Result<Option<String>, DbError> {
    let rows = sql.query(
        "select sealed from secret_key_check where id = 1",
        params![],
    )?;
    rows.first().map(|row| row.get("sealed")).transpose()
}

/// Records the key's check text, unless one is there already.
pub fn set_key_check(sql: &mut dyn Sql, sealed: &str) -> Result<(), DbError> {
    sql.execute(
        "insert into secret_key_check (id, sealed) values (1, $1) on conflict (id) do nothing",
        params![sealed],
    )?;
    Ok(())
}
