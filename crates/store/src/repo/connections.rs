//! Web-store and POS connections and what came in on them.

use jiff::Timestamp;

use super::{ms, ts};
use crate::params;
use crate::sql::{DbError, Row, Sql};
use crate::{Page, Paged};

#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionRow {
    pub id: String,
    pub platform: String,
    pub name: String,
    pub secret_sealed: String,
    pub verify_token_sealed: Option<String>,
    pub store: Option<String>,
    pub brand: Option<String>,
    pub active: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const COLUMNS: &str = "tenant_id, id, platform, name, secret_sealed, verify_token_sealed, store,
     brand, active, created_at, updated_at";

fn from_row(row: &Row) -> Result<ConnectionRow, DbError> {
    Ok(ConnectionRow {
        id: row.get("id")?,
        platform: row.get("platform")?,
        name: row.get("name")?,
        secret_sealed: row.get("secret_sealed")?,
        verify_token_sealed: row.get("verify_token_sealed")?,
        store: row.get("store")?,
        brand: row.get("brand")?,
        active: row.get("active")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
    })
}

pub fn insert(sql: &mut dyn Sql, tenant_id: &str, c: &ConnectionRow) -> Result<(), DbError> {
    sql.execute(
        &format!(
            "insert into connections ({COLUMNS})
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ),
        params![
            tenant_id,
            c.id.as_str(),
            c.platform.as_str(),
            c.name.as_str(),
            c.secret_sealed.as_str(),
            c.verify_token_sealed.as_deref(),
            c.store.as_deref(),
            c.brand.as_deref(),
            c.active,
            ms(c.created_at),
            ms(c.updated_at)
        ],
    )?;
    Ok(())
}

pub fn get(sql: &mut dyn Sql, tenant_id: &str, id: &str) -> Result<Option<ConnectionRow>, DbError> {
    let rows = sql.query(
        &format!("select {COLUMNS} from connections where tenant_id = $1 and id = $2"),
        params![tenant_id, id],
    )?;
    rows.first().map(from_row).transpose()
}

/// The connection a webhook URL names, with its tenant: the one look-up not scoped by tenant,
/// since the platform calling it knows only the URL (whose signature is checked next).
pub fn find_by_id(sql: &mut dyn Sql, id: &str) -> Result<Option<(String, ConnectionRow)>, DbError> {
    let rows = sql.query(
        &format!("select {COLUMNS} from connections where id = $1"),
        params![id],
    )?;
    rows.first()
        .map(|row| Ok((row.get("tenant_id")?, from_row(row)?)))
        .transpose()
}

pub fn list(
    sql: &mut dyn Sql,
    tenant_id: &str,
    page: &Page,
) -> Result<Paged<ConnectionRow>, DbError> {
    let rows = sql.query(
        &format!(
            "select {COLUMNS} from connections where tenant_id = $1 and id > $2 order by id limit $3"
        ),
        params![tenant_id, page.after.as_deref().unwrap_or(""), page.limit + 1],
    )?;
    let found = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    Ok(Paged::from_rows(found, page.limit, |c| &c.id))
}

pub fn update(sql: &mut dyn Sql, tenant_id: &str, c: &ConnectionRow) -> Result<(), DbError> {
    sql.execute(
        "update connections set name = $3, secret_sealed = $4, verify_token_sealed = $5,
             store = $6, brand = $7, active = $8, updated_at = $9
         where tenant_id = $1 and id = $2",
        params![
            tenant_id,
            c.id.as_str(),
            c.name.as_str(),
            c.secret_sealed.as_str(),
            c.verify_token_sealed.as_deref(),
            c.store.as_deref(),
            c.brand.as_deref(),
            c.active,
            ms(c.updated_at)
        ],
    )?;
    Ok(())
}

/// Deletes the connection and its log; returns whether it existed.
pub fn delete(sql: &mut dyn Sql, tenant_id: &str, id: &str) -> Result<bool, DbError> {
    sql.execute(
        "delete from connection_deliveries where tenant_id = $1 and connection_id = $2",
        params![tenant_id, id],
    )?;
    Ok(sql.execute(
        "delete from connections where tenant_id = $1 and id = $2",
        params![tenant_id, id],
    )? == 1)
}

/// One message of an inbound delivery and what became of it.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundRow {
    pub id: String,
    pub connection_id: String,
    pub delivery_key: String,
    pub part: i64,
    pub topic: String,
    pub order_ref: Option<String>,
    pub order_id: Option<String>,
    pub result: String,
    pub reason: Option<String>,
    pub detail: Option<String>,
    pub error: Option<String>,
    pub receipts: i64,
    pub received_at: Timestamp,
    pub last_received_at: Timestamp,
}

const INBOUND_COLUMNS: &str = "id, connection_id, delivery_key, part, topic, order_ref, order_id,
     result, reason, detail, error, receipts, received_at, last_received_at";

fn inbound_from_row(row: &Row) -> Result<InboundRow, DbError> {
    Ok(InboundRow {
        id: row.get("id")?,
        connection_id: row.get("connection_id")?,
        delivery_key: row.get("delivery_key")?,
        part: row.get("part")?,
        topic: row.get("topic")?,
        order_ref: row.get("order_ref")?,
        order_id: row.get("order_id")?,
        result: row.get("result")?,
        reason: row.get("reason")?,
        detail: row.get("detail")?,
        error: row.get("error")?,
        receipts: row.get("receipts")?,
        received_at: ts(row, "received_at")?,
        last_received_at: ts(row, "last_received_at")?,
    })
}

/// The logged messages of a delivery seen before, by the platform's delivery key.
pub fn inbound_of_delivery(
    sql: &mut dyn Sql,
    tenant_id: &str,
    connection_id: &str,
    delivery_key: &str,
) -> Result<Vec<InboundRow>, DbError> {
    let rows = sql.query(
        &format!(
            "select {INBOUND_COLUMNS} from connection_deliveries
             where tenant_id = $1 and connection_id = $2 and delivery_key = $3 order by part"
        ),
        params![tenant_id, connection_id, delivery_key],
    )?;
    rows.iter().map(inbound_from_row).collect()
}

/// Logs a message, or when its delivery came before, what the retry did this time.
pub fn save_inbound(sql: &mut dyn Sql, tenant_id: &str, r: &InboundRow) -> Result<(), DbError> {
    sql.execute(
        "insert into connection_deliveries (tenant_id, id, connection_id, delivery_key, part,
             topic, order_ref, order_id, result, reason, detail, error, receipts, received_at,
             last_received_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
         on conflict (tenant_id, connection_id, delivery_key, part) do update set
             order_id = excluded.order_id, result = excluded.result, reason = excluded.reason,
             detail = excluded.detail,
             error = excluded.error, receipts = excluded.receipts,
             last_received_at = excluded.last_received_at",
        params![
            tenant_id,
            r.id.as_str(),
            r.connection_id.as_str(),
            r.delivery_key.as_str(),
            r.part,
            r.topic.as_str(),
            r.order_ref.as_deref(),
            r.order_id.as_deref(),
            r.result.as_str(),
            r.reason.as_deref(),
            r.detail.as_deref(),
            r.error.as_deref(),
            r.receipts,
            ms(r.received_at),
            ms(r.last_received_at)
        ],
    )?;
    Ok(())
}

/// Counts one more receipt of a delivery already handled.
pub fn count_receipt(
    sql: &mut dyn Sql,
    tenant_id: &str,
    connection_id: &str,
    delivery_key: &str,
    at: Timestamp,
) -> Result<(), DbError> {
    sql.execute(
        "update connection_deliveries set receipts = receipts + 1, last_received_at = $4
         where tenant_id = $1 and connection_id = $2 and delivery_key = $3",
        params![tenant_id, connection_id, delivery_key, ms(at)],
    )?;
    Ok(())
}

/// Whether a cancellation of the platform's order `order_ref` came before we had the order.
pub fn cancelled_unpaid(
    sql: &mut dyn Sql,
    tenant_id: &str,
    connection_id: &str,
    order_ref: &str,
    reason: &str,
) -> Result<bool, DbError> {
    let rows = sql.query(
        "select 1 as found from connection_deliveries
         where tenant_id = $1 and connection_id = $2 and order_ref = $3 and reason = $4 limit 1",
        params![tenant_id, connection_id, order_ref, reason],
    )?;
    Ok(!rows.is_empty())
}

/// A connection's log, newest first.
pub fn inbound(
    sql: &mut dyn Sql,
    tenant_id: &str,
    connection_id: &str,
    page: &Page,
) -> Result<Paged<InboundRow>, DbError> {
    let rows = sql.query(
        &format!(
            "select {INBOUND_COLUMNS} from connection_deliveries
             where tenant_id = $1 and connection_id = $2 and id < $3
             order by id desc limit $4"
        ),
        params![
            tenant_id,
            connection_id,
            page.after.as_deref().unwrap_or("\u{10FFFF}"),
            page.limit + 1
        ],
    )?;
    let found = rows
        .iter()
        .map(inbound_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Paged::from_rows(found, page.limit, |r| &r.id))
}

/// Forgets the log of messages last received before `before` (platforms stop retrying within
/// days; the log is for looking back over weeks, as the events feed is).
pub fn purge_inbound(sql: &mut dyn Sql, before: Timestamp) -> Result<u64, DbError> {
    sql.execute(
        "delete from connection_deliveries where last_received_at < $1",
        params![ms(before)],
    )
}
