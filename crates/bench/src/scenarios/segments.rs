//! `import`, `segment` and `export`: the marketer's bulk paths.
//!
//! - `import` writes a CSV of N members with opening points, spend and tiers, then imports it
//!   through the same use-case as `loyalty import members`, sampling memory as it goes.
//! - `segment` loads N members and 10 N orders (a line each), streams every member out as CSV
//!   (the `export` report, memory sampled before and after), then counts a three-condition
//!   segment (province, tier, a `purchased` block over the last 30 days) several times.

use std::io::Write;
use std::sync::Mutex;
use std::time::Instant;

use jiff::{SignedDuration, Timestamp};
use loyalty_app::tiers::TierInput;
use loyalty_app::{App, Ctx};
use loyalty_demo::generate::Generator;
use loyalty_store::{Db, DbError, Sql, Value};
use serde_json::json;

use super::setup;
use crate::target::{Server, Target};
use crate::{BenchOptions, Report};

const TIERS: [(&str, i64, i64); 4] = [
    ("Đồng", 1, 0),
    ("Bạc", 2, 2_000_000),
    ("Vàng", 3, 5_000_000),
    ("Bạch Kim", 4, 15_000_000),
];

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

async fn ladder(app: &App, ctx: &Ctx) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::new();
    for (name, rank, threshold) in TIERS {
        let input = TierInput {
            name: Some(name.to_string()),
            rank: Some(rank),
            threshold: Some(threshold),
            ..TierInput::default()
        };
        ids.push(app.create_tier(ctx, input).await.map_err(err)?.id);
    }
    Ok(ids)
}

pub async fn import(options: &BenchOptions) -> anyhow::Result<Report> {
    let target = Target::new(options.database_url.as_deref())?;
    let db = target.open(None)?;
    let settings = target.settings(&db);
    let (server, app) = Server::start(db.clone())?;
    server.stop();
    let shop = setup::shop(&app, 0).await?;
    ladder(&app, &shop.ctx).await?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("members.csv");
    let bytes = write_members_csv(&path, options.members)?;

    let rss_before = crate::rss_mb().unwrap_or(0.0);
    let samples = Mutex::new(Vec::new());
    let started = Instant::now();
    let file = std::fs::File::open(&path)?;
    let prepared = app
        .prepare_member_import(&shop.ctx, Box::new(file))
        .await
        .map_err(err)?;
    let job = app
        .run_member_import(&shop.ctx, prepared, |job| {
            // Memory at every tenth of the file: flat means the last is near the first.
            let step = (options.members as i64 / 10).max(1);
            if job.total % step == 0
                && let Ok(mut s) = samples.lock()
            {
                s.push(crate::rss_mb().unwrap_or(0.0));
            }
        })
        .await
        .map_err(err)?;
    let elapsed = started.elapsed().as_secs_f64();
    let verified = app.verify().await.map_err(err)?;
    anyhow::ensure!(
        verified.problems.is_empty(),
        "verify: {:?}",
        verified.problems
    );
    anyhow::ensure!(
        job.imported as usize == options.members,
        "imported {} of {}: {:?}",
        job.imported,
        options.members,
        job.errors.first()
    );
    db.close();
    let samples = samples.into_inner().unwrap_or_default();
    let rss: Vec<String> = samples.iter().map(|mb| format!("{mb:.0}")).collect();
    Ok(Report {
        scenario: "import".into(),
        database: target.backend.name().into(),
        duration_s: elapsed,
        ops: job.imported as u64,
        ops_per_s: job.imported as f64 / elapsed,
        errors: job.failed as u64,
        rss_mb: crate::peak_rss_mb(),
        settings: format!(
            "{settings}; {} MB file with opening points, spend and tier; RSS MB before {rss_before:.0}, at each tenth [{}]",
            bytes / 1_000_000,
            rss.join(", ")
        ),
        ..Report::default()
    })
}

/// A member list as a merchant would bring it: every column, a tier on a third of the rows.
fn write_members_csv(path: &std::path::Path, members: usize) -> anyhow::Result<u64> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(
        out,
        "phone,email,name,gender,birthday,province,district,tags,points,lifetime_spend,tier,member_since,external_id"
    )?;
    let mut generator = Generator::new(7);
    let mut writer = csv_row_writer();
    for i in 0..members {
        let p = generator.person(i);
        let tier = match i % 6 {
            0 => "Bạc",
            1 => "Vàng",
            _ => "",
        };
        writer.clear();
        let cells = [
            p.phone.clone(),
            p.email.clone().unwrap_or_default(),
            p.name.clone(),
            if p.female { "nữ" } else { "nam" }.to_string(),
            p.birthday.clone().unwrap_or_default(),
            p.province.clone(),
            p.district.clone(),
            p.tags.join("|"),
            ((i * 37) % 5_000).to_string(),
            ((i * 7_919) % 20_000_000).to_string(),
            tier.to_string(),
            "2023-06-01".to_string(),
            format!("OLD-{i}"),
        ];
        writer.push_row(&cells);
        out.write_all(writer.bytes())?;
    }
    out.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

/// Quotes cells that need it (names with commas do not occur, but districts could).
struct RowWriter(Vec<u8>);

fn csv_row_writer() -> RowWriter {
    RowWriter(Vec::with_capacity(512))
}

impl RowWriter {
    fn clear(&mut self) {
        self.0.clear();
    }

    fn push_row(&mut self, cells: &[String]) {
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                self.0.push(b',');
            }
            if cell.contains([',', '"', '\n']) {
                self.0.push(b'"');
                self.0.extend(cell.replace('"', "\"\"").as_bytes());
                self.0.push(b'"');
            } else {
                self.0.extend(cell.as_bytes());
            }
        }
        self.0.push(b'\n');
    }

    fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// N members spread over the tiers, 10 N orders over the past year with one line each.
async fn population(
    options: &BenchOptions,
) -> anyhow::Result<(Target, Db, App, setup::Shop, String)> {
    let target = Target::new(options.database_url.as_deref())?;
    let db = target.open(None)?;
    let settings = target.settings(&db);
    let (server, app) = Server::start(db.clone())?;
    server.stop();
    let shop = setup::shop(&app, options.members).await?;
    let tiers = ladder(&app, &shop.ctx).await?;
    let now = Timestamp::now();
    let started = Instant::now();
    for (n, chunk) in shop.members.chunks(1_000).enumerate() {
        let (tenant_id, ids, tiers) = (
            shop.ctx.tenant_id.clone(),
            chunk.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(),
            tiers.clone(),
        );
        db.write(move |sql| load_orders(sql, &tenant_id, n, &ids, &tiers, now))
            .await?;
    }
    // A database in service has statistics (autovacuum analyses after this much change); one
    // measured straight after a bulk load would be planned from an empty table's.
    if db.backend() == loyalty_store::Backend::Postgres {
        db.write(|sql| sql.batch("analyze members, orders, order_lines"))
            .await?;
    }
    tracing::warn!(
        seconds = started.elapsed().as_secs_f64(),
        "segment population loaded"
    );
    Ok((target, db, app, shop, settings))
}

const CATEGORIES: [&str; 5] = ["banh", "ca-phe", "tra", "ao", "quan"];

fn load_orders(
    sql: &mut dyn Sql,
    tenant_id: &str,
    chunk: usize,
    ids: &[String],
    tiers: &[String],
    now: Timestamp,
) -> Result<(), DbError> {
    let mut orders: Vec<(String, String, i64, i64, usize)> = Vec::with_capacity(ids.len() * 10);
    for (m, member_id) in ids.iter().enumerate() {
        let seed = chunk * 1_000 + m;
        for k in 0..10usize {
            // Spread over 365 days; a different category per order.
            let days = ((seed * 31 + k * 37) % 365) as i64;
            let placed =
                now - SignedDuration::from_hours(24 * days) - SignedDuration::from_mins(k as i64);
            let total = 50_000 + ((seed * 13 + k * 7) % 20) as i64 * 25_000;
            orders.push((
                format!("ord_b{seed}_{k}"),
                member_id.clone(),
                placed.as_millisecond(),
                total,
                (seed + k) % CATEGORIES.len(),
            ));
        }
    }
    for batch in orders.chunks(200) {
        let mut query = String::from(
            "insert into orders (tenant_id, id, source, external_id, member_id, status, store, placed_at,
                currency, subtotal, discount, shipping, total, created_at, updated_at) values ",
        );
        let mut values: Vec<Value<'_>> = vec![tenant_id.into()];
        for (i, (id, member_id, placed, total, _)) in batch.iter().enumerate() {
            let b = 2 + i * 5;
            if i > 0 {
                query.push_str(", ");
            }
            query.push_str(&format!(
                "($1, ${b}, 'pos', ${b}, ${}, 'paid', ${}, ${}, 'VND', ${}, 0, 0, ${}, ${}, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 4,
                b + 3,
                b + 3
            ));
            values.extend([
                Value::from(id.as_str()),
                Value::from(member_id.as_str()),
                Value::from(if i % 3 == 0 { "HN01" } else { "HCM01" }),
                Value::from(*placed),
                Value::from(*total),
            ]);
        }
        sql.execute(&query, &values)?;
        let mut query = String::from(
            "insert into order_lines (tenant_id, order_id, line_no, sku, category, quantity, unit_price) values ",
        );
        let mut values: Vec<Value<'_>> = vec![tenant_id.into()];
        for (i, (id, _, _, total, category)) in batch.iter().enumerate() {
            let b = 2 + i * 3;
            if i > 0 {
                query.push_str(", ");
            }
            query.push_str(&format!(
                "($1, ${b}, 1, ${}, ${}, 1, ${})",
                b + 1,
                b + 1,
                b + 2
            ));
            values.extend([
                Value::from(id.as_str()),
                Value::from(CATEGORIES[*category]),
                Value::from(*total),
            ]);
        }
        sql.execute(&query, &values)?;
    }
    // Counters and tiers as the order path would have left them: a tenth each in the top
    // tiers, the rest in the bottom one.
    for (m, member_id) in ids.iter().enumerate() {
        let seed = chunk * 1_000 + m;
        let tier = &tiers[match seed % 10 {
            0 => 3,
            1 => 2,
            2 | 3 => 1,
            _ => 0,
        }];
        sql.execute(
            "update members set tier_id = $3, order_count = 10, lifetime_spend = $4,
                last_order_at = $5 where tenant_id = $1 and id = $2",
            &[
                Value::from(tenant_id),
                Value::from(member_id.as_str()),
                Value::from(tier.as_str()),
                Value::from(2_000_000 + (seed % 20) as i64 * 100_000),
                Value::from(now.as_millisecond()),
            ],
        )?;
    }
    Ok(())
}

/// The export and the segment count over one population (it takes minutes to load a million).
pub async fn segment(options: &BenchOptions) -> anyhow::Result<Vec<Report>> {
    let (target, db, app, shop, settings) = population(options).await?;
    let ctx = shop.ctx.clone();
    let export = export(&target, &app, &ctx, &settings).await?;
    let since = (Timestamp::now() - SignedDuration::from_hours(24 * 30)).to_string();
    let conditions = json!({"all": [
        {"field": "member.province", "op": "=", "value": "Hà Nội"},
        {"field": "member.tier", "op": "in", "value": ["Vàng", "Bạch Kim"]},
        {"purchased": {"from": since, "category": "banh"}},
    ]});
    let mut times = Vec::new();
    let mut count = 0;
    for _ in 0..7 {
        let started = Instant::now();
        count = app
            .preview_segment(&ctx, conditions.clone())
            .await
            .map_err(err)?
            .count;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let first = times[0];
    let mut warm = times[1..].to_vec();
    warm.sort_by(f64::total_cmp);
    let median = warm[warm.len() / 2];
    let rfm = rfm(&target, &app, &ctx, &settings).await?;
    db.close();
    let till = pos_on_population(&target, shop, options, &settings).await?;
    Ok(vec![
        export,
        rfm,
        till,
        Report {
            scenario: "segment".into(),
            database: target.backend.name().into(),
            duration_s: times.iter().sum::<f64>() / 1000.0,
            ops: times.len() as u64,
            ops_per_s: 1000.0 / median,
            p50_ms: Some(median),
            p99_ms: Some(warm[warm.len() - 1]),
            rss_mb: crate::peak_rss_mb(),
            settings: format!(
                "{settings}; {} members, {} orders; preview (count + 20 members) of province + tier + purchased(30 days, category) = {count}; first run {first:.0} ms",
                options.members,
                options.members * 10
            ),
            ..Report::default()
        },
    ])
}

async fn export(target: &Target, app: &App, ctx: &Ctx, settings: &str) -> anyhow::Result<Report> {
    let rss_before = crate::rss_mb().unwrap_or(0.0);
    let started = Instant::now();
    let rows = app
        .write_member_export(ctx, None, &mut std::io::sink())
        .await
        .map_err(err)?;
    let elapsed = started.elapsed().as_secs_f64();
    let rss_after = crate::rss_mb().unwrap_or(0.0);
    Ok(Report {
        scenario: "export".into(),
        database: target.backend.name().into(),
        duration_s: elapsed,
        ops: rows,
        ops_per_s: rows as f64 / elapsed,
        rss_mb: Some(rss_after),
        settings: format!(
            "{settings}; every member, pages of 1,000; RSS MB before {rss_before:.0}, after {rss_after:.0}"
        ),
        ..Report::default()
    })
}

/// The day's RFM scoring of every buyer (the queue's `rfm.score`), timed on its own.
async fn rfm(target: &Target, app: &App, ctx: &Ctx, settings: &str) -> anyhow::Result<Report> {
    let started = Instant::now();
    let scored = app.score_rfm_for(&ctx.tenant_id).await.map_err(err)?;
    let elapsed = started.elapsed().as_secs_f64();
    Ok(Report {
        scenario: "rfm".into(),
        database: target.backend.name().into(),
        duration_s: elapsed,
        ops: scored,
        ops_per_s: scored as f64 / elapsed,
        rss_mb: crate::rss_mb(),
        settings: format!("{settings}; every buyer scored, pages of 2,000"),
        ..Report::default()
    })
}

/// The till's load on the loaded population, against `loyalty serve` in a process of its own
/// (its periodic jobs off: the day's RFM scoring, the one heavy job, is timed on its own above),
/// sampling the server's resident memory as it goes.
async fn pos_on_population(
    target: &Target,
    shop: setup::Shop,
    options: &BenchOptions,
    settings: &str,
) -> anyhow::Result<Report> {
    let server = crate::serve_process::ServeProcess::start(&target.url)?;
    let rss_idle = server.rss_mb().unwrap_or(0.0);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(options.connections)
        .build()?;
    let load = crate::target::load_runtime()?;
    let (bases, shop) = (
        std::sync::Arc::new(vec![server.base.clone()]),
        std::sync::Arc::new(shop),
    );
    let server = std::sync::Arc::new(server);
    let peak = std::sync::Arc::new(Mutex::new(rss_idle));
    let sampling = {
        let (server, peak) = (server.clone(), peak.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                let now = server.rss_mb().unwrap_or(0.0);
                if let Ok(mut peak) = peak.lock() {
                    *peak = peak.max(now);
                }
            }
        })
    };
    let measured = async {
        // Warm-up (caches, plans), not measured; its tills numbered apart from the run's.
        let (tills, seconds) = (options.connections, options.duration_s);
        super::pos::drive(&load, &client, &bases, &shop, 1_000_000, tills, 2.0).await?;
        super::pos::drive(&load, &client, &bases, &shop, 0, tills, seconds).await
    }
    .await;
    // Stopped whether the load succeeded or not: the sampler, the tills, then the server.
    sampling.abort();
    let _ = sampling.await;
    let rss_end = server.rss_mb().unwrap_or(0.0);
    let peak = peak.lock().map(|p| *p).unwrap_or(rss_end);
    load.shutdown_background();
    drop(server);
    let mut tills = measured?;
    let ops = tills.latencies.len() as u64;
    Ok(Report {
        scenario: "pos-population".into(),
        database: target.backend.name().into(),
        connections: Some(options.connections),
        duration_s: tills.elapsed,
        ops,
        ops_per_s: ops as f64 / tills.elapsed,
        p50_ms: tills.latencies.quantile_ms(0.50),
        p95_ms: tills.latencies.quantile_ms(0.95),
        p99_ms: tills.latencies.quantile_ms(0.99),
        errors: tills.errors,
        rss_mb: Some(peak),
        settings: format!(
            "{settings}; pos on the segment population ({} members, {} orders), `loyalty serve` in its own process, periodic jobs off; server RSS MB idle {rss_idle:.0}, peak {peak:.0}, at the end {rss_end:.0}",
            options.members,
            options.members * 10
        ),
        ..Report::default()
    })
}
