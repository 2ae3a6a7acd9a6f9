//! Automations on SQLite and PostgreSQL against a local eSMS double: API.md's birthday journey
//! saved, checked (every mistake named by its field), switched off and edited; a thank-you that
//! waits two hours of the test clock and thanks once per order; a birthday greeted with one
//! voucher and one message, and not again on the next passes.

mod common;

use std::time::Duration;

use common::{TestApp, spawn_app};
use jiff::{SignedDuration, Timestamp};
use loyalty_messaging::doubles::ProviderDouble;
use loyalty_store::on_both_backends;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// 10:00 in Hà Nội on 7 December 2026, outside the quiet hours.
const MORNING: &str = "2026-12-07T03:00:00Z";

async fn esms(app: &TestApp, double: &ProviderDouble) -> String {
    let sms = app.post("/api/v1/channels", json!({"type": "sms_esms", "name": "eSMS",
        "settings": {"brandname": "CAPHE", "api_base": double.base()}, "secrets": {"api_key": "k", "secret_key": "s"}})).await;
    assert_eq!(sms.status, StatusCode::CREATED, "{:?}", sms.body);
    sms.body["id"].as_str().unwrap().to_string()
}

/// Lets the queue runner make a few passes.
async fn passes(app: &TestApp, n: usize) {
    for _ in 0..n {
        app.app.wake_queue();
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
}

/// Waits (a few seconds at most) until the double holds `n` messages.
async fn until_received(app: &TestApp, double: &ProviderDouble, n: usize) {
    for _ in 0..100 {
        if double.received().len() >= n {
            return;
        }
        passes(app, 1).await;
    }
    panic!("{} messages, not {n}", double.received().len());
}

fn order(member_id: &str, external_id: &str) -> Value {
    json!({"source": "pos", "external_id": external_id, "member_id": member_id, "total": 120_000})
}

on_both_backends! {
    async fn a_birthday_journey_is_saved_checked_switched_off_and_edited(db) {
        let app = spawn_app(db).await;
        app.clock.set(MORNING.parse::<Timestamp>().unwrap());
        let sms = app.post("/api/v1/channels", json!({"type": "sms_esms", "name": "eSMS",
            "settings": {"brandname": "CAPHE"}, "secrets": {"api_key": "k", "secret_key": "s"}})).await;
        assert_eq!(sms.status, StatusCode::CREATED, "{:?}", sms.body);
        let channel = sms.body["id"].as_str().unwrap();
        let program = app.post("/api/v1/voucher-programs", json!({"name": "Sinh nhật", "type": "fixed", "value": 50000,
            "codes": {"kind": "unique", "prefix": "SN-", "length": 8}})).await;
        assert_eq!(program.status, StatusCode::CREATED, "{:?}", program.body);
        let program = program.body["id"].as_str().unwrap();
        let send = |text: &str| json!({"type": "send", "channels": [{"channel_id": channel, "template": {"text": text}}]});

        let created = app.post("/api/v1/automations", json!({"name": "Chúc mừng sinh nhật",
            "trigger": {"type": "birthday", "days_before": 7},
            "steps": [{"type": "issue_voucher", "voucher_program_id": program},
                      send("Chúc mừng sinh nhật {{ member.first_name }}! Mã quà: {{ voucher.code }}"),
                      {"type": "wait", "duration": "P7D"},
                      {"type": "condition", "conditions": {"all": [{"field": "member.points", "op": ">=", "value": 0}]}},
                      send("Hôm nay là sinh nhật bạn, {{ member.first_name }}")]})).await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        let id = created.body["id"].as_str().unwrap().to_string();
        assert_eq!(created.body["active"], true);
        assert_eq!(created.body["trigger"], json!({"type": "birthday", "days_before": 7}));
        assert_eq!(created.body["steps"].as_array().unwrap().len(), 5);
        let listed = app.get("/api/v1/automations").await;
        assert_eq!(listed.body.as_array().unwrap().len(), 1, "{:?}", listed.body);

        // Every mistake at once, each named.
        let bad = app.post("/api/v1/automations", json!({"name": "",
            "trigger": {"type": "no_purchase", "days": 0},
            "steps": [{"type": "issue_voucher", "voucher_program_id": "vpr_nope"},
                      {"type": "send", "channels": [{"channel_id": channel, "template": {"text": "{{ member.nickname }}"}}]},
                      {"type": "wait", "duration": "2 hours"},
                      {"type": "give_points", "points": -5},
                      {"type": "condition", "conditions": {"all": [{"field": "member.shoe_size", "op": "=", "value": 1}]}}]})).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", bad.body);
        let fields: Vec<&str> = bad.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        for wanted in ["name", "trigger.days", "steps[0].voucher_program_id", "steps[1].channels[0].template.text",
                       "steps[2].duration", "steps[3].points"] {
            assert!(fields.contains(&wanted), "{wanted} not in {fields:?}");
        }
        assert!(fields.iter().any(|f| f.starts_with("steps[4].conditions")), "{fields:?}");
        let unknown = app.post("/api/v1/automations", json!({"name": "x", "trigger": {"type": "full_moon"}, "steps": []})).await;
        assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", unknown.body);
        assert_eq!(app.get("/api/v1/automations").await.body.as_array().unwrap().len(), 1, "nothing written");

        // Off, then a shorter wait.
        let off = app.patch(&format!("/api/v1/automations/{id}"), json!({"active": false})).await;
        assert_eq!(off.status, StatusCode::OK, "{:?}", off.body);
        assert_eq!(off.body["active"], false);
        let mut steps = created.body["steps"].clone();
        steps[2]["duration"] = json!("P3D");
        let edited = app.patch(&format!("/api/v1/automations/{id}"), json!({"steps": steps})).await;
        assert_eq!(edited.status, StatusCode::OK, "{:?}", edited.body);
        assert_eq!(app.get(&format!("/api/v1/automations/{id}")).await.body["steps"][2]["duration"], "P3D");
        let missing = app.get("/api/v1/automations/aut_nope").await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
    }

    async fn a_thank_you_waits_two_hours_and_thanks_once_per_order(db) {
        let app = spawn_app(db).await;
        app.clock.set(MORNING.parse::<Timestamp>().unwrap());
        let double = ProviderDouble::start().await;
        let channel = esms(&app, &double).await;
        let created = app.post("/api/v1/automations", json!({"name": "Cảm ơn sau mua hàng",
            "trigger": {"type": "order_paid"},
            "steps": [{"type": "wait", "duration": "PT2H"},
                      {"type": "send", "purpose": "customer_care",
                       "channels": [{"channel_id": channel, "template": {"text": "Cảm ơn {{ member.first_name }} đã ghé quán!", "unaccented": true}}]}]})).await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        let lan = app.post("/api/v1/members", json!({"phone": "0901234567", "name": "Trần Thị Lan"})).await;
        let lan = lan.body["id"].as_str().unwrap().to_string();
        let paid = app.post("/api/v1/orders", order(&lan, "HD-1")).await;
        assert_eq!(paid.status, StatusCode::CREATED, "{:?}", paid.body);

        passes(&app, 10).await;
        assert_eq!(double.received().len(), 0, "thanked before the two hours");
        app.clock.advance(SignedDuration::from_mins(121));
        until_received(&app, &double, 1).await;
        assert_eq!(double.received()[0].content, "Cam on Lan da ghe quan!", "customer care: no QC label, no consent needed");
        // The same order again (a retried post) and more passes: still one.
        app.post("/api/v1/orders", order(&lan, "HD-1")).await;
        app.clock.advance(SignedDuration::from_hours(3));
        passes(&app, 10).await;
        assert_eq!(double.received().len(), 1);
        // A new order: a new thank-you, two hours later.
        let second = app.post("/api/v1/orders", order(&lan, "HD-2")).await;
        assert_eq!(second.status, StatusCode::CREATED, "{:?}", second.body);
        passes(&app, 5).await;
        assert_eq!(double.received().len(), 1);
        app.clock.advance(SignedDuration::from_mins(121));
        until_received(&app, &double, 2).await;
        passes(&app, 5).await;
        assert_eq!(double.received().len(), 2);
    }

    async fn a_birthday_gets_one_voucher_and_one_message_and_no_more(db) {
        let app = spawn_app(db).await;
        app.clock.set(MORNING.parse::<Timestamp>().unwrap());
        let double = ProviderDouble::start().await;
        let channel = esms(&app, &double).await;
        let program = app.post("/api/v1/voucher-programs", json!({"name": "Sinh nhật", "type": "fixed", "value": 50000,
            "codes": {"kind": "unique", "prefix": "SN-", "length": 8}})).await;
        let program = program.body["id"].as_str().unwrap().to_string();
        let sms = json!({"sms": true});
        let lan = app.post("/api/v1/members", json!({"phone": "0901234567", "name": "Trần Thị Lan", "birthday": "1990-12-07", "consent": sms})).await;
        let lan = lan.body["id"].as_str().unwrap().to_string();
        app.post("/api/v1/members", json!({"phone": "0901234568", "name": "Lê An", "birthday": "--12-08", "consent": sms})).await;
        app.post("/api/v1/members", json!({"phone": "0901234569", "name": "Phạm Bình", "birthday": "1985-12-09", "consent": sms})).await;
        let created = app.post("/api/v1/automations", json!({"name": "Chúc mừng sinh nhật",
            "trigger": {"type": "birthday", "days_before": 0},
            "steps": [{"type": "issue_voucher", "voucher_program_id": program},
                      {"type": "send", "channels": [{"channel_id": channel, "template": {"text": "Chuc mung sinh nhat {{ member.first_name }}! Ma qua: {{ voucher.code }}"}}]}]})).await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);

        until_received(&app, &double, 1).await;
        let text = double.received()[0].content.clone();
        assert!(text.starts_with("QC Chuc mung sinh nhat Lan! Ma qua: SN-"), "{text}");
        let code = text.rsplit(' ').next().unwrap().to_string();
        let codes = app.get(&format!("/api/v1/members/{lan}/vouchers")).await;
        assert!(codes.body.to_string().contains(&code), "the code sent is Lan's: {:?}", codes.body);
        // Later passes the same day, and an hour on: nothing more.
        passes(&app, 10).await;
        app.clock.advance(SignedDuration::from_mins(61));
        passes(&app, 10).await;
        assert_eq!(double.received().len(), 1, "{:?}", double.received());
        // The next day is An's birthday (no year given): An's turn, not Lan's again.
        app.clock.advance(SignedDuration::from_hours(24));
        until_received(&app, &double, 2).await;
        passes(&app, 10).await;
        let to: Vec<String> = double.received().iter().map(|r| r.to.clone()).collect();
        assert_eq!(to, ["0901234567", "0901234568"]);
        // Bình's birthday passes while the server is down; the next look greets him late.
        app.clock.advance(SignedDuration::from_hours(48));
        until_received(&app, &double, 3).await;
        passes(&app, 10).await;
        assert_eq!(double.received().len(), 3);
        assert_eq!(double.received()[2].to, "0901234569");
        let id = created.body["id"].as_str().unwrap();
        let runs = app.get(&format!("/api/v1/automations/{id}/runs?member_id={lan}")).await;
        assert_eq!(runs.status, StatusCode::OK, "{:?}", runs.body);
        let runs = runs.body.as_array().unwrap().clone();
        assert_eq!(runs.len(), 1, "one run for Lan: {runs:?}");
        assert_eq!(runs[0]["occurrence"], "birthday:2026");
        assert_eq!(runs[0]["status"], "done");
        assert_eq!(runs[0]["log"].as_array().unwrap().len(), 2, "{runs:?}");
        // Lan spends her voucher: the report counts it, and her order.
        let used = app.post("/api/v1/orders", json!({"source": "pos", "external_id": "HD-SN", "member_id": lan,
            "total": 200_000, "vouchers": [code]})).await;
        assert_eq!(used.status, StatusCode::CREATED, "{:?}", used.body);
        let report = app.get(&format!("/api/v1/automations/{id}/report")).await.body;
        assert_eq!(report, json!({"entered": 3, "done": 3, "stopped": 0, "failed": 0, "messages": 3,
            "vouchers_issued": 3, "vouchers_redeemed": 1, "orders": 1, "revenue": 200_000}));
    }

    async fn a_win_back_fires_once_per_lapse_and_again_after_a_new_purchase_and_lapse(db) {
        let app = spawn_app(db).await;
        app.clock.set(MORNING.parse::<Timestamp>().unwrap());
        let double = ProviderDouble::start().await;
        let channel = esms(&app, &double).await;
        let lan = app.post("/api/v1/members", json!({"phone": "0901234567", "name": "Trần Thị Lan", "consent": {"sms": true}})).await;
        let lan = lan.body["id"].as_str().unwrap().to_string();
        app.post("/api/v1/orders", order(&lan, "HD-1")).await;
        let created = app.post("/api/v1/automations", json!({"name": "Nhớ bạn",
            "trigger": {"type": "no_purchase", "days": 60},
            "steps": [{"type": "give_points", "points": 100, "reason": "Nhớ bạn"},
                      {"type": "send", "channels": [{"channel_id": channel, "template": {"text": "Lau roi khong gap {{ member.first_name }}, tang ban {{ member.points }} diem"}}]}]})).await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        let points = |body: Value| body["points"]["available"].as_i64().unwrap_or(-1);
        let before = points(app.get(&format!("/api/v1/members/{lan}")).await.body);

        passes(&app, 10).await;
        assert_eq!(double.received().len(), 0, "not lapsed yet");
        // 60 days without a purchase: one win-back, with its points.
        app.clock.advance(SignedDuration::from_hours(60 * 24 + 2));
        until_received(&app, &double, 1).await;
        assert_eq!(points(app.get(&format!("/api/v1/members/{lan}")).await.body), before + 100);
        assert!(double.received()[0].content.contains(&format!("tang ban {} diem", before + 100)), "{:?}", double.received());
        // Days pass, still lapsed: nothing more.
        for _ in 0..3 {
            app.clock.advance(SignedDuration::from_hours(24));
            passes(&app, 10).await;
        }
        assert_eq!(double.received().len(), 1);
        // A new purchase, then 60 more days: a second win-back.
        app.post("/api/v1/orders", order(&lan, "HD-2")).await;
        app.clock.advance(SignedDuration::from_hours(30 * 24));
        passes(&app, 10).await;
        assert_eq!(double.received().len(), 1, "the new purchase is recent");
        app.clock.advance(SignedDuration::from_hours(30 * 24 + 2));
        until_received(&app, &double, 2).await;
        passes(&app, 10).await;
        assert_eq!(double.received().len(), 2);
        let id = created.body["id"].as_str().unwrap();
        let runs = app.get(&format!("/api/v1/automations/{id}/runs")).await.body;
        assert_eq!(runs.as_array().unwrap().len(), 2, "{runs:?}");
    }

    async fn a_tier_up_journey_fires_on_the_order_that_crosses_the_threshold(db) {
        let app = spawn_app(db).await;
        app.clock.set(MORNING.parse::<Timestamp>().unwrap());
        let double = ProviderDouble::start().await;
        let channel = esms(&app, &double).await;
        for (name, rank, threshold) in [("Đồng", 1, 0), ("Bạc", 2, 1_000_000)] {
            let tier = app.post("/api/v1/tiers", json!({"name": name, "rank": rank, "threshold": threshold})).await;
            assert_eq!(tier.status, StatusCode::CREATED, "{:?}", tier.body);
        }
        app.post("/api/v1/automations", json!({"name": "Chúc mừng lên hạng",
            "trigger": {"type": "tier_changed", "direction": "up"},
            "steps": [{"type": "send", "purpose": "customer_care",
                       "channels": [{"channel_id": channel, "template": {"text": "Chuc mung {{ member.first_name }} len hang {{ member.tier }}"}}]}]})).await;
        let lan = app.post("/api/v1/members", json!({"phone": "0901234567", "name": "Trần Thị Lan"})).await;
        let lan = lan.body["id"].as_str().unwrap().to_string();
        let small = json!({"source": "pos", "external_id": "HD-1", "member_id": lan, "total": 600_000});
        app.post("/api/v1/orders", small).await;
        passes(&app, 10).await;
        assert_eq!(double.received().len(), 0, "joining the base tier is not a move up");
        let crossing = json!({"source": "pos", "external_id": "HD-2", "member_id": lan, "total": 500_000});
        app.post("/api/v1/orders", crossing).await;
        until_received(&app, &double, 1).await;
        passes(&app, 10).await;
        let received = double.received();
        assert_eq!(received.len(), 1);
        assert_eq!(received[0].content, "Chuc mung Lan len hang Bạc", "{received:?}");
    }

    async fn expiring_points_are_announced_once_days_before_they_expire(db) {
        let app = spawn_app(db).await;
        app.clock.set(MORNING.parse::<Timestamp>().unwrap());
        let double = ProviderDouble::start().await;
        let channel = esms(&app, &double).await;
        let lan = app.post("/api/v1/members", json!({"phone": "0901234567", "name": "Trần Thị Lan"})).await;
        let lan = lan.body["id"].as_str().unwrap().to_string();
        // Points earned today expire in twelve months (the default program).
        app.post("/api/v1/orders", order(&lan, "HD-1")).await;
        let points = app.get(&format!("/api/v1/members/{lan}")).await.body["points"]["available"].as_i64().unwrap();
        assert!(points > 0);
        app.post("/api/v1/automations", json!({"name": "Điểm sắp hết hạn",
            "trigger": {"type": "points_expiring", "days_before": 7},
            "steps": [{"type": "send", "purpose": "customer_care",
                       "channels": [{"channel_id": channel, "template": {"text": "{{ member.points_expiring }} diem cua ban sap het han"}}]}]})).await;
        passes(&app, 10).await;
        assert_eq!(double.received().len(), 0);
        // Seven days before they expire: announced once, however many passes that week.
        app.clock.advance(SignedDuration::from_hours(358 * 24));
        until_received(&app, &double, 1).await;
        assert_eq!(double.received()[0].content, format!("{points} diem cua ban sap het han"));
        for _ in 0..3 {
            app.clock.advance(SignedDuration::from_hours(25));
            passes(&app, 10).await;
        }
        assert_eq!(double.received().len(), 1);
    }
}

/// Lets the runner start runs and do steps: a start pass comes every half second.
async fn start_passes(app: &TestApp) {
    passes(app, 20).await;
}

/// A member's points set by an adjustment (the segment below is "at least 100 points").
async fn adjust(app: &TestApp, member: &str, points: i64) {
    let done = app
        .post(
            &format!("/api/v1/members/{member}/points/adjustments"),
            json!({"points": points, "reason": "test"}),
        )
        .await;
    assert_eq!(done.status, StatusCode::CREATED, "{:?}", done.body);
}

async fn runs_of(app: &TestApp, automation: &str, member: &str) -> Vec<Value> {
    let runs = app
        .get(&format!(
            "/api/v1/automations/{automation}/runs?member_id={member}"
        ))
        .await;
    assert_eq!(runs.status, StatusCode::OK, "{:?}", runs.body);
    runs.body.as_array().unwrap().clone()
}

on_both_backends! {
    async fn entering_a_segment_starts_one_run_per_entry(db) {
        let app = spawn_app(db).await;
        app.clock.set(MORNING.parse::<Timestamp>().unwrap());
        let segment = app.post("/api/v1/segments", json!({"name": "Từ 100 điểm",
            "conditions": {"all": [{"field": "member.points", "op": ">=", "value": 100}]}})).await;
        assert_eq!(segment.status, StatusCode::CREATED, "{:?}", segment.body);
        let segment = segment.body["id"].as_str().unwrap();
        let old = app.post("/api/v1/members", json!({"phone": "0901234567", "name": "Đã ở trong"})).await;
        let old = old.body["id"].as_str().unwrap().to_string();
        adjust(&app, &old, 150).await;
        let created = app.post("/api/v1/automations", json!({"name": "Chào thành viên thân thiết",
            "trigger": {"type": "segment_entered", "segment_id": segment},
            "steps": [{"type": "tag", "add": ["than-thiet"]}]})).await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        let automation = created.body["id"].as_str().unwrap().to_string();
        start_passes(&app).await;
        assert!(runs_of(&app, &automation, &old).await.is_empty(), "those already in it are not newcomers");

        let lan = app.post("/api/v1/members", json!({"phone": "0901234568", "name": "Trần Thị Lan"})).await;
        let lan = lan.body["id"].as_str().unwrap().to_string();
        adjust(&app, &lan, 120).await;
        app.clock.advance(SignedDuration::from_mins(61));
        start_passes(&app).await;
        let runs = runs_of(&app, &automation, &lan).await;
        assert_eq!(runs.len(), 1, "{runs:?}");
        assert_eq!(runs[0]["status"], "done");
        let member = app.get(&format!("/api/v1/members/{lan}")).await;
        assert_eq!(member.body["tags"], json!(["than-thiet"]));
        // Still in it an hour later: nothing more.
        app.clock.advance(SignedDuration::from_mins(61));
        start_passes(&app).await;
        assert_eq!(runs_of(&app, &automation, &lan).await.len(), 1);
        // Out, then in again: a second entry, a second run.
        adjust(&app, &lan, -50).await;
        app.clock.advance(SignedDuration::from_mins(61));
        start_passes(&app).await;
        adjust(&app, &lan, 50).await;
        app.clock.advance(SignedDuration::from_mins(61));
        start_passes(&app).await;
        assert_eq!(runs_of(&app, &automation, &lan).await.len(), 2);
        assert!(runs_of(&app, &automation, &old).await.is_empty());
    }

    async fn a_send_step_falls_back_to_its_next_channel(db) {
        let app = spawn_app(db).await;
        app.clock.set(MORNING.parse::<Timestamp>().unwrap());
        let (first, second) = (ProviderDouble::start().await, ProviderDouble::start().await);
        let (one, two) = (esms(&app, &first).await, esms(&app, &second).await);
        first.refuse("0901234567");
        let created = app.post("/api/v1/automations", json!({"name": "Cảm ơn",
            "trigger": {"type": "order_paid"},
            "steps": [{"type": "send", "purpose": "customer_care", "channels": [
                {"channel_id": one, "template": {"text": "Kenh mot {{ member.first_name }}"}},
                {"channel_id": two, "template": {"text": "Kenh hai {{ member.first_name }}"}}]}]})).await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        let lan = app.post("/api/v1/members", json!({"phone": "0901234567", "name": "Trần Thị Lan"})).await;
        let lan = lan.body["id"].as_str().unwrap().to_string();
        app.post("/api/v1/orders", order(&lan, "HD-1")).await;
        until_received(&app, &second, 1).await;
        assert_eq!(second.received()[0].content, "Kenh hai Lan", "the second channel's own template");
        passes(&app, 5).await;
        assert_eq!((first.requests(), first.received().len()), (1, 0), "refused there for good");
        assert_eq!(second.received().len(), 1);
    }

    async fn a_webhook_step_posts_signed_and_tries_again_after_a_failure(db) {
        let app = spawn_app(db).await;
        app.clock.set(MORNING.parse::<Timestamp>().unwrap());
        let receiver = common::receiver::Receiver::default();
        let url = receiver.start().await;
        // An address that is not one of the shop's webhooks is refused (nothing to sign with).
        let refused = app.post("/api/v1/automations", json!({"name": "Báo CRM",
            "trigger": {"type": "order_paid"}, "steps": [{"type": "webhook", "url": url}]})).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", refused.body);
        assert_eq!(refused.body["errors"][0]["field"], "steps[0].url");
        let hook = app.post("/api/v1/webhooks", json!({"url": url, "events": ["voucher.redeemed"]})).await;
        assert_eq!(hook.status, StatusCode::CREATED, "{:?}", hook.body);
        let secret = hook.body["secret"].as_str().unwrap().to_string();
        let created = app.post("/api/v1/automations", json!({"name": "Báo CRM",
            "trigger": {"type": "order_paid"},
            "steps": [{"type": "webhook", "url": url}, {"type": "tag", "add": ["da-bao"]}]})).await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        let automation = created.body["id"].as_str().unwrap().to_string();
        receiver.fail_first.store(1, std::sync::atomic::Ordering::SeqCst);
        let lan = app.post("/api/v1/members", json!({"phone": "0901234567", "name": "Trần Thị Lan"})).await;
        let lan = lan.body["id"].as_str().unwrap().to_string();
        app.post("/api/v1/orders", order(&lan, "HD-1")).await;

        receiver.wait_for("the first call", |got| got.iter().any(|r| r.event_type == "automation.webhook")).await;
        passes(&app, 5).await;
        let runs = runs_of(&app, &automation, &lan).await;
        assert_eq!((runs[0]["status"].as_str(), runs[0]["step"].as_i64()), (Some("waiting"), Some(0)), "{runs:?}");
        assert_eq!(receiver.received().len(), 1, "not again before its minute");
        app.clock.advance(SignedDuration::from_secs(61));
        let got = receiver.wait_for("the second call", |got| got.len() >= 2).await;
        assert_eq!(got[0].event_id, got[1].event_id, "a repeat says it is one");
        assert_eq!(got[1].event_id, format!("{}.0", runs[0]["id"].as_str().unwrap()));
        assert!(loyalty_core::webhook::verify(&secret, &got[1].signature, &got[1].body), "signed with the endpoint's secret");
        let body: Value = serde_json::from_slice(&got[1].body).unwrap();
        assert_eq!(body["type"], "automation.webhook");
        assert_eq!(body["data"]["member"]["id"], lan.as_str());
        assert_eq!(body["data"]["automation_id"], automation.as_str());
        for _ in 0..50 {
            if runs_of(&app, &automation, &lan).await[0]["status"] == "done" {
                break;
            }
            passes(&app, 1).await;
        }
        assert_eq!(runs_of(&app, &automation, &lan).await[0]["status"], "done");
        passes(&app, 5).await;
        assert_eq!(receiver.received().len(), 2);
    }
}
