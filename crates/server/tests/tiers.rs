//! Membership tiers over HTTP, on SQLite and PostgreSQL alike.

mod common;

use common::{TestApp, spawn_app};
use jiff::SignedDuration;
use loyalty_store::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Đồng (0), Bạc (2,000,000 ₫), Vàng (5,000,000 ₫, ×1.5, 5% and 10% at the café), Bạch Kim.
async fn ladder(app: &TestApp) -> Vec<String> {
    let mut ids = Vec::new();
    for (name, rank, threshold, multiplier, discount) in [
        ("Đồng", 1, 0, 1.0, 0),
        ("Bạc", 2, 2_000_000, 1.2, 3),
        ("Vàng", 3, 5_000_000, 1.5, 5),
        ("Bạch Kim", 4, 15_000_000, 2.0, 10),
    ] {
        let mut benefits = json!({"earn_multiplier": multiplier, "discount_percent": discount});
        if name == "Vàng" {
            benefits["brand_discounts"] = json!([{"brand": "cafe", "discount_percent": 10}]);
        }
        let reply = app
            .post(
                "/api/v1/tiers",
                json!({"name": name, "rank": rank, "threshold": threshold, "benefits": benefits}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        ids.push(reply.body["id"].as_str().unwrap().to_string());
    }
    ids
}

fn paid(member_id: &str, external_id: &str, total: i64) -> Value {
    json!({"source": "pos", "external_id": external_id, "member_id": member_id, "total": total})
}

async fn member_with_spend(app: &TestApp, phone: &str, orders: &[i64]) -> String {
    let created = app.post("/api/v1/members", json!({"phone": phone})).await;
    let id = created.body["id"].as_str().unwrap().to_string();
    for (i, total) in orders.iter().enumerate() {
        let reply = app
            .post("/api/v1/orders", paid(&id, &format!("{phone}-{i}"), *total))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    }
    id
}

async fn member(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/api/v1/members/{id}")).await.body
}

on_both_backends! {
    async fn a_member_crosses_from_silver_to_gold_on_one_order_and_the_response_says_so(db) {
        let app = spawn_app(db).await;
        let ids = ladder(&app).await;
        let member_id = member_with_spend(&app, "0911000001", &[2_500_000, 2_000_000]).await;
        let before = member(&app, &member_id).await;
        assert_eq!(before["tier"]["name"], "Bạc");
        assert_eq!(before["tier_value"], 4_500_000);
        assert_eq!(before["tier_progress"], json!({"next": "Vàng", "remaining": 500_000}));
        assert!(before["tier_review_at"].is_string());

        let crossing = app.post("/api/v1/orders", paid(&member_id, "X-1", 600_000)).await;
        assert_eq!(crossing.status, StatusCode::CREATED);
        assert_eq!(crossing.body["member"]["tier"], json!({"id": ids[2], "name": "Vàng"}));
        // The tier held before the order (Bạc, x1.2) multiplied its base points.
        assert_eq!(crossing.body["points"]["breakdown"], json!([
            {"rule": "base", "points": 60},
            {"rule": "tier", "rule_id": ids[1], "points": 12}
        ]));
        let after = member(&app, &member_id).await;
        assert_eq!(after["tier"]["name"], "Vàng");
        assert_eq!(after["tier_progress"], json!({"next": "Bạch Kim", "remaining": 9_900_000}));
        assert_eq!(after["tier"]["discount_percent"], 5);
        let at_cafe = app.get(&format!("/api/v1/members/{member_id}?brand=cafe")).await.body;
        assert_eq!(at_cafe["tier"]["discount_percent"], 10, "the café's own discount for Vàng");

        let history = app.get(&format!("/api/v1/members/{member_id}/tier-history")).await.body;
        let reasons: Vec<(&str, &str)> = history["items"].as_array().unwrap().iter()
            .map(|c| (c["reason"].as_str().unwrap(), c["to"]["name"].as_str().unwrap())).collect();
        assert_eq!(reasons, [("upgrade", "Vàng"), ("upgrade", "Bạc")], "the first order went straight to Bạc");
        assert_eq!(history["items"][0]["from"]["name"], "Bạc");
        assert_eq!(history["items"][0]["value"], 5_100_000);
        app.stop().await;
    }

    async fn the_tier_multiplier_changes_the_points_of_the_next_order(db) {
        let app = spawn_app(db).await;
        ladder(&app).await;
        let member_id = member_with_spend(&app, "0911000002", &[5_000_000]).await;
        assert_eq!(member(&app, &member_id).await["tier"]["name"], "Vàng");
        let next = app.post("/api/v1/orders", paid(&member_id, "M-1", 100_000)).await;
        assert_eq!(next.body["points"]["earned"], 15, "10 base points x1.5");
        app.stop().await;
    }

    async fn a_review_a_year_later_drops_a_member_to_what_their_window_supports(db) {
        let app = spawn_app(db).await;
        ladder(&app).await;
        let member_id = member_with_spend(&app, "0911000003", &[5_500_000]).await;
        let gold = member(&app, &member_id).await;
        assert_eq!(gold["tier"]["name"], "Vàng");
        // Half a year later they spend a little; the review is still months away.
        app.clock.advance(SignedDuration::from_hours(24 * 182));
        app.post("/api/v1/orders", paid(&member_id, "R-1", 2_100_000)).await;
        app.app.run_points_job().await.unwrap();
        assert_eq!(member(&app, &member_id).await["tier"]["name"], "Vàng", "no downgrade before the review");
        // A year after reaching Vàng: only the later order is inside the rolling 12 months.
        app.clock.advance(SignedDuration::from_hours(24 * 184));
        app.app.run_points_job().await.unwrap();
        let reviewed = member(&app, &member_id).await;
        assert_eq!(reviewed["tier"]["name"], "Bạc");
        assert_eq!(reviewed["tier_value"], 2_100_000);
        let history = app.get(&format!("/api/v1/members/{member_id}/tier-history")).await.body;
        assert_eq!(history["items"][0]["reason"], "review");
        assert_eq!(history["items"][0]["from"]["name"], "Vàng");
        assert_eq!(history["items"][0]["to"]["name"], "Bạc");
        // The next review is a year after the previous one, not a year after the job ran.
        let next_review: jiff::Timestamp = reviewed["tier_review_at"].as_str().unwrap().parse().unwrap();
        let reached: jiff::Timestamp = gold["tier_reached_at"].as_str().unwrap().parse().unwrap();
        assert!(next_review > reached + SignedDuration::from_hours(24 * 700));
        app.stop().await;
    }

    async fn an_override_holds_until_its_end_date(db) {
        let app = spawn_app(db).await;
        let ids = ladder(&app).await;
        let member_id = member_with_spend(&app, "0911000004", &[100_000]).await;
        assert_eq!(member(&app, &member_id).await["tier"]["name"], "Đồng");
        let until = (app.app.now() + SignedDuration::from_hours(24 * 30)).to_string();
        let overridden = app.post(&format!("/api/v1/members/{member_id}/tier"), json!({"tier_id": ids[3], "until": until, "reason": "Khách VIP của chủ quán"})).await;
        assert_eq!(overridden.status, StatusCode::OK, "{:?}", overridden.body);
        assert_eq!(overridden.body["tier"]["name"], "Bạch Kim");
        assert_eq!(overridden.body["tier_overridden"], true);
        // Orders while overridden change nothing, and the job leaves it alone.
        app.post("/api/v1/orders", paid(&member_id, "O-1", 2_500_000)).await;
        app.clock.advance(SignedDuration::from_hours(24 * 29));
        app.app.run_points_job().await.unwrap();
        assert_eq!(member(&app, &member_id).await["tier"]["name"], "Bạch Kim");
        // Once it ends, the member holds what their value supports.
        app.clock.advance(SignedDuration::from_hours(48));
        app.app.run_points_job().await.unwrap();
        let after = member(&app, &member_id).await;
        assert_eq!(after["tier"]["name"], "Bạc");
        assert_eq!(after["tier_overridden"], false);
        let history = app.get(&format!("/api/v1/members/{member_id}/tier-history")).await.body;
        let reasons: Vec<&str> = history["items"].as_array().unwrap().iter().map(|c| c["reason"].as_str().unwrap()).collect();
        assert_eq!(reasons, ["review", "override", "upgrade"]);
        let bad = app.post(&format!("/api/v1/members/{member_id}/tier"), json!({"tier_id": "tie_nope", "reason": "x"})).await;
        assert_eq!(bad.error_field(), "tier_id");
        let no_reason = app.post(&format!("/api/v1/members/{member_id}/tier"), json!({"tier_id": ids[1], "reason": ""})).await;
        assert_eq!(no_reason.error_field(), "reason");
        app.stop().await;
    }

    async fn a_ladder_needs_unique_ranks_and_rising_thresholds(db) {
        let app = spawn_app(db).await;
        let ids = ladder(&app).await;
        let same_rank = app.post("/api/v1/tiers", json!({"name": "Kim Cương", "rank": 4, "threshold": 50_000_000})).await;
        assert_eq!(same_rank.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(same_rank.error_field(), "rank");
        let too_low = app.post("/api/v1/tiers", json!({"name": "Kim Cương", "rank": 5, "threshold": 1_000})).await;
        assert_eq!(too_low.error_field(), "threshold");
        let missing = app.post("/api/v1/tiers", json!({"name": "Kim Cương"})).await;
        assert_eq!(missing.error_field(), "rank");
        let bad_benefit = app.post("/api/v1/tiers", json!({"name": "Kim Cương", "rank": 5, "threshold": 50_000_000, "benefits": {"discount_percent": 150}})).await;
        assert_eq!(bad_benefit.error_field(), "benefits.discount_percent");
        let raised = app.request(Method::PATCH, &format!("/api/v1/tiers/{}", ids[2]), Some(&app.key), Some(json!({"threshold": 6_000_000}))).await;
        assert_eq!(raised.status, StatusCode::OK);
        assert_eq!(raised.body["threshold"], 6_000_000);
        let list = app.get("/api/v1/tiers").await.body;
        let names: Vec<&str> = list["items"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Đồng", "Bạc", "Vàng", "Bạch Kim"]);
        let read = app.key_with(&["read"]).await;
        let forbidden = app.request(Method::POST, "/api/v1/tiers", Some(&read), Some(json!({"name": "x", "rank": 9, "threshold": 99_000_000}))).await;
        assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
        app.stop().await;
    }

    async fn deleting_a_tier_moves_its_members_in_the_background(db) {
        let app = spawn_app(db).await;
        let ids = ladder(&app).await;
        let member_id = member_with_spend(&app, "0911000005", &[6_000_000]).await;
        assert_eq!(member(&app, &member_id).await["tier"]["name"], "Vàng");
        let deleted = app.request(Method::DELETE, &format!("/api/v1/tiers/{}", ids[2]), Some(&app.key), None).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        let mut tier = Value::Null;
        for _ in 0..100 {
            tier = member(&app, &member_id).await["tier"]["name"].clone();
            if tier == "Bạc" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(tier, "Bạc");
        app.stop().await;
    }
}
