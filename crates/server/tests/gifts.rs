//! Gift rewards at the counter, on SQLite and PostgreSQL (API.md "Back office"): a redeemed
//! gift waits `pending`; one is handed over at a store, another cancelled with its points back
//! in the member's balance and the gift back in stock; neither moves twice.

mod common;

use common::spawn_app;
use loyalty_store::on_both_backends;
use reqwest::StatusCode;
use serde_json::json;

on_both_backends! {
    async fn a_gift_is_handed_over_and_another_cancelled_with_its_points_back(db) {
        let app = spawn_app(db).await;
        let store = app.post("/api/v1/stores", json!({"code": "HN01", "name": "Chi nhánh Cầu Giấy"})).await;
        assert_eq!(store.status, StatusCode::CREATED, "{:?}", store.body);
        let lan = app.new_member("0901234567").await;
        let given = app.post(&format!("/api/v1/members/{lan}/points/adjustments"), json!({"points": 300, "reason": "quà"})).await;
        assert_eq!(given.status, StatusCode::CREATED);
        let cup = app.post("/api/v1/rewards", json!({"name": "Ly sứ", "points_cost": 100, "kind": "gift", "stock": 5})).await;
        let cup = cup.body["id"].as_str().unwrap().to_string();
        let mut ids = Vec::new();
        for _ in 0..2 {
            let got = app.post(&format!("/api/v1/members/{lan}/redemptions"), json!({"reward_id": cup})).await;
            assert_eq!(got.status, StatusCode::CREATED, "{:?}", got.body);
            assert_eq!(got.body["fulfilment"], "pending");
            ids.push(got.body["id"].as_str().unwrap().to_string());
        }
        let queue = app.get("/api/v1/redemptions").await;
        assert_eq!(queue.body.as_array().unwrap().len(), 2, "{:?}", queue.body);
        assert_eq!(queue.body[0]["reward_name"], "Ly sứ");

        // Handed over at a known store only.
        let nowhere = app.post(&format!("/api/v1/redemptions/{}/hand-over", ids[0]), json!({"store": "XX99"})).await;
        assert_eq!((nowhere.status, nowhere.error_field()), (StatusCode::UNPROCESSABLE_ENTITY, "store"));
        let handed = app.post(&format!("/api/v1/redemptions/{}/hand-over", ids[0]), json!({"store": "HN01"})).await;
        assert_eq!(handed.status, StatusCode::OK, "{:?}", handed.body);
        assert_eq!((handed.body["fulfilment"].as_str(), handed.body["store"].as_str()), (Some("handed_over"), Some("HN01")));
        let again = app.post(&format!("/api/v1/redemptions/{}/hand-over", ids[0]), json!({"store": "HN01"})).await;
        assert_eq!(again.status, StatusCode::OK, "a repeated hand-over changes nothing");
        let late = app.post(&format!("/api/v1/redemptions/{}/cancel", ids[0]), json!({"reason": "đổi ý"})).await;
        assert_eq!((late.status, late.body["code"].as_str()), (StatusCode::CONFLICT, Some("gift_handed_over")));

        // Cancelled: the 100 points come back once, the cup back into stock.
        let before = app.get(&format!("/api/v1/members/{lan}")).await.body["points"]["available"].as_i64().unwrap();
        assert_eq!(before, 100);
        let no_reason = app.post(&format!("/api/v1/redemptions/{}/cancel", ids[1]), json!({"reason": ""})).await;
        assert_eq!((no_reason.status, no_reason.error_field()), (StatusCode::UNPROCESSABLE_ENTITY, "reason"));
        let cancelled = app.post(&format!("/api/v1/redemptions/{}/cancel", ids[1]), json!({"reason": "hết hàng ở chi nhánh"})).await;
        assert_eq!((cancelled.status, cancelled.body["fulfilment"].as_str()), (StatusCode::OK, Some("cancelled")), "{:?}", cancelled.body);
        let twice = app.post(&format!("/api/v1/redemptions/{}/cancel", ids[1]), json!({"reason": "lại"})).await;
        assert_eq!(twice.status, StatusCode::OK);
        let after = app.get(&format!("/api/v1/members/{lan}")).await.body["points"]["available"].as_i64().unwrap();
        assert_eq!(after, 200, "the points came back once");
        let reward = app.get(&format!("/api/v1/rewards/{cup}")).await;
        assert_eq!(reward.body["stock"], 4, "{:?}", reward.body);
        assert_eq!(app.get("/api/v1/redemptions").await.body.as_array().unwrap().len(), 0);
        assert_eq!(app.get("/api/v1/redemptions?fulfilment=cancelled").await.body[0]["cancel_reason"], "hết hàng ở chi nhánh");
        // An unknown redemption is not found.
        let unknown = app.post("/api/v1/redemptions/rrd_nope/hand-over", json!({"store": "HN01"})).await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
        app.assert_verified().await;
        app.stop().await;
    }
}
