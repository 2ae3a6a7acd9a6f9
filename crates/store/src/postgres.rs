//! The PostgreSQL adapter (the synchronous `postgres` client on the engine's own threads): the
//! backend for chains running several `loyalty serve` instances.
//!
//! Each connection keeps its prepared statements, so a statement is parsed and planned once per
//! connection and afterwards costs one round trip.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use postgres::error::SqlState;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, NoTls, Statement};

use crate::sql::{Backend, Cell, DbError, Row, Sql, Value};

pub struct PgConn {
    client: Client,
    statements: HashMap<String, (Statement, Arc<[String]>)>,
}

/// Prepared statements kept per connection; dynamic SQL (search filters) beyond this is rare
/// enough that starting over is cheaper than an LRU.
const MAX_CACHED_STATEMENTS: usize = 512;

impl PgConn {
    pub fn connect(url: &str) -> Result<PgConn, DbError> {
        let client = Client::connect(url, NoTls).map_err(map_error)?;
        Ok(PgConn {
            client,
            statements: HashMap::new(),
        })
    }

    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// The payloads of the notifications that arrive within `timeout` of the call (after the
    /// first, whatever else has arrived); an error once the connection is gone.
    pub fn wait_for_notifications(&mut self, timeout: Duration) -> Result<Vec<String>, DbError> {
        use postgres::fallible_iterator::FallibleIterator;
        let mut payloads = Vec::new();
        {
            let mut notifications = self.client.notifications();
            let first = notifications
                .timeout_iter(timeout)
                .next()
                .map_err(map_error)?;
            if let Some(first) = first {
                payloads.push(first.payload().to_string());
                let mut more = notifications.iter();
                while let Some(next) = more.next().map_err(map_error)? {
                    payloads.push(next.payload().to_string());
                }
            }
        }
        if self.client.is_closed() {
            return Err(DbError::Connection(
                "the listening connection closed".into(),
            ));
        }
        Ok(payloads)
    }

    fn prepare(&mut self, sql: &str) -> Result<(Statement, Arc<[String]>), DbError> {
        if let Some(found) = self.statements.get(sql) {
            return Ok(found.clone());
        }
        let stmt = self.client.prepare(sql).map_err(map_error)?;
        let columns: Arc<[String]> = stmt
            .columns()
            .iter()
            .map(|c| c.name().to_string())
            .collect();
        if self.statements.len() >= MAX_CACHED_STATEMENTS {
            self.statements.clear();
        }
        self.statements
            .insert(sql.to_string(), (stmt.clone(), columns.clone()));
        Ok((stmt, columns))
    }
}

fn refs<'a>(params: &'a [Value<'_>]) -> Vec<&'a (dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

impl Sql for PgConn {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn execute(&mut self, sql: &str, params: &[Value<'_>]) -> Result<u64, DbError> {
        let (stmt, _) = self.prepare(sql)?;
        self.client.execute(&stmt, &refs(params)).map_err(map_error)
    }

    fn query(&mut self, sql: &str, params: &[Value<'_>]) -> Result<Vec<Row>, DbError> {
        let (stmt, columns) = self.prepare(sql)?;
        let rows = self.client.query(&stmt, &refs(params)).map_err(map_error)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let mut cells = Vec::with_capacity(columns.len());
            for (i, column) in row.columns().iter().enumerate() {
                cells.push(read_cell(&row, i, column.type_())?);
            }
            out.push(Row::new(columns.clone(), cells));
        }
        Ok(out)
    }

    fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.client.batch_execute(sql).map_err(map_error)
    }
}

fn read_cell(row: &postgres::Row, i: usize, ty: &Type) -> Result<Cell, DbError> {
    let decode = |e: postgres::Error| DbError::Decode(e.to_string());
    Ok(match *ty {
        Type::INT8 => row
            .try_get::<_, Option<i64>>(i)
            .map_err(decode)?
            .map_or(Cell::Null, Cell::Int),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(i)
            .map_err(decode)?
            .map_or(Cell::Null, |v| Cell::Int(i64::from(v))),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(i)
            .map_err(decode)?
            .map_or(Cell::Null, |v| Cell::Int(i64::from(v))),
        Type::BOOL => row
            .try_get::<_, Option<bool>>(i)
            .map_err(decode)?
            .map_or(Cell::Null, Cell::Bool),
        Type::FLOAT8 => row
            .try_get::<_, Option<f64>>(i)
            .map_err(decode)?
            .map_or(Cell::Null, Cell::Real),
        Type::FLOAT4 => row
            .try_get::<_, Option<f32>>(i)
            .map_err(decode)?
            .map_or(Cell::Null, |v| Cell::Real(f64::from(v))),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => row
            .try_get::<_, Option<String>>(i)
            .map_err(decode)?
            .map_or(Cell::Null, Cell::Text),
        ref other => {
            return Err(DbError::Decode(format!(
                "column type {other} is not portable; cast it to bigint or text in the query"
            )));
        }
    })
}

impl ToSql for Value<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(v) => match *ty {
                Type::INT8 => v.to_sql(ty, out),
                Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
                Type::FLOAT8 => (*v as f64).to_sql(ty, out),
                Type::BOOL => (*v != 0).to_sql(ty, out),
                _ => Err(format!("cannot bind an integer to a {ty} parameter").into()),
            },
            Value::Real(v) => match *ty {
                Type::FLOAT4 => (*v as f32).to_sql(ty, out),
                _ => v.to_sql(ty, out),
            },
            Value::Text(v) => v.as_ref().to_sql(ty, out),
            Value::Bool(v) => match *ty {
                Type::BOOL => v.to_sql(ty, out),
                Type::INT8 => i64::from(*v).to_sql(ty, out),
                _ => Err(format!("cannot bind a boolean to a {ty} parameter").into()),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn map_error(error: postgres::Error) -> DbError {
    if let Some(db) = error.as_db_error() {
        let code = db.code();
        if *code == SqlState::UNIQUE_VIOLATION {
            return DbError::Unique {
                detail: db.constraint().unwrap_or_default().to_string(),
            };
        }
        if *code == SqlState::T_R_DEADLOCK_DETECTED
            || *code == SqlState::T_R_SERIALIZATION_FAILURE
            || *code == SqlState::LOCK_NOT_AVAILABLE
        {
            return DbError::Retry(db.message().to_string());
        }
        // Text PostgreSQL cannot store (a NUL character, which SQLite takes): the input's fault.
        if *code == SqlState::CHARACTER_NOT_IN_REPERTOIRE
            || *code == SqlState::UNTRANSLATABLE_CHARACTER
        {
            return DbError::Unstorable(db.message().to_string());
        }
        return DbError::Other(format!("{}: {}", db.code().code(), db.message()));
    }
    if error.is_closed() {
        return DbError::Connection(error.to_string());
    }
    DbError::Other(error.to_string())
}
