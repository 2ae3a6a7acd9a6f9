//! The quote at the till: the same decisions as posting the order, nothing written — on SQLite
//! and PostgreSQL alike.

mod common;

use common::{TestApp, spawn_app};
use loyalty_store::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A gold member (5% tier discount) with 500 points and one 30.000 ₫ voucher of their own.
async fn gold_member_with_voucher(app: &TestApp) -> (String, String) {
    let tier = app
        .post(
            "/api/v1/tiers",
            json!({"name": "Vàng", "rank": 1, "threshold": 5_000_000, "benefits": {"discount_percent": 5}}),
        )
        .await;
    assert_eq!(tier.status, StatusCode::CREATED, "{:?}", tier.body);
    let member = app.new_member("0901234567").await;
    let placed = app
        .post(
            &format!("/api/v1/members/{member}/tier"),
            json!({"tier_id": tier.body["id"], "reason": "Khách quen"}),
        )
        .await;
    assert_eq!(placed.status, StatusCode::OK, "{:?}", placed.body);
    let given = app
        .post(
            &format!("/api/v1/members/{member}/points/adjustments"),
            json!({"points": 500, "reason": "Tặng điểm khai trương"}),
        )
        .await;
    assert_eq!(given.status, StatusCode::CREATED, "{:?}", given.body);
    let program = app
        .post(
            "/api/v1/voucher-programs",
            json!({"name": "Giảm 30k", "type": "fixed", "value": 30_000, "codes": {"kind": "unique", "length": 8}}),
        )
        .await;
    assert_eq!(program.status, StatusCode::CREATED, "{:?}", program.body);
    let codes = app
        .post(
            &format!(
                "/api/v1/voucher-programs/{}/codes",
                program.body["id"].as_str().unwrap()
            ),
            json!({"count": 1, "member_id": member}),
        )
        .await;
    let code = codes.body["codes"][0].as_str().unwrap().to_string();
    (member, code)
}

/// Two cups at 100.000 ₫ and 20.000 ₫ shipping.
fn basket(buyer: Value, vouchers: Value, points: i64) -> Value {
    let mut body = json!({"source": "pos", "external_id": "HN01-Q1", "store": "HN01", "channel": "pos",
        "lines": [{"sku": "CF-001", "name": "Cà phê", "category": "drinks", "quantity": 2, "unit_price": 100_000}],
        "shipping": 20_000, "total": 220_000, "vouchers": vouchers, "points_redeemed": points});
    for (k, v) in buyer.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

async fn written(app: &TestApp) -> (i64, i64, i64, i64) {
    (
        app.newest_event().await,
        app.count("orders").await,
        app.count("ledger_entries").await,
        app.count("activity_log").await,
    )
}

on_both_backends! {
    async fn a_quote_prices_the_basket_and_earns_what_posting_it_earns_writing_nothing(db) {
        let app = spawn_app(db).await;
        let (member, code) = gold_member_with_voucher(&app).await;
        let before = written(&app).await;

        let body = basket(json!({"member_id": member}), json!([code, "KHONG-CO"]), 40);
        let quote = app.post("/api/v1/orders/quote", body.clone()).await;
        assert_eq!(quote.status, StatusCode::OK, "{:?}", quote.body);
        let q = &quote.body;
        assert_eq!(q["tier_discount"], 10_000, "5% of the goods, not of shipping");
        assert_eq!(q["vouchers"][0], json!({"code": code, "valid": true, "discount": 30_000, "reason": null}));
        assert_eq!(q["vouchers"][1]["valid"], false);
        assert_eq!(q["vouchers"][1]["reason"], "not_found");
        assert_eq!(q["max_points_redeemable"], 90, "half of the 180.000 ₫ invoice at 1.000 ₫ a point");
        assert_eq!(q["total_after_discounts"], 140_000);
        assert_eq!(q["member"]["id"], member.as_str());
        assert_eq!(q["member"]["points"]["available"], 500);
        let breakdown_sum: i64 = q["points"]["breakdown"].as_array().unwrap().iter().map(|b| b["points"].as_i64().unwrap()).sum();
        assert_eq!(q["points"]["earned"].as_i64().unwrap(), breakdown_sum);
        // Earned on the invoice less shipping less the 40.000 ₫ paid with points: 120.000 ₫.
        assert_eq!(q["points"]["earned"], 12);
        assert_eq!(written(&app).await, before, "a quote writes nothing: no order, entry, activity or event");
        // The same quote again answers the same.
        assert_eq!(app.post("/api/v1/orders/quote", body).await.body, quote.body);

        // The till posts the order as quoted: the receipt earns what the quote said.
        let posted = app.post("/api/v1/orders", json!({"source": "pos", "external_id": "HN01-Q1", "member_id": member,
            "store": "HN01", "channel": "pos",
            "lines": [{"sku": "CF-001", "name": "Cà phê", "category": "drinks", "quantity": 2, "unit_price": 100_000}],
            "discount": 40_000, "shipping": 20_000, "total": 180_000, "vouchers": [code], "points_redeemed": 40})).await;
        assert_eq!(posted.status, StatusCode::CREATED, "{:?}", posted.body);
        assert_eq!(posted.body["points"]["earned"], q["points"]["earned"]);
        assert_eq!(posted.body["points"]["breakdown"], q["points"]["breakdown"]);
        app.assert_verified().await;
    }

    async fn guests_newcomers_and_refusals_are_quoted_as_posting_would_treat_them(db) {
        let app = spawn_app(db).await;
        let (member, _) = gold_member_with_voucher(&app).await;

        let guest = app.post("/api/v1/orders/quote", basket(json!({}), json!([]), 0)).await;
        assert_eq!(guest.status, StatusCode::OK, "{:?}", guest.body);
        assert_eq!(guest.body["member"], Value::Null);
        assert_eq!(guest.body["points"]["earned"], 0);
        assert_eq!(guest.body["total_after_discounts"], 220_000);

        // A customer not yet known would be registered and activated by a paid order: they earn.
        let before = app.count("members").await;
        let newcomer = app.post("/api/v1/orders/quote", basket(json!({"customer": {"phone": "0912345678"}}), json!([]), 0)).await;
        assert_eq!(newcomer.status, StatusCode::OK, "{:?}", newcomer.body);
        assert_eq!(newcomer.body["member"], Value::Null);
        assert_eq!(newcomer.body["points"]["earned"], 20, "200.000 ₫ of goods at 10.000 ₫ a point");
        assert_eq!(app.count("members").await, before, "nobody registered by a quote");

        let too_many = app.post("/api/v1/orders/quote", basket(json!({"member_id": member}), json!([]), 501)).await;
        assert_eq!(too_many.status, StatusCode::CONFLICT, "{:?}", too_many.body);
        assert_eq!(too_many.body["code"], "insufficient_points");
        let over_invoice = app.post("/api/v1/orders/quote", basket(json!({"member_id": member}), json!([]), 200)).await;
        assert_eq!(over_invoice.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", over_invoice.body);
        assert_eq!(over_invoice.error_field(), "points_redeemed");
        let unknown = app.post("/api/v1/orders/quote", basket(json!({"member_id": "mem_nobody"}), json!([]), 0)).await;
        assert_eq!(unknown.error_field(), "member_id");
        let wrong_total = app.post("/api/v1/orders/quote", json!({"source": "pos", "external_id": "X", "total": 5,
            "lines": [{"sku": "A", "quantity": 1, "unit_price": 10}]})).await;
        assert_eq!(wrong_total.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(wrong_total.error_field(), "total");

        let reader = app.key_with(&["read"]).await;
        let forbidden = app.request(Method::POST, "/api/v1/orders/quote", Some(&reader), Some(basket(json!({}), json!([]), 0))).await;
        assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    }
}
