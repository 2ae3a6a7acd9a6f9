//! The planner's statistics on PostgreSQL. Statements are prepared once per connection, and
//! PostgreSQL keeps a statement's plan until the statistics of its tables change: a plan made
//! while `orders` was nearly empty looked a receipt up through the tenant's date index and
//! walked every order of the tenant (3 ms a look-up at 10,000 orders, a third of the
//! throughput). Autovacuum's ANALYZE renews such plans as tables grow; an installation that
//! runs without autovacuum gets the same from here. SQLite's planner needs none of this.

use crate::sql::{Backend, DbError, Sql};

/// Whether the database keeps its statistics fresh by itself (PostgreSQL's autovacuum).
pub fn kept_fresh(sql: &mut dyn Sql) -> Result<bool, DbError> {
    match sql.backend() {
        Backend::Sqlite => Ok(true),
        Backend::Postgres => {
            let setting: String =
                sql.query_scalar("select current_setting('autovacuum') as on", &[])?;
            Ok(setting == "on")
        }
    }
}

/// Refreshes the statistics of every table of the schema, unless autovacuum does; returns
/// whether it did.
pub fn refresh_unless_kept_fresh(sql: &mut dyn Sql) -> Result<bool, DbError> {
    if kept_fresh(sql)? {
        return Ok(false);
    }
    sql.batch("analyze")?;
    Ok(true)
}
