//! Word between instances that share one PostgreSQL database: a change to something instances
//! cache (a tenant's rules, tiers, settings, API keys) publishes a topic inside its own
//! transaction, and every instance's listener hears it once the transaction commits.
//!
//! PostgreSQL delivers `NOTIFY` at commit and drops it on rollback, so a cache is never told
//! of a change that did not happen, and is told of every one that did, as long as the
//! listener's connection holds. When the connection drops, whatever was said meanwhile is
//! lost: the listener then reports [`Heard::Reconnected`] and the caches start afresh. SQLite
//! is one process's database, so there is nobody to tell and publishing does nothing.

use std::time::Duration;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::postgres::PgConn;
use crate::sql::{Backend, DbError, Sql};

/// The PostgreSQL channel every instance listens on.
const CHANNEL: &str = "loyalty_changes";

/// What a listener passes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// A topic published by a committed transaction (this instance's own included).
    Topic(String),
    /// The listener (re)connected: anything said before may have been missed.
    Reconnected,
}

/// Publishes `topic` when the current transaction commits (PostgreSQL; nothing on SQLite).
pub fn publish(sql: &mut dyn Sql, topic: &str) -> Result<(), DbError> {
    if sql.backend() == Backend::Postgres {
        sql.execute("select pg_notify($1, $2)", &[CHANNEL.into(), topic.into()])?;
    }
    Ok(())
}

/// Starts listening to the PostgreSQL database at `url` on its own connection and thread
/// (see [`crate::Db::listen`]). The thread ends when the receiver is dropped.
pub(crate) fn listen(url: String) -> Option<UnboundedReceiver<Heard>> {
    let (tx, rx) = unbounded_channel();
    std::thread::Builder::new()
        .name("db-listener".into())
        .spawn(move || listen_loop(&url, &tx))
        .ok()?;
    Some(rx)
}

/// How long the listener waits for word before it checks whether anyone still listens.
const POLL: Duration = Duration::from_millis(500);

fn listen_loop(url: &str, tx: &UnboundedSender<Heard>) {
    let mut pause = Duration::from_millis(50);
    while !tx.is_closed() {
        let mut conn = match PgConn::connect_listening(url).and_then(|mut c| {
            c.batch(&format!("listen {CHANNEL}"))?;
            Ok(c)
        }) {
            Ok(conn) => conn,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for other instances' changes; retrying");
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        pause = Duration::from_millis(50);
        if tx.send(Heard::Reconnected).is_err() {
            return;
        }
        loop {
            match conn.wait_for_notifications(POLL) {
                Ok(topics) => {
                    for topic in topics {
                        if tx.send(Heard::Topic(topic)).is_err() {
                            return;
                        }
                    }
                    if tx.is_closed() {
                        return;
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "lost the connection that listens for other instances' changes");
                    break;
                }
            }
        }
    }
}
