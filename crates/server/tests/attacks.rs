//! The attacks and clumsy integrations of the hardening review (issue 12), each replayed
//! against a real server on SQLite and PostgreSQL: every one must now be refused cleanly and
//! leave the data as it was.

mod common;

use common::{Reply, TestApp, spawn_app};
use loyalty_store::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn adjust(app: &TestApp, member: &str, points: Value) -> Reply {
    app.post(
        &format!("/api/v1/members/{member}/points/adjustments"),
        json!({"points": points, "reason": "probe"}),
    )
    .await
}

/// A browser of the admin UI that does not follow redirects, with a CSRF cookie it chose.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

const CSRF: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

fn form(fields: &[(&str, &str)]) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        out.append_pair(k, v);
    }
    out.finish()
}

/// `POST /login` from `client_ip` (as a trusted proxy would say); the status and headers.
async fn sign_in(
    app: &TestApp,
    email: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> reqwest::Response {
    let mut request = browser()
        .post(format!("{}/login", app.base))
        .header("cookie", format!("loyalty_csrf={CSRF}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("csrf", CSRF),
            ("email", email),
            ("password", password),
            ("next", "/members"),
        ]));
    if let Some(ip) = forwarded_for {
        request = request.header("x-forwarded-for", ip);
    }
    request.send().await.unwrap()
}

/// Signs in and returns the session cookie's value.
async fn session_of(app: &TestApp, email: &str, password: &str) -> String {
    let response = sign_in(app, email, password, None).await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "signed in as {email}"
    );
    let set = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    set.split(';')
        .next()
        .unwrap()
        .trim_start_matches("loyalty_session=")
        .to_string()
}

/// `GET path` with a session: 200, or 303 to the login page when the session is over.
async fn page_with(app: &TestApp, session: &str, path: &str) -> StatusCode {
    browser()
        .get(format!("{}{path}", app.base))
        .header("cookie", format!("loyalty_session={session}"))
        .send()
        .await
        .unwrap()
        .status()
}

async fn staff_id(app: &TestApp, email: &str) -> String {
    let list = app.get("/api/v1/staff").await.body;
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == email)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn staff_account(app: &TestApp, email: &str, role: &str) {
    let reply = app
        .post(
            "/api/v1/staff",
            json!({"email": email, "role": role, "password": "đúng mật khẩu"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
}

on_both_backends! {
    // ---- 1. money and points overflow ----

    async fn orders_with_amounts_beyond_the_ceiling_are_refused_and_write_nothing(db) {
        let app = spawn_app(db).await;
        let huge = i64::MAX;
        for (n, body) in [
            json!({"source": "pos", "external_id": "x1", "customer": {"phone": "0901234567"}, "total": huge}),
            json!({"source": "pos", "external_id": "x2", "customer": {"phone": "0901234567"}, "total": huge, "discount": 1}),
            json!({"source": "pos", "external_id": "x3", "customer": {"phone": "0901234567"}, "total": 10_000_000_000_001i64}),
            json!({"source": "pos", "external_id": "x4", "customer": {"phone": "0901234567"}, "total": 1, "shipping": huge}),
            json!({"source": "pos", "external_id": "x5", "customer": {"phone": "0901234567"}, "total": 2,
                   "lines": [{"quantity": huge, "unit_price": 2}]}),
            json!({"source": "pos", "external_id": "x6", "customer": {"phone": "0901234567"}, "total": 0,
                   "lines": [{"quantity": 1, "unit_price": -1}]}),
            json!({"source": "pos", "external_id": "x7", "customer": {"phone": "0901234567"}, "total": 10, "points_redeemed": huge}),
        ].into_iter().enumerate() {
            let reply = app.post("/api/v1/orders", body).await;
            assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "case {n}: {:?}", reply.body);
            assert!(!reply.error_field().is_empty(), "case {n} names its field: {:?}", reply.body);
        }
        assert_eq!(app.count("orders").await, 0);
        assert_eq!(app.count("members").await, 0);
        // The largest amount allowed still works, and the member reads back.
        let max = 10_000_000_000_000i64;
        let reply = app.post("/api/v1/orders", json!({"source": "pos", "external_id": "ok",
            "customer": {"phone": "0901234567"}, "total": max})).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        let member = reply.body["member_id"].as_str().unwrap();
        assert_eq!(app.get(&format!("/api/v1/members/{member}")).await.body["lifetime_spend"], max);
        assert_eq!(app.get(&format!("/api/v1/members/{member}/points")).await.status, StatusCode::OK);
        assert_eq!(app.get("/api/v1/members").await.status, StatusCode::OK);
        app.assert_verified().await;
        app.stop().await;
    }

    async fn refunds_beyond_the_ceiling_are_refused(db) {
        let app = spawn_app(db).await;
        let order = app.post("/api/v1/orders", json!({"source": "pos", "external_id": "r",
            "customer": {"phone": "0901234567"}, "total": 50_000})).await;
        let id = order.body["id"].as_str().unwrap();
        for amount in [json!(i64::MAX), json!(0), json!(-5)] {
            let reply = app.post(&format!("/api/v1/orders/{id}/refunds"), json!({"external_id": "R1", "amount": amount})).await;
            assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{amount}: {:?}", reply.body);
            assert_eq!(reply.error_field(), "amount");
        }
        app.stop().await;
    }

    async fn a_lifetime_counter_that_would_wrap_is_refused_with_409(db) {
        let app = spawn_app(db).await;
        let member = app.new_member("0901234567").await;
        // A corrupt or imported counter close to the edge: the next order must not wrap it.
        let tenant = app.tenant_id.clone();
        let id = member.clone();
        app.app.db().write(move |sql| {
            sql.execute(
                "update members set lifetime_spend = $1 where tenant_id = $2 and id = $3",
                loyalty_store::params![i64::MAX - 10, tenant.as_str(), id.as_str()],
            )
        }).await.unwrap();
        let reply = app.post("/api/v1/orders", json!({"source": "pos", "external_id": "w",
            "member_id": member, "total": 1_000})).await;
        assert_eq!(reply.status, StatusCode::CONFLICT, "{:?}", reply.body);
        assert_eq!(reply.body["code"], "out_of_range");
        assert_eq!(app.count("orders").await, 0);
        let read = app.get(&format!("/api/v1/members/{member}")).await;
        assert_eq!(read.status, StatusCode::OK);
        assert_eq!(read.body["lifetime_spend"], i64::MAX - 10);
        app.stop().await;
    }

    async fn every_money_points_and_count_field_refuses_values_beyond_its_ceiling(db) {
        let app = spawn_app(db).await;
        let huge = json!(i64::MAX);
        let shared = app.post("/api/v1/voucher-programs", json!({"name": "Chào", "type": "fixed", "value": 10000,
            "codes": {"kind": "shared", "code": "CHAO-2026"}})).await;
        assert_eq!(shared.status, StatusCode::CREATED, "{:?}", shared.body);
        let mut program = app.get("/api/v1/program").await.body;
        program["earn"]["spend_per_point"] = huge.clone();
        program["redeem"]["point_value"] = huge.clone();
        let put = app.request(Method::PUT, "/api/v1/program", Some(&app.key), Some(program)).await;
        assert_eq!(put.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", put.body);
        for (path, body, field) in [
            ("/api/v1/vouchers/validate", json!({"code": "CHAO-2026", "order": {"total": huge, "shipping": 1}}), "order.total"),
            ("/api/v1/vouchers/validate", json!({"code": "CHAO-2026", "order": {"total": 5, "shipping": -9_223_372_036_854_775_807i64}}), "order.shipping"),
            ("/api/v1/vouchers/redeem", json!({"code": "CHAO-2026", "order_ref": "x", "order": {"total": 100, "lines": [{"quantity": huge, "unit_price": huge}]}}), "order.lines[0].quantity"),
            ("/api/v1/voucher-programs", json!({"name": "x", "type": "fixed", "value": huge, "codes": {"kind": "shared", "code": "X1-2026"}}), "value"),
            ("/api/v1/voucher-programs", json!({"name": "x", "type": "percent", "value": 5, "min_order": huge, "codes": {"kind": "shared", "code": "X2-2026"}}), "min_order"),
            ("/api/v1/voucher-programs", json!({"name": "x", "type": "percent", "value": 5, "limits": {"total_uses": huge}, "codes": {"kind": "shared", "code": "X3-2026"}}), "limits.total_uses"),
            ("/api/v1/rewards", json!({"name": "x", "points_cost": huge, "kind": "gift"}), "points_cost"),
            ("/api/v1/rewards", json!({"name": "x", "points_cost": 5, "kind": "gift", "stock": huge}), "stock"),
            ("/api/v1/earn-rules", json!({"name": "x", "conditions": {"all": []}, "effect": {"bonus_points": 5}, "caps": {"budget_points": huge}}), "caps.budget_points"),
            ("/api/v1/tiers", json!({"name": "x", "rank": 1, "threshold": huge}), "threshold"),
        ] {
            let reply = app.post(path, body).await;
            assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {:?}", reply.body);
            assert_eq!(reply.error_field(), field, "{path}: {:?}", reply.body);
        }
        // A file of members and one of past orders: the bad rows are named, nothing wraps.
        let csv = format!("phone,points,lifetime_spend\n0901234567,{},0\n0912345678,0,{}\n0987654321,10,10\n",
            1_000_000_000_001i64, 10_000_000_000_001i64);
        let job = app.post_raw("/api/v1/imports/members", "text/csv", csv.into_bytes()).await;
        let id = job.body["id"].as_str().unwrap().to_string();
        let mut report = Value::Null;
        for _ in 0..500 {
            report = app.get(&format!("/api/v1/imports/{id}")).await.body;
            if report["status"] != "running" { break; }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!((report["imported"].as_i64(), report["failed"].as_i64()), (Some(1), Some(2)), "{report}");
        let fields: Vec<&str> = report["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["points", "lifetime_spend"]);
        app.assert_verified().await;
        app.stop().await;
    }

    // ---- 2. hostile adjustments ----

    async fn an_adjustment_of_the_smallest_integer_is_refused_and_writes_nothing(db) {
        let app = spawn_app(db).await;
        let member = app.new_member("0901234567").await;
        for points in [json!(i64::MIN), json!(i64::MIN + 1), json!(i64::MAX), json!(1_000_000_000_001i64), json!(-1_000_000_000_001i64)] {
            let reply = adjust(&app, &member, points.clone()).await;
            assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{points}: {:?}", reply.body);
            assert_eq!(reply.error_field(), "points");
        }
        assert_eq!(app.count("ledger_entries").await, 0);
        let points = app.get(&format!("/api/v1/members/{member}/points")).await;
        assert_eq!(points.status, StatusCode::OK);
        assert_eq!(points.body["available"], 0);
        app.assert_verified().await;
        app.stop().await;
    }

    async fn repeated_maximal_credits_stop_at_the_edge_instead_of_wrapping(db) {
        let app = spawn_app(db).await;
        let member = app.new_member("0901234567").await;
        let activated = app.post(&format!("/api/v1/members/{member}/activate"), json!({})).await;
        assert_eq!(activated.status, StatusCode::OK, "{:?}", activated.body);
        // Bring the balance near the edge directly, as years of data (or a bug) could.
        let tenant = app.tenant_id.clone();
        let id = member.clone();
        app.app.db().write(move |sql| {
            sql.execute(
                "update members set points_available = $1, lifetime_points = $1 where tenant_id = $2 and id = $3",
                loyalty_store::params![i64::MAX - 5, tenant.as_str(), id.as_str()],
            )
        }).await.unwrap();
        let reply = adjust(&app, &member, json!(1_000_000_000_000i64)).await;
        assert_eq!(reply.status, StatusCode::CONFLICT, "{:?}", reply.body);
        assert_eq!(reply.body["code"], "out_of_range");
        assert_eq!(app.count("ledger_entries").await, 0);
        // Verify names the member whose stored balance no ledger explains, and does not abort.
        let report = app.app.verify().await.expect("verify runs to the end");
        assert!(report.problems.iter().any(|p| p.contains(&member)), "{:?}", report.problems);
        app.stop().await;
    }

    async fn verify_reports_a_ledger_whose_sums_leave_64_bits_and_goes_on(db) {
        let app = spawn_app(db).await;
        let broken = app.new_member("0901234567").await;
        let fine = app.new_member("0912345678").await;
        assert_eq!(adjust(&app, &fine, json!(10)).await.status, StatusCode::CREATED);
        // Two entries of i64::MAX each: what the old adjustment path let through.
        let tenant = app.tenant_id.clone();
        let id = broken.clone();
        app.app.db().write(move |sql| {
            for n in 0..2 {
                sql.execute(
                    "insert into ledger_entries (tenant_id, id, member_id, kind, points, remaining, created_at, available_at)
                     values ($1, $2, $3, 'adjust', $4, $4, 0, 0)",
                    loyalty_store::params![tenant.as_str(), format!("led_x{n}"), id.as_str(), i64::MAX],
                )?;
            }
            Ok::<_, loyalty_store::DbError>(())
        }).await.unwrap();
        let report = app.app.verify().await.expect("verify runs to the end");
        assert_eq!(report.members_checked, 2);
        assert!(report.problems.iter().all(|p| p.contains(&broken)), "{:?}", report.problems);
        assert!(!report.problems.is_empty());
        // The member's points page answers rather than failing.
        let points = app.get(&format!("/api/v1/members/{broken}/points")).await;
        assert_eq!(points.status, StatusCode::OK, "{:?}", points.body);
        app.stop().await;
    }

    // ---- 3. Idempotency-Key ----

    async fn a_retried_redemption_with_the_same_key_spends_the_points_once(db) {
        let app = spawn_app(db).await;
        let member = app.new_member("0901234567").await;
        assert_eq!(adjust(&app, &member, json!(500)).await.status, StatusCode::CREATED);
        let gift = app.post("/api/v1/rewards", json!({"name": "Ly sứ", "points_cost": 100, "kind": "gift"})).await;
        assert_eq!(gift.status, StatusCode::CREATED, "{:?}", gift.body);
        let path = format!("/api/v1/members/{member}/redemptions");
        let body = json!({"reward_id": gift.body["id"]});
        let (first, replayed) = app.keyed(Method::POST, &path, "till-7f3a", body.clone()).await;
        assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
        assert!(!replayed);
        let (again, replayed) = app.keyed(Method::POST, &path, "till-7f3a", body.clone()).await;
        assert_eq!(again.status, StatusCode::CREATED);
        assert!(replayed, "the retry is marked as a replay");
        assert_eq!(again.body, first.body, "the retry gets the first answer");
        let points = app.get(&format!("/api/v1/members/{member}/points")).await.body;
        assert_eq!(points["available"], 400, "spent once");
        // The same key with another body is refused.
        let (other, _) = app.keyed(Method::POST, &path, "till-7f3a", json!({"reward_id": "rwd_other"})).await;
        assert_eq!(other.status, StatusCode::CONFLICT, "{:?}", other.body);
        assert_eq!(other.body["code"], "idempotency_key_reused");
        app.assert_verified().await;
        app.stop().await;
    }

    async fn an_adjustment_sent_twice_with_one_key_credits_once_even_when_racing(db) {
        let app = spawn_app(db).await;
        let member = app.new_member("0901234567").await;
        let path = format!("/api/v1/members/{member}/points/adjustments");
        let body = json!({"points": 70, "reason": "bù điểm"});
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (client, url, key, body) = (app.client.clone(), format!("{}{path}", app.base), app.key.clone(), body.clone());
            tasks.push(tokio::spawn(async move {
                let r = client.post(url).bearer_auth(key).header("idempotency-key", "adj-1").json(&body).send().await.unwrap();
                (r.status(), r.json::<Value>().await.unwrap())
            }));
        }
        let mut entries = std::collections::BTreeSet::new();
        for task in tasks {
            let (status, body) = task.await.unwrap();
            assert_eq!(status, StatusCode::CREATED, "every copy gets the first answer: {body:?}");
            entries.insert(body["entry"]["id"].as_str().unwrap().to_string());
        }
        assert_eq!(entries.len(), 1, "one entry, the same in every answer");
        assert_eq!(app.count("ledger_entries").await, 1);
        assert_eq!(app.get(&format!("/api/v1/members/{member}/points")).await.body["available"], 70);
        // A failed request claims nothing: its key may carry the corrected request.
        let (bad, _) = app.keyed(Method::POST, &path, "adj-2", json!({"points": 0, "reason": "x"})).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        let (good, _) = app.keyed(Method::POST, &path, "adj-2", json!({"points": 5, "reason": "x"})).await;
        assert_eq!(good.status, StatusCode::CREATED, "{:?}", good.body);
        app.stop().await;
    }

    async fn an_idempotency_key_is_kept_a_day_then_forgotten_and_documented(db) {
        let app = spawn_app(db).await;
        let member = app.new_member("0901234567").await;
        let path = format!("/api/v1/members/{member}/points/adjustments");
        let body = json!({"points": 10, "reason": "x"});
        assert_eq!(app.keyed(Method::POST, &path, "day", body.clone()).await.0.status, StatusCode::CREATED);
        app.clock.advance(jiff::SignedDuration::from_hours(23));
        assert!(app.keyed(Method::POST, &path, "day", body.clone()).await.1, "replayed within the day");
        app.clock.advance(jiff::SignedDuration::from_hours(2));
        assert_eq!(app.app.purge_idempotency_keys().await.unwrap(), 1);
        let (later, replayed) = app.keyed(Method::POST, &path, "day", body).await;
        assert_eq!(later.status, StatusCode::CREATED);
        assert!(!replayed, "a key is forgotten after 24 hours");
        assert_eq!(app.get(&format!("/api/v1/members/{member}/points")).await.body["available"], 20);
        let doc = app.request(Method::GET, "/api/v1/openapi.json", None, None).await.body;
        let params = doc["paths"]["/api/v1/orders"]["post"]["parameters"].as_array().unwrap().clone();
        assert!(params.iter().any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header"), "{params:?}");
        assert!(doc["paths"]["/api/v1/members"]["get"]["parameters"].as_array().unwrap()
            .iter().all(|p| p["name"] != "Idempotency-Key"), "reads take no key");
        app.stop().await;
    }

    async fn idempotency_keys_belong_to_one_tenant_and_must_be_well_formed(db) {
        let app = spawn_app(db).await;
        let (_, other_key) = common::create_tenant(&app.app, "Trà Chiều").await;
        let send = |key: String, idem: &'static str, phone: &'static str| {
            let (client, url) = (app.client.clone(), format!("{}/api/v1/members", app.base));
            async move {
                client.post(url).bearer_auth(key).header("idempotency-key", idem)
                    .json(&json!({"phone": phone})).send().await.unwrap().status()
            }
        };
        assert_eq!(send(app.key.clone(), "same", "0901234567").await, StatusCode::CREATED);
        assert_eq!(send(other_key, "same", "0901234567").await, StatusCode::CREATED, "another tenant's key is its own");
        assert_eq!(send(app.key.clone(), "a key with spaces", "0912345678").await, StatusCode::UNPROCESSABLE_ENTITY);
        let long: &'static str = Box::leak("k".repeat(256).into_boxed_str());
        assert_eq!(send(app.key.clone(), long, "0912345678").await, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(app.count("members").await, 1);
        app.stop().await;
    }

    // ---- 5. scopes ----

    async fn a_pos_key_cannot_touch_saved_segments_nor_a_read_key_see_who_did_what(db) {
        let app = spawn_app(db).await;
        let (pos, read) = (app.key_with(&["pos"]).await, app.key_with(&["read"]).await);
        let saved = app.post("/api/v1/segments", json!({"name": "VIP", "conditions": {"all": []}})).await;
        assert_eq!(saved.status, StatusCode::CREATED, "{:?}", saved.body);
        let path = format!("/api/v1/segments/{}", saved.body["id"].as_str().unwrap());
        let deleted = app.request(Method::DELETE, &path, Some(&pos), None).await;
        assert_eq!(deleted.status, StatusCode::FORBIDDEN);
        let renamed = app.request(Method::PATCH, &path, Some(&pos), Some(json!({"name": "x"}))).await;
        assert_eq!(renamed.status, StatusCode::FORBIDDEN);
        let created = app.request(Method::POST, "/api/v1/segments", Some(&pos), Some(json!({"name": "x", "conditions": {"all": []}}))).await;
        assert_eq!(created.status, StatusCode::FORBIDDEN);
        assert_eq!(app.get(&path).await.body["name"], "VIP");
        assert_eq!(app.count("segments").await, 1);
        let activity = app.request(Method::GET, "/api/v1/activity", Some(&read), None).await;
        assert_eq!(activity.status, StatusCode::FORBIDDEN);
        let import = app.post_raw("/api/v1/imports/members", "text/csv", b"phone\n0901234567\n".to_vec()).await;
        let report = app.request(Method::GET, &format!("/api/v1/imports/{}", import.body["id"].as_str().unwrap()), Some(&read), None).await;
        assert_eq!(report.status, StatusCode::FORBIDDEN);
        app.stop().await;
    }

    async fn every_route_answers_every_scope_as_the_scope_table_says(db) {
        use loyalty_core::tenancy::{Scope, grants};
        let app = spawn_app(db).await;
        let keys = [
            (Scope::Read, app.key_with(&["read"]).await),
            (Scope::Pos, app.key_with(&["pos"]).await),
            (Scope::Admin, app.key.clone()),
        ];
        let doc = app.request(Method::GET, "/api/v1/openapi.json", None, None).await.body;
        let mut walked = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            if !path.starts_with("/api/") {
                continue;
            }
            for method in ["get", "post", "put", "patch", "delete"] {
                if item.get(method).is_none() {
                    continue;
                }
                let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                let needed = loyalty_server::api::scopes::required(&method, path)
                    .unwrap_or_else(|| panic!("{method} {path} is missing from api::scopes"));
                let concrete = path.replace("{id}", "none");
                let body = (method != Method::GET).then(|| json!({}));
                let anonymous = app.request(method.clone(), &concrete, None, body.clone()).await;
                assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{method} {path} without a key");
                for (scope, key) in &keys {
                    let reply = app.request(method.clone(), &concrete, Some(key), body.clone()).await;
                    let what = format!("{method} {path} with a {} key: {:?}", scope.as_str(), reply.body);
                    assert!(!reply.status.is_server_error(), "{what}");
                    if grants(&[*scope], needed) {
                        assert_ne!(reply.status, StatusCode::FORBIDDEN, "{what}");
                    } else {
                        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{what}");
                    }
                }
                walked += 1;
            }
        }
        assert!(walked > 70, "walked {walked} routes");
        app.stop().await;
    }

    // ---- 4. sign-in limits ----

    async fn forty_parallel_wrong_passwords_for_one_account_get_few_real_checks(db) {
        let app = spawn_app(db).await;
        staff_account(&app, "thu.ngan@example.vn", "cashier").await;
        let attempts: Vec<_> = (0..40)
            .map(|_| {
                let (base, body) = (app.base.clone(), form(&[("csrf", CSRF), ("email", "thu.ngan@example.vn"), ("password", "đoán sai")]));
                tokio::spawn(async move {
                    browser().post(format!("{base}/login"))
                        .header("cookie", format!("loyalty_csrf={CSRF}"))
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(body).send().await.unwrap()
                })
            })
            .collect();
        let (mut checked, mut refused) = (0, 0);
        for attempt in attempts {
            let response = attempt.await.unwrap();
            match response.status() {
                StatusCode::UNAUTHORIZED => checked += 1,
                StatusCode::TOO_MANY_REQUESTS => {
                    assert!(response.headers().contains_key("retry-after"));
                    refused += 1;
                }
                other => panic!("unexpected {other}"),
            }
        }
        assert!(checked <= 3, "{checked} passwords were checked");
        assert_eq!(checked + refused, 40);
        app.stop().await;
    }

    async fn the_right_password_after_wrong_ones_waits_seconds_not_fifteen_minutes(db) {
        let app = spawn_app(db).await;
        staff_account(&app, "quan.ly@example.vn", "manager").await;
        for _ in 0..3 {
            let wrong = sign_in(&app, "quan.ly@example.vn", "sai rồi", None).await;
            assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED, "a wrong password is a 401 page, not a redirect");
            assert!(wrong.text().await.unwrap().contains("<form"));
        }
        let early = sign_in(&app, "quan.ly@example.vn", "đúng mật khẩu", None).await;
        assert_eq!(early.status(), StatusCode::TOO_MANY_REQUESTS, "refused at once during the delay");
        assert_eq!(early.headers()["retry-after"], "1");
        tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
        let right = sign_in(&app, "quan.ly@example.vn", "đúng mật khẩu", None).await;
        assert_eq!(right.status(), StatusCode::SEE_OTHER);
        assert_eq!(right.headers()["location"], "/members");
        app.stop().await;
    }

    async fn many_unknown_e_mails_at_once_neither_exhaust_memory_nor_break_the_server(db) {
        let app = spawn_app(db).await;
        let attempts: Vec<_> = (0..48)
            .map(|n| {
                let (base, body) = (app.base.clone(), form(&[("csrf", CSRF), ("email", &format!("khong-co-{n}@example.vn")), ("password", "x")]));
                tokio::spawn(async move {
                    browser().post(format!("{base}/login"))
                        .header("cookie", format!("loyalty_csrf={CSRF}"))
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(body).send().await.unwrap().status()
                })
            })
            .collect();
        for attempt in attempts {
            let status = attempt.await.unwrap();
            assert!(matches!(status, StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE), "{status}");
        }
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        assert!(loyalty_app::auth::peak_concurrent_hashes() <= 2 * cores);
        app.stop().await;
    }

    async fn behind_a_trusted_proxy_one_guessing_client_does_not_lock_out_the_staff(db) {
        let options = loyalty_server::ServerOptions { trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()] };
        let app = common::spawn_app_with(db, options).await;
        staff_account(&app, "ban.hang@example.vn", "cashier").await;
        for n in 0..21 {
            let wrong = sign_in(&app, &format!("doan-{n}@example.vn"), "x", Some("203.0.113.66")).await;
            assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        }
        let attacker = sign_in(&app, "ban.hang@example.vn", "đúng mật khẩu", Some("203.0.113.66")).await;
        assert_eq!(attacker.status(), StatusCode::TOO_MANY_REQUESTS, "the guessing client waits");
        let colleague = sign_in(&app, "ban.hang@example.vn", "đúng mật khẩu", Some("198.51.100.7")).await;
        assert_eq!(colleague.status(), StatusCode::SEE_OTHER, "everyone else signs in");
        app.stop().await;
    }

    // ---- 6. open redirects ----

    async fn a_next_that_browsers_read_as_another_site_goes_home_instead(db) {
        let app = spawn_app(db).await;
        staff_account(&app, "chu@example.vn", "owner").await;
        for next in ["/%09/evil.example", "/%0A/evil", "/%0D%0A/evil", "//evil.example", "/%5Cevil.example", "https://evil.example"] {
            let switched = browser().get(format!("{}/lang/en?next={next}", app.base)).send().await.unwrap();
            assert_eq!(switched.status(), StatusCode::SEE_OTHER, "{next}");
            assert_eq!(switched.headers()["location"], "/", "{next}");
            let login = browser().post(format!("{}/login", app.base))
                .header("cookie", format!("loyalty_csrf={CSRF}"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("csrf={CSRF}&email=chu%40example.vn&password=%C4%91%C3%BAng+m%E1%BA%ADt+kh%E1%BA%A9u&next={next}"))
                .send().await.unwrap();
            assert_eq!(login.status(), StatusCode::SEE_OTHER, "{next}");
            assert_eq!(login.headers()["location"], "/", "{next}");
        }
        let fine = browser().get(format!("{}/lang/en?next=/members%3Fq%3Danh", app.base)).send().await.unwrap();
        assert_eq!(fine.headers()["location"], "/members?q=anh");
        app.stop().await;
    }

    // ---- 9. the rest ----

    async fn admin_pages_are_never_cached_nor_leak_their_address(db) {
        let app = spawn_app(db).await;
        let page = browser().get(format!("{}/login", app.base)).send().await.unwrap();
        assert_eq!(page.headers()["cache-control"], "no-store");
        assert_eq!(page.headers()["referrer-policy"], "same-origin");
        assert!(page.headers().get("strict-transport-security").is_none(), "not over plain HTTP");
        let proxied = browser().get(format!("{}/login", app.base)).header("x-forwarded-proto", "https").send().await.unwrap();
        assert_eq!(proxied.headers()["strict-transport-security"], "max-age=31536000");
        let api = app.request(Method::GET, "/api/v1/members", Some(&app.key), None).await;
        assert_eq!(api.status, StatusCode::OK);
        app.stop().await;
    }

    async fn a_revoked_key_is_only_called_revoked_to_whoever_holds_its_secret(db) {
        let app = spawn_app(db).await;
        let key = app.key_with(&["pos"]).await;
        let listed = app.get("/api/v1/api-keys").await.body;
        let id = listed["items"].as_array().unwrap().iter()
            .find(|k| key.starts_with(&format!("lk_{}_", k["prefix"].as_str().unwrap())))
            .unwrap()["id"].as_str().unwrap().to_string();
        let revoked = app.request(Method::DELETE, &format!("/api/v1/api-keys/{id}"), Some(&app.key), None).await;
        assert_eq!(revoked.status, StatusCode::OK);
        let guessed = format!("{}{}", &key[..key.len() - 4], "ZZZZ");
        let reply = app.request(Method::GET, "/api/v1/members", Some(&guessed), None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.body["detail"], "unknown API key", "a guess learns nothing");
        let reply = app.request(Method::GET, "/api/v1/members", Some(&key), None).await;
        assert_eq!(reply.body["detail"], "this API key was revoked");
        app.stop().await;
    }

    async fn a_key_over_its_rate_gets_429_with_retry_after_and_other_keys_do_not(db) {
        let app = spawn_app(db).await;
        let created = app.post("/api/v1/api-keys", json!({"name": "chậm", "scopes": ["read"], "rate_limit_per_s": 5})).await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        assert_eq!(created.body["rate_limit_per_s"], 5);
        let slow = created.body["secret"].as_str().unwrap().to_string();
        let mut limited = None;
        for _ in 0..8 {
            let response = app.client.get(format!("{}/api/v1/members", app.base)).bearer_auth(&slow).send().await.unwrap();
            if response.status() == StatusCode::TOO_MANY_REQUESTS {
                limited = Some(response);
                break;
            }
        }
        let limited = limited.expect("the sixth request in a burst is refused");
        assert!(limited.headers().contains_key("retry-after"));
        assert_eq!(limited.json::<Value>().await.unwrap()["code"], "rate_limited");
        assert_eq!(app.get("/api/v1/members").await.status, StatusCode::OK, "the admin key is untouched");
        let bad = app.post("/api/v1/api-keys", json!({"name": "x", "scopes": ["read"], "rate_limit_per_s": 0})).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(bad.error_field(), "rate_limit_per_s");
        app.stop().await;
    }

    // ---- 7. CSV formula injection ----

    async fn exported_cells_never_start_a_formula_and_still_import_back_unchanged(db) {
        let app = spawn_app(db).await;
        let tier = app.post("/api/v1/tiers", json!({"name": "@SUM(1+1)", "rank": 1, "threshold": 0})).await;
        assert_eq!(tier.status, StatusCode::CREATED, "{:?}", tier.body);
        let member = app.post("/api/v1/members", json!({
            "phone": "0901234567", "email": "+cmd|'/Ccalc'!A0@example.vn", "name": "=HYPERLINK(\"http://x\")",
            "birthday": "--05-17", "province": "-2+3", "district": "\u{FF1D}1+1", "tags": ["@vip"],
            "external_ids": {"import": "=1+1"}})).await;
        assert_eq!(member.status, StatusCode::CREATED, "{:?}", member.body);
        let id = member.body["id"].as_str().unwrap().to_string();
        app.app.reevaluate_tenant(&app.tenant_id).await.unwrap();
        let order = app.post("/api/v1/orders", json!({"source": "pos", "external_id": "=2+2", "member_id": id,
            "store": "+HN01", "lines": [{"sku": "-SKU", "name": "@line", "category": "=cat", "quantity": 1, "unit_price": 5000}],
            "total": 5000})).await;
        assert_eq!(order.status, StatusCode::CREATED, "{:?}", order.body);
        let download = |path: &'static str| {
            let (client, url, key) = (app.client.clone(), format!("{}{path}", app.base), app.key.clone());
            async move { client.get(url).bearer_auth(key).send().await.unwrap().text().await.unwrap() }
        };
        let members = download("/api/v1/members/export").await;
        let orders = download("/api/v1/orders/export").await;
        let starts = ['=', '+', '-', '@', '\t', '\r', '\u{FF1D}', '\u{FF0B}', '\u{FF0D}', '\u{FF20}'];
        for (name, text) in [("members", &members), ("orders", &orders)] {
            for record in csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes()).records() {
                for cell in record.unwrap().iter() {
                    assert!(!cell.starts_with(starts), "{name}: a cell starts a formula: {cell:?}");
                }
            }
        }
        assert!(members.contains(",'+84901234567,") || members.contains("'+84901234567,"), "the phone keeps its +:\n{members}");
        // Into another tenant with the same tier: the same member, every text as it was.
        let (_, other_key) = common::create_tenant(&app.app, "Bản sao").await;
        let tier = app.request(Method::POST, "/api/v1/tiers", Some(&other_key), Some(json!({"name": "@SUM(1+1)", "rank": 1, "threshold": 0}))).await;
        assert_eq!(tier.status, StatusCode::CREATED);
        let started = app.client.post(format!("{}/api/v1/imports/members", app.base)).bearer_auth(&other_key)
            .header("content-type", "text/csv").body(members.clone()).send().await.unwrap();
        assert_eq!(started.status(), StatusCode::ACCEPTED);
        let location = started.headers()["location"].to_str().unwrap().to_string();
        let mut job = Value::Null;
        for _ in 0..500 {
            job = app.request(Method::GET, &location, Some(&other_key), None).await.body;
            if job["status"] != "running" { break; }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(job["imported"], 1, "{job}");
        let copy = app.request(Method::GET, "/api/v1/members?phone=0901234567", Some(&other_key), None).await.body["items"][0].clone();
        for field in ["email", "name", "birthday", "province", "district", "tags"] {
            assert_eq!(copy[field], member.body[field], "{field}");
        }
        assert_eq!(copy["external_ids"]["import"], "=1+1");
        assert_eq!(copy["tier"]["name"], "@SUM(1+1)");
        app.stop().await;
    }

    // ---- 9. segment operands ----

    async fn huge_segment_operands_are_refused_by_path_not_crashed_on(db) {
        let app = spawn_app(db).await;
        let many: Vec<i64> = (0..40_000).collect();
        for conditions in [
            json!({"field": "member.order_count", "op": "in", "value": many}),
            json!({"field": "member.last_order_at", "op": "within_days", "value": 1_000_000_000_000_000i64}),
            json!({"field": "member.age", "op": "<", "value": i64::MAX}),
            json!({"any": (0..150).map(|n| json!({"field": "member.points", "op": ">", "value": n})).collect::<Vec<_>>()}),
        ] {
            let reply = app.post("/api/v1/segments/preview", json!({"conditions": conditions})).await;
            assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", reply.body);
            assert!(reply.error_field().starts_with("conditions"), "{:?}", reply.body);
        }
        app.stop().await;
    }

    // ---- 8. staff offboarding ----

    async fn a_deactivated_cashier_is_signed_out_at_once_and_cannot_sign_back_in(db) {
        let app = spawn_app(db).await;
        staff_account(&app, "nghi.viec@example.vn", "cashier").await;
        let session = session_of(&app, "nghi.viec@example.vn", "đúng mật khẩu").await;
        assert_eq!(page_with(&app, &session, "/members").await, StatusCode::OK);
        let id = staff_id(&app, "nghi.viec@example.vn").await;
        let off = app.patch(&format!("/api/v1/staff/{id}"), json!({"active": false})).await;
        assert_eq!(off.status, StatusCode::OK, "{:?}", off.body);
        assert_eq!(off.body["active"], false);
        assert_eq!(page_with(&app, &session, "/members").await, StatusCode::SEE_OTHER);
        assert_eq!(sign_in(&app, "nghi.viec@example.vn", "đúng mật khẩu", None).await.status(), StatusCode::UNAUTHORIZED);
        let back = app.patch(&format!("/api/v1/staff/{id}"), json!({"active": true, "name": "Lan"})).await;
        assert_eq!(back.body["name"], "Lan");
        assert_eq!(sign_in(&app, "nghi.viec@example.vn", "đúng mật khẩu", None).await.status(), StatusCode::SEE_OTHER);
        let log = app.get("/api/v1/activity?entity=staff_user").await.body;
        let actions: Vec<&str> = log["items"].as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect();
        assert!(actions.contains(&"deactivate") && actions.contains(&"reactivate"), "{actions:?}");
        app.stop().await;
    }

    async fn a_new_role_or_password_ends_the_old_sessions_and_the_last_owner_stays(db) {
        let app = spawn_app(db).await;
        staff_account(&app, "quan.ly@example.vn", "manager").await;
        let id = staff_id(&app, "quan.ly@example.vn").await;
        let session = session_of(&app, "quan.ly@example.vn", "đúng mật khẩu").await;
        assert_eq!(page_with(&app, &session, "/program").await, StatusCode::OK);
        let demoted = app.patch(&format!("/api/v1/staff/{id}"), json!({"role": "viewer"})).await;
        assert_eq!(demoted.body["role"], "viewer");
        assert_eq!(page_with(&app, &session, "/program").await, StatusCode::SEE_OTHER, "the manager's session ended");
        let session = session_of(&app, "quan.ly@example.vn", "đúng mật khẩu").await;
        let reset = app.post(&format!("/api/v1/staff/{id}/password"), json!({"password": "mật khẩu mới 2026"})).await;
        assert_eq!(reset.status, StatusCode::OK, "{:?}", reset.body);
        assert_eq!(page_with(&app, &session, "/members").await, StatusCode::SEE_OTHER);
        assert_eq!(sign_in(&app, "quan.ly@example.vn", "đúng mật khẩu", None).await.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(sign_in(&app, "quan.ly@example.vn", "mật khẩu mới 2026", None).await.status(), StatusCode::SEE_OTHER);
        let short = app.post(&format!("/api/v1/staff/{id}/password"), json!({"password": "ngắn"})).await;
        assert_eq!(short.error_field(), "password");
        // The tenant's only owner can be neither demoted nor deactivated, not even by itself.
        let owner = app.get("/api/v1/staff").await.body["items"].as_array().unwrap().iter()
            .find(|u| u["role"] == "owner").unwrap()["id"].as_str().unwrap().to_string();
        for change in [json!({"role": "manager"}), json!({"active": false})] {
            let refused = app.patch(&format!("/api/v1/staff/{owner}"), change).await;
            assert_eq!(refused.status, StatusCode::CONFLICT, "{:?}", refused.body);
            assert_eq!(refused.body["code"], "last_owner");
        }
        let promoted = app.patch(&format!("/api/v1/staff/{id}"), json!({"role": "owner"})).await;
        assert_eq!(promoted.status, StatusCode::OK);
        assert_eq!(app.patch(&format!("/api/v1/staff/{owner}"), json!({"role": "manager"})).await.status, StatusCode::OK);
        let other = common::create_tenant(&app.app, "Khác").await;
        let foreign = app.request(Method::PATCH, &format!("/api/v1/staff/{id}"), Some(&other.1), Some(json!({"active": false}))).await;
        assert_eq!(foreign.status, StatusCode::NOT_FOUND, "another tenant's staff is not found");
        app.stop().await;
    }

    async fn a_session_in_constant_use_still_ends_seven_days_after_signing_in(db) {
        let app = spawn_app(db).await;
        staff_account(&app, "cham.chi@example.vn", "viewer").await;
        let session = session_of(&app, "cham.chi@example.vn", "đúng mật khẩu").await;
        let mut hours = 0;
        while hours < 7 * 24 - 11 {
            app.clock.advance(jiff::SignedDuration::from_hours(11));
            hours += 11;
            assert_eq!(page_with(&app, &session, "/members").await, StatusCode::OK, "after {hours} h");
        }
        app.clock.advance(jiff::SignedDuration::from_hours(11));
        assert_eq!(page_with(&app, &session, "/members").await, StatusCode::SEE_OTHER, "over after seven days");
        app.stop().await;
    }

    async fn changing_ones_own_password_needs_the_current_one_and_ends_the_other_sessions(db) {
        let app = spawn_app(db).await;
        staff_account(&app, "tiep.thi@example.vn", "marketer").await;
        let here = session_of(&app, "tiep.thi@example.vn", "đúng mật khẩu").await;
        let elsewhere = session_of(&app, "tiep.thi@example.vn", "đúng mật khẩu").await;
        let csrf = {
            let page = browser().get(format!("{}/account/password", app.base))
                .header("cookie", format!("loyalty_session={here}")).send().await.unwrap().text().await.unwrap();
            let at = page.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
            page[at..at + 32].to_string()
        };
        let change = |current: &'static str| {
            let (base, here, csrf) = (app.base.clone(), here.clone(), csrf.clone());
            async move {
                browser().post(format!("{base}/account/password"))
                    .header("cookie", format!("loyalty_session={here}"))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(form(&[("csrf", &csrf), ("current_password", current), ("new_password", "mật khẩu thứ hai")]))
                    .send().await.unwrap()
            }
        };
        let wrong = change("đoán bừa").await;
        assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(page_with(&app, &elsewhere, "/members").await, StatusCode::OK, "nothing changed");
        let right = change("đúng mật khẩu").await;
        assert_eq!(right.status(), StatusCode::OK);
        assert_eq!(page_with(&app, &here, "/members").await, StatusCode::OK, "this browser stays signed in");
        assert_eq!(page_with(&app, &elsewhere, "/members").await, StatusCode::SEE_OTHER, "the other one is signed out");
        assert_eq!(sign_in(&app, "tiep.thi@example.vn", "mật khẩu thứ hai", None).await.status(), StatusCode::SEE_OTHER);
        app.stop().await;
    }

    // ---- the review's second look at Idempotency-Key ----

    async fn a_till_that_hangs_up_still_gets_the_answer_when_it_retries(db) {
        use tokio::io::AsyncWriteExt;
        let app = spawn_app(db).await;
        let member = app.new_member("0901234567").await;
        let path = format!("/api/v1/members/{member}/points/adjustments");
        let body = json!({"points": 40, "reason": "bù điểm"}).to_string();
        // Send the whole request and hang up at once, as a till whose timeout fired.
        let address = app.base.trim_start_matches("http://").to_string();
        let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap();
        let raw = format!(
            "POST {path} HTTP/1.1\r\nhost: {address}\r\nauthorization: Bearer {}\r\n\
             idempotency-key: hang-up-1\r\ncontent-type: application/json\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n{body}",
            app.key,
            body.len()
        );
        // The member's writer is busy for a moment, so the request waits for its write…
        let (db, key) = (app.app.db().clone(), member.clone());
        let busy = tokio::spawn(async move {
            db.write_keyed(&key, |_| {
                std::thread::sleep(std::time::Duration::from_millis(600));
                Ok::<_, loyalty_store::DbError>(())
            })
            .await
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        socket.write_all(raw.as_bytes()).await.unwrap();
        // …and the till gives up while it waits.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        drop(socket);
        busy.await.unwrap().unwrap();
        // The request runs on, and keeps its answer, although nobody is listening.
        let tenant = app.tenant_id.clone();
        let mut answered = false;
        for _ in 0..250 {
            let t = tenant.clone();
            answered = app.app.db().read(move |sql| {
                sql.query_scalar::<i64>("select count(*) from idempotency_keys where tenant_id = $1 and status is not null",
                    loyalty_store::params![t.as_str()])
            }).await.unwrap() == 1;
            if answered { break; }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(answered, "the answer of the abandoned request was kept");
        let (retry, replayed) = app.keyed(Method::POST, &path, "hang-up-1", serde_json::from_str(&body).unwrap()).await;
        assert_eq!(retry.status, StatusCode::CREATED, "{:?}", retry.body);
        assert!(replayed, "the retry gets the first answer");
        assert_eq!(app.count("ledger_entries").await, 1, "applied once");
        app.stop().await;
    }

    async fn a_new_keys_secret_is_not_kept_for_replays_and_locations_are(db) {
        let app = spawn_app(db).await;
        let (first, _) = app.keyed(Method::POST, "/api/v1/api-keys", "key-1", json!({"name": "POS", "scopes": ["pos"]})).await;
        assert_eq!(first.status, StatusCode::CREATED);
        let secret = first.body["secret"].as_str().unwrap().to_string();
        let (again, replayed) = app.keyed(Method::POST, "/api/v1/api-keys", "key-1", json!({"name": "POS", "scopes": ["pos"]})).await;
        assert!(replayed);
        assert_eq!(again.status, StatusCode::CONFLICT);
        assert_eq!(again.body["code"], "idempotency_answer_withheld");
        let tenant = app.tenant_id.clone();
        let stored: Vec<String> = app.app.db().read(move |sql| {
            sql.query("select coalesce(response, '') as r from idempotency_keys where tenant_id = $1", loyalty_store::params![tenant.as_str()])?
                .iter().map(|r| r.get::<String>("r")).collect::<Result<Vec<_>, _>>()
        }).await.unwrap();
        assert!(stored.iter().all(|r| !r.contains(&secret[3..])), "the secret is nowhere in the table");
        assert_eq!(app.count("api_keys").await, 2, "one key made");
        // A replayed 201 keeps its Location.
        let send = || app.client.post(format!("{}/api/v1/members", app.base)).bearer_auth(&app.key)
            .header("idempotency-key", "loc-1").json(&json!({"phone": "0912345678"})).send();
        let (a, b) = (send().await.unwrap(), send().await.unwrap());
        assert_eq!(b.headers().get("idempotent-replayed").unwrap(), "true");
        assert_eq!(a.headers().get("location"), b.headers().get("location"));
        assert!(a.headers().get("location").is_some());
        app.stop().await;
    }

    async fn a_keyed_request_beyond_its_scope_is_refused_before_its_body_is_read(db) {
        let app = spawn_app(db).await;
        let read = app.key_with(&["read"]).await;
        let big = vec![b'x'; 20 * 1024 * 1024];
        let response = app.client.post(format!("{}/api/v1/imports/members", app.base)).bearer_auth(&read)
            .header("idempotency-key", "scope-1").header("content-type", "text/csv").body(big).send().await;
        // 403 before the body is read (reading it would answer 413): the client sees the 403,
        // or its upload cut short by the server's early answer.
        match response {
            Ok(response) => assert_eq!(response.status(), StatusCode::FORBIDDEN),
            Err(error) => assert!(error.is_request(), "{error}"),
        }
        let unauthenticated = app.client.post(format!("{}/api/v1/members", app.base))
            .header("idempotency-key", "scope-2").json(&json!({"phone": "0901234567"})).send().await.unwrap();
        assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
        let head = app.client.head(format!("{}/api/v1/members", app.base)).bearer_auth(&read).send().await.unwrap();
        assert_eq!(head.status(), StatusCode::OK, "HEAD reads like GET");
        app.stop().await;
    }

    // ---- found by schemathesis on PostgreSQL ----

    async fn the_nul_character_is_refused_by_field_instead_of_failing_on_postgresql(db) {
        let app = spawn_app(db).await;
        let member = app.new_member("0901234567").await;
        let reply = app.post(&format!("/api/v1/members/{member}/redemptions"), json!({"reward_id": "rwd\u{0}"})).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", reply.body);
        assert_eq!(reply.error_field(), "reward_id");
        let reply = app.post("/api/v1/members", json!({"phone": "0912345678", "name": "A\u{0}", "tags": ["\u{0}"]})).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        let reply = app.get(&format!("/api/v1/members/{member}%00")).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        let reply = app.get("/api/v1/members?q=a%00b").await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(reply.error_field(), "query");
        // A file of members: the row is refused by number, the others imported.
        let csv = "phone,name\n0987654321,B\u{0}\n0977777777,C\n".as_bytes().to_vec();
        let import = app.post_raw("/api/v1/imports/members", "text/csv", csv).await;
        let id = import.body["id"].as_str().unwrap().to_string();
        let mut report = Value::Null;
        for _ in 0..500 {
            report = app.get(&format!("/api/v1/imports/{id}")).await.body;
            if report["status"] != "running" { break; }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!((report["imported"].as_i64(), report["failed"].as_i64()), (Some(1), Some(1)), "{report}");
        assert_eq!(report["errors"][0]["row"], 2);
        assert_eq!(app.count("members").await, 2);
        app.stop().await;
    }
}
