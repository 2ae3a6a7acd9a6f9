//! The member portal's sign-in and the member's own data, on SQLite and PostgreSQL, with the
//! code caught by a local eSMS double: one code per minute, five wrong tries end it, a used
//! code does not sign in twice; a member token reaches its member only and nothing else takes
//! its place (no token, an API key, a forged token, another shop's slug).

mod common;

use common::{TestApp, spawn_app};
use jiff::{SignedDuration, Timestamp};
use loyalty_messaging::doubles::{ProviderDouble, SmtpDouble};
use loyalty_store::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// 10:00 in Hà Nội on 7 December 2026.
const MORNING: &str = "2026-12-07T03:00:00Z";
const SLUG: &str = "ca-phe-sang";

async fn open_portal(app: &TestApp, slug: &str) {
    let mut program = app.get("/api/v1/program").await.body;
    program["portal"] = json!({"enabled": true, "slug": slug});
    program["messaging"]["quiet_hours"] = Value::Null;
    let put = app
        .request(
            Method::PUT,
            "/api/v1/program",
            Some(&app.key),
            Some(program),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
}

async fn ask_code(app: &TestApp, phone: &str) {
    let asked = app
        .request(
            Method::POST,
            &format!("/portal/v1/{SLUG}/otp"),
            None,
            Some(json!({"phone": phone})),
        )
        .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{:?}", asked.body);
}

async fn sign_in(app: &TestApp, phone: &str, code: &str) -> common::Reply {
    app.request(
        Method::POST,
        &format!("/portal/v1/{SLUG}/session"),
        None,
        Some(json!({"phone": phone, "code": code})),
    )
    .await
}

/// The six digits of the latest SMS.
fn last_code(double: &ProviderDouble) -> String {
    let text = double.received().last().expect("an SMS").content.clone();
    text.split_whitespace().next().unwrap().to_string()
}

on_both_backends! {
    async fn a_member_signs_in_with_a_code_and_reads_only_their_own(db) {
        let app = spawn_app(db).await;
        app.clock.set(MORNING.parse::<Timestamp>().unwrap());
        let double = ProviderDouble::start().await;
        let sms = app.post("/api/v1/channels", json!({"type": "sms_esms", "name": "eSMS",
            "settings": {"brandname": "CAPHE", "api_base": double.base()}, "secrets": {"api_key": "k", "secret_key": "s"}})).await;
        assert_eq!(sms.status, StatusCode::CREATED, "{:?}", sms.body);
        let lan = app.new_member("0901234567").await;
        let minh = app.new_member("0901234568").await;
        let adjusted = app.post(&format!("/api/v1/members/{lan}/points/adjustments"), json!({"points": 120, "reason": "quà"})).await;
        assert_eq!(adjusted.status, StatusCode::CREATED, "{:?}", adjusted.body);

        // Switched off (the default), the portal is not there.
        let off = app.request(Method::POST, &format!("/portal/v1/{SLUG}/otp"), None, Some(json!({"phone": "0901234567"}))).await;
        assert_eq!(off.status, StatusCode::NOT_FOUND);
        open_portal(&app, SLUG).await;
        let bad = app.request(Method::POST, &format!("/portal/v1/{SLUG}/otp"), None, Some(json!({"phone": "12"}))).await;
        assert_eq!((bad.status, bad.error_field()), (StatusCode::UNPROCESSABLE_ENTITY, "phone"));

        // A phone nobody has: the same answer, and nothing sent.
        ask_code(&app, "0909999999").await;
        assert!(double.received().is_empty());
        ask_code(&app, "0901234567").await;
        assert_eq!(double.received().len(), 1);
        assert_eq!(double.received()[0].to, "0901234567");
        let code = last_code(&double);
        assert!(code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()), "{code}");
        // Another code within the minute is not sent.
        ask_code(&app, "0901234567").await;
        assert_eq!(double.received().len(), 1);

        // Five wrong tries end the code: the right one no longer signs in.
        let wrong = if code == "000000" { "111111" } else { "000000" };
        for _ in 0..5 {
            assert_eq!(sign_in(&app, "0901234567", wrong).await.status, StatusCode::UNAUTHORIZED);
        }
        assert_eq!(sign_in(&app, "0901234567", &code).await.status, StatusCode::UNAUTHORIZED);

        app.clock.advance(SignedDuration::from_secs(61));
        ask_code(&app, "0901234567").await;
        assert_eq!(double.received().len(), 2);
        let code = last_code(&double);
        let session = sign_in(&app, "0901234567", &code).await;
        assert_eq!(session.status, StatusCode::OK, "{:?}", session.body);
        let token = session.body["token"].as_str().unwrap().to_string();
        assert!(token.starts_with("mt_"));
        assert_eq!(sign_in(&app, "0901234567", &code).await.status, StatusCode::UNAUTHORIZED, "a code signs in once");

        let me = app.request(Method::GET, &format!("/portal/v1/{SLUG}/me"), Some(&token), None).await;
        assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);
        assert_eq!(me.body["id"], lan.as_str());
        assert_eq!(me.body["points"]["available"], 120);
        let ledger = app.request(Method::GET, &format!("/portal/v1/{SLUG}/me/ledger"), Some(&token), None).await;
        assert_eq!(ledger.status, StatusCode::OK, "{:?}", ledger.body);
        assert_eq!(ledger.body["items"].as_array().unwrap().len(), 1);
        let vouchers = app.request(Method::GET, &format!("/portal/v1/{SLUG}/me/vouchers"), Some(&token), None).await;
        assert_eq!(vouchers.status, StatusCode::OK, "{:?}", vouchers.body);

        // The rewards on offer, and which the member's points reach.
        for (name, cost) in [("Ly sứ", 500), ("Bánh quy", 100)] {
            let reward = app.post("/api/v1/rewards", json!({"name": name, "points_cost": cost, "kind": "gift"})).await;
            assert_eq!(reward.status, StatusCode::CREATED, "{:?}", reward.body);
        }
        let rewards = app.request(Method::GET, &format!("/portal/v1/{SLUG}/me/rewards"), Some(&token), None).await;
        assert_eq!(rewards.status, StatusCode::OK, "{:?}", rewards.body);
        let offered: Vec<(String, bool)> = rewards.body.as_array().unwrap().iter()
            .map(|r| (r["name"].as_str().unwrap().to_string(), r["affordable"].as_bool().unwrap())).collect();
        assert_eq!(offered, [("Bánh quy".to_string(), true), ("Ly sứ".to_string(), false)]);

        // Redeemed once however many times the same confirmation arrives at once.
        let cookie_id = rewards.body.as_array().unwrap().iter().find(|r| r["name"] == "Bánh quy").unwrap()["id"].as_str().unwrap().to_string();
        let path = format!("{}/portal/v1/{SLUG}/me/redemptions", app.base);
        let posts = (0..10).map(|_| {
            app.client.post(&path).bearer_auth(&token).header("idempotency-key", "tap-1")
                .json(&json!({"reward_id": cookie_id})).send()
        });
        let statuses: Vec<u16> = futures_util::future::join_all(posts).await.into_iter()
            .map(|r| r.unwrap().status().as_u16()).collect();
        assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
        assert!(statuses.iter().all(|s| *s == 201 || *s == 200), "{statuses:?}");
        let me = app.request(Method::GET, &format!("/portal/v1/{SLUG}/me"), Some(&token), None).await;
        assert_eq!(me.body["points"]["available"], 20);
        let poorer = app.request(Method::POST, &format!("/portal/v1/{SLUG}/me/redemptions"), Some(&token), Some(json!({"reward_id": cookie_id}))).await;
        assert_eq!(poorer.status, StatusCode::CONFLICT, "{:?}", poorer.body);

        // The member changes themselves: consent (recorded as from the portal), a birthday once.
        let me_path = format!("/portal/v1/{SLUG}/me");
        let changed = app.request(Method::PATCH, &me_path, Some(&token), Some(json!({"name": "Trần Thị Lan", "birthday": "1990-12-24", "consent": {"sms": true}}))).await;
        assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
        assert_eq!(changed.body["name"], "Trần Thị Lan");
        let history = app.get(&format!("/api/v1/members/{lan}/consent-history")).await;
        assert_eq!(history.body["items"][0]["source"], "portal", "{:?}", history.body);
        assert_eq!(history.body["items"][0]["granted"], true);
        let again = app.request(Method::PATCH, &me_path, Some(&token), Some(json!({"birthday": "1991-01-01"}))).await;
        assert_eq!((again.status, again.error_field()), (StatusCode::UNPROCESSABLE_ENTITY, "birthday"));
        let phone = app.request(Method::PATCH, &me_path, Some(&token), Some(json!({"phone": "0909000000"}))).await;
        assert_eq!((phone.status, phone.error_field()), (StatusCode::UNPROCESSABLE_ENTITY, "phone"), "not changed from the portal");

        // Minh's own sign-in reaches Minh.
        ask_code(&app, "0901234568").await;
        let theirs = sign_in(&app, "0901234568", &last_code(&double)).await;
        let theirs = theirs.body["token"].as_str().unwrap().to_string();
        let me = app.request(Method::GET, &format!("/portal/v1/{SLUG}/me"), Some(&theirs), None).await;
        assert_eq!(me.body["id"], minh.as_str());

        // Nothing else is a member token.
        for key in [None, Some(app.key.as_str()), Some("mt_forged"), Some("Bearer")] {
            let refused = app.request(Method::GET, &format!("/portal/v1/{SLUG}/me"), key, None).await;
            assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{key:?}");
        }
        let staff_side = app.request(Method::GET, &format!("/api/v1/members/{lan}"), Some(&token), None).await;
        assert_eq!(staff_side.status, StatusCode::UNAUTHORIZED, "a member token is not an API key");

        // Another shop cannot take the address, and its portal does not know this token.
        let (other, other_key) = common::create_tenant(&app.app, "Trà Chiều").await;
        let mut program = app.request(Method::GET, "/api/v1/program", Some(&other_key), None).await.body;
        program["portal"] = json!({"enabled": true, "slug": SLUG});
        let taken = app.request(Method::PUT, "/api/v1/program", Some(&other_key), Some(program.clone())).await;
        assert_eq!((taken.status, taken.error_field()), (StatusCode::UNPROCESSABLE_ENTITY, "portal.slug"));
        program["portal"]["slug"] = json!("tra-chieu");
        let own = app.request(Method::PUT, "/api/v1/program", Some(&other_key), Some(program)).await;
        assert_eq!(own.status, StatusCode::OK, "{:?} ({other})", own.body);
        let elsewhere = app.request(Method::GET, "/portal/v1/tra-chieu/me", Some(&token), None).await;
        assert_eq!(elsewhere.status, StatusCode::UNAUTHORIZED);
        // The shop's own site signs its logged-in customer in with a customer_token.
        let mut program = app.get("/api/v1/program").await.body;
        program["portal"]["customer_token_secret"] = json!("bi-mat-cua-trang-web-cua-hang");
        program["portal"]["self_signup"] = json!(true);
        let put = app.request(Method::PUT, "/api/v1/program", Some(&app.key), Some(program)).await;
        assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
        assert_eq!(put.body["portal"]["customer_token_secret"], "••••", "written, never shown");
        let shown = app.get("/api/v1/program").await.body;
        assert_eq!(shown["portal"]["customer_token_secret"], "••••");
        // Saving the settings as read keeps the secret.
        let again = app.request(Method::PUT, "/api/v1/program", Some(&app.key), Some(shown)).await;
        assert_eq!(again.status, StatusCode::OK, "{:?}", again.body);
        let now = app.app.now().as_second();
        let signed = |payload: Value| loyalty_core::portal::sign_customer_token("bi-mat-cua-trang-web-cua-hang", &payload);
        let session_path = format!("/portal/v1/{SLUG}/session");
        let with_token = |token: String| app.request(Method::POST, &session_path, None, Some(json!({"customer_token": token})));
        let ok = with_token(signed(json!({"phone": "0901234568", "exp": now + 300}))).await;
        assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
        let theirs = ok.body["token"].as_str().unwrap().to_string();
        let me = app.request(Method::GET, &format!("/portal/v1/{SLUG}/me"), Some(&theirs), None).await;
        assert_eq!(me.body["id"], minh.as_str());
        let expired = with_token(signed(json!({"phone": "0901234568", "exp": now - 1}))).await;
        assert_eq!(expired.status, StatusCode::UNAUTHORIZED, "an expired customer_token is refused");
        let forged = loyalty_core::portal::sign_customer_token("another-secret-of-someone", &json!({"phone": "0901234568", "exp": now + 300}));
        assert_eq!(with_token(forged).await.status, StatusCode::UNAUTHORIZED);
        let stranger = with_token(signed(json!({"phone": "0909999999", "exp": now + 300}))).await;
        assert_eq!(stranger.status, StatusCode::OK, "self_signup registers the customer the shop vouches for: {:?}", stranger.body);
        // Without self_signup a stranger is neither signed in nor sent a code.
        let mut program = app.get("/api/v1/program").await.body;
        program["portal"]["self_signup"] = json!(false);
        let put = app.request(Method::PUT, "/api/v1/program", Some(&app.key), Some(program)).await;
        assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
        let stranger = with_token(signed(json!({"phone": "0909999998", "exp": now + 300}))).await;
        assert_eq!(stranger.status, StatusCode::UNAUTHORIZED);
        let texts = double.received().len();
        app.clock.advance(SignedDuration::from_secs(61));
        ask_code(&app, "0909999998").await;
        assert_eq!(double.received().len(), texts, "no code a stranger could not sign in with");

        // A month later the session is over.
        app.clock.advance(SignedDuration::from_hours(31 * 24));
        let expired = app.request(Method::GET, &format!("/portal/v1/{SLUG}/me"), Some(&token), None).await;
        assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    }

    async fn a_new_customer_joins_from_a_friends_link(db) {
        let app = spawn_app(db).await;
        app.clock.set(MORNING.parse::<Timestamp>().unwrap());
        let double = ProviderDouble::start().await;
        let sms = app.post("/api/v1/channels", json!({"type": "sms_esms", "name": "eSMS",
            "settings": {"brandname": "CAPHE", "api_base": double.base()}, "secrets": {"api_key": "k", "secret_key": "s"}})).await;
        assert_eq!(sms.status, StatusCode::CREATED, "{:?}", sms.body);
        let lan = app.new_member("0901234567").await;
        open_portal(&app, SLUG).await;
        let mut program = app.get("/api/v1/program").await.body;
        program["portal"]["self_signup"] = json!(true);
        program["referral"] = json!({"enabled": true, "referrer_reward": {"points": 100}, "friend_reward": {"points": 30}});
        let put = app.request(Method::PUT, "/api/v1/program", Some(&app.key), Some(program)).await;
        assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);

        // Lan's link carries her code; the friend verifies a phone nobody has and is registered.
        let lan_session = {
            ask_code(&app, "0901234567").await;
            let signed = sign_in(&app, "0901234567", &last_code(&double)).await;
            signed.body["token"].as_str().unwrap().to_string()
        };
        let mine = app.request(Method::GET, &format!("/portal/v1/{SLUG}/me/referral"), Some(&lan_session), None).await;
        assert_eq!(mine.status, StatusCode::OK, "{:?}", mine.body);
        let code = mine.body["code"].as_str().unwrap().to_string();
        assert!(mine.body["link"].as_str().unwrap().ends_with(&format!("/m/{SLUG}?ref={code}")));
        assert_eq!(mine.body["referred"], 0);
        ask_code(&app, "0987654321").await;
        let joined = app.request(Method::POST, &format!("/portal/v1/{SLUG}/session"), None,
            Some(json!({"phone": "0987654321", "code": last_code(&double), "referred_by": code}))).await;
        assert_eq!(joined.status, StatusCode::OK, "{:?}", joined.body);
        let token = joined.body["token"].as_str().unwrap().to_string();
        let me = app.request(Method::GET, &format!("/portal/v1/{SLUG}/me"), Some(&token), None).await;
        let friend = me.body["id"].as_str().unwrap().to_string();
        assert_eq!(me.body["phone"], "+84987654321");
        let history = app.get(&format!("/api/v1/members/{friend}/consent-history")).await;
        let sources: Vec<&str> = history.body["items"].as_array().unwrap().iter().filter_map(|c| c["source"].as_str()).collect();
        assert!(sources.iter().all(|s| *s == "portal"), "{:?}", history.body);
        assert_eq!(me.body["source"], "portal");
        let referrals = app.get(&format!("/api/v1/referrals?member_id={lan}")).await;
        assert_eq!(referrals.body[0]["friend_id"], friend.as_str());
        assert_eq!(referrals.body[0]["source"], "portal");
        let mine = app.request(Method::GET, &format!("/portal/v1/{SLUG}/me/referral"), Some(&lan_session), None).await;
        assert_eq!((mine.body["code"].as_str(), mine.body["referred"].as_i64()), (Some(code.as_str()), Some(1)));
        // Signing in again does not register twice.
        app.clock.advance(SignedDuration::from_secs(61));
        ask_code(&app, "0987654321").await;
        let again = sign_in(&app, "0987654321", &last_code(&double)).await;
        assert_eq!(again.status, StatusCode::OK);
        assert_eq!(app.count("members").await, 2);
        app.stop().await;
    }

    async fn a_code_goes_by_zalo_first_then_sms_then_e_mail(db) {
        let app = spawn_app(db).await;
        app.clock.set(MORNING.parse::<Timestamp>().unwrap());
        let (zalo, texts, mail) = (ProviderDouble::start().await, ProviderDouble::start().await, SmtpDouble::start().await);
        for channel in [
            json!({"type": "zalo_zns", "name": "Zalo OA", "settings": {"app_id": "app", "api_base": zalo.base()},
                   "secrets": {"access_token": "t", "oa_secret": "oa"}}),
            json!({"type": "sms_esms", "name": "eSMS", "settings": {"brandname": "CAPHE", "api_base": texts.base()},
                   "secrets": {"api_key": "k", "secret_key": "s"}}),
            json!({"type": "email_smtp", "name": "Thư", "settings": {"host": "127.0.0.1", "port": mail.addr.port(), "tls": "none", "from": "Cà Phê Sáng <hi@caphe.vn>"}}),
        ] {
            let made = app.post("/api/v1/channels", channel).await;
            assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
        }
        let lan = app.post("/api/v1/members", json!({"phone": "0901234567", "email": "lan@example.vn"})).await;
        assert_eq!(lan.status, StatusCode::CREATED);
        open_portal(&app, SLUG).await;
        let mut program = app.get("/api/v1/program").await.body;
        program["portal"]["zns_otp_template_id"] = json!("otp-224466");
        let put = app.request(Method::PUT, "/api/v1/program", Some(&app.key), Some(program)).await;
        assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
        let six_digits = |text: &str| {
            let digits: Vec<char> = text.chars().collect();
            digits.windows(6).find(|w| w.iter().all(char::is_ascii_digit)).map(|w| w.iter().collect::<String>()).expect("a code")
        };

        // Zalo first, with the code as the template's `otp`.
        ask_code(&app, "0901234567").await;
        assert_eq!((zalo.received().len(), texts.received().len(), mail.received().len()), (1, 0, 0));
        let by_zalo = zalo.received()[0].content.clone();
        assert!(by_zalo.contains("\"otp\""), "{by_zalo}");
        // A Zalo refusal falls back to SMS; an SMS refusal to the member's e-mail.
        zalo.refuse(&zalo.received()[0].to);
        app.clock.advance(SignedDuration::from_secs(61));
        ask_code(&app, "0901234567").await;
        assert_eq!(texts.received().len(), 1);
        texts.refuse(&texts.received()[0].to);
        app.clock.advance(SignedDuration::from_secs(61));
        ask_code(&app, "0901234567").await;
        assert_eq!(mail.received().len(), 1);
        let code = six_digits(&mail.received()[0].content);
        assert_eq!(sign_in(&app, "0901234567", &code).await.status, StatusCode::OK, "the e-mailed code signs in");
        app.stop().await;
    }
}
