//! The sender of a channel: one at a time across instances (the channel's lease), it takes the
//! due messages, claims them (`sending`) in one transaction, hands them to the provider a few
//! at a time within the provider's rate, and records each answer — sent, retried later, moved
//! to the next channel, or failed — in one transaction. A message left `sending` by a sender
//! that died mid-call is sent again only where the provider recognises its reference (eSMS,
//! Vietguys, ZNS); elsewhere it is failed as unknown: a second message is worse than none.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use jiff::{SignedDuration, Timestamp};
use loyalty_core::campaign::{Message, MessageStatus};
use loyalty_core::id::new_id;
use loyalty_core::messaging::{self as rules, Answer, Next, TokenBucket};
use loyalty_messaging::provider::{self, ChannelType, Outcome, Outgoing};
use loyalty_messaging::template::{Rendered, Renderer, Template};
use loyalty_store::repo::messaging as store;

use crate::channels::Open;
use crate::{App, AppError, AppResult, Ctx};

/// How long a sender's lease lasts unless renewed (each turn renews it).
const LEASE: SignedDuration = SignedDuration::from_secs(30);
/// Messages one turn takes from a provider that recognises a repeated reference: a kill
/// mid-turn costs nothing but a resend it ignores.
const TURN: i64 = 256;
/// Messages one turn takes from a provider that does not (SMTP, SendGrid, Mailgun): all sent
/// at once, so a kill leaves at most these few of unknown outcome (failed, never resent).
const TURN_WITHOUT_REFERENCE: i64 = IN_FLIGHT as i64;
/// Requests in flight to one provider.
const IN_FLIGHT: usize = 32;

impl App {
    /// Channels with work for a sender, for the queue runner.
    pub(crate) async fn message_channels_with_work(&self) -> AppResult<Vec<(String, String)>> {
        let now = self.now();
        Ok(self
            .db
            .read(move |sql| store::channels_with_work(sql, now))
            .await?)
    }

    /// Sends the channel's due messages, turn after turn, while this instance holds its lease.
    pub(crate) async fn send_channel(&self, tenant_id: &str, channel_id: &str) -> AppResult<()> {
        let holder = format!("{}/{}", self.instance, new_id("snd"));
        let mut bucket: Option<TokenBucket> = None;
        let mut place: Option<store::QueuePlace> = None;
        let mut first = true;
        let outcome = async {
            loop {
                let (tenant, id, who) = (
                    tenant_id.to_string(),
                    channel_id.to_string(),
                    holder.clone(),
                );
                let now = self.now();
                let held = self
                    .db
                    .write(move |sql| {
                        store::acquire_sender(sql, &tenant, &id, &who, now, now + LEASE)
                    })
                    .await?;
                if !held {
                    tracing::debug!(channel = %channel_id, "another instance sends for this channel");
                    return Ok(());
                }
                let open = self.load_channel(tenant_id, channel_id).await?;
                if !open.channel.active {
                    return Ok(());
                }
                if first {
                    first = false;
                    self.settle_cut_off(tenant_id, &open).await?;
                }
                let bucket = bucket.get_or_insert_with(|| {
                    TokenBucket::new(provider::max_per_second(&open.channel.settings), now_ms())
                });
                let from_start = place.is_none();
                let taken = self
                    .send_message_turn(tenant_id, open, bucket, &mut place)
                    .await?;
                tracing::debug!(channel = %channel_id, taken, "a sender's turn");
                // Nothing after the place: look once more from the start before stopping.
                if taken == 0 && from_start {
                    return Ok(());
                }
            }
        }
        .await;
        let (tenant, id) = (tenant_id.to_string(), channel_id.to_string());
        let released = self
            .db
            .write(move |sql| store::release_sender(sql, &tenant, &id, &holder))
            .await;
        if let Err(error) = released {
            tracing::warn!(%error, "letting a channel go failed; its lease will run out");
        }
        outcome
    }

    /// Messages a dead sender left `sending`: queued again where the provider dedupes, else
    /// failed as unknown.
    async fn settle_cut_off(&self, tenant_id: &str, open: &Open) -> AppResult<()> {
        let (tenant, id) = (tenant_id.to_string(), open.channel.id.clone());
        let idempotent = open.kind.idempotent();
        let now = self.now();
        let settled = self
            .db
            .write(move |sql| {
                let cut = store::cut_off_messages(sql, &tenant, &id, 100_000)?;
                for mut m in cut.iter().cloned() {
                    if idempotent {
                        m.status = MessageStatus::Queued;
                        m.next_attempt_at = Some(now);
                    } else {
                        m.status = MessageStatus::Failed;
                        m.reason = Some(
                            "outcome unknown (the sender stopped mid-call); not sent again".into(),
                        );
                    }
                    store::save_message(sql, &tenant, &m)?;
                }
                Ok::<_, AppError>(cut.len())
            })
            .await?;
        if settled > 0 {
            tracing::info!(messages = settled, channel = %open.channel.id, "settled messages a stopped sender left mid-call");
        }
        Ok(())
    }

    /// One turn: claim, send, record. Returns how many messages it took. `place` is where the
    /// last full turn stopped in the queue; after a short one the next reads from the start.
    async fn send_message_turn(
        &self,
        tenant_id: &str,
        mut open: Open,
        bucket: &mut TokenBucket,
        place: &mut Option<store::QueuePlace>,
    ) -> AppResult<usize> {
        let (tenant, id) = (tenant_id.to_string(), open.channel.id.clone());
        let now = self.now();
        let turn = if open.kind.idempotent() {
            TURN
        } else {
            TURN_WITHOUT_REFERENCE
        };
        let after = place.take();
        let (claimed, reached) = self
            .db
            .write(move |sql| {
                let (mut claimed, reached) =
                    store::claim_due(sql, &tenant, &id, now, after.as_ref(), turn)?;
                claimed.sort_by_key(|m| m.created_at);
                Ok::<_, AppError>((claimed, reached))
            })
            .await?;
        if claimed.len() as i64 == turn {
            *place = reached;
        }
        if claimed.is_empty() {
            return Ok(0);
        }
        let taken = claimed.len();
        let callback = self.callback_url(&open.channel, &open.secrets);
        let mut outcomes = self.hand_over(&open, &claimed, &callback, bucket).await;
        // Zalo's token ran out: refresh once and send those again.
        let expired: Vec<usize> = outcomes
            .iter()
            .enumerate()
            .filter(|(_, o)| matches!(o, Outcome::TokenExpired(_)))
            .map(|(i, _)| i)
            .collect();
        if !expired.is_empty() {
            open = self.refresh_zalo_token(tenant_id, open).await?;
            let again: Vec<Message> = expired.iter().map(|&i| claimed[i].clone()).collect();
            let retried = self.hand_over(&open, &again, &callback, bucket).await;
            for (&i, outcome) in expired.iter().zip(retried) {
                outcomes[i] = outcome;
            }
        }
        self.record_outcomes(tenant_id, &open, claimed, outcomes)
            .await?;
        Ok(taken)
    }

    /// Sends the messages, `IN_FLIGHT` at a time within the channel's rate; the outcomes in
    /// the messages' order.
    async fn hand_over(
        &self,
        open: &Open,
        messages: &[Message],
        callback: &str,
        bucket: &mut TokenBucket,
    ) -> Vec<Outcome> {
        let adapter = match provider::build(
            open.kind,
            &open.channel.settings,
            &open.secrets,
            &self.outbound.providers,
        ) {
            Ok(adapter) => Arc::new(adapter),
            Err(invalid) => {
                let why = format!("channel settings: {invalid}");
                return messages
                    .iter()
                    .map(|_| Outcome::Temporary(why.clone()))
                    .collect();
            }
        };
        // Each request's start time, paced by the bucket.
        let waits: Vec<i64> = messages.iter().map(|_| bucket.take(now_ms())).collect();
        let start = std::time::Instant::now();
        let mut sends: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = Outcome> + Send>>> =
            Vec::with_capacity(messages.len());
        for (m, wait) in messages.iter().zip(waits) {
            let adapter = adapter.clone();
            let outgoing = outgoing(m, callback);
            sends.push(Box::pin(async move {
                let due = Duration::from_millis(wait.max(0) as u64);
                let elapsed = start.elapsed();
                if due > elapsed {
                    tokio::time::sleep(due - elapsed).await;
                }
                match outgoing {
                    Some(out) => adapter.send(&out).await,
                    None => Outcome::Permanent("the message has no body or address".into()),
                }
            }));
        }
        futures_util::stream::iter(sends)
            .buffered(IN_FLIGHT)
            .collect()
            .await
    }

    /// Records a turn's answers in one transaction.
    async fn record_outcomes(
        &self,
        tenant_id: &str,
        open: &Open,
        claimed: Vec<Message>,
        outcomes: Vec<Outcome>,
    ) -> AppResult<()> {
        let now = self.now();
        let info = self.tenant(&Ctx::cli(tenant_id)).await?;
        let quiet = info.program.messaging.quiet_hours();
        let zone = info.zone.clone();
        let price = provider::price_per_message(&open.channel.settings);
        let idempotent = open.kind.idempotent();
        let mut templates: HashMap<String, CampaignTemplates> = HashMap::new();
        let mut decided = Vec::with_capacity(claimed.len());
        for (mut m, outcome) in claimed.into_iter().zip(outcomes) {
            let answer = match &outcome {
                Outcome::Sent { .. } => Answer::Sent,
                Outcome::Permanent(why) => Answer::Permanent(why.clone()),
                Outcome::Temporary(why) | Outcome::TokenExpired(why) => {
                    Answer::Temporary(why.clone())
                }
                Outcome::Unknown(why) => Answer::Unknown(why.clone()),
            };
            let has_fallback = m
                .fallbacks
                .as_ref()
                .and_then(|f| f.as_array())
                .is_some_and(|f| !f.is_empty());
            match rules::after_send(
                &answer,
                m.attempts,
                has_fallback,
                idempotent,
                now,
                rand::random(),
            ) {
                Next::Sent => {
                    m.status = MessageStatus::Sent;
                    m.sent_at = Some(now);
                    m.cost = price;
                    m.reason = None;
                    m.context = None;
                    m.fallbacks = None;
                    if let Outcome::Sent { provider_id } = outcome {
                        m.provider_message_id = provider_id;
                    }
                }
                Next::Retry(at) => {
                    m.status = MessageStatus::Queued;
                    m.next_attempt_at = Some(quiet.map_or(at, |q| q.next_allowed(at, &zone)));
                    m.reason = Some(truncate(&answer_text(&answer)));
                }
                Next::Failed(why) => {
                    m.status = MessageStatus::Failed;
                    m.reason = Some(truncate(&why));
                    m.context = None;
                    m.next_attempt_at = None;
                }
                Next::Fallback => {
                    if let Some(campaign_id) = m.campaign_id.clone()
                        && !templates.contains_key(&campaign_id)
                    {
                        templates.insert(
                            campaign_id.clone(),
                            self.campaign_templates(tenant_id, &campaign_id).await?,
                        );
                    }
                    let (track, channels) = match &m.campaign_id {
                        Some(c) => templates.get(c).cloned().unwrap_or_default(),
                        // An automation's message carries its hops' templates.
                        None => (false, self.hop_templates(tenant_id, &m).await),
                    };
                    let id = m.id.clone();
                    let tracker = |r: Rendered| match track {
                        true => self.tracked(tenant_id, &id, r),
                        false => r,
                    };
                    fall_back(
                        &mut m,
                        &channels,
                        &Renderer::new(zone.clone()),
                        &answer_text(&answer),
                        &tracker,
                    );
                    if m.status == MessageStatus::Queued {
                        m.next_attempt_at = Some(quiet.map_or(now, |q| q.next_allowed(now, &zone)));
                    }
                }
            }
            decided.push(m);
        }
        let tenant = tenant_id.to_string();
        self.db
            .write(move |sql| {
                // Those sent in one statement; the others (few) one by one.
                let sent: Vec<(&str, Option<&str>)> = decided
                    .iter()
                    .filter(|m| m.status == MessageStatus::Sent)
                    .map(|m| (m.id.as_str(), m.provider_message_id.as_deref()))
                    .collect();
                store::settle_sent(sql, &tenant, &sent, now, price)?;
                for m in decided.iter().filter(|m| m.status != MessageStatus::Sent) {
                    store::save_message(sql, &tenant, m)?;
                }
                Ok::<_, AppError>(())
            })
            .await
    }

    /// Whether a campaign tracks e-mail, and its channels with their templates.
    async fn campaign_templates(
        &self,
        tenant_id: &str,
        campaign_id: &str,
    ) -> AppResult<CampaignTemplates> {
        let campaign = self.load_campaign(tenant_id, campaign_id).await?;
        let mut out = Vec::new();
        for wanted in &campaign.channels {
            let open = self.load_channel(tenant_id, &wanted.channel_id).await?;
            if let Ok(t) = Template::parse(open.kind.kind(), &wanted.template, "template") {
                out.push((open.channel.id.clone(), open.kind, t));
            }
        }
        Ok((campaign.track_email, out))
    }
}

impl App {
    /// The channels a message without a campaign may fall back to, with the templates its hops
    /// carry (`[index, channel_id, address, template]`); a channel gone since is left out.
    async fn hop_templates(
        &self,
        tenant_id: &str,
        m: &Message,
    ) -> Vec<(String, ChannelType, Template)> {
        let hops = m
            .fallbacks
            .as_ref()
            .and_then(|f| f.as_array())
            .cloned()
            .unwrap_or_default();
        let mut out = Vec::new();
        for hop in hops {
            let (Some(id), Some(saved)) = (hop[1].as_str(), hop.get(3)) else {
                continue;
            };
            if let Ok(open) = self.load_channel(tenant_id, id).await
                && let Ok(t) = Template::parse(open.kind.kind(), saved, "template")
            {
                out.push((open.channel.id.clone(), open.kind, t));
            }
        }
        out
    }
}

/// Whether a campaign tracks e-mail, and its channels with their templates.
type CampaignTemplates = (bool, Vec<(String, ChannelType, Template)>);

/// Moves a message to the next channel of its route, rendered for it (and `track`ed); failed
/// if it cannot.
fn fall_back(
    m: &mut Message,
    channels: &[(String, ChannelType, Template)],
    renderer: &Renderer,
    why: &str,
    track: &dyn Fn(Rendered) -> Rendered,
) {
    let mut hops: Vec<serde_json::Value> = m
        .fallbacks
        .take()
        .and_then(|f| f.as_array().cloned())
        .unwrap_or_default();
    let hop = hops.remove(0);
    let (channel_id, address) = (
        hop[1].as_str().unwrap_or_default().to_string(),
        hop[2].as_str().map(str::to_string),
    );
    let Some((_, kind, template)) = channels.iter().find(|(id, _, _)| *id == channel_id) else {
        m.status = MessageStatus::Failed;
        m.reason = Some(truncate(&format!("{why}; the next channel is gone")));
        return;
    };
    let context = m.context.clone().unwrap_or_default();
    match template.render(renderer, &context, "template") {
        Ok(rendered) => {
            let rendered = track(rendered.for_purpose(m.purpose));
            m.channel_id = Some(channel_id);
            m.channel_type = Some(kind.as_str().to_string());
            m.to = address;
            m.body = serde_json::to_value(&rendered).ok();
            m.fallbacks = (!hops.is_empty()).then_some(serde_json::Value::Array(hops));
            if m.fallbacks.is_none() {
                m.context = None;
            }
            m.status = MessageStatus::Queued;
            m.attempts = 0;
            m.reason = Some(truncate(&format!("fell back: {why}")));
        }
        Err(invalid) => {
            m.status = MessageStatus::Failed;
            m.reason = Some(truncate(&format!(
                "{why}; the next channel's template: {invalid}"
            )));
        }
    }
}

fn outgoing(m: &Message, callback: &str) -> Option<Outgoing> {
    let content: Rendered = serde_json::from_value(m.body.clone()?).ok()?;
    Some(Outgoing {
        reference: m.id.clone(),
        to: m.to.clone()?,
        name: None,
        content,
        callback_url: Some(callback.to_string()),
    })
}

fn answer_text(answer: &Answer) -> String {
    match answer {
        Answer::Sent => "sent".into(),
        Answer::Permanent(w) | Answer::Temporary(w) | Answer::Unknown(w) => w.clone(),
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(500).collect()
}

fn now_ms() -> i64 {
    Timestamp::now().as_millisecond()
}
