//! Campaigns (API.md "Campaigns"): a draft with its audience, its ordered channels and their
//! templates (each rendered for a sample member when saved, so a mistake is named then), a
//! test send, the launch and the cancel. Writing the audience (and the preview) is
//! `campaign_audience`; sending is `message_sender`; the report is `campaign_results`.

use jiff::Timestamp;
use loyalty_core::Invalid;
use loyalty_core::campaign::{Audience, Campaign, CampaignChannel, CampaignStatus, Message};
use loyalty_core::id::new_id;
use loyalty_core::member::Member;
use loyalty_core::messaging::{ChannelKind, Purpose};
use loyalty_core::tenancy::Access;
use loyalty_core::voucher::CodeKind;
use loyalty_messaging::provider::ChannelType;
use loyalty_messaging::template::{Renderer, Template};
use loyalty_store::repo::messaging as store;
use loyalty_store::repo::vouchers;
use loyalty_store::{Page, Paged};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::activity::{Change, record};
use crate::channels::TestSend;
use crate::{App, AppError, AppResult, Ctx};

/// Most channels a campaign may fall back through.
const MAX_CHANNELS: usize = 5;
/// Most members a campaign may list by id.
pub const MAX_LISTED_MEMBERS: usize = 10_000;
/// Most addresses of one test send.
const MAX_TEST_ADDRESSES: usize = 10;

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CampaignIn {
    pub name: String,
    pub audience: Audience,
    pub channels: Vec<CampaignChannel>,
    #[serde(default)]
    pub voucher_program_id: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub send_at: Option<Timestamp>,
    #[serde(default)]
    pub attribution_days: Option<i64>,
    /// `advertising` (the default) or `customer_care`.
    #[serde(default)]
    pub purpose: Option<String>,
    /// Count e-mail opens and clicks through our pixel and redirect.
    #[serde(default)]
    pub track_email: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CampaignPatch {
    pub name: Option<String>,
    pub audience: Option<Audience>,
    pub channels: Option<Vec<CampaignChannel>>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub voucher_program_id: Option<Option<String>>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub send_at: Option<Option<Timestamp>>,
    pub attribution_days: Option<i64>,
    pub purpose: Option<String>,
    pub track_email: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CampaignView {
    pub id: String,
    pub name: String,
    pub status: CampaignStatus,
    pub purpose: String,
    pub audience: Audience,
    pub channels: Vec<CampaignChannel>,
    pub voucher_program_id: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub send_at: Option<Timestamp>,
    pub attribution_days: i64,
    pub track_email: bool,
    /// Members written into messages so far (the whole audience once sending started).
    pub audience_count: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub launched_at: Option<Timestamp>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub started_at: Option<Timestamp>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub finished_at: Option<Timestamp>,
}

impl From<&Campaign> for CampaignView {
    fn from(c: &Campaign) -> Self {
        CampaignView {
            id: c.id.clone(),
            name: c.name.clone(),
            status: c.status,
            purpose: c.purpose.as_str().to_string(),
            audience: c.audience.clone(),
            channels: c.channels.clone(),
            voucher_program_id: c.voucher_program_id.clone(),
            send_at: c.send_at,
            attribution_days: c.attribution_days,
            track_email: c.track_email,
            audience_count: c.audience_count,
            created_at: c.created_at,
            launched_at: c.launched_at,
            started_at: c.started_at,
            finished_at: c.finished_at,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CampaignTestIn {
    pub to: Vec<String>,
}

/// An address for a channel of `kind`: a phone in E.164, or an e-mail.
pub(crate) fn address_for(kind: ChannelType, input: &str, field: &str) -> AppResult<String> {
    match kind.kind() {
        ChannelKind::Email => loyalty_core::email::Email::parse(input)
            .map(|e| e.as_str().to_string())
            .map_err(|_| AppError::invalid(field, "invalid", "an e-mail address")),
        ChannelKind::Sms | ChannelKind::Zalo => loyalty_core::phone::Phone::parse(input)
            .map(|p| p.as_str().to_string())
            .map_err(|_| AppError::invalid(field, "invalid", "a phone number")),
    }
}

pub(crate) fn parse_template(kind: ChannelType, value: &Value, field: &str) -> AppResult<Template> {
    Template::parse(kind.kind(), value, field).map_err(AppError::Invalid)
}

/// The given name: the last word of a Vietnamese full name ("Nguyễn Thị Lan" → "Lan").
pub(crate) fn first_name(name: &str) -> &str {
    name.split_whitespace().last().unwrap_or(name)
}

/// Template variables for a member (API.md): the member, their voucher, the shop, the links.
pub(crate) fn member_context(
    shop: &str,
    member: &Member,
    tier: Option<&str>,
    voucher: Option<(&str, Option<Timestamp>)>,
    unsubscribe_url: &str,
    portal_url: &str,
) -> Value {
    let name = member.profile.name.clone().unwrap_or_default();
    json!({
        "member": {
            "first_name": first_name(&name),
            "name": name,
            "points": member.points_available,
            "tier": tier.unwrap_or(""),
            "member_code": member.member_code,
            "points_expiring": 0,
            "points_expiring_at": null,
        },
        "voucher": match voucher {
            Some((code, until)) => json!({"code": code, "valid_until": until.map(|t| t.to_string())}),
            None => json!({"code": "", "valid_until": null}),
        },
        "shop": {"name": shop},
        "unsubscribe_url": unsubscribe_url,
        "portal_url": portal_url,
    })
}

/// The sample member templates are checked with, and test sends carry.
pub(crate) fn sample_context(shop: &str, voucher_until: Option<Timestamp>) -> Value {
    json!({
        "member": {
            "first_name": "Lan",
            "name": "Nguyễn Thị Lan",
            "points": 1250,
            "tier": "Vàng",
            "member_code": "M000123",
            "points_expiring": 200,
            "points_expiring_at": "2026-12-31T16:59:59Z",
        },
        "voucher": {"code": "TRIAN-7K3Q", "valid_until": voucher_until.map(|t| t.to_string())},
        "shop": {"name": shop},
        "unsubscribe_url": "https://example.vn/u/sample",
        "portal_url": "https://example.vn/m/sample",
    })
}

impl App {
    /// Checks channels with their templates (each rendered for the sample member) and a voucher
    /// program of unique codes, naming fields under `prefix` and `program_field`; what is wrong,
    /// all at once. Campaigns and automations' `send` steps share it.
    pub(crate) async fn check_sends(
        &self,
        ctx: &Ctx,
        wanted: &[CampaignChannel],
        prefix: &str,
        program_id: Option<&str>,
        program_field: &str,
    ) -> AppResult<Invalid> {
        let mut errors = Invalid::default();
        let info = self.tenant(ctx).await?;
        let renderer = Renderer::new(info.zone.clone());
        let sample = sample_context(&info.tenant.name, None);
        let tenant_id = ctx.tenant_id.to_string();
        let ids: Vec<String> = wanted.iter().map(|ch| ch.channel_id.clone()).collect();
        let program_id = program_id.map(str::to_string);
        let (channels, program) = self
            .db
            .read(move |sql| {
                let mut found = Vec::with_capacity(ids.len());
                for id in &ids {
                    found.push(store::get_channel(sql, &tenant_id, id)?);
                }
                let program = match &program_id {
                    Some(id) => vouchers::get_program(sql, &tenant_id, id)?.map(Some),
                    None => Some(None),
                };
                Ok::<_, AppError>((found, program))
            })
            .await?;
        for (i, (one, found)) in wanted.iter().zip(&channels).enumerate() {
            let at = format!("{prefix}[{i}]");
            let Some(channel) = found else {
                errors.push_coded(format!("{at}.channel_id"), "not_found", "no such channel");
                continue;
            };
            if wanted[..i].iter().any(|o| o.channel_id == one.channel_id) {
                errors.push_coded(format!("{at}.channel_id"), "duplicate", "listed twice");
            }
            let Some(kind) = ChannelType::parse(&channel.channel_type) else {
                continue;
            };
            match Template::parse(kind.kind(), &one.template, &format!("{at}.template")) {
                Ok(template) => {
                    if let Err(invalid) =
                        template.render(&renderer, &sample, &format!("{at}.template"))
                    {
                        errors.0.extend(invalid.0);
                    }
                }
                Err(invalid) => errors.0.extend(invalid.0),
            }
        }
        match program {
            None => errors.push_coded(program_field, "not_found", "no such voucher program"),
            Some(Some(p)) if p.code_kind != CodeKind::Unique => errors.push_coded(
                program_field,
                "voucher.shared_program",
                "each recipient gets a code of their own: choose a program of unique codes",
            ),
            Some(_) => {}
        }
        Ok(errors)
    }

    /// Checks a campaign's fields against the tenant's channels, segments and programs, and
    /// renders every template for the sample member; all mistakes at once.
    async fn check_campaign(&self, ctx: &Ctx, c: &Campaign) -> AppResult<()> {
        let mut errors = Invalid::default();
        if c.name.trim().is_empty() || c.name.chars().count() > 200 {
            errors.push_bounded("name", "length", (1, 200), "must have 1 to 200 characters");
        }
        if !(1..=90).contains(&c.attribution_days) {
            errors.push_bounded(
                "attribution_days",
                "out_of_range",
                (1, 90),
                "must be between 1 and 90",
            );
        }
        if c.channels.is_empty() || c.channels.len() > MAX_CHANNELS {
            errors.push_bounded(
                "channels",
                "length",
                (1, MAX_CHANNELS as i64),
                "list 1 to 5 channels, in the order to try them",
            );
        }
        let segment_id = match &c.audience {
            Audience::Segment { segment_id } => Some(segment_id.clone()),
            _ => None,
        };
        errors.0.extend(
            self.check_sends(
                ctx,
                &c.channels,
                "channels",
                c.voucher_program_id.as_deref(),
                "voucher_program_id",
            )
            .await?
            .0,
        );
        let tenant_id = ctx.tenant_id.to_string();
        let segment = match segment_id {
            Some(id) => Some(
                self.db
                    .read(move |sql| loyalty_store::repo::segments::get(sql, &tenant_id, &id))
                    .await?
                    .is_some(),
            ),
            None => None,
        };
        match &c.audience {
            Audience::Segment { .. } if segment == Some(false) => {
                errors.push_coded("audience.segment_id", "not_found", "no such segment")
            }
            Audience::Conditions { conditions } => {
                if let Err(AppError::Invalid(invalid)) = self.compile(ctx, conditions).await {
                    errors.0.extend(invalid.0);
                }
            }
            Audience::Members { member_ids }
                if member_ids.is_empty() || member_ids.len() > MAX_LISTED_MEMBERS =>
            {
                errors.push_bounded(
                    "audience.member_ids",
                    "length",
                    (1, MAX_LISTED_MEMBERS as i64),
                    "list 1 to 10,000 members",
                )
            }
            _ => {}
        }
        errors.into_result(|| ()).map_err(AppError::Invalid)
    }

    pub async fn create_campaign(&self, ctx: &Ctx, input: CampaignIn) -> AppResult<CampaignView> {
        ctx.require(Access::Admin)?;
        let purpose = match input.purpose.as_deref() {
            None => Purpose::Advertising,
            Some(p) => Purpose::parse(p).ok_or_else(|| {
                AppError::invalid("purpose", "invalid", "advertising or customer_care")
            })?,
        };
        let now = self.now();
        let campaign = Campaign {
            id: new_id("cmp"),
            name: input.name.trim().to_string(),
            status: CampaignStatus::Draft,
            purpose,
            audience: input.audience,
            channels: input.channels,
            voucher_program_id: input.voucher_program_id,
            send_at: input.send_at,
            attribution_days: input.attribution_days.unwrap_or(7),
            track_email: input.track_email.unwrap_or(false),
            audience_after: None,
            audience_done: false,
            audience_count: 0,
            created_at: now,
            updated_at: now,
            launched_at: None,
            started_at: None,
            finished_at: None,
        };
        self.check_campaign(ctx, &campaign).await?;
        let ctx2 = ctx.clone();
        self.db
            .write(move |sql| {
                store::insert_campaign(sql, &ctx2.tenant_id, &campaign)?;
                let view = CampaignView::from(&campaign);
                let change = Change {
                    entity: "campaign",
                    id: &campaign.id,
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
            .await
    }

    pub(crate) async fn load_campaign(&self, tenant_id: &str, id: &str) -> AppResult<Campaign> {
        let (tenant_id, id) = (tenant_id.to_string(), id.to_string());
        self.db
            .read(move |sql| store::get_campaign(sql, &tenant_id, &id))
            .await?
            .ok_or(AppError::NotFound { entity: "campaign" })
    }

    pub async fn campaign(&self, ctx: &Ctx, id: String) -> AppResult<CampaignView> {
        ctx.require(Access::Read)?;
        Ok(CampaignView::from(
            &self.load_campaign(&ctx.tenant_id, &id).await?,
        ))
    }

    pub async fn campaigns(&self, ctx: &Ctx, page: Page) -> AppResult<Paged<CampaignView>> {
        ctx.require(Access::Read)?;
        let tenant_id = ctx.tenant_id.to_string();
        let found = self
            .db
            .read(move |sql| store::list_campaigns(sql, &tenant_id, &page))
            .await?;
        Ok(found.map(|c| CampaignView::from(&c)))
    }

    pub async fn update_campaign(
        &self,
        ctx: &Ctx,
        id: String,
        patch: CampaignPatch,
    ) -> AppResult<CampaignView> {
        ctx.require(Access::Admin)?;
        let before = self.load_campaign(&ctx.tenant_id, &id).await?;
        let mut after = before.clone();
        if let Some(name) = patch.name {
            after.name = name.trim().to_string();
        }
        if let Some(audience) = patch.audience {
            after.audience = audience;
        }
        if let Some(channels) = patch.channels {
            after.channels = channels;
        }
        if let Some(program) = patch.voucher_program_id {
            after.voucher_program_id = program;
        }
        if let Some(send_at) = patch.send_at {
            after.send_at = send_at;
        }
        if let Some(days) = patch.attribution_days {
            after.attribution_days = days;
        }
        if let Some(purpose) = patch.purpose {
            after.purpose = Purpose::parse(&purpose).ok_or_else(|| {
                AppError::invalid("purpose", "invalid", "advertising or customer_care")
            })?;
        }
        if let Some(track) = patch.track_email {
            after.track_email = track;
        }
        self.check_campaign(ctx, &after).await?;
        let now = self.now();
        after.updated_at = now;
        let ctx2 = ctx.clone();
        self.db
            .write(move |sql| {
                let current = store::get_campaign_for_update(sql, &ctx2.tenant_id, &id)?
                    .ok_or(AppError::NotFound { entity: "campaign" })?;
                if current.status != CampaignStatus::Draft {
                    return Err(not_draft());
                }
                store::update_campaign(sql, &ctx2.tenant_id, &after)?;
                let view = CampaignView::from(&after);
                let change = Change {
                    entity: "campaign",
                    id: &after.id,
                    action: "update",
                };
                record(
                    sql,
                    &ctx2,
                    now,
                    change,
                    serde_json::to_value(CampaignView::from(&before)).ok(),
                    serde_json::to_value(&view).ok(),
                )?;
                Ok(view)
            })
            .await
    }

    /// `draft` → `scheduled` (a `send_at` ahead) or `sending`; the audience is written by the
    /// queue runner when sending starts.
    pub async fn launch_campaign(&self, ctx: &Ctx, id: String) -> AppResult<CampaignView> {
        ctx.require(Access::Admin)?;
        let campaign = self.load_campaign(&ctx.tenant_id, &id).await?;
        // The channels and templates are checked again: a channel may have gone since.
        self.check_campaign(ctx, &campaign).await?;
        let now = self.now();
        let ctx2 = ctx.clone();
        let view = self
            .db
            .write(move |sql| {
                let mut c = store::get_campaign_for_update(sql, &ctx2.tenant_id, &id)?
                    .ok_or(AppError::NotFound { entity: "campaign" })?;
                if c.status != CampaignStatus::Draft {
                    return Err(not_draft());
                }
                c.launched_at = Some(now);
                c.updated_at = now;
                match c.send_at {
                    Some(at) if at > now => c.status = CampaignStatus::Scheduled,
                    _ => {
                        c.status = CampaignStatus::Sending;
                        c.started_at = Some(now);
                    }
                }
                store::update_campaign(sql, &ctx2.tenant_id, &c)?;
                let change = Change {
                    entity: "campaign",
                    id: &c.id,
                    action: "launch",
                };
                let view = CampaignView::from(&c);
                record(
                    sql,
                    &ctx2,
                    now,
                    change,
                    None,
                    serde_json::to_value(&view).ok(),
                )?;
                Ok(view)
            })
            .await?;
        self.wake_queue();
        Ok(view)
    }

    /// Stops what has not been sent: a scheduled campaign never starts, a sending one's queued
    /// messages are cancelled (one being sent right now completes).
    pub async fn cancel_campaign(&self, ctx: &Ctx, id: String) -> AppResult<CampaignView> {
        ctx.require(Access::Admin)?;
        let now = self.now();
        let ctx2 = ctx.clone();
        self.db
            .write(move |sql| {
                let mut c = store::get_campaign_for_update(sql, &ctx2.tenant_id, &id)?
                    .ok_or(AppError::NotFound { entity: "campaign" })?;
                if matches!(
                    c.status,
                    CampaignStatus::Finished | CampaignStatus::Cancelled
                ) {
                    return Err(AppError::conflict(
                        "campaign.over",
                        "status",
                        format!("the campaign is already {}", c.status.as_str()),
                    ));
                }
                c.status = CampaignStatus::Cancelled;
                c.finished_at = Some(now);
                c.updated_at = now;
                store::update_campaign(sql, &ctx2.tenant_id, &c)?;
                let stopped = store::cancel_queued(sql, &ctx2.tenant_id, &c.id)?;
                let change = Change {
                    entity: "campaign",
                    id: &c.id,
                    action: "cancel",
                };
                record(
                    sql,
                    &ctx2,
                    now,
                    change,
                    None,
                    Some(json!({"messages_cancelled": stopped})),
                )?;
                Ok(CampaignView::from(&c))
            })
            .await
    }

    /// "Tin nháp": the campaign's first channel that fits each address sends it now with the
    /// sample member's data, marked test and counted nowhere.
    pub async fn test_campaign(
        &self,
        ctx: &Ctx,
        id: String,
        input: CampaignTestIn,
    ) -> AppResult<Vec<TestSend>> {
        ctx.require(Access::Admin)?;
        if input.to.is_empty() || input.to.len() > MAX_TEST_ADDRESSES {
            return Err(AppError::Invalid(Invalid::one_bounded(
                "to",
                "length",
                (1, MAX_TEST_ADDRESSES as i64),
                "list 1 to 10 phone numbers or e-mail addresses",
            )));
        }
        let campaign = self.load_campaign(&ctx.tenant_id, &id).await?;
        let info = self.tenant(ctx).await?;
        let renderer = Renderer::new(info.zone.clone());
        let sample = sample_context(&info.tenant.name, None);
        let mut channels = Vec::new();
        for c in &campaign.channels {
            channels.push((c, self.load_channel(&ctx.tenant_id, &c.channel_id).await?));
        }
        let mut answers = Vec::with_capacity(input.to.len());
        for (i, address) in input.to.iter().enumerate() {
            let field = format!("to[{i}]");
            let is_email = address.contains('@');
            let Some((wanted, open)) = channels
                .iter()
                .find(|(_, open)| (open.kind.kind() == ChannelKind::Email) == is_email)
            else {
                return Err(AppError::invalid(
                    field,
                    "no_channel",
                    "none of the campaign's channels sends to this kind of address",
                ));
            };
            let to = address_for(open.kind, address, &field)?;
            let template = parse_template(open.kind, &wanted.template, "template")?;
            let content = template
                .render(&renderer, &sample, "template")
                .map_err(AppError::Invalid)?
                .for_purpose(campaign.purpose);
            let message = Message {
                campaign_id: Some(campaign.id.clone()),
                ..Message::test_send(
                    new_id("msg"),
                    campaign.purpose,
                    &open.channel,
                    to,
                    serde_json::to_value(&content).ok(),
                    self.now(),
                )
            };
            let reopened = self.open_channel(open.channel.clone())?;
            answers.push(self.send_now(&ctx.tenant_id, reopened, message).await?);
        }
        Ok(answers)
    }
}

fn not_draft() -> AppError {
    AppError::conflict(
        "campaign.not_draft",
        "status",
        "only a draft campaign can be changed or launched",
    )
}
