//! Running the `loyalty` binary as an operator would: commands, and `serve` on a free port.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the harness"
)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// The `loyalty` binary on the database at `url`.
pub fn loyalty(url: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_loyalty"));
    command
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn,loyalty=info");
    command
}

/// `loyalty serve` on a free port with no periodic jobs; returns the process and its base URL.
pub fn serve(url: &str) -> (Child, String) {
    serve_with(url, &["--jobs-every", "0"])
}

/// `loyalty serve` on a free port with these options; returns the process and its base URL.
pub fn serve_with(url: &str, options: &[&str]) -> (Child, String) {
    let mut command = loyalty(url);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .args(options)
        .stderr(Stdio::piped());
    spawn_serve(command)
}

/// `loyalty serve` with the server's secret key and private webhook and provider addresses
/// allowed (the crash tests' local doubles); returns the process and its base URL.
pub fn serve_keyed(url: &str, secret_key: &str) -> (Child, String) {
    let mut command = loyalty(url);
    command
        .env("LOYALTY_SECRET_KEY", secret_key)
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .args(["--jobs-every", "0", "--allow-private-webhooks"])
        .stderr(Stdio::piped());
    spawn_serve(command)
}

/// `loyalty tenant create` for a café of this name; returns its API key.
pub fn create_tenant(url: &str, name: &str) -> String {
    let created = loyalty(url)
        .args(["tenant", "create", "--name", name])
        .args([
            "--owner-email",
            "o@example.vn",
            "--owner-password",
            "mật khẩu 123",
        ])
        .output()
        .expect("run tenant create");
    assert!(created.status.success(), "{created:?}");
    serde_json::from_slice::<Value>(&created.stdout).expect("tenant json")["api_key"]
        .as_str()
        .expect("api key")
        .to_string()
}

/// Starts a prepared `loyalty serve … --log-format json` (stderr piped) and waits until it
/// listens; returns the process and its base URL.
pub fn spawn_serve(mut command: Command) -> (Child, String) {
    let mut child = command.spawn().expect("start loyalty serve");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let address = loop {
        let line = lines
            .next()
            .expect("serve exited before listening")
            .expect("read log");
        if let Some(address) = serde_json::from_str::<Value>(&line)
            .ok()
            .and_then(|e| e["address"].as_str().map(str::to_string))
        {
            break address;
        }
    };
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, format!("http://{address}"))
}

/// A `loyalty serve` process killed (`kill -9`) when dropped, so that a failing test leaves no
/// server behind holding the test's output open.
pub struct Server(pub Child);

impl Server {
    /// `kill -9`, and waits for the process to be gone.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}
