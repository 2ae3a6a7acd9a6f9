//! Inbound webhooks from Haravan, Shopify, Sapo and KiotViet, sent the way each platform sends
//! them (its headers, its signature, payloads of the shapes in INTERFACES.md §3), on SQLite and
//! PostgreSQL alike: bad signatures turned away with nothing written, retries applied once,
//! paid → earn, cancel → reversed, refunds by amount, and deliveries out of order.

mod common;

use common::{Reply, TestApp, spawn_app};
use loyalty_connect::Platform;
use loyalty_store::on_both_backends;
use reqwest::StatusCode;
use serde_json::{Value, json};

const SECRET: &str = "hush-a-platform-secret";
const PHONE: &str = "0901234567";

async fn connect(app: &TestApp, platform: Platform) -> String {
    let created = app
        .post(
            "/api/v1/connections",
            json!({"platform": platform.as_str(), "name": "Cửa hàng online", "secret": SECRET,
                   "verify_token": "verify-me", "store": "WEB"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(
        created.body["webhook_url"],
        format!(
            "/hooks/{}/{}",
            platform.as_str(),
            created.body["id"].as_str().unwrap()
        )
    );
    assert!(
        created.body.get("secret").is_none(),
        "the secret is never shown back"
    );
    created.body["id"].as_str().unwrap().to_string()
}

/// A delivery as the platform sends it. `signature: None` signs it right.
async fn deliver(
    app: &TestApp,
    platform: Platform,
    connection: &str,
    topic: &str,
    body: &Value,
    signature: Option<&str>,
) -> StatusCode {
    let bytes = serde_json::to_vec(body).unwrap();
    let signed = platform.sign(SECRET, &bytes);
    let mut request = app
        .client
        .post(format!(
            "{}/hooks/{}/{}",
            app.base,
            platform.as_str(),
            connection
        ))
        .header("content-type", "application/json")
        .header(platform.signature_header(), signature.unwrap_or(&signed));
    if let Some(header) = platform.topic_header() {
        request = request.header(header, topic);
    }
    request.body(bytes).send().await.unwrap().status()
}

/// An order in the platform's shape: Shopify's fields (Haravan and Sapo follow them), or a
/// KiotViet invoice delivery. `state`: pending, paid, cancelled.
fn order(platform: Platform, id: u64, state: &str) -> Value {
    if platform == Platform::Kiotviet {
        let status = match state {
            "paid" => 1,
            "cancelled" => 2,
            _ => 3,
        };
        return json!({"Id": format!("kv-{id}-{state}"), "Attempt": 1, "Notifications": [
            {"Action": "invoice.update.500123", "Data": [{
                "Id": id, "Code": format!("HD{id}"), "PurchaseDate": "2026-11-20T10:00:00.0000000",
                "CustomerId": 7001, "CustomerCode": "KH000001", "CustomerName": "Trần Thị Bình",
                "ContactNumber": PHONE, "Total": 200000, "TotalPayment": 200000, "Status": status,
                "InvoiceDetails": [{"ProductCode": "CF-001", "ProductName": "Cà phê sữa",
                                    "Quantity": 4, "Price": 50000, "Discount": 0}]}]}]});
    }
    let financial = if state == "paid" || state == "cancelled" {
        "paid"
    } else {
        "pending"
    };
    json!({
        "id": id, "name": format!("#{id}"), "order_number": id, "email": null, "phone": null,
        "created_at": "2026-11-20T10:00:00+07:00", "currency": "VND",
        "total_price": "200000.00", "current_total_price": "200000.00",
        "financial_status": financial,
        "cancelled_at": if state == "cancelled" { json!("2026-11-21T09:00:00+07:00") } else { Value::Null },
        "customer": {"id": 1150, "email": "binh@example.vn", "phone": PHONE,
                     "first_name": "Bình", "last_name": "Trần"},
        "line_items": [{"id": 1, "sku": "CF-001", "title": "Cà phê sữa", "quantity": 4, "price": "50000.00"}],
        "shipping_lines": [], "refunds": []
    })
}

fn topic(platform: Platform, state: &str) -> &'static str {
    match (platform, state) {
        (Platform::Kiotviet, _) => "",
        (_, "paid") => "orders/paid",
        (_, "cancelled") => "orders/cancelled",
        (_, "updated") => "orders/updated",
        _ => "orders/create",
    }
}

/// Our order of the platform's order `id`, if any.
async fn our_order(app: &TestApp, platform: Platform, id: u64) -> Option<Value> {
    let found = app
        .get(&format!(
            "/api/v1/orders?source={}&external_id={id}",
            platform.as_str()
        ))
        .await;
    assert_eq!(found.status, StatusCode::OK, "{:?}", found.body);
    let id = found.body["items"].as_array().unwrap().first()?["id"]
        .as_str()?
        .to_string();
    let detail = app.get(&format!("/api/v1/orders/{id}")).await;
    assert_eq!(detail.status, StatusCode::OK, "{:?}", detail.body);
    Some(detail.body)
}

async fn available(app: &TestApp, member: &str) -> i64 {
    let points = app.get(&format!("/api/v1/members/{member}/points")).await;
    points.body["available"].as_i64().unwrap()
}

async fn log(app: &TestApp, connection: &str) -> Vec<Value> {
    let reply: Reply = app
        .get(&format!("/api/v1/connections/{connection}/deliveries"))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    reply.body["items"].as_array().unwrap().clone()
}

on_both_backends! {
    async fn a_bad_signature_is_refused_before_anything_is_read_or_written(db) {
        let app = spawn_app(db).await;
        for platform in Platform::ALL {
            let connection = connect(&app, platform).await;
            let body = order(platform, 1001, "paid");
            for signature in ["", "dGhpcyBpcyBub3QgaXQ=", "sha256=00ff"] {
                let status = deliver(&app, platform, &connection, "orders/paid", &body, Some(signature)).await;
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{platform:?} with {signature:?}");
            }
            // Signed with another secret.
            let forged = platform.sign("not-the-secret", &serde_json::to_vec(&body).unwrap());
            let status = deliver(&app, platform, &connection, "orders/paid", &body, Some(&forged)).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            // The right signature on another connection's URL, or another platform's URL.
            let status = deliver(&app, platform, "con_unknown", "orders/paid", &body, None).await;
            assert_eq!(status, StatusCode::NOT_FOUND);
        }
        assert_eq!(app.count("orders").await, 0);
        assert_eq!(app.count("members").await, 0);
        assert_eq!(app.count("connection_deliveries").await, 0);
        app.stop().await;
    }

    async fn the_same_delivery_five_times_is_one_order_and_one_earn(db) {
        let app = spawn_app(db).await;
        for (n, platform) in Platform::ALL.into_iter().enumerate() {
            let connection = connect(&app, platform).await;
            let id = 2000 + n as u64;
            let body = order(platform, id, "paid");
            for _ in 0..5 {
                let status = deliver(&app, platform, &connection, topic(platform, "paid"), &body, None).await;
                assert_eq!(status, StatusCode::OK, "{platform:?}");
            }
            let ours = our_order(&app, platform, id).await.expect("the paid order is ours now");
            assert_eq!(ours["status"], "paid");
            assert_eq!(ours["total"], 200_000);
            assert_eq!(ours["store"], "WEB");
            let member = ours["member_id"].as_str().expect("the customer was found or registered by phone");
            let earned = ours["points"]["earned"].as_i64().unwrap();
            assert!(earned > 0, "{ours}");
            // Four platforms, one customer (one phone): each order earned exactly once.
            let orders = app.get(&format!("/api/v1/orders?member_id={member}")).await;
            let count = orders.body["items"].as_array().map_or(0, Vec::len);
            assert_eq!(count, n + 1, "{:?}", orders.body);
            let entries = log(&app, &connection).await;
            assert_eq!(entries.len(), 1, "{entries:?}");
            assert_eq!(entries[0]["receipts"], 5);
            assert_eq!(entries[0]["result"], "applied");
            assert_eq!(entries[0]["order_id"], ours["id"]);
        }
        app.assert_verified().await;
        app.stop().await;
    }

    async fn paid_then_cancelled_reverses_the_points(db) {
        let app = spawn_app(db).await;
        for (n, platform) in Platform::ALL.into_iter().enumerate() {
            let connection = connect(&app, platform).await;
            let id = 3000 + n as u64;
            assert_eq!(deliver(&app, platform, &connection, topic(platform, "paid"), &order(platform, id, "paid"), None).await, StatusCode::OK);
            let ours = our_order(&app, platform, id).await.unwrap();
            let member = ours["member_id"].as_str().unwrap().to_string();
            let before = available(&app, &member).await;
            let earned = ours["points"]["earned"].as_i64().unwrap();
            for _ in 0..2 {
                let status = deliver(&app, platform, &connection, topic(platform, "cancelled"), &order(platform, id, "cancelled"), None).await;
                assert_eq!(status, StatusCode::OK);
            }
            let ours = our_order(&app, platform, id).await.unwrap();
            assert_eq!(ours["status"], "cancelled", "{platform:?}");
            assert_eq!(ours["points"]["reversed"], earned);
            assert_eq!(available(&app, &member).await, before - earned);
        }
        app.assert_verified().await;
        app.stop().await;
    }

    async fn refunds_reverse_points_by_the_amount_refunded(db) {
        let app = spawn_app(db).await;
        // Shopify: `refunds/create`, counted from its successful refund transactions.
        let connection = connect(&app, Platform::Shopify).await;
        deliver(&app, Platform::Shopify, &connection, "orders/paid", &order(Platform::Shopify, 4001, "paid"), None).await;
        let ours = our_order(&app, Platform::Shopify, 4001).await.unwrap();
        let earned = ours["points"]["earned"].as_i64().unwrap();
        let refund = json!({"id": 777, "order_id": 4001, "created_at": "2026-11-22T10:00:00+07:00",
            "refund_line_items": [
                {"id": 1, "line_item_id": 1, "quantity": 1, "restock_type": "cancel", "subtotal": 50000},
                {"id": 2, "line_item_id": 1, "quantity": 1, "restock_type": "return", "subtotal": 50000}],
            "transactions": [
                {"id": 1, "kind": "refund", "status": "success", "amount": "50000.00", "currency": "VND"},
                {"id": 2, "kind": "refund", "status": "failure", "amount": "50000.00", "currency": "VND"}]});
        for _ in 0..3 {
            assert_eq!(deliver(&app, Platform::Shopify, &connection, "refunds/create", &refund, None).await, StatusCode::OK);
        }
        // The order's own update lists the same refund: recognised by its id, not applied again.
        let mut updated = order(Platform::Shopify, 4001, "paid");
        updated["financial_status"] = json!("partially_refunded");
        updated["refunds"] = json!([refund]);
        assert_eq!(deliver(&app, Platform::Shopify, &connection, "orders/updated", &updated, None).await, StatusCode::OK);
        let ours = our_order(&app, Platform::Shopify, 4001).await.unwrap();
        assert_eq!(ours["status"], "partially_refunded");
        assert_eq!(ours["refunded_amount"], 50_000, "a quarter of the order, once");
        assert_eq!(ours["points"]["reversed"], earned / 4);

        // Haravan: no refund topic; `orders/updated` says partially_refunded and what is left.
        let connection = connect(&app, Platform::Haravan).await;
        deliver(&app, Platform::Haravan, &connection, "orders/paid", &order(Platform::Haravan, 4002, "paid"), None).await;
        let mut updated = order(Platform::Haravan, 4002, "paid");
        updated["financial_status"] = json!("partially_refunded");
        updated["current_total_price"] = json!("150000.00");
        for _ in 0..2 {
            deliver(&app, Platform::Haravan, &connection, "orders/updated", &updated, None).await;
        }
        let ours = our_order(&app, Platform::Haravan, 4002).await.unwrap();
        assert_eq!(ours["refunded_amount"], 50_000);
        updated["financial_status"] = json!("refunded");
        updated["current_total_price"] = json!("0.00");
        deliver(&app, Platform::Haravan, &connection, "orders/updated", &updated, None).await;
        let ours = our_order(&app, Platform::Haravan, 4002).await.unwrap();
        assert_eq!(ours["status"], "refunded");
        assert_eq!(ours["refunded_amount"], 200_000);
        assert_eq!(ours["points"]["reversed"], ours["points"]["earned"], "a full refund reverses all");
        app.assert_verified().await;
        app.stop().await;
    }

    async fn deliveries_out_of_order_apply_once_and_only_forward(db) {
        let app = spawn_app(db).await;
        for (n, platform) in [Platform::Haravan, Platform::Shopify, Platform::Sapo].into_iter().enumerate() {
            let connection = connect(&app, platform).await;
            // `orders/updated` (paid) before `orders/create` (pending): earns once, and the
            // late create takes nothing back.
            let id = 5000 + n as u64;
            deliver(&app, platform, &connection, "orders/updated", &order(platform, id, "paid"), None).await;
            deliver(&app, platform, &connection, "orders/create", &order(platform, id, "pending"), None).await;
            let ours = our_order(&app, platform, id).await.expect("posted when paid");
            assert_eq!(ours["status"], "paid");
            let entries = log(&app, &connection).await;
            assert_eq!(entries[0]["result"], "ignored", "{entries:?}");
            assert_eq!(entries[0]["detail"], "already up to date");

            // Unpaid at creation, paid later: earns once, when paid.
            let id = 5100 + n as u64;
            deliver(&app, platform, &connection, "orders/create", &order(platform, id, "pending"), None).await;
            assert!(our_order(&app, platform, id).await.is_none(), "not paid: not ours yet");
            deliver(&app, platform, &connection, "orders/paid", &order(platform, id, "paid"), None).await;
            deliver(&app, platform, &connection, "orders/updated", &order(platform, id, "paid"), None).await;
            assert_eq!(our_order(&app, platform, id).await.unwrap()["status"], "paid");

            // Cancelled before the paid delivery arrived: a late "paid" earns nothing (also when
            // the cancellation's log line carries notes, here about an unusable phone).
            let id = 5200 + n as u64;
            let mut cancelled = order(platform, id, "cancelled");
            cancelled["customer"]["phone"] = json!("12345");
            deliver(&app, platform, &connection, "orders/cancelled", &cancelled, None).await;
            assert!(log(&app, &connection).await[0]["detail"].as_str().unwrap().contains("12345"));
            deliver(&app, platform, &connection, "orders/paid", &order(platform, id, "paid"), None).await;
            assert!(our_order(&app, platform, id).await.is_none());
        }
        app.assert_verified().await;
        app.stop().await;
    }

    async fn a_guest_order_customers_and_kiotviet_customer_ids(db) {
        let app = spawn_app(db).await;
        // A POS order without a customer is a guest order: kept, nobody earns.
        let connection = connect(&app, Platform::Haravan).await;
        let mut guest = order(Platform::Haravan, 6001, "paid");
        guest["customer"] = Value::Null;
        deliver(&app, Platform::Haravan, &connection, "orders/paid", &guest, None).await;
        let ours = our_order(&app, Platform::Haravan, 6001).await.unwrap();
        assert_eq!(ours["member_id"], Value::Null);

        // Shopify's customers/create registers the customer (no activation).
        let shopify = connect(&app, Platform::Shopify).await;
        let customer = json!({"id": 42, "email": "an@example.vn", "phone": "0912000111", "first_name": "An", "last_name": "Lê"});
        deliver(&app, Platform::Shopify, &shopify, "customers/create", &customer, None).await;
        let found = app.get("/api/v1/members?q=0912000111").await;
        let member = &found.body["items"][0];
        assert_eq!(member["name"], "An Lê", "{:?}", found.body);
        assert_eq!(member["external_ids"]["shopify"], "42");

        // KiotViet: the customer record carries the phone; the invoice only the customer's id.
        let kiotviet = connect(&app, Platform::Kiotviet).await;
        let customer = json!({"Id": "kv-c-1", "Attempt": 1, "Notifications": [
            {"Action": "customer.update.500123", "Data": [
                {"Id": 7002, "Code": "KH000002", "Name": "Phạm Văn Cường", "ContactNumber": "0987654321"}]}]});
        deliver(&app, Platform::Kiotviet, &kiotviet, "", &customer, None).await;
        let mut invoice = order(Platform::Kiotviet, 6002, "paid");
        let data = &mut invoice["Notifications"][0]["Data"][0];
        data["CustomerId"] = json!(7002);
        data.as_object_mut().unwrap().remove("ContactNumber");
        deliver(&app, Platform::Kiotviet, &kiotviet, "", &invoice, None).await;
        let ours = our_order(&app, Platform::Kiotviet, 6002).await.unwrap();
        let member = app.get(&format!("/api/v1/members/{}", ours["member_id"].as_str().unwrap())).await;
        assert_eq!(member.body["phone"], "+84987654321");
        assert_eq!(ours["channel"], "pos");
        app.stop().await;
    }

    async fn haravan_handshake_and_the_connections_api(db) {
        let app = spawn_app(db).await;
        let connection = connect(&app, Platform::Haravan).await;
        let url = |token: &str| format!("{}/hooks/haravan/{connection}?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=c-123", app.base);
        let answer = app.client.get(url("verify-me")).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
        assert_eq!(answer.text().await.unwrap(), "c-123");
        let answer = app.client.get(url("wrong")).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::FORBIDDEN);

        let bad = app.post("/api/v1/connections", json!({"platform": "woocommerce", "name": "x", "secret": "s"})).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(bad.error_field(), "platform");
        let typo = app.post("/api/v1/connections", json!({"platform": "shopify", "name": "x", "secret": "s", "secert": "s"})).await;
        assert_eq!(typo.status, StatusCode::UNPROCESSABLE_ENTITY);

        let off = app.patch(&format!("/api/v1/connections/{connection}"), json!({"active": false})).await;
        assert_eq!(off.body["active"], false);
        let body = order(Platform::Haravan, 7001, "paid");
        assert_eq!(deliver(&app, Platform::Haravan, &connection, "orders/paid", &body, None).await, StatusCode::NOT_FOUND);
        let list = app.get("/api/v1/connections").await;
        assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
        let read_only = app.key_with(&["read"]).await;
        let denied = app.request(reqwest::Method::GET, "/api/v1/connections", Some(&read_only), None).await;
        assert_eq!(denied.status, StatusCode::FORBIDDEN);
        app.stop().await;
    }
}
