//! `loyalty serve` as a process of its own on the bench's database, so that what is measured of
//! it (its resident memory) is the server's alone, not the load generator's as well.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use loyalty_store::DatabaseUrl;

/// A running `loyalty serve`, killed when dropped.
pub struct ServeProcess {
    child: Child,
    pub base: String,
}

impl ServeProcess {
    /// Starts this same binary as `loyalty serve` on a free loopback port, without periodic
    /// jobs (a scenario times those on its own), and waits until it listens.
    pub fn start(url: &DatabaseUrl) -> anyhow::Result<ServeProcess> {
        let mut child = Command::new(std::env::current_exe()?)
            .env("DATABASE_URL", url.expose())
            // Its address is logged at info; per-request lines would cost the server time.
            .env(
                "RUST_LOG",
                "warn,loyalty=info,tower_http=warn,loyalty_server=warn",
            )
            .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
            .args(["--jobs-every", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        let stderr = child.stderr.take();
        // Killed when dropped from here on, whatever goes wrong while it starts.
        let mut server = ServeProcess {
            child,
            base: String::new(),
        };
        let stderr = stderr.ok_or_else(|| anyhow::anyhow!("no stderr"))?;
        let (found, address) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut found = Some(found);
            // Reads to the end, so the server never blocks on a full pipe.
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(address) = serde_json::from_str::<serde_json::Value>(&line)
                    .ok()
                    .and_then(|e| e["address"].as_str().map(str::to_string))
                    && let Some(found) = found.take()
                {
                    let _ = found.send(address);
                }
            }
        });
        let address = address
            .recv_timeout(std::time::Duration::from_secs(120))
            .map_err(|_| anyhow::anyhow!("loyalty serve did not start listening"))?;
        server.base = format!("http://{address}");
        Ok(server)
    }

    /// The server's resident memory now, in MiB (Linux).
    pub fn rss_mb(&self) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        crate::vm_line_mb(&status, "VmRSS:")
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
