//! A campaign survives a crash without messaging anyone twice: `kill -9` the server while it
//! sends a campaign to 300 members (SMS through an eSMS double that takes 5 ms a request, e-mail
//! through an SMTP double), start it again, and the campaign finishes: every SMS member got
//! exactly one SMS (a send cut off by the kill is tried again under the same `RequestId`, which
//! eSMS takes once), and no e-mail went twice (SMTP has no such reference: a cut-off e-mail is
//! failed as unknown, never resent).

use std::collections::HashMap;
use std::time::{Duration, Instant};

mod common;

use loyalty_messaging::doubles::{ProviderDouble, SmtpDouble};
use loyalty_store::on_both_backends;
use serde_json::{Value, json};

on_both_backends! {
    async fn a_server_killed_mid_campaign_finishes_it_without_messaging_anyone_twice(db) {
        let url = db.url.expose().to_string();
        let secret_key = "5e".repeat(32);
        let key = common::create_tenant(&url, "Campaign Café");
        let http = ProviderDouble::start().await;
        http.delay(Duration::from_millis(5));
        let smtp = SmtpDouble::start().await;

        let (mut server, base) = common::serve_keyed(&url, &secret_key);
        let client = reqwest::Client::new();
        let post = |path: &str, body: Value| {
            client.post(format!("{base}{path}")).bearer_auth(&key).json(&body).send()
        };
        // Whatever the hour CI runs at: no quiet hours.
        let program: Value = client.get(format!("{base}/api/v1/program")).bearer_auth(&key).send().await.unwrap().json().await.unwrap();
        let mut program = program.clone();
        program["messaging"]["quiet_hours"] = Value::Null;
        let put = client.put(format!("{base}/api/v1/program")).bearer_auth(&key).json(&program).send().await.unwrap();
        assert!(put.status().is_success());
        let sms: Value = post("/api/v1/channels", json!({"type": "sms_esms", "name": "eSMS",
            "settings": {"brandname": "CAFE", "api_base": http.base(), "max_per_second": 150},
            "secrets": {"api_key": "k", "secret_key": "s"}})).await.unwrap().json().await.unwrap();
        let mail: Value = post("/api/v1/channels", json!({"type": "email_smtp", "name": "Thư",
            "settings": {"host": "127.0.0.1", "port": smtp.addr.port(), "tls": "none", "from": "cafe@example.vn", "max_per_second": 150}}))
            .await.unwrap().json().await.unwrap();
        let mut members = Vec::new();
        for i in 0..300 {
            let body = if i % 2 == 0 {
                json!({"phone": format!("0917{i:06}"), "consent": {"sms": true}})
            } else {
                json!({"phone": format!("0917{i:06}"), "email": format!("k{i}@example.vn"), "consent": {"email": true}})
            };
            let reply: Value = post("/api/v1/members", body).await.unwrap().json().await.unwrap();
            members.push(reply["id"].as_str().unwrap().to_string());
        }
        let campaign: Value = post("/api/v1/campaigns", json!({"name": "Tri ân", "audience": {"member_ids": members},
            "channels": [{"channel_id": sms["id"], "template": {"text": "Cam on {{ member.member_code }}"}},
                         {"channel_id": mail["id"], "template": {"subject": "Tri ân", "html": "<p>Cảm ơn</p>"}}]}))
            .await.unwrap().json().await.unwrap();
        let id = campaign["id"].as_str().unwrap().to_string();
        let launched = post(&format!("/api/v1/campaigns/{id}/launch"), json!({})).await.unwrap();
        assert!(launched.status().is_success());

        let started = Instant::now();
        while http.received().len() + smtp.received().len() < 30 {
            assert!(started.elapsed() < Duration::from_secs(30), "nothing was sent");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        server.kill().expect("kill -9");
        server.wait().unwrap();
        let at_kill = http.received().len() + smtp.received().len();
        assert!(at_kill < 300, "the kill came after the campaign was sent: {at_kill}");

        let (mut server, base) = common::serve_keyed(&url, &secret_key);
        let restarted = Instant::now();
        let report = loop {
            let report: Value = client.get(format!("{base}/api/v1/campaigns/{id}/report")).bearer_auth(&key)
                .send().await.unwrap().json().await.unwrap();
            if report["status"] == "finished" {
                break report;
            }
            // The dead instance's hold on each channel runs out within 30 s.
            assert!(restarted.elapsed() < Duration::from_secs(60), "not finished after the restart: {report}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        server.kill().unwrap();
        server.wait().unwrap();

        let mut per_address: HashMap<String, usize> = HashMap::new();
        for r in http.received().into_iter().chain(smtp.received()) {
            *per_address.entry(r.to).or_default() += 1;
        }
        assert!(per_address.values().all(|&n| n == 1), "a member messaged twice");
        let sms_sent = http.received().len();
        assert_eq!(sms_sent, 150, "every SMS member got theirs exactly once");
        let mail_sent = smtp.received().len();
        assert_eq!(report["sent"].as_i64().unwrap() + report["failed"].as_i64().unwrap(), 300, "{report}");
        // Only e-mails cut off mid-call (one turn of 32 at most) may be failed.
        assert!(report["failed"].as_i64().unwrap() <= 32, "{report}");
        assert!(mail_sent >= 150 - 32, "{mail_sent} e-mails sent");
        eprintln!("campaign crash test: {at_kill} sent at the kill, {} failed as unknown, finished {:.1} s after the restart",
            report["failed"], restarted.elapsed().as_secs_f64());
    }
}
