//! What a campaign did: API.md's report (counts by status and suppression reason, by
//! channel, cost, attributed orders and revenue, vouchers), and the messages themselves as the
//! API and the recipients export show them.

use jiff::Timestamp;
use loyalty_core::campaign::{CampaignStatus, Message, MessageStatus};
use loyalty_core::tenancy::Access;
use loyalty_store::repo::messaging as store;
use loyalty_store::{Page, Paged};
use serde::Serialize;

use crate::{App, AppError, AppResult, Ctx};

/// API.md's campaign report.
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CampaignReport {
    pub status: Option<CampaignStatus>,
    pub audience: i64,
    pub queued: i64,
    pub sent: i64,
    pub delivered: i64,
    pub failed: i64,
    pub cancelled: i64,
    pub suppressed: SuppressedCounts,
    pub opened: i64,
    pub clicked: i64,
    pub vouchers_issued: i64,
    pub vouchers_redeemed: i64,
    pub orders: i64,
    pub revenue: i64,
    pub cost: i64,
    pub by_channel: Vec<ChannelCounts>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SuppressedCounts {
    pub no_consent: i64,
    pub no_address: i64,
    pub frequency_cap: i64,
    pub unsubscribed: i64,
    pub blocked: i64,
}

#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChannelCounts {
    pub channel_id: String,
    pub sent: i64,
    pub delivered: i64,
    pub failed: i64,
    pub cost: i64,
}

impl App {
    pub async fn campaign_report(&self, ctx: &Ctx, id: String) -> AppResult<CampaignReport> {
        ctx.require(Access::Read)?;
        let campaign = self.load_campaign(&ctx.tenant_id, &id).await?;
        let tenant_id = ctx.tenant_id.to_string();
        let days = campaign.attribution_days;
        let (counts, (orders, revenue, issued, redeemed)) = self
            .db
            .read(move |sql| {
                Ok::<_, AppError>((
                    store::campaign_counts(sql, &tenant_id, &id)?,
                    store::campaign_attribution(sql, &tenant_id, &id, days)?,
                ))
            })
            .await?;
        let mut report = CampaignReport {
            status: Some(campaign.status),
            orders,
            revenue,
            vouchers_issued: issued,
            vouchers_redeemed: redeemed,
            ..Default::default()
        };
        for line in counts {
            let store::CountLine {
                status,
                reason,
                channel_id,
                messages: n,
                cost,
                opened,
                clicked,
            } = line;
            report.audience += n;
            report.opened += opened;
            report.clicked += clicked;
            report.cost += cost;
            match status.as_str() {
                "queued" | "sending" => report.queued += n,
                "sent" => report.sent += n,
                "delivered" => {
                    report.sent += n;
                    report.delivered += n;
                }
                "failed" => report.failed += n,
                "cancelled" => report.cancelled += n,
                "suppressed" => match reason.as_deref() {
                    Some("no_consent") => report.suppressed.no_consent += n,
                    Some("no_address") => report.suppressed.no_address += n,
                    Some("frequency_cap") => report.suppressed.frequency_cap += n,
                    Some("unsubscribed") => report.suppressed.unsubscribed += n,
                    Some("blocked") => report.suppressed.blocked += n,
                    _ => {}
                },
                _ => {}
            }
            if let Some(channel_id) = channel_id
                && status != "suppressed"
            {
                let line = match report
                    .by_channel
                    .iter_mut()
                    .find(|c| c.channel_id == channel_id)
                {
                    Some(line) => line,
                    None => {
                        report.by_channel.push(ChannelCounts {
                            channel_id,
                            ..Default::default()
                        });
                        report.by_channel.last_mut().expect("just pushed")
                    }
                };
                line.cost += cost;
                match status.as_str() {
                    "sent" => line.sent += n,
                    "delivered" => {
                        line.sent += n;
                        line.delivered += n;
                    }
                    "failed" => line.failed += n,
                    _ => {}
                }
            }
        }
        Ok(report)
    }
}

/// A message as the API shows it (`sending` reads as `queued`: the answer is not in yet).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageView {
    pub id: String,
    pub member_id: Option<String>,
    pub channel_id: Option<String>,
    pub channel_type: Option<String>,
    pub to: Option<String>,
    pub status: MessageStatus,
    pub reason: Option<String>,
    pub provider_message_id: Option<String>,
    pub cost: i64,
    pub campaign_id: Option<String>,
    pub automation_id: Option<String>,
    pub purpose: String,
    pub voucher_code: Option<String>,
    pub test: bool,
    pub attempts: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub next_attempt_at: Option<Timestamp>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub sent_at: Option<Timestamp>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub delivered_at: Option<Timestamp>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub opened_at: Option<Timestamp>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub clicked_at: Option<Timestamp>,
}

impl From<Message> for MessageView {
    fn from(m: Message) -> Self {
        MessageView {
            id: m.id,
            member_id: m.member_id,
            channel_id: m.channel_id,
            channel_type: m.channel_type,
            to: m.to,
            status: match m.status {
                MessageStatus::Sending => MessageStatus::Queued,
                other => other,
            },
            reason: m.reason,
            provider_message_id: m.provider_message_id,
            cost: m.cost,
            campaign_id: m.campaign_id,
            automation_id: m.automation_id,
            purpose: m.purpose.as_str().to_string(),
            voucher_code: m.voucher_code,
            test: m.test,
            attempts: m.attempts,
            created_at: m.created_at,
            next_attempt_at: m.next_attempt_at,
            sent_at: m.sent_at,
            delivered_at: m.delivered_at,
            opened_at: m.opened_at,
            clicked_at: m.clicked_at,
        }
    }
}

pub use loyalty_store::repo::messaging::MessageFilter;

impl App {
    /// Messages, newest first, by member, campaign, automation or status.
    pub async fn messages(
        &self,
        ctx: &Ctx,
        filter: MessageFilter,
        page: Page,
    ) -> AppResult<Paged<MessageView>> {
        ctx.require(Access::Read)?;
        if let Some(status) = &filter.status
            && MessageStatus::parse(status).is_none()
        {
            return Err(AppError::invalid(
                "status",
                "invalid",
                "one of queued, sent, delivered, failed, suppressed, cancelled",
            ));
        }
        let tenant_id = ctx.tenant_id.to_string();
        let found = self
            .db
            .read(move |sql| store::list_messages(sql, &tenant_id, &filter, &page))
            .await?;
        Ok(found.map(MessageView::from))
    }
}
