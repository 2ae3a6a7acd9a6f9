//! Members over HTTP, on SQLite and PostgreSQL alike.

mod common;

use common::spawn_app;
use loyalty_store::on_both_backends;
use reqwest::StatusCode;
use serde_json::json;

on_both_backends! {
    async fn a_member_is_created_read_searched_and_updated(db) {
        let app = spawn_app(db).await;
        let created = app
            .post("/api/v1/members", json!({
                "phone": "0901234567", "email": "A@Example.vn", "name": "Nguyễn Văn A",
                "gender": "female", "birthday": "1990-05-17", "province": "Hà Nội",
                "district": "Cầu Giấy", "tags": ["vip"], "attributes": {"favourite": "trà sữa"},
                "consent": {"email": true, "sms": true, "zalo": false},
                "external_ids": {"haravan": "1002"}
            }))
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        let m = &created.body;
        let id = m["id"].as_str().unwrap().to_string();
        assert_eq!(m["status"], "customer");
        assert_eq!(m["phone"], "+84901234567");
        assert_eq!(m["email"], "a@example.vn");
        assert_eq!(m["birthday"], "1990-05-17");
        assert_eq!(m["province_code"], "01");
        assert_eq!(m["tags"], json!(["vip"]));
        assert_eq!(m["attributes"]["favourite"], "trà sữa");
        assert_eq!(m["consent"], json!({"email": true, "sms": true, "zalo": false}));
        assert_eq!(m["external_ids"], json!({"haravan": "1002"}));
        assert_eq!(m["tier"], json!(null));
        assert_eq!(m["points"], json!({"available": 0, "pending": 0, "debt": 0}));
        assert_eq!(m["member_since"], json!(null));
        let code = m["member_code"].as_str().unwrap();
        assert_eq!(code.len(), 8);
        assert!(code.bytes().all(|b| loyalty_core::code::ALPHABET.contains(&b)));
        assert!(m["created_at"].as_str().unwrap().ends_with('Z'));

        let read = app.get(&format!("/api/v1/members/{id}")).await;
        assert_eq!(read.status, StatusCode::OK);
        assert_eq!(read.body, created.body, "a read returns what the create returned");

        for query in [
            "phone=0901234567".to_string(),
            "phone=%2B84%2090%20123%204567".to_string(),
            "email=a%40EXAMPLE.vn".to_string(),
            format!("member_code={}", code.to_lowercase()),
            "q=nguyen%20van".to_string(),
            "q=VĂN".to_string(),
            "q=0901".to_string(),
        ] {
            let found = app.get(&format!("/api/v1/members?{query}")).await;
            assert_eq!(found.status, StatusCode::OK, "{query}");
            assert_eq!(found.body["items"].as_array().unwrap().len(), 1, "{query}");
            assert_eq!(found.body["items"][0]["id"], id.as_str(), "{query}");
        }
        let none = app.get("/api/v1/members?q=tuyet").await;
        assert_eq!(none.body["items"], json!([]));

        let updated = app
            .patch(&format!("/api/v1/members/{id}"), json!({
                "name": "Nguyễn Văn B", "district": null, "attributes": {"size": "M"},
                "consent": {"sms": false}
            }))
            .await;
        assert_eq!(updated.status, StatusCode::OK, "{:?}", updated.body);
        assert_eq!(updated.body["name"], "Nguyễn Văn B");
        assert_eq!(updated.body["district"], json!(null));
        assert_eq!(updated.body["province"], "Hà Nội", "absent fields stay");
        assert_eq!(updated.body["attributes"], json!({"favourite": "trà sữa", "size": "M"}));
        assert_eq!(updated.body["consent"], json!({"email": true, "sms": false, "zalo": false}));
        let found = app.get("/api/v1/members?q=van%20b").await;
        assert_eq!(found.body["items"][0]["id"], id.as_str(), "search follows the new name");

        let activated = app.post(&format!("/api/v1/members/{id}/activate"), json!({})).await;
        assert_eq!(activated.status, StatusCode::OK);
        assert_eq!(activated.body["status"], "member");
        assert!(activated.body["member_since"].is_string());
        let again = app.post(&format!("/api/v1/members/{id}/activate"), json!({})).await;
        assert_eq!(again.body["member_since"], activated.body["member_since"], "activating twice changes nothing");
        app.stop().await;
    }

    async fn every_phone_form_in_the_contract_lands_on_one_member(db) {
        let app = spawn_app(db).await;
        let created = app.post("/api/v1/members", json!({"phone": "0901234567"})).await;
        assert_eq!(created.body["phone"], "+84901234567");
        for form in ["0901234567", "84901234567", "+84 90 123 4567", "+84901234567", "0084 901 234 567"] {
            let duplicate = app.post("/api/v1/members", json!({"phone": form})).await;
            assert_eq!(duplicate.status, StatusCode::CONFLICT, "{form} is the same number");
            assert_eq!(duplicate.error_field(), "phone");
        }
        // An old 11-digit Viettel number is the member's current 10-digit one.
        let old = app.post("/api/v1/members", json!({"phone": "01621234567"})).await;
        assert_eq!(old.status, StatusCode::CREATED);
        assert_eq!(old.body["phone"], "+84321234567");
        let found = app.get("/api/v1/members?phone=0321234567").await;
        assert_eq!(found.body["items"][0]["id"], old.body["id"]);
        app.stop().await;
    }

    async fn invalid_phone_email_and_birthday_are_422_naming_the_field_and_write_nothing(db) {
        let app = spawn_app(db).await;
        let cases = [
            (json!({"phone": "12345"}), "phone"),
            (json!({"phone": "0601234567"}), "phone"),
            (json!({"email": "not-an-email"}), "email"),
            (json!({"phone": "0901234567", "birthday": "1990-02-30"}), "birthday"),
            (json!({"phone": "0901234567", "birthday": "17/05/1990"}), "birthday"),
            (json!({"phone": "0901234567", "birthday": "2999-01-01"}), "birthday"),
            (json!({"phone": "0901234567", "gender": "robot"}), "gender"),
            (json!({"phone": "0901234567", "tags": ["ok", ""]}), "tags[1]"),
            (json!({"name": "Không có liên lạc"}), "phone"),
            (json!({"phone": "0901234567", "nickname": "x"}), "nickname"),
            (json!({"phone": "0901234567", "consent": {"sms": "yes"}}), "consent.sms"),
            (json!({"phone": "0901234567", "consent": {"fax": true}}), "consent.fax"),
        ];
        for (body, field) in cases {
            let reply = app.post("/api/v1/members", body.clone()).await;
            assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
            assert_eq!(reply.content_type, "application/problem+json");
            assert_eq!(reply.body["status"], 422);
            assert_eq!(reply.error_field(), field, "{body} → {:?}", reply.body);
        }
        // Several mistakes at once are all reported.
        let many = app.post("/api/v1/members", json!({"phone": "1", "email": "x", "birthday": "x"})).await;
        let fields: Vec<&str> = many.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["phone", "email", "birthday"]);
        // Each names its rule with a stable code beside the English message.
        let codes: Vec<&str> = many.body["errors"].as_array().unwrap().iter().map(|e| e["code"].as_str().unwrap()).collect();
        assert_eq!(codes, ["phone.not_vietnamese", "email.shape", "birthday.format"]);
        let future = app.post("/api/v1/members", json!({"phone": "0901234567", "birthday": "2999-01-01"})).await;
        assert_eq!(future.body["errors"][0]["code"], "birthday.year");
        assert_eq!(future.body["errors"][0]["message"], "birthday year must be between 1900 and this year");
        let missing = app.post("/api/v1/members", json!({"name": "Không có liên lạc"})).await;
        assert_eq!(missing.body["errors"][0]["code"], "member.contact_required", "{:?}", missing.body);
        assert_eq!(app.count("members").await, 0);
        assert_eq!(app.count("activity_log").await, 3, "only the tenant's own creation is logged");
        app.stop().await;
    }

    async fn a_phone_or_email_already_used_in_the_tenant_is_409(db) {
        let app = spawn_app(db).await;
        let first = app.post("/api/v1/members", json!({"phone": "0912345678", "email": "lan@example.vn"})).await;
        assert_eq!(first.status, StatusCode::CREATED);
        let by_email = app.post("/api/v1/members", json!({"email": "LAN@example.vn"})).await;
        assert_eq!(by_email.status, StatusCode::CONFLICT);
        assert_eq!(by_email.error_field(), "email");
        assert_eq!(by_email.body["code"], "duplicate");
        let second = app.post("/api/v1/members", json!({"phone": "0987654321"})).await;
        let id = second.body["id"].as_str().unwrap();
        let taken = app.patch(&format!("/api/v1/members/{id}"), json!({"phone": "0912345678"})).await;
        assert_eq!(taken.status, StatusCode::CONFLICT);
        assert_eq!(taken.error_field(), "phone");
        let external = app.post("/api/v1/members", json!({"phone": "0977777777", "external_ids": {"haravan": "9"}})).await;
        assert_eq!(external.status, StatusCode::CREATED);
        let clash = app.post("/api/v1/members", json!({"phone": "0977777778", "external_ids": {"haravan": "9"}})).await;
        assert_eq!(clash.status, StatusCode::CONFLICT);
        assert_eq!(clash.error_field(), "external_ids.haravan");
        // The same phone in another tenant is someone else's customer: allowed.
        let (_, other_key) = common::create_tenant(&app.app, "Trà Sữa Chiều").await;
        let elsewhere = app.request(reqwest::Method::POST, "/api/v1/members", Some(&other_key), Some(json!({"phone": "0912345678"}))).await;
        assert_eq!(elsewhere.status, StatusCode::CREATED);
        app.stop().await;
    }

    async fn concurrent_registrations_of_one_phone_create_one_member(db) {
        let app = spawn_app(db).await;
        let mut replies = Vec::new();
        for _ in 0..20 {
            let (client, base, key) = (app.client.clone(), app.base.clone(), app.key.clone());
            replies.push(tokio::spawn(async move {
                client.post(format!("{base}/api/v1/members")).bearer_auth(key)
                    .json(&json!({"phone": "0933333333"})).send().await.unwrap().status()
            }));
        }
        let mut created = 0;
        for reply in replies {
            match reply.await.unwrap() {
                StatusCode::CREATED => created += 1,
                StatusCode::CONFLICT => {}
                other => panic!("unexpected status {other}"),
            }
        }
        assert_eq!(created, 1);
        assert_eq!(app.count("members").await, 1);
        app.stop().await;
    }

    async fn a_vietnamese_name_round_trips_byte_for_byte(db) {
        let app = spawn_app(db).await;
        let nfc = "Nguyễn Thị Ánh Tuyết";
        let nfd = "Nguye\u{302}\u{303}n Thi\u{323} A\u{301}nh Tuye\u{302}\u{301}t";
        for (phone, name) in [("0901111111", nfc), ("0902222222", nfd)] {
            let created = app.post("/api/v1/members", json!({"phone": phone, "name": name})).await;
            let id = created.body["id"].as_str().unwrap();
            let read = app.get(&format!("/api/v1/members/{id}")).await;
            assert_eq!(read.body["name"].as_str().unwrap().as_bytes(), name.as_bytes());
        }
        // Both spellings are found without tone marks.
        let found = app.get("/api/v1/members?q=anh%20tuyet").await;
        assert_eq!(found.body["items"].as_array().unwrap().len(), 2);
        app.stop().await;
    }

    async fn lists_page_with_a_cursor_until_the_last_page(db) {
        let app = spawn_app(db).await;
        let mut ids = Vec::new();
        for i in 0..5 {
            let created = app.post("/api/v1/members", json!({"phone": format!("090000000{i}")})).await;
            ids.push(created.body["id"].as_str().unwrap().to_string());
        }
        let mut seen = Vec::new();
        let mut path = "/api/v1/members?limit=2".to_string();
        loop {
            let page = app.get(&path).await;
            assert_eq!(page.status, StatusCode::OK);
            for item in page.body["items"].as_array().unwrap() {
                seen.push(item["id"].as_str().unwrap().to_string());
            }
            match page.body["next_cursor"].as_str() {
                Some(cursor) => path = format!("/api/v1/members?limit=2&cursor={cursor}"),
                None => break,
            }
        }
        assert_eq!(seen, ids);
        assert_eq!(app.get("/api/v1/members?limit=0").await.error_field(), "limit");
        assert_eq!(app.get("/api/v1/members?limit=501").await.error_field(), "limit");
        assert_eq!(app.get("/api/v1/members?cursor=%25%25").await.error_field(), "cursor");
        assert_eq!(app.get("/api/v1/members?phon=0900000000").await.error_field(), "phon");
        app.stop().await;
    }

    async fn the_activity_log_shows_who_changed_what(db) {
        let app = spawn_app(db).await;
        let pos_key = app.key_with(&["pos"]).await;
        let created = app
            .request(reqwest::Method::POST, "/api/v1/members", Some(&pos_key), Some(json!({"phone": "0905555555", "name": "Lê Lan"})))
            .await;
        let id = created.body["id"].as_str().unwrap().to_string();
        app.patch(&format!("/api/v1/members/{id}"), json!({"name": "Lê Thị Lan"})).await;

        let log = app.get(&format!("/api/v1/activity?entity=member&entity_id={id}")).await;
        assert_eq!(log.status, StatusCode::OK);
        let entries = log.body["items"].as_array().unwrap();
        assert_eq!(entries.len(), 2, "{entries:?}");
        let (update, create) = (&entries[0], &entries[1]);
        assert_eq!(update["action"], "update");
        assert_eq!(update["actor"]["kind"], "api_key");
        assert_eq!(update["actor"]["name"], "Owner key");
        assert_eq!(update["before"]["name"], "Lê Lan");
        assert_eq!(update["after"]["name"], "Lê Thị Lan");
        assert_eq!(create["action"], "create");
        assert_eq!(create["before"], json!(null));
        assert_eq!(create["after"]["phone"], "+84905555555");
        let pos_key_id = create["actor"]["id"].as_str().unwrap().to_string();
        assert_eq!(create["actor"]["name"], "test key");

        let by_actor = app.get(&format!("/api/v1/activity?actor={pos_key_id}&entity=member")).await;
        assert_eq!(by_actor.body["items"].as_array().unwrap().len(), 1);
        let future = app.get("/api/v1/activity?from=2999-01-01T00:00:00%2B07:00").await;
        assert_eq!(future.body["items"], json!([]));
        let bad = app.get("/api/v1/activity?from=yesterday").await;
        assert_eq!(bad.error_field(), "from");
        // An update that changes nothing is not logged.
        app.patch(&format!("/api/v1/members/{id}"), json!({"name": "Lê Thị Lan"})).await;
        let log = app.get(&format!("/api/v1/activity?entity_id={id}")).await;
        assert_eq!(log.body["items"].as_array().unwrap().len(), 2);
        app.stop().await;
    }
}
