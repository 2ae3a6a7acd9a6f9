//! The events table: written by the transaction of each change (the outbox), read as the
//! tenant's feed, forgotten after the retention period.

use jiff::Timestamp;
use loyalty_core::event::{EventType, Position, Raised};
use loyalty_core::id::new_id;

use super::{ms, ts};
use crate::params;
use crate::sql::{Backend, DbError, Sql, Value, row_placeholders};

/// An event as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: String,
    pub kind: EventType,
    pub member_id: Option<String>,
    pub created_at: Timestamp,
    pub data: serde_json::Value,
    pub position: Position,
}

/// Writes the events of one change, in the order given, in one statement.
pub fn insert(
    sql: &mut dyn Sql,
    tenant_id: &str,
    at: Timestamp,
    events: &[Raised],
) -> Result<(), DbError> {
    const COLUMNS: usize = 6;
    for chunk in events.chunks(200) {
        let mut query = String::from(
            "insert into events (tenant_id, id, type, member_id, created_at, data) values ",
        );
        let mut values: Vec<Value<'_>> = Vec::with_capacity(chunk.len() * COLUMNS);
        for (i, e) in chunk.iter().enumerate() {
            if i > 0 {
                query.push_str(", ");
            }
            query.push_str(&row_placeholders(i, COLUMNS, 1));
            values.extend([
                Value::from(tenant_id),
                Value::from(new_id("evt")),
                Value::from(e.kind.as_str()),
                Value::from(e.member_id.as_deref()),
                Value::from(ms(at)),
                Value::from(e.data.as_str()),
            ]);
        }
        sql.defer(&query, &values)?;
    }
    Ok(())
}

/// The tenant's events after `after`, oldest first, of the given types (all when empty).
/// On PostgreSQL only events of transactions that ended before every transaction still
/// running are served: one still committing would otherwise appear behind a reader's cursor.
pub fn feed(
    sql: &mut dyn Sql,
    tenant_id: &str,
    types: &[EventType],
    after: Position,
    limit: i64,
) -> Result<Vec<Event>, DbError> {
    // SQLite: tx is always 0, and `seq > …` lets the read walk the table's key from the cursor.
    let (after_cond, horizon) = match sql.backend() {
        Backend::Sqlite => ("tx = $2 and seq > $3", ""),
        Backend::Postgres => (
            "(tx, seq) > ($2, $3)",
            " and tx < pg_snapshot_xmin(pg_current_snapshot())::text::bigint",
        ),
    };
    let mut values: Vec<Value<'_>> = vec![
        Value::from(tenant_id),
        Value::from(after.tx),
        Value::from(after.seq),
        Value::from(limit),
    ];
    let type_filter = if types.is_empty() {
        String::new()
    } else {
        let placeholders: Vec<String> = (0..types.len()).map(|i| format!("${}", 5 + i)).collect();
        values.extend(types.iter().map(|t| Value::from(t.as_str())));
        format!(" and type in ({})", placeholders.join(", "))
    };
    let rows = sql.query(
        &format!(
            "select seq, tx, id, type, member_id, created_at, data from events
             where tenant_id = $1 and {after_cond}{horizon}{type_filter}
             order by tx, seq limit $4"
        ),
        &values,
    )?;
    rows.iter().map(from_row).collect()
}

/// The tenant's event at `seq`, if it is still kept.
pub fn at(sql: &mut dyn Sql, tenant_id: &str, seq: i64) -> Result<Option<Event>, DbError> {
    let rows = sql.query(
        "select seq, tx, id, type, member_id, created_at, data from events
         where seq = $1 and tenant_id = $2",
        params![seq, tenant_id],
    )?;
    rows.first().map(from_row).transpose()
}

fn from_row(row: &crate::sql::Row) -> Result<Event, DbError> {
    let kind: String = row.get("type")?;
    let data: String = row.get("data")?;
    Ok(Event {
        id: row.get("id")?,
        kind: EventType::parse(&kind)
            .ok_or_else(|| DbError::Decode(format!("event type {kind}")))?,
        member_id: row.get("member_id")?,
        created_at: ts(row, "created_at")?,
        data: serde_json::from_str(&data)
            .map_err(|e| DbError::Decode(format!("event data: {e}")))?,
        position: Position {
            tx: row.get("tx")?,
            seq: row.get("seq")?,
        },
    })
}

/// Where the tenant's feed ends now (the start for a new webhook endpoint).
pub fn newest_position(sql: &mut dyn Sql, tenant_id: &str) -> Result<Position, DbError> {
    let rows = sql.query(
        "select tx, seq from events where tenant_id = $1 order by tx desc, seq desc limit 1",
        params![tenant_id],
    )?;
    match rows.first() {
        Some(row) => Ok(Position {
            tx: row.get("tx")?,
            seq: row.get("seq")?,
        }),
        None => Ok(Position::default()),
    }
}

/// Forgets events written before `before` (all tenants); returns how many. Events are
/// written in `seq` order as time goes, so the cut is found walking `seq` from the oldest (no
/// index on the time: one write fewer per change). The newest event always stays, so that on
/// SQLite a new `seq` is always above every one a reader has seen.
pub fn purge(sql: &mut dyn Sql, before: Timestamp) -> Result<u64, DbError> {
    sql.execute(
        "delete from events where seq < coalesce(
             (select seq from events where created_at >= $1 order by seq limit 1),
             (select max(seq) from events))",
        params![ms(before)],
    )
}
