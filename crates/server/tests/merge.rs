//! Merging two records of one person, on SQLite and PostgreSQL (API.md "Back office"): what
//! moves, what the old record answers afterwards, the refusals, the suggested duplicates, and
//! orders for both records posted while the merge runs (no point lost or counted twice).

mod common;

use common::spawn_app;
use loyalty_store::on_both_backends;
use reqwest::StatusCode;
use serde_json::json;

fn paid(member_id: &str, external_id: &str, total: i64) -> serde_json::Value {
    json!({"source": "pos", "external_id": external_id, "member_id": member_id, "store": "HN01", "channel": "pos",
           "lines": [{"sku": "CF-001", "name": "Cà phê sữa", "category": "drinks", "quantity": 1, "unit_price": total}],
           "total": total})
}

on_both_backends! {
    async fn a_merge_moves_everything_and_the_old_record_leads_to_the_kept_one(db) {
        let app = spawn_app(db).await;
        let lan = app.post("/api/v1/members", json!({"phone": "0901234567", "name": "Nguyễn Thị Lan",
            "birthday": "1990-03-08", "tags": ["vip"]})).await;
        assert_eq!(lan.status, StatusCode::CREATED, "{:?}", lan.body);
        let lan = lan.body["id"].as_str().unwrap().to_string();
        let other = app.post("/api/v1/members", json!({"phone": "0912345678", "email": "nguyen.lan+shop@gmail.com",
            "name": "Nguyễn Thị Lan", "birthday": "1990-03-08", "tags": ["cafe"],
            "external_ids": {"haravan": "H-77"}})).await;
        assert_eq!(other.status, StatusCode::CREATED, "{:?}", other.body);
        let other = other.body["id"].as_str().unwrap().to_string();
        let third = app.post("/api/v1/members", json!({"email": "nguyenlan@gmail.com", "name": "Lan N."})).await;
        let third = third.body["id"].as_str().unwrap().to_string();

        assert_eq!(app.post("/api/v1/orders", paid(&lan, "HN01-1", 200_000)).await.body["points"]["earned"], 20);
        assert_eq!(app.post("/api/v1/orders", paid(&other, "HN01-2", 300_000)).await.body["points"]["earned"], 30);
        let gift = app.post("/api/v1/rewards", json!({"name": "Ly sứ", "points_cost": 10, "kind": "gift", "stock": 5})).await;
        let gift = gift.body["id"].as_str().unwrap().to_string();
        let redeemed = app.post(&format!("/api/v1/members/{other}/redemptions"), json!({"reward_id": gift})).await;
        assert_eq!(redeemed.status, StatusCode::CREATED, "{:?}", redeemed.body);

        // Suggested for review: same name and birthday; the e-mail variant.
        let suggested = app.get("/api/v1/members/duplicates").await;
        assert_eq!(suggested.status, StatusCode::OK, "{:?}", suggested.body);
        let pairs = suggested.body["items"].as_array().unwrap().clone();
        let has = |x: &str, y: &str, reason: &str| pairs.iter().any(|p| {
            p["reason"] == reason && ((p["a"] == x && p["b"] == y) || (p["a"] == y && p["b"] == x))
        });
        assert!(has(&lan, &other, "same_name_birthday"), "{pairs:?}");
        assert!(has(&other, &third, "email_variant"), "{pairs:?}");
        let pos = app.key_with(&["pos"]).await;
        let by_till = app.request(reqwest::Method::POST, &format!("/api/v1/members/{lan}/merge"), Some(&pos),
            Some(json!({"from": other}))).await;
        assert_eq!(by_till.status, StatusCode::FORBIDDEN, "merging is the admin's");

        let merged = app.post(&format!("/api/v1/members/{lan}/merge"), json!({"from": other})).await;
        assert_eq!(merged.status, StatusCode::OK, "{:?}", merged.body);
        let kept = &merged.body;
        assert_eq!(kept["id"], lan.as_str());
        assert_eq!(kept["points"]["available"], 40, "{kept}");
        assert_eq!(kept["order_count"], 2, "{kept}");
        assert_eq!(kept["lifetime_spend"], 500_000, "{kept}");
        assert_eq!(kept["email"], "nguyen.lan+shop@gmail.com", "the kept record takes what it lacked");
        assert_eq!(kept["phone"], "+84901234567", "and keeps what it had");
        assert_eq!(kept["tags"], json!(["vip", "cafe"]));
        assert_eq!(kept["external_ids"]["haravan"], "H-77");

        // The old id, phone, e-mail and web-store id all lead to the kept member.
        let by_id = app.get(&format!("/api/v1/members/{other}")).await;
        assert_eq!((by_id.status, by_id.body["id"].as_str()), (StatusCode::OK, Some(lan.as_str())));
        let by_phone = app.get("/api/v1/members?phone=0912345678").await;
        assert_eq!(by_phone.body["items"][0]["id"], lan.as_str(), "{:?}", by_phone.body);
        let by_email = app.get("/api/v1/members?email=nguyen.lan%2Bshop%40gmail.com").await;
        assert_eq!(by_email.body["items"][0]["id"], lan.as_str(), "{:?}", by_email.body);
        for id in [&lan, &other] {
            let ledger = app.get(&format!("/api/v1/members/{id}/ledger")).await;
            assert_eq!(ledger.body["items"].as_array().map(Vec::len), Some(3), "both earnings and the gift's spend: {:?}", ledger.body);
        }
        let later = app.post("/api/v1/orders", paid(&other, "HN01-3", 100_000)).await;
        assert_eq!(later.status, StatusCode::CREATED, "{:?}", later.body);
        assert_eq!(later.body["member"]["id"], lan.as_str(), "{:?}", later.body);
        let by_phone_order = app.post("/api/v1/orders", json!({"source": "web", "external_id": "W-1",
            "customer": {"phone": "0912345678"}, "total": 100_000})).await;
        assert_eq!(by_phone_order.body["member"]["id"], lan.as_str(), "{:?}", by_phone_order.body);
        assert_eq!(app.get(&format!("/api/v1/members/{lan}")).await.body["points"]["available"], 60);

        // Refusals.
        let itself = app.post(&format!("/api/v1/members/{lan}/merge"), json!({"from": lan})).await;
        assert_eq!((itself.status, itself.body["code"].as_str()), (StatusCode::CONFLICT, Some("merge_into_itself")), "{:?}", itself.body);
        let twice = app.post(&format!("/api/v1/members/{third}/merge"), json!({"from": other})).await;
        assert_eq!((twice.status, twice.body["code"].as_str()), (StatusCode::CONFLICT, Some("member_merged")), "{:?}", twice.body);
        let nobody = app.post(&format!("/api/v1/members/{lan}/merge"), json!({"from": "mem_nobody"})).await;
        assert_eq!(nobody.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", nobody.body);

        // The tombstone is out of lists, segments and suggestions, and listed when asked for.
        let list = app.get("/api/v1/members").await;
        assert_eq!(list.body["items"].as_array().map(Vec::len), Some(2), "{:?}", list.body);
        let tombstones = app.get("/api/v1/members?status=merged").await;
        assert_eq!(tombstones.body["items"][0]["id"], other.as_str(), "{:?}", tombstones.body);
        assert_eq!(tombstones.body["items"][0]["status"], "merged");
        let everyone = app.post("/api/v1/segments/preview", json!({"conditions": {"all": []}})).await;
        assert_eq!(everyone.body["count"], 2, "{:?}", everyone.body);
        let suggested = app.get("/api/v1/members/duplicates").await;
        assert!(!suggested.body.to_string().contains(&other), "{:?}", suggested.body);
        let activity = app.get("/api/v1/activity?entity=member").await;
        assert!(activity.body.to_string().contains("\"merge\""), "{:?}", activity.body);
        app.assert_verified().await;
        app.stop().await;
    }

    async fn orders_for_both_records_during_a_merge_lose_and_duplicate_nothing(db) {
        let app = spawn_app(db).await;
        let a = app.new_member("0901111111").await;
        let b = app.new_member("0902222222").await;
        assert_eq!(app.post("/api/v1/orders", paid(&b, "B-0", 100_000)).await.body["points"]["earned"], 10);
        let mut tasks = Vec::new();
        for i in 0..40 {
            let member = if i % 2 == 0 { a.clone() } else { b.clone() };
            let (client, url, key) = (app.client.clone(), format!("{}/api/v1/orders", app.base), app.key.clone());
            let body = paid(&member, &format!("C-{i}"), 100_000);
            tasks.push(tokio::spawn(async move {
                let reply = client.post(url).bearer_auth(key).json(&body).send().await.unwrap();
                let status = reply.status();
                let body: serde_json::Value = reply.json().await.unwrap();
                (status, body)
            }));
            if i == 10 {
                let (client, key) = (app.client.clone(), app.key.clone());
                let url = format!("{}/api/v1/members/{a}/merge", app.base);
                let from = b.clone();
                tasks.push(tokio::spawn(async move {
                    let reply = client.post(url).bearer_auth(key).json(&json!({"from": from})).send().await.unwrap();
                    let status = reply.status();
                    (status, json!({"merge": reply.json::<serde_json::Value>().await.unwrap()}))
                }));
            }
        }
        let mut earned = 10;
        for task in tasks {
            let (status, body) = task.await.unwrap();
            if body.get("merge").is_some() {
                assert_eq!(status, StatusCode::OK, "{body}");
                continue;
            }
            assert_eq!(status, StatusCode::CREATED, "{body}");
            earned += body["points"]["earned"].as_i64().unwrap();
        }
        assert_eq!(earned, 410);
        let kept = app.get(&format!("/api/v1/members/{b}")).await;
        assert_eq!(kept.body["id"], a.as_str());
        assert_eq!(kept.body["points"]["available"], 410, "{:?}", kept.body);
        assert_eq!(kept.body["order_count"], 41, "{:?}", kept.body);
        assert_eq!(kept.body["lifetime_spend"], 4_100_000, "{:?}", kept.body);
        let orders = app.get(&format!("/api/v1/orders?member_id={a}&limit=100")).await;
        assert_eq!(orders.body["items"].as_array().map(Vec::len), Some(41), "{:?}", orders.body);
        app.assert_verified().await;
        app.stop().await;
    }
}

on_both_backends! {
    async fn a_debt_on_one_record_is_paid_by_the_points_of_the_other(db) {
        let app = spawn_app(db).await;
        let a = app.new_member("0903333333").await;
        let b = app.new_member("0904444444").await;
        let first = app.post("/api/v1/orders", paid(&a, "D-1", 300_000)).await;
        assert_eq!(first.body["points"]["earned"], 30);
        let order_id = first.body["id"].as_str().unwrap().to_string();
        let cup = app.post("/api/v1/rewards", json!({"name": "Ly", "points_cost": 30, "kind": "gift", "stock": 5})).await;
        let cup = cup.body["id"].as_str().unwrap().to_string();
        assert_eq!(app.post(&format!("/api/v1/members/{a}/redemptions"), json!({"reward_id": cup})).await.status, StatusCode::CREATED);
        assert_eq!(app.post(&format!("/api/v1/orders/{order_id}/cancel"), json!({})).await.status, StatusCode::OK);
        assert_eq!(app.get(&format!("/api/v1/members/{a}")).await.body["points"], json!({"available": 0, "pending": 0, "debt": 30}));
        assert_eq!(app.post("/api/v1/orders", paid(&b, "D-2", 500_000)).await.body["points"]["earned"], 50);

        let merged = app.post(&format!("/api/v1/members/{a}/merge"), json!({"from": b})).await;
        assert_eq!(merged.status, StatusCode::OK, "{:?}", merged.body);
        assert_eq!(merged.body["points"], json!({"available": 20, "pending": 0, "debt": 0}), "the merged points paid the debt");
        app.assert_verified().await;
        app.stop().await;
    }
}
