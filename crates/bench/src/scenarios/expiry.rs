//! `expiry`: the sweep that writes expired points down, over N members each holding a year of
//! monthly lots that have all expired.

use std::time::Instant;

use jiff::{SignedDuration, Timestamp};
use loyalty_store::{DbError, Sql, Value};

use super::setup;
use crate::target::{Server, Target};
use crate::{BenchOptions, Report};

pub async fn run(options: &BenchOptions) -> anyhow::Result<Report> {
    let target = Target::new(options.database_url.as_deref())?;
    let db = target.open(None)?;
    let settings = target.settings(&db);
    let (server, app) = Server::start(db.clone())?;
    server.stop();
    let shop = setup::shop(&app, options.members).await?;
    let now = Timestamp::now();
    load_lots(&db, &shop.ctx.tenant_id, &shop.members, now).await?;
    // Where autovacuum is off (as on this machine), the planner would otherwise see the lots
    // table as it was before the load and read the tenant's whole ledger for each batch; in
    // production autovacuum's ANALYZE runs within a minute of such a load.
    let analysed = db
        .read(loyalty_store::repo::statistics::refresh_unless_kept_fresh)
        .await?;

    let started = Instant::now();
    let members = app
        .refresh_points(now)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let elapsed = started.elapsed().as_secs_f64();
    let verified = app.verify().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    anyhow::ensure!(
        verified.problems.is_empty(),
        "verify after the sweep: {:?}",
        verified.problems
    );
    db.close();
    Ok(Report {
        scenario: "expiry".into(),
        database: target.backend.name().into(),
        connections: None,
        duration_s: elapsed,
        ops: members,
        ops_per_s: members as f64 / elapsed,
        errors: (members as usize != shop.members.len()) as u64,
        rss_mb: crate::peak_rss_mb(),
        settings: if analysed {
            format!(
                "{settings}; 12 expired lots per member; statistics refreshed after the load (autovacuum is off here)"
            )
        } else {
            format!("{settings}; 12 expired lots per member")
        },
        ..Report::default()
    })
}

/// Twelve monthly earnings per member over the past year, all expired by `now`.
async fn load_lots(
    db: &loyalty_store::Db,
    tenant_id: &str,
    members: &[(String, String)],
    now: Timestamp,
) -> anyhow::Result<()> {
    for chunk in members.chunks(500) {
        let (tenant_id, ids): (String, Vec<String>) = (
            tenant_id.to_string(),
            chunk.iter().map(|(id, _)| id.clone()).collect(),
        );
        db.write(move |sql| insert_lots(sql, &tenant_id, &ids, now))
            .await?;
    }
    Ok(())
}

fn insert_lots(
    sql: &mut dyn Sql,
    tenant_id: &str,
    ids: &[String],
    now: Timestamp,
) -> Result<(), DbError> {
    let mut query = String::from(
        "insert into ledger_entries (tenant_id, id, member_id, kind, points, remaining, created_at, available_at, expires_at) values ",
    );
    let mut values: Vec<Value<'_>> = Vec::new();
    let mut n = 0;
    for (m, member_id) in ids.iter().enumerate() {
        for month in 0..12i64 {
            let earned = now - SignedDuration::from_hours(24 * 30 * (24 - month));
            let expires = earned + SignedDuration::from_hours(24 * 365);
            if n > 0 {
                query.push_str(", ");
            }
            let b = n * 9;
            query.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7,
                b + 8,
                b + 9
            ));
            values.extend([
                Value::from(tenant_id.to_string()),
                Value::from(format!("led_bench_{m}_{month}_{member_id}")),
                Value::from(member_id.clone()),
                Value::from("earn"),
                Value::from(10 + month),
                Value::from(10 + month),
                Value::from(earned.as_millisecond()),
                Value::from(earned.as_millisecond()),
                Value::from(expires.as_millisecond()),
            ]);
            n += 1;
            if n == 100 {
                sql.execute(&query, &values)?;
                query.truncate(query.find(" values ").unwrap_or(0) + 8);
                values.clear();
                n = 0;
            }
        }
    }
    if n > 0 {
        sql.execute(&query, &values)?;
    }
    let total: i64 = (0..12).map(|m| 10 + m).sum();
    let first_expiry = (now - SignedDuration::from_hours(24 * 30 * 24)
        + SignedDuration::from_hours(24 * 365))
    .as_millisecond();
    for member_id in ids {
        sql.execute(
            "update members set points_available = $3, next_change_at = $4, lifetime_points = $3 where tenant_id = $1 and id = $2",
            &[Value::from(tenant_id), Value::from(member_id.as_str()), Value::from(total), Value::from(first_expiry)],
        )?;
    }
    Ok(())
}
