//! The one SQL interface both backends implement.
//!
//! Queries are written once, lower case, with `$1…$n` placeholders, and run unchanged on SQLite
//! and PostgreSQL. Values cross the boundary as a handful of portable types: integers (money,
//! points and instants in epoch milliseconds), text (ids, JSON documents) and booleans. Everything
//! a backend does differently lives in its adapter (`sqlite.rs`, `postgres.rs`) and in
//! [`Backend`]'s few methods.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// A test that `haystack` contains the text bound at `needle` (a placeholder), case
    /// sensitive on both backends.
    pub fn contains(self, haystack: &str, needle: &str) -> String {
        match self {
            Backend::Sqlite => format!("instr({haystack}, {needle}) > 0"),
            Backend::Postgres => format!("strpos({haystack}, {needle}) > 0"),
        }
    }

    /// Row locks for read-modify-write inside a transaction. SQLite has one writer at a time,
    /// so the transaction already holds the whole database and the clause does not exist there.
    pub fn for_update(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => " for update",
        }
    }
}

/// A parameter bound to a `$n` placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(Cow<'a, str>),
    Bool(bool),
}

impl Value<'_> {
    /// The same value, owning its text (to be sent later).
    pub fn to_owned_value(&self) -> Value<'static> {
        match self {
            Value::Null => Value::Null,
            Value::Int(v) => Value::Int(*v),
            Value::Real(v) => Value::Real(*v),
            Value::Text(v) => Value::Text(Cow::Owned(v.to_string())),
            Value::Bool(v) => Value::Bool(*v),
        }
    }
}

impl From<i64> for Value<'_> {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<i32> for Value<'_> {
    fn from(v: i32) -> Self {
        Value::Int(i64::from(v))
    }
}

impl From<u32> for Value<'_> {
    fn from(v: u32) -> Self {
        Value::Int(i64::from(v))
    }
}

impl From<f64> for Value<'_> {
    fn from(v: f64) -> Self {
        Value::Real(v)
    }
}

impl From<bool> for Value<'_> {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(v: &'a str) -> Self {
        Value::Text(Cow::Borrowed(v))
    }
}

impl<'a> From<&'a String> for Value<'a> {
    fn from(v: &'a String) -> Self {
        Value::Text(Cow::Borrowed(v.as_str()))
    }
}

impl From<String> for Value<'_> {
    fn from(v: String) -> Self {
        Value::Text(Cow::Owned(v))
    }
}

impl<'a, T: Into<Value<'a>>> From<Option<T>> for Value<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

impl<'a> From<&'a Option<String>> for Value<'a> {
    fn from(v: &'a Option<String>) -> Self {
        v.as_deref().map_or(Value::Null, Value::from)
    }
}

/// Typed ids bind as text and read back from text.
macro_rules! id_cells {
    ($($id:ty),*) => {$(
        impl<'a> From<&'a $id> for Value<'a> {
            fn from(v: &'a $id) -> Self {
                Value::Text(Cow::Borrowed(v.as_str()))
            }
        }

        impl From<$id> for Value<'_> {
            fn from(v: $id) -> Self {
                Value::Text(Cow::Owned(v.into_string()))
            }
        }

        impl<'a> From<&'a Option<$id>> for Value<'a> {
            fn from(v: &'a Option<$id>) -> Self {
                v.as_ref().map_or(Value::Null, Value::from)
            }
        }

        impl FromCell for $id {
            fn from_cell(cell: &Cell) -> Result<Self, DbError> {
                String::from_cell(cell).map(<$id>::from)
            }
        }
    )*};
}

id_cells!(
    loyalty_core::id::TenantId,
    loyalty_core::id::MemberId,
    loyalty_core::id::OrderId,
    loyalty_core::id::ProgramId,
    loyalty_core::id::KeyId
);

/// `params![a, b, c]` builds the parameter slice for `$1, $2, $3`.
#[macro_export]
macro_rules! params {
    () => { &[] as &[$crate::Value<'_>] };
    ($($v:expr),+ $(,)?) => { &[$($crate::Value::from($v)),+] as &[$crate::Value<'_>] };
}

/// One column value read back.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bool(bool),
}

/// A row read back, with its column names so code reads `row.get("points")`.
#[derive(Debug, Clone)]
pub struct Row {
    columns: Arc<[String]>,
    cells: Vec<Cell>,
}

impl Row {
    pub fn new(columns: Arc<[String]>, cells: Vec<Cell>) -> Self {
        Self { columns, cells }
    }

    pub fn get<T: FromCell>(&self, column: &str) -> Result<T, DbError> {
        let index = self
            .columns
            .iter()
            .position(|c| c == column)
            .ok_or_else(|| DbError::Decode(format!("no column {column} in the result")))?;
        self.at(index).map_err(|e| match e {
            DbError::Decode(msg) => DbError::Decode(format!("column {column}: {msg}")),
            other => other,
        })
    }

    pub fn at<T: FromCell>(&self, index: usize) -> Result<T, DbError> {
        let cell = self
            .cells
            .get(index)
            .ok_or_else(|| DbError::Decode(format!("no column {index} in the result")))?;
        T::from_cell(cell)
    }

    /// The exact sum written by [`wide_sum`] under `alias`.
    pub fn wide(&self, alias: &str) -> Result<i128, DbError> {
        let high: i64 = self.get(&format!("{alias}_hi"))?;
        let low: i64 = self.get(&format!("{alias}_lo"))?;
        Ok(loyalty_core::limits::join_halves(high, low))
    }

    /// [`Row::wide`] as an `i64`, held at the nearest bound when it does not fit (a report
    /// shows the largest number it can rather than failing).
    pub fn wide_saturated(&self, alias: &str) -> Result<i64, DbError> {
        let sum = self.wide(alias)?;
        Ok(i64::try_from(sum).unwrap_or(if sum < 0 { i64::MIN } else { i64::MAX }))
    }

    pub fn len(&self) -> usize {
        self.cells.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }
}

pub trait FromCell: Sized {
    fn from_cell(cell: &Cell) -> Result<Self, DbError>;
}

fn mismatch(want: &str, got: &Cell) -> DbError {
    DbError::Decode(format!("expected {want}, found {got:?}"))
}

impl FromCell for i64 {
    fn from_cell(cell: &Cell) -> Result<Self, DbError> {
        match cell {
            Cell::Int(v) => Ok(*v),
            other => Err(mismatch("an integer", other)),
        }
    }
}

impl FromCell for f64 {
    fn from_cell(cell: &Cell) -> Result<Self, DbError> {
        match cell {
            Cell::Real(v) => Ok(*v),
            Cell::Int(v) => Ok(*v as f64),
            other => Err(mismatch("a number", other)),
        }
    }
}

impl FromCell for bool {
    fn from_cell(cell: &Cell) -> Result<Self, DbError> {
        match cell {
            Cell::Bool(v) => Ok(*v),
            // SQLite has no boolean type: 0 and 1.
            Cell::Int(v) => Ok(*v != 0),
            other => Err(mismatch("a boolean", other)),
        }
    }
}

impl FromCell for String {
    fn from_cell(cell: &Cell) -> Result<Self, DbError> {
        match cell {
            Cell::Text(v) => Ok(v.clone()),
            other => Err(mismatch("text", other)),
        }
    }
}

impl<T: FromCell> FromCell for Option<T> {
    fn from_cell(cell: &Cell) -> Result<Self, DbError> {
        match cell {
            Cell::Null => Ok(None),
            other => T::from_cell(other).map(Some),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DbError {
    /// A unique index refused the row. `detail` names the constraint (PostgreSQL) or the columns
    /// (SQLite); callers look for the column name in it.
    #[error("unique constraint violated: {detail}")]
    Unique { detail: String },
    /// A deadlock, serialisation failure or busy database: running the work again may succeed.
    #[error("transient database conflict: {0}")]
    Retry(String),
    #[error("row not found")]
    NotFound,
    /// Input text the database cannot store (PostgreSQL refuses the NUL character).
    #[error("text the database cannot store: {0}")]
    Unstorable(String),
    /// An idempotency key already taken by another request (`repo::idempotency::claim`).
    #[error("the idempotency key is taken by another request")]
    KeyTaken,
    #[error("cannot read result: {0}")]
    Decode(String),
    #[error("database connection lost: {0}")]
    Connection(String),
    #[error("the database engine has shut down")]
    Closed,
    #[error("database error: {0}")]
    Other(String),
}

impl DbError {
    pub fn is_unique_on(&self, column: &str) -> bool {
        matches!(self, DbError::Unique { detail } if detail.contains(column))
    }
}

/// A connection, or the open transaction on it. Object-safe so that repository code is written
/// once against `&mut dyn Sql` and runs on either backend.
pub trait Sql {
    fn backend(&self) -> Backend;

    /// Runs one statement; returns the number of rows it changed.
    fn execute(&mut self, sql: &str, params: &[Value<'_>]) -> Result<u64, DbError>;

    /// Runs one statement and collects its rows.
    fn query(&mut self, sql: &str, params: &[Value<'_>]) -> Result<Vec<Row>, DbError>;

    /// Runs several statements without parameters (transaction control, migrations).
    fn batch(&mut self, sql: &str) -> Result<(), DbError>;

    /// Runs a write whose answer the caller does not need. PostgreSQL holds it and sends it
    /// with the next statement, pipelined (one round trip for several writes); its error then
    /// surfaces at that statement, or at [`Sql::flush`], which the engine calls when each
    /// action ends. SQLite runs it at once.
    fn defer(&mut self, sql: &str, params: &[Value<'_>]) -> Result<(), DbError> {
        self.execute(sql, params).map(drop)
    }

    /// Sends what [`Sql::defer`] holds and reports its first error.
    fn flush(&mut self) -> Result<(), DbError> {
        Ok(())
    }

    /// Runs two queries that do not depend on each other, in order; PostgreSQL sends them in
    /// one pipeline (with whatever was deferred).
    fn query_two(
        &mut self,
        first: (&str, &[Value<'_>]),
        second: (&str, &[Value<'_>]),
    ) -> Result<(Vec<Row>, Vec<Row>), DbError> {
        Ok((
            self.query(first.0, first.1)?,
            self.query(second.0, second.1)?,
        ))
    }
}

impl dyn Sql + '_ {
    pub fn query_opt(&mut self, sql: &str, params: &[Value<'_>]) -> Result<Option<Row>, DbError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    pub fn query_one(&mut self, sql: &str, params: &[Value<'_>]) -> Result<Row, DbError> {
        self.query_opt(sql, params)?.ok_or(DbError::NotFound)
    }

    /// The first column of the first row.
    pub fn query_scalar<T: FromCell>(
        &mut self,
        sql: &str,
        params: &[Value<'_>],
    ) -> Result<T, DbError> {
        self.query_one(sql, params)?.at(0)
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Two columns, `{alias}_hi` and `{alias}_lo`, that together hold the exact sum of `expr` over
/// the group however large it grows: each 64-bit value is split at 2^32 (truncating division
/// and remainder, the same on both backends), so neither half can overflow before billions of
/// rows, where a plain `sum` fails on SQLite ("integer overflow") and PostgreSQL ("bigint out
/// of range"). Read it back with [`Row::wide`].
pub fn wide_sum(expr: &str, alias: &str) -> String {
    format!(
        "cast(coalesce(sum(({expr}) / 4294967296), 0) as bigint) as {alias}_hi, \
         cast(coalesce(sum(({expr}) % 4294967296), 0) as bigint) as {alias}_lo"
    )
}

/// The `($n, $n+1, …)` tuple of the `row`th row (from 0) of a multi-row statement whose rows
/// have `width` parameters each, numbered from `$1` (add `first - 1` to start later).
pub fn row_placeholders(row: usize, width: usize, first: usize) -> String {
    let start = first + row * width;
    let cells: Vec<String> = (start..start + width).map(|n| format!("${n}")).collect();
    format!("({})", cells.join(", "))
}

#[cfg(test)]
mod placeholder_tests {
    #[test]
    fn wide_sums_name_both_halves() {
        assert_eq!(
            super::wide_sum("total - refunded_amount", "revenue"),
            "cast(coalesce(sum((total - refunded_amount) / 4294967296), 0) as bigint) as revenue_hi, \
             cast(coalesce(sum((total - refunded_amount) % 4294967296), 0) as bigint) as revenue_lo"
        );
    }

    #[test]
    fn rows_number_their_parameters_on_from_the_first() {
        assert_eq!(super::row_placeholders(0, 3, 1), "($1, $2, $3)");
        assert_eq!(super::row_placeholders(2, 2, 1), "($5, $6)");
        assert_eq!(super::row_placeholders(1, 2, 3), "($5, $6)");
    }
}
