//! What comes back after a send: the providers' delivery reports at
//! `/hooks/messages/{channel}` (verified each provider's way before anything is read), the
//! unsubscribe link (`/u/{token}`, see `message_links`: consent for that channel off, recorded in the
//! consent history), and e-mail opens and clicks through our pixel and redirect.

use loyalty_core::campaign::{Message, MessageStatus};
use loyalty_core::clock::from_millis;
use loyalty_core::consent::ConsentSource;
use loyalty_core::messaging::ChannelKind;
use loyalty_core::tenancy::{Actor, ActorKind};
use loyalty_messaging::provider::{self, Callback, CallbackRefusal, ReportEvent};
use loyalty_store::repo::{members, messaging as store};

use crate::message_links::LinkPurpose;
use crate::{App, AppError, AppResult, Ctx};

/// Why a delivery report was not taken.
#[derive(Debug)]
pub enum ReportRefusal {
    NotFound,
    BadSignature,
    Malformed(String),
    Failed(AppError),
}

/// What an unsubscribe link leads to.
#[derive(Debug, Clone)]
pub struct Unsubscribe {
    pub shop: String,
    /// `email`, `sms` or `zalo`.
    pub channel: String,
    /// Whether consent for it is already off.
    pub done: bool,
}

impl App {
    /// Verifies and applies a provider's delivery report; returns how many messages it moved.
    pub async fn receive_message_report(
        &self,
        channel_id: &str,
        mut callback: Callback,
    ) -> Result<usize, ReportRefusal> {
        let id = channel_id.to_string();
        let found = self
            .db
            .read(move |sql| store::find_channel(sql, &id))
            .await
            .map_err(|e| ReportRefusal::Failed(e.into()))?;
        let Some((tenant_id, channel)) = found else {
            return Err(ReportRefusal::NotFound);
        };
        let open = self.open_channel(channel).map_err(ReportRefusal::Failed)?;
        callback.now_s = self.now().as_second();
        let secret = open
            .secrets
            .get("callback_secret")
            .cloned()
            .unwrap_or_default();
        let reports = provider::read_callback(
            open.kind,
            &open.channel.settings,
            &open.secrets,
            &secret,
            &callback,
        )
        .map_err(|r| match r {
            CallbackRefusal::BadSignature => ReportRefusal::BadSignature,
            CallbackRefusal::Malformed(why) => ReportRefusal::Malformed(why),
        })?;
        let now = self.now();
        let channel_id = open.channel.id.clone();
        self.db
            .write(move |sql| {
                let mut moved = 0;
                for report in &reports {
                    let found = match (&report.reference, &report.provider_id) {
                        (Some(reference), _) => store::get_message(sql, &tenant_id, reference)?
                            .filter(|m| m.channel_id.as_deref() == Some(channel_id.as_str())),
                        (None, Some(pid)) => {
                            store::message_by_provider_id(sql, &tenant_id, &channel_id, pid)?
                        }
                        (None, None) => None,
                    };
                    let Some(mut m) = found else { continue };
                    let at = report.at_ms.map(from_millis).unwrap_or(now);
                    if apply(&mut m, &report.event, at) {
                        store::save_message(sql, &tenant_id, &m)?;
                        moved += 1;
                    }
                }
                Ok::<_, AppError>(moved)
            })
            .await
            .map_err(ReportRefusal::Failed)
    }

    /// What the unsubscribe page shows, or `None` for a link that is not ours.
    pub async fn unsubscribe_page(&self, token: &str) -> AppResult<Option<Unsubscribe>> {
        let Some((tenant_id, message)) = self
            .linked_message(token, LinkPurpose::Unsubscribe, "")
            .await?
        else {
            return Ok(None);
        };
        let (Some(member_id), Some(kind)) = (message.member_id.clone(), channel_kind(&message))
        else {
            return Ok(None);
        };
        let info = self.tenant_by_id(&tenant_id).await?;
        let member = self
            .db
            .read(move |sql| members::get(sql, &tenant_id, &member_id))
            .await?;
        let Some(member) = member else {
            return Ok(None);
        };
        Ok(Some(Unsubscribe {
            shop: info.tenant.name.clone(),
            channel: consent_channel(kind).to_string(),
            done: !consent_of(&member.profile.consent, kind),
        }))
    }

    /// Turns the linked channel's consent off (recorded as `unsubscribe`).
    pub async fn unsubscribe(&self, token: &str) -> AppResult<Option<Unsubscribe>> {
        let Some((tenant_id, message)) = self
            .linked_message(token, LinkPurpose::Unsubscribe, "")
            .await?
        else {
            return Ok(None);
        };
        let (Some(member_id), Some(kind)) = (message.member_id.clone(), channel_kind(&message))
        else {
            return Ok(None);
        };
        let ctx = Ctx {
            actor: Actor {
                kind: ActorKind::System,
                id: Some(member_id.clone()),
                name: Some("unsubscribe link".into()),
            },
            ..Ctx::cli(&tenant_id)
        };
        let now = self.now();
        let (tenant, member) = (tenant_id.clone(), member_id.clone());
        self.db
            .write(move |sql| {
                let Some(mut found) = members::get_for_update(sql, &tenant, &member)? else {
                    return Ok::<_, AppError>(());
                };
                let before = found.profile.consent;
                match kind {
                    ChannelKind::Email => found.profile.consent.email = false,
                    ChannelKind::Sms => found.profile.consent.sms = false,
                    ChannelKind::Zalo => found.profile.consent.zalo = false,
                }
                if before == found.profile.consent {
                    return Ok(());
                }
                found.updated_at = now;
                members::update_profile(sql, &tenant, &found)?;
                crate::consent::record(
                    sql,
                    &ctx,
                    ConsentSource::Unsubscribe,
                    &member,
                    Some(&before),
                    &found.profile.consent,
                    now,
                )?;
                Ok(())
            })
            .await?;
        self.unsubscribe_page(token).await
    }

    /// Records that a member opened or clicked a message (first time only; one statement, so
    /// a delivery report arriving at the same moment is not overwritten).
    pub(crate) async fn record_report(
        &self,
        tenant_id: &str,
        message: Message,
        seen: Seen,
    ) -> AppResult<()> {
        let known = match seen {
            Seen::Opened => message.opened_at.is_some(),
            Seen::Clicked => message.clicked_at.is_some(),
        };
        if known {
            return Ok(());
        }
        let (tenant, now) = (tenant_id.to_string(), self.now());
        self.db
            .write(move |sql| {
                store::mark_seen(sql, &tenant, &message.id, seen == Seen::Clicked, now)
            })
            .await?;
        Ok(())
    }
}

/// What our own links saw a member do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seen {
    Opened,
    Clicked,
}

/// Applies a report to a message; `false` when it changes nothing (a late or repeated one).
fn apply(m: &mut Message, event: &ReportEvent, at: jiff::Timestamp) -> bool {
    match event {
        ReportEvent::Delivered if m.status == MessageStatus::Sent => {
            m.status = MessageStatus::Delivered;
            m.delivered_at = Some(at);
            true
        }
        ReportEvent::Failed(why)
            if matches!(m.status, MessageStatus::Sent | MessageStatus::Delivered) =>
        {
            m.status = MessageStatus::Failed;
            m.reason = Some(why.chars().take(500).collect());
            true
        }
        ReportEvent::Opened if m.opened_at.is_none() => {
            m.opened_at = Some(at);
            true
        }
        ReportEvent::Clicked if m.clicked_at.is_none() => {
            m.clicked_at = Some(at);
            m.opened_at.get_or_insert(at);
            true
        }
        _ => false,
    }
}

fn channel_kind(m: &Message) -> Option<ChannelKind> {
    provider::ChannelType::parse(m.channel_type.as_deref()?).map(|t| t.kind())
}

fn consent_channel(kind: ChannelKind) -> &'static str {
    match kind {
        ChannelKind::Email => "email",
        ChannelKind::Sms => "sms",
        ChannelKind::Zalo => "zalo",
    }
}

fn consent_of(consent: &loyalty_core::member::Consent, kind: ChannelKind) -> bool {
    match kind {
        ChannelKind::Email => consent.email,
        ChannelKind::Sms => consent.sms,
        ChannelKind::Zalo => consent.zalo,
    }
}
