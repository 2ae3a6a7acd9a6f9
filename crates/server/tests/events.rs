//! The events feed (the transactional outbox), on SQLite and PostgreSQL alike: every API
//! mutation raises its events exactly once, a replay or a refused request raises none, and the
//! feed serves them oldest first, by type, to the admin of their tenant only.

mod common;

use common::{FeedReader, create_tenant, spawn_app};
use loyalty_store::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The one event of `kind` among `events`.
fn one<'a>(events: &'a [Value], kind: &str) -> &'a Value {
    let found: Vec<&Value> = events.iter().filter(|e| e["type"] == kind).collect();
    assert_eq!(found.len(), 1, "one {kind} in {events:?}");
    found[0]
}

on_both_backends! {
    async fn every_mutation_raises_its_events_once_and_a_replay_or_refusal_none(db) {
        let app = spawn_app(db).await;
        let mut feed = FeedReader::default();
        assert_eq!(feed.raised(&app).await, Vec::<String>::new(), "a new tenant has no events");

        // A first order from a new phone: the customer, the order, its points, the activation.
        let first = json!({"source": "pos", "external_id": "HN01-1", "customer": {"phone": "0901234567", "name": "Nguyễn Văn A"},
            "store": "HN01", "channel": "pos", "total": 70000});
        let (order, replayed) = app.keyed(Method::POST, "/api/v1/orders", "till-1", first.clone()).await;
        assert_eq!(order.status, StatusCode::CREATED, "{:?}", order.body);
        assert!(!replayed);
        let buyer = order.body["member_id"].as_str().unwrap().to_string();
        let events = feed.new_events(&app).await;
        let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["member.created", "order.paid", "points.earned", "member.activated"]);
        for e in &events {
            assert!(e["id"].as_str().unwrap().starts_with("evt_"), "{e}");
            assert!(e["created_at"].is_string(), "{e}");
        }
        assert_eq!(one(&events, "member.created")["data"]["member"]["id"], buyer.as_str());
        assert_eq!(one(&events, "member.created")["data"]["member"]["phone"], "+84901234567");
        assert_eq!(one(&events, "order.paid")["data"]["order"]["id"], order.body["id"]);
        assert_eq!(one(&events, "order.paid")["data"]["order"]["total"], 70000);
        let earned = &one(&events, "points.earned")["data"];
        assert_eq!(earned["member_id"], buyer.as_str());
        assert_eq!(earned["entry"]["points"], 7);
        assert_eq!(earned["balance"]["available"], 7);
        assert_eq!(one(&events, "member.activated")["data"]["member"]["status"], "member");

        // Replays raise nothing: the same Idempotency-Key, and the same order without one.
        let (again, replayed) = app.keyed(Method::POST, "/api/v1/orders", "till-1", first.clone()).await;
        assert!(replayed);
        assert_eq!(again.body, order.body);
        let resent = app.post("/api/v1/orders", first.clone()).await;
        assert_eq!(resent.body["id"], order.body["id"], "{:?}", resent.body);
        // Refusals raise nothing.
        let refused = app.post("/api/v1/orders", json!({"source": "pos", "external_id": "HN01-2", "member_id": buyer, "total": -5})).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        let overdrawn = app.post(&format!("/api/v1/members/{buyer}/points/adjustments"), json!({"points": -1000, "reason": "sai"})).await;
        assert_eq!(overdrawn.status, StatusCode::CONFLICT, "{:?}", overdrawn.body);
        let unknown = app.patch("/api/v1/members/mem_nope", json!({"name": "Ai"})).await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
        assert_eq!(feed.raised(&app).await, Vec::<String>::new(), "replays and refusals raised none");

        // Members.
        let member = app.new_member("0912345678").await;
        assert_eq!(feed.raised(&app).await, ["member.created"]);
        let updated = app.patch(&format!("/api/v1/members/{member}"), json!({"name": "Trần Thị B"})).await;
        assert_eq!(updated.status, StatusCode::OK);
        let events = feed.new_events(&app).await;
        assert_eq!(one(&events, "member.updated")["data"]["member"]["name"], "Trần Thị B");
        assert_eq!(events.len(), 1);
        let activate = format!("/api/v1/members/{member}/activate");
        assert_eq!(app.post(&activate, json!({})).await.status, StatusCode::OK);
        assert_eq!(feed.raised(&app).await, ["member.activated"]);
        assert_eq!(app.post(&activate, json!({})).await.status, StatusCode::OK);
        assert_eq!(feed.raised(&app).await, Vec::<String>::new(), "activating twice changes nothing");

        // Points: an adjustment, then an order paid partly with points, its refund and cancel.
        let credited = app.post(&format!("/api/v1/members/{member}/points/adjustments"), json!({"points": 100, "reason": "Bù điểm"})).await;
        assert_eq!(credited.status, StatusCode::CREATED, "{:?}", credited.body);
        let events = feed.new_events(&app).await;
        assert_eq!(events.len(), 1);
        assert_eq!(one(&events, "points.adjusted")["data"]["entry"]["points"], 100);
        assert_eq!(one(&events, "points.adjusted")["data"]["balance"]["available"], 100);
        let paid = app.post("/api/v1/orders", json!({"source": "pos", "external_id": "HN01-3", "member_id": member,
            "total": 200000, "points_redeemed": 60})).await;
        assert_eq!(paid.status, StatusCode::CREATED, "{:?}", paid.body);
        let mut kinds = feed.raised(&app).await;
        kinds.sort();
        assert_eq!(kinds, ["order.paid", "points.earned", "points.spent"]);
        let order_id = paid.body["id"].as_str().unwrap();
        let refund = app.post(&format!("/api/v1/orders/{order_id}/refunds"), json!({"external_id": "R1", "amount": 50000})).await;
        assert_eq!(refund.status, StatusCode::OK, "{:?}", refund.body);
        let events = feed.new_events(&app).await;
        assert_eq!(events.len(), 1, "{events:?}");
        let refunded = &one(&events, "order.refunded")["data"];
        assert_eq!(refunded["order"]["id"], order_id);
        assert!(!refunded["entries"].as_array().unwrap().is_empty(), "the reversal rides in the event: {refunded}");
        let refund_again = app.post(&format!("/api/v1/orders/{order_id}/refunds"), json!({"external_id": "R1", "amount": 50000})).await;
        assert_eq!(refund_again.status, StatusCode::OK, "{:?}", refund_again.body);
        assert_eq!(feed.raised(&app).await, Vec::<String>::new(), "a refund sent twice raises once");
        assert_eq!(app.post(&format!("/api/v1/orders/{order_id}/cancel"), json!({})).await.status, StatusCode::OK);
        assert_eq!(feed.raised(&app).await, ["order.cancelled"]);
        assert_eq!(app.post(&format!("/api/v1/orders/{order_id}/cancel"), json!({})).await.status, StatusCode::CONFLICT);
        assert_eq!(feed.raised(&app).await, Vec::<String>::new(), "a refused second cancel raises none");

        // Vouchers: issued codes, a redemption (sent twice), its release.
        let program = app.post("/api/v1/voucher-programs", json!({"name": "Tết", "type": "fixed", "value": 20000,
            "codes": {"kind": "unique", "prefix": "TET-", "length": 8}})).await;
        assert_eq!(program.status, StatusCode::CREATED, "{:?}", program.body);
        let program_id = program.body["id"].as_str().unwrap();
        assert_eq!(feed.raised(&app).await, Vec::<String>::new(), "configuration raises no event");
        let codes = app.post(&format!("/api/v1/voucher-programs/{program_id}/codes"), json!({"count": 2, "member_id": member})).await;
        assert_eq!(codes.status, StatusCode::CREATED, "{:?}", codes.body);
        assert_eq!(feed.raised(&app).await, ["voucher.issued", "voucher.issued"]);
        let code = codes.body["codes"][0].as_str().unwrap();
        let redeem = json!({"code": code, "member_id": member, "order_ref": "pos:V-1", "order": {"total": 100000}});
        let redeemed = app.post("/api/v1/vouchers/redeem", redeem.clone()).await;
        assert_eq!(redeemed.status, StatusCode::OK, "{:?}", redeemed.body);
        let events = feed.new_events(&app).await;
        assert_eq!(events.len(), 1);
        assert_eq!(one(&events, "voucher.redeemed")["data"]["redemption"]["id"], redeemed.body["redemption_id"]);
        assert_eq!(app.post("/api/v1/vouchers/redeem", redeem).await.status, StatusCode::OK);
        assert_eq!(feed.raised(&app).await, Vec::<String>::new(), "the same order_ref redeems once");
        let release = format!("/api/v1/vouchers/redemptions/{}/release", redeemed.body["redemption_id"].as_str().unwrap());
        assert_eq!(app.post(&release, json!({})).await.status, StatusCode::OK);
        assert_eq!(feed.raised(&app).await, ["voucher.released"]);

        // A reward that issues a voucher: the redemption, its points, its voucher.
        let reward = app.post("/api/v1/rewards", json!({"name": "Phiếu 20.000 ₫", "points_cost": 10, "kind": "voucher", "voucher_program_id": program_id})).await;
        assert_eq!(reward.status, StatusCode::CREATED, "{:?}", reward.body);
        let (got, _) = app.keyed(Method::POST, &format!("/api/v1/members/{member}/redemptions"), "gift-1", json!({"reward_id": reward.body["id"]})).await;
        assert_eq!(got.status, StatusCode::CREATED, "{:?}", got.body);
        let mut kinds = feed.raised(&app).await;
        kinds.sort();
        assert_eq!(kinds, ["points.spent", "reward.redeemed", "voucher.issued"]);
        let (_, replayed) = app.keyed(Method::POST, &format!("/api/v1/members/{member}/redemptions"), "gift-1", json!({"reward_id": reward.body["id"]})).await;
        assert!(replayed);
        assert_eq!(feed.raised(&app).await, Vec::<String>::new());

        // Tiers: a tier nobody reaches moves nobody; an override moves one member.
        let tier = app.post("/api/v1/tiers", json!({"name": "Kim Cương", "rank": 1, "threshold": 900_000_000})).await;
        assert_eq!(tier.status, StatusCode::CREATED, "{:?}", tier.body);
        let overridden = app.post(&format!("/api/v1/members/{member}/tier"), json!({"tier_id": tier.body["id"], "reason": "Khách VIP"})).await;
        assert_eq!(overridden.status, StatusCode::OK, "{:?}", overridden.body);
        let events = feed.new_events(&app).await;
        assert_eq!(events.len(), 1, "{events:?}");
        let changed = &one(&events, "tier.changed")["data"];
        assert_eq!(changed["member_id"], member.as_str());
        assert_eq!(changed["to"]["id"], tier.body["id"]);

        // The whole feed again from the start: the same events, in the same order.
        let mut again = FeedReader::default();
        let all = again.raised(&app).await;
        assert_eq!(all.len(), 4 + 1 + 1 + 1 + 1 + 3 + 1 + 1 + 2 + 1 + 1 + 3 + 1);
        assert_eq!(again.cursor, feed.cursor);
        app.assert_verified().await;
        app.stop().await;
    }

    async fn the_feed_filters_by_type_and_belongs_to_the_tenants_admin(db) {
        let app = spawn_app(db).await;
        let member = app.new_member("0901234567").await;
        let credited = app.post(&format!("/api/v1/members/{member}/points/adjustments"), json!({"points": 50, "reason": "Quà"})).await;
        assert_eq!(credited.status, StatusCode::CREATED);
        assert_eq!(FeedReader::default().raised(&app).await, ["member.created", "points.adjusted"]);

        let points = app.get("/api/v1/events?type=points.*").await;
        assert_eq!(points.status, StatusCode::OK, "{:?}", points.body);
        let kinds: Vec<&str> = points.body["items"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["points.adjusted"]);
        assert_eq!(points.body["next_cursor"], Value::Null);
        let both = app.get("/api/v1/events?type=member.created,%20points.adjusted").await;
        assert_eq!(both.body["items"].as_array().unwrap().len(), 2, "{:?}", both.body);
        let poll = app.get(&format!("/api/v1/events?cursor={}", both.body["poll_cursor"].as_str().unwrap())).await;
        assert_eq!(poll.body["items"], json!([]), "nothing newer than the last page");
        assert_eq!(poll.body["poll_cursor"], both.body["poll_cursor"], "the client keeps its place");

        for (query, field) in [("type=order.shipped", "type"), ("type=", ""), ("cursor=abc", "cursor"), ("limit=0", "limit"), ("limit=501", "limit"), ("cursor=9.x", "cursor")] {
            let reply = app.get(&format!("/api/v1/events?{query}")).await;
            if field.is_empty() {
                assert_eq!(reply.status, StatusCode::OK, "{query}: {:?}", reply.body);
            } else {
                assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {:?}", reply.body);
                assert_eq!(reply.error_field(), field, "{query}");
            }
        }

        let reader = app.key_with(&["read"]).await;
        let denied = app.request(Method::GET, "/api/v1/events", Some(&reader), None).await;
        assert_eq!(denied.status, StatusCode::FORBIDDEN, "the feed is the admin's: {:?}", denied.body);
        let (_, other) = create_tenant(&app.app, "Trà Chiều").await;
        let theirs = app.request(Method::GET, "/api/v1/events", Some(&other), None).await;
        assert_eq!(theirs.status, StatusCode::OK);
        assert_eq!(theirs.body["items"], json!([]), "another tenant sees none of these");
        app.stop().await;
    }
}
