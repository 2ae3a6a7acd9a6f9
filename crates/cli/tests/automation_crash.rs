//! Automation runs survive a crash with every step done exactly once: 150 members each pay an
//! order, and a thank-you journey (a voucher, 10 points, a one-second wait, an SMS with the
//! voucher's code through an eSMS double that takes 5 ms a request) runs for each; `kill -9`
//! the server with runs waiting and mid-step, start it again, and when every run is done each
//! member has one voucher of the program, one 10-point adjustment and one SMS.

use std::collections::HashMap;
use std::time::{Duration, Instant};

mod common;

use loyalty_messaging::doubles::ProviderDouble;
use loyalty_store::on_both_backends;
use serde_json::{Value, json};

const MEMBERS: usize = 150;

on_both_backends! {
    async fn a_server_killed_mid_journey_does_every_step_exactly_once_after_restart(db) {
        let url = db.url.expose().to_string();
        let secret_key = "6f".repeat(32);
        let key = common::create_tenant(&url, "Journey Café");
        let http = ProviderDouble::start().await;
        http.delay(Duration::from_millis(5));

        let (mut server, base) = common::serve_keyed(&url, &secret_key);
        let client = reqwest::Client::new();
        let post = |base: &str, path: &str, body: Value| {
            client.post(format!("{base}{path}")).bearer_auth(&key).json(&body).send()
        };
        let program: Value = client.get(format!("{base}/api/v1/program")).bearer_auth(&key).send().await.unwrap().json().await.unwrap();
        let mut program = program.clone();
        program["messaging"]["quiet_hours"] = Value::Null;
        let put = client.put(format!("{base}/api/v1/program")).bearer_auth(&key).json(&program).send().await.unwrap();
        assert!(put.status().is_success());
        let sms: Value = post(&base, "/api/v1/channels", json!({"type": "sms_esms", "name": "eSMS",
            "settings": {"brandname": "CAFE", "api_base": http.base(), "max_per_second": 150},
            "secrets": {"api_key": "k", "secret_key": "s"}})).await.unwrap().json().await.unwrap();
        let vouchers: Value = post(&base, "/api/v1/voucher-programs", json!({"name": "Cảm ơn", "type": "fixed", "value": 20000,
            "codes": {"kind": "unique", "prefix": "CO-", "length": 8}})).await.unwrap().json().await.unwrap();
        let automation: Value = post(&base, "/api/v1/automations", json!({"name": "Cảm ơn sau mua hàng",
            "trigger": {"type": "order_paid"},
            "steps": [{"type": "issue_voucher", "voucher_program_id": vouchers["id"]},
                      {"type": "give_points", "points": 10, "reason": "cảm ơn"},
                      {"type": "wait", "duration": "PT1S"},
                      {"type": "send", "purpose": "customer_care",
                       "channels": [{"channel_id": sms["id"], "template": {"text": "Ma qua {{ voucher.code }}"}}]}]}))
            .await.unwrap().json().await.unwrap();
        let id = automation["id"].as_str().expect("automation").to_string();

        let mut members = Vec::new();
        for i in 0..MEMBERS {
            let reply: Value = post(&base, "/api/v1/members", json!({"phone": format!("0918{i:06}")})).await.unwrap().json().await.unwrap();
            let member = reply["id"].as_str().unwrap().to_string();
            let paid = post(&base, "/api/v1/orders", json!({"source": "pos", "external_id": format!("HD-{i}"), "member_id": member, "total": 50_000})).await.unwrap();
            assert!(paid.status().is_success());
            members.push(member);
        }
        let started = Instant::now();
        while http.received().len() < 20 {
            assert!(started.elapsed() < Duration::from_secs(60), "nothing was sent");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        server.kill().expect("kill -9");
        server.wait().unwrap();
        let at_kill = http.received().len();
        assert!(at_kill < MEMBERS, "the kill came after every journey ended: {at_kill}");

        let (mut server, base) = common::serve_keyed(&url, &secret_key);
        let restarted = Instant::now();
        loop {
            let runs: Value = client.get(format!("{base}/api/v1/automations/{id}/runs")).bearer_auth(&key)
                .send().await.unwrap().json().await.unwrap();
            let done = runs.as_array().unwrap().iter().filter(|r| r["status"] == "done").count();
            if done == MEMBERS && http.received().len() >= MEMBERS {
                break;
            }
            // The dead instance's hold on the channel runs out within 30 s.
            assert!(restarted.elapsed() < Duration::from_secs(60), "{done} runs done, {} sent", http.received().len());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }

        let mut per_phone: HashMap<String, Vec<String>> = HashMap::new();
        for r in http.received() {
            per_phone.entry(r.to).or_default().push(r.content);
        }
        assert_eq!(per_phone.len(), MEMBERS);
        assert!(per_phone.values().all(|texts| texts.len() == 1), "a member messaged twice");
        for member in &members {
            let codes: Value = client.get(format!("{base}/api/v1/members/{member}/vouchers")).bearer_auth(&key)
                .send().await.unwrap().json().await.unwrap();
            let mine: Vec<&Value> = codes["items"].as_array().unwrap().iter()
                .filter(|v| v["program_id"] == vouchers["id"]).collect();
            assert_eq!(mine.len(), 1, "one voucher for {member}: {codes}");
            let ledger: Value = client.get(format!("{base}/api/v1/members/{member}/ledger")).bearer_auth(&key)
                .send().await.unwrap().json().await.unwrap();
            let thanks = ledger["items"].as_array().unwrap().iter()
                .filter(|e| e["reason"] == "cảm ơn").count();
            assert_eq!(thanks, 1, "one adjustment for {member}: {ledger}");
        }
        server.kill().unwrap();
        server.wait().unwrap();
        eprintln!("automation crash test: {at_kill} sent at the kill, all done {:.1} s after the restart",
            restarted.elapsed().as_secs_f64());
    }
}
