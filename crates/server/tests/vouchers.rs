//! Vouchers, rewards and paying with points over HTTP, on SQLite and PostgreSQL alike.

mod common;

use common::{TestApp, spawn_app};
use jiff::SignedDuration;
use loyalty_store::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn program(app: &TestApp, body: Value) -> String {
    let reply = app.post("/api/v1/voucher-programs", body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    reply.body["id"].as_str().unwrap().to_string()
}

async fn codes(
    app: &TestApp,
    program_id: &str,
    count: i64,
    member_id: Option<&str>,
) -> Vec<String> {
    let reply = app
        .post(
            &format!("/api/v1/voucher-programs/{program_id}/codes"),
            json!({"count": count, "member_id": member_id}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    reply.body["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect()
}

async fn member(app: &TestApp, phone: &str) -> String {
    app.post("/api/v1/members", json!({"phone": phone}))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn tet(now: jiff::Timestamp) -> Value {
    json!({"name": "Tết 2026", "type": "percent", "value": 10, "max_discount": 50000, "min_order": 100000,
           "valid_from": (now - SignedDuration::from_hours(24)).to_string(), "valid_until": (now + SignedDuration::from_hours(24 * 30)).to_string(),
           "limits": {"total_uses": 1000, "uses_per_member": 1},
           "codes": {"kind": "unique", "prefix": "TET-", "length": 8}})
}

fn order(total: i64) -> Value {
    json!({"total": total, "store": "HN01", "channel": "pos"})
}

async fn validate(app: &TestApp, code: &str, member_id: Option<&str>, order: Value) -> Value {
    let reply = app
        .post(
            "/api/v1/vouchers/validate",
            json!({"code": code, "member_id": member_id, "order": order}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    reply.body
}

on_both_backends! {
    async fn codes_are_unique_readable_and_checked_for_every_reason(db) {
        let app = spawn_app(db).await;
        let now = app.app.now();
        let id = program(&app, tet(now)).await;
        let made = codes(&app, &id, 500, None).await;
        assert_eq!(made.len(), 500);
        let distinct: std::collections::HashSet<&String> = made.iter().collect();
        assert_eq!(distinct.len(), 500);
        for code in &made {
            let body = code.strip_prefix("TET-").unwrap();
            assert_eq!(body.len(), 8);
            assert!(body.bytes().all(|b| loyalty_core::code::ALPHABET.contains(&b)), "{code}");
        }
        let code = &made[0];
        assert_eq!(validate(&app, code, None, order(250_000)).await, json!({"valid": true, "discount": 25000, "reason": null}));
        assert_eq!(validate(&app, &code.to_lowercase(), None, order(900_000)).await["discount"], 50000, "codes are case-insensitive; the cap holds");
        assert_eq!(validate(&app, "TET-NOPE2345", None, order(250_000)).await["reason"], "not_found");
        assert_eq!(validate(&app, code, None, order(99_000)).await["reason"], "min_order_not_met");

        let later = program(&app, json!({"name": "Later", "type": "fixed", "value": 20000, "valid_from": (now + SignedDuration::from_hours(48)).to_string(), "codes": {"kind": "unique", "length": 8}})).await;
        assert_eq!(validate(&app, &codes(&app, &later, 1, None).await[0], None, order(100_000)).await["reason"], "not_started");
        let over = program(&app, json!({"name": "Over", "type": "fixed", "value": 20000, "valid_until": (now - SignedDuration::from_hours(1)).to_string(), "valid_from": (now - SignedDuration::from_hours(48)).to_string(), "codes": {"kind": "unique", "length": 8}})).await;
        assert_eq!(validate(&app, &codes(&app, &over, 1, None).await[0], None, order(100_000)).await["reason"], "expired");
        let scoped = program(&app, json!({"name": "HCM only", "type": "fixed", "value": 20000, "scope": {"stores": ["HCM01"]}, "codes": {"kind": "unique", "length": 8}})).await;
        assert_eq!(validate(&app, &codes(&app, &scoped, 1, None).await[0], None, order(100_000)).await["reason"], "not_in_scope");

        let owner = member(&app, "0912300001").await;
        let stranger = member(&app, "0912300002").await;
        let mine = codes(&app, &id, 1, Some(&owner)).await.remove(0);
        assert_eq!(validate(&app, &mine, Some(&stranger), order(200_000)).await["reason"], "not_owner");
        assert_eq!(validate(&app, &mine, Some(&owner), order(200_000)).await["valid"], true);

        let redeemed = app.post("/api/v1/vouchers/redeem", json!({"code": code, "member_id": owner, "order_ref": "pos:A-1", "order": order(250_000)})).await;
        assert_eq!(redeemed.status, StatusCode::OK, "{:?}", redeemed.body);
        assert_eq!(redeemed.body["discount"], 25000);
        let same = app.post("/api/v1/vouchers/redeem", json!({"code": code, "member_id": owner, "order_ref": "pos:A-1", "order": order(250_000)})).await;
        assert_eq!(same.body["redemption_id"], redeemed.body["redemption_id"], "the same order_ref gets the same answer");
        assert_eq!(validate(&app, code, None, order(250_000)).await["reason"], "used");
        let again = app.post("/api/v1/vouchers/redeem", json!({"code": code, "order_ref": "pos:A-2", "order": order(250_000)})).await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        assert_eq!(again.body["code"], "used");
        // The member already used the program once (uses_per_member 1).
        assert_eq!(validate(&app, &made[1], Some(&owner), order(250_000)).await["reason"], "member_limit_reached");
        let released = app.post(&format!("/api/v1/vouchers/redemptions/{}/release", redeemed.body["redemption_id"].as_str().unwrap()), json!({})).await;
        assert_eq!(released.body["status"], "released");
        assert_eq!(validate(&app, code, None, order(250_000)).await["valid"], true, "a released code can be used again");

        let shared = program(&app, json!({"name": "Shared", "type": "fixed", "value": 10000, "limits": {"total_uses": 1}, "codes": {"kind": "shared", "code": "chao-2026"}})).await;
        let _ = shared;
        let first = app.post("/api/v1/vouchers/redeem", json!({"code": "CHAO-2026", "order_ref": "pos:S-1", "order": order(100_000)})).await;
        assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
        assert_eq!(validate(&app, "chao-2026", None, order(100_000)).await["reason"], "usage_limit_reached");
        let paused = app.request(Method::PATCH, &format!("/api/v1/voucher-programs/{id}"), Some(&app.key), Some(json!({"active": false}))).await;
        assert_eq!(paused.body["active"], false);
        assert_eq!(validate(&app, &made[2], None, order(250_000)).await["reason"], "paused");
        app.stop().await;
    }

    async fn a_single_use_code_raced_by_a_hundred_tills_is_used_once(db) {
        let app = spawn_app(db).await;
        let id = program(&app, json!({"name": "Once", "type": "fixed", "value": 30000, "codes": {"kind": "unique", "length": 10}})).await;
        let code = codes(&app, &id, 1, None).await.remove(0);
        let mut tasks = Vec::new();
        for i in 0..100 {
            let (client, url, key, code) = (app.client.clone(), format!("{}/api/v1/vouchers/redeem", app.base), app.key.clone(), code.clone());
            tasks.push(tokio::spawn(async move {
                client.post(url).bearer_auth(key).json(&json!({"code": code, "order_ref": format!("pos:R-{i}"), "order": {"total": 100000}})).send().await.unwrap().status()
            }));
        }
        let mut ok = 0;
        for task in tasks {
            match task.await.unwrap() {
                StatusCode::OK => ok += 1,
                StatusCode::CONFLICT => {}
                other => panic!("unexpected {other}"),
            }
        }
        assert_eq!(ok, 1);
        assert_eq!(app.count("voucher_redemptions").await, 1);
        app.stop().await;
    }

    async fn a_shared_code_of_ten_uses_raced_by_fifty_clients_is_used_ten_times(db) {
        let app = spawn_app(db).await;
        program(&app, json!({"name": "Ten", "type": "fixed", "value": 10000, "limits": {"total_uses": 10}, "codes": {"kind": "shared", "code": "MUOI-LAN"}})).await;
        let mut tasks = Vec::new();
        for i in 0..50 {
            let (client, url, key) = (app.client.clone(), format!("{}/api/v1/vouchers/redeem", app.base), app.key.clone());
            tasks.push(tokio::spawn(async move {
                client.post(url).bearer_auth(key).json(&json!({"code": "muoi-lan", "order_ref": format!("web:{i}"), "order": {"total": 50000}})).send().await.unwrap().status()
            }));
        }
        let mut ok = 0;
        for task in tasks {
            if task.await.unwrap() == StatusCode::OK {
                ok += 1;
            }
        }
        assert_eq!(ok, 10);
        app.stop().await;
    }

    async fn an_order_with_an_invalid_second_voucher_is_refused_whole_and_the_first_stays_unused(db) {
        let app = spawn_app(db).await;
        let id = program(&app, json!({"name": "Stack", "type": "fixed", "value": 20000, "stacking": true, "codes": {"kind": "unique", "length": 8}})).await;
        let good = codes(&app, &id, 1, None).await.remove(0);
        let member_id = member(&app, "0912300003").await;
        let body = json!({"source": "pos", "external_id": "V-1", "member_id": member_id, "total": 180000,
                          "lines": [{"sku": "CF-001", "quantity": 2, "unit_price": 100000}], "discount": 20000,
                          "vouchers": [good, "NOPE-99999"]});
        let refused = app.post("/api/v1/orders", body.clone()).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", refused.body);
        assert_eq!(refused.body["code"], "not_found");
        assert_eq!(refused.error_field(), "vouchers[1]");
        assert_eq!(app.count("orders").await, 0);
        assert_eq!(app.count("voucher_redemptions").await, 0);
        assert_eq!(validate(&app, &good, None, order(200_000)).await["valid"], true, "the first voucher is still unused");

        let mut fixed = body;
        fixed["vouchers"] = json!([good]);
        let accepted = app.post("/api/v1/orders", fixed).await;
        assert_eq!(accepted.status, StatusCode::CREATED, "{:?}", accepted.body);
        assert_eq!(accepted.body["vouchers"][0]["discount"], 20000);
        assert_eq!(validate(&app, &good, None, order(200_000)).await["reason"], "used");
        // Cancelling the order gives the voucher back.
        let order_id = accepted.body["id"].as_str().unwrap();
        app.post(&format!("/api/v1/orders/{order_id}/cancel"), json!({})).await;
        assert_eq!(validate(&app, &good, None, order(200_000)).await["valid"], true);

        let lone = program(&app, json!({"name": "Alone", "type": "fixed", "value": 5000, "codes": {"kind": "unique", "length": 8}})).await;
        let a = codes(&app, &lone, 2, None).await;
        let not_stackable = app.post("/api/v1/orders", json!({"source": "pos", "external_id": "V-2", "total": 100000, "vouchers": [a[0], a[1]]})).await;
        assert_eq!(not_stackable.body["code"], "not_stackable");
        app.stop().await;
    }

    async fn rewards_spend_points_issue_vouchers_and_the_last_item_goes_to_one_member(db) {
        let app = spawn_app(db).await;
        let voucher_program = program(&app, json!({"name": "Đổi điểm 50k", "type": "fixed", "value": 50000, "codes": {"kind": "unique", "prefix": "DD-", "length": 8}})).await;
        let voucher_reward = app.post("/api/v1/rewards", json!({"name": "Phiếu 50.000 ₫", "points_cost": 100, "kind": "voucher", "voucher_program_id": voucher_program, "per_member_limit": 1})).await;
        assert_eq!(voucher_reward.status, StatusCode::CREATED, "{:?}", voucher_reward.body);
        let gift = app.post("/api/v1/rewards", json!({"name": "Ly sứ", "points_cost": 50, "kind": "gift", "stock": 1})).await;
        let (voucher_reward, gift) = (voucher_reward.body["id"].as_str().unwrap().to_string(), gift.body["id"].as_str().unwrap().to_string());

        let rich = member(&app, "0912300004").await;
        app.post(&format!("/api/v1/members/{rich}/points/adjustments"), json!({"points": 500, "reason": "thưởng"})).await;
        let got = app.post(&format!("/api/v1/members/{rich}/redemptions"), json!({"reward_id": voucher_reward})).await;
        assert_eq!(got.status, StatusCode::CREATED, "{:?}", got.body);
        assert_eq!(got.body["points_spent"], 100);
        let code = got.body["voucher"]["code"].as_str().unwrap().to_string();
        assert!(code.starts_with("DD-"));
        let mine = app.get(&format!("/api/v1/members/{rich}/vouchers")).await.body;
        assert_eq!(mine["items"][0]["code"], code.as_str());
        assert_eq!(mine["items"][0]["status"], "available");
        let second = app.post(&format!("/api/v1/members/{rich}/redemptions"), json!({"reward_id": voucher_reward})).await;
        assert_eq!(second.status, StatusCode::CONFLICT);
        assert_eq!(second.body["code"], "limit_reached");
        let poor = member(&app, "0912300005").await;
        let broke = app.post(&format!("/api/v1/members/{poor}/redemptions"), json!({"reward_id": gift})).await;
        assert_eq!(broke.body["code"], "insufficient_points");

        // Five members race for the last gift in stock.
        let mut racers = Vec::new();
        for i in 0..5 {
            let id = member(&app, &format!("09123001{i:02}")).await;
            app.post(&format!("/api/v1/members/{id}/points/adjustments"), json!({"points": 60, "reason": "thưởng"})).await;
            racers.push(id);
        }
        let mut tasks = Vec::new();
        for id in racers {
            let (client, url, key, gift) = (app.client.clone(), format!("{}/api/v1/members/{id}/redemptions", app.base), app.key.clone(), gift.clone());
            tasks.push(tokio::spawn(async move {
                let response = client.post(url).bearer_auth(key).json(&json!({"reward_id": gift})).send().await.unwrap();
                (response.status(), response.json::<Value>().await.unwrap())
            }));
        }
        let mut winners = 0;
        for task in tasks {
            let (status, body) = task.await.unwrap();
            match status {
                StatusCode::CREATED => winners += 1,
                StatusCode::CONFLICT => assert_eq!(body["code"], "out_of_stock"),
                other => panic!("unexpected {other}: {body}"),
            }
        }
        assert_eq!(winners, 1);
        let report = app.get(&format!("/api/v1/rewards/{gift}/report")).await.body;
        assert_eq!(report["redemptions"], 1);
        assert_eq!(report["points_spent"], 50);
        assert_eq!(report["stock_left"], 0);
        let report = app.get(&format!("/api/v1/voucher-programs/{voucher_program}/report")).await.body;
        assert_eq!(report["issued"], 1);
        assert_eq!(report["redeemed"], 0);
        let verify = app.app.verify().await.unwrap();
        assert!(verify.problems.is_empty(), "{:?}", verify.problems);
        app.stop().await;
    }

    async fn a_program_report_counts_uses_discounts_and_revenue_by_day(db) {
        let app = spawn_app(db).await;
        let id = program(&app, json!({"name": "Report", "type": "percent", "value": 10, "codes": {"kind": "unique", "length": 8}})).await;
        let made = codes(&app, &id, 4, None).await;
        for (i, code) in made.iter().take(3).enumerate() {
            let reply = app.post("/api/v1/orders", json!({"source": "web", "external_id": format!("RP-{i}"), "total": 90000,
                "lines": [{"sku": "X", "quantity": 1, "unit_price": 100000}], "discount": 10000, "vouchers": [code]})).await;
            assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        }
        let report = app.get(&format!("/api/v1/voucher-programs/{id}/report")).await.body;
        assert_eq!(report["issued"], 4);
        assert_eq!(report["redeemed"], 3);
        assert_eq!(report["redemption_rate"], 0.75);
        assert_eq!(report["total_discount"], 30000);
        assert_eq!(report["orders"], 3);
        assert_eq!(report["revenue"], 300000);
        assert_eq!(report["by_day"].as_array().unwrap().len(), 1);
        let bad_count = app.post(&format!("/api/v1/voucher-programs/{id}/codes"), json!({"count": 100001})).await;
        assert_eq!(bad_count.error_field(), "count");
        let bad_program = app.post("/api/v1/voucher-programs", json!({"name": "x", "type": "percent", "value": 150, "codes": {"kind": "unique", "length": 3}})).await;
        let fields: Vec<&str> = bad_program.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["value", "codes.length"]);
        app.stop().await;
    }
}
