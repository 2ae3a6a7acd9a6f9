//! A webhook receiver on 127.0.0.1 that keeps what it was sent (outbound webhooks, automation
//! webhook steps) and can answer 500 a number of times first.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode as AxumStatus};

/// What the receiver was sent, in the order it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub event_id: String,
    pub event_type: String,
    pub signature: String,
    pub body: Bytes,
}

#[derive(Clone, Default)]
pub struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    /// Answers 500 to this many requests before answering 200.
    pub fail_first: Arc<AtomicUsize>,
}

impl Receiver {
    pub async fn start(&self) -> String {
        let state = self.clone();
        let router = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let state = state.clone();
                async move {
                    let header = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_string()
                    };
                    state.got.lock().unwrap().push(Received {
                        event_id: header("loyalty-event-id"),
                        event_type: header("loyalty-event-type"),
                        signature: header("loyalty-signature"),
                        body,
                    });
                    let failing = state
                        .fail_first
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                    if failing {
                        AxumStatus::INTERNAL_SERVER_ERROR
                    } else {
                        AxumStatus::OK
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        url
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until `done` holds for what was received (the senders run on
    /// their own time), failing after 30 s.
    pub async fn wait_for(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        for _ in 0..300 {
            let got = self.received();
            if done(&got) {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "{what}: the receiver got {:?}",
            self.received()
                .iter()
                .map(|r| &r.event_type)
                .collect::<Vec<_>>()
        );
    }
}
