//! `loyalty bench`: measures the product where a till feels it — over HTTP, on loopback, against
//! the real server — next to the physical limit of the same database measured in the same run.
//!
//! The server runs in this process on its own Tokio runtime (its own threads); the load
//! generator runs on another. Both share the machine's cores, as a till's traffic and the server
//! would not, so figures are conservative. Each scenario is one module in [`scenarios`].

pub mod latency;
pub mod scenarios;
pub mod serve_process;
pub mod target;

use serde::Serialize;

/// What a run is asked to do.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// `None`: a fresh SQLite file in a temporary directory on the same disk.
    pub database_url: Option<String>,
    pub duration_s: f64,
    pub connections: usize,
    pub members: usize,
    /// Servers on the one database (`pos` on PostgreSQL).
    pub instances: usize,
}

/// One scenario's result, printed as one JSON object with `--json`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub scenario: String,
    pub database: String,
    pub connections: Option<usize>,
    pub duration_s: f64,
    pub ops: u64,
    pub ops_per_s: f64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub errors: u64,
    pub baseline_ops_per_s: Option<f64>,
    pub ratio_to_baseline: Option<f64>,
    pub rss_mb: Option<f64>,
    /// Settings the figures were measured under (durability, engine).
    pub settings: String,
}

/// Resident memory of this process in MiB (Linux), server and load generator together.
pub fn rss_mb() -> Option<f64> {
    vm_line_mb(
        &std::fs::read_to_string("/proc/self/status").ok()?,
        "VmRSS:",
    )
}

/// Peak resident memory of this process in MiB (Linux).
pub fn peak_rss_mb() -> Option<f64> {
    vm_line_mb(
        &std::fs::read_to_string("/proc/self/status").ok()?,
        "VmHWM:",
    )
}

/// A `/proc/<pid>/status` line such as `VmRSS:  1234 kB`, in MiB.
fn vm_line_mb(status: &str, name: &str) -> Option<f64> {
    let line = status.lines().find(|l| l.starts_with(name))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
