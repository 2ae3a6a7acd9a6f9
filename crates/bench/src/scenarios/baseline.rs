//! `baseline`: the database's own limit on this machine, in this run — single-row insert
//! transactions (one row, one commit, no grouping) through the same driver, connections and
//! durability settings the product uses, at the same concurrency.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use loyalty_store::{DbError, params};

use crate::latency::Latencies;
use crate::target::Target;
use crate::{BenchOptions, Report};

pub async fn run(options: &BenchOptions) -> anyhow::Result<Report> {
    let target = Target::new(options.database_url.as_deref())?;
    measure(&target, options).await
}

/// Measures on an existing target (the `pos` scenario runs it next to itself).
pub async fn measure(target: &Target, options: &BenchOptions) -> anyhow::Result<Report> {
    // One action per transaction: the engine may not group commits here.
    let db = target.open(Some(1))?;
    db.write(|sql| {
        sql.batch("create table if not exists bench_baseline (tenant_id text not null, id bigint not null, payload text not null, primary key (tenant_id, id))")
    })
    .await?;
    let counter = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(options.duration_s);
    let mut workers = Vec::new();
    for _ in 0..options.connections {
        let (db, counter, errors) = (db.clone(), counter.clone(), errors.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Latencies::default();
            while Instant::now() < deadline {
                let id = counter.fetch_add(1, Ordering::Relaxed) as i64;
                let started = Instant::now();
                let done = db
                    .write(move |sql| {
                        sql.execute(
                            "insert into bench_baseline (tenant_id, id, payload) values ($1, $2, $3)",
                            params!["bench", id, "Cà phê sữa đá x2, 58000"],
                        )
                    })
                    .await;
                match done {
                    Ok(_) => latencies.record(started.elapsed()),
                    Err(DbError::Closed) => break,
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
    let settings = format!(
        "{}; one row per transaction (grouping off)",
        target.settings(&db)
    );
    db.close();
    let ops = latencies.len() as u64;
    Ok(Report {
        scenario: "baseline".into(),
        database: target.backend.name().into(),
        connections: Some(options.connections),
        duration_s: elapsed,
        ops,
        ops_per_s: ops as f64 / elapsed,
        p50_ms: latencies.quantile_ms(0.50),
        p95_ms: latencies.quantile_ms(0.95),
        p99_ms: latencies.quantile_ms(0.99),
        errors: errors.load(Ordering::Relaxed),
        baseline_ops_per_s: None,
        ratio_to_baseline: None,
        rss_mb: crate::rss_mb(),
        settings,
    })
}
