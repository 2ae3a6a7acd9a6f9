//! The database a run measures, and the server in front of it.
//!
//! Each run gets a fresh database — a SQLite file in a temporary directory (on the same disk as
//! everything else here), or a fresh schema in the given PostgreSQL database, dropped afterwards
//! — so runs never see each other's data.

use std::sync::Arc;

use loyalty_app::App;
use loyalty_core::clock::SystemClock;
use loyalty_store::{Backend, DatabaseUrl, Db, DbOptions};

pub struct Target {
    pub url: DatabaseUrl,
    pub backend: Backend,
    dir: Option<tempfile::TempDir>,
    pg_schema: Option<(String, String)>,
}

impl Target {
    pub fn new(database_url: Option<&str>) -> anyhow::Result<Target> {
        match database_url {
            None => {
                let dir = tempfile::Builder::new()
                    .prefix("loyalty-bench-")
                    .tempdir()?;
                let url = DatabaseUrl::parse(&format!(
                    "sqlite://{}",
                    dir.path().join("bench.db").display()
                ))?;
                Ok(Target {
                    url,
                    backend: Backend::Sqlite,
                    dir: Some(dir),
                    pg_schema: None,
                })
            }
            Some(url) if url.starts_with("sqlite:") => {
                // Never the named file itself: a fresh file beside it, on the same disk.
                let named = DatabaseUrl::parse(url)?.sqlite_path().unwrap_or_default();
                let parent = named
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(std::path::Path::new("."));
                let dir = tempfile::Builder::new()
                    .prefix("loyalty-bench-")
                    .tempdir_in(parent)?;
                let url = DatabaseUrl::parse(&format!(
                    "sqlite://{}",
                    dir.path().join("bench.db").display()
                ))?;
                Ok(Target {
                    url,
                    backend: Backend::Sqlite,
                    dir: Some(dir),
                    pg_schema: None,
                })
            }
            Some(base) => {
                let schema = format!(
                    "bench_{}",
                    loyalty_core::code::random_code(8).to_lowercase()
                );
                admin(base, format!("create schema {schema}"))?;
                let separator = if base.contains('?') { '&' } else { '?' };
                let url = DatabaseUrl::parse(&format!(
                    "{base}{separator}options=-csearch_path%3D{schema}"
                ))?;
                Ok(Target {
                    url,
                    backend: Backend::Postgres,
                    dir: None,
                    pg_schema: Some((base.to_string(), schema)),
                })
            }
        }
    }

    /// Opens the engine with the product's default settings, or with `max_batch` overridden.
    pub fn open(&self, max_batch: Option<usize>) -> anyhow::Result<Db> {
        let mut options = DbOptions::for_backend(self.backend);
        if let Some(max_batch) = max_batch {
            options.max_batch = max_batch;
        }
        Db::open(&self.url, &options)
    }

    /// The durability settings in force, for the report.
    pub fn settings(&self, db: &Db) -> String {
        let _ = db;
        match self.backend {
            Backend::Sqlite => {
                "SQLite WAL, synchronous=FULL, one writer thread with group commit".to_string()
            }
            Backend::Postgres => {
                "PostgreSQL synchronous_commit=on, 4 writer + 8 reader connections, group commit"
                    .to_string()
            }
        }
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        // Kept on request, to study a loaded population's plans with `EXPLAIN` afterwards.
        let keep = std::env::var("LOYALTY_BENCH_KEEP").is_ok_and(|v| v == "1");
        if let Some(dir) = self.dir.take().filter(|_| keep) {
            tracing::warn!(path = %dir.keep().display(), "the run's database is kept (LOYALTY_BENCH_KEEP)");
        }
        if let Some((base, schema)) = &self.pg_schema {
            if keep {
                tracing::warn!(%schema, "the run's schema is kept (LOYALTY_BENCH_KEEP)");
                return;
            }
            let _ = admin(base, format!("drop schema if exists {schema} cascade"));
        }
    }
}

fn admin(url: &str, statement: String) -> anyhow::Result<()> {
    let url = url.to_string();
    std::thread::spawn(move || -> anyhow::Result<()> {
        let mut client = postgres::Client::connect(&url, postgres::NoTls)?;
        client.batch_execute(&statement)?;
        Ok(())
    })
    .join()
    .map_err(|_| anyhow::anyhow!("admin thread panicked"))?
}

/// The real HTTP server on 127.0.0.1:0, on its own runtime and threads.
pub struct Server {
    pub base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    pub fn start(db: Db) -> anyhow::Result<(Server, App)> {
        // A key for the webhook secrets and leave to post to loopback receivers: the
        // `webhooks` scenario's receiver listens on 127.0.0.1.
        let app = App::new(db, Arc::new(SystemClock))
            .with_secret_key(Some(loyalty_app::secrets::SecretKey::generate().0))
            .with_private_webhooks(true);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server_app = app.clone();
        let thread = std::thread::Builder::new()
            .name("bench-server".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("server")
                    .enable_all()
                    .build()
                    .expect("server runtime");
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                        .await
                        .expect("bind");
                    let _ = ready_tx.send(listener.local_addr().expect("address"));
                    let _ = loyalty_server::serve(listener, server_app, async {
                        let _ = stopped.await;
                    })
                    .await;
                });
            })?;
        let address = ready_rx.recv()?;
        Ok((
            Server {
                base: format!("http://{address}"),
                stop: Some(stop),
                thread: Some(thread),
            },
            app,
        ))
    }

    pub fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The load generator's own runtime, its threads at the lowest scheduling priority: the tills
/// would be other machines, so the server should not have to share its cores with them on an
/// equal footing. (Lowering a thread's priority needs no privilege.)
pub fn load_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("load")
        .on_thread_start(|| {
            let _ =
                thread_priority::set_current_thread_priority(thread_priority::ThreadPriority::Min);
        })
        .enable_all()
        .build()?)
}
