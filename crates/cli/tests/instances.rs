//! Two `loyalty serve` instances on one PostgreSQL database, as a chain runs them behind a load
//! balancer: orders for the same members arrive at both at once, and one instance is killed
//! with `kill -9` mid-load. Every acknowledged order is there exactly once, the tills' retries
//! of the unanswered ones land once, balances are exact and `loyalty verify` is clean. A change
//! made through one instance (a revoked key, a new earning rule) applies on the other at once,
//! wrong passwords on one make the other wait too, and two first-run setups racing on the two
//! instances make one shop. SQLite is one process's
//! database, so these are PostgreSQL's.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Server, create_tenant, loyalty, serve};
use loyalty_store::testing::TestDb;
use serde_json::{Value, json};

const MEMBERS: usize = 6;
const ORDERS: usize = 3_000;

fn order(n: usize, member_id: &str) -> Value {
    let price = 10_000 + (n as i64 % 5) * 10_000;
    json!({"source": "pos", "external_id": format!("TWO-{n}"), "member_id": member_id,
           "lines": [{"sku": "CF-001", "quantity": 1, "unit_price": price}], "total": price})
}

/// Points an order earns at the default rate (1 point per 10,000 ₫).
fn points_of(n: usize) -> i64 {
    1 + (n as i64 % 5)
}

async fn get_json(client: &reqwest::Client, base: &str, path: &str, key: &str) -> Value {
    client
        .get(format!("{base}{path}"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()
}

fn postgres() -> Option<(TestDb, String)> {
    let Some(db) = TestDb::postgres() else {
        eprintln!("PostgreSQL is not configured: the two-instance test is skipped");
        return None;
    };
    let url = db.url.expose().to_string();
    Some((db, url))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_for_the_same_members_on_two_instances_are_exact_and_a_kill_9_loses_nothing_acknowledged()
 {
    let Some((_db, url)) = postgres() else { return };
    let key = create_tenant(&url, "Chuỗi Hai Máy");
    let (first, first_base) = serve(&url);
    let (second, second_base) = serve(&url);
    let (mut first, mut second) = (Server(first), Server(second));
    let client = reqwest::Client::new();
    let mut members = Vec::new();
    for i in 0..MEMBERS {
        let reply = client
            .post(format!("{first_base}/api/v1/members"))
            .bearer_auth(&key)
            .json(&json!({"phone": format!("09170000{i:02}")}))
            .send()
            .await
            .unwrap();
        members.push(
            reply.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }

    // Sixteen tills, half on each instance, all buying for the same six members.
    let acked = Arc::new(Mutex::new(Vec::<(usize, usize)>::new()));
    let next = Arc::new(AtomicUsize::new(0));
    let mut tills = Vec::new();
    for till in 0..16 {
        let instance = till % 2;
        let base = [&first_base, &second_base][instance].clone();
        let (client, key, acked, next, members) = (
            client.clone(),
            key.clone(),
            acked.clone(),
            next.clone(),
            members.clone(),
        );
        tills.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::SeqCst);
                if n >= ORDERS {
                    return;
                }
                let body = order(n, &members[n % MEMBERS]);
                let sent = client
                    .post(format!("{base}/api/v1/orders"))
                    .bearer_auth(&key)
                    .json(&body)
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().is_success() => acked.lock().unwrap().push((n, instance)),
                    Ok(r) => panic!("order {n} refused by instance {instance}: {}", r.status()),
                    Err(_) => return, // its instance is gone; the till stops
                }
            }
        }));
    }
    let started = Instant::now();
    let at_kill = loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let acked = acked.lock().unwrap();
        let on_first = acked.iter().filter(|(_, i)| *i == 0).count();
        if on_first >= 300 && acked.len() - on_first >= 300 {
            break acked.len();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "too slow: {} orders",
            acked.len()
        );
    };
    first.kill();
    for till in tills {
        till.await.unwrap();
    }
    let acked: Vec<(usize, usize)> = acked.lock().unwrap().clone();
    let attempted = next.load(Ordering::SeqCst).min(ORDERS);
    assert!(
        at_kill < ORDERS / 2,
        "the kill came mid-load ({at_kill} acknowledged)"
    );
    let on_second = acked.iter().filter(|(_, i)| *i == 1).count();
    assert!(
        on_second > at_kill / 2,
        "the second instance went on taking orders: {on_second}"
    );

    // Every acknowledged order is there once, whichever instance answered.
    let acked_set: HashSet<usize> = acked.iter().map(|(n, _)| *n).collect();
    for &n in &acked_set {
        let path = format!("/api/v1/orders?source=pos&external_id=TWO-{n}");
        let found = get_json(&client, &second_base, &path, &key).await;
        assert_eq!(
            found["items"].as_array().unwrap().len(),
            1,
            "acknowledged order TWO-{n}"
        );
    }
    // The tills whose instance died retry what got no answer on the survivor; each lands once.
    for n in (0..attempted).filter(|n| !acked_set.contains(n)) {
        let status = client
            .post(format!("{second_base}/api/v1/orders"))
            .bearer_auth(&key)
            .json(&order(n, &members[n % MEMBERS]))
            .send()
            .await
            .unwrap()
            .status();
        assert!(status.is_success(), "retry of TWO-{n}: {status}");
    }
    let (mut points, mut count) = (0, 0);
    for member in &members {
        let m = get_json(
            &client,
            &second_base,
            &format!("/api/v1/members/{member}"),
            &key,
        )
        .await;
        points += m["points"]["available"].as_i64().unwrap();
        count += m["order_count"].as_i64().unwrap();
    }
    assert_eq!(
        count, attempted as i64,
        "every attempted order counted once"
    );
    assert_eq!(
        points,
        (0..attempted).map(points_of).sum::<i64>(),
        "every order earned once"
    );
    second.kill();

    let verify = loyalty(&url).arg("verify").output().unwrap();
    let said = String::from_utf8_lossy(&verify.stdout);
    assert!(verify.status.success(), "verify: {said}");
    assert!(said.contains("every balance equals its ledger"), "{said}");
    eprintln!(
        "two instances: {} acknowledged ({} by the killed one), {attempted} attempted",
        acked.len(),
        acked.iter().filter(|(_, i)| *i == 0).count()
    );
}

/// Polls `check` until it holds, for at most two seconds: well inside the caches' own time
/// limits (10 s for rules, 30 s for keys), so only the word between instances can pass it.
async fn within_two_seconds<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{what} did not reach the other instance"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_made_on_one_instance_applies_on_the_other_at_once() {
    let Some((_db, url)) = postgres() else { return };
    let key = create_tenant(&url, "Chuỗi Hai Máy");
    let (first, first_base) = serve(&url);
    let (second, second_base) = serve(&url);
    let (mut first, mut second) = (Server(first), Server(second));
    let client = reqwest::Client::new();
    let call = |method: reqwest::Method, base: &str, path: &str, key: &str, body: Option<Value>| {
        let request = client
            .request(method, format!("{base}{path}"))
            .bearer_auth(key);
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        async move {
            let reply = request.send().await.unwrap();
            let status = reply.status();
            (status, reply.json::<Value>().await.unwrap_or(Value::Null))
        }
    };

    // A key used on the second instance (so cached there), revoked on the first.
    let (_, created) = call(
        reqwest::Method::POST,
        &first_base,
        "/api/v1/api-keys",
        &key,
        Some(json!({"name": "Quầy 2", "scopes": ["pos"]})),
    )
    .await;
    let till_key = created["secret"].as_str().unwrap().to_string();
    let (status, _) = call(
        reqwest::Method::GET,
        &second_base,
        "/api/v1/members",
        &till_key,
        None,
    )
    .await;
    assert!(status.is_success());
    let path = format!("/api/v1/api-keys/{}", created["id"].as_str().unwrap());
    let (status, _) = call(reqwest::Method::DELETE, &first_base, &path, &key, None).await;
    assert!(status.is_success());
    within_two_seconds("the revocation", || {
        let call = call(
            reqwest::Method::GET,
            &second_base,
            "/api/v1/members",
            &till_key,
            None,
        );
        async move { call.await.0 == reqwest::StatusCode::UNAUTHORIZED }
    })
    .await;

    // The second instance has read the (empty) rules for an order; a bonus rule made on the
    // first applies to the second's next order.
    let (_, member) = call(
        reqwest::Method::POST,
        &first_base,
        "/api/v1/members",
        &key,
        Some(json!({"phone": "0917999999"})),
    )
    .await;
    let member_id = member["id"].as_str().unwrap().to_string();
    let (_, first_order) = call(
        reqwest::Method::POST,
        &second_base,
        "/api/v1/orders",
        &key,
        Some(order(0, &member_id)),
    )
    .await;
    assert_eq!(first_order["points"]["earned"], points_of(0));
    let (status, rule) = call(reqwest::Method::POST, &first_base, "/api/v1/earn-rules", &key,
        Some(json!({"name": "Thưởng 50 điểm", "conditions": {"all": []}, "effect": {"bonus_points": 50}}))).await;
    assert!(status.is_success(), "{rule}");
    let next = AtomicUsize::new(1);
    within_two_seconds("the new rule", || {
        let n = next.fetch_add(1, Ordering::SeqCst);
        let call = call(
            reqwest::Method::POST,
            &second_base,
            "/api/v1/orders",
            &key,
            Some(order(n, &member_id)),
        );
        async move { call.await.1["points"]["earned"].as_i64() == Some(points_of(n) + 50) }
    })
    .await;

    first.kill();
    second.kill();
}

/// Fills the anonymous form at `path` (the setup or sign-in page) and submits it; the CSRF
/// token is the anonymous cookie's (double submit).
async fn submit(base: &str, path: &str, fields: &[(&str, String)]) -> reqwest::StatusCode {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form_page = client.get(format!("{base}{path}")).send().await.unwrap();
    if form_page.status().is_redirection() {
        // The setup page sends away once a racing setup has won: that is this one's answer.
        return form_page.status();
    }
    let cookie = form_page.headers()[reqwest::header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let page = form_page.text().await.unwrap();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the form's csrf field")
        .to_string();
    let mut form = vec![("csrf", csrf)];
    form.extend(fields.iter().cloned());
    client
        .post(format!("{base}{path}"))
        .header(reqwest::header::COOKIE, cookie)
        .form(&form)
        .send()
        .await
        .unwrap()
        .status()
}

#[test]
fn two_first_run_setups_racing_on_two_instances_make_one_shop() {
    let Some((_db, url)) = postgres() else { return };
    let (first, first_base) = serve(&url);
    let (second, second_base) = serve(&url);
    let (mut first, mut second) = (Server(first), Server(second));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let outcomes = runtime.block_on(async {
        let mut setups = Vec::new();
        for (n, base) in [&first_base, &second_base, &first_base, &second_base]
            .into_iter()
            .enumerate()
        {
            let base = base.clone();
            setups.push(tokio::spawn(async move {
                let fields = [
                    ("name", format!("Cửa hàng {n}")),
                    ("email", format!("owner{n}@example.vn")),
                    ("password", "mật khẩu 123456".to_string()),
                ];
                submit(&base, "/setup", &fields).await
            }));
        }
        let mut outcomes = Vec::new();
        for setup in setups {
            outcomes.push(setup.await.unwrap());
        }
        outcomes
    });
    let created = outcomes.iter().filter(|s| s.is_success()).count();
    assert_eq!(
        created, 1,
        "one setup wins, the others are sent to sign in: {outcomes:?}"
    );
    assert!(
        outcomes
            .iter()
            .filter(|s| !s.is_success())
            .all(|s| s.is_redirection()),
        "{outcomes:?}"
    );
    let tenants = loyalty(&url).args(["tenant", "list"]).output().unwrap();
    let listed = String::from_utf8_lossy(&tenants.stdout);
    assert_eq!(listed.matches("Cửa hàng").count(), 1, "{listed}");
    first.kill();
    second.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_on_one_instance_delay_signing_in_on_the_other() {
    let Some((_db, url)) = postgres() else { return };
    create_tenant(&url, "Chuỗi Hai Máy");
    let (first, first_base) = serve(&url);
    let (second, second_base) = serve(&url);
    let (_first, _second) = (Server(first), Server(second));
    let sign_in = |base: &str, password: &str| {
        let fields = [
            ("email", "o@example.vn".to_string()),
            ("password", password.to_string()),
        ];
        let base = base.to_string();
        async move { submit(&base, "/login", &fields).await }
    };
    // Five wrong passwords on the first instance, each after the previous delay (0, 0, 1, 2 s):
    // the account now waits 4 s.
    for wait in [0, 0, 1, 2, 0] {
        assert_eq!(
            sign_in(&first_base, "sai mật khẩu").await,
            reqwest::StatusCode::UNAUTHORIZED
        );
        tokio::time::sleep(Duration::from_millis(wait * 1000 + 50)).await;
    }
    // The second instance has seen none of them, and still makes the right password wait.
    assert_eq!(
        sign_in(&second_base, "mật khẩu 123").await,
        reqwest::StatusCode::TOO_MANY_REQUESTS
    );
    tokio::time::sleep(Duration::from_millis(4_100)).await;
    assert_eq!(
        sign_in(&second_base, "mật khẩu 123").await,
        reqwest::StatusCode::SEE_OTHER
    );
}
