//! Channels, campaigns and messages as stored (API.md "Channels and messages", "Campaigns").
//! The rules of who gets what are in `messaging`; templates are checked by the messaging
//! crate and kept here as JSON.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::messaging::Purpose;

/// A channel a shop sends through: its type (`email_smtp`, `zalo_zns`…), settings, and its
/// secrets sealed as one document.
#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    pub id: String,
    pub channel_type: String,
    pub name: String,
    pub settings: Value,
    pub secrets_sealed: String,
    pub active: bool,
    /// The provider's last refusal that was not about one message (a bad key, a token).
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    Draft,
    Scheduled,
    Sending,
    Finished,
    Cancelled,
}

impl CampaignStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignStatus::Draft => "draft",
            CampaignStatus::Scheduled => "scheduled",
            CampaignStatus::Sending => "sending",
            CampaignStatus::Finished => "finished",
            CampaignStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<CampaignStatus> {
        [
            CampaignStatus::Draft,
            CampaignStatus::Scheduled,
            CampaignStatus::Sending,
            CampaignStatus::Finished,
            CampaignStatus::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Advertising => "advertising",
            Purpose::CustomerCare => "customer_care",
        }
    }

    pub fn parse(text: &str) -> Option<Purpose> {
        match text {
            "advertising" => Some(Purpose::Advertising),
            "customer_care" => Some(Purpose::CustomerCare),
            _ => None,
        }
    }
}

/// Who a campaign is for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged, deny_unknown_fields)]
pub enum Audience {
    Segment { segment_id: String },
    Conditions { conditions: Value },
    Members { member_ids: Vec<String> },
}

/// One channel of a campaign's ordered fallback, with its template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CampaignChannel {
    pub channel_id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub template: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Campaign {
    pub id: String,
    pub name: String,
    pub status: CampaignStatus,
    pub purpose: Purpose,
    pub audience: Audience,
    pub channels: Vec<CampaignChannel>,
    pub voucher_program_id: Option<String>,
    pub send_at: Option<Timestamp>,
    pub attribution_days: i64,
    /// Opens and clicks of e-mails through our pixel and redirect.
    pub track_email: bool,
    /// How far the audience has been written into messages (a member id).
    pub audience_after: Option<String>,
    pub audience_done: bool,
    pub audience_count: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub launched_at: Option<Timestamp>,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    Queued,
    /// Handed to a sender whose answer is not recorded yet.
    Sending,
    Sent,
    Delivered,
    Failed,
    Suppressed,
    Cancelled,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Queued => "queued",
            MessageStatus::Sending => "sending",
            MessageStatus::Sent => "sent",
            MessageStatus::Delivered => "delivered",
            MessageStatus::Failed => "failed",
            MessageStatus::Suppressed => "suppressed",
            MessageStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<MessageStatus> {
        [
            MessageStatus::Queued,
            MessageStatus::Sending,
            MessageStatus::Sent,
            MessageStatus::Delivered,
            MessageStatus::Failed,
            MessageStatus::Suppressed,
            MessageStatus::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// A message to one member (or, for a test send, to an address).
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub id: String,
    pub campaign_id: Option<String>,
    pub automation_id: Option<String>,
    pub member_id: Option<String>,
    pub channel_id: Option<String>,
    pub channel_type: Option<String>,
    /// The channels still to fall back to: `[[index, channel_id, address], …]`.
    pub fallbacks: Option<Value>,
    pub to: Option<String>,
    pub purpose: Purpose,
    pub status: MessageStatus,
    pub reason: Option<String>,
    /// The rendered message (`template::Rendered` as JSON).
    pub body: Option<Value>,
    /// The template variables, kept while a fallback may need another rendering.
    pub context: Option<Value>,
    pub voucher_code: Option<String>,
    pub provider_message_id: Option<String>,
    pub cost: i64,
    pub attempts: i64,
    pub next_attempt_at: Option<Timestamp>,
    pub test: bool,
    pub created_at: Timestamp,
    pub sent_at: Option<Timestamp>,
    pub delivered_at: Option<Timestamp>,
    pub opened_at: Option<Timestamp>,
    pub clicked_at: Option<Timestamp>,
}

impl Message {
    /// A message with nothing but its id, purpose and time: the callers fill in the rest.
    pub fn new(id: String, purpose: Purpose, created_at: Timestamp) -> Message {
        Message {
            id,
            campaign_id: None,
            automation_id: None,
            member_id: None,
            channel_id: None,
            channel_type: None,
            fallbacks: None,
            to: None,
            purpose,
            status: MessageStatus::Queued,
            reason: None,
            body: None,
            context: None,
            voucher_code: None,
            provider_message_id: None,
            cost: 0,
            attempts: 0,
            next_attempt_at: None,
            test: false,
            created_at,
            sent_at: None,
            delivered_at: None,
            opened_at: None,
            clicked_at: None,
        }
    }

    /// A test send ("tin nháp") to `to`, sent at once and counted nowhere.
    pub fn test_send(
        id: String,
        purpose: Purpose,
        channel: &Channel,
        to: String,
        body: Option<Value>,
        created_at: Timestamp,
    ) -> Message {
        Message {
            channel_id: Some(channel.id.clone()),
            channel_type: Some(channel.channel_type.clone()),
            to: Some(to),
            status: MessageStatus::Sending,
            reason: Some("test".into()),
            body,
            attempts: 1,
            test: true,
            ..Message::new(id, purpose, created_at)
        }
    }
}
