//! Outbound webhooks against a real HTTP receiver on 127.0.0.1, on SQLite and PostgreSQL
//! alike: signed deliveries of every event, in order per member, retries, replay, the test
//! ping, and the refusal of private addresses without `--allow-private-webhooks`.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::receiver::Receiver;
use common::{FeedReader, TestApp, spawn_app};
use jiff::SignedDuration;
use loyalty_app::Ctx;
use loyalty_core::webhook::{WebhookIn, verify};
use loyalty_store::on_both_backends;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn endpoint(app: &TestApp, url: &str, events: Value) -> (String, String) {
    let created = app
        .post(
            "/api/v1/webhooks",
            json!({"url": url, "events": events, "description": "Kho dữ liệu"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.body["active"], true);
    let secret = created.body["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    (created.body["id"].as_str().unwrap().to_string(), secret)
}

fn order(member: &str, external_id: &str, total: i64) -> Value {
    json!({"source": "pos", "external_id": external_id, "member_id": member, "total": total, "store": "HN01"})
}

on_both_backends! {
    async fn every_event_is_delivered_signed_and_in_order_per_member(db) {
        let app = spawn_app(db).await;
        let receiver = Receiver::default();
        let url = receiver.start().await;
        let start = app.get("/api/v1/events?limit=500").await;
        let mut feed = FeedReader::after(start.body["poll_cursor"].as_str().unwrap_or("0.0"));
        let (id, secret) = endpoint(&app, &url, json!(["*"])).await;
        // The secret is stored sealed, never in clear.
        assert_eq!(app.count("webhooks").await, 1);

        let (lan, binh) = (app.new_member("0901234567").await, app.new_member("0912345678").await);
        let paid = app.post("/api/v1/orders", order(&lan, "HN01-1", 250_000)).await;
        assert_eq!(paid.status, StatusCode::CREATED, "{:?}", paid.body);
        app.post("/api/v1/orders", order(&binh, "HN01-2", 120_000)).await;
        app.post(&format!("/api/v1/members/{lan}/points/adjustments"), json!({"points": 30, "reason": "Xin lỗi vì chờ lâu"})).await;
        let order_id = paid.body["id"].as_str().unwrap();
        app.post(&format!("/api/v1/orders/{order_id}/refunds"), json!({"external_id": "R1", "amount": 50_000})).await;
        app.post(&format!("/api/v1/orders/{order_id}/cancel"), json!({})).await;
        app.patch(&format!("/api/v1/members/{binh}"), json!({"name": "Trần Thị Bình"})).await;

        // Everything the feed holds from here on reaches the receiver.
        let expected = feed.new_events(&app).await;
        assert!(expected.len() >= 10, "{expected:?}");
        let wanted: Vec<String> = expected.iter().map(|e| e["id"].as_str().unwrap().to_string()).collect();
        let got = receiver.wait_for("every event", |got| wanted.iter().all(|w| got.iter().any(|g| &g.event_id == w))).await;
        let types: std::collections::BTreeSet<&str> = got.iter().map(|g| g.event_type.as_str()).collect();
        for kind in ["member.created", "member.updated", "member.activated", "order.paid", "points.earned",
                     "points.adjusted", "order.refunded", "order.cancelled"] {
            assert!(types.contains(kind), "{kind} delivered: {types:?}");
        }
        for r in &got {
            assert!(verify(&secret, &r.signature, &r.body), "a signature that verifies: {}", r.signature);
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(body["id"], r.event_id.as_str());
            assert_eq!(body["type"], r.event_type.as_str());
            assert!(!verify("whsec_other", &r.signature, &r.body));
        }
        // Per member, the order the events happened in.
        for member in [&lan, &binh] {
            let happened: Vec<&str> = expected.iter()
                .filter(|e| serde_json::to_string(&e["data"]).unwrap().contains(member.as_str()))
                .map(|e| e["id"].as_str().unwrap()).collect();
            let arrived: Vec<&str> = got.iter().map(|g| g.event_id.as_str()).filter(|id| happened.contains(id)).collect();
            assert_eq!(arrived, happened, "events of {member} in order");
        }
        let deliveries = app.get(&format!("/api/v1/webhooks/{id}/deliveries?limit=500")).await;
        assert!(deliveries.body["items"].as_array().unwrap().iter().all(|d| d["status"] == "delivered" && d["attempts"] == 1));
        app.assert_verified().await;
    }

    async fn a_failing_receiver_gets_the_event_again_until_it_answers_then_replay_and_ping_work(db) {
        let app = spawn_app(db).await;
        let receiver = Receiver::default();
        let url = receiver.start().await;
        let (id, secret) = endpoint(&app, &url, json!(["member.*"])).await;
        receiver.fail_first.store(2, Ordering::SeqCst);
        let lan = app.new_member("0901234567").await;

        receiver.wait_for("the first attempt", |got| got.len() == 1).await;
        // The retries wait 8 s and then 45 s (with jitter): move the clock past each.
        app.clock.advance(SignedDuration::from_secs(11));
        app.app.wake_queue();
        receiver.wait_for("the second attempt", |got| got.len() == 2).await;
        app.clock.advance(SignedDuration::from_secs(60));
        app.app.wake_queue();
        let got = receiver.wait_for("the third attempt", |got| got.len() == 3).await;
        assert!(got.iter().all(|g| g.event_id == got[0].event_id && g.event_type == "member.created"));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(receiver.received().len(), 3, "delivered once it answered 200: no more attempts");
        let deliveries = app.get(&format!("/api/v1/webhooks/{id}/deliveries")).await;
        let delivery = &deliveries.body["items"][0];
        assert_eq!(delivery["status"], "delivered", "{delivery}");
        assert_eq!(delivery["attempts"], 3);
        assert_eq!(delivery["last_status_code"], 200);

        let replayed = app.post(&format!("/api/v1/webhooks/{id}/deliveries/{}/replay", delivery["id"].as_str().unwrap()), json!({})).await;
        assert_eq!(replayed.status, StatusCode::OK, "{:?}", replayed.body);
        let got = receiver.wait_for("the replay", |got| got.len() == 4).await;
        assert_eq!(got[3].event_id, got[0].event_id);
        assert!(verify(&secret, &got[3].signature, &got[3].body));

        // The test ping is answered at once and sent by the queue.
        let ping = app.post(&format!("/api/v1/webhooks/{id}/test"), json!({})).await;
        assert_eq!(ping.status, StatusCode::ACCEPTED, "{:?}", ping.body);
        assert_eq!(ping.body["status"], "pending");
        let got = receiver.wait_for("the ping", |got| got.len() == 5).await;
        assert_eq!(got[4].event_type, "ping");
        assert!(verify(&secret, &got[4].signature, &got[4].body));
        let ping_id = ping.body["id"].as_str().unwrap().to_string();
        let settled = |items: &Value| items.as_array().unwrap().iter().find(|d| d["id"] == ping_id.as_str()).cloned();
        let mut shown = None;
        for _ in 0..100 {
            shown = settled(&app.get(&format!("/api/v1/webhooks/{id}/deliveries")).await.body["items"]);
            if shown.as_ref().is_some_and(|d| d["status"] == "delivered") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(shown.unwrap()["status"], "delivered");

        // A replay while a later event of the same member waits for its retry: the replayed one
        // goes first, then the later one, each once more.
        receiver.fail_first.store(1, Ordering::SeqCst);
        app.patch(&format!("/api/v1/members/{lan}"), json!({"name": "Lan"})).await;
        let got = receiver.wait_for("the update's failed attempt", |got| got.len() == 6).await;
        assert_eq!(got[5].event_type, "member.updated");
        app.post(&format!("/api/v1/webhooks/{id}/deliveries/{}/replay", delivery["id"].as_str().unwrap()), json!({})).await;
        app.clock.advance(SignedDuration::from_secs(11));
        app.app.wake_queue();
        let got = receiver.wait_for("the replay, then the update", |got| got.len() == 8).await;
        assert_eq!((got[6].event_type.as_str(), got[7].event_type.as_str()), ("member.created", "member.updated"));
        // The receiver has the request a moment before the sender records its answer.
        let mut pending = app.get(&format!("/api/v1/webhooks/{id}/deliveries")).await;
        for _ in 0..50 {
            if pending.body["items"].as_array().unwrap().iter().all(|d| d["status"] == "delivered") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            pending = app.get(&format!("/api/v1/webhooks/{id}/deliveries")).await;
        }
        assert!(pending.body["items"].as_array().unwrap().iter().all(|d| d["status"] == "delivered"), "{}", pending.body);

        // Switched off, an endpoint gets no events, but a test ping still reaches it (to
        // check it before switching it on again), once, even when it fails: no retries.
        let off = app.patch(&format!("/api/v1/webhooks/{id}"), json!({"active": false})).await;
        assert_eq!(off.body["active"], false);
        assert!(off.body.get("secret").is_none());
        app.new_member("0912345678").await;
        receiver.fail_first.store(5, Ordering::SeqCst);
        let ping = app.post(&format!("/api/v1/webhooks/{id}/test"), json!({})).await;
        let got = receiver.wait_for("the ping to the switched-off endpoint", |got| got.len() == 9).await;
        assert_eq!(got[8].event_type, "ping");
        app.clock.advance(SignedDuration::from_secs(3600));
        app.app.wake_queue();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(receiver.received().len(), 9, "no events while off, and a failed ping is not retried");
        let log = app.get(&format!("/api/v1/webhooks/{id}/deliveries")).await;
        let failed = log.body["items"].as_array().unwrap().iter().find(|d| d["id"] == ping.body["id"]).cloned().unwrap();
        assert_eq!((failed["status"].as_str(), failed["attempts"].as_i64()), (Some("failed"), Some(1)));
        let health = app.get(&format!("/api/v1/webhooks/{id}")).await;
        assert_eq!(health.body["failing_since"], Value::Null, "a test says nothing about the endpoint's health");
        let deleted = app.request(reqwest::Method::DELETE, &format!("/api/v1/webhooks/{id}"), Some(&app.key), None).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        assert_eq!(app.get(&format!("/api/v1/webhooks/{id}")).await.status, StatusCode::NOT_FOUND);
    }

    async fn two_instances_send_a_backlog_once_each_in_order_per_member(db) {
        let app = spawn_app(db).await;
        let receiver = Receiver::default();
        let url = receiver.start().await;
        let (id, _) = endpoint(&app, &url, json!(["points.*"])).await;
        app.patch(&format!("/api/v1/webhooks/{id}"), json!({"active": false})).await;
        let mut members = Vec::new();
        for n in 0..30 {
            members.push(app.new_member(&format!("09012{n:05}")).await);
        }
        for round in 1..=4 {
            for member in &members {
                let given = app.post(&format!("/api/v1/members/{member}/points/adjustments"),
                                     json!({"points": round, "reason": format!("Lần {round}")})).await;
                assert_eq!(given.status, StatusCode::CREATED, "{:?}", given.body);
            }
        }
        // A second instance on the same database, with its own runner and senders: the
        // endpoint's sender lease lets one of them send at a time.
        let other = app.app.clone().with_private_webhooks(true);
        let other_queue = other.start_queue();
        app.patch(&format!("/api/v1/webhooks/{id}"), json!({"active": true})).await;

        let got = receiver.wait_for("the backlog", |got| got.len() >= 120).await;
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let got_all = receiver.received();
        assert_eq!(got_all.len(), 120, "each event once");
        let unique: std::collections::HashSet<&str> = got.iter().map(|g| g.event_id.as_str()).collect();
        assert_eq!(unique.len(), 120);
        for member in &members {
            let rounds: Vec<i64> = got_all.iter()
                .map(|g| serde_json::from_slice::<Value>(&g.body).unwrap())
                .filter(|b| b["data"]["member_id"] == member.as_str())
                .map(|b| b["data"]["entry"]["points"].as_i64().unwrap_or_default())
                .collect();
            assert_eq!(rounds, vec![1, 2, 3, 4], "{member}'s events in the order they happened");
        }
        other_queue.stop().await;
    }

    async fn private_targets_are_refused_without_the_flag_and_bad_endpoints_name_their_field(db) {
        let app = spawn_app(db).await;
        let strict = app.app.clone().with_private_webhooks(false);
        let ctx = Ctx::cli(&app.tenant_id);
        for url in ["http://127.0.0.1:9/hook", "http://localhost/hook", "http://192.168.1.20/hook", "http://169.254.169.254/latest"] {
            let refused = strict
                .create_webhook(&ctx, WebhookIn { url: url.into(), events: vec!["order.paid".into()], description: None })
                .await
                .unwrap_err();
            assert_eq!(refused.field_errors()[0].code, "url.private_address", "{url}");
        }
        let bad = app.post("/api/v1/webhooks", json!({"url": "ftp://x.vn", "events": ["order.shipped"]})).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(bad.error_field(), "url");
        assert_eq!(bad.body["errors"][1]["field"], "events[0]");
        let reader = app.key_with(&["pos"]).await;
        let forbidden = app.request(reqwest::Method::GET, "/api/v1/webhooks", Some(&reader), None).await;
        assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
        assert_eq!(app.count("webhooks").await, 0);
    }

    async fn a_server_with_another_key_or_none_refuses_to_start_once_secrets_are_stored(db) {
        let app = spawn_app(db).await;
        let clock = std::sync::Arc::new(loyalty_core::clock::SystemClock);
        let other = || loyalty_app::App::new(app.app.db().clone(), clock.clone());
        // No secret stored yet: any key, or none, will do.
        assert!(other().check_secret_key().await.is_ok());
        let receiver = Receiver::default();
        endpoint(&app, &receiver.start().await, json!(["*"])).await;
        assert!(app.app.check_secret_key().await.is_ok(), "the key that sealed them");
        let wrong = other().with_secret_key(Some(loyalty_app::secrets::SecretKey::generate().0));
        assert!(wrong.check_secret_key().await.is_err(), "another key");
        assert!(other().check_secret_key().await.is_err(), "no key");
    }
}
