//! A crash in the middle of a load of orders loses nothing that was acknowledged and applies
//! nothing twice: `kill -9` the server, start it again, and check every order and every ledger.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod common;

use common::{loyalty, serve};
use loyalty_store::on_both_backends;
use serde_json::{Value, json};

fn order(n: usize, member_id: &str) -> Value {
    json!({"source": "pos", "external_id": format!("CRASH-{n}"), "member_id": member_id,
           "lines": [{"sku": "CF-001", "quantity": 1, "unit_price": 10_000 + (n as i64 % 7) * 10_000}],
           "total": 10_000 + (n as i64 % 7) * 10_000})
}

on_both_backends! {
    async fn orders_acknowledged_before_a_kill_9_are_there_exactly_once_and_verify_is_clean(db) {
        let url = db.url.expose().to_string();
        let created = loyalty(&url)
            .args(["tenant", "create", "--name", "Crash Café", "--owner-email", "o@example.vn", "--owner-password", "mật khẩu 123"])
            .output()
            .unwrap();
        assert!(created.status.success());
        let key = serde_json::from_slice::<Value>(&created.stdout).unwrap()["api_key"].as_str().unwrap().to_string();

        let (mut server, base) = serve(&url);
        let client = reqwest::Client::new();
        let mut members = Vec::new();
        for i in 0..4 {
            let reply = client.post(format!("{base}/api/v1/members")).bearer_auth(&key)
                .json(&json!({"phone": format!("09160000{i:02}")})).send().await.unwrap();
            members.push(reply.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string());
        }

        // Eight clients post orders as fast as they can; the server is killed mid-way.
        let acked = Arc::new(Mutex::new(Vec::<usize>::new()));
        let total_orders = 4_000;
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut clients = Vec::new();
        for _ in 0..8 {
            let (client, base, key, acked, next, members) = (client.clone(), base.clone(), key.clone(), acked.clone(), next.clone(), members.clone());
            clients.push(tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if n >= total_orders {
                        return;
                    }
                    let body = order(n, &members[n % members.len()]);
                    match client.post(format!("{base}/api/v1/orders")).bearer_auth(&key).json(&body).send().await {
                        Ok(response) if response.status().is_success() => acked.lock().unwrap().push(n),
                        Ok(response) => panic!("order {n} refused: {}", response.status()),
                        Err(_) => return, // the server is gone
                    }
                }
            }));
        }
        loop {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if acked.lock().unwrap().len() >= 300 {
                break;
            }
        }
        server.kill().expect("kill -9");
        server.wait().unwrap();
        for c in clients {
            c.await.unwrap();
        }
        let acked: Vec<usize> = acked.lock().unwrap().clone();
        let attempted = next.load(std::sync::atomic::Ordering::SeqCst).min(total_orders);
        assert!(acked.len() >= 300 && acked.len() < total_orders, "the kill came mid-way ({} acknowledged)", acked.len());

        // After the restart, every acknowledged order is there, once.
        let (mut server, base) = serve(&url);
        let acked_set: HashSet<usize> = acked.iter().copied().collect();
        for &n in &acked {
            let found = client.get(format!("{base}/api/v1/orders?source=pos&external_id=CRASH-{n}")).bearer_auth(&key).send().await.unwrap();
            let items = found.json::<Value>().await.unwrap()["items"].as_array().unwrap().len();
            assert_eq!(items, 1, "acknowledged order CRASH-{n} is there exactly once");
        }
        // The tills retry what got no answer; each lands once, whether or not it had landed.
        for n in (0..attempted).filter(|n| !acked_set.contains(n)) {
            let body = order(n, &members[n % members.len()]);
            let status = client.post(format!("{base}/api/v1/orders")).bearer_auth(&key).json(&body).send().await.unwrap().status();
            assert!(status == 200 || status == 201, "retry of CRASH-{n}: {status}");
        }
        let mut points = 0;
        let mut count = 0;
        for member in &members {
            let m = client.get(format!("{base}/api/v1/members/{member}")).bearer_auth(&key).send().await.unwrap().json::<Value>().await.unwrap();
            points += m["points"]["available"].as_i64().unwrap();
            count += m["order_count"].as_i64().unwrap();
        }
        let expected: i64 = (0..attempted).map(|n| 1 + (n as i64 % 7)).sum();
        assert_eq!(count, attempted as i64, "every attempted order counted once");
        assert_eq!(points, expected, "every attempted order earned once");
        // Every order that landed raised exactly one order.paid, acknowledged or retried.
        let mut paid: HashMap<String, usize> = HashMap::new();
        let mut cursor = String::new();
        loop {
            let page = client.get(format!("{base}/api/v1/events?type=order.paid&limit=500&cursor={cursor}")).bearer_auth(&key)
                .send().await.unwrap().json::<Value>().await.unwrap();
            for event in page["items"].as_array().unwrap() {
                *paid.entry(event["data"]["order"]["external_id"].as_str().unwrap().to_string()).or_default() += 1;
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = next.to_string(),
                None => break,
            }
        }
        for &n in &acked {
            assert_eq!(paid.get(&format!("CRASH-{n}")), Some(&1), "acknowledged order CRASH-{n} raised one order.paid");
        }
        assert_eq!(paid.len(), attempted, "one order.paid per order");
        assert!(paid.values().all(|&times| times == 1), "no order raised order.paid twice");
        server.kill().unwrap();
        server.wait().unwrap();

        let verify = loyalty(&url).arg("verify").output().unwrap();
        let said = String::from_utf8_lossy(&verify.stdout);
        assert!(verify.status.success(), "verify: {said}");
        assert!(said.contains("every balance equals its ledger"), "{said}");
    }
}
