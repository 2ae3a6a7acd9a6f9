//! The database engine: connections on their own threads, reads in parallel, writes grouped.
//!
//! Every business action is a closure over `&mut dyn Sql`. Reads run on a small pool of reader
//! threads. Writes go to writer threads, each of which takes every action waiting in the queue
//! (up to `max_batch`) and runs them in **one** transaction, each inside its own savepoint, then
//! commits once: one fsync for the whole group instead of one per order (group commit). An action
//! that fails rolls back to its savepoint and leaves the others untouched; its caller gets its
//! error. Nobody hears "done" before the commit that made their work durable has returned.
//!
//! SQLite has one writer thread (it allows one writer at a time anyway). PostgreSQL has several;
//! when two groups deadlock, PostgreSQL aborts one and the engine runs that group again, which is
//! why write closures are `FnMut` and must not keep state between runs.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use tokio::sync::oneshot;

use crate::postgres::PgConn;
use crate::sql::{Backend, DbError, Row, Sql, Value};
use crate::sqlite::SqliteConn;
use crate::url::DatabaseUrl;

#[derive(Debug, Clone)]
pub struct DbOptions {
    /// Reader threads (and connections).
    pub readers: usize,
    /// Writer threads (and connections); SQLite always uses one.
    pub writers: usize,
    /// Most actions committed together in one transaction.
    pub max_batch: usize,
    /// SQLite: the WAL size past which the writer checkpoints it itself (see
    /// `checkpoint_if_wal_too_long`).
    pub wal_hard_limit_bytes: u64,
}

impl DbOptions {
    pub fn for_backend(backend: Backend) -> DbOptions {
        match backend {
            Backend::Sqlite => DbOptions {
                readers: 4,
                writers: 1,
                max_batch: 256,
                wal_hard_limit_bytes: WAL_HARD_LIMIT_BYTES,
            },
            Backend::Postgres => DbOptions {
                readers: 8,
                writers: 4,
                max_batch: 128,
                wal_hard_limit_bytes: WAL_HARD_LIMIT_BYTES,
            },
        }
    }
}

/// A handle to the engine; cheap to clone and share.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    reads: Sender<Msg<ReadJob>>,
    /// One queue per writer thread, so work on one key (a member) always meets the same writer.
    writes: Vec<Sender<Msg<Box<dyn WriteJob>>>>,
    next_writer: std::sync::atomic::AtomicUsize,
    workers: Mutex<Vec<JoinHandle<()>>>,
    counts: (usize, usize),
    stats: Arc<Counters>,
    /// Tells the SQLite checkpointer to finish (dropped or sent on close).
    checkpoint_stop: Sender<()>,
    /// Where other instances may be (PostgreSQL): see [`Db::listen`].
    shared_url: Option<String>,
}

/// What the writers have done since the engine opened: how well commits are being grouped.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WriteStats {
    /// Transactions committed (or rolled back as a whole).
    pub groups: u64,
    /// Write actions run, in all groups.
    pub actions: u64,
    /// Time the writers spent running groups, commit included.
    pub busy: Duration,
    /// Of that, time spent in `commit` (the fsync).
    pub committing: Duration,
}

#[derive(Debug, Default)]
struct Counters {
    groups: AtomicU64,
    actions: AtomicU64,
    busy_nanos: AtomicU64,
    commit_nanos: AtomicU64,
}

enum Msg<J> {
    Job(J),
    Stop,
}

type ReadJob = Box<dyn FnOnce(&mut dyn Sql) + Send>;

/// Work that must commit together with a request's change (an idempotency key's claim): it
/// runs at the start of the first write action the request queues, inside that action's
/// transaction, and its failure fails the action. Like actions, it may run more than once.
pub type Preamble = Box<dyn FnMut(&mut dyn Sql) -> Result<(), DbError> + Send>;

tokio::task_local! {
    static PREAMBLE: std::cell::RefCell<Option<Preamble>>;
}

/// Runs `work` so that the first write action it queues (on any [`Db`]) starts with
/// `preamble`, in the same transaction. Later writes, and writes of tasks it spawns, run as
/// usual.
pub async fn with_preamble<F: std::future::Future>(preamble: Preamble, work: F) -> F::Output {
    PREAMBLE
        .scope(std::cell::RefCell::new(Some(preamble)), work)
        .await
}

/// The preamble waiting for this task's next write, taken so that it runs once.
fn take_preamble() -> Option<Preamble> {
    PREAMBLE
        .try_with(|slot| slot.borrow_mut().take())
        .ok()
        .flatten()
}

impl Db {
    /// Connects, brings the schema up to date and starts the worker threads.
    ///
    /// Each connection is opened on the thread that will own it: the PostgreSQL client runs its
    /// own small runtime and must not be created on a thread that is driving async tasks.
    pub fn open(url: &DatabaseUrl, options: &DbOptions) -> anyhow::Result<Db> {
        let connector = Connector::new(url);
        let migrator = connector.clone();
        let redacted = url.redacted();
        let backend = url.backend();
        std::thread::spawn(move || -> anyhow::Result<()> {
            let mut conn = migrator.connect(false).map_err(|e| {
                anyhow::anyhow!("cannot open the {backend} database {redacted}: {e}")
            })?;
            crate::migrate::migrate(conn.as_sql())
                .map_err(|e| anyhow::anyhow!("migrating {redacted}: {e}"))?;
            Ok(())
        })
        .join()
        .map_err(|_| anyhow::anyhow!("the migration thread panicked"))??;

        let writers = if backend == Backend::Sqlite {
            1
        } else {
            options.writers.max(1)
        };
        let readers = options.readers.max(1);
        let (read_tx, read_rx) = crossbeam_channel::unbounded();
        let mut write_txs = Vec::with_capacity(writers);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), DbError>>();
        let (checkpoint_tx, checkpoint_rx) = crossbeam_channel::bounded::<()>(1);
        let stats = Arc::new(Counters::default());
        // Held by whoever checkpoints SQLite's WAL: the checkpointer's passes and the writer's
        // checkpoint past the hard limit take turns (SQLite refuses a second at once).
        let checkpointing = Arc::new(Mutex::new(()));
        let mut workers = Vec::new();
        for n in 0..writers {
            let (write_tx, rx) = crossbeam_channel::unbounded();
            write_txs.push(write_tx);
            let (connector, ready) = (connector.clone(), ready_tx.clone());
            let (max_batch, counters) = (options.max_batch.max(1), stats.clone());
            let wal = WalLimit {
                bytes: options.wal_hard_limit_bytes,
                checkpointing: checkpointing.clone(),
            };
            workers.push(
                std::thread::Builder::new()
                    .name(format!("db-writer-{n}"))
                    .spawn(move || {
                        if let Some(conn) = connect_and_report(&connector, false, &ready) {
                            writer_loop(conn, connector, rx, max_batch, &wal, &counters);
                        }
                    })?,
            );
        }
        if let Connector::Sqlite(path) = &connector {
            let (path, stop, gate) = (path.clone(), checkpoint_rx, checkpointing.clone());
            workers.push(
                std::thread::Builder::new()
                    .name("db-checkpoint".into())
                    .spawn(move || checkpoint_loop(&path, &stop, &gate))?,
            );
        }
        for n in 0..readers {
            let (rx, connector, ready) = (read_rx.clone(), connector.clone(), ready_tx.clone());
            workers.push(
                std::thread::Builder::new()
                    .name(format!("db-reader-{n}"))
                    .spawn(move || {
                        if let Some(conn) = connect_and_report(&connector, true, &ready) {
                            reader_loop(conn, connector, rx);
                        }
                    })?,
            );
        }
        drop(ready_tx);
        let db = Db {
            inner: Arc::new(Inner {
                backend,
                reads: read_tx,
                writes: write_txs,
                next_writer: std::sync::atomic::AtomicUsize::new(0),
                workers: Mutex::new(workers),
                counts: (readers, writers),
                stats,
                checkpoint_stop: checkpoint_tx,
                shared_url: match &connector {
                    Connector::Postgres(url) => Some(url.clone()),
                    Connector::Sqlite(_) => None,
                },
            }),
        };
        for _ in 0..readers + writers {
            match ready_rx.recv() {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    db.close();
                    anyhow::bail!("cannot connect to {}: {error}", url.redacted());
                }
                Err(_) => {
                    db.close();
                    anyhow::bail!("a database thread stopped while connecting");
                }
            }
        }
        Ok(db)
    }

    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// Runs `f` on a reader connection, in autocommit mode: each statement sees the latest
    /// committed data. Use [`Db::snapshot`] when several statements must agree with each other.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut dyn Sql) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: ReadJob = Box::new(move |sql| {
            let result = catch_unwind(AssertUnwindSafe(|| f(sql)))
                .unwrap_or_else(|_| Err(E::from(DbError::Other("a read panicked".into()))));
            let _ = reply.send(result);
        });
        self.inner
            .reads
            .send(Msg::Job(job))
            .map_err(|_| E::from(DbError::Closed))?;
        answer
            .await
            .unwrap_or_else(|_| Err(E::from(DbError::Closed)))
    }

    /// Runs `f` in one read transaction, so every statement sees the same committed state.
    pub async fn snapshot<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut dyn Sql) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        self.read(move |sql| {
            let begin = match sql.backend() {
                Backend::Sqlite => "begin",
                Backend::Postgres => "begin isolation level repeatable read read only",
            };
            sql.batch(begin)?;
            let result = f(sql);
            sql.batch("rollback")?;
            result
        })
        .await
    }

    /// Runs `f` inside a write transaction shared with other actions (see the module notes).
    /// Returns once the transaction holding `f`'s work has committed, or with `f`'s error after
    /// its work was rolled back.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnMut(&mut dyn Sql) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let writer = self.inner.next_writer.fetch_add(1, Ordering::Relaxed);
        self.write_to(writer, f).await
    }

    /// Like [`Db::write`], with every action of the same `key` (a member id) queued to the same
    /// writer. On PostgreSQL, writers then never wait on each other for one member's row, so
    /// their transactions cannot deadlock over members.
    pub async fn write_keyed<T, E, F>(&self, key: &str, f: F) -> Result<T, E>
    where
        F: FnMut(&mut dyn Sql) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut hasher);
        self.write_to(hasher.finish() as usize, f).await
    }

    async fn write_to<T, E, F>(&self, writer: usize, f: F) -> Result<T, E>
    where
        F: FnMut(&mut dyn Sql) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Job {
            f,
            preamble: take_preamble(),
            result: None,
            reply: Some(reply),
        });
        let queue = &self.inner.writes[writer % self.inner.writes.len()];
        queue
            .send(Msg::Job(job))
            .map_err(|_| E::from(DbError::Closed))?;
        answer
            .await
            .unwrap_or_else(|_| Err(E::from(DbError::Closed)))
    }

    pub fn write_stats(&self) -> WriteStats {
        let c = &self.inner.stats;
        WriteStats {
            groups: c.groups.load(Ordering::Relaxed),
            actions: c.actions.load(Ordering::Relaxed),
            busy: Duration::from_nanos(c.busy_nanos.load(Ordering::Relaxed)),
            committing: Duration::from_nanos(c.commit_nanos.load(Ordering::Relaxed)),
        }
    }

    /// What other instances on this database change in what this one caches
    /// ([`crate::notify`]); `None` on SQLite, which has no other instances.
    pub fn listen(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<crate::notify::Heard>> {
        self.inner
            .shared_url
            .clone()
            .and_then(crate::notify::listen)
    }

    /// A connectivity check for `/healthz`.
    pub async fn ping(&self) -> Result<(), DbError> {
        self.read(|sql| sql.query_scalar::<i64>("select 1", &[]).map(|_| ()))
            .await
    }

    /// Lets queued work finish, stops the threads and closes the connections.
    pub fn close(&self) {
        let (readers, _) = self.inner.counts;
        for queue in &self.inner.writes {
            let _ = queue.send(Msg::Stop);
        }
        for _ in 0..readers {
            let _ = self.inner.reads.send(Msg::Stop);
        }
        let _ = self.inner.checkpoint_stop.try_send(());
        let workers =
            std::mem::take(&mut *self.inner.workers.lock().unwrap_or_else(|e| e.into_inner()));
        for worker in workers {
            let _ = worker.join();
        }
    }
}

/// Opens connections of one database, again after a connection was lost.
#[derive(Clone)]
enum Connector {
    Sqlite(PathBuf),
    Postgres(String),
}

enum Conn {
    Sqlite(Box<SqliteConn>),
    Postgres(Box<PgConn>),
}

impl Conn {
    fn as_sql(&mut self) -> &mut dyn Sql {
        match self {
            Conn::Sqlite(c) => c.as_mut(),
            Conn::Postgres(c) => c.as_mut(),
        }
    }

    fn is_broken(&self) -> bool {
        match self {
            Conn::Sqlite(_) => false,
            Conn::Postgres(c) => c.is_closed(),
        }
    }
}

impl Connector {
    fn new(url: &DatabaseUrl) -> Connector {
        match url.backend() {
            Backend::Sqlite => Connector::Sqlite(url.sqlite_path().unwrap_or_default()),
            Backend::Postgres => Connector::Postgres(url.expose().to_string()),
        }
    }

    fn connect(&self, read_only: bool) -> Result<Conn, DbError> {
        match self {
            Connector::Sqlite(path) => {
                SqliteConn::open(path, read_only).map(|c| Conn::Sqlite(Box::new(c)))
            }
            Connector::Postgres(url) => PgConn::connect(url).map(|c| Conn::Postgres(Box::new(c))),
        }
    }

    /// Replaces a lost connection, retrying with a growing pause (PostgreSQL restarting).
    fn reconnect(&self, conn: &mut Conn, read_only: bool) {
        let mut pause = Duration::from_millis(50);
        while conn.is_broken() {
            match self.connect(read_only) {
                Ok(fresh) => *conn = fresh,
                Err(error) => {
                    tracing::warn!(%error, "database connection lost; reconnecting");
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}

/// How often the checkpointer copies the WAL into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);
/// WAL length (4 KiB frames) after which the checkpointer makes the WAL start over.
const RESTART_AFTER_FRAMES: i64 = 4_000;

fn wal_frames(conn: &mut SqliteConn) -> i64 {
    conn.wal_frames().unwrap_or(0)
}

/// SQLite's checkpointer: moves committed pages from the WAL into the database file off the
/// writer's path, and empties the WAL at shutdown.
fn checkpoint_loop(path: &std::path::Path, stop: &Receiver<()>, checkpointing: &Mutex<()>) {
    let mut conn = match SqliteConn::open(path, false) {
        Ok(conn) => conn,
        Err(error) => {
            tracing::error!(%error, "cannot open the checkpointer's connection; the WAL will grow");
            return;
        }
    };
    loop {
        match stop.recv_timeout(CHECKPOINT_EVERY) {
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                // Copy what is committed without stopping anyone; once the WAL is long, take the
                // write lock for a moment to finish and let the WAL start over. Most frames are
                // copied by then, so the writer waits for little.
                let _turn = checkpointing.lock().unwrap_or_else(|e| e.into_inner());
                match conn.checkpoint() {
                    Ok(0) => {}
                    Ok(_) if wal_frames(&mut conn) > RESTART_AFTER_FRAMES => {
                        if let Err(error) = conn.checkpoint_restart() {
                            tracing::warn!(%error, "checkpoint restart failed; retrying");
                        }
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "checkpoint failed; retrying"),
                }
            }
            _ => {
                let _turn = checkpointing.lock().unwrap_or_else(|e| e.into_inner());
                let _ = conn.checkpoint_truncate();
                return;
            }
        }
    }
}

/// The WAL size past which the writer checkpoints itself, between two groups (16 times the
/// length at which the checkpointer restarts it).
pub const WAL_HARD_LIMIT_BYTES: u64 = 256 * 1024 * 1024;

/// The WAL's hard size and the turn the writer waits for to checkpoint it.
struct WalLimit {
    bytes: u64,
    checkpointing: Arc<Mutex<()>>,
}

/// The checkpointer's RESTART needs a moment with no writer; a writer committing back to back
/// for minutes (a bulk load) never leaves one, and the WAL would grow without end (1.5 GB was
/// seen). Past a hard size, the writer — the only one, between transactions — checkpoints and
/// truncates the WAL itself: a pause of a few seconds for the writes queued meanwhile, never
/// an unbounded WAL, and durability is unchanged.
fn checkpoint_if_wal_too_long(conn: &mut Conn, connector: &Connector, limit: &WalLimit) {
    let (Conn::Sqlite(sqlite), Connector::Sqlite(path)) = (conn, connector) else {
        return;
    };
    let mut wal = path.clone().into_os_string();
    wal.push("-wal");
    let size = std::fs::metadata(&wal).map_or(0, |m| m.len());
    if size > limit.bytes {
        let started = Instant::now();
        // Waits for the checkpointer's pass in progress (it may be copying much).
        let _turn = limit
            .checkpointing
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match sqlite.checkpoint_truncate() {
            Ok(true) => tracing::info!(
                wal_mb = size / (1024 * 1024),
                ms = started.elapsed().as_millis() as u64,
                "the WAL passed its hard limit; the writer checkpointed and emptied it"
            ),
            // The background checkpoint was running (or a reader held the WAL): after the
            // next group, again.
            Ok(false) => tracing::debug!("the writer's checkpoint found the WAL busy"),
            Err(error) => {
                tracing::warn!(%error, "the writer's checkpoint failed; retrying after the next group")
            }
        }
    }
}

fn connect_and_report(
    connector: &Connector,
    read_only: bool,
    ready: &std::sync::mpsc::Sender<Result<(), DbError>>,
) -> Option<Conn> {
    match connector.connect(read_only) {
        Ok(conn) => {
            let _ = ready.send(Ok(()));
            Some(conn)
        }
        Err(error) => {
            let _ = ready.send(Err(error));
            None
        }
    }
}

fn reader_loop(mut conn: Conn, connector: Connector, jobs: Receiver<Msg<ReadJob>>) {
    while let Ok(Msg::Job(job)) = jobs.recv() {
        connector.reconnect(&mut conn, true);
        job(conn.as_sql());
        // A read has nothing to defer; should one have, it must not ride on the next job.
        let _ = conn.as_sql().flush();
    }
}

/// One queued write action with the slot for its result.
trait WriteJob: Send {
    fn run(&mut self, sql: &mut dyn Sql) -> Outcome;
    /// Delivers the result once the transaction's fate is known.
    fn finish(self: Box<Self>, committed: Result<(), DbError>);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Done,
    Failed,
    /// A transient conflict: the whole group must run again.
    Retry,
}

type Reply<T, E> = oneshot::Sender<Result<T, E>>;

struct Job<F, T, E> {
    f: F,
    preamble: Option<Preamble>,
    result: Option<Result<T, E>>,
    reply: Option<Reply<T, E>>,
}

impl<F, T, E> WriteJob for Job<F, T, E>
where
    F: FnMut(&mut dyn Sql) -> Result<T, E> + Send,
    T: Send,
    E: From<DbError> + Send,
{
    fn run(&mut self, sql: &mut dyn Sql) -> Outcome {
        let mut tracked = Tracked {
            inner: sql,
            retry: false,
        };
        let (preamble, f) = (&mut self.preamble, &mut self.f);
        let result = catch_unwind(AssertUnwindSafe(|| {
            if let Some(preamble) = preamble.as_mut() {
                preamble(&mut tracked).map_err(E::from)?;
            }
            let result = f(&mut tracked);
            // The action's deferred writes go out now, so that their failure is its failure.
            let flushed = tracked.flush();
            let value = result?;
            flushed.map_err(E::from)?;
            Ok(value)
        }))
        .unwrap_or_else(|_| Err(E::from(DbError::Other("a write panicked".into()))));
        let outcome = match (&result, tracked.retry) {
            (_, true) => Outcome::Retry,
            (Ok(_), false) => Outcome::Done,
            (Err(_), false) => Outcome::Failed,
        };
        self.result = Some(result);
        outcome
    }

    fn finish(mut self: Box<Self>, committed: Result<(), DbError>) {
        let result = match committed {
            Ok(()) => self
                .result
                .take()
                .unwrap_or_else(|| Err(E::from(DbError::Other("action did not run".into())))),
            Err(error) => Err(E::from(error)),
        };
        if let Some(reply) = self.reply.take() {
            let _ = reply.send(result);
        }
    }
}

/// Notes whether any statement hit a transient conflict, whatever the action did with the error.
struct Tracked<'a> {
    inner: &'a mut dyn Sql,
    retry: bool,
}

impl Tracked<'_> {
    fn note<T>(&mut self, result: Result<T, DbError>) -> Result<T, DbError> {
        // A lost connection is not retried here: the commit may have landed before the reply
        // was lost, and running the group again could apply it twice. Callers see the error and
        // retry with their idempotency key.
        if matches!(result, Err(DbError::Retry(_))) {
            self.retry = true;
        }
        result
    }
}

impl Sql for Tracked<'_> {
    fn backend(&self) -> Backend {
        self.inner.backend()
    }

    fn execute(&mut self, sql: &str, params: &[Value<'_>]) -> Result<u64, DbError> {
        let result = self.inner.execute(sql, params);
        self.note(result)
    }

    fn query(&mut self, sql: &str, params: &[Value<'_>]) -> Result<Vec<Row>, DbError> {
        let result = self.inner.query(sql, params);
        self.note(result)
    }

    fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        let result = self.inner.batch(sql);
        self.note(result)
    }

    fn defer(&mut self, sql: &str, params: &[Value<'_>]) -> Result<(), DbError> {
        let result = self.inner.defer(sql, params);
        self.note(result)
    }

    fn flush(&mut self) -> Result<(), DbError> {
        let result = self.inner.flush();
        self.note(result)
    }

    fn query_two(
        &mut self,
        first: (&str, &[Value<'_>]),
        second: (&str, &[Value<'_>]),
    ) -> Result<(Vec<Row>, Vec<Row>), DbError> {
        let result = self.inner.query_two(first, second);
        self.note(result)
    }
}

/// Transient conflicts (deadlocks) a group may meet before its actions run one by one.
const MAX_GROUP_ATTEMPTS: usize = 5;

fn writer_loop(
    mut conn: Conn,
    connector: Connector,
    jobs: Receiver<Msg<Box<dyn WriteJob>>>,
    max_batch: usize,
    wal: &WalLimit,
    stats: &Counters,
) {
    let mut group: Vec<Box<dyn WriteJob>> = Vec::with_capacity(max_batch);
    loop {
        let mut stop = match jobs.recv() {
            Ok(Msg::Job(job)) => {
                group.push(job);
                false
            }
            Ok(Msg::Stop) | Err(_) => true,
        };
        while !stop && group.len() < max_batch {
            match jobs.try_recv() {
                Ok(Msg::Job(job)) => group.push(job),
                Ok(Msg::Stop) => stop = true,
                Err(_) => break,
            }
        }
        if !group.is_empty() {
            connector.reconnect(&mut conn, false);
            let started = Instant::now();
            stats.groups.fetch_add(1, Ordering::Relaxed);
            stats
                .actions
                .fetch_add(group.len() as u64, Ordering::Relaxed);
            let size = group.len();
            commit_group(conn.as_sql(), &mut group, stats);
            checkpoint_if_wal_too_long(&mut conn, &connector, wal);
            let took = started.elapsed();
            stats
                .busy_nanos
                .fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
            if took > Duration::from_millis(8) {
                tracing::debug!(
                    ms = took.as_secs_f64() * 1000.0,
                    actions = size,
                    "slow group"
                );
            }
        }
        if stop {
            return;
        }
    }
}

/// Runs a group of actions in one transaction and tells each caller its fate.
///
/// Actions rarely fail (input is checked before it is queued), so a group first runs without
/// savepoints: two statements fewer per action, which on PostgreSQL are two round trips. When an
/// action fails, the transaction is rolled back, that action keeps its error, and the group runs
/// again without it. After a second failure the group falls back to a savepoint per action.
fn commit_group(sql: &mut dyn Sql, group: &mut Vec<Box<dyn WriteJob>>, stats: &Counters) {
    let mut conflicts = 0;
    let mut failures = 0;
    loop {
        let savepoints = failures >= 2 && group.len() > 1;
        match try_group(sql, group, savepoints, stats) {
            Ok(()) => {
                for job in group.drain(..) {
                    job.finish(Ok(()));
                }
                return;
            }
            Err(GroupError::Failed(index)) => {
                // The action wrote nothing; its caller gets its error now.
                failures += 1;
                group.remove(index).finish(Ok(()));
                if group.is_empty() {
                    return;
                }
            }
            Err(GroupError::Db(DbError::Retry(reason))) if conflicts + 1 < MAX_GROUP_ATTEMPTS => {
                conflicts += 1;
                tracing::debug!(conflicts, %reason, size = group.len(), "write group conflicted; running it again");
                std::thread::sleep(Duration::from_millis(2 * conflicts as u64));
            }
            Err(GroupError::Db(DbError::Retry(_))) if group.len() > 1 => {
                // Persistent conflicts: give each action its own transaction.
                for job in group.drain(..) {
                    let mut alone = vec![job];
                    commit_group(sql, &mut alone, stats);
                }
                return;
            }
            Err(GroupError::Db(error)) => {
                tracing::error!(%error, size = group.len(), "write group failed");
                for job in group.drain(..) {
                    job.finish(Err(error.clone()));
                }
                return;
            }
        }
    }
}

enum GroupError {
    /// The action at this index failed; the transaction was rolled back.
    Failed(usize),
    Db(DbError),
}

impl From<DbError> for GroupError {
    fn from(error: DbError) -> Self {
        GroupError::Db(error)
    }
}

fn try_group(
    sql: &mut dyn Sql,
    group: &mut [Box<dyn WriteJob>],
    savepoints: bool,
    stats: &Counters,
) -> Result<(), GroupError> {
    match sql.backend() {
        Backend::Sqlite => sql.batch("begin immediate")?,
        // Sent with the first action's first statement (one round trip fewer per group).
        Backend::Postgres => sql.defer("begin", &[])?,
    }
    let mut any_done = false;
    for (index, job) in group.iter_mut().enumerate() {
        if savepoints {
            sql.execute("savepoint action", &[])
                .or_else(|e| rollback_with(sql, e).map(|()| 0))?;
        }
        match job.run(sql) {
            Outcome::Done => {
                any_done = true;
                if savepoints {
                    sql.execute("release savepoint action", &[])
                        .or_else(|e| rollback_with(sql, e).map(|()| 0))?;
                }
            }
            Outcome::Failed if savepoints => {
                sql.execute("rollback to savepoint action", &[])
                    .and_then(|_| sql.execute("release savepoint action", &[]))
                    .or_else(|e| rollback_with(sql, e).map(|()| 0))?;
            }
            Outcome::Failed => {
                let _ = sql.batch("rollback");
                return Err(GroupError::Failed(index));
            }
            Outcome::Retry => {
                rollback_with(sql, DbError::Retry("conflict inside the group".into()))?;
            }
        }
    }
    if any_done {
        let started = Instant::now();
        let committed = sql.batch("commit").or_else(|e| rollback_with(sql, e));
        let took = started.elapsed();
        stats
            .commit_nanos
            .fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
        Ok(committed?)
    } else {
        Ok(sql.batch("rollback")?)
    }
}

fn rollback_with(sql: &mut dyn Sql, error: DbError) -> Result<(), DbError> {
    let _ = sql.batch("rollback");
    Err(error)
}
