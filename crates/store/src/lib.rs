//! Persistence for the loyalty platform, on SQLite (embedded default) or PostgreSQL.
//!
//! - [`sql`]: the one interface both backends implement; queries are written once.
//! - [`sqlite`], [`postgres`]: the adapters, where every dialect difference lives.
//! - [`engine`]: connections on their own threads; group commit of write actions.
//! - [`migrate`]: the schema, one folder per backend, kept in step by a test.
//! - [`notify`]: word between instances on one PostgreSQL database (cache invalidation).
//! - [`repo`]: the statements, grouped by table, as functions over `&mut dyn Sql`.

pub mod engine;
pub mod migrate;
pub mod notify;
pub mod postgres;
pub mod repo;
pub mod sql;
pub mod sqlite;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
pub mod url;

pub use engine::{Db, DbOptions, Preamble, WriteStats, with_preamble};
pub use loyalty_core::records::Page;
pub use loyalty_core::records::Paged;
pub use sql::{Backend, Cell, DbError, FromCell, Row, Sql, Value};
pub use url::{DEFAULT_DATABASE_URL, DatabaseUrl};
