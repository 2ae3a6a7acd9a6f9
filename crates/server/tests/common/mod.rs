//! A real server on 127.0.0.1:0 over a fresh database, driven with a real HTTP client.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the harness"
)]

use std::sync::Arc;

use loyalty_app::App;
use loyalty_app::tenants::NewTenant;
use loyalty_core::clock::ManualClock;
use loyalty_store::testing::TestDb;
use loyalty_store::{Db, DbOptions};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::oneshot;

pub mod receiver;

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub app: App,
    pub clock: ManualClock,
    /// The admin key of the tenant created at start.
    pub key: String,
    pub tenant_id: String,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    /// The job queue's runner, as `loyalty serve` runs one.
    queue: Option<loyalty_app::queue::QueueRunner>,
    db: Db,
    _database: TestDb,
}

/// Starts the server over `database` with one tenant ("Cà Phê Sáng") and its admin key.
pub async fn spawn_app(database: TestDb) -> TestApp {
    spawn_app_with(database, loyalty_server::ServerOptions::default()).await
}

/// [`spawn_app`] with server options (trusted proxies…).
pub async fn spawn_app_with(database: TestDb, server: loyalty_server::ServerOptions) -> TestApp {
    let options = DbOptions {
        readers: 2,
        writers: 2,
        max_batch: 64,
        ..DbOptions::for_backend(database.url.backend())
    };
    let db = Db::open(&database.url, &options).expect("open the test database");
    let clock = ManualClock::at(jiff::Timestamp::now());
    // A key for the secrets kept at rest; webhooks may post to the tests' receivers on
    // 127.0.0.1 (a server refuses that unless run with --allow-private-webhooks).
    let app = App::new(db.clone(), Arc::new(clock.clone()))
        .with_secret_key(Some(loyalty_app::secrets::SecretKey::generate().0))
        .with_private_webhooks(true);
    let (tenant_id, key) = create_tenant(&app, "Cà Phê Sáng").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let (stop, stopped) = oneshot::channel::<()>();
    let server_app = app.clone();
    let server = tokio::spawn(async move {
        loyalty_server::serve_with(listener, server_app, server, async {
            let _ = stopped.await;
        })
        .await
        .expect("serve");
    });
    let queue = app.start_queue();
    TestApp {
        base,
        client: reqwest::Client::new(),
        app,
        clock,
        key,
        tenant_id,
        stop: Some(stop),
        server: Some(server),
        queue: Some(queue),
        db,
        _database: database,
    }
}

/// Creates another tenant; returns its id and admin key.
pub async fn create_tenant(app: &App, name: &str) -> (String, String) {
    let created = app
        .create_tenant(NewTenant {
            name: name.to_string(),
            owner_email: format!(
                "owner-{}@example.vn",
                loyalty_core::code::random_code(6).to_lowercase()
            ),
            owner_password: "mật khẩu 123".to_string(),
            timezone: None,
        })
        .await
        .expect("create tenant");
    (created.tenant.id.to_string(), created.api_key)
}

/// A response: status and JSON body (`Null` when the body is empty or not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Value,
}

impl Reply {
    /// Reads a response: its status, content type and JSON body.
    pub async fn of(response: reqwest::Response) -> Reply {
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let bytes = response.bytes().await.expect("read body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            content_type,
            body,
        }
    }

    /// The `field` of the first entry of a problem's `errors`.
    pub fn error_field(&self) -> &str {
        self.body["errors"][0]["field"].as_str().unwrap_or("")
    }
}

impl TestApp {
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self
            .client
            .request(method, format!("{}{}", self.base, path));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        Reply::of(request.send().await.expect("send request")).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.request(Method::GET, path, Some(&self.key), None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.request(Method::POST, path, Some(&self.key), Some(body))
            .await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.request(Method::PATCH, path, Some(&self.key), Some(body))
            .await
    }

    /// Sends raw bytes (for malformed and oversized bodies).
    pub async fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> Reply {
        let response = self
            .client
            .post(format!("{}{}", self.base, path))
            .bearer_auth(&self.key)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("send request");
        Reply::of(response).await
    }

    /// A request with an `Idempotency-Key`; returns the reply and whether it was a replay.
    pub async fn keyed(&self, method: Method, path: &str, key: &str, body: Value) -> (Reply, bool) {
        let response = self
            .client
            .request(method, format!("{}{}", self.base, path))
            .bearer_auth(&self.key)
            .header("idempotency-key", key)
            .json(&body)
            .send()
            .await
            .expect("send");
        let replayed = response.headers().get("idempotent-replayed").is_some();
        (Reply::of(response).await, replayed)
    }

    /// Creates a member with this phone; returns its id.
    pub async fn new_member(&self, phone: &str) -> String {
        let created = self
            .post("/api/v1/members", serde_json::json!({"phone": phone}))
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        created.body["id"].as_str().expect("member id").to_string()
    }

    /// `loyalty verify` finds nothing wrong.
    pub async fn assert_verified(&self) {
        let report = self.app.verify().await.expect("verify runs");
        assert!(
            report.problems.is_empty(),
            "verify found: {:?}",
            report.problems
        );
    }

    /// Creates an API key with `scopes` in the test tenant; returns its secret.
    pub async fn key_with(&self, scopes: &[&str]) -> String {
        let reply = self
            .post(
                "/api/v1/api-keys",
                serde_json::json!({"name": "test key", "scopes": scopes}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        reply.body["secret"].as_str().expect("secret").to_string()
    }

    /// Rows in a table of the test tenant, read straight from the database.
    pub async fn count(&self, table: &'static str) -> i64 {
        let tenant = self.tenant_id.clone();
        self.db
            .read(move |sql| {
                sql.query_scalar::<i64>(
                    &format!("select count(*) from {table} where tenant_id = $1"),
                    loyalty_store::params![tenant.as_str()],
                )
            })
            .await
            .expect("count rows")
    }

    /// The types of the test tenant's events in the order they were written, read straight
    /// from the database (the feed may hold back the newest for a moment on PostgreSQL).
    pub async fn event_types(&self) -> Vec<String> {
        let tenant = self.tenant_id.clone();
        self.db
            .read(move |sql| {
                let rows = sql.query(
                    "select type from events where tenant_id = $1 order by tx, seq",
                    loyalty_store::params![tenant.as_str()],
                )?;
                rows.iter().map(|row| row.get::<String>("type")).collect()
            })
            .await
            .expect("read events")
    }

    /// The `seq` of the test tenant's newest event (0 when none).
    pub async fn newest_event(&self) -> i64 {
        let tenant = self.tenant_id.clone();
        self.db
            .read(move |sql| {
                sql.query_scalar::<i64>(
                    "select coalesce(max(seq), 0) from events where tenant_id = $1",
                    loyalty_store::params![tenant.as_str()],
                )
            })
            .await
            .expect("read events")
    }

    /// Runs a statement straight on the database (to simulate corruption in tests of verify).
    pub async fn execute(&self, statement: &'static str) {
        self.db
            .write(move |sql| sql.execute(statement, &[]))
            .await
            .expect("execute");
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        if let Some(queue) = self.queue.take() {
            queue.stop().await;
        }
        self.db.close();
    }
}

/// A reader of the events feed, from a cursor (from the start by default).
#[derive(Default)]
pub struct FeedReader {
    pub cursor: String,
}

impl FeedReader {
    pub fn after(cursor: &str) -> FeedReader {
        FeedReader {
            cursor: cursor.to_string(),
        }
    }

    /// Every event after the cursor, page by page (three at a time, to cross page edges). On
    /// PostgreSQL the feed holds back events while an older transaction anywhere in the
    /// cluster is still running (another test's, here), so this reads until it has reached
    /// the newest event the table holds: then "none" means none.
    pub async fn new_events(&mut self, app: &TestApp) -> Vec<Value> {
        let mut all = Vec::new();
        for _ in 0..500 {
            loop {
                let reply = app
                    .get(&format!("/api/v1/events?limit=3&cursor={}", self.cursor))
                    .await;
                assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
                let items = reply.body["items"].as_array().expect("items").clone();
                self.cursor = reply.body["poll_cursor"]
                    .as_str()
                    .expect("poll_cursor")
                    .to_string();
                let more = reply.body["next_cursor"].is_string();
                if more {
                    assert_eq!(reply.body["next_cursor"], reply.body["poll_cursor"]);
                }
                all.extend(items);
                if !more {
                    break;
                }
            }
            let reached = self
                .cursor
                .rsplit('.')
                .next()
                .and_then(|seq| seq.parse::<i64>().ok())
                .unwrap_or(0);
            if reached >= app.newest_event().await {
                return all;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("the feed never reached the newest event: {all:?}");
    }

    /// The types of the new events, in order.
    pub async fn raised(&mut self, app: &TestApp) -> Vec<String> {
        self.new_events(app)
            .await
            .iter()
            .map(|e| e["type"].as_str().expect("type").to_string())
            .collect()
    }
}
