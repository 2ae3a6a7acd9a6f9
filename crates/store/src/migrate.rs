//! Schema migrations: one folder per backend (`migrations/sqlite`, `migrations/postgres`) with
//! the same file names, applied in order at start-up and by `loyalty migrate`. An applied
//! migration whose file changed afterwards stops the start: editing history silently is how
//! multi-backend schemas drift apart.

use sha2::{Digest, Sha256};

use crate::params;
use crate::sql::{Backend, DbError, Sql};

pub struct Migration {
    pub version: &'static str,
    pub sql: &'static str,
}

macro_rules! migrations {
    ($dir:literal: $($name:literal),+ $(,)?) => {
        &[$(Migration {
            version: $name,
            sql: include_str!(concat!("../migrations/", $dir, "/", $name, ".sql")),
        }),+]
    };
}

pub const SQLITE: &[Migration] = migrations!("sqlite": "0001_tenancy_members", "0002_orders_ledger", "0003_lean_ledger_indexes", "0004_members_fillfactor", "0005_tiers", "0006_vouchers_rewards", "0007_segments_imports", "0008_partial_member_indexes", "0009_admin_sessions", "0010_hardening", "0011_events_jobs", "0012_webhooks", "0013_connections", "0014_webhook_sender", "0015_consent_history", "0016_messaging", "0017_message_queue_place", "0018_automations", "0019_automation_messages", "0020_portal", "0021_referrals", "0022_gift_fulfilment", "0023_member_merge", "0024_shared_sign_in_delays");
pub const POSTGRES: &[Migration] = migrations!("postgres": "0001_tenancy_members", "0002_orders_ledger", "0003_lean_ledger_indexes", "0004_members_fillfactor", "0005_tiers", "0006_vouchers_rewards", "0007_segments_imports", "0008_partial_member_indexes", "0009_admin_sessions", "0010_hardening", "0011_events_jobs", "0012_webhooks", "0013_connections", "0014_webhook_sender", "0015_consent_history", "0016_messaging", "0017_message_queue_place", "0018_automations", "0019_automation_messages", "0020_portal", "0021_referrals", "0022_gift_fulfilment", "0023_member_merge", "0024_shared_sign_in_delays");

pub fn migrations(backend: Backend) -> &'static [Migration] {
    match backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    }
}

/// Applies the migrations not applied yet, all in one transaction; returns their versions.
pub fn migrate(sql: &mut dyn Sql) -> Result<Vec<&'static str>, DbError> {
    let backend = sql.backend();
    match backend {
        Backend::Sqlite => sql.batch("begin immediate")?,
        // Several instances may start at once; the first migrates, the others wait and see it done.
        Backend::Postgres => sql.batch("begin; select pg_advisory_xact_lock(7270012025)")?,
    }
    let result = apply(sql, backend);
    match &result {
        Ok(_) => sql.batch("commit")?,
        Err(_) => {
            let _ = sql.batch("rollback");
        }
    }
    result
}

fn apply(sql: &mut dyn Sql, backend: Backend) -> Result<Vec<&'static str>, DbError> {
    sql.batch(
        "create table if not exists schema_migrations (
            version text primary key,
            checksum text not null,
            applied_at bigint not null
        )",
    )?;
    let applied = sql.query("select version, checksum from schema_migrations", &[])?;
    let mut done = Vec::new();
    for migration in migrations(backend) {
        let checksum = checksum(migration.sql);
        let previous = applied
            .iter()
            .find(|row| row.get::<String>("version").ok().as_deref() == Some(migration.version));
        match previous {
            Some(row) if row.get::<String>("checksum")? == checksum => continue,
            Some(_) => {
                return Err(DbError::Other(format!(
                    "migration {} was changed after it was applied; add a new migration instead",
                    migration.version
                )));
            }
            None => {}
        }
        sql.batch(migration.sql)?;
        let now = loyalty_core::clock::to_millis(jiff::Timestamp::now());
        sql.execute(
            "insert into schema_migrations (version, checksum, applied_at) values ($1, $2, $3)",
            params![migration.version, checksum.as_str(), now],
        )?;
        tracing::info!(version = migration.version, "applied migration");
        done.push(migration.version);
    }
    Ok(done)
}

fn checksum(sql: &str) -> String {
    Sha256::digest(sql.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_backends_have_the_same_migrations_in_the_same_order() {
        let sqlite: Vec<_> = SQLITE.iter().map(|m| m.version).collect();
        let postgres: Vec<_> = POSTGRES.iter().map(|m| m.version).collect();
        assert_eq!(sqlite, postgres);
        let on_disk = |dir: &str| {
            let mut names: Vec<String> =
                std::fs::read_dir(format!("{}/migrations/{dir}", env!("CARGO_MANIFEST_DIR")))
                    .unwrap()
                    .map(|e| {
                        e.unwrap()
                            .file_name()
                            .to_string_lossy()
                            .trim_end_matches(".sql")
                            .to_string()
                    })
                    .collect();
            names.sort();
            names
        };
        assert_eq!(
            on_disk("sqlite"),
            sqlite,
            "every file in migrations/sqlite is listed"
        );
        assert_eq!(
            on_disk("postgres"),
            postgres,
            "every file in migrations/postgres is listed"
        );
    }
}
