//! Outbound webhooks: endpoints an admin registers, the dispatcher that turns the events feed
//! into deliveries, and the delivery job that POSTs each one, signed, in order per member,
//! retrying on the schedule of `core::webhook`.
//!
//! The change that raised an event pays nothing for it here: the dispatcher reads the feed
//! after the fact (each endpoint keeps its place in it), so the order path's transaction is as
//! it was. Deliveries go out through the job queue, one job per attempt, keyed by delivery and
//! attempt; a delivery waits while an earlier one of the same member (its lane) is pending.

use std::net::SocketAddr;
use std::sync::Arc;

use jiff::Timestamp;
use loyalty_core::event::{EventType, TypeFilter};
use loyalty_core::id::new_id;
use loyalty_core::tenancy::{Access, Actor, ActorKind, Scope};
use loyalty_core::webhook::{
    self as rules, Delivery, DeliveryStatus, Webhook, WebhookFields, WebhookIn, WebhookPatchIn,
};
use loyalty_store::repo::events;
use loyalty_store::repo::queue as jobs;
use loyalty_store::repo::webhooks as store;
use loyalty_store::{Page, Paged, Sql};
use serde::Serialize;

use crate::activity::{Change, record};
use crate::queue::{JobKind, enqueue_in, job};
use crate::{App, AppError, AppResult, Ctx};

/// Events the dispatcher reads for one endpoint in one transaction.
const DISPATCH_BATCH: i64 = 500;
/// How long one dispatch pass may keep reading the feed: under a flood of events it hands the
/// runner back to the deliveries (and comes again at the next pass) instead of chasing the
/// feed's end, while a backlog is still turned into deliveries in a few large steps.
const DISPATCH_PASS_BUDGET: std::time::Duration = std::time::Duration::from_millis(250);
/// How often a dispatch pass also queues the head of every pending lane again, repairing a
/// wake-up lost to a crash between a delivery's settling and its successor's job.
const REQUEUE_HEADS_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// An endpoint as the API shows it (never its secret, except once at creation).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookView {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub active: bool,
    /// Why the server switched the endpoint off, when it did.
    pub disabled_reason: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub failing_since: Option<Timestamp>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: Timestamp,
}

impl From<&Webhook> for WebhookView {
    fn from(w: &Webhook) -> Self {
        WebhookView {
            id: w.id.clone(),
            url: w.url.clone(),
            events: w.events.clone(),
            description: w.description.clone(),
            active: w.active,
            disabled_reason: w.disabled_reason.clone(),
            failing_since: w.failing_since,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

/// A delivery as the API shows it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryView {
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub next_attempt_at: Option<Timestamp>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub delivered_at: Option<Timestamp>,
}

impl From<&Delivery> for DeliveryView {
    fn from(d: &Delivery) -> Self {
        DeliveryView {
            id: d.id.clone(),
            event_id: d.event_id.clone(),
            event_type: d.event_type.clone(),
            status: d.status,
            attempts: d.attempts,
            last_status_code: d.last_status_code,
            last_error: d.last_error.clone(),
            next_attempt_at: d.next_attempt_at,
            created_at: d.created_at,
            delivered_at: d.delivered_at,
        }
    }
}

/// The HTTP side: one client (connection pool, 10 s timeout, no redirects) whose name
/// resolution refuses private addresses unless the server allows them.
pub struct Outbound {
    client: reqwest::Client,
    allow_private: bool,
    /// When this instance last queued every pending lane's head again.
    heads_requeued: std::sync::Mutex<Option<std::time::Instant>>,
    /// Deliveries a job of this instance is sending now: two jobs of one delivery (its retry
    /// and its lane's wake-up, say) must not both send it.
    sending: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
}

/// A delivery held by the job sending it; let go when dropped.
struct Sending {
    id: String,
    set: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
}

impl Drop for Sending {
    fn drop(&mut self) {
        if let Ok(mut set) = self.set.lock() {
            set.remove(&self.id);
        }
    }
}

impl Outbound {
    /// Holds the delivery for this job, unless another job of this instance holds it.
    fn hold(&self, delivery_id: &str) -> Option<Sending> {
        let mut set = self.sending.lock().unwrap_or_else(|e| e.into_inner());
        set.insert(delivery_id.to_string()).then(|| Sending {
            id: delivery_id.to_string(),
            set: self.sending.clone(),
        })
    }
}

impl Outbound {
    pub fn new(allow_private: bool) -> Outbound {
        let client = reqwest::Client::builder()
            .timeout(rules::TIMEOUT)
            .connect_timeout(rules::TIMEOUT)
            // A redirect could lead anywhere: it counts as a failed attempt (not 2xx).
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("loyalty-webhooks/1")
            .dns_resolver(Arc::new(PublicOnly { allow_private }))
            .build()
            .expect("the webhook HTTP client builds");
        Outbound {
            client,
            allow_private,
            heads_requeued: std::sync::Mutex::new(None),
            sending: Arc::default(),
        }
    }
}

/// Resolves names and drops private addresses (unless allowed): every connection, redirects
/// and DNS answers that change after the endpoint was checked included.
struct PublicOnly {
    allow_private: bool,
}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allow_private || rules::is_public(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            Ok(Box::new(found.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// How one attempt went.
struct Attempt {
    status: Option<u16>,
    error: Option<String>,
}

impl App {
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn create_webhook(
        &self,
        ctx: &Ctx,
        input: WebhookIn,
    ) -> AppResult<(WebhookView, String)> {
        ctx.require(Access::Admin)?;
        let fields = input.validate(self.outbound.allow_private)?;
        let now = self.now();
        let secret = format!("whsec_{}", loyalty_core::code::random_code(32));
        let (app, ctx2, plain) = (self.clone(), ctx.clone(), secret.clone());
        let created = self
            .db
            .write(move |sql| {
                let webhook = Webhook {
                    id: new_id("whk"),
                    url: fields.url.clone(),
                    events: fields.events.clone(),
                    description: fields.description.clone(),
                    secret_sealed: app.seal_in(sql, &plain)?,
                    active: true,
                    disabled_reason: None,
                    cursor: events::newest_position(sql, &ctx2.tenant_id)?,
                    failing_since: None,
                    created_at: now,
                    updated_at: now,
                };
                store::insert(sql, &ctx2.tenant_id, &webhook)?;
                let view = WebhookView::from(&webhook);
                let change = Change {
                    entity: "webhook",
                    id: &webhook.id,
                    action: "create",
                };
                record(
                    sql,
                    &ctx2,
                    now,
                    change,
                    None,
                    serde_json::to_value(&view).ok(),
                )?;
                Ok::<_, AppError>(view)
            })
            .await?;
        Ok((created, secret))
    }

    pub async fn webhook(&self, ctx: &Ctx, id: String) -> AppResult<WebhookView> {
        ctx.require(Access::Admin)?;
        let tenant_id = ctx.tenant_id.to_string();
        let found = self
            .db
            .read(move |sql| store::get(sql, &tenant_id, &id))
            .await?;
        found
            .as_ref()
            .map(WebhookView::from)
            .ok_or(AppError::NotFound { entity: "webhook" })
    }

    pub async fn webhooks(&self, ctx: &Ctx, page: Page) -> AppResult<Paged<WebhookView>> {
        ctx.require(Access::Admin)?;
        let tenant_id = ctx.tenant_id.to_string();
        let found = self
            .db
            .read(move |sql| store::list(sql, &tenant_id, &page))
            .await?;
        Ok(found.map(|w| WebhookView::from(&w)))
    }

    /// Changes an endpoint; switching it on again resumes its pending deliveries.
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, id = %id))]
    pub async fn update_webhook(
        &self,
        ctx: &Ctx,
        id: String,
        patch: WebhookPatchIn,
    ) -> AppResult<WebhookView> {
        ctx.require(Access::Admin)?;
        let (allow_private, now, ctx2) = (self.outbound.allow_private, self.now(), ctx.clone());
        let view = self
            .db
            .write(move |sql| {
                let tenant_id = ctx2.tenant_id.to_string();
                let mut webhook = store::get_for_update(sql, &tenant_id, &id)?
                    .ok_or(AppError::NotFound { entity: "webhook" })?;
                let before = serde_json::to_value(WebhookView::from(&webhook)).ok();
                let WebhookFields {
                    url,
                    events,
                    description,
                } = patch.apply(&webhook.fields(), allow_private)?;
                (webhook.url, webhook.events, webhook.description) = (url, events, description);
                if let Some(active) = patch.active {
                    if active && !webhook.active {
                        webhook.disabled_reason = None;
                        webhook.failing_since = None;
                        // A key of its own: a job keyed as before may have run while it was off.
                        let resume = format!("resume-{}", new_id("rsm"));
                        for head in store::lane_heads(sql, &tenant_id, &webhook.id)? {
                            enqueue_in(sql, &deliver_job(&tenant_id, &head, &resume, now), now)?;
                        }
                    }
                    webhook.active = active;
                }
                webhook.updated_at = now;
                store::update(sql, &tenant_id, &webhook)?;
                let view = WebhookView::from(&webhook);
                let change = Change {
                    entity: "webhook",
                    id: &webhook.id,
                    action: "update",
                };
                record(
                    sql,
                    &ctx2,
                    now,
                    change,
                    before,
                    serde_json::to_value(&view).ok(),
                )?;
                Ok::<_, AppError>(view)
            })
            .await?;
        self.wake_queue();
        Ok(view)
    }

    pub async fn delete_webhook(&self, ctx: &Ctx, id: String) -> AppResult<()> {
        ctx.require(Access::Admin)?;
        let (now, ctx2) = (self.now(), ctx.clone());
        self.db
            .write(move |sql| {
                if !store::delete(sql, &ctx2.tenant_id, &id)? {
                    return Err(AppError::NotFound { entity: "webhook" });
                }
                let change = Change {
                    entity: "webhook",
                    id: &id,
                    action: "delete",
                };
                record(sql, &ctx2, now, change, None, None)?;
                Ok(())
            })
            .await
    }

    pub async fn webhook_deliveries(
        &self,
        ctx: &Ctx,
        id: String,
        page: Page,
    ) -> AppResult<Paged<DeliveryView>> {
        ctx.require(Access::Admin)?;
        let tenant_id = ctx.tenant_id.to_string();
        let found = self
            .db
            .read(move |sql| {
                store::get(sql, &tenant_id, &id)?
                    .ok_or(AppError::NotFound { entity: "webhook" })?;
                Ok::<_, AppError>(store::deliveries(sql, &tenant_id, &id, &page)?)
            })
            .await?;
        Ok(found.map(|d| DeliveryView::from(&d)))
    }

    /// Sends a delivery again, from its first attempt (after the ones before it in its lane).
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, id = %delivery_id))]
    pub async fn replay_delivery(
        &self,
        ctx: &Ctx,
        webhook_id: String,
        delivery_id: String,
    ) -> AppResult<DeliveryView> {
        ctx.require(Access::Admin)?;
        let now = self.now();
        let tenant_id = ctx.tenant_id.to_string();
        let view = self
            .db
            .write(move |sql| {
                let mut d = store::delivery(sql, &tenant_id, &delivery_id)?
                    .filter(|d| d.webhook_id == webhook_id)
                    .ok_or(AppError::NotFound { entity: "delivery" })?;
                d.status = DeliveryStatus::Pending;
                d.attempts = 0;
                d.next_attempt_at = Some(now);
                store::update_delivery(sql, &tenant_id, &d)?;
                let key = format!("replay-{}", new_id("rpl"));
                enqueue_in(sql, &deliver_job(&tenant_id, &d.id, &key, now), now)?;
                Ok::<_, AppError>(DeliveryView::from(&d))
            })
            .await?;
        self.wake_queue();
        Ok(view)
    }

    /// Queues a `ping` to the endpoint, sent at once by the queue (also to an endpoint that is
    /// switched off, to check it before switching it on again). It is logged as a delivery and
    /// tried once: the admin is watching, and a failed test is not worth a day of retries.
    /// The request does not wait for the endpoint (which may take its full 10 s).
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, id = %id))]
    pub async fn ping_webhook(&self, ctx: &Ctx, id: String) -> AppResult<DeliveryView> {
        ctx.require(Access::Admin)?;
        let now = self.now();
        let tenant_id = ctx.tenant_id.to_string();
        let view = self
            .db
            .write(move |sql| {
                let webhook = store::get(sql, &tenant_id, &id)?
                    .ok_or(AppError::NotFound { entity: "webhook" })?;
                let event_id = new_id("evt");
                let body = serde_json::json!({
                    "id": event_id, "type": EventType::Ping.as_str(), "created_at": now,
                    "data": {"webhook_id": webhook.id},
                })
                .to_string();
                let mut delivery = Delivery::pending(
                    &webhook.id,
                    (&event_id, EventType::Ping.as_str()),
                    String::new(),
                    Default::default(),
                    body,
                    now,
                );
                // A lane of its own: a ping neither waits behind events nor holds them up.
                delivery.lane = format!("ping:{}", delivery.id);
                store::insert_delivery(sql, &tenant_id, &delivery)?;
                enqueue_in(
                    sql,
                    &deliver_job(&tenant_id, &delivery.id, "ping", now),
                    now,
                )?;
                Ok::<_, AppError>(DeliveryView::from(&delivery))
            })
            .await?;
        self.wake_queue();
        Ok(view)
    }

    /// Turns the events after each active endpoint's place in the feed into deliveries and
    /// queues the head of each lane; returns how many deliveries it added.
    pub async fn dispatch_webhooks(&self) -> AppResult<u64> {
        let endpoints = self.db.read(store::active).await?;
        let requeue = {
            let mut last = self
                .outbound
                .heads_requeued
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let due = last.is_none_or(|at| at.elapsed() >= REQUEUE_HEADS_EVERY);
            if due {
                *last = Some(std::time::Instant::now());
            }
            due
        };
        let mut added = 0;
        let pass = std::time::Instant::now();
        for (tenant_id, id) in endpoints {
            // Every endpoint gets at least one batch a pass, so one flooded endpoint cannot
            // starve the others.
            loop {
                let now = self.now();
                let (tenant, hook) = (tenant_id.clone(), id.clone());
                let (batch, more) = self
                    .db
                    .write(move |sql| dispatch_batch(sql, &tenant, &hook, now))
                    .await?;
                added += batch;
                if !more || pass.elapsed() >= DISPATCH_PASS_BUDGET {
                    break;
                }
            }
            if requeue {
                let now = self.now();
                let (tenant, hook) = (tenant_id.clone(), id.clone());
                self.db
                    .write(move |sql| {
                        for head in store::lane_heads(sql, &tenant, &hook)? {
                            enqueue_in(sql, &deliver_job(&tenant, &head, "1", now), now)?;
                        }
                        Ok::<_, AppError>(())
                    })
                    .await?;
            }
        }
        if added > 0 {
            self.wake_queue();
        }
        Ok(added)
    }

    /// One attempt of one delivery (a `webhook.deliver` job): send it unless it waits behind
    /// an earlier one of its lane, then record how it went and what comes next, and finish the
    /// job, in one transaction.
    pub(crate) async fn deliver(
        &self,
        tenant_id: &str,
        delivery_id: &str,
        job_id: &str,
        lease: &str,
    ) -> AppResult<()> {
        // Held before it is read and until its outcome is written, so that a second job of the
        // delivery on this instance waits and then reads it as the first left it. (Across
        // instances a delivery may still go twice: receivers dedupe by `Loyalty-Event-Id`.)
        let _held = self.wait_to_hold(delivery_id).await?;
        let (tenant, id) = (tenant_id.to_string(), delivery_id.to_string());
        let loaded = self
            .db
            .read(move |sql| {
                let Some(d) = store::delivery(sql, &tenant, &id)? else {
                    return Ok::<_, AppError>(None);
                };
                let webhook = store::get(sql, &tenant, &d.webhook_id)?;
                let blocked = store::waits_behind(sql, &tenant, &d)?;
                Ok(webhook.map(|w| (d, w, blocked)))
            })
            .await?;
        let attempt = match &loaded {
            Some((d, w, false))
                if d.status == DeliveryStatus::Pending && (w.active || is_ping(d)) =>
            {
                Some(self.send(w, d).await?)
            }
            // Settled, deleted, switched off, or behind another: the lane's head brings it.
            _ => None,
        };
        let now = self.now();
        let jitter = rand::random::<f64>();
        let (tenant, job_id, lease) =
            (tenant_id.to_string(), job_id.to_string(), lease.to_string());
        self.db
            .write(move |sql| {
                if !jobs::finish(sql, &job_id, &lease, now)? {
                    return Err(AppError::Internal(anyhow::anyhow!(
                        "job {job_id} was taken over"
                    )));
                }
                let (Some((d, w, _)), Some(attempt)) = (&loaded, &attempt) else {
                    return Ok(());
                };
                let healthy = w.failing_since.is_none();
                record_attempt(sql, &tenant, &mut d.clone(), attempt, healthy, now, jitter)
            })
            .await?;
        self.wake_queue();
        Ok(())
    }

    /// Holds the delivery for this job, waiting while another job of this instance sends it
    /// (at most the receiver's timeout and a margin; then the job is tried again later).
    async fn wait_to_hold(&self, delivery_id: &str) -> AppResult<Sending> {
        let give_up =
            std::time::Instant::now() + rules::TIMEOUT + std::time::Duration::from_secs(5);
        loop {
            if let Some(held) = self.outbound.hold(delivery_id) {
                return Ok(held);
            }
            if std::time::Instant::now() > give_up {
                return Err(AppError::Internal(anyhow::anyhow!(
                    "delivery {delivery_id} is still being sent by another job"
                )));
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// POSTs the delivery's body, signed with the endpoint's secret.
    async fn send(&self, webhook: &Webhook, d: &Delivery) -> AppResult<Attempt> {
        let secret = self.open_secret(&webhook.secret_sealed)?;
        if !self.outbound.allow_private && !target_is_allowed(&webhook.url) {
            return Ok(Attempt {
                status: None,
                error: Some("the URL points to a private address".into()),
            });
        }
        let t = self.now().as_second();
        let sent = self
            .outbound
            .client
            .post(&webhook.url)
            .header("Content-Type", "application/json")
            .header("Loyalty-Event-Id", &d.event_id)
            .header("Loyalty-Event-Type", &d.event_type)
            .header(
                "Loyalty-Signature",
                rules::signature(&secret, t, d.body.as_bytes()),
            )
            .body(d.body.clone())
            .send()
            .await;
        Ok(match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                let error =
                    (!rules::delivered(status)).then(|| format!("the endpoint answered {status}"));
                Attempt {
                    status: Some(status),
                    error,
                }
            }
            Err(error) => Attempt {
                status: None,
                error: Some(describe(&error)),
            },
        })
    }
}

/// An IP-literal URL is checked here: name resolution (where the rest are checked) never
/// sees it.
fn target_is_allowed(url: &str) -> bool {
    match url::Url::parse(url)
        .ok()
        .and_then(|u| u.host().map(|h| h.to_owned()))
    {
        Some(url::Host::Ipv4(ip)) => rules::is_public(ip.into()),
        Some(url::Host::Ipv6(ip)) => rules::is_public(ip.into()),
        Some(url::Host::Domain(_)) => true,
        None => false,
    }
}

/// A transport error in a line an admin can act on (the chain, without the URL's secrets).
fn describe(error: &reqwest::Error) -> String {
    let what = if error.is_timeout() {
        "no answer within 10 s"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "the request failed"
    };
    let mut cause = String::new();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        cause = inner.to_string();
        source = inner.source();
    }
    if cause.is_empty() {
        what.to_string()
    } else {
        format!("{what}: {cause}")
    }
}

/// The job for one attempt of a delivery (`attempt` makes each attempt's key its own).
fn deliver_job(
    tenant_id: &str,
    delivery_id: &str,
    attempt: &str,
    due: Timestamp,
) -> loyalty_store::repo::queue::NewJob {
    loyalty_store::repo::queue::NewJob {
        payload: serde_json::json!({ "delivery_id": delivery_id }),
        max_attempts: 3,
        ..job(
            JobKind::WebhookDeliver,
            tenant_id,
            format!("{delivery_id}:{attempt}"),
            due,
        )
    }
}

/// Reads one batch of the feed after the endpoint's place, adds its deliveries, moves the
/// place on, queues the lane heads. Returns (added, whether more may follow).
fn dispatch_batch(
    sql: &mut dyn Sql,
    tenant_id: &str,
    id: &str,
    now: Timestamp,
) -> AppResult<(u64, bool)> {
    let Some(mut webhook) = store::get_for_update(sql, tenant_id, id)?.filter(|w| w.active) else {
        return Ok((0, false));
    };
    let filter = TypeFilter::parse("events", &webhook.events.join(","))?;
    let feed = events::feed(
        sql,
        tenant_id,
        &filter.types(),
        webhook.cursor,
        DISPATCH_BATCH,
    )?;
    let Some(last) = feed.last() else {
        return Ok((0, false));
    };
    let more = feed.len() as i64 == DISPATCH_BATCH;
    webhook.cursor = last.position;
    // A lane that has a pending delivery already has its head queued (its successor is
    // queued when it settles); only the lanes that had none get a job now.
    let lanes: Vec<&str> = {
        let mut seen = std::collections::HashSet::new();
        feed.iter()
            .map(|e| e.member_id.as_deref().unwrap_or_default())
            .filter(|lane| seen.insert(*lane))
            .collect()
    };
    let mut busy = store::busy_lanes(sql, tenant_id, &webhook.id, &lanes)?;
    let mut heads = Vec::new();
    let mut added = 0;
    for event in &feed {
        let body = serde_json::json!({
            "id": event.id, "type": event.kind.as_str(), "created_at": event.created_at, "data": event.data,
        })
        .to_string();
        let delivery = Delivery::pending(
            &webhook.id,
            (&event.id, event.kind.as_str()),
            event.member_id.clone().unwrap_or_default(),
            event.position,
            body,
            now,
        );
        if store::insert_delivery(sql, tenant_id, &delivery)? {
            added += 1;
            if busy.insert(delivery.lane.clone()) {
                heads.push(delivery.id);
            }
        }
    }
    store::update(sql, tenant_id, &webhook)?;
    for head in heads {
        enqueue_in(sql, &deliver_job(tenant_id, &head, "1", now), now)?;
    }
    Ok((added, more))
}

fn is_ping(d: &Delivery) -> bool {
    d.event_type == EventType::Ping.as_str()
}

/// Records an attempt: delivered (the lane's next goes), or failed and retried on the
/// schedule, or failed for good (the lane's next goes); an endpoint failing for days is
/// switched off, with an activity entry.
fn record_attempt(
    sql: &mut dyn Sql,
    tenant_id: &str,
    d: &mut Delivery,
    attempt: &Attempt,
    was_healthy: bool,
    now: Timestamp,
    jitter: f64,
) -> AppResult<()> {
    d.attempts += 1;
    d.last_status_code = attempt.status.map(i64::from);
    d.last_error = attempt.error.clone();
    let delivered = attempt.status.is_some_and(rules::delivered);
    let retry = (!delivered && !is_ping(d))
        .then(|| rules::retry_at(d.attempts, now, jitter))
        .flatten();
    match (delivered, retry) {
        (true, _) => {
            d.status = DeliveryStatus::Delivered;
            d.delivered_at = Some(now);
            d.next_attempt_at = None;
        }
        (false, Some(at)) => {
            d.next_attempt_at = Some(at);
            let attempt_key = (d.attempts + 1).to_string();
            enqueue_in(sql, &deliver_job(tenant_id, &d.id, &attempt_key, at), now)?;
        }
        (false, None) => {
            d.status = DeliveryStatus::Failed;
            d.next_attempt_at = None;
        }
    }
    store::update_delivery(sql, tenant_id, d)?;
    if d.status != DeliveryStatus::Pending
        && let Some(next) = store::lane_head(sql, tenant_id, &d.webhook_id, &d.lane)?
    {
        // Keyed by what settled: the next one may have had a job that found it waiting.
        let after = format!("after-{}-{}", d.id, d.attempts);
        enqueue_in(sql, &deliver_job(tenant_id, &next, &after, now), now)?;
    }
    if is_ping(d) || (delivered && was_healthy) {
        // A test says nothing about the endpoint's health; a success of an endpoint that was
        // not failing changes nothing in it (and skips locking its row, which every delivery
        // of the endpoint would otherwise queue behind).
        return Ok(());
    }
    // Read again, locked: the endpoint may have changed while the request was out.
    let Some(mut webhook) = store::get_for_update(sql, tenant_id, &d.webhook_id)? else {
        return Ok(());
    };
    let before = webhook.clone();
    if delivered {
        webhook.failing_since = None;
    } else {
        webhook.failing_since = webhook.failing_since.or(Some(now));
        if webhook.active && rules::should_disable(webhook.failing_since, now) {
            webhook.active = false;
            webhook.disabled_reason = Some(format!(
                "switched off after failing since {}",
                webhook.failing_since.unwrap_or(now)
            ));
            let ctx = Ctx {
                tenant_id: tenant_id.into(),
                actor: Actor {
                    kind: ActorKind::System,
                    id: None,
                    name: Some("webhooks".into()),
                },
                scopes: vec![Scope::Admin],
            };
            let change = Change {
                entity: "webhook",
                id: &webhook.id,
                action: "disable",
            };
            let (was, is) = (WebhookView::from(&before), WebhookView::from(&webhook));
            record(
                sql,
                &ctx,
                now,
                change,
                serde_json::to_value(was).ok(),
                serde_json::to_value(is).ok(),
            )?;
        }
    }
    if webhook != before {
        webhook.updated_at = now;
        store::update_health(sql, tenant_id, &webhook)?;
    }
    Ok(())
}
