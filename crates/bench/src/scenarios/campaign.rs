//! `campaign`: a campaign to every member of the shop. Two figures: the audience written —
//! every member decided by the rules (consent, address, the weekly cap), rendered and enqueued
//! (or suppressed) — in members a second; and the messages handed to a local eSMS double on
//! 127.0.0.1 (answering at once, as eSMS does, with its idempotency reference honoured) in
//! messages a second, from the launch until the last one. One instance sends.

use std::time::{Duration, Instant};

use loyalty_app::campaigns::CampaignIn;
use loyalty_app::channels::ChannelIn;
use loyalty_core::campaign::{Audience, CampaignChannel};
use loyalty_messaging::doubles::ProviderDouble;
use serde_json::json;

use super::setup;
use crate::target::{Server, Target};
use crate::{BenchOptions, Report};

fn failed(e: loyalty_app::AppError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

pub async fn run(options: &BenchOptions) -> anyhow::Result<Vec<Report>> {
    let target = Target::new(options.database_url.as_deref())?;
    let db = target.open(None)?;
    let settings = target.settings(&db);
    let (server, app) = Server::start(db.clone())?;
    let members = options.members.max(1);
    let shop = setup::shop_unlisted(&app, members).await?;
    let load = crate::target::load_runtime()?;
    let double = load.spawn(ProviderDouble::start_counting()).await?;

    // No quiet hours: the run measures sending whatever the hour.
    let mut program = app.program(&shop.ctx).await.map_err(failed)?;
    program.messaging.quiet_hours = None;
    app.set_program(&shop.ctx, program).await.map_err(failed)?;
    let channel = app
        .create_channel(
            &shop.ctx,
            ChannelIn {
                channel_type: "sms_esms".into(),
                name: "eSMS".into(),
                settings: json!({"brandname": "BENCH", "api_base": double.base(), "max_per_second": 10_000, "price_per_message": 800}),
                secrets: [("api_key", "k"), ("secret_key", "s")]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            },
        )
        .await
        .map_err(failed)?;
    let campaign = app
        .create_campaign(
            &shop.ctx,
            CampaignIn {
                name: "Bench".into(),
                audience: Audience::Conditions {
                    conditions: json!({"all": []}),
                },
                channels: vec![CampaignChannel {
                    channel_id: channel.id.clone(),
                    template: json!({"text": "{{ shop.name }}: chào {{ member.first_name }}, bạn có {{ member.points }} điểm. Hủy: {{ unsubscribe_url }}", "unaccented": true}),
                }],
                voucher_program_id: None,
                send_at: None,
                attribution_days: None,
                purpose: None,
                track_email: None,
            },
        )
        .await
        .map_err(failed)?;

    let rss_before = crate::rss_mb();
    let queue = app.start_queue();
    let started = Instant::now();
    app.launch_campaign(&shop.ctx, campaign.id.clone())
        .await
        .map_err(failed)?;
    let limit = Duration::from_secs_f64(options.duration_s.max(60.0) * 20.0);
    let mut audience_s = None;
    let mut expected = None;
    let mut rss_peak: Option<f64> = None;
    let sent = loop {
        let got = double.taken();
        rss_peak = higher(rss_peak, crate::rss_mb());
        if audience_s.is_none() {
            let view = app
                .campaign(&shop.ctx, campaign.id.clone())
                .await
                .map_err(failed)?;
            if view.audience_count >= members as i64 {
                audience_s = Some(started.elapsed().as_secs_f64());
                let report = app
                    .campaign_report(&shop.ctx, campaign.id.clone())
                    .await
                    .map_err(failed)?;
                expected = Some((report.audience - suppressed(&report)) as usize);
            }
        }
        if expected.is_some_and(|e| got >= e) || started.elapsed() > limit {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let elapsed = started.elapsed().as_secs_f64();
    let rss = higher(rss_peak, crate::rss_mb());
    let memory = format!(
        "RSS of the whole bench process (server, queue, double): {} MB before the launch, {} MB at most while sending",
        rss_before.map_or("?".into(), |m| format!("{m:.0}")),
        rss.map_or("?".into(), |m| format!("{m:.0}"))
    );
    queue.stop().await;
    load.shutdown_background();
    server.stop();
    db.close();
    let audience_s = audience_s.unwrap_or(elapsed);
    let expected = expected.unwrap_or(members);
    Ok(vec![
        Report {
            scenario: "campaign-audience".into(),
            database: target.backend.name().into(),
            duration_s: audience_s,
            ops: members as u64,
            ops_per_s: members as f64 / audience_s,
            rss_mb: rss,
            settings: format!(
                "{settings}; {members} members decided, rendered and enqueued or suppressed ({expected} to send), while the sender sends; {memory}"
            ),
            ..Report::default()
        },
        Report {
            scenario: "campaign-send".into(),
            database: target.backend.name().into(),
            duration_s: elapsed,
            ops: sent as u64,
            ops_per_s: sent as f64 / elapsed,
            errors: expected.saturating_sub(sent) as u64,
            rss_mb: rss,
            settings: format!(
                "{settings}; {sent} SMS handed to a loopback eSMS double, from the launch (audience included) to the last; {memory}"
            ),
            ..Report::default()
        },
    ])
}

fn suppressed(report: &loyalty_app::campaign_results::CampaignReport) -> i64 {
    let s = &report.suppressed;
    s.no_consent + s.no_address + s.frequency_cap + s.unsubscribed + s.blocked
}

fn higher(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}
