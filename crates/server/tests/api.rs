//! Authentication, scopes, tenancy, errors and the API's own description.

mod common;

use common::spawn_app;
use loyalty_store::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::json;

on_both_backends! {
    async fn requests_without_a_valid_key_are_401(db) {
        let app = spawn_app(db).await;
        let none = app.request(Method::GET, "/api/v1/members", None, None).await;
        assert_eq!(none.status, StatusCode::UNAUTHORIZED);
        assert_eq!(none.content_type, "application/problem+json");
        assert_eq!(none.body["code"], "unauthorized");
        for key in ["nonsense", "lk_AAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"] {
            let reply = app.request(Method::GET, "/api/v1/members", Some(key), None).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{key}");
        }
        // The right prefix with a wrong secret is no better.
        let forged = format!("{}X", &app.key[..app.key.len() - 1]);
        let forged = if forged == app.key { format!("{}Y", &app.key[..app.key.len() - 1]) } else { forged };
        let reply = app.request(Method::GET, "/api/v1/members", Some(&forged), None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        app.stop().await;
    }

    async fn a_read_key_reads_but_gets_403_on_writes_and_a_pos_key_cannot_administer(db) {
        let app = spawn_app(db).await;
        let read = app.key_with(&["read"]).await;
        let pos = app.key_with(&["pos"]).await;
        let reply = app.request(Method::GET, "/api/v1/members", Some(&read), None).await;
        assert_eq!(reply.status, StatusCode::OK);
        let reply = app.request(Method::POST, "/api/v1/members", Some(&read), Some(json!({"phone": "0901234567"}))).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert_eq!(reply.body["code"], "forbidden");
        assert_eq!(app.count("members").await, 0);
        let reply = app.request(Method::POST, "/api/v1/members", Some(&pos), Some(json!({"phone": "0901234567"}))).await;
        assert_eq!(reply.status, StatusCode::CREATED);
        for (method, path, body) in [
            (Method::POST, "/api/v1/api-keys", Some(json!({"name": "x", "scopes": ["admin"]}))),
            (Method::GET, "/api/v1/api-keys", None),
            (Method::POST, "/api/v1/stores", Some(json!({"code": "HN01", "name": "Hà Nội 01"}))),
            (Method::GET, "/api/v1/staff", None),
        ] {
            let reply = app.request(method.clone(), path, Some(&pos), body).await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{method} {path}");
        }
        app.stop().await;
    }

    async fn another_tenants_key_gets_404_on_this_tenants_member(db) {
        let app = spawn_app(db).await;
        let created = app.post("/api/v1/members", json!({"phone": "0901234567", "name": "Khách A"})).await;
        let id = created.body["id"].as_str().unwrap().to_string();
        let (_, other) = common::create_tenant(&app.app, "Tiệm Bánh B").await;
        let path = format!("/api/v1/members/{id}");
        let read = app.request(Method::GET, &path, Some(&other), None).await;
        assert_eq!(read.status, StatusCode::NOT_FOUND);
        assert_eq!(read.body["code"], "not_found");
        let patch = app.request(Method::PATCH, &path, Some(&other), Some(json!({"name": "Hacked"}))).await;
        assert_eq!(patch.status, StatusCode::NOT_FOUND);
        let activate = app.request(Method::POST, &format!("{path}/activate"), Some(&other), Some(json!({}))).await;
        assert_eq!(activate.status, StatusCode::NOT_FOUND);
        let search = app.request(Method::GET, "/api/v1/members?phone=0901234567", Some(&other), None).await;
        assert_eq!(search.body["items"], json!([]));
        let log = app.request(Method::GET, &format!("/api/v1/activity?entity_id={id}"), Some(&other), None).await;
        assert_eq!(log.body["items"], json!([]));
        let mine = app.get(&path).await;
        assert_eq!(mine.body["name"], "Khách A", "untouched by the other tenant");
        app.stop().await;
    }

    async fn a_revoked_key_stops_working_at_once(db) {
        let app = spawn_app(db).await;
        let created = app.post("/api/v1/api-keys", json!({"name": "POS Hà Nội", "scopes": ["pos"]})).await;
        assert_eq!(created.status, StatusCode::CREATED);
        let secret = created.body["secret"].as_str().unwrap().to_string();
        let id = created.body["id"].as_str().unwrap().to_string();
        assert!(secret.starts_with(&format!("lk_{}_", created.body["prefix"].as_str().unwrap())));
        assert_eq!(app.request(Method::GET, "/api/v1/members", Some(&secret), None).await.status, StatusCode::OK);
        let listed = app.get("/api/v1/api-keys").await;
        let listed_key = listed.body["items"].as_array().unwrap().iter().find(|k| k["id"] == id.as_str()).unwrap().clone();
        assert!(listed_key.get("secret").is_none(), "a list never shows secrets");
        let revoked = app.request(Method::DELETE, &format!("/api/v1/api-keys/{id}"), Some(&app.key), None).await;
        assert_eq!(revoked.status, StatusCode::OK);
        assert!(revoked.body["revoked_at"].is_string());
        let after = app.request(Method::GET, "/api/v1/members", Some(&secret), None).await;
        assert_eq!(after.status, StatusCode::UNAUTHORIZED);
        let bad_scope = app.post("/api/v1/api-keys", json!({"name": "x", "scopes": ["superuser"]})).await;
        assert_eq!(bad_scope.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(bad_scope.error_field(), "scopes[0]");
        app.stop().await;
    }

    async fn brands_and_stores_are_kept_with_unique_codes(db) {
        let app = spawn_app(db).await;
        let brand = app.post("/api/v1/brands", json!({"code": "cafe", "name": "Cà Phê Sáng"})).await;
        assert_eq!(brand.status, StatusCode::CREATED, "{:?}", brand.body);
        let store = app
            .post("/api/v1/stores", json!({"code": "HN01", "name": "Chi nhánh Cầu Giấy", "brand": "cafe", "province": "Thành phố Hà Nội", "district": "Cầu Giấy"}))
            .await;
        assert_eq!(store.status, StatusCode::CREATED, "{:?}", store.body);
        assert_eq!(store.body["brand"], "cafe");
        assert_eq!(store.body["brand_id"], brand.body["id"]);
        assert_eq!(store.body["province_code"], "01");
        let again = app.post("/api/v1/stores", json!({"code": "HN01", "name": "Khác"})).await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        assert_eq!(again.error_field(), "code");
        let unknown = app.post("/api/v1/stores", json!({"code": "HN02", "name": "X", "brand": "tea"})).await;
        assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(unknown.error_field(), "brand");
        let bad_code = app.post("/api/v1/stores", json!({"code": "Hà Nội", "name": "X"})).await;
        assert_eq!(bad_code.error_field(), "code");
        let id = store.body["id"].as_str().unwrap();
        let moved = app.patch(&format!("/api/v1/stores/{id}"), json!({"province": "Bình Dương", "brand": null})).await;
        assert_eq!(moved.status, StatusCode::OK);
        assert_eq!(moved.body["province_code"], "79");
        assert_eq!(moved.body["brand"], json!(null));
        assert_eq!(moved.body["name"], "Chi nhánh Cầu Giấy");
        let list = app.get("/api/v1/stores").await;
        assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
        let brands = app.get("/api/v1/brands").await;
        assert_eq!(brands.body["items"][0]["code"], "cafe");
        assert_eq!(app.count("stores").await, 1);
        app.stop().await;
    }

    async fn staff_accounts_are_created_with_hashed_passwords(db) {
        let app = spawn_app(db).await;
        let created = app.post("/api/v1/staff", json!({"email": "thu.ngan@example.vn", "name": "Thu Ngân", "role": "cashier", "password": "mật khẩu dài"})).await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        assert!(created.body.get("password").is_none() && created.body.get("password_hash").is_none());
        let short = app.post("/api/v1/staff", json!({"email": "b@example.vn", "role": "viewer", "password": "short"})).await;
        assert_eq!(short.error_field(), "password");
        let duplicate = app.post("/api/v1/staff", json!({"email": "THU.NGAN@example.vn", "role": "viewer", "password": "another password"})).await;
        assert_eq!(duplicate.status, StatusCode::CONFLICT);
        let list = app.get("/api/v1/staff").await;
        assert_eq!(list.body["items"].as_array().unwrap().len(), 2, "the owner and the cashier");
        app.stop().await;
    }

    async fn bodies_that_are_not_json_too_large_or_unknown_routes_get_problem_documents(db) {
        let app = spawn_app(db).await;
        let malformed = app.post_raw("/api/v1/members", "application/json", b"{\"phone\": ".to_vec()).await;
        assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
        assert_eq!(malformed.content_type, "application/problem+json");
        let not_json = app.post_raw("/api/v1/members", "text/plain", b"phone=0901234567".to_vec()).await;
        assert_eq!(not_json.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let huge = format!("{{\"phone\": \"0901234567\", \"name\": \"{}\"}}", "a".repeat(2 * 1024 * 1024));
        let too_large = app.post_raw("/api/v1/members", "application/json", huge.into_bytes()).await;
        assert_eq!(too_large.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(too_large.body["code"], "too_large");
        let nowhere = app.get("/api/v1/nowhere").await;
        assert_eq!(nowhere.status, StatusCode::NOT_FOUND);
        assert_eq!(nowhere.content_type, "application/problem+json");
        let wrong_method = app.request(Method::DELETE, "/api/v1/members", Some(&app.key), None).await;
        assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
        let missing = app.get("/api/v1/members/mem_nope").await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert_eq!(app.count("members").await, 0);
        app.stop().await;
    }

    async fn health_and_the_openapi_document_are_served(db) {
        let app = spawn_app(db).await;
        let health = app.request(Method::GET, "/healthz", None, None).await;
        assert_eq!(health.status, StatusCode::OK);
        assert_eq!(health.body["status"], "ok");
        let doc = app.request(Method::GET, "/api/v1/openapi.json", None, None).await;
        assert_eq!(doc.status, StatusCode::OK);
        assert!(doc.body["openapi"].as_str().unwrap().starts_with("3."));
        for path in ["/api/v1/members", "/api/v1/members/{id}", "/api/v1/members/{id}/activate", "/api/v1/api-keys", "/api/v1/brands", "/api/v1/stores", "/api/v1/activity", "/healthz"] {
            assert!(doc.body["paths"].get(path).is_some(), "{path} is described");
        }
        assert!(doc.body["components"]["schemas"].get("MemberIn").is_some());
        assert!(doc.body["components"]["schemas"].get("Problem").is_some());
        let tenant = app.get("/api/v1/tenant").await;
        assert_eq!(tenant.body["timezone"], "Asia/Ho_Chi_Minh");
        assert_eq!(tenant.body["currency"], "VND");
        app.stop().await;
    }
}
