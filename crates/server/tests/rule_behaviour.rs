//! Bonus rules on what the member did before the order (the segments' behaviour blocks), on
//! SQLite and PostgreSQL: the preview replays past orders as the till would have judged them,
//! and the till gives the bonus only to members whose history matches.

mod common;

use common::spawn_app;
use loyalty_store::on_both_backends;
use reqwest::StatusCode;
use serde_json::json;

fn bought(member_id: &str, external_id: &str, sku: &str, at: &str) -> serde_json::Value {
    json!({"source": "pos", "external_id": external_id, "member_id": member_id, "store": "HN01", "channel": "pos",
           "brand": "CPS", "placed_at": at,
           "lines": [{"sku": sku, "name": sku, "category": "drinks", "quantity": 1, "unit_price": 100_000}],
           "total": 100_000})
}

on_both_backends! {
    async fn a_rule_on_past_purchases_previews_and_earns_as_the_history_says(db) {
        let app = spawn_app(db).await;
        let lan = app.new_member("0915000001").await;
        let minh = app.new_member("0915000002").await;
        for body in [
            bought(&lan, "H-1", "CF-001", "2026-11-02T10:00:00+07:00"),
            bought(&lan, "H-2", "TRA-01", "2026-11-03T10:00:00+07:00"),
            bought(&minh, "H-3", "TRA-01", "2026-11-02T10:00:00+07:00"),
            bought(&minh, "H-4", "CF-001", "2026-09-20T10:00:00+07:00"),
        ] {
            let posted = app.post("/api/v1/orders", body).await;
            assert_eq!(posted.status, StatusCode::CREATED, "{:?}", posted.body);
        }
        let rule = json!({"name": "Khách quen cà phê",
            "conditions": {"all": [{"purchased": {"from": "2026-10-01", "sku": "CF-001", "brand": "CPS"}}]},
            "effect": {"bonus_points": 50}});
        let mut asked = rule.clone();
        asked["from"] = json!("2026-09-01T00:00:00+07:00");
        asked["to"] = json!("2026-12-01T00:00:00+07:00");
        let preview = app.post("/api/v1/earn-rules/preview", asked.clone()).await;
        assert_eq!(preview.status, StatusCode::OK, "{:?}", preview.body);
        // Only Lan's tea: her coffee came before it, within the period; Minh's was in September.
        assert_eq!((preview.body["orders_scanned"].as_i64(), preview.body["orders_matched"].as_i64(),
            preview.body["points"].as_i64()), (Some(4), Some(1), Some(50)), "{:?}", preview.body);
        let mut never = asked.clone();
        never["conditions"] = json!({"not_purchased": {"sku": "CF-001"}});
        let preview = app.post("/api/v1/earn-rules/preview", never).await;
        assert_eq!(preview.body["orders_matched"], 2, "each first coffee, with no coffee before it: {:?}", preview.body);
        let mut wrong = asked.clone();
        wrong["conditions"] = json!({"all": [{"purchased": {"since": "2026-10-01"}}]});
        let refused = app.post("/api/v1/earn-rules/preview", wrong).await;
        assert_eq!((refused.status, refused.error_field()), (StatusCode::UNPROCESSABLE_ENTITY, "conditions.all[0].purchased.since"));

        let created = app.post("/api/v1/earn-rules", rule).await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        let now = "2026-11-20T10:00:00+07:00";
        let hers = app.post("/api/v1/orders", bought(&lan, "N-1", "TRA-01", now)).await;
        assert_eq!(hers.body["points"]["earned"], 60, "{:?}", hers.body);
        let his = app.post("/api/v1/orders", bought(&minh, "N-2", "TRA-01", now)).await;
        assert_eq!(his.body["points"]["earned"], 10, "{:?}", his.body);
        let quote = app.post("/api/v1/orders/quote", bought(&lan, "Q-1", "TRA-01", now)).await;
        assert_eq!(quote.body["points"]["earned"], 60, "the quote asks the same: {:?}", quote.body);
        app.assert_verified().await;
        app.stop().await;
    }
}
