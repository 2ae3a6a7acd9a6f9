//! `loyalty jobs`: the job queue's state, and probe jobs that prove it runs each job once.

use std::collections::BTreeMap;
use std::process::ExitCode;

use clap::Subcommand;
use loyalty_app::App;

#[derive(Subcommand)]
pub enum JobsCommand {
    /// How many jobs are queued, running, done and dead; prints a JSON object.
    Status,
    /// Enqueue COUNT probe jobs: each only records, when it is marked done, which instance ran
    /// it. Any running `loyalty serve` picks them up.
    Probe {
        count: usize,
        /// Milliseconds each probe takes before it finishes.
        #[arg(long, default_value_t = 0)]
        hold_ms: u64,
    },
    /// What the probe jobs did; prints {"jobs", "runs", "ran_more_than_once", "by_instance"}.
    Probes,
}

pub async fn jobs(app: App, command: JobsCommand) -> anyhow::Result<ExitCode> {
    match command {
        JobsCommand::Status => {
            let counts: BTreeMap<String, i64> = app.queue_counts().await?.into_iter().collect();
            println!("{}", serde_json::to_string(&counts)?);
        }
        JobsCommand::Probe { count, hold_ms } => {
            let hold = std::time::Duration::from_millis(hold_ms);
            let added = app.enqueue_probes(count, hold).await?;
            println!("{}", serde_json::json!({ "enqueued": added }));
        }
        JobsCommand::Probes => {
            let runs = app.probe_runs().await?;
            let mut by_instance: BTreeMap<String, i64> = BTreeMap::new();
            for (_, _, instance) in &runs {
                *by_instance.entry(instance.clone()).or_default() += 1;
            }
            let report = serde_json::json!({
                "jobs": runs.len(),
                "runs": runs.iter().map(|(_, n, _)| n).sum::<i64>(),
                "ran_more_than_once": runs.iter().filter(|(_, n, _)| *n > 1).count(),
                "by_instance": by_instance,
            });
            println!("{report}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
