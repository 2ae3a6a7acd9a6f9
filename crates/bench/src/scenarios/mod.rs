//! One module per scenario. A scenario prepares its data, runs for the asked duration (or until
//! its work is done) and returns its reports.

pub mod automations;
pub mod baseline;
pub mod campaign;
pub mod expiry;
pub mod pos;
pub mod segments;
pub mod setup;
pub mod vouchers;
pub mod webhooks;

use crate::{BenchOptions, Report};

pub const NAMES: &[&str] = &[
    "pos",
    "pos-webhook",
    "baseline",
    "expiry",
    "codes",
    "redeem",
    "import",
    "segment",
    "webhooks",
    "campaign",
    "automations",
];

pub async fn run(scenario: &str, options: &BenchOptions) -> anyhow::Result<Vec<Report>> {
    match scenario {
        "pos" => pos::run(options).await,
        "pos-webhook" => pos::with_webhook(options).await,
        "baseline" => baseline::run(options).await.map(|r| vec![r]),
        "expiry" => expiry::run(options).await.map(|r| vec![r]),
        "codes" => vouchers::codes(options).await.map(|r| vec![r]),
        "redeem" => vouchers::redeem(options).await.map(|r| vec![r]),
        "import" => segments::import(options).await.map(|r| vec![r]),
        "segment" => segments::segment(options).await,
        "webhooks" => webhooks::run(options).await.map(|r| vec![r]),
        "campaign" => campaign::run(options).await,
        "automations" => automations::run(options).await.map(|r| vec![r]),
        other => anyhow::bail!(
            "unknown scenario {other}; choose one of {}",
            NAMES.join(", ")
        ),
    }
}
