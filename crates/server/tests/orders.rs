//! The earning path and the ledger over HTTP, on SQLite and PostgreSQL alike.

mod common;

use common::{FeedReader, Reply, TestApp, spawn_app};
use jiff::{SignedDuration, Timestamp};
use loyalty_store::on_both_backends;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn order(app: &TestApp, body: Value) -> Reply {
    app.post("/api/v1/orders", body).await
}

/// A paid POS order of `total` (one line) for the member.
fn paid(member_id: &str, external_id: &str, total: i64) -> Value {
    json!({"source": "pos", "external_id": external_id, "member_id": member_id, "store": "HN01", "channel": "pos",
           "lines": [{"sku": "CF-001", "name": "Cà phê sữa", "category": "drinks", "quantity": 1, "unit_price": total}],
           "total": total})
}

async fn points(app: &TestApp, member_id: &str) -> Value {
    let reply = app.get(&format!("/api/v1/members/{member_id}")).await;
    reply.body["points"].clone()
}

async fn set_program(app: &TestApp, change: impl FnOnce(&mut Value)) {
    let mut program = app.get("/api/v1/program").await.body;
    change(&mut program);
    let reply = app
        .request(
            reqwest::Method::PUT,
            "/api/v1/program",
            Some(&app.key),
            Some(program),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
}

on_both_backends! {
    async fn cancelling_a_fully_refunded_order_gives_its_spent_points_back_once(db) {
        let app = spawn_app(db).await;
        let member = app.new_member("0901234567").await;
        let credited = app.post(&format!("/api/v1/members/{member}/points/adjustments"), json!({"points": 100, "reason": "quà"})).await;
        assert_eq!(credited.status, StatusCode::CREATED);
        let mut body = paid(&member, "PAY-1", 200_000);
        body["points_redeemed"] = json!(60);
        let order = order(&app, body).await;
        assert_eq!(order.status, StatusCode::CREATED, "{:?}", order.body);
        let id = order.body["id"].as_str().unwrap().to_string();
        let refund = app.post(&format!("/api/v1/orders/{id}/refunds"), json!({"external_id": "R1", "amount": 200_000})).await;
        assert_eq!(refund.status, StatusCode::OK, "{:?}", refund.body);
        assert_eq!(points(&app, &member).await["available"], 100, "the 60 spent came back, the earnings went");
        let cancel = app.post(&format!("/api/v1/orders/{id}/cancel"), json!({})).await;
        assert_eq!(cancel.status, StatusCode::OK, "{:?}", cancel.body);
        assert_eq!(points(&app, &member).await["available"], 100, "given back once, not twice");
        app.assert_verified().await;
        app.stop().await;
    }

    async fn a_first_paid_order_activates_the_customer_and_earns_base_points(db) {
        let app = spawn_app(db).await;
        let reply = order(&app, json!({
            "source": "pos", "external_id": "HN01-000123", "customer": {"phone": "0901234567", "name": "Nguyễn Văn A"},
            "brand": "cafe", "store": "HN01", "channel": "pos", "placed_at": "2026-11-20T10:00:00+07:00", "currency": "VND",
            "lines": [{"sku": "CF-001", "name": "Cà phê sữa", "category": "drinks", "quantity": 2, "unit_price": 35000}],
            "discount": 0, "shipping": 0, "total": 70000, "points_redeemed": 0
        })).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        let r = &reply.body;
        assert_eq!(r["status"], "paid");
        assert_eq!(r["points"]["earned"], 7);
        assert_eq!(r["points"]["pending"], 0);
        assert_eq!(r["points"]["breakdown"], json!([{"rule": "base", "points": 7}]));
        assert_eq!(r["member"]["status"], "member");
        assert_eq!(r["member"]["points"], json!({"available": 7, "pending": 0}));
        let member_id = r["member_id"].as_str().unwrap();
        let member = app.get(&format!("/api/v1/members/{member_id}")).await.body;
        assert_eq!(member["name"], "Nguyễn Văn A");
        assert_eq!(member["status"], "member");
        assert_eq!(member["member_since"], "2026-11-20T03:00:00Z");
        assert_eq!(member["order_count"], 1);
        assert_eq!(member["lifetime_spend"], 70000);
        assert_eq!(member["source"], "pos");
        let ledger = app.get(&format!("/api/v1/members/{member_id}/ledger")).await.body;
        assert_eq!(ledger["items"][0]["kind"], "earn");
        assert_eq!(ledger["items"][0]["points"], 7);
        assert_eq!(ledger["items"][0]["order_id"], r["id"]);
        let detail = app.get(&format!("/api/v1/orders/{}", r["id"].as_str().unwrap())).await.body;
        assert_eq!(detail["lines"][0]["name"], "Cà phê sữa");
        assert_eq!(detail["points"]["earned"], 7);
        let found = app.get("/api/v1/orders?source=pos&external_id=HN01-000123").await.body;
        assert_eq!(found["items"][0]["id"], r["id"]);
        // The same customer again is found by phone, not created twice.
        let again = order(&app, json!({"source": "pos", "external_id": "HN01-000124", "customer": {"phone": "+84 90 123 4567"}, "total": 10000})).await;
        assert_eq!(again.body["member_id"], r["member_id"]);
        assert_eq!(again.body["member"]["points"]["available"], 8);
        assert_eq!(app.count("members").await, 1);
        app.assert_verified().await;
        app.stop().await;
    }

    async fn a_replayed_order_gets_the_first_answer_and_changes_nothing(db) {
        let app = spawn_app(db).await;
        let member_id = app.new_member("0911111111").await;
        let first = order(&app, paid(&member_id, "R-1", 125_000)).await;
        assert_eq!(first.status, StatusCode::CREATED);
        let second = order(&app, paid(&member_id, "R-1", 125_000)).await;
        assert_eq!(second.status, StatusCode::OK);
        assert_eq!(second.body, first.body);
        assert_eq!(points(&app, &member_id).await["available"], 12);
        assert_eq!(app.count("orders").await, 1);
        app.stop().await;
    }

    async fn fifty_concurrent_posts_of_the_same_order_apply_exactly_once(db) {
        let app = spawn_app(db).await;
        let member_id = app.new_member("0922222222").await;
        let body = paid(&member_id, "RACE-1", 250_000);
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let (client, url, key, body) = (app.client.clone(), format!("{}/api/v1/orders", app.base), app.key.clone(), body.clone());
            tasks.push(tokio::spawn(async move {
                let response = client.post(url).bearer_auth(key).json(&body).send().await.unwrap();
                (response.status(), response.json::<Value>().await.unwrap())
            }));
        }
        let mut created = 0;
        let mut ids = std::collections::HashSet::new();
        for task in tasks {
            let (status, body) = task.await.unwrap();
            match status {
                StatusCode::CREATED => created += 1,
                StatusCode::OK => {}
                other => panic!("unexpected {other}: {body}"),
            }
            assert_eq!(body["points"]["earned"], 25);
            ids.insert(body["id"].as_str().unwrap().to_string());
        }
        assert_eq!(created, 1, "exactly one post applies");
        assert_eq!(ids.len(), 1, "every answer names the same order");
        assert_eq!(points(&app, &member_id).await["available"], 25);
        assert_eq!(app.count("orders").await, 1);
        assert_eq!(app.count("ledger_entries").await, 1);
        app.assert_verified().await;
        app.stop().await;
    }

    async fn two_hundred_concurrent_orders_for_one_member_keep_the_balance_exact(db) {
        let app = spawn_app(db).await;
        let member_id = app.new_member("0933333333").await;
        let mut expected = 0;
        let mut tasks = Vec::new();
        for i in 0..200i64 {
            let total = 10_000 + i * 1_537;
            expected += total / 10_000;
            let (client, url, key, body) = (app.client.clone(), format!("{}/api/v1/orders", app.base), app.key.clone(), paid(&member_id, &format!("C-{i}"), total));
            tasks.push(tokio::spawn(async move { client.post(url).bearer_auth(key).json(&body).send().await.unwrap().status() }));
        }
        for task in tasks {
            assert_eq!(task.await.unwrap(), StatusCode::CREATED);
        }
        let member = app.get(&format!("/api/v1/members/{member_id}")).await.body;
        assert_eq!(member["points"]["available"], expected);
        assert_eq!(member["order_count"], 200);
        let summary = app.get(&format!("/api/v1/members/{member_id}/points")).await.body;
        assert_eq!(summary["lifetime_earned"], expected);
        app.assert_verified().await;
        app.stop().await;
    }

    async fn guests_and_unactivated_customers_earn_nothing(db) {
        let app = spawn_app(db).await;
        let guest = order(&app, json!({"source": "pos", "external_id": "G-1", "total": 500000})).await;
        assert_eq!(guest.status, StatusCode::CREATED);
        assert_eq!(guest.body["member_id"], json!(null));
        assert_eq!(guest.body["points"]["earned"], 0);
        assert_eq!(guest.body["member"], json!(null));
        set_program(&app, |p| p["activation"]["auto_on_first_paid_order"] = json!(false)).await;
        let customer = order(&app, json!({"source": "pos", "external_id": "G-2", "customer": {"email": "lan@example.vn"}, "total": 500000})).await;
        assert_eq!(customer.body["member"]["status"], "customer");
        assert_eq!(customer.body["points"]["earned"], 0);
        let id = customer.body["member_id"].as_str().unwrap().to_string();
        app.post(&format!("/api/v1/members/{id}/activate"), json!({})).await;
        let after = order(&app, paid(&id, "G-3", 500000)).await;
        assert_eq!(after.body["points"]["earned"], 50);
        app.stop().await;
    }

    async fn bad_orders_are_refused_naming_the_field_and_write_nothing(db) {
        let app = spawn_app(db).await;
        let member_id = app.new_member("0944444444").await;
        let cases = [
            (json!({"source": "pos", "external_id": "B-1", "total": 60000, "lines": [{"quantity": 2, "unit_price": 35000}]}), "total"),
            (json!({"source": "pos", "external_id": "B-2", "member_id": "mem_nobody", "total": 1}), "member_id"),
            (json!({"source": "pos", "external_id": "B-3", "total": 1, "currency": "USD"}), "currency"),
            (json!({"source": "pos", "external_id": "B-4", "total": 1, "vouchers": ["TET-8KQ2MZ7A"]}), "vouchers[0]"),
            (json!({"source": "pos", "external_id": "B-5", "total": 1, "lines": [{"quantity": 1, "unit_price": 1, "colour": "red"}]}), "lines[0].colour"),
            (json!({"source": "pos", "external_id": "B-6", "member_id": member_id, "total": 100000, "points_redeemed": 51}), "points_redeemed"),
            (json!({"source": "pos", "total": 1}), "external_id"),
        ];
        for (body, field) in cases {
            let reply = order(&app, body.clone()).await;
            assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
            assert_eq!(reply.error_field(), field, "{body}: {:?}", reply.body);
        }
        // Spending points the member does not have is a conflict, and nothing is written.
        let broke = order(&app, json!({"source": "pos", "external_id": "B-7", "member_id": member_id, "total": 100000, "points_redeemed": 5})).await;
        assert_eq!(broke.status, StatusCode::CONFLICT);
        assert_eq!(broke.body["code"], "insufficient_points");
        assert_eq!(app.count("orders").await, 0);
        assert_eq!(app.count("ledger_entries").await, 0);
        let ok = order(&app, json!({"source": "pos", "external_id": "B-7", "member_id": member_id, "total": 100000})).await;
        assert_eq!(ok.status, StatusCode::CREATED, "the refused order's id is still free");
        app.stop().await;
    }

    async fn pending_points_become_available_and_expire_as_the_clock_moves(db) {
        let app = spawn_app(db).await;
        set_program(&app, |p| {
            p["earn"]["pending_days"] = json!(7);
            p["expiry"] = json!({"policy": "months_after_earn", "months": 1});
        })
        .await;
        let member_id = app.new_member("0965555550").await;
        let posted = order(&app, paid(&member_id, "P-1", 100_000)).await;
        assert_eq!(posted.body["points"]["pending"], 10);
        assert_eq!(posted.body["member"]["points"], json!({"available": 0, "pending": 10}));
        // Pending points cannot be spent yet.
        let early = order(&app, json!({"source": "pos", "external_id": "P-2", "member_id": member_id, "total": 100000, "points_redeemed": 5})).await;
        assert_eq!(early.status, StatusCode::CONFLICT);

        app.clock.advance(SignedDuration::from_hours(7 * 24 - 1));
        assert_eq!(points(&app, &member_id).await, json!({"available": 0, "pending": 10, "debt": 0}));
        app.clock.advance(SignedDuration::from_hours(1));
        assert_eq!(points(&app, &member_id).await, json!({"available": 10, "pending": 0, "debt": 0}), "available without waiting for the job");
        let summary = app.get(&format!("/api/v1/members/{member_id}/points")).await.body;
        assert_eq!(summary["expiring"][0]["points"], 10);

        app.clock.advance(SignedDuration::from_hours(24 * 31));
        assert_eq!(points(&app, &member_id).await["available"], 0, "expired without waiting for the job");
        let refreshed = app.app.run_points_job().await.unwrap();
        assert_eq!(refreshed, Some(1));
        let ledger = app.get(&format!("/api/v1/members/{member_id}/ledger")).await.body;
        assert_eq!(ledger["items"][0]["kind"], "expire");
        assert_eq!(ledger["items"][0]["points"], -10);
        assert_eq!(app.app.run_points_job().await.unwrap(), Some(0), "nothing left to do");
        let expired = |types: Vec<String>| types.iter().filter(|t| *t == "points.expired").count();
        assert_eq!(expired(app.event_types().await), 1, "the sweep raised points.expired");

        // Expiry written down by the member's own next order raises it too, once.
        let other = app.new_member("0965555551").await;
        assert_eq!(order(&app, paid(&other, "Q-1", 100_000)).await.status, StatusCode::CREATED);
        app.clock.advance(SignedDuration::from_hours(24 * 40));
        assert_eq!(order(&app, paid(&other, "Q-2", 100_000)).await.status, StatusCode::CREATED);
        assert_eq!(expired(app.event_types().await), 2, "the order raised points.expired");
        assert_eq!(app.app.run_points_job().await.unwrap(), Some(0));
        assert_eq!(expired(app.event_types().await), 2, "and the sweep did not raise it again");
        app.assert_verified().await;
        app.stop().await;
    }

    async fn three_partial_refunds_add_up_to_the_full_reversal(db) {
        let app = spawn_app(db).await;
        let member_id = app.new_member("0966666666").await;
        let posted = order(&app, paid(&member_id, "RF-1", 70_000)).await;
        let id = posted.body["id"].as_str().unwrap().to_string();
        let refund = |external_id: &str, amount: i64| json!({"external_id": external_id, "amount": amount});
        let first = app.post(&format!("/api/v1/orders/{id}/refunds"), refund("R1", 35_000)).await;
        assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
        assert_eq!(first.body["points"]["reversed"], 3);
        assert_eq!(first.body["status"], "partially_refunded");
        let again = app.post(&format!("/api/v1/orders/{id}/refunds"), refund("R1", 35_000)).await;
        assert_eq!(again.body["points"]["reversed"], 3, "the same refund twice applies once");
        let second = app.post(&format!("/api/v1/orders/{id}/refunds"), refund("R2", 20_000)).await;
        assert_eq!(second.body["points"]["reversed"], 5);
        let over = app.post(&format!("/api/v1/orders/{id}/refunds"), refund("R3", 15_001)).await;
        assert_eq!(over.status, StatusCode::CONFLICT);
        assert_eq!(over.body["code"], "over_refund");
        let third = app.post(&format!("/api/v1/orders/{id}/refunds"), refund("R3", 15_000)).await;
        assert_eq!(third.body["points"]["reversed"], 7);
        assert_eq!(third.body["status"], "refunded");
        assert_eq!(third.body["refunds"].as_array().unwrap().len(), 3);
        assert_eq!(points(&app, &member_id).await["available"], 0);
        let member = app.get(&format!("/api/v1/members/{member_id}")).await.body;
        assert_eq!(member["lifetime_spend"], 0);
        let cancel = app.post(&format!("/api/v1/orders/{id}/cancel"), json!({})).await;
        assert_eq!(cancel.status, StatusCode::OK);
        let twice = app.post(&format!("/api/v1/orders/{id}/cancel"), json!({})).await;
        assert_eq!(twice.status, StatusCode::CONFLICT);
        assert_eq!(twice.body["code"], "already_cancelled");
        app.assert_verified().await;
        app.stop().await;
    }

    async fn reversing_points_already_spent_leaves_a_debt_that_later_earnings_pay(db) {
        let app = spawn_app(db).await;
        let member_id = app.new_member("0977777777").await;
        let a = order(&app, paid(&member_id, "D-A", 100_000)).await;
        assert_eq!(a.body["points"]["earned"], 10);
        let b = order(&app, json!({"source": "pos", "external_id": "D-B", "member_id": member_id, "total": 20000, "points_redeemed": 8})).await;
        assert_eq!(b.status, StatusCode::CREATED, "{:?}", b.body);
        assert_eq!(b.body["points"]["earned"], 1, "points are earned on the part not paid with points");
        assert_eq!(b.body["member"]["points"]["available"], 3);
        let a_id = a.body["id"].as_str().unwrap();
        let cancelled = app.post(&format!("/api/v1/orders/{a_id}/cancel"), json!({})).await;
        assert_eq!(cancelled.body["points"]["reversed"], 10);
        assert_eq!(points(&app, &member_id).await, json!({"available": 0, "pending": 0, "debt": 7}));
        order(&app, paid(&member_id, "D-C", 50_000)).await;
        assert_eq!(points(&app, &member_id).await, json!({"available": 0, "pending": 0, "debt": 2}));
        order(&app, paid(&member_id, "D-D", 100_000)).await;
        assert_eq!(points(&app, &member_id).await, json!({"available": 8, "pending": 0, "debt": 0}));
        app.assert_verified().await;
        app.stop().await;
    }

    async fn cancelling_an_order_gives_back_the_points_it_spent(db) {
        let app = spawn_app(db).await;
        let member_id = app.new_member("0988888888").await;
        order(&app, paid(&member_id, "S-A", 100_000)).await;
        let b = order(&app, json!({"source": "pos", "external_id": "S-B", "member_id": member_id, "total": 20000, "points_redeemed": 5})).await;
        assert_eq!(b.body["member"]["points"]["available"], 6);
        let b_id = b.body["id"].as_str().unwrap();
        let cancelled = app.post(&format!("/api/v1/orders/{b_id}/cancel"), json!({})).await;
        assert_eq!(cancelled.body["points"]["returned"], 5);
        assert_eq!(cancelled.body["points"]["reversed"], 1);
        assert_eq!(points(&app, &member_id).await["available"], 10);
        app.assert_verified().await;
        app.stop().await;
    }

    async fn manual_adjustments_need_a_reason_and_cannot_go_below_zero(db) {
        let app = spawn_app(db).await;
        let member_id = app.new_member("0999999999").await;
        let path = format!("/api/v1/members/{member_id}/points/adjustments");
        let added = app.post(&path, json!({"points": 50, "reason": "Khách khiếu nại, bù điểm"})).await;
        assert_eq!(added.status, StatusCode::CREATED, "{:?}", added.body);
        assert_eq!(added.body["points"]["available"], 50);
        assert_eq!(added.body["entry"]["actor"]["kind"], "api_key");
        let too_much = app.post(&path, json!({"points": -51, "reason": "sai"})).await;
        assert_eq!(too_much.status, StatusCode::CONFLICT);
        let no_reason = app.post(&path, json!({"points": -5, "reason": " "})).await;
        assert_eq!(no_reason.error_field(), "reason");
        let taken = app.post(&path, json!({"points": -20, "reason": "Nhập nhầm"})).await;
        assert_eq!(taken.body["points"]["available"], 30);
        let pos = app.key_with(&["pos"]).await;
        let forbidden = app.request(reqwest::Method::POST, &path, Some(&pos), Some(json!({"points": 1, "reason": "x"}))).await;
        assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
        let log = app.get(&format!("/api/v1/activity?entity_id={member_id}")).await.body;
        let actions: Vec<&str> = log["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["points_adjust", "points_adjust", "create"]);
        assert_eq!(log["items"][0]["after"]["adjustment"]["reason"], "Nhập nhầm");
        app.assert_verified().await;
        app.stop().await;
    }

    async fn a_birthday_double_and_a_tet_bonus_fire_on_the_local_day_only(db) {
        let app = spawn_app(db).await;
        let birthday = app.post("/api/v1/earn-rules", json!({
            "name": "Sinh nhật x2", "conditions": {"all": [{"field": "member.birthday", "op": "is_today"}]},
            "effect": {"multiplier": 2}
        })).await;
        assert_eq!(birthday.status, StatusCode::CREATED, "{:?}", birthday.body);
        let tet = app.post("/api/v1/earn-rules", json!({
            "name": "Lì xì Tết", "conditions": {"field": "order.lunar_date", "op": "=", "value": "01-01"},
            "effect": {"bonus_points": 100}
        })).await;
        assert_eq!(tet.status, StatusCode::CREATED);
        let created = app.post("/api/v1/members", json!({"phone": "0912000000", "birthday": "--05-17"})).await;
        let member_id = created.body["id"].as_str().unwrap().to_string();
        let cases = [
            ("2026-05-16T23:59:59+07:00", 10, vec!["base"]),
            ("2026-05-17T00:00:00+07:00", 20, vec!["base", "Sinh nhật x2"]),
            ("2026-05-17T23:59:59+07:00", 20, vec!["base", "Sinh nhật x2"]),
            ("2026-05-18T00:00:00+07:00", 10, vec!["base"]),
            ("2026-02-16T23:59:59+07:00", 10, vec!["base"]),
            ("2026-02-17T00:00:00+07:00", 110, vec!["base", "Lì xì Tết"]),
            ("2026-02-17T16:59:59Z", 110, vec!["base", "Lì xì Tết"]),
            ("2026-02-17T17:00:00Z", 10, vec!["base"]),
        ];
        for (i, (placed_at, earned, rules)) in cases.into_iter().enumerate() {
            let mut body = paid(&member_id, &format!("T-{i}"), 100_000);
            body["placed_at"] = json!(placed_at);
            let reply = order(&app, body).await;
            assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
            assert_eq!(reply.body["points"]["earned"], earned, "{placed_at}: {:?}", reply.body["points"]);
            let names: Vec<&str> = reply.body["points"]["breakdown"].as_array().unwrap().iter().map(|b| b["rule"].as_str().unwrap()).collect();
            assert_eq!(names, rules, "{placed_at}");
        }
        app.assert_verified().await;
        app.stop().await;
    }

    async fn rule_caps_hold_under_concurrency(db) {
        let app = spawn_app(db).await;
        let rule = app.post("/api/v1/earn-rules", json!({
            "name": "Thưởng 10 điểm", "conditions": {"all": []}, "effect": {"bonus_points": 10},
            "caps": {"budget_points": 100, "per_member_per_day": 15}
        })).await;
        assert_eq!(rule.status, StatusCode::CREATED, "{:?}", rule.body);
        let mut members = Vec::new();
        for i in 0..30 {
            members.push(app.new_member(&format!("09130000{i:02}")).await);
        }
        let mut tasks = Vec::new();
        for (i, member_id) in members.iter().enumerate() {
            let (client, url, key, body) = (app.client.clone(), format!("{}/api/v1/orders", app.base), app.key.clone(), paid(member_id, &format!("CAP-{i}"), 10_000));
            tasks.push(tokio::spawn(async move { client.post(url).bearer_auth(key).json(&body).send().await.unwrap().json::<Value>().await.unwrap() }));
        }
        let mut bonus = 0;
        for task in tasks {
            let body = task.await.unwrap();
            bonus += body["points"]["earned"].as_i64().unwrap() - 1;
        }
        assert_eq!(bonus, 100, "the budget is given exactly, never more");
        let id = rule.body["id"].as_str().unwrap();
        assert_eq!(app.get(&format!("/api/v1/earn-rules/{id}")).await.body["awarded_points"], 100);

        // Per member per day: a fresh rule, two orders the same day.
        app.request(reqwest::Method::DELETE, &format!("/api/v1/earn-rules/{id}"), Some(&app.key), None).await;
        app.post("/api/v1/earn-rules", json!({"name": "Ngày", "conditions": {"all": []}, "effect": {"bonus_points": 10}, "caps": {"per_member_per_day": 15}})).await;
        let first = order(&app, paid(&members[0], "DAY-1", 10_000)).await;
        let second = order(&app, paid(&members[0], "DAY-2", 10_000)).await;
        assert_eq!(first.body["points"]["earned"], 11);
        assert_eq!(second.body["points"]["earned"], 6);
        app.assert_verified().await;
        app.stop().await;
    }

    async fn a_rule_preview_replays_past_orders_without_writing(db) {
        let app = spawn_app(db).await;
        let a = app.new_member("0914000001").await;
        let b = app.new_member("0914000002").await;
        for (member, id, total, at) in [
            (&a, "PV-1", 200_000, "2026-03-07T10:00:00+07:00"), // Saturday
            (&a, "PV-2", 50_000, "2026-03-08T10:00:00+07:00"),  // Sunday, below the minimum
            (&b, "PV-3", 300_000, "2026-03-09T10:00:00+07:00"), // Monday
            (&b, "PV-4", 120_000, "2026-03-14T10:00:00+07:00"), // Saturday
        ] {
            let mut body = paid(member, id, total);
            body["placed_at"] = json!(at);
            order(&app, body).await;
        }
        let entries = app.count("ledger_entries").await;
        let preview = app.post("/api/v1/earn-rules/preview", json!({
            "name": "Cuối tuần x2",
            "conditions": {"all": [{"field": "order.weekday", "op": "in", "value": [6, 7]}, {"field": "order.total", "op": ">=", "value": 100000}]},
            "effect": {"multiplier": 2},
            "from": "2026-03-01T00:00:00+07:00", "to": "2026-04-01T00:00:00+07:00"
        })).await;
        assert_eq!(preview.status, StatusCode::OK, "{:?}", preview.body);
        assert_eq!(preview.body["orders_scanned"], 4);
        assert_eq!(preview.body["orders_matched"], 2);
        assert_eq!(preview.body["members"], 2);
        assert_eq!(preview.body["points"], 20 + 12);
        assert_eq!(preview.body["cost"], 32 * 1000);
        assert_eq!(app.count("ledger_entries").await, entries);
        assert_eq!(app.count("earn_rules").await, 0);
        let bad = app.post("/api/v1/earn-rules/preview", json!({"conditions": {"field": "order.total", "op": ">="}, "effect": {"multiplier": 2}, "from": "2026-03-01T00:00:00Z"})).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        app.stop().await;
    }

    async fn a_late_order_whose_points_have_already_expired_earns_and_expires_them_at_once(db) {
        let app = spawn_app(db).await;
        let member = app.new_member("0916200000").await;
        // A web store's order synced a year and a half late: its points expired a year after
        // it was placed, before it was ever sent in.
        let mut body = paid(&member, "LATE-1", 150_000);
        body["placed_at"] = json!((Timestamp::now() - SignedDuration::from_hours(24 * 540)).to_string());
        let late = order(&app, body).await;
        assert_eq!(late.status, StatusCode::CREATED, "{:?}", late.body);
        assert_eq!(late.body["points"]["earned"], 15, "{:?}", late.body);
        let held = points(&app, &member).await;
        assert_eq!((held["available"].as_i64(), held["pending"].as_i64()), (Some(0), Some(0)), "{held:?}");
        app.assert_verified().await;
        let ledger = app.get(&format!("/api/v1/members/{member}/ledger")).await.body;
        let mut kinds: Vec<(&str, i64)> = ledger["items"].as_array().unwrap().iter()
            .map(|e| (e["kind"].as_str().unwrap(), e["points"].as_i64().unwrap())).collect();
        kinds.sort_unstable();
        assert_eq!(kinds, [("earn", 15), ("expire", -15)], "written down with the earning: {ledger}");
        let raised = FeedReader::default().raised(&app).await;
        let moved: Vec<&str> = raised.iter().map(String::as_str).filter(|t| t.starts_with("points.")).collect();
        assert_eq!(moved, ["points.earned", "points.expired"], "earned, then expired: {raised:?}");
        app.assert_verified().await;
        // A current order is untouched by the late one's write-down.
        let now = order(&app, paid(&member, "NOW-1", 100_000)).await;
        assert_eq!(now.status, StatusCode::CREATED);
        assert_eq!(points(&app, &member).await["available"], 10);
        app.assert_verified().await;
        app.stop().await;
    }

    async fn verify_reports_a_balance_that_disagrees_with_its_ledger(db) {
        let app = spawn_app(db).await;
        let member_id = app.new_member("0916100000").await;
        order(&app, paid(&member_id, "V-1", 100_000)).await;
        app.assert_verified().await;
        app.execute("update members set points_available = points_available + 1").await;
        let report = app.app.verify().await.unwrap();
        assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
        assert!(report.problems[0].contains(&member_id));
        app.execute("update ledger_entries set points = points + 5").await;
        let report = app.app.verify().await.unwrap();
        assert_eq!(report.problems.len(), 2, "{:?}", report.problems);
        app.stop().await;
    }

    async fn program_settings_are_validated_field_by_field(db) {
        let app = spawn_app(db).await;
        let program = app.get("/api/v1/program").await;
        assert_eq!(program.body["earn"]["spend_per_point"], 10000);
        assert_eq!(program.body["timezone"], "Asia/Ho_Chi_Minh");
        let mut bad = program.body.clone();
        bad["earn"]["spend_per_point"] = json!(0);
        bad["redeem"]["max_invoice_percent"] = json!(120);
        let reply = app.request(reqwest::Method::PUT, "/api/v1/program", Some(&app.key), Some(bad)).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        let fields: Vec<&str> = reply.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["earn.spend_per_point", "redeem.max_invoice_percent"]);
        let mut typo = program.body.clone();
        typo["earn"]["spend_per_pont"] = json!(1);
        let reply = app.request(reqwest::Method::PUT, "/api/v1/program", Some(&app.key), Some(typo)).await;
        assert_eq!(reply.error_field(), "earn.spend_per_pont");
        let mut policy = program.body.clone();
        policy["expiry"] = json!({"policy": "whenever"});
        let reply = app.request(reqwest::Method::PUT, "/api/v1/program", Some(&app.key), Some(policy)).await;
        assert_eq!(reply.error_field(), "expiry.policy");
        set_program(&app, |p| p["earn"]["spend_per_point"] = json!(1000)).await;
        let member_id = app.new_member("0915000000").await;
        assert_eq!(order(&app, paid(&member_id, "SP-1", 12_345)).await.body["points"]["earned"], 12);
        let read = app.key_with(&["read"]).await;
        let put = app.request(reqwest::Method::PUT, "/api/v1/program", Some(&read), Some(program.body.clone())).await;
        assert_eq!(put.status, StatusCode::FORBIDDEN);
        app.stop().await;
    }
}

#[test]
fn timestamps_in_the_tests_are_what_they_say() {
    let t: Timestamp = "2026-02-17T00:00:00+07:00".parse().unwrap();
    assert_eq!(t.to_string(), "2026-02-16T17:00:00Z");
}
