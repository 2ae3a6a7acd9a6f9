//! The PostgreSQL adapter: tokio-postgres driven by a small runtime of its own on the engine's
//! thread, so each call blocks that thread as a synchronous client would.
//!
//! Each connection keeps its prepared statements, so a statement is parsed and planned once per
//! connection and afterwards costs one round trip. Writes whose answer nobody reads
//! ([`Sql::defer`]) are held and sent together with the next statement, pipelined: an order's
//! ledger entry, balance, events and activity entry travel with its order row in one round
//! trip instead of one each, so the writer and the backend process wake each other once
//! rather than six times (decision 0021).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use futures_util::future::join_all;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{AsyncMessage, Client, NoTls, Statement};

use crate::sql::{Backend, Cell, DbError, Row, Sql, Value};

pub struct PgConn {
    runtime: tokio::runtime::Runtime,
    client: Client,
    statements: HashMap<String, (Statement, Arc<[String]>)>,
    /// Writes waiting to go out with the next statement (see [`Sql::defer`]).
    deferred: Vec<(Statement, Vec<Value<'static>>)>,
    /// Notifications heard on this connection (only a listening one keeps them).
    notifications: Option<tokio::sync::mpsc::UnboundedReceiver<String>>,
}

/// Prepared statements kept per connection; dynamic SQL (search filters) beyond this is rare
/// enough that starting over is cheaper than an LRU.
const MAX_CACHED_STATEMENTS: usize = 512;

impl PgConn {
    pub fn connect(url: &str) -> Result<PgConn, DbError> {
        PgConn::open(url, false)
    }

    /// A connection that keeps the notifications it hears, for [`PgConn::wait_for_notifications`].
    pub fn connect_listening(url: &str) -> Result<PgConn, DbError> {
        PgConn::open(url, true)
    }

    fn open(url: &str, listening: bool) -> Result<PgConn, DbError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| DbError::Connection(e.to_string()))?;
        let (client, mut connection) = runtime
            .block_on(tokio_postgres::connect(url, NoTls))
            .map_err(map_error)?;
        let (heard, notifications) = tokio::sync::mpsc::unbounded_channel();
        // The connection's task runs whenever this thread waits on the runtime.
        runtime.spawn(async move {
            let messages = std::future::poll_fn(|cx| {
                loop {
                    match connection.poll_message(cx) {
                        std::task::Poll::Ready(Some(Ok(AsyncMessage::Notification(n)))) => {
                            if listening {
                                let _ = heard.send(n.payload().to_string());
                            }
                        }
                        std::task::Poll::Ready(Some(Ok(_))) => {}
                        std::task::Poll::Ready(Some(Err(error))) => {
                            return std::task::Poll::Ready(Err(error));
                        }
                        std::task::Poll::Ready(None) => return std::task::Poll::Ready(Ok(())),
                        std::task::Poll::Pending => return std::task::Poll::Pending,
                    }
                }
            });
            if let Err(error) = messages.await {
                tracing::debug!(%error, "a PostgreSQL connection ended");
            }
        });
        Ok(PgConn {
            runtime,
            client,
            statements: HashMap::new(),
            deferred: Vec::new(),
            notifications: listening.then_some(notifications),
        })
    }

    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// The payloads of the notifications that arrive within `timeout` of the call (after the
    /// first, whatever else has arrived); an error once the connection is gone.
    pub fn wait_for_notifications(&mut self, timeout: Duration) -> Result<Vec<String>, DbError> {
        let Some(heard) = self.notifications.as_mut() else {
            return Err(DbError::Other("this connection does not listen".into()));
        };
        let mut payloads = Vec::new();
        let first = self
            .runtime
            .block_on(async { tokio::time::timeout(timeout, heard.recv()).await });
        if let Ok(Some(first)) = first {
            payloads.push(first);
            while let Ok(next) = heard.try_recv() {
                payloads.push(next);
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
        let stmt = self
            .runtime
            .block_on(self.client.prepare(sql))
            .map_err(map_error)?;
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

    /// Sends the deferred writes, then runs `last` (if any) in the same pipeline; the first
    /// error in order is the answer (PostgreSQL refuses what follows a failed statement).
    fn pipeline<T>(
        &mut self,
        last: Option<(&Statement, &[Value<'_>])>,
        run: impl AsyncFnOnce(
            &Client,
            &Statement,
            &[&(dyn ToSql + Sync)],
        ) -> Result<T, tokio_postgres::Error>,
    ) -> Result<Option<T>, DbError> {
        let deferred = std::mem::take(&mut self.deferred);
        let client = &self.client;
        let (sent, answer) = self.runtime.block_on(async {
            let writes = join_all(deferred.iter().map(|(stmt, params)| {
                let params = refs(params);
                async move { client.execute(stmt, &params).await }
            }));
            let answer = async {
                match last {
                    Some((stmt, params)) => run(client, stmt, &refs(params)).await.map(Some),
                    None => Ok(None),
                }
            };
            // `join` polls the writes first, so they are sent before the last statement.
            futures_util::future::join(writes, answer).await
        });
        for result in sent {
            result.map_err(map_error)?;
        }
        answer.map_err(map_error)
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
        let changed = self.pipeline(Some((&stmt, params)), async |client, stmt, params| {
            client.execute(stmt, params).await
        })?;
        Ok(changed.unwrap_or(0))
    }

    fn query(&mut self, sql: &str, params: &[Value<'_>]) -> Result<Vec<Row>, DbError> {
        let (stmt, columns) = self.prepare(sql)?;
        let rows = self
            .pipeline(Some((&stmt, params)), async |client, stmt, params| {
                client.query(stmt, params).await
            })?
            .unwrap_or_default();
        portable_rows(rows, &columns)
    }

    fn query_two(
        &mut self,
        first: (&str, &[Value<'_>]),
        second: (&str, &[Value<'_>]),
    ) -> Result<(Vec<Row>, Vec<Row>), DbError> {
        let (one, one_columns) = self.prepare(first.0)?;
        let (two, two_columns) = self.prepare(second.0)?;
        let deferred = std::mem::take(&mut self.deferred);
        let client = &self.client;
        let (sent, one_rows, two_rows) = self.runtime.block_on(async {
            let writes = join_all(deferred.iter().map(|(stmt, params)| {
                let params = refs(params);
                async move { client.execute(stmt, &params).await }
            }));
            let (one_params, two_params) = (refs(first.1), refs(second.1));
            // `join3` polls in order: the writes, then the two queries, are sent in order.
            futures_util::future::join3(
                writes,
                client.query(&one, &one_params),
                client.query(&two, &two_params),
            )
            .await
        });
        for result in sent {
            result.map_err(map_error)?;
        }
        let one_rows = one_rows.map_err(map_error)?;
        let two_rows = two_rows.map_err(map_error)?;
        Ok((
            portable_rows(one_rows, &one_columns)?,
            portable_rows(two_rows, &two_columns)?,
        ))
    }

    fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.flush()?;
        self.runtime
            .block_on(self.client.batch_execute(sql))
            .map_err(map_error)
    }

    fn defer(&mut self, sql: &str, params: &[Value<'_>]) -> Result<(), DbError> {
        let (stmt, _) = self.prepare(sql)?;
        let owned = params.iter().map(Value::to_owned_value).collect();
        self.deferred.push((stmt, owned));
        Ok(())
    }

    fn flush(&mut self) -> Result<(), DbError> {
        if self.deferred.is_empty() {
            return Ok(());
        }
        self.pipeline(
            None,
            async |_: &Client, _: &Statement, _: &[&(dyn ToSql + Sync)]| {
                Ok::<(), tokio_postgres::Error>(())
            },
        )
        .map(drop)
    }
}

fn portable_rows(
    rows: Vec<tokio_postgres::Row>,
    columns: &Arc<[String]>,
) -> Result<Vec<Row>, DbError> {
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

fn read_cell(row: &tokio_postgres::Row, i: usize, ty: &Type) -> Result<Cell, DbError> {
    let decode = |e: tokio_postgres::Error| DbError::Decode(e.to_string());
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

fn map_error(error: tokio_postgres::Error) -> DbError {
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
