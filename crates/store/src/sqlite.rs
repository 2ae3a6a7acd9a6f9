//! The SQLite adapter (rusqlite, the database compiled in): the embedded default.
//!
//! Why rusqlite rather than sqlx: on this hardware it runs about 2.5× the single-row
//! transactions and 15× the batched rows of sqlx-sqlite (ECOSYSTEM.md §3), because a statement
//! is a function call here instead of a hop to a worker thread. The engine already runs every
//! database call on its own threads, so a synchronous driver costs nothing in the async server.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ErrorCode, OpenFlags, ToSql};

use crate::sql::{Backend, Cell, DbError, Row, Sql, Value};

pub struct SqliteConn {
    conn: Connection,
    /// Column names per statement text, so a read does not allocate them again each time.
    columns: HashMap<String, Arc<[String]>>,
    /// For each statement text, the `$n` each SQLite parameter index binds (see `bind`).
    positions: HashMap<String, Arc<[usize]>>,
    /// WAL length seen by the last checkpoint (the checkpointer's connection only).
    wal_frames: i64,
}

impl SqliteConn {
    /// Opens (creating it if needed) the database file in WAL mode with `synchronous=FULL`: an
    /// order acknowledged to the till survives a power cut, and readers never wait for writers.
    pub fn open(path: &Path, read_only: bool) -> Result<SqliteConn, DbError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(map_error)?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(map_error)?;
        conn.set_prepared_statement_cache_capacity(256);
        let mode: String = conn
            .query_row("pragma journal_mode = wal", [], |row| row.get(0))
            .map_err(map_error)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(DbError::Other(format!(
                "cannot switch SQLite to WAL mode (got {mode})"
            )));
        }
        conn.execute_batch(
            "pragma synchronous = full;
             pragma foreign_keys = on;
             pragma temp_store = memory;
             -- 64 MB: bulk writes (imports) touch index pages all over a large database.
             pragma cache_size = -65536;",
        )
        .map_err(map_error)?;
        // The engine's checkpointer thread copies the WAL into the database file off the
        // writer's path. The writer checkpoints by itself only as a backstop, should the WAL grow
        // past ~80 MB (the checkpointer gone, a reader pinning old pages).
        conn.execute_batch("pragma wal_autocheckpoint = 20000")
            .map_err(map_error)?;
        if read_only {
            // Readers keep a smaller cache each: there are several, and the OS caches the file
            // for all of them. (Mapping the file instead made a segment count 25% faster but
            // showed the whole database in the process's resident memory.)
            conn.execute_batch("pragma query_only = on; pragma cache_size = -16384;")
                .map_err(map_error)?;
        }
        Ok(SqliteConn {
            conn,
            columns: HashMap::new(),
            positions: HashMap::new(),
            wal_frames: 0,
        })
    }
}

impl SqliteConn {
    /// Copies committed WAL frames into the database file without blocking readers or the
    /// writer (a PASSIVE checkpoint); returns the frames not copied yet.
    pub fn checkpoint(&mut self) -> Result<i64, DbError> {
        let (log, done) = self.checkpoint_counts()?;
        self.wal_frames = log;
        Ok(log - done)
    }

    fn checkpoint_counts(&mut self) -> Result<(i64, i64), DbError> {
        self.conn
            .query_row("pragma wal_checkpoint(passive)", [], |row| {
                Ok((row.get(1)?, row.get(2)?))
            })
            .map_err(map_error)
    }

    /// The WAL's length in frames at the last checkpoint.
    pub fn wal_frames(&self) -> Option<i64> {
        Some(self.wal_frames)
    }

    /// Copies every frame and makes the next writer start the WAL from its beginning again, so
    /// it stops growing; waits (busy timeout) for the writer's current transaction.
    pub fn checkpoint_restart(&mut self) -> Result<(), DbError> {
        self.conn
            .execute_batch("pragma wal_checkpoint(restart)")
            .map_err(map_error)
    }

    /// Copies every frame and empties the WAL file; `false` when it could not finish (another
    /// checkpoint was running, or a reader still used the WAL), so nothing was emptied.
    pub fn checkpoint_truncate(&mut self) -> Result<bool, DbError> {
        let busy: i64 = self
            .conn
            .query_row("pragma wal_checkpoint(truncate)", [], |row| row.get(0))
            .map_err(map_error)?;
        Ok(busy == 0)
    }
}

impl Sql for SqliteConn {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn execute(&mut self, sql: &str, params: &[Value<'_>]) -> Result<u64, DbError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(map_error)?;
        bind(&mut stmt, &mut self.positions, sql, params)?;
        stmt.raw_execute().map(|n| n as u64).map_err(map_error)
    }

    fn query(&mut self, sql: &str, params: &[Value<'_>]) -> Result<Vec<Row>, DbError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(map_error)?;
        bind(&mut stmt, &mut self.positions, sql, params)?;
        let columns = match self.columns.get(sql) {
            Some(columns) => columns.clone(),
            None => {
                let columns: Arc<[String]> = stmt.column_names().map(str::to_string).collect();
                if self.columns.len() > 512 {
                    self.columns.clear();
                }
                self.columns.insert(sql.to_string(), columns.clone());
                columns
            }
        };
        let width = columns.len();
        let mut rows = stmt.raw_query();
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(map_error)? {
            let mut cells = Vec::with_capacity(width);
            for i in 0..width {
                cells.push(match row.get_ref(i).map_err(map_error)? {
                    ValueRef::Null => Cell::Null,
                    ValueRef::Integer(v) => Cell::Int(v),
                    ValueRef::Real(v) => Cell::Real(v),
                    ValueRef::Text(bytes) => Cell::Text(
                        String::from_utf8(bytes.to_vec())
                            .map_err(|_| DbError::Decode("text is not UTF-8".into()))?,
                    ),
                    ValueRef::Blob(_) => return Err(DbError::Decode("unexpected blob".into())),
                });
            }
            out.push(Row::new(columns.clone(), cells));
        }
        Ok(out)
    }

    fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.conn.execute_batch(sql).map_err(map_error)
    }
}

/// Binds by placeholder name: SQLite numbers `$n` parameters in order of first appearance, so
/// `$2 … $1` or a reused `$1` would shift positional binding. Reading each placeholder's name
/// keeps the shared SQL text exactly as written. SQLite looks a name up by scanning a list, so
/// the positions are worked out once per statement text and kept: a multi-row insert with
/// 1,700 placeholders would otherwise spend most of its time naming them.
fn bind(
    stmt: &mut rusqlite::CachedStatement<'_>,
    positions: &mut HashMap<String, Arc<[usize]>>,
    sql: &str,
    params: &[Value<'_>],
) -> Result<(), DbError> {
    let order = match positions.get(sql) {
        Some(order) => order.clone(),
        None => {
            let mut order = Vec::with_capacity(stmt.parameter_count());
            for index in 1..=stmt.parameter_count() {
                let name = stmt.parameter_name(index).unwrap_or_default();
                let position: usize = name
                    .strip_prefix('$')
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n > 0)
                    .ok_or_else(|| {
                        DbError::Other(format!("placeholder {name:?} is not of the form $n"))
                    })?;
                order.push(position);
            }
            let order: Arc<[usize]> = order.into();
            if positions.len() > 512 {
                positions.clear();
            }
            positions.insert(sql.to_string(), order.clone());
            order
        }
    };
    for (i, position) in order.iter().enumerate() {
        let value = params.get(position - 1).ok_or_else(|| {
            DbError::Other(format!(
                "no value for placeholder ${position} ({} given)",
                params.len()
            ))
        })?;
        stmt.raw_bind_parameter(i + 1, value).map_err(map_error)?;
    }
    Ok(())
}

impl ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(v) => ToSqlOutput::Borrowed(ValueRef::Integer(*v)),
            Value::Real(v) => ToSqlOutput::Borrowed(ValueRef::Real(*v)),
            Value::Text(v) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            Value::Bool(v) => ToSqlOutput::Borrowed(ValueRef::Integer(i64::from(*v))),
        })
    }
}

fn map_error(error: rusqlite::Error) -> DbError {
    const SQLITE_CONSTRAINT_PRIMARYKEY: i32 = 1555;
    const SQLITE_CONSTRAINT_UNIQUE: i32 = 2067;
    match &error {
        rusqlite::Error::SqliteFailure(failure, message) => match failure.code {
            ErrorCode::ConstraintViolation
                if matches!(
                    failure.extended_code,
                    SQLITE_CONSTRAINT_UNIQUE | SQLITE_CONSTRAINT_PRIMARYKEY
                ) =>
            {
                DbError::Unique {
                    detail: message.clone().unwrap_or_default(),
                }
            }
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
                DbError::Retry(error.to_string())
            }
            _ => DbError::Other(error.to_string()),
        },
        _ => DbError::Other(error.to_string()),
    }
}
