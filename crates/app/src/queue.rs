//! The durable job queue's runner: every instance claims due jobs under a 25-second lease
//! (renewed while the job runs, so a job held by a dead instance is taken over within 30 s), runs them, and marks them done — or queues them again with
//! backoff, or dead after their last attempt. A job whose holder died is taken over once its
//! lease runs out. Jobs are enqueued by key, at most once per key, so a periodic pass queued
//! by several instances for the same time slot runs once.
//!
//! What runs here: the points refresh (expiry, pending points, tier reviews), RFM scoring,
//! housekeeping (forgetting old idempotency keys, events and finished jobs), the
//! re-evaluation of a tenant's members after its tier ladder changed, and probe jobs that
//! prove the queue (`loyalty jobs probe`). Imports stay streams inside the request that
//! uploaded the file: the file is never stored, so there is nothing a job could pick up.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use loyalty_core::backoff::retry_at;
use loyalty_core::id::new_id;
use loyalty_store::Sql;
use loyalty_store::repo::events;
use loyalty_store::repo::queue::{self, Job, NewJob};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::{App, AppError, AppResult};

/// How long a claimed job is held before another instance may take it over: with the idle
/// runner's poll, a dead instance's jobs are running again within 30 s (API.md).
pub const LEASE: SignedDuration = SignedDuration::from_secs(25);
/// How often a running job's lease is extended (three chances before it runs out).
const RENEW_EVERY: Duration = Duration::from_secs(8);
/// How often an idle runner looks for due jobs (an enqueue in this instance wakes it sooner).
const POLL_EVERY: Duration = Duration::from_secs(1);
/// How often the runner starts a webhook sender for each endpoint that has none running (a
/// sender sends until its endpoint has nothing due, then ends).
const SENDERS_EVERY: Duration = Duration::from_millis(500);
/// Jobs one instance runs at a time (webhook deliveries have their own senders): the heavy
/// periodic passes are few and keyed, probes and tier re-evaluations short.
const SLOTS: usize = 16;
/// Attempts before a job is marked dead.
pub const MAX_ATTEMPTS: i64 = 8;
/// How long finished jobs stay visible.
const FINISHED_KEPT_DAYS: i64 = 7;

/// The kinds of work the queue runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// Expired and matured points, then tier reviews, for every tenant.
    PointsRefresh,
    /// RFM scores for every tenant, once a day.
    RfmScore,
    /// Forgets idempotency keys, events past their retention, finished jobs.
    Housekeeping,
    /// One tenant's members against its changed tier ladder.
    TiersReevaluate,
    /// Does nothing but record that it ran, in the transaction that marks it done.
    Probe,
    /// One attempt of one webhook delivery, as earlier versions queued them (now done).
    WebhookDeliver,
}

impl JobKind {
    pub const ALL: [JobKind; 6] = [
        JobKind::PointsRefresh,
        JobKind::RfmScore,
        JobKind::Housekeeping,
        JobKind::TiersReevaluate,
        JobKind::Probe,
        JobKind::WebhookDeliver,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::PointsRefresh => "points.refresh",
            JobKind::RfmScore => "rfm.score",
            JobKind::Housekeeping => "housekeeping",
            JobKind::TiersReevaluate => "tiers.reevaluate",
            JobKind::Probe => "queue.probe",
            JobKind::WebhookDeliver => "webhook.deliver",
        }
    }

    pub fn parse(text: &str) -> Option<JobKind> {
        JobKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// A job to enqueue, keyed so that enqueuing it twice adds it once.
pub fn job(kind: JobKind, tenant_id: &str, key: String, due_at: Timestamp) -> NewJob {
    NewJob {
        tenant_id: tenant_id.to_string(),
        kind: kind.as_str().to_string(),
        key: format!("{}:{key}", kind.as_str()),
        payload: serde_json::json!({}),
        due_at,
        max_attempts: MAX_ATTEMPTS,
    }
}

/// Enqueues in the caller's transaction, so the job exists if and only if the change that
/// asked for it committed. Wake the runner after the commit with [`App::wake_queue`].
pub(crate) fn enqueue_in(sql: &mut dyn Sql, job: &NewJob, now: Timestamp) -> AppResult<bool> {
    Ok(queue::enqueue(sql, job, now)?)
}

/// A running queue runner; [`QueueRunner::stop`] ends it and hands back its unfinished jobs.
pub struct QueueRunner {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl QueueRunner {
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Jobs that are running, with their leases, so that a stopping runner hands them back.
type Held = Arc<Mutex<HashMap<String, String>>>;

/// The lease a claimed job is held under (`leased_by`, set by the claim).
fn lease_of(job: &Job) -> String {
    job.leased_by.clone().unwrap_or_default()
}

impl App {
    /// Enqueues a job (once per key) and wakes this instance's runner; returns whether it was
    /// added.
    pub async fn enqueue(&self, job: NewJob) -> AppResult<bool> {
        let now = self.now();
        let added = self.db.write(move |sql| enqueue_in(sql, &job, now)).await?;
        self.wake_queue();
        Ok(added)
    }

    /// Tells this instance's runner that a job may be due now.
    pub fn wake_queue(&self) {
        self.queue_wake.notify_one();
    }

    /// Enqueues the periodic passes for the current slot of `every`: the points refresh each
    /// slot, housekeeping each hour, RFM scoring each day (Vietnam's day). Instances pacing
    /// with the same `every` enqueue the same keys, so each pass runs once.
    pub async fn enqueue_periodic(&self, every: Duration) -> AppResult<()> {
        let now = self.now();
        let every = i64::try_from(every.as_secs()).unwrap_or(i64::MAX).max(1);
        let slot = now.as_second() / every * every;
        let hour = now.as_second() / 3600;
        let vietnam =
            jiff::tz::TimeZone::get("Asia/Ho_Chi_Minh").unwrap_or(jiff::tz::TimeZone::UTC);
        let day = now.to_zoned_datetime(vietnam).date();
        let jobs = [
            job(JobKind::PointsRefresh, "*", format!("{every}s:{slot}"), now),
            job(JobKind::Housekeeping, "*", hour.to_string(), now),
            job(JobKind::RfmScore, "*", day.to_string(), now),
        ];
        self.db
            .write(move |sql| {
                for job in &jobs {
                    enqueue_in(sql, job, now)?;
                }
                Ok::<_, AppError>(())
            })
            .await?;
        self.wake_queue();
        Ok(())
    }

    /// Enqueues `count` probe jobs, each taking `hold` before it finishes (a job in flight for
    /// a kill to interrupt); returns how many were added.
    pub async fn enqueue_probes(&self, count: usize, hold: Duration) -> AppResult<usize> {
        let hold_ms = u64::try_from(hold.as_millis()).unwrap_or(u64::MAX);
        let now = self.now();
        let batch = new_id("probe");
        let mut added = 0;
        for start in (0..count).step_by(500) {
            let jobs: Vec<NewJob> = (start..count.min(start + 500))
                .map(|n| NewJob {
                    payload: serde_json::json!({ "hold_ms": hold_ms }),
                    ..job(JobKind::Probe, "*", format!("{batch}:{n}"), now)
                })
                .collect();
            added += self
                .db
                .write(move |sql| {
                    let mut added = 0;
                    for job in &jobs {
                        added += usize::from(enqueue_in(sql, job, now)?);
                    }
                    Ok::<_, AppError>(added)
                })
                .await?;
        }
        self.wake_queue();
        Ok(added)
    }

    /// How many jobs are in each state.
    pub async fn queue_counts(&self) -> AppResult<Vec<(String, i64)>> {
        Ok(self.db.read(queue::counts).await?)
    }

    /// Probe runs: (job id, times it ran, the instance that ran it).
    pub async fn probe_runs(&self) -> AppResult<Vec<(String, i64, String)>> {
        Ok(self.db.read(queue::probe_runs).await?)
    }

    /// Who this instance is in the queue's leases.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Starts this instance's runner.
    pub fn start_queue(&self) -> QueueRunner {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(self.clone().run_queue(stopped));
        QueueRunner { stop, task }
    }

    /// Claims and runs due jobs, up to [`SLOTS`] at a time, until told to stop.
    async fn run_queue(self, mut stop: watch::Receiver<bool>) {
        let held: Held = Arc::default();
        let mut running = JoinSet::new();
        // Webhook senders, one per endpoint with work, beside the jobs' slots.
        let mut senders = JoinSet::new();
        let mut dispatched = std::time::Instant::now() - SENDERS_EVERY;
        loop {
            while running.try_join_next().is_some() {}
            while senders.try_join_next().is_some() {}
            if dispatched.elapsed() >= SENDERS_EVERY {
                dispatched = std::time::Instant::now();
                match self.webhook_endpoints_with_work().await {
                    Ok(endpoints) => self.start_senders(endpoints, &mut senders),
                    Err(error) => {
                        tracing::warn!(%error, "looking for webhook work failed; trying again")
                    }
                }
                match self.message_channels_with_work().await {
                    Ok(channels) => self.start_message_senders(channels, &mut senders),
                    Err(error) => {
                        tracing::warn!(%error, "looking for messages to send failed; trying again")
                    }
                }
                self.start_campaigns_pass(&mut senders);
                self.start_automations_pass(&mut senders);
            }
            let free = SLOTS.saturating_sub(running.len());
            if free > 0 {
                match self.claim(free).await {
                    Ok(jobs) => {
                        for job in jobs {
                            if let Ok(mut held) = held.lock() {
                                held.insert(job.id.clone(), lease_of(&job));
                            }
                            running.spawn(self.clone().execute(job, held.clone()));
                        }
                    }
                    Err(error) => tracing::warn!(%error, "claiming jobs failed; trying again"),
                }
            }
            tokio::select! {
                _ = stop.changed() => break,
                () = self.queue_wake.notified() => {}
                Some(_) = running.join_next(), if !running.is_empty() => {}
                () = tokio::time::sleep(POLL_EVERY) => {}
            }
        }
        running.abort_all();
        senders.abort_all();
        while running.join_next().await.is_some() {}
        while senders.join_next().await.is_some() {}
        let unfinished: Vec<(String, String)> = held
            .lock()
            .map(|h| {
                h.iter()
                    .map(|(id, lease)| (id.clone(), lease.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let released = self
            .db
            .write(move |sql| {
                for (id, lease) in &unfinished {
                    queue::release(sql, id, lease)?;
                }
                Ok::<_, AppError>(unfinished.len())
            })
            .await;
        match released {
            Ok(0) => {}
            Ok(jobs) => tracing::info!(jobs, "handed unfinished jobs back to the queue"),
            Err(error) => {
                tracing::warn!(%error, "handing jobs back failed; their leases will run out")
            }
        }
    }

    /// Starts a sender for each endpoint that has none running in this instance.
    fn start_senders(&self, endpoints: Vec<(String, String)>, senders: &mut JoinSet<()>) {
        for endpoint in endpoints {
            let Some(running) = self.outbound.start_sender(&endpoint) else {
                continue;
            };
            let app = self.clone();
            senders.spawn(async move {
                let _running = running;
                let (tenant_id, webhook_id) = &endpoint;
                if let Err(error) = app.send_due(tenant_id, webhook_id).await {
                    tracing::warn!(%error, webhook = %webhook_id, "sending webhook deliveries failed; trying again");
                }
            });
        }
    }

    /// Starts a sender for each channel with messages due that has none running here.
    fn start_message_senders(&self, channels: Vec<(String, String)>, senders: &mut JoinSet<()>) {
        for channel in channels {
            let Some(running) = self.outbound.start_sender(&channel) else {
                continue;
            };
            let app = self.clone();
            senders.spawn(async move {
                let _running = running;
                let (tenant_id, channel_id) = &channel;
                if let Err(error) = app.send_channel(tenant_id, channel_id).await {
                    tracing::warn!(%error, channel = %channel_id, "sending messages failed; trying again");
                }
            });
        }
    }

    /// Moves campaigns on (scheduled ones start, audiences are written, finished ones end),
    /// one pass at a time in this instance.
    fn start_campaigns_pass(&self, senders: &mut JoinSet<()>) {
        let key = ("*".to_string(), "campaigns".to_string());
        let Some(running) = self.outbound.start_sender(&key) else {
            return;
        };
        let app = self.clone();
        senders.spawn(async move {
            let _running = running;
            if let Err(error) = app.advance_campaigns().await {
                tracing::warn!(%error, "moving campaigns on failed; trying again");
            }
        });
    }

    /// Starts the runs automations' triggers found, then does the due runs' next steps, one
    /// pass at a time in this instance.
    fn start_automations_pass(&self, senders: &mut JoinSet<()>) {
        let key = ("*".to_string(), "automations".to_string());
        let Some(running) = self.outbound.start_sender(&key) else {
            return;
        };
        let app = self.clone();
        senders.spawn(async move {
            let _running = running;
            if let Err(error) = app.start_automation_runs().await {
                tracing::warn!(%error, "starting automation runs failed; trying again");
            }
            if let Err(error) = app.run_automation_steps().await {
                tracing::warn!(%error, "automation steps failed; trying again");
            }
        });
    }

    /// Claims up to `limit` due jobs under a lease of its own: `instance/claim`, so that a run
    /// whose lease ran out cannot finish a job this same instance has claimed again since.
    async fn claim(&self, limit: usize) -> AppResult<Vec<Job>> {
        let now = self.now();
        let lease = format!("{}/{}", self.instance, new_id("clm"));
        let until = now + LEASE;
        let limit = i64::try_from(limit).unwrap_or(1);
        Ok(self
            .db
            .write(move |sql| queue::claim(sql, &lease, now, until, limit))
            .await?)
    }

    /// Runs one claimed job, renewing its lease meanwhile (in the same task, so the renewal
    /// ends with the job however it ends), and records how it ended.
    #[tracing::instrument(skip_all, fields(job = %job.id, kind = %job.kind, tenant = %job.tenant_id, attempt = job.attempts))]
    async fn execute(self, job: Job, held: Held) {
        let lease = lease_of(&job);
        let outcome = if job.attempts > job.max_attempts {
            // Claimed again after its holder died on the last attempt: it is not tried again.
            Err(AppError::Internal(anyhow::anyhow!(
                "the instance running it stopped on its last attempt"
            )))
        } else {
            tokio::select! {
                outcome = self.perform(&job, &lease) => outcome,
                () = self.renew_while_running(&job.id, &lease) => Err(lease_lost(&job.id)),
            }
        };
        if let Ok(mut held) = held.lock() {
            held.remove(&job.id);
        }
        let Err(error) = outcome else { return };
        let now = self.now();
        let retry = (job.attempts <= job.max_attempts)
            .then(|| retry_at(job.attempts, job.max_attempts, now, rand::random::<f64>()))
            .flatten();
        let message = error.to_string();
        let recorded = self
            .db
            .write(move |sql| queue::fail(sql, &job.id, &lease, &message, retry, now))
            .await;
        match (recorded, retry) {
            (Ok(false), _) => {
                tracing::warn!(%error, "job's lease ran out and another run took it over")
            }
            (Ok(true), Some(at)) => {
                tracing::warn!(%error, retry_at = %at, "job failed; will retry")
            }
            (Ok(true), None) => tracing::error!(%error, "job failed for the last time"),
            (Err(record_error), _) => {
                tracing::warn!(%error, %record_error, "recording a failed job failed; its lease will run out")
            }
        }
    }

    /// Extends the job's lease every [`RENEW_EVERY`]; returns when the lease was lost (it ran
    /// out and the job was claimed again).
    async fn renew_while_running(&self, id: &str, lease: &str) {
        loop {
            tokio::time::sleep(RENEW_EVERY).await;
            let (id, lease, until) = (id.to_string(), lease.to_string(), self.now() + LEASE);
            match self
                .db
                .write(move |sql| queue::renew(sql, &id, &lease, until))
                .await
            {
                Ok(true) => {}
                Ok(false) => return,
                Err(error) => tracing::warn!(%error, "renewing a job's lease failed"),
            }
        }
    }

    /// Does the job's work and marks it done.
    async fn perform(&self, job: &Job, lease: &str) -> AppResult<()> {
        let kind = JobKind::parse(&job.kind).ok_or_else(|| {
            AppError::Internal(anyhow::anyhow!("no runner knows jobs of kind {}", job.kind))
        })?;
        match kind {
            // The probe's trace and its completion commit together: it ran once or not at all.
            JobKind::Probe => {
                let hold = job.payload["hold_ms"].as_u64().unwrap_or(0);
                tokio::time::sleep(Duration::from_millis(hold)).await;
                let (id, lease, now) = (job.id.clone(), lease.to_string(), self.now());
                let instance = self.instance.clone();
                return self
                    .db
                    .write(move |sql| {
                        if !queue::finish(sql, &id, &lease, now)? {
                            return Err(lease_lost(&id));
                        }
                        queue::record_probe(sql, &id, &instance, now)?;
                        Ok(())
                    })
                    .await;
            }
            // Left by versions that queued each attempt as a job: the senders now find the
            // deliveries by their rows.
            JobKind::WebhookDeliver => {}
            JobKind::PointsRefresh => {
                if let Some(members) = self.run_points_job().await?
                    && members > 0
                {
                    tracing::info!(members, "points refresh brought members up to date");
                }
            }
            JobKind::RfmScore => {
                let members = self.score_rfm().await?;
                tracing::info!(members, "RFM scores updated");
            }
            JobKind::Housekeeping => self.housekeeping().await?,
            JobKind::TiersReevaluate => {
                self.reevaluate_tenant(&job.tenant_id).await?;
            }
        }
        // The work above is idempotent: done again by a new holder, it changes nothing more.
        let (id, lease, now) = (job.id.clone(), lease.to_string(), self.now());
        self.db
            .write(move |sql| {
                if queue::finish(sql, &id, &lease, now)? {
                    Ok(())
                } else {
                    Err(lease_lost(&id))
                }
            })
            .await
    }

    /// Forgets what is past keeping: idempotency keys, events, settled webhook deliveries and
    /// the connections' inbound log past their retention, finished jobs and their probes' runs,
    /// and sign-in failures of more than a day ago; and, on a PostgreSQL without autovacuum,
    /// refreshes the planner's statistics.
    async fn housekeeping(&self) -> AppResult<()> {
        let keys = self.purge_idempotency_keys().await?;
        let now = self.now();
        let events_before = now - SignedDuration::from_hours(24 * crate::events::RETENTION_DAYS);
        let jobs_before = now - SignedDuration::from_hours(24 * FINISHED_KEPT_DAYS);
        let sign_ins_before = now - SignedDuration::from_hours(24);
        let (events, deliveries, inbound, jobs, sign_ins) = self
            .db
            .write(move |sql| {
                Ok::<_, AppError>((
                    events::purge(sql, events_before)?,
                    loyalty_store::repo::webhooks::purge_deliveries(sql, events_before)?,
                    loyalty_store::repo::connections::purge_inbound(sql, events_before)?,
                    queue::purge(sql, jobs_before)?,
                    loyalty_store::repo::sign_ins::purge(sql, sign_ins_before)?,
                ))
            })
            .await?;
        // Without autovacuum nothing renews the planner's statistics (nor the plans made from
        // them) as tables grow; this pass does, hourly.
        let analysed = self
            .db
            .read(loyalty_store::repo::statistics::refresh_unless_kept_fresh)
            .await?;
        tracing::debug!(
            analysed,
            keys,
            events,
            deliveries,
            inbound,
            jobs,
            sign_ins,
            "housekeeping forgot what is past keeping"
        );
        Ok(())
    }
}

fn lease_lost(id: &str) -> AppError {
    AppError::Internal(anyhow::anyhow!(
        "job {id} was taken over by another instance after its lease ran out"
    ))
}
