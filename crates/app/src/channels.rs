//! Channels: the providers a shop sends through (API.md "Channels and messages"), their
//! secrets sealed at rest and never shown again, a test send, and Zalo's token refresh.

use std::collections::BTreeMap;

use jiff::Timestamp;
use loyalty_core::Invalid;
use loyalty_core::campaign::{Channel, Message, MessageStatus};
use loyalty_core::id::new_id;
use loyalty_core::messaging::Purpose;
use loyalty_core::tenancy::Access;
use loyalty_messaging::provider::{self, ChannelType, Outcome, Outgoing, Secrets};
use loyalty_messaging::template::Rendered;
use loyalty_store::repo::messaging as store;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::activity::{Change, record};
use crate::{App, AppError, AppResult, Ctx};

/// The secret eSMS and Vietguys carry back in the delivery report URL (they sign nothing).
const CALLBACK_SECRET: &str = "callback_secret";
/// How a secret reads back.
const MASK: &str = "••••";

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ChannelIn {
    #[serde(rename = "type")]
    pub channel_type: String,
    pub name: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub settings: Value,
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ChannelPatch {
    pub name: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub settings: Option<Value>,
    /// Secrets to replace (those not named are kept); an empty value removes one.
    pub secrets: Option<BTreeMap<String, String>>,
    pub active: Option<bool>,
}

/// A channel as the API shows it: its secrets masked.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChannelView {
    pub id: String,
    #[serde(rename = "type")]
    pub channel_type: String,
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub settings: Value,
    pub secrets: BTreeMap<String, String>,
    pub active: bool,
    pub last_error: Option<String>,
    /// Where the provider sends delivery reports (give it to eSMS per message, to Vietguys,
    /// Zalo, SendGrid and Mailgun in their consoles).
    pub callback_url: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: Timestamp,
}

/// A test send's answer.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TestSend {
    pub message_id: String,
    pub status: MessageStatus,
    pub provider_message_id: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TestIn {
    pub to: String,
    /// The template to send (a ZNS channel needs one: Zalo sends approved templates only).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub template: Option<Value>,
}

/// A channel with its secrets opened, ready to send.
pub(crate) struct Open {
    pub channel: Channel,
    pub kind: ChannelType,
    pub secrets: Secrets,
}

impl App {
    fn view(&self, channel: &Channel, secrets: &Secrets) -> ChannelView {
        let kind = ChannelType::parse(&channel.channel_type);
        let mut masked = BTreeMap::new();
        for name in kind.map(ChannelType::secret_names).unwrap_or_default() {
            if secrets.get(*name).is_some_and(|v| !v.is_empty()) {
                masked.insert(name.to_string(), MASK.to_string());
            }
        }
        ChannelView {
            id: channel.id.clone(),
            channel_type: channel.channel_type.clone(),
            name: channel.name.clone(),
            settings: channel.settings.clone(),
            secrets: masked,
            active: channel.active,
            last_error: channel.last_error.clone(),
            callback_url: self.callback_url(channel, secrets),
            created_at: channel.created_at,
            updated_at: channel.updated_at,
        }
    }

    /// `/hooks/messages/{id}`, with the channel's secret for the providers that sign nothing.
    pub(crate) fn callback_url(&self, channel: &Channel, secrets: &Secrets) -> String {
        let path = format!("/hooks/messages/{}", channel.id);
        match ChannelType::parse(&channel.channel_type) {
            Some(ChannelType::SmsEsms | ChannelType::SmsVietguys) => self.public_link(&format!(
                "{path}?k={}",
                secrets
                    .get(CALLBACK_SECRET)
                    .map(String::as_str)
                    .unwrap_or("")
            )),
            _ => self.public_link(&path),
        }
    }

    pub(crate) fn open_channel(&self, channel: Channel) -> AppResult<Open> {
        let kind = ChannelType::parse(&channel.channel_type).ok_or_else(|| {
            AppError::Internal(anyhow::anyhow!(
                "unknown channel type {}",
                channel.channel_type
            ))
        })?;
        let secrets: Secrets = serde_json::from_str(&self.open_secret(&channel.secrets_sealed)?)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("channel secrets: {e}")))?;
        Ok(Open {
            channel,
            kind,
            secrets,
        })
    }

    pub async fn create_channel(&self, ctx: &Ctx, input: ChannelIn) -> AppResult<ChannelView> {
        ctx.require(Access::Admin)?;
        let mut errors = Invalid::default();
        let kind = ChannelType::parse(&input.channel_type);
        if kind.is_none() {
            errors.push_coded(
                "type",
                "invalid",
                "one of email_smtp, email_sendgrid, email_mailgun, sms_esms, sms_vietguys, zalo_zns",
            );
        }
        let name = errors.label("name", &input.name);
        let settings = if input.settings.is_null() {
            Value::Object(Default::default())
        } else {
            input.settings
        };
        if let Some(kind) = kind
            && let Err(invalid) = provider::validate(kind, &settings, &input.secrets)
        {
            errors.0.extend(invalid.0);
        }
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        let mut secrets = input.secrets;
        secrets.insert(CALLBACK_SECRET.into(), loyalty_core::code::random_code(32));
        let now = self.now();
        let (app, ctx2) = (self.clone(), ctx.clone());
        self.db
            .write(move |sql| {
                let channel = Channel {
                    id: new_id("chn"),
                    channel_type: input.channel_type.clone(),
                    name: name.clone(),
                    settings: settings.clone(),
                    secrets_sealed: app
                        .seal_in(sql, &serde_json::to_string(&secrets).unwrap_or_default())?,
                    active: true,
                    last_error: None,
                    created_at: now,
                    updated_at: now,
                };
                store::insert_channel(sql, &ctx2.tenant_id, &channel)?;
                let view = app.view(&channel, &secrets);
                let change = Change {
                    entity: "channel",
                    id: &channel.id,
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

    pub async fn channel(&self, ctx: &Ctx, id: String) -> AppResult<ChannelView> {
        ctx.require(Access::Admin)?;
        let open = self.load_channel(&ctx.tenant_id, &id).await?;
        Ok(self.view(&open.channel, &open.secrets))
    }

    pub(crate) async fn load_channel(&self, tenant_id: &str, id: &str) -> AppResult<Open> {
        let (tenant_id, id) = (tenant_id.to_string(), id.to_string());
        let channel = self
            .db
            .read(move |sql| store::get_channel(sql, &tenant_id, &id))
            .await?
            .ok_or(AppError::NotFound { entity: "channel" })?;
        self.open_channel(channel)
    }

    pub async fn channels(&self, ctx: &Ctx) -> AppResult<Vec<ChannelView>> {
        ctx.require(Access::Admin)?;
        let tenant_id = ctx.tenant_id.to_string();
        let all = self
            .db
            .read(move |sql| store::list_channels(sql, &tenant_id))
            .await?;
        all.into_iter()
            .map(|c| {
                let open = self.open_channel(c)?;
                Ok(self.view(&open.channel, &open.secrets))
            })
            .collect()
    }

    pub async fn update_channel(
        &self,
        ctx: &Ctx,
        id: String,
        patch: ChannelPatch,
    ) -> AppResult<ChannelView> {
        ctx.require(Access::Admin)?;
        let now = self.now();
        let (app, ctx2) = (self.clone(), ctx.clone());
        self.db
            .write(move |sql| {
                let before = store::get_channel(sql, &ctx2.tenant_id, &id)?
                    .ok_or(AppError::NotFound { entity: "channel" })?;
                let open = app.open_channel(before.clone())?;
                let mut after = before.clone();
                let mut secrets = open.secrets.clone();
                let mut errors = Invalid::default();
                if let Some(name) = &patch.name {
                    after.name = errors.label("name", name);
                }
                if let Some(settings) = &patch.settings {
                    after.settings = settings.clone();
                }
                if let Some(changes) = &patch.secrets {
                    for (name, value) in changes {
                        if value.is_empty() {
                            secrets.remove(name);
                        } else {
                            secrets.insert(name.clone(), value.clone());
                        }
                    }
                }
                if let Some(active) = patch.active {
                    after.active = active;
                    if active {
                        after.last_error = None;
                    }
                }
                let mut given = secrets.clone();
                given.remove(CALLBACK_SECRET);
                if let Err(invalid) = provider::validate(open.kind, &after.settings, &given) {
                    errors.0.extend(invalid.0);
                }
                if !errors.is_empty() {
                    return Err(AppError::Invalid(errors));
                }
                if patch.secrets.is_some() {
                    after.secrets_sealed =
                        app.seal_in(sql, &serde_json::to_string(&secrets).unwrap_or_default())?;
                }
                after.updated_at = now;
                store::update_channel(sql, &ctx2.tenant_id, &after)?;
                let view_before = app.view(&before, &open.secrets);
                let view = app.view(&after, &secrets);
                let change = Change {
                    entity: "channel",
                    id: &after.id,
                    action: "update",
                };
                record(
                    sql,
                    &ctx2,
                    now,
                    change,
                    serde_json::to_value(&view_before).ok(),
                    serde_json::to_value(&view).ok(),
                )?;
                Ok(view)
            })
            .await
    }

    pub async fn delete_channel(&self, ctx: &Ctx, id: String) -> AppResult<()> {
        ctx.require(Access::Admin)?;
        let now = self.now();
        let ctx2 = ctx.clone();
        self.db
            .write(move |sql| {
                store::get_channel(sql, &ctx2.tenant_id, &id)?
                    .ok_or(AppError::NotFound { entity: "channel" })?;
                if !store::delete_channel(sql, &ctx2.tenant_id, &id)? {
                    return Err(AppError::conflict(
                        "channel_in_use",
                        "id",
                        "messages were sent through this channel: switch it off instead (active: false)",
                    ));
                }
                let change = Change {
                    entity: "channel",
                    id: &id,
                    action: "delete",
                };
                record(sql, &ctx2, now, change, None, None)?;
                Ok(())
            })
            .await
    }

    /// Sends a test message now (transactional: no quiet hours, no cap, no consent) and
    /// returns the provider's answer; it is logged in `messages` as a test.
    pub async fn test_channel(&self, ctx: &Ctx, id: String, input: TestIn) -> AppResult<TestSend> {
        ctx.require(Access::Admin)?;
        let open = self.load_channel(&ctx.tenant_id, &id).await?;
        let info = self.tenant(ctx).await?;
        let to = crate::campaigns::address_for(open.kind, &input.to, "to")?;
        let content = match &input.template {
            Some(template) => {
                let template = crate::campaigns::parse_template(open.kind, template, "template")?;
                let renderer = loyalty_messaging::template::Renderer::new(info.zone.clone());
                let sample = crate::campaigns::sample_context(&info.tenant.name, None);
                template
                    .render(&renderer, &sample, "template")
                    .map_err(AppError::Invalid)?
            }
            None => default_test_content(open.kind, &info.tenant.name)?,
        };
        let message = Message::test_send(
            new_id("msg"),
            Purpose::CustomerCare,
            &open.channel,
            to.clone(),
            serde_json::to_value(&content).ok(),
            self.now(),
        );
        self.send_now(&ctx.tenant_id, open, message).await
    }

    /// Sends one transactional message at once (test sends), recording it before the call
    /// and its outcome after.
    pub(crate) async fn send_now(
        &self,
        tenant_id: &str,
        mut open: Open,
        mut message: Message,
    ) -> AppResult<TestSend> {
        let tenant = tenant_id.to_string();
        let first = message.clone();
        self.db
            .write(move |sql| store::insert_messages(sql, &tenant, std::slice::from_ref(&first)))
            .await?;
        let content: Rendered = serde_json::from_value(message.body.clone().unwrap_or_default())
            .map_err(|e| AppError::Internal(anyhow::anyhow!("message body: {e}")))?;
        let outgoing = Outgoing {
            reference: message.id.clone(),
            to: message.to.clone().unwrap_or_default(),
            name: None,
            content,
            callback_url: Some(self.callback_url(&open.channel, &open.secrets)),
        };
        let mut outcome = self.send_through(&open, &outgoing).await;
        if matches!(outcome, Outcome::TokenExpired(_)) {
            open = self.refresh_zalo_token(tenant_id, open).await?;
            outcome = self.send_through(&open, &outgoing).await;
        }
        let now = self.now();
        let error = match &outcome {
            Outcome::Sent { provider_id } => {
                message.status = MessageStatus::Sent;
                message.provider_message_id = provider_id.clone();
                message.sent_at = Some(now);
                None
            }
            Outcome::Permanent(why)
            | Outcome::Temporary(why)
            | Outcome::Unknown(why)
            | Outcome::TokenExpired(why) => {
                message.status = MessageStatus::Failed;
                message.reason = Some(why.clone());
                Some(why.clone())
            }
        };
        let (tenant, saved) = (tenant_id.to_string(), message.clone());
        self.db
            .write(move |sql| store::save_message(sql, &tenant, &saved))
            .await?;
        Ok(TestSend {
            message_id: message.id,
            status: message.status,
            provider_message_id: message.provider_message_id,
            error,
        })
    }

    pub(crate) async fn send_through(&self, open: &Open, outgoing: &Outgoing) -> Outcome {
        match provider::build(
            open.kind,
            &open.channel.settings,
            &open.secrets,
            &self.outbound.providers,
        ) {
            Ok(adapter) => adapter.send(outgoing).await,
            Err(invalid) => Outcome::Permanent(format!("channel settings: {invalid}")),
        }
    }

    /// Trades Zalo's single-use refresh token for a new pair and stores it — only if no one
    /// else did meanwhile (then their pair is used).
    pub(crate) async fn refresh_zalo_token(&self, tenant_id: &str, open: Open) -> AppResult<Open> {
        let settings: provider::zns::Settings =
            serde_json::from_value(open.channel.settings.clone())
                .map_err(|e| AppError::Internal(anyhow::anyhow!("ZNS settings: {e}")))?;
        let secret = |name: &str| open.secrets.get(name).cloned().unwrap_or_default();
        let tokens = match provider::zns::refresh(
            &self.outbound.providers,
            &settings,
            &secret("app_secret"),
            &secret("refresh_token"),
        )
        .await
        {
            Ok(tokens) => tokens,
            Err(why) => {
                let (tenant, id) = (tenant_id.to_string(), open.channel.id.clone());
                let said = why.clone();
                self.db
                    .write(move |sql| store::set_channel_error(sql, &tenant, &id, Some(&said)))
                    .await?;
                // The reloaded channel may hold a pair another instance refreshed.
                return self.load_channel(tenant_id, &open.channel.id).await;
            }
        };
        let mut secrets = open.secrets.clone();
        secrets.insert("access_token".into(), tokens.access_token);
        secrets.insert("refresh_token".into(), tokens.refresh_token);
        let (app, tenant, id, before) = (
            self.clone(),
            tenant_id.to_string(),
            open.channel.id.clone(),
            open.channel.secrets_sealed.clone(),
        );
        let now = self.now();
        let sealed_text = serde_json::to_string(&secrets).unwrap_or_default();
        self.db
            .write(move |sql| {
                let after = app.seal_in(sql, &sealed_text)?;
                store::swap_secrets(sql, &tenant, &id, &before, &after, now)?;
                store::set_channel_error(sql, &tenant, &id, None)?;
                Ok::<_, AppError>(())
            })
            .await?;
        self.load_channel(tenant_id, &open.channel.id).await
    }
}

fn default_test_content(kind: ChannelType, shop: &str) -> AppResult<Rendered> {
    let text = format!("{shop}: tin nhắn thử từ chương trình khách hàng thân thiết.");
    Ok(match kind.kind() {
        loyalty_core::messaging::ChannelKind::Email => Rendered::Email {
            subject: format!("{shop}: thư thử"),
            html: format!("<p>{}</p>", loyalty_messaging::template::escape_html(&text)),
            text: Some(text),
        },
        loyalty_core::messaging::ChannelKind::Sms => Rendered::Sms {
            length: loyalty_messaging::sms::length(&text),
            text,
        },
        loyalty_core::messaging::ChannelKind::Zalo => {
            return Err(AppError::invalid(
                "template",
                "required",
                "Zalo sends approved templates only: give template_id and params",
            ));
        }
    })
}
