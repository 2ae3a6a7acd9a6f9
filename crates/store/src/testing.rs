//! Throw-away databases for tests: a SQLite file in a temporary directory, or a fresh schema in
//! PostgreSQL. Every test gets its own; nothing is shared between tests.
//!
//! PostgreSQL is found at `LOYALTY_TEST_POSTGRES_URL`. When that variable is set the PostgreSQL
//! suite is required and a connection failure fails the test (this is what CI does). When it is
//! not set, `postgres://postgres@127.0.0.1:5432/postgres` is tried, and if nothing answers there
//! the PostgreSQL half of each test is skipped with a notice on the terminal.

use std::io::Write;
use std::sync::OnceLock;
use std::time::Duration;

use crate::url::DatabaseUrl;

pub const POSTGRES_ENV: &str = "LOYALTY_TEST_POSTGRES_URL";
const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

pub struct TestDb {
    pub url: DatabaseUrl,
    _dir: Option<tempfile::TempDir>,
    pg_schema: Option<(String, String)>,
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let path = dir.path().join("loyalty.db");
        let url = DatabaseUrl::parse(&format!("sqlite://{}", path.display())).expect("sqlite url");
        TestDb {
            url,
            _dir: Some(dir),
            pg_schema: None,
        }
    }

    /// A fresh schema in the test PostgreSQL, or `None` when PostgreSQL is optional and absent.
    pub fn postgres() -> Option<TestDb> {
        let base = postgres_base()?;
        let schema = format!("t_{}", uuid_like());
        admin(&base, format!("create schema {schema}")).expect("create a test schema");
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-csearch_path%3D{schema}");
        Some(TestDb {
            url: DatabaseUrl::parse(&url).expect("postgres url"),
            _dir: None,
            pg_schema: Some((base, schema)),
        })
    }

    /// The SQLite file of this database, when it is one.
    pub fn path(&self) -> Option<std::path::PathBuf> {
        self.url.sqlite_path()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((base, schema)) = &self.pg_schema {
            let _ = admin(base, format!("drop schema if exists {schema} cascade"));
        }
    }
}

/// Runs one statement on its own thread: the synchronous client cannot run inside a test's
/// async runtime.
fn admin(url: &str, statement: String) -> Result<(), String> {
    let url = url.to_string();
    std::thread::spawn(move || {
        let mut client = connect_here(&url)?;
        client.batch_execute(&statement).map_err(|e| e.to_string())
    })
    .join()
    .unwrap_or_else(|_| Err("the admin thread panicked".into()))
}

fn connect(url: &str) -> Result<(), String> {
    let url = url.to_string();
    std::thread::spawn(move || connect_here(&url).map(drop))
        .join()
        .unwrap_or_else(|_| Err("the connect thread panicked".into()))
}

fn connect_here(url: &str) -> Result<postgres::Client, String> {
    let mut config: postgres::Config = url.parse().map_err(|e: postgres::Error| e.to_string())?;
    config.connect_timeout(Duration::from_secs(3));
    config.connect(postgres::NoTls).map_err(|e| e.to_string())
}

/// The PostgreSQL to test against, decided once per test process.
fn postgres_base() -> Option<String> {
    static BASE: OnceLock<Option<String>> = OnceLock::new();
    BASE.get_or_init(|| match std::env::var(POSTGRES_ENV) {
        Ok(url) if !url.is_empty() => {
            if let Err(error) = connect(&url) {
                panic!("{POSTGRES_ENV} is set but PostgreSQL cannot be reached: {error}");
            }
            Some(url)
        }
        _ => match connect(DEFAULT_POSTGRES) {
            Ok(_) => Some(DEFAULT_POSTGRES.to_string()),
            Err(error) => {
                // Written straight to the terminal: the test harness captures `eprintln!` of
                // passing tests, and a skipped suite must not go unnoticed.
                let _ = writeln!(
                    std::io::stderr(),
                    "\n*** PostgreSQL suite SKIPPED: nothing answers at {DEFAULT_POSTGRES} ({error}).\n\
                     *** Set {POSTGRES_ENV} to run it (CI does, and fails without it).\n"
                );
                None
            }
        },
    })
    .clone()
}

fn uuid_like() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..16)
        .map(|_| char::from(b'a' + rng.random_range(0..26u8)))
        .collect()
}

/// Writes each test twice, as `name::sqlite` and `name::postgres`, each with its own fresh
/// database bound to `$db` (a [`TestDb`]). The PostgreSQL half returns early when the suite is
/// skipped (see the module notes).
#[macro_export]
macro_rules! on_both_backends {
    ($(
        $(#[$meta:meta])*
        async fn $name:ident($db:ident) $body:block
    )*) => {$(
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $db = $crate::testing::TestDb::sqlite();
                $body
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some($db) = $crate::testing::TestDb::postgres() else { return };
                $body
            }
        }
    )*};
}
