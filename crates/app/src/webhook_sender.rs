//! The webhook sender: one per endpoint at a time (a lease on the endpoint's row, across
//! instances), sending straight from the events feed.
//!
//! A turn takes the due heads of the endpoint's lanes (retries, replays, test pings, deliveries
//! whose turn came) and the events after the endpoint's place in the feed, sends them
//! concurrently — a member's events one after another, each after the one before it was
//! delivered — and records the turn in one transaction: a row per new delivery (written once,
//! already settled when it went through at the first try, without its body, which the event
//! gives back for a replay), the heads' outcomes, the lanes' next heads, the endpoint's new
//! place and health. Delivering every event at full till load thus costs the tills' writer
//! about one narrow row per event, not a delivery row, its update and a job per attempt.
//!
//! While the tills saturate the database's writer, a sender waits between turns: deliveries
//! are asynchronous, customers at the till are not.
//!
//! A lane is a member's events ('' for events without a member): while one of its deliveries
//! is pending (failed and waiting for its retry), the lane's later events wait behind it as
//! pending rows without a time, and become due when it settles.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use loyalty_core::event::{EventType, Position, TypeFilter};
use loyalty_core::id::new_id;
use loyalty_core::tenancy::{Actor, ActorKind, Scope};
use loyalty_core::webhook::{self as rules, Delivery, DeliveryStatus, Webhook};
use loyalty_store::Sql;
use loyalty_store::repo::events;
use loyalty_store::repo::webhooks as store;

use crate::activity::{Change, record};
use crate::webhooks::WebhookView;
use crate::{App, AppError, AppResult, Ctx};

/// Deliveries one turn takes: large enough that a turn's few statements cost little per event,
/// small enough that one slow receiver holds back little.
const TURN: i64 = 256;
/// Requests one sender has in flight at once.
const CONCURRENCY: usize = 32;
/// How long a sender holds its endpoint before another instance may take over: a killed
/// instance's endpoints are sent to again within this time.
const LEASE: SignedDuration = SignedDuration::from_secs(30);
/// A turn that has run this long (rounds of slow receivers) renews the lease between rounds.
const RENEW_AFTER: std::time::Duration = std::time::Duration::from_secs(10);
/// How often (and at an instance's first pass) the pass that starts the senders also makes
/// every pending lane's head due again, repairing a lane whose head lost its time — nothing
/// known loses it; this is a net, and a walk of every pending delivery, so it runs rarely.
const REPAIR_LANES_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

/// While the other writes keep the database's writer this busy (a share of the time, over the
/// last [`PRESSURE_WINDOW`], with several actions grouped in each commit: tills, not this
/// sender), a sender waits [`GIVE_WAY`] between turns. Deliveries are asynchronous by contract;
/// a customer at the till is not: on a saturated machine the tills keep their pace and the
/// deliveries catch up when the rush is over.
const SATURATED_BUSY: f64 = 0.8;
const SATURATED_ACTIONS_PER_COMMIT: f64 = 4.0;
const PRESSURE_WINDOW: std::time::Duration = std::time::Duration::from_millis(500);
const GIVE_WAY: std::time::Duration = std::time::Duration::from_millis(200);

/// The writer's recent load, sampled at most once per [`PRESSURE_WINDOW`].
#[derive(Default)]
pub(crate) struct Pressure {
    last: Option<(std::time::Instant, loyalty_store::WriteStats)>,
    saturated: bool,
}

impl Pressure {
    /// Whether the writer was saturated by others over the last window, as of `at`.
    fn saturated(&mut self, at: std::time::Instant, now: loyalty_store::WriteStats) -> bool {
        match self.last {
            Some((then, _)) if at.duration_since(then) < PRESSURE_WINDOW => {}
            Some((then, before)) => {
                let elapsed = at.duration_since(then).as_secs_f64();
                let busy = (now.busy.saturating_sub(before.busy)).as_secs_f64() / elapsed;
                let groups = now.groups.saturating_sub(before.groups).max(1) as f64;
                let per_commit = now.actions.saturating_sub(before.actions) as f64 / groups;
                self.saturated =
                    busy >= SATURATED_BUSY && per_commit >= SATURATED_ACTIONS_PER_COMMIT;
                self.last = Some((at, now));
            }
            None => self.last = Some((at, now)),
        }
        self.saturated
    }
}

/// How one attempt went.
pub(crate) struct Attempt {
    status: Option<u16>,
    error: Option<String>,
}

impl Attempt {
    pub(crate) fn refused(why: &str) -> Attempt {
        Attempt {
            status: None,
            error: Some(why.to_string()),
        }
    }

    pub(crate) fn delivered(&self) -> bool {
        self.status.is_some_and(rules::delivered)
    }

    /// Why it was not delivered, in a line.
    pub(crate) fn error(&self) -> &str {
        self.error.as_deref().unwrap_or("not delivered")
    }
}

/// What one turn of a sender works on.
struct Turn {
    webhook: Webhook,
    /// Pending deliveries due now, each the oldest pending one of its lane.
    heads: Vec<Delivery>,
    /// Deliveries of the feed's events after the endpoint's place, in the feed's order (not
    /// stored yet), and the place after them.
    fresh: Vec<Delivery>,
    cursor: Option<Position>,
    /// Lanes with a pending delivery: their fresh deliveries wait behind it.
    busy: HashSet<String>,
}

/// The sender lease a turn runs under.
struct Lease<'a> {
    tenant_id: &'a str,
    webhook_id: &'a str,
    holder: &'a str,
    /// When it was last taken or renewed.
    taken: std::time::Instant,
}

/// How a turn went: attempts at heads and at fresh deliveries, and the fresh deliveries that
/// wait behind their lane's pending one.
#[derive(Default)]
struct Sent {
    heads: Vec<(Delivery, Attempt)>,
    fresh: Vec<(Delivery, Attempt)>,
    waiting: Vec<Delivery>,
}

impl App {
    /// The endpoints a sender may have work for (now and then also making every pending
    /// lane's head due again).
    pub async fn webhook_endpoints_with_work(&self) -> AppResult<Vec<(String, String)>> {
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
        if repair {
            for (tenant, hook) in endpoints.clone() {
                let now = self.now();
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

    /// Sends the endpoint's due deliveries and new events, turn after turn, while this
    /// instance holds the endpoint's sender lease; returns how many attempts it made.
    pub(crate) async fn send_due(&self, tenant_id: &str, webhook_id: &str) -> AppResult<u64> {
        let holder = format!("{}/{}", self.instance(), new_id("snd"));
        let sent = self.send_turns(tenant_id, webhook_id, &holder).await;
        if sent.is_err() {
            // Let the endpoint go at once rather than when the lease runs out: the next pass
            // starts a new sender.
            let (tenant, id) = (tenant_id.to_string(), webhook_id.to_string());
            let released = self
                .db
                .write(move |sql| store::release_sender(sql, &tenant, &id, &holder))
                .await;
            if let Err(error) = released {
                tracing::warn!(%error, "letting a webhook endpoint go failed; its lease will run out");
            }
        }
        sent
    }

    async fn send_turns(&self, tenant_id: &str, webhook_id: &str, holder: &str) -> AppResult<u64> {
        // Looked at first with a reader: an idle endpoint then costs no write (no commit).
        let (tenant, id, now) = (tenant_id.to_string(), webhook_id.to_string(), self.now());
        if !self
            .db
            .read(move |sql| has_work(sql, &tenant, &id, now))
            .await?
        {
            return Ok(0);
        }
        let mut attempts = 0;
        loop {
            let now = self.now();
            let (tenant, id, me) = (
                tenant_id.to_string(),
                webhook_id.to_string(),
                holder.to_string(),
            );
            let turn = self
                .db
                .write(move |sql| take_turn(sql, &tenant, &id, &me, now))
                .await?;
            let Some(turn) = turn else {
                return Ok(attempts);
            };
            let (webhook, cursor) = (turn.webhook.clone(), turn.cursor);
            let lease = Lease {
                tenant_id,
                webhook_id,
                holder,
                taken: std::time::Instant::now(),
            };
            let sent = self.send_turn(turn, lease).await?;
            attempts += (sent.heads.len() + sent.fresh.len()) as u64;
            let now = self.now();
            let (tenant, id, me) = (
                tenant_id.to_string(),
                webhook_id.to_string(),
                holder.to_string(),
            );
            self.db
                .write(move |sql| {
                    // Still ours? If another instance took the endpoint over (this one stalled
                    // past its lease), it sends these again and records them itself.
                    if !store::claim_sender(sql, &tenant, &id, &me, now, now + LEASE)? {
                        return Err(AppError::Internal(anyhow::anyhow!(
                            "another instance took over sending to webhook {id}"
                        )));
                    }
                    record_turn(sql, &tenant, &webhook, &sent, cursor, now)
                })
                .await?;
            if self.writer_saturated() {
                tokio::time::sleep(GIVE_WAY).await;
            }
        }
    }

    /// Renews the sender's lease when its turn has run for [`RENEW_AFTER`]; fails when another
    /// instance has taken the endpoint over.
    async fn renew_if_long(&self, lease: &mut Lease<'_>) -> AppResult<()> {
        if lease.taken.elapsed() < RENEW_AFTER {
            return Ok(());
        }
        let now = self.now();
        let (tenant, id, me) = (
            lease.tenant_id.to_string(),
            lease.webhook_id.to_string(),
            lease.holder.to_string(),
        );
        let kept = self
            .db
            .write(move |sql| store::claim_sender(sql, &tenant, &id, &me, now, now + LEASE))
            .await?;
        if !kept {
            return Err(AppError::Internal(anyhow::anyhow!(
                "another instance took over sending to webhook {}",
                lease.webhook_id
            )));
        }
        lease.taken = std::time::Instant::now();
        Ok(())
    }

    fn writer_saturated(&self) -> bool {
        let stats = self.db.write_stats();
        let mut pressure = self
            .outbound
            .pressure
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        pressure.saturated(std::time::Instant::now(), stats)
    }

    /// Sends a turn's heads and fresh deliveries in rounds: each round the next delivery of
    /// every lane whose previous one (in this turn) went through.
    async fn send_turn(&self, turn: Turn, mut lease: Lease<'_>) -> AppResult<Sent> {
        let Turn {
            webhook,
            heads,
            fresh,
            busy,
            ..
        } = turn;
        let mut sent = Sent::default();
        let mut lanes: Vec<VecDeque<Delivery>> = Vec::new();
        let mut lane_of: HashMap<String, usize> = HashMap::new();
        for d in fresh {
            if busy.contains(&d.lane) {
                sent.waiting.push(d);
                continue;
            }
            let at = *lane_of.entry(d.lane.clone()).or_insert_with(|| {
                lanes.push(VecDeque::new());
                lanes.len() - 1
            });
            lanes[at].push_back(d);
        }
        sent.heads = self.send_all(&webhook, heads).await?;
        loop {
            let round: Vec<Delivery> = lanes.iter_mut().filter_map(VecDeque::pop_front).collect();
            if round.is_empty() {
                break;
            }
            self.renew_if_long(&mut lease).await?;
            for (d, attempt) in self.send_all(&webhook, round).await? {
                if !attempt.delivered() {
                    // The lane's later events wait behind this one's retry.
                    if let Some(&at) = lane_of.get(&d.lane) {
                        sent.waiting.extend(lanes[at].drain(..));
                    }
                }
                sent.fresh.push((d, attempt));
            }
        }
        Ok(sent)
    }

    /// POSTs the deliveries to the endpoint, up to [`CONCURRENCY`] at once, each signed with
    /// the endpoint's secret; returns how each went.
    async fn send_all(
        &self,
        webhook: &Webhook,
        due: Vec<Delivery>,
    ) -> AppResult<Vec<(Delivery, Attempt)>> {
        if due.is_empty() {
            return Ok(Vec::new());
        }
        if !self.outbound.allow_private && !target_is_allowed(&webhook.url) {
            let why = "the URL points to a private address";
            return Ok(due
                .into_iter()
                .map(|d| (d, Attempt::refused(why)))
                .collect());
        }
        let secret: Arc<str> = self.open_secret(&webhook.secret_sealed)?.into();
        let url: Arc<str> = webhook.url.as_str().into();
        let slots = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
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

/// The body a delivery of `event` sends: the same bytes on every attempt and on a replay.
pub(crate) fn body_of(event: &events::Event) -> String {
    serde_json::json!({
        "id": event.id, "type": event.kind.as_str(), "created_at": event.created_at, "data": event.data,
    })
    .to_string()
}

/// Takes the endpoint's sender lease and reads what the turn works on; `None` (and the lease
/// let go) when there is nothing, or another instance sends for the endpoint.
fn take_turn(
    sql: &mut dyn Sql,
    tenant_id: &str,
    id: &str,
    holder: &str,
    now: Timestamp,
) -> AppResult<Option<Turn>> {
    if !store::claim_sender(sql, tenant_id, id, holder, now, now + LEASE)? {
        return Ok(None);
    }
    let Some(webhook) = store::get(sql, tenant_id, id)? else {
        return Ok(None);
    };
    let (heads, feed) = pending_work(sql, tenant_id, &webhook, now, TURN)?;
    if heads.is_empty() && feed.is_empty() {
        store::release_sender(sql, tenant_id, id, holder)?;
        return Ok(None);
    }
    let fresh: Vec<Delivery> = feed
        .iter()
        .map(|event| {
            Delivery::pending(
                &webhook.id,
                (&event.id, event.kind.as_str()),
                event.member_id.clone().unwrap_or_default(),
                event.position,
                body_of(event),
                now,
            )
        })
        .collect();
    let lanes: Vec<&str> = {
        let mut seen = HashSet::new();
        fresh
            .iter()
            .map(|d| d.lane.as_str())
            .filter(|lane| seen.insert(*lane))
            .collect()
    };
    let busy = store::busy_lanes(sql, tenant_id, id, &lanes)?;
    Ok(Some(Turn {
        cursor: feed.last().map(|e| e.position),
        webhook,
        heads,
        fresh,
        busy,
    }))
}

/// Whether the endpoint has a due delivery or, switched on, an event after its place.
fn has_work(sql: &mut dyn Sql, tenant_id: &str, id: &str, now: Timestamp) -> AppResult<bool> {
    let Some(webhook) = store::get(sql, tenant_id, id)? else {
        return Ok(false);
    };
    let (heads, feed) = pending_work(sql, tenant_id, &webhook, now, 1)?;
    Ok(!heads.is_empty() || !feed.is_empty())
}

/// Up to `limit` of the endpoint's work: its due lane heads, then (switched on) the events
/// after its place that its filter takes.
fn pending_work(
    sql: &mut dyn Sql,
    tenant_id: &str,
    webhook: &Webhook,
    now: Timestamp,
    limit: i64,
) -> AppResult<(Vec<Delivery>, Vec<events::Event>)> {
    let heads = store::due_heads(sql, tenant_id, &webhook.id, webhook.active, now, limit)?;
    let room = limit - heads.len() as i64;
    let feed = if webhook.active && room > 0 {
        let filter = TypeFilter::parse("events", &webhook.events.join(","))?;
        events::feed(sql, tenant_id, &filter.types(), webhook.cursor, room)?
    } else {
        Vec::new()
    };
    Ok((heads, feed))
}

/// One signed POST of a delivery's body.
async fn post(client: &reqwest::Client, url: &str, secret: &str, d: &Delivery, t: i64) -> Attempt {
    post_signed(
        client,
        url,
        secret,
        (&d.event_id, &d.event_type),
        &d.body,
        t,
    )
    .await
}

/// One POST of `body` signed as every webhook is (an automation's `webhook` step too), with
/// the event's id and type (`Loyalty-Event-Id` is what a receiver deduplicates by).
pub(crate) async fn post_signed(
    client: &reqwest::Client,
    url: &str,
    secret: &str,
    (event_id, event_type): (&str, &str),
    body: &str,
    t: i64,
) -> Attempt {
    let sent = client
        .post(url)
        .header("Content-Type", "application/json")
        .header("Loyalty-Event-Id", event_id)
        .header("Loyalty-Event-Type", event_type)
        .header(
            "Loyalty-Signature",
            rules::signature(secret, t, body.as_bytes()),
        )
        .body(body.to_string())
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
pub(crate) fn target_is_allowed(url: &str) -> bool {
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

fn is_ping(d: &Delivery) -> bool {
    d.event_type == EventType::Ping.as_str()
}

/// Applies an attempt to a delivery: delivered, or due again on the schedule, or failed for
/// good (a test ping is tried once: the admin is watching, and it is not worth a day of
/// retries).
fn after_attempt(d: &Delivery, attempt: &Attempt, now: Timestamp) -> Delivery {
    let mut after = d.clone();
    after.attempts += 1;
    after.last_status_code = attempt.status.map(i64::from);
    after.last_error = attempt.error.clone();
    if attempt.delivered() {
        after.status = DeliveryStatus::Delivered;
        after.delivered_at = Some(now);
        after.next_attempt_at = None;
        return after;
    }
    after.next_attempt_at = (!is_ping(d))
        .then(|| rules::retry_at(after.attempts, now, rand::random::<f64>()))
        .flatten();
    if after.next_attempt_at.is_none() {
        after.status = DeliveryStatus::Failed;
    }
    after
}

/// Records a turn: the fresh deliveries as new rows (one delivered at its first try without
/// its body: the event gives it back for a replay), the heads' outcomes, the next heads of
/// the lanes that moved on, the endpoint's new place and its health.
fn record_turn(
    sql: &mut dyn Sql,
    tenant_id: &str,
    webhook: &Webhook,
    sent: &Sent,
    cursor: Option<Position>,
    now: Timestamp,
) -> AppResult<()> {
    let (mut any_delivered, mut any_failed) = (false, false);
    let mut rows = Vec::with_capacity(sent.fresh.len() + sent.waiting.len());
    for (d, attempt) in &sent.fresh {
        let mut row = after_attempt(d, attempt, now);
        if attempt.delivered() {
            row.body = String::new();
            any_delivered = true;
        } else {
            any_failed = true;
        }
        rows.push(row);
    }
    rows.extend(sent.waiting.iter().map(|d| Delivery {
        next_attempt_at: None,
        ..d.clone()
    }));
    store::insert_deliveries(sql, tenant_id, &rows)?;

    let mut delivered: std::collections::BTreeMap<u16, Vec<&str>> = Default::default();
    let mut settled_lanes = Vec::new();
    for (d, attempt) in &sent.heads {
        if let Some(status) = attempt.status.filter(|_| attempt.delivered()) {
            delivered.entry(status).or_default().push(d.id.as_str());
            settled_lanes.push(d.lane.as_str());
            any_delivered |= !is_ping(d);
            continue;
        }
        any_failed |= !is_ping(d);
        let after = after_attempt(d, attempt, now);
        if after.status != DeliveryStatus::Pending {
            settled_lanes.push(d.lane.as_str());
        }
        store::update_delivery(sql, tenant_id, &after)?;
    }
    for (status, ids) in &delivered {
        store::settle_delivered(sql, tenant_id, ids, i64::from(*status), now)?;
    }
    store::wake_lanes(sql, tenant_id, &webhook.id, &settled_lanes, now)?;
    if let Some(cursor) = cursor {
        store::set_cursor(sql, tenant_id, &webhook.id, cursor)?;
    }
    // Successes of an endpoint that was not failing change nothing in it.
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use loyalty_store::WriteStats;

    use super::Pressure;

    fn stats(groups: u64, actions: u64, busy_ms: u64) -> WriteStats {
        WriteStats {
            groups,
            actions,
            busy: Duration::from_millis(busy_ms),
            committing: Duration::ZERO,
        }
    }

    #[test]
    fn senders_give_way_only_while_others_saturate_the_writer() {
        let start = Instant::now();
        let mut pressure = Pressure::default();
        assert!(
            !pressure.saturated(start, stats(0, 0, 0)),
            "nothing known yet"
        );
        // Tills: 90% busy, 11 orders per commit.
        let later = start + Duration::from_millis(600);
        assert!(pressure.saturated(later, stats(50, 550, 540)));
        // Within the window the verdict stands.
        assert!(pressure.saturated(later + Duration::from_millis(100), stats(50, 550, 540)));
        // The sender alone: busy, but one or two actions per commit.
        let alone = later + Duration::from_millis(600);
        assert!(!pressure.saturated(alone, stats(350, 850, 1080)));
        // Tills, but with room to spare.
        let quiet = alone + Duration::from_millis(600);
        assert!(!pressure.saturated(quiet, stats(380, 1180, 1200)));
    }
}
