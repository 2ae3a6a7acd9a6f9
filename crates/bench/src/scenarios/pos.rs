//! `pos`: what a till does at checkout — look the member up by phone, then post a three-line
//! order that earns points — from many tills at once, over HTTP. One operation is both requests.
//! The database's single-row limit is measured first, in the same run, for the ratio.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::{Value, json};

use super::setup;
use crate::latency::Latencies;
use crate::target::{Server, Target};
use crate::{BenchOptions, Report};

pub async fn run(options: &BenchOptions) -> anyhow::Result<Vec<Report>> {
    run_with(options, false).await
}

/// `pos-webhook`: `pos` with an endpoint subscribed to every event, a receiver on 127.0.0.1 and
/// the queue and the webhook sender running, as a server with integrations runs.
pub async fn with_webhook(options: &BenchOptions) -> anyhow::Result<Vec<Report>> {
    run_with(options, true).await
}

async fn run_with(options: &BenchOptions, webhook: bool) -> anyhow::Result<Vec<Report>> {
    let target = Target::new(options.database_url.as_deref())?;
    let baseline = super::baseline::measure(&target, options).await?;

    let instances = options.instances.max(1);
    anyhow::ensure!(
        instances == 1 || target.backend == loyalty_store::Backend::Postgres,
        "--instances {instances} needs PostgreSQL: SQLite is one process's database"
    );
    let db = target.open(None)?;
    let mut settings = target.settings(&db);
    let (server, app) = Server::start(db.clone())?;
    // More instances: each its own server, engine and connections, as separate processes
    // behind a load balancer would be; the tills take turns among them.
    let mut others = Vec::new();
    for _ in 1..instances {
        let db = target.open(None)?;
        let (other, _) = Server::start(db.clone())?;
        others.push((other, db));
    }
    let bases: Arc<Vec<String>> = Arc::new(
        std::iter::once(server.base.clone())
            .chain(others.iter().map(|(s, _)| s.base.clone()))
            .collect(),
    );
    if instances > 1 {
        settings = format!("{settings}; {instances} instances");
    }
    let shop = setup::shop(&app, options.members).await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(options.connections)
        .build()?;
    let load = crate::target::load_runtime()?;
    let delivering = match webhook {
        false => None,
        true => {
            let (url, seen) = super::webhooks::receiver(&load)?;
            let input = loyalty_core::webhook::WebhookIn {
                url,
                events: vec!["*".into()],
                description: Some("bench".into()),
            };
            app.create_webhook(&shop.ctx, input)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            Some((app.start_queue(), seen))
        }
    };
    let shop = Arc::new(shop);
    settings = warm_up(&db, &client, &bases, &shop, options, settings).await?;
    let before = db.write_stats();
    let tills = drive(
        &load,
        &client,
        &bases,
        &shop,
        0,
        options.connections,
        options.duration_s,
    )
    .await?;
    let Tills {
        mut latencies,
        mut order_latencies,
        errors,
        elapsed,
    } = tills;
    let delivered = match delivering {
        None => String::new(),
        Some((queue, seen)) => {
            let got = seen.lock().map(|s| s.len()).unwrap_or(0);
            queue.stop().await;
            format!("; webhook endpoint for every event: {got} events delivered during the run")
        }
    };
    load.shutdown_background();
    let rss = crate::rss_mb();
    let after = db.write_stats();
    let groups = (after.groups - before.groups).max(1);
    let settings = format!(
        "{settings}; the order request alone: p50 {:.2} ms, p99 {:.2} ms; {:.1} orders per commit, writer busy {:.0}% (commit {:.0}%)",
        order_latencies.quantile_ms(0.5).unwrap_or(0.0),
        order_latencies.quantile_ms(0.99).unwrap_or(0.0),
        (after.actions - before.actions) as f64 / groups as f64,
        (after.busy - before.busy).as_secs_f64() / elapsed * 100.0,
        (after.committing - before.committing).as_secs_f64() / elapsed * 100.0,
    ) + &delivered;
    server.stop();
    for (other, other_db) in others {
        other.stop();
        other_db.close();
    }
    let verified = app.verify().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    anyhow::ensure!(
        verified.problems.is_empty(),
        "verify after the run: {:?}",
        verified.problems
    );
    db.close();
    let ops = latencies.len() as u64;
    let ops_per_s = ops as f64 / elapsed;
    let pos = Report {
        scenario: if webhook { "pos-webhook" } else { "pos" }.into(),
        database: target.backend.name().into(),
        connections: Some(options.connections),
        duration_s: elapsed,
        ops,
        ops_per_s,
        p50_ms: latencies.quantile_ms(0.50),
        p95_ms: latencies.quantile_ms(0.95),
        p99_ms: latencies.quantile_ms(0.99),
        errors,
        baseline_ops_per_s: Some(baseline.ops_per_s),
        ratio_to_baseline: Some(ops_per_s / baseline.ops_per_s),
        rss_mb: rss,
        settings,
    };
    Ok(vec![baseline, pos])
}

/// What the tills saw over a measured run.
pub(crate) struct Tills {
    /// Look-up and order, each checkout.
    pub latencies: Latencies,
    /// The order request alone.
    pub order_latencies: Latencies,
    pub errors: u64,
    pub elapsed: f64,
}

/// `connections` tills checking out random members for `duration_s`, taking turns among the
/// servers at `bases`. Tills are numbered from `first_till`: receipts are numbered by till, so
/// two runs on one database must number their tills apart.
pub(crate) async fn drive(
    load: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    bases: &Arc<Vec<String>>,
    shop: &Arc<setup::Shop>,
    first_till: usize,
    connections: usize,
    duration_s: f64,
) -> anyhow::Result<Tills> {
    let errors = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(duration_s);
    let mut workers = Vec::new();
    for worker in first_till..first_till + connections {
        let (client, base, shop, errors) = (
            client.clone(),
            bases[worker % bases.len()].clone(),
            shop.clone(),
            errors.clone(),
        );
        workers.push(load.spawn(async move {
            let mut latencies = Latencies::default();
            let mut orders = Latencies::default();
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                let pick = rand::rng().random_range(0..shop.members.len());
                let started = Instant::now();
                match checkout(
                    &client,
                    &base,
                    &shop.api_key,
                    &shop.members[pick].1,
                    worker,
                    n,
                )
                .await
                {
                    Ok(order_took) => {
                        latencies.record(started.elapsed());
                        orders.record(order_took);
                    }
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            (latencies, orders)
        }));
    }
    let started = Instant::now();
    let mut latencies = Latencies::default();
    let mut order_latencies = Latencies::default();
    for worker in workers {
        let (all, orders) = worker.await?;
        latencies.merge(all);
        order_latencies.merge(orders);
    }
    Ok(Tills {
        latencies,
        order_latencies,
        errors: errors.load(Ordering::Relaxed),
        elapsed: started.elapsed().as_secs_f64(),
    })
}

/// Two seconds of the same load, not measured, so the run measures the steady state: caches
/// warm, and on PostgreSQL plans made for tables that hold orders. Where autovacuum is off (as
/// on the CI machine), the statistics it would have refreshed by then are refreshed here, and
/// the report says so.
async fn warm_up(
    db: &loyalty_store::Db,
    client: &reqwest::Client,
    bases: &Arc<Vec<String>>,
    shop: &Arc<setup::Shop>,
    options: &BenchOptions,
    settings: String,
) -> anyhow::Result<String> {
    let until = Instant::now() + Duration::from_secs(2);
    let mut tills = Vec::new();
    for till in 0..options.connections {
        let (client, base, shop) = (
            client.clone(),
            bases[till % bases.len()].clone(),
            shop.clone(),
        );
        tills.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < until {
                n += 1;
                let pick = rand::rng().random_range(0..shop.members.len());
                // Tills numbered from a million keep the warm-up's order ids apart from the run's.
                let till = till + 1_000_000;
                let _ = checkout(
                    &client,
                    &base,
                    &shop.api_key,
                    &shop.members[pick].1,
                    till,
                    n,
                )
                .await;
            }
        }));
    }
    for till in tills {
        till.await?;
    }
    let analysed = db
        .read(loyalty_store::repo::statistics::refresh_unless_kept_fresh)
        .await?;
    Ok(if analysed {
        format!("{settings}; autovacuum is off here: statistics refreshed after a 2 s warm-up")
    } else {
        format!("{settings}; after a 2 s warm-up")
    })
}

/// Look-up by phone, then the order; returns how long the order request took.
async fn checkout(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    phone: &str,
    worker: usize,
    n: u64,
) -> anyhow::Result<Duration> {
    let found: Value = client
        // Generated phones are digits only: nothing to escape.
        .get(format!("{base}/api/v1/members?phone={phone}"))
        .bearer_auth(key)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let member_id = found["items"][0]["id"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("member not found"))?;
    let order = json!({
        "source": "pos", "external_id": format!("B{worker}-{n}"), "member_id": member_id,
        "store": "HN01", "channel": "pos",
        "lines": [
            {"sku": "CF-001", "name": "Cà phê sữa đá", "category": "cà phê", "quantity": 2, "unit_price": 29000},
            {"sku": "BK-002", "name": "Croissant bơ", "category": "bánh", "quantity": 1, "unit_price": 35000},
            {"sku": "TE-001", "name": "Trà đào cam sả", "category": "trà", "quantity": 1, "unit_price": 45000}
        ],
        "total": 138000
    });
    let started = Instant::now();
    let response = client
        .post(format!("{base}/api/v1/orders"))
        .bearer_auth(key)
        .json(&order)
        .send()
        .await?;
    anyhow::ensure!(
        response.status().as_u16() == 201,
        "order answered {}",
        response.status()
    );
    Ok(started.elapsed())
}
