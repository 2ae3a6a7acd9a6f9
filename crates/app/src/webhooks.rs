//! Outbound webhooks: endpoints an admin registers, the dispatcher that turns the events feed
//! into deliveries, and the sender that POSTs them, signed, in order per member, retrying on
//! the schedule of `core::webhook`.
//!
//! The change that raised an event pays nothing for it here: the dispatcher reads the feed
//! after the fact (each endpoint keeps its place in it), so the order path's transaction is as
//! it was. Each endpoint has one sender at a time (a lease on its row, across instances): it
//! takes a batch of due lane heads (a lane is a member's events; its next delivery waits until
//! the one before is settled), sends them concurrently, and records every outcome, the lanes'
//! next heads and the endpoint's health in one transaction — a few statements per batch, not
//! several transactions per event, so that delivering at full till load costs the tills little.

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
use loyalty_store::repo::webhooks as store;
use loyalty_store::{Page, Paged, Sql};
use serde::Serialize;

use crate::activity::{Change, record};
use crate::{App, AppError, AppResult, Ctx};

/// Events the dispatcher reads for one endpoint in one transaction.
const DISPATCH_BATCH: i64 = 500;
/// How long one dispatch pass may keep reading the feed: under a flood of events it hands the
/// runner back to the deliveries (and comes again at the next pass) instead of chasing the
/// feed's end, while a backlog is still turned into deliveries in a few large steps.
const DISPATCH_PASS_BUDGET: std::time::Duration = std::time::Duration::from_millis(250);
/// How often a dispatch pass also makes every pending lane's head due again, repairing a lane
/// whose head lost its time (a delivery the dispatcher meant to head a lane found already
/// there, say).
const REPAIR_LANES_EVERY: std::time::Duration = std::time::Duration::from_secs(10);
/// Deliveries a sender takes at once: large enough that a batch's few statements cost little
/// per event, small enough that one slow receiver holds back little.
const SEND_BATCH: i64 = 256;
/// Requests one sender has in flight at once.
const SEND_CONCURRENCY: usize = 32;
/// How long a sender holds its endpoint before another instance may take over (longer than a
/// batch can take: the receivers' 10 s timeout and the recording after).
const SENDER_LEASE: jiff::SignedDuration = jiff::SignedDuration::from_secs(30);

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
    /// When this instance last made every pending lane's head due again.
    lanes_repaired: std::sync::Mutex<Option<std::time::Instant>>,
    /// Endpoints this instance runs a sender for now (tenant, endpoint).
    senders: Arc<std::sync::Mutex<std::collections::HashSet<(String, String)>>>,
}

/// An endpoint's sender running in this instance; let go when dropped (however it ends).
pub(crate) struct Sender {
    endpoint: (String, String),
    set: Arc<std::sync::Mutex<std::collections::HashSet<(String, String)>>>,
}

impl Drop for Sender {
    fn drop(&mut self) {
        if let Ok(mut set) = self.set.lock() {
            set.remove(&self.endpoint);
        }
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
            lanes_repaired: std::sync::Mutex::new(None),
            senders: Arc::default(),
        }
    }

    /// Marks the endpoint's sender as running here, unless one already is.
    pub(crate) fn start_sender(&self, endpoint: &(String, String)) -> Option<Sender> {
        let mut set = self.senders.lock().unwrap_or_else(|e| e.into_inner());
        set.insert(endpoint.clone()).then(|| Sender {
            endpoint: endpoint.clone(),
            set: self.senders.clone(),
        })
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

impl Attempt {
    fn refused(why: &str) -> Attempt {
        Attempt {
            status: None,
            error: Some(why.to_string()),
        }
    }

    fn delivered(&self) -> bool {
        self.status.is_some_and(rules::delivered)
    }
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
                    // Its lanes' heads kept their times: the sender takes them up again.
                    if active && !webhook.active {
                        webhook.disabled_reason = None;
                        webhook.failing_since = None;
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
                Ok::<_, AppError>(DeliveryView::from(&delivery))
            })
            .await?;
        self.wake_queue();
        Ok(view)
    }

    /// Turns the events after each active endpoint's place in the feed into deliveries (each
    /// new lane's first one due now); returns the endpoints a sender may have work for.
    pub async fn dispatch_webhooks(&self) -> AppResult<Vec<(String, String)>> {
        let endpoints = self.db.read(store::with_work).await?;
        let repair = {
            let mut last = self
                .outbound
                .lanes_repaired
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let due = last.is_none_or(|at| at.elapsed() >= REPAIR_LANES_EVERY);
            if due {
                *last = Some(std::time::Instant::now());
            }
            due
        };
        let pass = std::time::Instant::now();
        for (tenant_id, id) in &endpoints {
            // Every endpoint gets at least one batch a pass, so one flooded endpoint cannot
            // starve the others.
            loop {
                let now = self.now();
                let (tenant, hook) = (tenant_id.clone(), id.clone());
                let more = self
                    .db
                    .write(move |sql| dispatch_batch(sql, &tenant, &hook, now))
                    .await?;
                if !more || pass.elapsed() >= DISPATCH_PASS_BUDGET {
                    break;
                }
            }
            if repair {
                let now = self.now();
                let (tenant, hook) = (tenant_id.clone(), id.clone());
                self.db
                    .write(move |sql| {
                        let heads = store::lane_heads(sql, &tenant, &hook)?;
                        Ok::<_, AppError>(store::wake(sql, &tenant, &heads, now)?)
                    })
                    .await?;
            }
        }
        Ok(endpoints)
    }

    /// Sends the endpoint's due deliveries, batch after batch, while this instance holds the
    /// endpoint's sender lease; returns how many attempts it made.
    pub(crate) async fn send_due(&self, tenant_id: &str, webhook_id: &str) -> AppResult<u64> {
        let holder = format!("{}/{}", self.instance(), new_id("snd"));
        let mut attempts = 0;
        loop {
            let now = self.now();
            let (tenant, id, me) = (
                tenant_id.to_string(),
                webhook_id.to_string(),
                holder.clone(),
            );
            let batch = self
                .db
                .write(move |sql| {
                    if !store::claim_sender(sql, &tenant, &id, &me, now, now + SENDER_LEASE)? {
                        return Ok(None);
                    }
                    let webhook = store::get(sql, &tenant, &id)?;
                    let due = match &webhook {
                        Some(w) => store::due_heads(sql, &tenant, &id, w.active, now, SEND_BATCH)?,
                        None => Vec::new(),
                    };
                    if due.is_empty() {
                        store::release_sender(sql, &tenant, &id, &me)?;
                        return Ok(None);
                    }
                    Ok::<_, AppError>(webhook.map(|w| (w, due)))
                })
                .await?;
            let Some((webhook, due)) = batch else {
                return Ok(attempts);
            };
            let outcomes = self.send_all(&webhook, due).await?;
            attempts += outcomes.len() as u64;
            let now = self.now();
            let (tenant, id, me) = (
                tenant_id.to_string(),
                webhook_id.to_string(),
                holder.clone(),
            );
            self.db
                .write(move |sql| {
                    // Still ours? If another instance took the endpoint over (this one stalled
                    // past its lease), it sends these again and records them itself.
                    if !store::claim_sender(sql, &tenant, &id, &me, now, now + SENDER_LEASE)? {
                        return Err(AppError::Internal(anyhow::anyhow!(
                            "another instance took over sending to webhook {id}"
                        )));
                    }
                    record_attempts(sql, &tenant, &webhook, &outcomes, now)
                })
                .await?;
        }
    }

    /// POSTs the deliveries to the endpoint, up to [`SEND_CONCURRENCY`] at once, each signed
    /// with the endpoint's secret; returns how each went.
    async fn send_all(
        &self,
        webhook: &Webhook,
        due: Vec<Delivery>,
    ) -> AppResult<Vec<(Delivery, Attempt)>> {
        if !self.outbound.allow_private && !target_is_allowed(&webhook.url) {
            let why = "the URL points to a private address";
            return Ok(due
                .into_iter()
                .map(|d| (d, Attempt::refused(why)))
                .collect());
        }
        let secret: Arc<str> = self.open_secret(&webhook.secret_sealed)?.into();
        let url: Arc<str> = webhook.url.as_str().into();
        let slots = Arc::new(tokio::sync::Semaphore::new(SEND_CONCURRENCY));
        let mut sending = tokio::task::JoinSet::new();
        for d in due {
            let (client, url, secret) = (self.outbound.client.clone(), url.clone(), secret.clone());
            let (slots, t) = (slots.clone(), self.now().as_second());
            sending.spawn(async move {
                let _slot = slots.acquire_owned().await;
                let attempt = post(&client, &url, &secret, &d, t).await;
                (d, attempt)
            });
        }
        let mut outcomes = Vec::new();
        while let Some(done) = sending.join_next().await {
            outcomes.push(done.map_err(|e| AppError::Internal(e.into()))?);
        }
        Ok(outcomes)
    }
}

/// One signed POST of a delivery's body.
async fn post(client: &reqwest::Client, url: &str, secret: &str, d: &Delivery, t: i64) -> Attempt {
    let sent = client
        .post(url)
        .header("Content-Type", "application/json")
        .header("Loyalty-Event-Id", &d.event_id)
        .header("Loyalty-Event-Type", &d.event_type)
        .header(
            "Loyalty-Signature",
            rules::signature(secret, t, d.body.as_bytes()),
        )
        .body(d.body.clone())
        .send()
        .await;
    match sent {
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

/// Reads one batch of the feed after the endpoint's place, adds its deliveries (the first of
/// each lane that had none pending is due now; the rest wait behind it) and moves the place
/// on. Returns whether more may follow.
fn dispatch_batch(sql: &mut dyn Sql, tenant_id: &str, id: &str, now: Timestamp) -> AppResult<bool> {
    let Some(mut webhook) = store::get_for_update(sql, tenant_id, id)?.filter(|w| w.active) else {
        return Ok(false);
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
        return Ok(false);
    };
    let more = feed.len() as i64 == DISPATCH_BATCH;
    webhook.cursor = last.position;
    let lanes: Vec<&str> = {
        let mut seen = std::collections::HashSet::new();
        feed.iter()
            .map(|e| e.member_id.as_deref().unwrap_or_default())
            .filter(|lane| seen.insert(*lane))
            .collect()
    };
    let mut busy = store::busy_lanes(sql, tenant_id, &webhook.id, &lanes)?;
    let deliveries: Vec<Delivery> = feed
        .iter()
        .map(|event| {
            let body = serde_json::json!({
                "id": event.id, "type": event.kind.as_str(), "created_at": event.created_at, "data": event.data,
            })
            .to_string();
            let mut delivery = Delivery::pending(
                &webhook.id,
                (&event.id, event.kind.as_str()),
                event.member_id.clone().unwrap_or_default(),
                event.position,
                body,
                now,
            );
            if !busy.insert(delivery.lane.clone()) {
                delivery.next_attempt_at = None;
            }
            delivery
        })
        .collect();
    store::insert_deliveries(sql, tenant_id, &deliveries)?;
    store::update(sql, tenant_id, &webhook)?;
    Ok(more)
}

fn is_ping(d: &Delivery) -> bool {
    d.event_type == EventType::Ping.as_str()
}

/// Records a batch of attempts: each delivered (its lane's next becomes due), or failed and
/// due again on the schedule, or failed for good (its lane's next becomes due); then the
/// endpoint's health.
fn record_attempts(
    sql: &mut dyn Sql,
    tenant_id: &str,
    webhook: &Webhook,
    outcomes: &[(Delivery, Attempt)],
    now: Timestamp,
) -> AppResult<()> {
    let mut delivered: std::collections::BTreeMap<u16, Vec<&str>> = Default::default();
    let mut settled_lanes = Vec::new();
    let (mut any_delivered, mut any_failed) = (false, false);
    for (d, attempt) in outcomes {
        if let Some(status) = attempt.status.filter(|_| attempt.delivered()) {
            delivered.entry(status).or_default().push(d.id.as_str());
            settled_lanes.push(d.lane.as_str());
            any_delivered |= !is_ping(d);
            continue;
        }
        any_failed |= !is_ping(d);
        let mut after = d.clone();
        after.attempts += 1;
        after.last_status_code = attempt.status.map(i64::from);
        after.last_error = attempt.error.clone();
        // A test is tried once: the admin is watching, and it is not worth a day of retries.
        after.next_attempt_at = (!is_ping(d))
            .then(|| rules::retry_at(after.attempts, now, rand::random::<f64>()))
            .flatten();
        if after.next_attempt_at.is_none() {
            after.status = DeliveryStatus::Failed;
            settled_lanes.push(d.lane.as_str());
        }
        store::update_delivery(sql, tenant_id, &after)?;
    }
    for (status, ids) in &delivered {
        store::settle_delivered(sql, tenant_id, ids, i64::from(*status), now)?;
    }
    store::wake_lanes(sql, tenant_id, &webhook.id, &settled_lanes, now)?;
    // Successes of an endpoint that was not failing change nothing in it (and skip locking its
    // row, which the dispatcher holds while it reads the feed).
    if any_failed || (any_delivered && webhook.failing_since.is_some()) {
        record_health(sql, tenant_id, &webhook.id, !any_delivered, now)?;
    }
    Ok(())
}

/// Records whether the endpoint is failing — it is while its deliveries fail without a
/// success in between — and switches off one that has failed for days, with an activity
/// entry.
fn record_health(
    sql: &mut dyn Sql,
    tenant_id: &str,
    webhook_id: &str,
    failing: bool,
    now: Timestamp,
) -> AppResult<()> {
    // Read again, locked: the endpoint may have changed while the requests were out.
    let Some(mut webhook) = store::get_for_update(sql, tenant_id, webhook_id)? else {
        return Ok(());
    };
    let before = webhook.clone();
    if !failing {
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
