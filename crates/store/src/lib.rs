//! Persistence for the loyalty platform, on SQLite (embedded default) or PostgreSQL.
//!
//! - [`sql`]: the one interface both backends implement; queries are written once.
//! - [`sqlite`], [`postgres`]: the adapters, where every dialect difference lives.
//! - [`engine`]: connections on their own threads; group commit of write actions.
//! - [`migrate`]: the schema, one folder per backend, kept in step by a test.
//! - [`repo`]: the statements, grouped by table, as functions over `&mut dyn Sql`.

pub mod engine;
pub mod migrate;
pub mod postgres;
pub mod repo;
pub mod sql;
pub mod sqlite;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
pub mod url;

pub use engine::{Db, DbOptions, Preamble, WriteStats, with_preamble};
pub use sql::{Backend, Cell, DbError, FromCell, Row, Sql, Value};
pub use url::{DEFAULT_DATABASE_URL, DatabaseUrl};

/// A page of a keyset-paginated list: rows after `after` (an id), at most `limit`.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub after: Option<String>,
    pub limit: i64,
}

/// Items of one page and the id to continue after, when there are more.
#[derive(Debug, Clone)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub next_after: Option<String>,
}

impl<T> Paged<T> {
    /// Builds a page from `limit + 1` fetched rows: the extra row only says "there is more".
    pub fn from_rows(mut items: Vec<T>, limit: i64, id: impl Fn(&T) -> &str) -> Paged<T> {
        let limit = usize::try_from(limit).unwrap_or(0);
        let next_after = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|last| id(last).to_string())
        } else {
            None
        };
        Paged { items, next_after }
    }
}
