//! `automations`: one pass of the periodic triggers over every member of the shop — a birthday
//! journey (today's birthdays: about one member in 450 of the generated ones) and a win-back
//! (members whose last purchase turned 60 days old in the last hour: about one in 128) — the
//! candidates found by SQL a page of member ids at a time and their runs started. Timed from
//! the start of the pass to its end; the runs' steps are not part of it. Then a
//! `segment_entered` journey on "at least 100 points" (a quarter of the members): its first
//! look records who is in (timed), then about one member in 85 gets there and the next look
//! starts their runs and forgets nobody (timed).

use std::time::Instant;

use loyalty_app::automations::AutomationIn;
use loyalty_core::automation::{Step, Trigger};
use loyalty_store::params;

use super::setup;
use crate::target::{Server, Target};
use crate::{BenchOptions, Report};

fn failed(e: loyalty_app::AppError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

pub async fn run(options: &BenchOptions) -> anyhow::Result<Report> {
    let target = Target::new(options.database_url.as_deref())?;
    let db = target.open(None)?;
    let settings = target.settings(&db);
    let (server, app) = Server::start(db.clone())?;
    let members = options.members.max(1);
    let shop = setup::shop_unlisted(&app, members).await?;
    // Some members' last purchase turned 60 days old half an hour ago.
    let lapsed_at = (app.now()
        - jiff::SignedDuration::from_hours(60 * 24)
        - jiff::SignedDuration::from_mins(30))
    .as_millisecond();
    let tenant = shop.ctx.tenant_id.to_string();
    db.write(move |sql| {
        sql.execute(
            "update members set last_order_at = $2
             where tenant_id = $1 and substr(id, length(id) - 1, 2) in ('00', '01')",
            params![tenant.as_str(), lapsed_at],
        )
    })
    .await?;
    let tag = |name: &str| Step::Tag {
        add: vec![name.to_string()],
        remove: vec![],
    };
    for (name, trigger, step) in [
        (
            "Chúc mừng sinh nhật",
            Trigger::Birthday { days_before: 0 },
            tag("sinh nhật"),
        ),
        ("Nhớ bạn", Trigger::NoPurchase { days: 60 }, tag("nhớ bạn")),
    ] {
        app.create_automation(
            &shop.ctx,
            AutomationIn {
                name: name.into(),
                active: Some(true),
                trigger,
                steps: vec![step],
            },
        )
        .await
        .map_err(failed)?;
    }
    let started = Instant::now();
    app.start_automation_runs().await.map_err(failed)?;
    let elapsed = started.elapsed().as_secs_f64();
    let runs = count(&db, &shop.ctx.tenant_id, "automation_runs").await?;

    // A segment a quarter of the members are in (ids end in 0–3 of 16), and its journey.
    let points = |tail: &'static str, points: i64| {
        let tenant = shop.ctx.tenant_id.to_string();
        db.write(move |sql| {
            sql.execute(
                &format!(
                    "update members set points_available = $2 where tenant_id = $1 and {tail}"
                ),
                params![tenant.as_str(), points],
            )
        })
    };
    points("substr(id, length(id), 1) in ('0', '1', '2', '3')", 500).await?;
    let segment = app
        .create_segment(
            &shop.ctx,
            loyalty_app::segments::SegmentInput {
                name: Some("Từ 100 điểm".into()),
                description: None,
                conditions: Some(
                    serde_json::json!({"all": [{"field": "member.points", "op": ">=", "value": 100}]}),
                ),
            },
        )
        .await
        .map_err(failed)?;
    app.create_automation(
        &shop.ctx,
        AutomationIn {
            name: "Chào thành viên thân thiết".into(),
            active: Some(true),
            trigger: Trigger::SegmentEntered {
                segment_id: segment.0.id.clone(),
            },
            steps: vec![tag("thân thiết")],
        },
    )
    .await
    .map_err(failed)?;
    let started = Instant::now();
    app.start_automation_runs().await.map_err(failed)?;
    let baseline = started.elapsed().as_secs_f64();
    let in_segment = count(&db, &shop.ctx.tenant_id, "automation_segment_members").await?;
    // Ids ending in 54, 65 or 76 (of 256; none in it yet) reach the segment; its next look is
    // due.
    points("substr(id, length(id) - 1, 2) in ('54', '65', '76')", 500).await?;
    let tenant = shop.ctx.tenant_id.to_string();
    db.write(move |sql| {
        sql.execute(
            "update automations set passed_at = passed_at - 7200000 where tenant_id = $1",
            params![tenant.as_str()],
        )
    })
    .await?;
    let started = Instant::now();
    app.start_automation_runs().await.map_err(failed)?;
    let entries = started.elapsed().as_secs_f64();
    let entered = count(&db, &shop.ctx.tenant_id, "automation_runs").await? - runs;
    let rss = crate::rss_mb();
    server.stop();
    db.close();
    Ok(Report {
        scenario: "automations-pass".into(),
        database: target.backend.name().into(),
        duration_s: elapsed,
        ops: members as u64,
        ops_per_s: members as f64 / elapsed,
        rss_mb: rss,
        settings: format!(
            "{settings}; one pass of a birthday and a win-back automation over {members} members, {runs} runs started; segment entered: first look {baseline:.2} s ({in_segment} members recorded), next look {entries:.2} s ({entered} runs started)"
        ),
        ..Report::default()
    })
}

async fn count(
    db: &loyalty_store::Db,
    tenant_id: &str,
    table: &'static str,
) -> anyhow::Result<i64> {
    let tenant = tenant_id.to_string();
    Ok(db
        .read(move |sql| {
            sql.query_scalar(
                &format!("select count(*) from {table} where tenant_id = $1"),
                params![tenant.as_str()],
            )
        })
        .await?)
}
