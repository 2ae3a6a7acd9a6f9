//! Campaigns against local doubles that speak each provider's protocol (an SMTP listener; eSMS
//! and Zalo ZNS over HTTP), on SQLite and PostgreSQL: the expected sent and suppressed counts for
//! an audience of mixed consent and addresses, each member messaged once, a permanent refusal
//! falling back to the next channel, a temporary one retried, quiet hours holding a send, the
//! weekly cap, unsubscribe, delivery reports with good and bad signatures, and e-mail opens and
//! clicks through our own pixel and redirect.

mod common;

use std::time::Duration;

use common::{TestApp, spawn_app};
use jiff::{SignedDuration, Timestamp};
use loyalty_messaging::doubles::{ProviderDouble, SmtpDouble};
use loyalty_store::on_both_backends;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// 10:00 in Hà Nội, outside the default quiet hours (21:00 → 08:00).
const MORNING: &str = "2026-12-07T03:00:00Z";

struct Doubles {
    http: ProviderDouble,
    smtp: SmtpDouble,
}

/// ZNS first, then SMS, then e-mail.
async fn channels(app: &TestApp) -> (Doubles, Vec<String>) {
    let http = ProviderDouble::start().await;
    let smtp = SmtpDouble::start().await;
    let zns = app
        .post(
            "/api/v1/channels",
            json!({"type": "zalo_zns", "name": "Zalo OA", "settings": {"app_id": "app", "api_base": http.base(), "price_per_message": 300},
                   "secrets": {"access_token": "t", "oa_secret": "oa"}}),
        )
        .await;
    assert_eq!(zns.status, StatusCode::CREATED, "{:?}", zns.body);
    assert_eq!(
        zns.body["secrets"]["access_token"], "••••",
        "secrets never read back"
    );
    let sms = app
        .post(
            "/api/v1/channels",
            json!({"type": "sms_esms", "name": "eSMS", "settings": {"brandname": "CAPHE", "api_base": http.base(), "price_per_message": 800},
                   "secrets": {"api_key": "k", "secret_key": "s"}}),
        )
        .await;
    assert_eq!(sms.status, StatusCode::CREATED, "{:?}", sms.body);
    let mail = app
        .post(
            "/api/v1/channels",
            json!({"type": "email_smtp", "name": "Thư", "settings": {"host": "127.0.0.1", "port": smtp.addr.port(), "tls": "none", "from": "Cà Phê Sáng <hi@caphe.vn>"}}),
        )
        .await;
    assert_eq!(mail.status, StatusCode::CREATED, "{:?}", mail.body);
    let ids = [&zns, &sms, &mail]
        .iter()
        .map(|r| r.body["id"].as_str().unwrap().to_string())
        .collect();
    (Doubles { http, smtp }, ids)
}

fn templates(ids: &[String]) -> Value {
    json!([
        {"channel_id": ids[0], "template": {"template_id": "7895417a", "params": {"customer_name": "{{ member.name }}", "points": "{{ member.points }}"}}},
        {"channel_id": ids[1], "template": {"text": "Chào {{ member.first_name }}, ưu đãi tháng 12. Hủy: {{ unsubscribe_url }}", "unaccented": true}},
        {"channel_id": ids[2], "template": {"subject": "Tri ân {{ member.first_name }}", "html": "<p>{{ member.name }}</p>", "text": "{{ member.name }}"}}
    ])
}

async fn member(app: &TestApp, body: Value) -> String {
    let created = app.post("/api/v1/members", body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    created.body["id"].as_str().unwrap().to_string()
}

/// Waits (moving the test clock on, so retries fall due) until the campaign is finished.
async fn finish(app: &TestApp, id: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while std::time::Instant::now() < deadline {
        let c = app.get(&format!("/api/v1/campaigns/{id}")).await;
        if c.body["status"] == "finished" {
            return app
                .get(&format!("/api/v1/campaigns/{id}/report"))
                .await
                .body;
        }
        app.clock.advance(SignedDuration::from_secs(30));
        app.app.wake_queue();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let queued = app
        .get(&format!(
            "/api/v1/messages?campaign_id={id}&status=queued&limit=3"
        ))
        .await;
    panic!(
        "campaign {id} did not finish by {}: {:?}\nqueued: {:?}",
        loyalty_core::clock::Clock::now(&app.clock),
        app.get(&format!("/api/v1/campaigns/{id}/report"))
            .await
            .body,
        queued.body
    );
}

async fn launch(app: &TestApp, body: Value) -> String {
    let created = app.post("/api/v1/campaigns", body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    let launched = app
        .post(&format!("/api/v1/campaigns/{id}/launch"), json!({}))
        .await;
    assert_eq!(launched.status, StatusCode::OK, "{:?}", launched.body);
    id
}

on_both_backends! {
    async fn a_campaign_reaches_each_member_once_by_the_first_channel_they_can_receive(db) {
        let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).with_test_writer().try_init();
        let app = spawn_app(db).await;
        app.clock.set(MORNING.parse::<Timestamp>().unwrap());
        let (doubles, ids) = channels(&app).await;

        // 1,000 members: every one has a phone, every third an e-mail; Zalo consent on every
        // fifth, SMS on every second, e-mail on every third; every 50th is blocked.
        let mut expected = (0, 0, 0, 0, 0); // zns, sms, email, no_consent, blocked
        let mut members = Vec::new();
        for i in 0..1000u32 {
            let email = (i % 3 == 0).then(|| format!("m{i}@example.vn"));
            let consent = json!({"zalo": i % 5 == 0, "sms": i % 2 == 0, "email": i % 3 == 0});
            let mut body = json!({"phone": format!("09{:08}", 10_000_000 + i), "name": format!("Nguyễn Văn {i}"), "consent": consent});
            if let Some(email) = &email {
                body["email"] = json!(email);
            }
            members.push(member(&app, body).await);
            if i % 50 == 7 {
                expected.4 += 1;
                continue;
            }
            if i % 5 == 0 { expected.0 += 1 } else if i % 2 == 0 { expected.1 += 1 } else if i % 3 == 0 { expected.2 += 1 } else { expected.3 += 1 }
        }
        // Blocked members (as an import can block them) get no advertising.
        app.execute("update members set status = 'blocked' where phone like '%07' or phone like '%57'").await;
        // The provider fails the first sends for a while: they are retried.
        doubles.http.fail_next(5);
        let id = launch(&app, json!({"name": "Tri ân tháng 12", "audience": {"member_ids": members},
                                     "channels": templates(&ids), "attribution_days": 7})).await;
        let report = finish(&app, &id).await;
        let (zns, sms, email, no_consent, blocked) = expected;
        assert_eq!(report["audience"], 1000, "{report}");
        assert_eq!(report["sent"], zns + sms + email, "{report}");
        assert_eq!(report["failed"], 0, "{report}");
        assert_eq!(report["suppressed"]["no_consent"], no_consent, "{report}");
        assert_eq!(report["suppressed"]["blocked"], blocked, "{report}");
        assert_eq!(report["cost"], zns * 300 + sms * 800, "{report}");
        let by_channel: Vec<(String, i64)> = report["by_channel"].as_array().unwrap().iter()
            .map(|c| (c["channel_id"].as_str().unwrap().to_string(), c["sent"].as_i64().unwrap())).collect();
        assert!(by_channel.contains(&(ids[0].clone(), zns)), "{report}");

        // Each member got exactly one message, on the channel the rules chose.
        let http = doubles.http.received();
        let zns_got = http.iter().filter(|r| r.provider == "zns").count() as i64;
        let sms_got = http.iter().filter(|r| r.provider == "esms").count() as i64;
        assert_eq!((zns_got, sms_got), (zns, sms));
        assert_eq!(doubles.smtp.received().len() as i64, email);
        assert!(doubles.http.counts().values().all(|&n| n == 1), "a member messaged twice");
        assert!(http.iter().filter(|r| r.provider == "esms").all(|r| r.content.starts_with("QC Chao ")), "unaccented advertising SMS, labelled QC");
        let listed = app.get(&format!("/api/v1/messages?campaign_id={id}&status=suppressed&limit=5")).await;
        assert_eq!(listed.body["items"].as_array().unwrap().len(), 5, "{:?}", listed.body);
        app.assert_verified().await;
    }

    async fn a_permanent_refusal_falls_back_and_reports_come_back_signed(db) {
        let app = spawn_app(db).await;
        app.clock.set(MORNING.parse::<Timestamp>().unwrap());
        let (doubles, ids) = channels(&app).await;
        let all = json!({"zalo": true, "sms": true, "email": true});
        let lan = member(&app, json!({"phone": "0901234567", "name": "Trần Thị Lan", "consent": all})).await;
        let an = member(&app, json!({"phone": "0901234568", "name": "Lê An", "consent": all})).await;
        // Zalo refuses Lan for good (-114): she gets the SMS instead.
        doubles.http.refuse("84901234567");
        let id = launch(&app, json!({"name": "Chúc mừng", "audience": {"member_ids": [lan, an]}, "channels": templates(&ids)})).await;
        let report = finish(&app, &id).await;
        assert_eq!(report["sent"], 2, "{report}");
        let got = doubles.http.received();
        assert_eq!(got.iter().filter(|r| r.provider == "zns").count(), 1);
        assert_eq!(got.iter().filter(|r| r.provider == "esms" && r.to == "0901234567").count(), 1);

        // eSMS reports the SMS delivered, with the channel's secret in the URL.
        let sms = app.get(&format!("/api/v1/messages?campaign_id={id}&member_id={lan}")).await;
        let message = &sms.body["items"][0];
        assert_eq!(message["channel_id"], ids[1], "{message}");
        let channel = app.get(&format!("/api/v1/channels/{}", ids[1])).await;
        let callback = channel.body["callback_url"].as_str().unwrap().to_string();
        let url = format!("{}{}&SMSID={}&SendStatus=5&RequestId={}", app.base, callback, message["provider_message_id"].as_str().unwrap(), message["id"].as_str().unwrap());
        let reply = reqwest::get(&url).await.unwrap();
        assert_eq!(reply.status(), StatusCode::OK);
        let bad = reqwest::get(url.replace("?k=", "?k=x")).await.unwrap();
        assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
        let after = app.get(&format!("/api/v1/messages?campaign_id={id}&member_id={lan}")).await;
        assert_eq!(after.body["items"][0]["status"], "delivered", "{:?}", after.body);

        // Zalo's report, signed sha256(app id + body + timestamp + OA secret).
        let zalo = app.get(&format!("/api/v1/messages?campaign_id={id}&member_id={an}")).await;
        let zalo = &zalo.body["items"][0];
        let body = json!({"app_id": "app", "event_name": "user_received_message", "timestamp": "1602560967477",
                          "message": {"msg_id": zalo["provider_message_id"], "tracking_id": zalo["id"], "delivery_time": "1602960467432"}}).to_string();
        let mac = loyalty_messaging::provider::zns::mac("app", body.as_bytes(), "1602560967477", "oa");
        let client = reqwest::Client::new();
        let hook = format!("{}/hooks/messages/{}", app.base, ids[0]);
        let forged = client.post(&hook).header("x-zevent-signature", "mac=00").body(body.clone()).send().await.unwrap();
        assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
        let signed = client.post(&hook).header("x-zevent-signature", format!("mac={mac}")).body(body).send().await.unwrap();
        assert_eq!(signed.status(), StatusCode::OK);
        let report = app.get(&format!("/api/v1/campaigns/{id}/report")).await.body;
        assert_eq!(report["delivered"], 2, "{report}");

        // The recipients with their status, as CSV.
        let csv = app.client.get(format!("{}/api/v1/campaigns/{id}/export", app.base)).bearer_auth(&app.key)
            .send().await.unwrap().text().await.unwrap();
        let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
        assert_eq!(lines[0], "message_id,member_id,to,channel_type,status,reason,voucher_code,cost,sent_at,delivered_at,opened_at");
        assert_eq!(lines.len(), 3, "{csv}");
        assert!(lines.iter().any(|l| l.contains("+84901234567,sms_esms,delivered")), "{csv}");
    }

    async fn quiet_hours_hold_the_cap_suppresses_and_an_unsubscribe_sticks(db) {
        let app = spawn_app(db).await;
        // 22:00 in Hà Nội: inside the quiet hours.
        app.clock.set("2026-12-07T15:00:00Z".parse::<Timestamp>().unwrap());
        let (doubles, ids) = channels(&app).await;
        let program = app.get("/api/v1/program").await.body;
        let mut program = program.clone();
        program["messaging"]["max_per_member_per_week"] = json!(2);
        let put = app.request(reqwest::Method::PUT, "/api/v1/program", Some(&app.key), Some(program)).await;
        assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
        let sms_only = json!({"sms": true});
        let lan = member(&app, json!({"phone": "0901234567", "name": "Trần Thị Lan", "consent": sms_only})).await;
        let an = member(&app, json!({"phone": "0901234568", "name": "Lê An", "consent": sms_only})).await;
        let audience = json!({"member_ids": [lan, an]});
        let first = launch(&app, json!({"name": "Một", "audience": audience, "channels": templates(&ids)})).await;
        // Written and held: nothing goes out before 08:00.
        for _ in 0..40 {
            app.app.wake_queue();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(doubles.http.received().len(), 0, "sent inside the quiet hours");
        let queued = app.get(&format!("/api/v1/messages?campaign_id={first}&status=queued")).await;
        assert_eq!(queued.body["items"].as_array().unwrap().len(), 2, "{:?}", queued.body);
        let next = queued.body["items"][0]["next_attempt_at"].as_str().unwrap().parse::<Timestamp>().unwrap();
        assert_eq!(next, "2026-12-08T01:00:00Z".parse::<Timestamp>().unwrap(), "08:00 the next morning");
        app.clock.set("2026-12-08T01:00:01Z".parse::<Timestamp>().unwrap());
        let report = finish(&app, &first).await;
        assert_eq!(report["sent"], 2, "{report}");

        // Lan unsubscribes through the link in her SMS.
        let text = doubles.http.received().into_iter().find(|r| r.to == "0901234567").unwrap().content;
        let link = text.split_whitespace().find(|w| w.contains("/u/")).unwrap().to_string();
        let path = &link[link.find("/u/").unwrap()..];
        let page = reqwest::get(format!("{}{}", app.base, path)).await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.text().await.unwrap().contains("Hủy đăng ký"));
        let done = reqwest::Client::new().post(format!("{}{}", app.base, path)).send().await.unwrap();
        assert!(done.text().await.unwrap().contains("Đã hủy đăng ký"));
        let forged = reqwest::get(format!("{}{}0", app.base, path)).await.unwrap();
        assert_eq!(forged.status(), StatusCode::NOT_FOUND);
        let history = app.get(&format!("/api/v1/members/{lan}/consent-history")).await;
        assert_eq!(history.body["items"][0]["source"], "unsubscribe", "{:?}", history.body);
        assert_eq!(history.body["items"][0]["granted"], false);

        // The second campaign: Lan is unsubscribed; An still gets it (2 a week allowed).
        let second = launch(&app, json!({"name": "Hai", "audience": audience, "channels": templates(&ids)})).await;
        let report = finish(&app, &second).await;
        assert_eq!(report["sent"], 1, "{report}");
        assert_eq!(report["suppressed"]["unsubscribed"], 1, "{report}");
        // The third: An has had two this week.
        let third = launch(&app, json!({"name": "Ba", "audience": audience, "channels": templates(&ids)})).await;
        let report = finish(&app, &third).await;
        assert_eq!(report["sent"], 0, "{report}");
        assert_eq!(report["suppressed"]["frequency_cap"], 1, "{report}");
        assert!(doubles.http.counts().values().all(|&n| n <= 2));
    }

    async fn templates_are_checked_when_saved_and_tests_are_counted_nowhere(db) {
        let app = spawn_app(db).await;
        app.clock.set(MORNING.parse::<Timestamp>().unwrap());
        let (doubles, ids) = channels(&app).await;
        let lan = member(&app, json!({"phone": "0901234567", "consent": {"sms": true}})).await;
        let bad = app.post("/api/v1/campaigns", json!({"name": "X", "audience": {"member_ids": [lan]},
            "channels": [{"channel_id": ids[1], "template": {"text": "Chào {{ member.nickname }}"}},
                         {"channel_id": ids[0], "template": {"template_id": "", "params": {}}}]})).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", bad.body);
        let fields: Vec<&str> = bad.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert!(fields.contains(&"channels[0].template.text"), "{fields:?}");
        assert!(fields.contains(&"channels[1].template.template_id"), "{fields:?}");
        let wrong = app.post("/api/v1/channels", json!({"type": "sms_esms", "name": "x", "settings": {"brandname": ""}})).await;
        assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);

        let created = app.post("/api/v1/campaigns", json!({"name": "Nháp", "audience": {"member_ids": [lan]}, "channels": templates(&ids)})).await;
        let id = created.body["id"].as_str().unwrap();
        let test = app.post(&format!("/api/v1/campaigns/{id}/test"), json!({"to": ["0909999999", "lan@example.vn"]})).await;
        assert_eq!(test.status, StatusCode::OK, "{:?}", test.body);
        assert_eq!(test.body[0]["status"], "sent", "{:?}", test.body);
        assert_eq!(doubles.http.received().len(), 1);
        assert_eq!(doubles.smtp.received().len(), 1);
        let report = app.get(&format!("/api/v1/campaigns/{id}/report")).await.body;
        assert_eq!(report["audience"], 0, "tests count nowhere: {report}");
        let channel_test = app.post(&format!("/api/v1/channels/{}/test", ids[1]), json!({"to": "0908888888"})).await;
        assert_eq!(channel_test.body["status"], "sent", "{:?}", channel_test.body);
        // A cancelled draft sends nothing.
        let cancelled = app.post(&format!("/api/v1/campaigns/{id}/cancel"), json!({})).await;
        assert_eq!(cancelled.body["status"], "cancelled");
        let relaunch = app.post(&format!("/api/v1/campaigns/{id}/launch"), json!({})).await;
        assert_eq!(relaunch.status, StatusCode::CONFLICT);
    }

    async fn a_scheduled_e_mail_waits_for_its_time_and_opens_and_clicks_come_back_through_our_links(db) {
        let app = spawn_app(db).await;
        app.clock.set(MORNING.parse::<Timestamp>().unwrap());
        let http = ProviderDouble::start().await;
        let mail = app.post("/api/v1/channels", json!({"type": "email_sendgrid", "name": "SendGrid",
            "settings": {"from": "hi@caphe.vn", "api_base": http.base()}, "secrets": {"api_key": "SG.x"}})).await;
        assert_eq!(mail.status, StatusCode::CREATED, "{:?}", mail.body);
        let email = json!({"email": true});
        let lan = member(&app, json!({"email": "lan@example.vn", "name": "Trần Thị Lan", "consent": email})).await;
        let an = member(&app, json!({"email": "an@example.vn", "name": "Lê An", "consent": email})).await;
        let channels = json!([{"channel_id": mail.body["id"], "template": {"subject": "Menu mới",
            "html": "<p>Chào {{ member.first_name }}</p><a href=\"https://caphe.vn/menu?mon=1&amp;size=L\">Xem menu</a> <a href=\"{{ unsubscribe_url }}\">Hủy</a>"}}]);
        // Scheduled for 12:00 in Hà Nội: held until then.
        let id = launch(&app, json!({"name": "Menu", "audience": {"member_ids": [lan, an]}, "channels": channels,
            "track_email": true, "send_at": "2026-12-07T12:00:00+07:00"})).await;
        assert_eq!(app.get(&format!("/api/v1/campaigns/{id}")).await.body["status"], "scheduled");
        for _ in 0..20 {
            app.app.wake_queue();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(http.received().len(), 0, "sent before its time");
        app.clock.set("2026-12-07T05:00:00Z".parse::<Timestamp>().unwrap());
        let report = finish(&app, &id).await;
        assert_eq!(report["sent"], 2, "{report}");

        let sent = http.received();
        // As a mail reader reads it (the renderer writes `/` in values as `&#x2f;`).
        let html = sent.iter().find(|r| r.to == "lan@example.vn").unwrap().content.replace("&#x2f;", "/");
        let href = |html: &str, at: &str| -> String {
            let from = html.find(at).unwrap_or_else(|| panic!("no {at} in {html}"));
            let rest = &html[from..];
            rest[..rest.find('"').unwrap()].replace("&amp;", "&")
        };
        let pixel = href(&html, "/t/o/");
        let click = href(&html, "/t/c/");
        assert!(html.contains("/u/"), "the unsubscribe link stays ours, untracked");
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();

        // The pixel: an image, and Lan's message opened (once, however often it loads).
        for _ in 0..2 {
            let image = client.get(format!("{}{pixel}", app.base)).send().await.unwrap();
            assert_eq!(image.status(), StatusCode::OK);
            assert_eq!(image.headers()["content-type"], "image/gif");
        }
        let report = app.get(&format!("/api/v1/campaigns/{id}/report")).await.body;
        assert_eq!((report["opened"].as_i64(), report["clicked"].as_i64()), (Some(1), Some(0)), "{report}");

        // The click: to the shop's page with its query intact, and counted.
        let went = client.get(format!("{}{click}", app.base)).send().await.unwrap();
        assert_eq!(went.status(), StatusCode::SEE_OTHER);
        assert_eq!(went.headers()["location"], "https://caphe.vn/menu?mon=1&size=L");
        let report = app.get(&format!("/api/v1/campaigns/{id}/report")).await.body;
        assert_eq!((report["opened"].as_i64(), report["clicked"].as_i64()), (Some(1), Some(1)), "{report}");

        // Never an open redirect: another address, a forged or an unsubscribe token go nowhere.
        let token = &click["/t/c/".len()..click.find('?').unwrap()];
        let elsewhere = client.get(format!("{}/t/c/{token}?u=https%3A%2F%2Fevil.example", app.base)).send().await.unwrap();
        assert_eq!(elsewhere.status(), StatusCode::NOT_FOUND);
        let unsubscribe = href(&html, "/u/");
        let unsubscribe_token = &unsubscribe[unsubscribe.find("/u/").unwrap() + 3..];
        let reused = client.get(format!("{}/t/c/{unsubscribe_token}?u=https%3A%2F%2Fcaphe.vn%2Fmenu%3Fmon%3D1%26size%3DL", app.base)).send().await.unwrap();
        assert_eq!(reused.status(), StatusCode::NOT_FOUND);
        let forged = client.get(format!("{}{}", app.base, pixel.replace(".", "x"))).send().await.unwrap();
        assert_eq!(forged.status(), StatusCode::OK, "a mail reader always gets its image");
        let report = app.get(&format!("/api/v1/campaigns/{id}/report")).await.body;
        assert_eq!((report["opened"].as_i64(), report["clicked"].as_i64()), (Some(1), Some(1)), "{report}");
        let messages = app.get(&format!("/api/v1/messages?campaign_id={id}&member_id={lan}")).await;
        assert!(messages.body["items"][0]["clicked_at"].is_string(), "{:?}", messages.body);
    }
}
