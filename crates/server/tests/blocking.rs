//! Blocking a member, on SQLite and PostgreSQL (API.md "Back office"): the till's order for a
//! blocked member is recorded and earns nothing, saying why; their reward redemptions, voucher
//! uses and points adjustments are refused with `member_blocked`; unblocking gives back the
//! status they had, and the reason is in the activity log.

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
    async fn a_blocked_member_earns_and_spends_nothing_until_unblocked(db) {
        let app = spawn_app(db).await;
        let lan = app.new_member("0901234567").await;
        let first = app.post("/api/v1/orders", paid(&lan, "HN01-1", 200_000)).await;
        assert_eq!(first.body["points"]["earned"], 20);
        let program = app.post("/api/v1/voucher-programs", json!({"name": "Giảm 10%", "type": "percent", "value": 10,
            "codes": {"kind": "shared", "code": "GIAM10"}})).await;
        assert_eq!(program.status, StatusCode::CREATED, "{:?}", program.body);
        let gift = app.post("/api/v1/rewards", json!({"name": "Ly sứ", "points_cost": 10, "kind": "gift", "stock": 5})).await;
        let gift = gift.body["id"].as_str().unwrap().to_string();

        let no_reason = app.post(&format!("/api/v1/members/{lan}/block"), json!({"reason": "  "})).await;
        assert_eq!((no_reason.status, no_reason.error_field()), (StatusCode::UNPROCESSABLE_ENTITY, "reason"));
        let pos = app.key_with(&["pos"]).await;
        let by_till = app.request(reqwest::Method::POST, &format!("/api/v1/members/{lan}/block"), Some(&pos),
            Some(json!({"reason": "gian lận"}))).await;
        assert_eq!(by_till.status, StatusCode::FORBIDDEN, "blocking is the admin's");
        let blocked = app.post(&format!("/api/v1/members/{lan}/block"), json!({"reason": "gian lận tích điểm"})).await;
        assert_eq!(blocked.status, StatusCode::OK, "{:?}", blocked.body);
        assert_eq!(blocked.body["status"], "blocked");
        let again = app.post(&format!("/api/v1/members/{lan}/block"), json!({"reason": "lần nữa"})).await;
        assert_eq!(again.status, StatusCode::OK, "blocking twice changes nothing");

        // The till's order is recorded, earns nothing, and says why.
        let order = app.post("/api/v1/orders", paid(&lan, "HN01-2", 300_000)).await;
        assert_eq!(order.status, StatusCode::CREATED, "{:?}", order.body);
        assert_eq!((order.body["points"]["earned"].as_i64(), order.body["points"]["reason"].as_str()), (Some(0), Some("member_blocked")));
        let quote = app.post("/api/v1/orders/quote", paid(&lan, "Q-1", 300_000)).await;
        assert_eq!(quote.body["points"]["reason"], "member_blocked", "{:?}", quote.body);
        // Spending in any form is refused.
        let redeem = app.post(&format!("/api/v1/members/{lan}/redemptions"), json!({"reward_id": gift})).await;
        assert_eq!((redeem.status, redeem.body["code"].as_str()), (StatusCode::CONFLICT, Some("member_blocked")), "{:?}", redeem.body);
        let voucher = app.post("/api/v1/vouchers/redeem", json!({"code": "GIAM10", "member_id": lan, "order_ref": "pos:B-1",
            "order": {"total": 100000, "lines": []}})).await;
        assert_eq!(voucher.status, StatusCode::CONFLICT, "{:?}", voucher.body);
        assert_eq!(voucher.body["errors"][0]["code"], "member_blocked", "{:?}", voucher.body);
        let with_voucher = app.post("/api/v1/orders", json!({"source": "pos", "external_id": "HN01-3", "member_id": lan, "total": 100000, "vouchers": ["GIAM10"]})).await;
        assert_eq!(with_voucher.status, StatusCode::CONFLICT, "{:?}", with_voucher.body);
        let adjust = app.post(&format!("/api/v1/members/{lan}/points/adjustments"), json!({"points": 5, "reason": "x"})).await;
        assert_eq!((adjust.status, adjust.body["code"].as_str()), (StatusCode::CONFLICT, Some("member_blocked")));
        let held = app.get(&format!("/api/v1/members/{lan}")).await;
        assert_eq!(held.body["points"]["available"], 20);

        // Unblocked, they are a member again and earn.
        let unblocked = app.post(&format!("/api/v1/members/{lan}/unblock"), json!({})).await;
        assert_eq!((unblocked.status, unblocked.body["status"].as_str()), (StatusCode::OK, Some("member")));
        let later = app.post("/api/v1/orders", paid(&lan, "HN01-4", 100_000)).await;
        assert_eq!(later.body["points"]["earned"], 10);
        assert!(later.body["points"].get("reason").is_none());
        let activity = app.get("/api/v1/activity?entity=member").await;
        let text = activity.body.to_string();
        assert!(text.contains("gian lận tích điểm") && text.contains("\"unblock\""), "{text}");
        app.assert_verified().await;
        app.stop().await;
    }
}
