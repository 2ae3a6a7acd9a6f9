//! A campaign's audience written into messages when it starts sending: page after page of
//! members (in id order, resumable from the campaign's `audience_after`), each decided by
//! `core::messaging` — the channel route, or why suppressed; the weekly cap; quiet hours —
//! rendered, given their own voucher code, and written `queued` or `suppressed` in one
//! transaction per page with the campaign's place. A page written twice writes nothing twice
//! (the unique (campaign, member) index), so a restart resumes where the last commit was.
//! The campaign preview renders the same way for the audience's first member.

use std::collections::HashMap;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use loyalty_core::campaign::{Audience, Campaign, CampaignStatus, Message, MessageStatus};
use loyalty_core::id::new_id;
use loyalty_core::member::{Member, MemberStatus};
use loyalty_core::messaging::{self as rules, ChannelKind, Purpose, Recipient, Suppressed};
use loyalty_core::tenancy::Access;
use loyalty_messaging::provider::{self, ChannelType};
use loyalty_messaging::template::{Renderer, Template};
use loyalty_store::repo::{consent, members, messaging as store, segments, vouchers};
use loyalty_store::{Page, Sql};
use serde::Serialize;
use serde_json::{Value, json};

use crate::{App, AppError, AppResult, Ctx};

/// Members decided and written per transaction.
const PAGE: i64 = 1_000;

/// What a page needs that does not change while the audience is written.
pub(crate) struct Plan {
    pub tenant_id: String,
    pub campaign_id: String,
    /// E-mail links through our redirect, with our open pixel.
    pub track_email: bool,
    pub purpose: Purpose,
    pub shop: String,
    pub zone: jiff::tz::TimeZone,
    pub quiet: Option<rules::QuietHours>,
    pub weekly_cap: i64,
    /// The campaign's channels in order: id, type, template, price.
    pub channels: Vec<(String, ChannelType, Template, i64)>,
    pub tiers: HashMap<String, String>,
    pub program: Option<loyalty_core::voucher::VoucherProgram>,
    pub compiled: Option<segments::Compiled>,
    pub listed: Vec<String>,
}

/// Audience pages between two refreshes of the messages' statistics.
const STATISTICS_EVERY: u64 = 50;

impl App {
    /// Moves every campaign on: a scheduled one whose time came starts sending; a sending one
    /// gets its audience written, and finishes once every message is settled.
    pub(crate) async fn advance_campaigns(&self) -> AppResult<()> {
        let now = self.now();
        let due = self
            .db
            .read(move |sql| store::campaigns_to_advance(sql, now))
            .await?;
        for (tenant_id, id) in due {
            if let Err(error) = self.advance_campaign(&tenant_id, &id).await {
                tracing::warn!(%error, campaign = %id, "advancing a campaign failed; trying again");
            }
        }
        Ok(())
    }

    async fn advance_campaign(&self, tenant_id: &str, id: &str) -> AppResult<()> {
        let campaign = self.load_campaign(tenant_id, id).await?;
        let now = self.now();
        match campaign.status {
            CampaignStatus::Scheduled => {
                let (tenant, id) = (tenant_id.to_string(), id.to_string());
                self.db
                    .write(move |sql| {
                        let Some(mut c) = store::get_campaign_for_update(sql, &tenant, &id)? else {
                            return Ok::<_, AppError>(());
                        };
                        if c.status == CampaignStatus::Scheduled
                            && c.send_at.is_none_or(|at| at <= now)
                        {
                            c.status = CampaignStatus::Sending;
                            c.started_at = Some(now);
                            c.updated_at = now;
                            store::update_campaign(sql, &tenant, &c)?;
                        }
                        Ok(())
                    })
                    .await?;
                Ok(())
            }
            CampaignStatus::Sending if !campaign.audience_done => {
                let plan = Arc::new(self.plan(tenant_id, &campaign).await?);
                let mut pages = 0;
                loop {
                    let done = self.write_audience_page(tenant_id, &plan).await?;
                    pages += 1;
                    // The table grew by a page a transaction: the planner's idea of it must
                    // keep up, whether or not autovacuum is there to tell it.
                    if done || pages % STATISTICS_EVERY == 0 {
                        self.db
                            .write(|sql| Ok::<_, AppError>(store::refresh_statistics(sql)?))
                            .await?;
                    }
                    if done {
                        return Ok(());
                    }
                }
            }
            CampaignStatus::Sending => {
                let (tenant, id) = (tenant_id.to_string(), id.to_string());
                self.db
                    .write(move |sql| {
                        if store::campaign_unsettled(sql, &tenant, &id)? {
                            return Ok::<_, AppError>(());
                        }
                        let Some(mut c) = store::get_campaign_for_update(sql, &tenant, &id)? else {
                            return Ok(());
                        };
                        if c.status == CampaignStatus::Sending && c.audience_done {
                            c.status = CampaignStatus::Finished;
                            c.finished_at = Some(now);
                            c.updated_at = now;
                            store::update_campaign(sql, &tenant, &c)?;
                        }
                        Ok(())
                    })
                    .await
            }
            _ => Ok(()),
        }
    }

    pub(crate) async fn plan(&self, tenant_id: &str, campaign: &Campaign) -> AppResult<Plan> {
        let ctx = Ctx::cli(tenant_id);
        let info = self.tenant(&ctx).await?;
        let mut channels = Vec::with_capacity(campaign.channels.len());
        for (i, wanted) in campaign.channels.iter().enumerate() {
            let open = self.load_channel(tenant_id, &wanted.channel_id).await?;
            let template = Template::parse(
                open.kind.kind(),
                &wanted.template,
                &format!("channels[{i}].template"),
            )
            .map_err(AppError::Invalid)?;
            let price = provider::price_per_message(&open.channel.settings);
            channels.push((open.channel.id.clone(), open.kind, template, price));
        }
        let tiers = self
            .ladder(tenant_id)
            .await?
            .iter()
            .map(|t| (t.id.clone(), t.name.clone()))
            .collect();
        let program = match &campaign.voucher_program_id {
            Some(id) => {
                let (tenant, id) = (tenant_id.to_string(), id.clone());
                self.db
                    .read(move |sql| vouchers::get_program(sql, &tenant, &id))
                    .await?
            }
            None => None,
        };
        let (compiled, listed) = match &campaign.audience {
            Audience::Segment { segment_id } => {
                let (tenant, id) = (tenant_id.to_string(), segment_id.clone());
                let saved = self
                    .db
                    .read(move |sql| segments::get(sql, &tenant, &id))
                    .await?
                    .ok_or(AppError::NotFound { entity: "segment" })?;
                (
                    Some(self.compile(&ctx, &saved.conditions).await?),
                    Vec::new(),
                )
            }
            Audience::Conditions { conditions } => {
                (Some(self.compile(&ctx, conditions).await?), Vec::new())
            }
            Audience::Members { member_ids } => {
                let mut ids = member_ids.clone();
                ids.sort();
                ids.dedup();
                (None, ids)
            }
        };
        let messaging = &info.program.messaging;
        Ok(Plan {
            tenant_id: tenant_id.to_string(),
            campaign_id: campaign.id.clone(),
            track_email: campaign.track_email,
            purpose: campaign.purpose,
            shop: info.tenant.name.clone(),
            zone: info.zone.clone(),
            quiet: messaging.quiet_hours(),
            weekly_cap: messaging.max_per_member_per_week,
            channels,
            tiers,
            program,
            compiled,
            listed,
        })
    }

    /// Writes the next page of the audience; `true` when the whole audience is written. The
    /// page is decided and written inside one write, so two instances never decide the same
    /// page from the same place.
    pub(crate) async fn write_audience_page(
        &self,
        tenant_id: &str,
        plan: &Arc<Plan>,
    ) -> AppResult<bool> {
        let (app, tenant, plan) = (self.clone(), tenant_id.to_string(), plan.clone());
        let now = self.now();
        self.db
            .write(move |sql| app.audience_page(sql, &tenant, &plan, now))
            .await
    }

    fn audience_page(
        &self,
        sql: &mut dyn Sql,
        tenant_id: &str,
        plan: &Plan,
        now: Timestamp,
    ) -> AppResult<bool> {
        let Some(mut campaign) = store::get_campaign_for_update(sql, tenant_id, &plan.campaign_id)?
        else {
            return Ok(true);
        };
        if campaign.status != CampaignStatus::Sending || campaign.audience_done {
            return Ok(true);
        }
        let after = campaign.audience_after.clone();
        let (page, more) = match &plan.compiled {
            Some(compiled) => {
                let found = segments::members(
                    sql,
                    compiled,
                    &Page {
                        after: after.clone(),
                        limit: PAGE,
                    },
                )?;
                let more = found.next_after.is_some();
                (found.items, more)
            }
            None => {
                let rest: Vec<&str> = plan
                    .listed
                    .iter()
                    .map(String::as_str)
                    .filter(|id| after.as_deref().is_none_or(|a| *id > a))
                    .collect();
                let take = &rest[..rest.len().min(PAGE as usize)];
                let mut found = members::get_many(sql, tenant_id, take)?;
                found.sort_by(|a, b| a.id.cmp(&b.id));
                let last = take.last().map(|s| s.to_string());
                let more = rest.len() > take.len();
                // A listed id with no member is skipped; the place moves past it anyway.
                if found.is_empty() && more {
                    campaign.audience_after = last;
                    campaign.updated_at = now;
                    store::update_campaign(sql, tenant_id, &campaign)?;
                    return Ok(false);
                }
                (found, more)
            }
        };
        let ids: Vec<&str> = page.iter().map(|m| m.id.as_str()).collect();
        let unsubscribed = consent::unsubscribed(sql, tenant_id, &ids)?;
        let recent = match (plan.purpose, ids.first(), ids.last()) {
            (Purpose::Advertising, Some(first), Some(last)) => store::recent_advertising(
                sql,
                tenant_id,
                first,
                last,
                now - SignedDuration::from_hours(7 * 24),
            )?,
            _ => HashMap::new(),
        };
        let kinds: Vec<ChannelKind> = plan.channels.iter().map(|c| c.1.kind()).collect();
        let send_at = plan.quiet.map_or(now, |q| q.next_allowed(now, &plan.zone));
        let mut decided: Vec<(Message, &Member)> = Vec::with_capacity(page.len());
        for member in &page {
            let recipient = Recipient {
                blocked: member.status == MemberStatus::Blocked,
                has_phone: member.profile.phone.is_some(),
                has_email: member.profile.email.is_some(),
                consent: member.profile.consent,
                unsubscribed: unsubscribed
                    .get(member.id.as_str())
                    .map(|chs| chs.iter().filter_map(|c| kind_of(c)).collect())
                    .unwrap_or_default(),
            };
            let mut message = new_message(plan, member, now);
            match rules::route(&kinds, &recipient, plan.purpose) {
                Err(why) => suppress(&mut message, why),
                Ok(_)
                    if plan.purpose == Purpose::Advertising
                        && recent.get(member.id.as_str()).copied().unwrap_or(0)
                            >= plan.weekly_cap =>
                {
                    suppress(&mut message, Suppressed::FrequencyCap)
                }
                Ok(route) => {
                    let hops: Vec<Value> = route
                        .iter()
                        .map(|&i| {
                            let (id, kind, _, _) = &plan.channels[i];
                            json!([i, id, address(member, *kind)])
                        })
                        .collect();
                    let (first, rest) = hops.split_first().expect("a route has a channel");
                    message.channel_id = first[1].as_str().map(str::to_string);
                    message.channel_type = Some(plan.channels[route[0]].1.as_str().to_string());
                    message.to = first[2].as_str().map(str::to_string);
                    message.fallbacks = (!rest.is_empty()).then(|| Value::Array(rest.to_vec()));
                    message.next_attempt_at = Some(send_at);
                    message.reason = Some(route[0].to_string());
                }
            }
            decided.push((message, member));
        }
        // One voucher code of its own for each recipient.
        let mut codes: HashMap<String, String> = HashMap::new();
        if let Some(program) = &plan.program {
            let wanted: Vec<&str> = decided
                .iter()
                .filter(|(m, _)| m.status == MessageStatus::Queued)
                .map(|(_, member)| member.id.as_str())
                .collect();
            let mut rounds = 0;
            while codes.len() < wanted.len() {
                rounds += 1;
                if rounds > 20 {
                    return Err(AppError::Internal(anyhow::anyhow!(
                        "could not find free voucher codes; lengthen the program's codes"
                    )));
                }
                let draws: Vec<(String, String)> = wanted
                    .iter()
                    .filter(|m| !codes.contains_key(**m))
                    .map(|m| {
                        (
                            format!(
                                "{}{}",
                                program.code_prefix,
                                loyalty_core::code::random_code(program.code_length as usize)
                            ),
                            m.to_string(),
                        )
                    })
                    .collect();
                for (code, member) in vouchers::insert_member_codes(
                    sql,
                    tenant_id,
                    &program.id,
                    &draws,
                    "campaign",
                    now,
                )? {
                    codes.insert(member, code);
                }
            }
            let raised: Vec<_> = codes
                .iter()
                .map(|(member, code)| {
                    crate::vouchers::issued_event(
                        code,
                        Some(&program.id),
                        Some(member),
                        program.valid_until,
                    )
                })
                .collect();
            crate::events::raise(sql, tenant_id, now, &raised)?;
        }
        let renderer = Renderer::new(plan.zone.clone());
        let mut messages = Vec::with_capacity(decided.len());
        for (mut message, member) in decided {
            if message.status == MessageStatus::Queued {
                let index: usize = message
                    .reason
                    .take()
                    .and_then(|r| r.parse().ok())
                    .unwrap_or(0);
                message.voucher_code = codes.get(member.id.as_str()).cloned();
                let context = self.recipient_context(plan, member, &message);
                match plan.channels[index]
                    .2
                    .render(&renderer, &context, "template")
                {
                    Ok(rendered) => {
                        let mut rendered = rendered.for_purpose(plan.purpose);
                        if plan.track_email {
                            rendered = self.tracked(tenant_id, &message.id, rendered);
                        }
                        message.body = serde_json::to_value(&rendered).ok();
                        if message.fallbacks.is_some() {
                            message.context = Some(context);
                        }
                    }
                    Err(invalid) => {
                        message.status = MessageStatus::Failed;
                        message.next_attempt_at = None;
                        message.reason = Some(format!("template: {invalid}"));
                    }
                }
            }
            messages.push(message);
        }
        store::insert_messages(sql, tenant_id, &messages)?;
        campaign.audience_after = page.last().map(|m| m.id.to_string()).or(after);
        campaign.audience_count += page.len() as i64;
        campaign.audience_done = !more;
        campaign.updated_at = now;
        store::update_campaign(sql, tenant_id, &campaign)?;
        Ok(!more)
    }

    /// The template variables of one recipient.
    pub(crate) fn recipient_context(
        &self,
        plan: &Plan,
        member: &Member,
        message: &Message,
    ) -> Value {
        let tier = member
            .tier_id
            .as_ref()
            .and_then(|id| plan.tiers.get(id))
            .map(String::as_str);
        let voucher = message
            .voucher_code
            .as_deref()
            .map(|code| (code, plan.program.as_ref().and_then(|p| p.valid_until)));
        crate::campaigns::member_context(
            &plan.shop,
            member,
            tier,
            voucher,
            &self.unsubscribe_link(&plan.tenant_id, &message.id),
            "",
        )
    }
}

fn new_message(plan: &Plan, member: &Member, now: Timestamp) -> Message {
    Message {
        campaign_id: Some(plan.campaign_id.clone()),
        member_id: Some(member.id.to_string()),
        ..Message::new(new_id("msg"), plan.purpose, now)
    }
}

pub(crate) fn suppress(message: &mut Message, why: Suppressed) {
    message.status = MessageStatus::Suppressed;
    message.reason = Some(
        match why {
            Suppressed::Blocked => "blocked",
            Suppressed::NoAddress => "no_address",
            Suppressed::Unsubscribed => "unsubscribed",
            Suppressed::NoConsent => "no_consent",
            Suppressed::FrequencyCap => "frequency_cap",
        }
        .to_string(),
    );
}

/// The consent history's channel names.
pub(crate) fn kind_of(channel: &str) -> Option<ChannelKind> {
    match channel {
        "email" => Some(ChannelKind::Email),
        "sms" => Some(ChannelKind::Sms),
        "zalo" => Some(ChannelKind::Zalo),
        _ => None,
    }
}

/// The member's address for a channel of `kind`.
pub(crate) fn address(member: &Member, kind: ChannelType) -> Option<String> {
    match kind.kind() {
        ChannelKind::Email => member
            .profile
            .email
            .as_ref()
            .map(|e| e.as_str().to_string()),
        ChannelKind::Sms | ChannelKind::Zalo => member
            .profile
            .phone
            .as_ref()
            .map(|p| p.as_str().to_string()),
    }
}

/// A campaign's message rendered for one member of its audience, per channel.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    pub member_id: Option<String>,
    pub member_name: Option<String>,
    /// (channel name, channel type, the message or why it does not render).
    pub channels: Vec<(
        String,
        String,
        Result<loyalty_messaging::template::Rendered, String>,
    )>,
}

impl App {
    /// The campaign's templates rendered for the first member of its audience (the sample
    /// member when the audience is empty), as the wizard shows before the launch.
    pub async fn campaign_preview(&self, ctx: &Ctx, id: String) -> AppResult<Preview> {
        ctx.require(Access::Read)?;
        let campaign = self.load_campaign(&ctx.tenant_id, &id).await?;
        let info = self.tenant(ctx).await?;
        let plan = self.plan(&ctx.tenant_id, &campaign).await?;
        let tenant_id = ctx.tenant_id.to_string();
        let first = match &plan.compiled {
            Some(compiled) => {
                let compiled = compiled.clone();
                self.db
                    .read(move |sql| {
                        loyalty_store::repo::segments::members(
                            sql,
                            &compiled,
                            &Page {
                                after: None,
                                limit: 1,
                            },
                        )
                    })
                    .await?
                    .items
                    .into_iter()
                    .next()
            }
            None => {
                let ids = plan.listed.clone();
                self.db
                    .read(move |sql| {
                        let refs: Vec<&str> = ids.iter().take(50).map(String::as_str).collect();
                        loyalty_store::repo::members::get_many(sql, &tenant_id, &refs)
                    })
                    .await?
                    .into_iter()
                    .min_by(|a, b| a.id.cmp(&b.id))
            }
        };
        let renderer = Renderer::new(info.zone.clone());
        let message = Message {
            campaign_id: Some(campaign.id.clone()),
            voucher_code: plan
                .program
                .as_ref()
                .map(|p| format!("{}XXXXXX", p.code_prefix)),
            test: true,
            ..Message::new("msg_preview".into(), campaign.purpose, self.now())
        };
        let context = match &first {
            Some(member) => self.recipient_context(&plan, member, &message),
            None => crate::campaigns::sample_context(&info.tenant.name, None),
        };
        let mut channels = Vec::new();
        for (channel_id, kind, template, _) in &plan.channels {
            let name = self
                .load_channel(&ctx.tenant_id, channel_id)
                .await
                .map(|o| o.channel.name)
                .unwrap_or_default();
            let rendered = template
                .render(&renderer, &context, "template")
                .map(|r| r.for_purpose(campaign.purpose))
                .map_err(|e| e.to_string());
            channels.push((name, kind.as_str().to_string(), rendered));
        }
        Ok(Preview {
            member_id: first.as_ref().map(|m| m.id.to_string()),
            member_name: first.and_then(|m| m.profile.name),
            channels,
        })
    }
}
