//! Outbound webhooks: endpoints an admin registers, their delivery log, replay and the test
//! ping, and the HTTP client every delivery goes out through (`webhook_sender` sends them).

use std::net::SocketAddr;
use std::sync::Arc;

use jiff::Timestamp;
use loyalty_core::event::EventType;
use loyalty_core::id::new_id;
use loyalty_core::tenancy::Access;
use loyalty_core::webhook::{
    self as rules, Delivery, DeliveryStatus, Webhook, WebhookFields, WebhookIn, WebhookPatchIn,
};
use loyalty_store::repo::events;
use loyalty_store::repo::webhooks as store;
use loyalty_store::{Page, Paged};
use serde::Serialize;

use crate::activity::{Change, record};
use crate::{App, AppError, AppResult, Ctx};

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
    pub(crate) client: reqwest::Client,
    /// The messaging providers' client: the same resolver, a longer timeout (an SMS gateway
    /// answers slower than a webhook receiver should).
    pub(crate) providers: reqwest::Client,
    pub(crate) allow_private: bool,
    /// When this instance last made every pending lane's head due again.
    pub(crate) lanes_repaired: std::sync::Mutex<Option<std::time::Instant>>,
    /// How busy the database's writer has been lately (senders give way to the tills).
    pub(crate) pressure: std::sync::Mutex<crate::webhook_sender::Pressure>,
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
        let providers = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(15))
            .connect_timeout(std::time::Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("loyalty-messaging/1")
            .pool_max_idle_per_host(64)
            .dns_resolver(Arc::new(PublicOnly { allow_private }))
            .build()
            .expect("the providers' HTTP client builds");
        Outbound {
            client,
            providers,
            allow_private,
            lanes_repaired: std::sync::Mutex::new(None),
            pressure: Default::default(),
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
                if d.body.is_empty() {
                    // Delivered at its first try, it was stored without its body: the event
                    // gives the same bytes back (and is kept as long as the delivery is).
                    let event = events::at(sql, &tenant_id, d.position.seq)?
                        .filter(|e| e.id == d.event_id)
                        .ok_or(AppError::NotFound { entity: "event" })?;
                    d.body = crate::webhook_sender::body_of(&event);
                }
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

    /// Queues a `ping` to the endpoint, sent within half a second by the endpoint's sender
    /// (also to an endpoint that is switched off, to check it before switching it on again).
    /// It is logged as a delivery and tried once: the admin is watching, and a failed test is
    /// not worth a day of retries. The request does not wait for the endpoint (which may take
    /// its full 10 s).
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
}
