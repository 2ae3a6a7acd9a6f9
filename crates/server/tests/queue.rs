//! The job queue inside one instance, on SQLite and PostgreSQL alike: a key is enqueued once,
//! a failing job comes back with backoff and dies after its last attempt, the periodic passes
//! run once per slot, housekeeping forgets what is past keeping.

mod common;

use std::time::Duration;

use common::{FeedReader, TestApp, spawn_app};
use jiff::{SignedDuration, Timestamp};
use loyalty_app::queue::{JobKind, job};
use loyalty_store::on_both_backends;
use loyalty_store::repo::queue::NewJob;
use serde_json::json;

/// (status, attempts, due_at, last_error) of the job with this key.
async fn state(app: &TestApp, key: &str) -> (String, i64, Timestamp, Option<String>) {
    let key = key.to_string();
    app.app
        .db()
        .read(move |sql| {
            let row = sql
                .query_opt(
                    "select status, attempts, due_at, last_error from jobs where key = $1",
                    loyalty_store::params![key.as_str()],
                )?
                .expect("the job");
            Ok::<_, loyalty_store::DbError>((
                row.get("status")?,
                row.get("attempts")?,
                loyalty_core::clock::from_millis(row.get("due_at")?),
                row.get("last_error")?,
            ))
        })
        .await
        .expect("read the job")
}

/// Waits until the job with this key is in `status` after `attempts` attempts.
async fn wait_for(
    app: &TestApp,
    key: &str,
    status: &str,
    attempts: i64,
) -> (String, i64, Timestamp, Option<String>) {
    for _ in 0..250 {
        let now = state(app, key).await;
        if now.0 == status && now.1 == attempts {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "job {key} never became {status} after {attempts} attempts: {:?}",
        state(app, key).await
    );
}

async fn jobs(app: &TestApp) -> i64 {
    app.app
        .db()
        .read(|sql| sql.query_scalar::<i64>("select count(*) from jobs", &[]))
        .await
        .unwrap()
}

on_both_backends! {
    async fn a_failing_job_comes_back_later_and_dies_after_its_last_attempt(db) {
        let app = spawn_app(db).await;
        let failing = NewJob { kind: "no.such.kind".to_string(), max_attempts: 3, key: "failing:1".to_string(), ..job(JobKind::Probe, "*", String::new(), app.app.now()) };
        assert!(app.app.enqueue(failing.clone()).await.unwrap());
        assert!(!app.app.enqueue(failing).await.unwrap(), "a key is enqueued once");

        let first = wait_for(&app, "failing:1", "queued", 1).await;
        let wait = first.2.duration_since(app.app.now());
        assert!(wait >= SignedDuration::from_millis(6_400) && wait <= SignedDuration::from_millis(9_600), "the first retry comes in about 8 s: {wait:?}");
        assert!(first.3.unwrap().contains("no runner knows"), "the error is kept");
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        assert_eq!(state(&app, "failing:1").await.1, 1, "not tried again before it is due");

        app.clock.advance(SignedDuration::from_secs(20));
        app.app.wake_queue();
        let second = wait_for(&app, "failing:1", "queued", 2).await;
        let wait = second.2.duration_since(app.app.now());
        assert!(wait >= SignedDuration::from_millis(12_800) && wait <= SignedDuration::from_millis(19_200), "then in about 16 s: {wait:?}");

        app.clock.advance(SignedDuration::from_secs(60));
        app.app.wake_queue();
        wait_for(&app, "failing:1", "dead", 3).await;
        assert_eq!(jobs(&app).await, 1);
        app.stop().await;
    }

    async fn the_periodic_passes_run_once_per_slot_and_housekeeping_forgets_old_events(db) {
        let app = spawn_app(db).await;
        let member = app.new_member("0901234567").await;
        let renamed = app.patch(&format!("/api/v1/members/{member}"), json!({"name": "Lan"})).await;
        assert_eq!(renamed.status, reqwest::StatusCode::OK);
        assert_eq!(app.count("events").await, 2);
        // A web store's delivery, logged on its connection.
        let connection = app
            .post("/api/v1/connections", json!({"platform": "shopify", "name": "Web", "secret": "hush"}))
            .await;
        let body = r#"{"id": 1, "title": "Cà phê"}"#.as_bytes().to_vec();
        let hook = app
            .client
            .post(format!("{}{}", app.base, connection.body["webhook_url"].as_str().unwrap()))
            .header("x-shopify-topic", "products/update")
            .header("x-shopify-hmac-sha256", loyalty_connect::Platform::Shopify.sign("hush", &body))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(hook.status(), reqwest::StatusCode::OK);
        assert_eq!(app.count("connection_deliveries").await, 1);
        // Two instances pacing the same slot enqueue the same three jobs.
        app.app.enqueue_periodic(Duration::from_secs(60)).await.unwrap();
        app.app.enqueue_periodic(Duration::from_secs(60)).await.unwrap();
        assert_eq!(jobs(&app).await, 3);
        for _ in 0..250 {
            if app.app.queue_counts().await.unwrap() == [("done".to_string(), 3)] {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(app.app.queue_counts().await.unwrap(), [("done".to_string(), 3)]);
        assert_eq!(app.count("events").await, 2, "recent events are kept");
        assert_eq!(app.count("connection_deliveries").await, 1, "and the recent inbound log");
        let mut reader = FeedReader::default();
        assert_eq!(reader.raised(&app).await, ["member.created", "member.updated"]);

        // Five weeks on, the next hour's housekeeping forgets the events (all but the newest,
        // which keeps the feed's positions rising) and the finished jobs.
        app.clock.advance(SignedDuration::from_hours(24 * 36));
        let later = job(JobKind::Housekeeping, "*", "test".to_string(), app.app.now());
        app.app.enqueue(later).await.unwrap();
        wait_for(&app, "housekeeping:test", "done", 1).await;
        assert_eq!(app.event_types().await, ["member.updated"], "events are kept 35 days");
        assert_eq!(jobs(&app).await, 1, "finished jobs are kept 7 days");
        assert_eq!(app.count("connection_deliveries").await, 0, "the inbound log is kept 35 days");
        let lan = app.get(&format!("/api/v1/members/{member}")).await;
        assert_eq!(lan.body["name"], "Lan", "housekeeping touched no member");
        // A client that had read everything before gets the next event, not an old position.
        app.new_member("0907654321").await;
        assert_eq!(reader.raised(&app).await, ["member.created"]);
        app.stop().await;
    }
}
