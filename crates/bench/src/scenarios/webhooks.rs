//! `webhooks`: how fast events reach a receiver. Orders are posted while the endpoint is
//! switched off (their events wait in the feed); then it is switched on and the run measures
//! until a local receiver on 127.0.0.1 (answering 200 at once) has had every event once —
//! the sender reading the feed, signing, HTTP and recording included.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::HeaderMap;
use loyalty_core::webhook::{WebhookIn, WebhookPatchIn};
use serde_json::json;

use super::setup;
use crate::target::{Server, Target};
use crate::{BenchOptions, Report};

/// Orders posted before the endpoint is switched on, per member (each order raises two or
/// three events).
const ORDERS_PER_MEMBER: usize = 3;

/// The event ids a receiver on 127.0.0.1 has had.
pub type Seen = Arc<Mutex<HashSet<String>>>;

/// A receiver on 127.0.0.1, served on `load` (the load generator's runtime), answering 200 at
/// once and keeping the event ids it was sent.
pub fn receiver(load: &tokio::runtime::Runtime) -> anyhow::Result<(String, Seen)> {
    let seen: Seen = Arc::default();
    let router = {
        let seen = seen.clone();
        axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, _body: Bytes| {
                let seen = seen.clone();
                async move {
                    if let Some(id) = headers
                        .get("loyalty-event-id")
                        .and_then(|v| v.to_str().ok())
                    {
                        seen.lock().map(|mut s| s.insert(id.to_string())).ok();
                    }
                    axum::http::StatusCode::OK
                }
            }),
        )
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    load.spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        axum::serve(listener, router).await
    });
    Ok((url, seen))
}

pub async fn run(options: &BenchOptions) -> anyhow::Result<Report> {
    let target = Target::new(options.database_url.as_deref())?;
    let db = target.open(None)?;
    let settings = target.settings(&db);
    let (server, app) = Server::start(db.clone())?;
    let shop = setup::shop(&app, options.members.max(1)).await?;
    let orders = (shop.members.len() * ORDERS_PER_MEMBER).clamp(300, 30_000);

    let load = crate::target::load_runtime()?;
    let (url, seen) = receiver(&load)?;

    let input = WebhookIn {
        url,
        events: vec!["*".into()],
        description: Some("bench".into()),
    };
    let (endpoint, _) = app
        .create_webhook(&shop.ctx, input)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let switch = |active| WebhookPatchIn {
        active: Some(active),
        ..WebhookPatchIn::default()
    };
    app.update_webhook(&shop.ctx, endpoint.id.clone(), switch(false))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;

    let client = reqwest::Client::new();
    let mut posted = 0;
    let mut pending = Vec::new();
    for n in 0..orders {
        let (client, base, key) = (client.clone(), server.base.clone(), shop.api_key.clone());
        let member = shop.members[n % shop.members.len()].0.clone();
        pending.push(load.spawn(async move {
            client
                .post(format!("{base}/api/v1/orders"))
                .bearer_auth(key)
                .json(
                    &json!({"source": "bench", "external_id": format!("W-{n}"), "member_id": member,
                              "total": 150_000, "store": "HN01", "channel": "pos"}),
                )
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .is_ok()
        }));
        if pending.len() == 32 {
            for p in pending.drain(..) {
                posted += usize::from(p.await?);
            }
        }
    }
    for p in pending {
        posted += usize::from(p.await?);
    }
    let tenant_id = shop.ctx.tenant_id.to_string();
    let expected: i64 = db
        .read(move |sql| {
            sql.query_scalar::<i64>(
                "select count(*) from events where tenant_id = $1",
                loyalty_store::params![tenant_id.as_str()],
            )
        })
        .await?;
    let expected = usize::try_from(expected).unwrap_or(0).saturating_sub(1); // the tenant's creation came before the endpoint

    let queue = app.start_queue();
    let started = Instant::now();
    app.update_webhook(&shop.ctx, endpoint.id.clone(), switch(true))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let limit = Duration::from_secs_f64(options.duration_s.max(30.0) * 10.0);
    let delivered = loop {
        let got = seen.lock().map(|s| s.len()).unwrap_or(0);
        if got >= expected || started.elapsed() > limit {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let elapsed = started.elapsed().as_secs_f64();
    queue.stop().await;
    load.shutdown_background();
    server.stop();
    db.close();
    Ok(Report {
        scenario: "webhooks".into(),
        database: target.backend.name().into(),
        connections: None,
        duration_s: elapsed,
        ops: delivered as u64,
        ops_per_s: delivered as f64 / elapsed,
        errors: (expected.saturating_sub(delivered) + orders.saturating_sub(posted)) as u64,
        rss_mb: crate::rss_mb(),
        settings: format!(
            "{settings}; {expected} events of {posted} orders by {} members, delivered signed to a loopback receiver by one instance's webhook sender",
            shop.members.len()
        ),
        ..Report::default()
    })
}
