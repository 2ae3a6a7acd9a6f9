//! The `loyalty` binary as an operator uses it: create a tenant, serve, stop with SIGTERM.

use std::process::{Command, Stdio};
use std::time::Duration;

mod common;

use common::{loyalty, serve_with};

use loyalty_store::on_both_backends;

on_both_backends! {
    async fn the_owner_password_can_stay_off_the_command_line(db) {
        let url = db.url.expose().to_string();
        let from_env = loyalty(&url)
            .args(["tenant", "create", "--name", "Qua Env", "--owner-email", "env@example.vn"])
            .env("LOYALTY_OWNER_PASSWORD", "mật khẩu từ env")
            .output()
            .unwrap();
        assert!(from_env.status.success(), "{}", String::from_utf8_lossy(&from_env.stderr));
        let mut piped = loyalty(&url)
            .args(["tenant", "create", "--name", "Qua Stdin", "--owner-email", "stdin@example.vn", "--owner-password-stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        piped.stdin.take().unwrap().write_all("mật khẩu từ stdin\n".as_bytes()).unwrap();
        let from_stdin = piped.wait_with_output().unwrap();
        assert!(from_stdin.status.success(), "{}", String::from_utf8_lossy(&from_stdin.stderr));
        let missing = loyalty(&url)
            .args(["tenant", "create", "--name", "X", "--owner-email", "x@example.vn"])
            .env_remove("LOYALTY_OWNER_PASSWORD")
            .output()
            .unwrap();
        assert_eq!(missing.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&missing.stderr).contains("LOYALTY_OWNER_PASSWORD"));
        // The owners can sign in with what they were given.
        let db = loyalty_store::Db::open(&db.url, &loyalty_store::DbOptions::for_backend(db.url.backend())).unwrap();
        let app = loyalty_app::App::new(db.clone(), std::sync::Arc::new(loyalty_core::clock::SystemClock));
        assert!(app.sign_in("env@example.vn", "mật khẩu từ env".into(), "test").await.is_ok());
        assert!(app.sign_in("stdin@example.vn", "mật khẩu từ stdin".into(), "test").await.is_ok());
        db.close();
    }

    async fn tenant_create_prints_a_tenant_and_a_working_admin_key_and_serve_stops_on_sigterm(db) {
        let url = db.url.expose().to_string();
        let output = loyalty(&url)
            .args(["tenant", "create", "--name", "Cà Phê Sáng", "--owner-email", "owner@example.vn", "--owner-password", "mật khẩu 123"])
            .output()
            .expect("run tenant create");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let printed: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one JSON object on stdout");
        let key = printed["api_key"].as_str().expect("api_key").to_string();
        assert!(printed["tenant_id"].as_str().unwrap().starts_with("ten_"));

        let bad = loyalty(&url)
            .args(["tenant", "create", "--name", "X", "--owner-email", "nope", "--owner-password", "short"])
            .output()
            .unwrap();
        assert!(!bad.status.success());
        let message = String::from_utf8_lossy(&bad.stderr);
        assert!(message.contains("--owner-email") && message.contains("--owner-password"), "{message}");

        let (mut child, base) = serve_with(&url, &[]);
        let client = reqwest::Client::new();
        let health = client.get(format!("{base}/healthz")).send().await.unwrap();
        assert_eq!(health.status(), 200);
        let created = client
            .post(format!("{base}/api/v1/members"))
            .bearer_auth(&key)
            .json(&serde_json::json!({"phone": "0901234567", "name": "Nguyễn Văn A"}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);

        let pid = child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let mut waited = Duration::ZERO;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(waited < Duration::from_secs(10), "serve did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
            waited += Duration::from_millis(50);
        };
        assert!(status.success(), "a graceful stop exits 0, got {status}");
    }
}

#[test]
fn an_unknown_database_scheme_is_a_clear_error() {
    let output = loyalty("mysql://localhost/x")
        .arg("migrate")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("sqlite:// or postgres://"));
}
