//! Importing history — past orders and the product catalogue — over HTTP, on SQLite and
//! PostgreSQL alike.

mod common;

use std::time::Duration;

use common::{TestApp, create_tenant, spawn_app};
use loyalty_store::on_both_backends;
use loyalty_store::repo::products;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Posts a file to an import endpoint and waits for the job to finish.
async fn import(app: &TestApp, path: &str, csv: &str) -> Value {
    import_with(app, &app.key, path, csv).await
}

async fn import_with(app: &TestApp, key: &str, path: &str, csv: &str) -> Value {
    let response = app
        .client
        .post(format!("{}{path}", app.base))
        .bearer_auth(key)
        .header("content-type", "text/csv")
        .body(csv.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    for _ in 0..500 {
        let job = app
            .request(reqwest::Method::GET, &location, Some(key), None)
            .await
            .body;
        if job["status"] != "running" {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the import did not finish");
}

fn error_rows(job: &Value) -> Vec<(i64, String)> {
    job["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_i64().unwrap(),
                e["field"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn member_by_phone(app: &TestApp, phone: &str) -> Value {
    let found = app.get(&format!("/api/v1/members?phone={phone}")).await;
    found.body["items"][0].clone()
}

/// Six orders in eight rows: three good (one of two lines, one for a customer the shop does
/// not know yet, one for a walk-in guest), and three refused — a total that does not add up
/// (row 6), an order with a future date and a zero quantity (rows 7 and 8), and an order whose
/// rows are not together (row 9).
const ORDERS: &str = "\u{feff}order_id,placed_at,phone,email,store,sku,name,category,quantity,unit_price,discount,shipping,total\r
HD1,01/10/2026 09:00,0901111111,,HN01,B1,Bánh mì,bánh,2,20.000,,,70.000\r
HD1,,,,,C1,Cà phê,drinks,1,30000,,,\r
HD2,2026-10-05 10:00,0902222222,,HN01,B1,Bánh mì,bánh,1,20000,5000,,15000\r
HD3,2026-10-06,,,HN02,C1,Cà phê,drinks,1,30000,,,\r
HD4,2026-10-07,0903333333,,,B1,,bánh,1,20000,,,99999\r
HD5,2099-01-01,0903333333,,,B1,,bánh,1,20000,,,\r
HD5,,,,,B1,,bánh,0,20000,,,\r
HD1,2026-10-08,0901111111,,,B1,,bánh,1,20000,,,\r
";

on_both_backends! {
    async fn past_orders_are_history_found_by_phone_and_importing_again_changes_nothing(db) {
        let app = spawn_app(db).await;
        let lan = app.post("/api/v1/members", json!({"name": "Lan", "phone": "0901111111"})).await;
        assert_eq!(lan.status, StatusCode::CREATED);

        let job = import(&app, "/api/v1/imports/orders", ORDERS).await;
        assert_eq!(job["status"], "done", "{job}");
        assert_eq!(job["kind"], "orders");
        let counts = (job["total"].as_i64(), job["imported"].as_i64(), job["failed"].as_i64());
        assert_eq!(counts, (Some(6), Some(3), Some(3)), "{job}");
        assert_eq!(
            error_rows(&job),
            [(6, "total".into()), (7, "placed_at".into()), (8, "quantity".into()), (9, "order_id".into())]
        );
        // A repeated order id is named with the rows it had before.
        assert!(job["errors"][3]["message"].as_str().unwrap().contains("began at row 2"), "{job}");

        // History only: counts and spend move on, points and tiers do not.
        let lan = member_by_phone(&app, "0901111111").await;
        assert_eq!(lan["order_count"], 1);
        assert_eq!(lan["lifetime_spend"], 70_000);
        assert_eq!(lan["points"]["available"], 0);
        assert_eq!(lan["last_order_at"], "2026-10-01T02:00:00Z");
        let new_customer = member_by_phone(&app, "0902222222").await;
        assert_eq!(new_customer["status"], "customer");
        assert_eq!(new_customer["lifetime_spend"], 15_000);
        assert!(member_by_phone(&app, "0903333333").await.is_null(), "a refused order registers no one");
        let events = app.event_types().await;
        assert_eq!(events.len(), usize::try_from(app.count("members").await).unwrap(), "{events:?}");
        assert!(events.iter().all(|t| t == "member.created"), "history raises no order.paid: {events:?}");

        // The lines are there for segments: two customers bought bread in October.
        let bread = json!({"conditions": {"all": [
            {"purchased": {"from": "2026-10-01", "to": "2026-11-01", "category": "bánh"}}
        ]}});
        assert_eq!(app.post("/api/v1/segments/preview", bread.clone()).await.body["count"], 2);

        let again = import(&app, "/api/v1/imports/orders", ORDERS).await;
        assert_eq!(again["imported"], 3, "{again}");
        let lan = member_by_phone(&app, "0901111111").await;
        assert_eq!((lan["order_count"].as_i64(), lan["lifetime_spend"].as_i64()), (Some(1), Some(70_000)));
        assert_eq!(app.post("/api/v1/segments/preview", bread).await.body["count"], 2);
        assert_eq!(app.event_types().await, events, "importing again raised nothing");
    }

    async fn with_earn_past_orders_earn_points_as_if_posted_then(db) {
        let app = spawn_app(db).await;
        let csv = "order_id,placed_at,phone,quantity,unit_price\nW1,2026-10-01 12:00,0904444444,1,100000\n";
        let job = import(&app, "/api/v1/imports/orders?earn=true", csv).await;
        assert_eq!((job["imported"].as_i64(), job["failed"].as_i64()), (Some(1), Some(0)), "{job}");
        let member = member_by_phone(&app, "0904444444").await;
        assert_eq!(member["status"], "member");
        assert_eq!(member["points"]["available"], 10); // 100,000 ₫ at 10,000 ₫ a point
        let again = import(&app, "/api/v1/imports/orders?earn=true", csv).await;
        assert_eq!(again["imported"], 1, "{again}");
        assert_eq!(member_by_phone(&app, "0904444444").await["points"]["available"], 10);
        assert_eq!(app.event_types().await, ["member.created", "order.paid", "points.earned", "member.activated"],
            "earning past orders raise what a posted order raises, once");
    }

    async fn products_are_upserted_and_bad_rows_named(db) {
        let app = spawn_app(db).await;
        let csv = "sku,name,category,brand,price\nCF-01,Cà phê sữa,drinks,cafe,35.000\nCF-02,Bạc xỉu,drinks,cafe,39000\n,No sku,,,1\ncf-01,Again,,,1\nCF-03,No price,,,\n";
        let job = import(&app, "/api/v1/imports/products", csv).await;
        assert_eq!((job["imported"].as_i64(), job["failed"].as_i64()), (Some(2), Some(3)), "{job}");
        assert_eq!(error_rows(&job), [(4, "sku".into()), (5, "sku".into()), (6, "price".into())]);
        let tenant = app.tenant_id.clone();
        let read = |sku: &'static str| {
            let tenant = tenant.clone();
            app.app.db().read(move |sql| products::get(sql, &tenant, sku))
        };
        let (product, first_write) = read("CF-01").await.unwrap().unwrap();
        assert_eq!((product.name.as_str(), product.price), ("Cà phê sữa", 35_000));

        app.clock.advance(jiff::SignedDuration::from_hours(1));
        import(&app, "/api/v1/imports/products", csv).await;
        assert_eq!(read("CF-01").await.unwrap().unwrap().1, first_write, "the same file changes nothing");
        import(&app, "/api/v1/imports/products", "sku,name,price\nCF-01,Cà phê sữa,36000\n").await;
        let (product, changed) = read("CF-01").await.unwrap().unwrap();
        assert_eq!((product.price, product.category.as_deref()), (36_000, Some("drinks")));
        assert!(changed > first_write);

        // A till that sends SKUs only: each line takes its product's category (a line naming
        // its own keeps it; an unknown SKU stays without).
        let posted = app.post("/api/v1/orders", json!({"source": "pos", "external_id": "SKU-ONLY-1", "total": 80000,
            "lines": [{"sku": "CF-02", "quantity": 1, "unit_price": 39000},
                      {"sku": "CF-01", "category": "promo", "quantity": 1, "unit_price": 36000},
                      {"sku": "XX-9", "quantity": 1, "unit_price": 5000}]})).await;
        assert_eq!(posted.status, StatusCode::CREATED, "{:?}", posted.body);
        let order = app.get(&format!("/api/v1/orders/{}", posted.body["id"].as_str().unwrap())).await;
        let categories: Vec<Value> = order.body["lines"].as_array().unwrap().iter().map(|l| l["category"].clone()).collect();
        assert_eq!(categories, [json!("drinks"), json!("promo"), Value::Null], "{:?}", order.body);
    }

    async fn an_orders_export_imports_into_another_shop_unchanged(db) {
        let app = spawn_app(db).await;
        import(&app, "/api/v1/imports/orders", ORDERS).await;
        // And one order from the till, whose id keeps its source.
        let posted = app.post("/api/v1/orders", json!({
            "source": "pos", "external_id": "HN01-7", "customer": {"phone": "0905555555"},
            "lines": [{"sku": "B1", "name": "Bánh, \"đặc biệt\"", "category": "bánh", "quantity": 3, "unit_price": 10000}],
            "total": 30000})).await;
        assert_eq!(posted.status, StatusCode::CREATED, "{:?}", posted.body);
        let export = |key: String| {
            let request = app.client.get(format!("{}/api/v1/orders/export", app.base)).bearer_auth(key);
            async move {
                let response = request.send().await.unwrap();
                assert_eq!(response.status(), StatusCode::OK);
                response.text().await.unwrap()
            }
        };
        let first = export(app.key.clone()).await;
        assert!(first.starts_with("\u{feff}order_id,placed_at,phone,"), "{first}");
        assert_eq!(first.lines().count(), 1 + 4 + 1, "{first}"); // header, HD1 ×2, HD2, HD3, pos
        assert!(first.contains("pos:HN01-7"), "{first}");

        let (_, other_key) = create_tenant(&app.app, "Thời Trang Mộc").await;
        let job = import_with(&app, &other_key, "/api/v1/imports/orders", &first).await;
        assert_eq!((job["imported"].as_i64(), job["failed"].as_i64()), (Some(4), Some(0)), "{job}");
        assert_eq!(export(other_key).await, first);
    }

    async fn a_file_with_an_unknown_column_is_refused_whole(db) {
        let app = spawn_app(db).await;
        let response = app.client.post(format!("{}/api/v1/imports/orders", app.base))
            .bearer_auth(&app.key).header("content-type", "text/csv")
            .body("order_id,colour\nA,red\n").send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let problem: Value = response.json().await.unwrap();
        assert!(problem["errors"][0]["message"].as_str().unwrap().contains("colour"), "{problem}");
    }
}
