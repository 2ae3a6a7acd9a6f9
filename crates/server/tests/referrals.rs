//! Referral on SQLite and PostgreSQL (API.md "Referral"): a friend referred at registration or
//! by the till after the referrer's purchase; both rewarded once, in the friend's qualifying
//! order — also when that order is posted 20 times at once; the refusals; the monthly cap; a
//! cancel or full refund within the window taking both rewards back; the report.

mod common;

use common::{Reply, TestApp, spawn_app};
use jiff::Timestamp;
use loyalty_store::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// 10:00 in Hà Nội on 7 December 2026.
const MORNING: &str = "2026-12-07T03:00:00Z";

async fn enable(app: &TestApp, referral: Value) {
    let mut program = app.get("/api/v1/program").await.body;
    program["referral"] = referral;
    let put = app
        .request(
            Method::PUT,
            "/api/v1/program",
            Some(&app.key),
            Some(program),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
}

fn paid(member_id: &str, external_id: &str, total: i64) -> Value {
    json!({"source": "pos", "external_id": external_id, "member_id": member_id, "store": "HN01", "channel": "pos",
           "lines": [{"sku": "CF-001", "name": "Cà phê sữa", "category": "drinks", "quantity": 1, "unit_price": total}],
           "total": total})
}

async fn available(app: &TestApp, member_id: &str) -> i64 {
    let reply = app.get(&format!("/api/v1/members/{member_id}")).await;
    reply.body["points"]["available"].as_i64().unwrap()
}

async fn referrals_of(app: &TestApp, member_id: &str) -> Vec<Value> {
    let reply = app
        .get(&format!("/api/v1/referrals?member_id={member_id}"))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    reply.body.as_array().unwrap().clone()
}

async fn refer_at_till(app: &TestApp, referrer: Value, phone: &str) -> Reply {
    app.post(
        "/api/v1/referrals",
        json!({"referrer": referrer, "friend": {"phone": phone, "name": "Bạn mới"}}),
    )
    .await
}

/// The member's referral code, as the portal shows it to them.
async fn code_of(app: &TestApp, member_id: &str) -> String {
    let reply = app
        .get(&format!("/api/v1/members/{member_id}/referral"))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let code = reply.body["code"].as_str().unwrap().to_string();
    assert_eq!(code.len(), 8);
    let again = app
        .get(&format!("/api/v1/members/{member_id}/referral"))
        .await;
    assert_eq!(again.body["code"], code.as_str(), "one code per member");
    code
}

on_both_backends! {
    async fn a_friend_registered_with_a_code_completes_on_a_qualifying_order_and_both_are_rewarded_once(db) {
        let app = spawn_app(db).await;
        app.clock.set(MORNING.parse::<Timestamp>().unwrap());
        let voucher_program = app.post("/api/v1/voucher-programs", json!({"name": "Chào bạn mới", "type": "fixed", "value": 30000,
            "codes": {"kind": "unique", "prefix": "BM-", "length": 8}})).await;
        assert_eq!(voucher_program.status, StatusCode::CREATED, "{:?}", voucher_program.body);
        let voucher_program = voucher_program.body["id"].as_str().unwrap();
        enable(&app, json!({"enabled": true, "referrer_reward": {"points": 100},
            "friend_reward": {"voucher_program_id": voucher_program}, "min_order": 100000})).await;
        // A journey thanks the member who referred, once the referral completes.
        let journey = app.post("/api/v1/automations", json!({"name": "Cảm ơn người giới thiệu",
            "trigger": {"type": "referral_completed"}, "steps": [{"type": "give_points", "points": 10, "reason": "cảm ơn"}]})).await;
        assert_eq!(journey.status, StatusCode::CREATED, "{:?}", journey.body);
        let lan = app.new_member("0901234567").await;
        let code = code_of(&app, &lan).await;

        // An unknown code is named; a good one makes a pending referral.
        let unknown = app.post("/api/v1/members", json!({"phone": "0912000001", "referred_by": "ZZZZZZZZ"})).await;
        assert_eq!((unknown.status, unknown.error_field()), (StatusCode::UNPROCESSABLE_ENTITY, "referred_by"));
        assert_eq!(app.count("members").await, 1, "a refused registration writes nothing");
        let minh = app.post("/api/v1/members", json!({"phone": "0912000001", "referred_by": code.to_lowercase()})).await;
        assert_eq!(minh.status, StatusCode::CREATED, "{:?}", minh.body);
        let minh = minh.body["id"].as_str().unwrap().to_string();
        let made = referrals_of(&app, &lan).await;
        assert_eq!(made.len(), 1);
        assert_eq!((made[0]["status"].as_str(), made[0]["friend_id"].as_str(), made[0]["source"].as_str()),
            (Some("pending"), Some(minh.as_str()), Some("registration")));

        // Below the minimum the order does not complete it; the next qualifying one does, once,
        // also when it is posted 20 times at once.
        let small = app.post("/api/v1/orders", paid(&minh, "HN01-1", 50_000)).await;
        assert_eq!(small.status, StatusCode::CREATED, "{:?}", small.body);
        assert_eq!(referrals_of(&app, &lan).await[0]["status"], "pending");
        let body = paid(&minh, "HN01-2", 150_000);
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (client, url, key, body) = (app.client.clone(), format!("{}/api/v1/orders", app.base), app.key.clone(), body.clone());
            tasks.push(tokio::spawn(async move {
                client.post(url).bearer_auth(key).json(&body).send().await.unwrap().status()
            }));
        }
        let mut created = 0;
        for task in tasks {
            match task.await.unwrap() {
                StatusCode::CREATED => created += 1,
                StatusCode::OK => {}
                other => panic!("unexpected {other}"),
            }
        }
        assert_eq!(created, 1);
        let done = &referrals_of(&app, &lan).await[0];
        assert_eq!(done["status"], "completed");
        assert_eq!(done["referrer_reward"]["points"], 100);
        let friend_code = done["friend_reward"]["voucher_code"].as_str().unwrap().to_string();
        assert!(friend_code.starts_with("BM-"));
        assert_eq!(available(&app, &lan).await, 100, "the referrer's points, once");
        let vouchers = app.get(&format!("/api/v1/members/{minh}/vouchers")).await;
        let codes: Vec<&str> = vouchers.body["items"].as_array().unwrap().iter().filter_map(|v| v["code"].as_str()).collect();
        assert_eq!(codes, vec![friend_code.as_str()], "the friend's voucher, once");
        // A later order of the friend gives nothing more.
        let later = app.post("/api/v1/orders", paid(&minh, "HN01-3", 500_000)).await;
        assert_eq!(later.status, StatusCode::CREATED);
        assert_eq!(available(&app, &lan).await, 100);
        let events = app.event_types().await;
        assert_eq!(events.iter().filter(|e| *e == "referral.completed").count(), 1);
        for _ in 0..100 {
            if available(&app, &lan).await == 110 {
                break;
            }
            app.app.wake_queue();
            tokio::time::sleep(std::time::Duration::from_millis(60)).await;
        }
        assert_eq!(available(&app, &lan).await, 110, "the referral_completed journey thanked the referrer once");

        let report = app.get("/api/v1/reports/referrals?from=2026-12-01&to=2026-12-31").await;
        assert_eq!(report.status, StatusCode::OK, "{:?}", report.body);
        assert_eq!((report.body["referrers"].as_i64(), report.body["friends"].as_i64(), report.body["completed"].as_i64()),
            (Some(1), Some(1), Some(1)));
        assert_eq!((report.body["points_given"].as_i64(), report.body["points_cost"].as_i64(), report.body["vouchers_given"].as_i64()),
            (Some(100), Some(100_000), Some(1)));
        assert_eq!(report.body["friends_orders"], 3);
        assert_eq!(report.body["friends_revenue"], 700_000);
        app.assert_verified().await;
        app.stop().await;
    }

    async fn the_till_refers_a_friend_after_payment_and_the_refusals_hold(db) {
        let app = spawn_app(db).await;
        app.clock.set(MORNING.parse::<Timestamp>().unwrap());
        // Switched off, a referral is refused with its reason.
        let lan = app.new_member("0901234567").await;
        let off = refer_at_till(&app, json!({"phone": "0901234567"}), "0933000001").await;
        assert_eq!((off.status, off.body["reason"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("referral_disabled")));
        enable(&app, json!({"enabled": true, "referrer_reward": {"points": 50}, "friend_reward": {"points": 20},
            "max_per_referrer_per_month": 2})).await;
        let paid_order = app.post("/api/v1/orders", paid(&lan, "HN01-1", 100_000)).await;
        assert_eq!(paid_order.status, StatusCode::CREATED);
        let before = available(&app, &lan).await;

        // The friend's phone after payment registers them, referred.
        let made = refer_at_till(&app, json!({"phone": "0901234567"}), "0933000001").await;
        assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
        assert_eq!((made.body["status"].as_str(), made.body["source"].as_str()), (Some("pending"), Some("pos")));
        let friend = made.body["friend_id"].as_str().unwrap().to_string();
        let found = app.get(&format!("/api/v1/members/{friend}")).await;
        assert_eq!(found.body["name"], "Bạn mới");

        // Self-referral, a friend already referred, a friend who has bought, the monthly cap.
        let member_code = app.get(&format!("/api/v1/members/{lan}")).await.body["member_code"].as_str().unwrap().to_string();
        let myself = refer_at_till(&app, json!({"member_code": member_code}), "0901234567").await;
        assert_eq!(myself.body["reason"], "self_referral", "{:?}", myself.body);
        let minh = app.new_member("0944000001").await;
        let again = refer_at_till(&app, json!({"member_id": minh}), "0933000001").await;
        assert_eq!(again.body["reason"], "already_referred", "{:?}", again.body);
        let back = refer_at_till(&app, json!({"member_id": friend}), "0901234567").await;
        assert_eq!(back.body["reason"], "self_referral", "a pair referring each other: {:?}", back.body);
        let buyer = app.new_member("0965000001").await;
        let bought = app.post("/api/v1/orders", paid(&buyer, "HN01-2", 100_000)).await;
        assert_eq!(bought.status, StatusCode::CREATED);
        let has_orders = refer_at_till(&app, json!({"member_id": lan}), "0965000001").await;
        assert_eq!(has_orders.body["reason"], "friend_has_orders", "{:?}", has_orders.body);
        let second = refer_at_till(&app, json!({"member_id": lan}), "0933000002").await;
        assert_eq!(second.status, StatusCode::CREATED, "{:?}", second.body);
        let capped = refer_at_till(&app, json!({"member_id": lan}), "0933000003").await;
        assert_eq!((capped.status, capped.body["reason"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("monthly_cap")));
        // A registration naming a capped referrer is refused and registers nobody.
        let members = app.count("members").await;
        let capped = app.post("/api/v1/members", json!({"phone": "0933000004", "referred_by": "0901234567"})).await;
        assert_eq!((capped.status, capped.body["reason"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("monthly_cap")));
        assert_eq!(app.count("members").await, members);
        // Next month (Hà Nội time) the cap starts again.
        app.clock.set("2026-12-31T17:00:00Z".parse::<Timestamp>().unwrap());
        let next_month = refer_at_till(&app, json!({"member_id": lan}), "0933000003").await;
        assert_eq!(next_month.status, StatusCode::CREATED, "{:?}", next_month.body);

        // The friend's order completes it: both rewards in that order's transaction.
        let first = app.post("/api/v1/orders", paid(&friend, "HN01-3", 60_000)).await;
        assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
        assert_eq!(first.body["member"]["points"]["available"], 6 + 20, "the receipt shows the friend's reward");
        assert_eq!(available(&app, &lan).await, before + 50);
        app.assert_verified().await;
        app.stop().await;
    }

    async fn a_cancel_within_the_window_reverses_both_and_a_late_one_does_not(db) {
        let app = spawn_app(db).await;
        app.clock.set(MORNING.parse::<Timestamp>().unwrap());
        enable(&app, json!({"enabled": true, "referrer_reward": {"points": 100}, "friend_reward": {"points": 40},
            "clawback_days": 30})).await;
        let lan = app.new_member("0901234567").await;
        let code = code_of(&app, &lan).await;
        let register = |phone: &'static str| {
            let code = code.clone();
            let app = &app;
            async move {
                let made = app.post("/api/v1/members", json!({"phone": phone, "referred_by": code})).await;
                assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
                made.body["id"].as_str().unwrap().to_string()
            }
        };
        let minh = register("0912000001").await;
        let hoa = register("0912000002").await;
        let order = app.post("/api/v1/orders", paid(&minh, "A-1", 100_000)).await;
        let order_id = order.body["id"].as_str().unwrap().to_string();
        assert_eq!(available(&app, &lan).await, 100);
        assert_eq!(available(&app, &minh).await, 10 + 40);
        // The referrer spends part of the reward: taking it back leaves them in debt, exactly.
        let spent = app.post(&format!("/api/v1/members/{lan}/points/adjustments"), json!({"points": -70, "reason": "test"})).await;
        assert_eq!(spent.status, StatusCode::CREATED, "{:?}", spent.body);

        app.clock.set("2026-12-20T03:00:00Z".parse::<Timestamp>().unwrap());
        let cancelled = app.post(&format!("/api/v1/orders/{order_id}/cancel"), json!({})).await;
        assert_eq!(cancelled.status, StatusCode::OK, "{:?}", cancelled.body);
        let reversed = &referrals_of(&app, &minh).await[0];
        assert_eq!(reversed["status"], "reversed");
        assert_eq!(available(&app, &minh).await, 0, "the friend's order points and reward both taken back");
        let lan_points = app.get(&format!("/api/v1/members/{lan}")).await.body["points"].clone();
        assert_eq!((lan_points["available"].as_i64(), lan_points["debt"].as_i64()), (Some(0), Some(70)), "{lan_points}");
        assert!(app.event_types().await.iter().any(|e| e == "referral.reversed"));

        // Completed on the 7th, refunded in full 31 days later: past the window, kept.
        app.clock.set(MORNING.parse::<Timestamp>().unwrap());
        let order = app.post("/api/v1/orders", paid(&hoa, "A-2", 100_000)).await;
        let order_id = order.body["id"].as_str().unwrap().to_string();
        app.clock.set("2027-01-07T03:00:01Z".parse::<Timestamp>().unwrap());
        let refund = app.post(&format!("/api/v1/orders/{order_id}/refunds"), json!({"external_id": "R-1", "amount": 100_000})).await;
        assert_eq!(refund.status, StatusCode::OK, "{:?}", refund.body);
        assert_eq!(referrals_of(&app, &hoa).await[0]["status"], "completed");
        app.assert_verified().await;
        app.stop().await;
    }
}
