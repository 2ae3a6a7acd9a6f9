//! `codes`: generate 100,000 unique voucher codes in one request. `redeem`: what a till does
//! with a voucher — validate, then redeem — with unique codes, from many tills at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::setup;
use crate::latency::Latencies;
use crate::target::{Server, Target};
use crate::{BenchOptions, Report};

pub const CODES: usize = 100_000;

async fn program(client: &reqwest::Client, base: &str, key: &str) -> anyhow::Result<String> {
    let created: Value = client
        .post(format!("{base}/api/v1/voucher-programs"))
        .bearer_auth(key)
        .json(
            &json!({"name": "Bench 10%", "type": "percent", "value": 10, "max_discount": 50000,
                      "codes": {"kind": "unique", "prefix": "B-", "length": 10}}),
        )
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(created["id"].as_str().unwrap_or_default().to_string())
}

async fn generate(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    program: &str,
    count: usize,
) -> anyhow::Result<Vec<String>> {
    let made: Value = client
        .post(format!("{base}/api/v1/voucher-programs/{program}/codes"))
        .bearer_auth(key)
        .json(&json!({"count": count}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(made["codes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default())
}

pub async fn codes(options: &BenchOptions) -> anyhow::Result<Report> {
    let target = Target::new(options.database_url.as_deref())?;
    let db = target.open(None)?;
    let settings = target.settings(&db);
    let (server, app) = Server::start(db.clone())?;
    let shop = setup::shop(&app, 0).await?;
    let client = reqwest::Client::new();
    let id = program(&client, &server.base, &shop.api_key).await?;
    let started = Instant::now();
    let made = generate(&client, &server.base, &shop.api_key, &id, CODES).await?;
    let elapsed = started.elapsed();
    server.stop();
    db.close();
    let errors = u64::from(made.len() != CODES);
    Ok(Report {
        scenario: "codes".into(),
        database: target.backend.name().into(),
        connections: Some(1),
        duration_s: elapsed.as_secs_f64(),
        ops: made.len() as u64,
        ops_per_s: made.len() as f64 / elapsed.as_secs_f64(),
        p50_ms: None,
        p95_ms: None,
        p99_ms: Some(elapsed.as_secs_f64() * 1000.0),
        errors,
        rss_mb: crate::rss_mb(),
        settings: format!("{settings}; one request for {CODES} codes, answered with all of them"),
        ..Report::default()
    })
}

pub async fn redeem(options: &BenchOptions) -> anyhow::Result<Report> {
    let target = Target::new(options.database_url.as_deref())?;
    let db = target.open(None)?;
    let settings = target.settings(&db);
    let (server, app) = Server::start(db.clone())?;
    let shop = setup::shop(&app, 0).await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(options.connections)
        .build()?;
    let id = program(&client, &server.base, &shop.api_key).await?;
    let pool = Arc::new(generate(&client, &server.base, &shop.api_key, &id, CODES).await?);
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let load = crate::target::load_runtime()?;
    let deadline = Instant::now() + Duration::from_secs_f64(options.duration_s);
    let mut workers = Vec::new();
    for worker in 0..options.connections {
        let (client, base, key, pool, next, errors) = (
            client.clone(),
            server.base.clone(),
            shop.api_key.clone(),
            pool.clone(),
            next.clone(),
            errors.clone(),
        );
        workers.push(load.spawn(async move {
            let mut latencies = Latencies::default();
            while Instant::now() < deadline {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let Some(code) = pool.get(n) else { break };
                let started = Instant::now();
                match use_code(&client, &base, &key, code, worker, n).await {
                    Ok(()) => latencies.record(started.elapsed()),
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            latencies
        }));
    }
    let started = Instant::now();
    let mut latencies = Latencies::default();
    for worker in workers {
        latencies.merge(worker.await?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    load.shutdown_background();
    server.stop();
    db.close();
    let ops = latencies.len() as u64;
    Ok(Report {
        scenario: "redeem".into(),
        database: target.backend.name().into(),
        connections: Some(options.connections),
        duration_s: elapsed,
        ops,
        ops_per_s: ops as f64 / elapsed,
        p50_ms: latencies.quantile_ms(0.50),
        p95_ms: latencies.quantile_ms(0.95),
        p99_ms: latencies.quantile_ms(0.99),
        errors: errors.load(Ordering::Relaxed),
        rss_mb: crate::rss_mb(),
        settings: format!("{settings}; one operation = validate + redeem of a unique code"),
        ..Report::default()
    })
}

async fn use_code(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    code: &str,
    worker: usize,
    n: usize,
) -> anyhow::Result<()> {
    let order = json!({"total": 250000, "store": "HN01", "channel": "pos"});
    let valid: Value = client
        .post(format!("{base}/api/v1/vouchers/validate"))
        .bearer_auth(key)
        .json(&json!({"code": code, "order": order}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    anyhow::ensure!(valid["valid"] == true, "not valid: {valid}");
    client
        .post(format!("{base}/api/v1/vouchers/redeem"))
        .bearer_auth(key)
        .json(&json!({"code": code, "order_ref": format!("pos:{worker}-{n}"), "order": order}))
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}
