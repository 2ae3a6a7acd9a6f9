//! SendGrid v3: `POST /v3/mail/send` with a Bearer key (202 and `X-Message-Id`); our reference
//! travels in `custom_args` and comes back on every event. The event webhook is a JSON array
//! signed with ECDSA P-256 over the timestamp header and the raw body.

use loyalty_core::Invalid;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use serde::Deserialize;
use serde_json::json;

use super::{
    Callback, CallbackRefusal, Outcome, Outgoing, Provider, Report, ReportEvent, Sending, base_or,
    by_status, check_base, check_common, unanswered,
};
use crate::template::Rendered;

pub const API_BASE: &str = "https://api.sendgrid.com";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub from: String,
    #[serde(default)]
    pub from_name: Option<String>,
    #[serde(default)]
    pub api_base: Option<String>,
    #[serde(default)]
    pub price_per_message: Option<i64>,
    /// The provider's rate limit for this account (sends a second).
    #[serde(default)]
    pub max_per_second: Option<u32>,
}

impl Settings {
    pub fn check(&self) -> Result<(), Invalid> {
        let mut errors = Invalid::default();
        if loyalty_core::email::Email::parse(&self.from).is_err() {
            errors.push_coded("settings.from", "invalid", "an e-mail address");
        }
        check_base(&self.api_base, "api_base", &mut errors);
        check_common(self.price_per_message, &mut errors);
        errors.into_result(|| ())
    }
}

pub struct SendGrid {
    pub settings: Settings,
    pub api_key: String,
    pub http: reqwest::Client,
}

impl Provider for SendGrid {
    fn send<'a>(&'a self, out: &'a Outgoing) -> Sending<'a> {
        Box::pin(async move {
            let Rendered::Email {
                subject,
                html,
                text,
            } = &out.content
            else {
                return Outcome::Permanent("an e-mail channel sends e-mail templates only".into());
            };
            let mut content = Vec::new();
            if let Some(text) = text {
                content.push(json!({"type": "text/plain", "value": text}));
            }
            content.push(json!({"type": "text/html", "value": html}));
            let mut to = json!({"email": out.to});
            if let Some(name) = &out.name {
                to["name"] = json!(name);
            }
            let mut from = json!({"email": self.settings.from});
            if let Some(name) = &self.settings.from_name {
                from["name"] = json!(name);
            }
            let body = json!({
                "personalizations": [{"to": [to], "custom_args": {"message_id": out.reference}}],
                "from": from,
                "subject": subject,
                "content": content,
            });
            let url = format!(
                "{}/v3/mail/send",
                base_or(&self.settings.api_base, API_BASE)
            );
            let answer = match self
                .http
                .post(url)
                .bearer_auth(&self.api_key)
                .json(&body)
                .send()
                .await
            {
                Ok(a) => a,
                Err(e) => return unanswered(&e),
            };
            let status = answer.status();
            if status.is_success() {
                let id = answer
                    .headers()
                    .get("x-message-id")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                return Outcome::Sent { provider_id: id };
            }
            let said = answer.text().await.unwrap_or_default();
            by_status(status, &said)
        })
    }
}

/// Verifies the signature (base64 DER signature over timestamp + body, with the base64 DER
/// public key of the channel's settings) and reads the events.
pub fn read_callback(
    public_key: &str,
    callback: &Callback,
) -> Result<Vec<Report>, CallbackRefusal> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let signature = callback
        .header("x-twilio-email-event-webhook-signature")
        .and_then(|s| b64.decode(s.trim()).ok())
        .and_then(|der| Signature::from_der(&der).ok())
        .ok_or(CallbackRefusal::BadSignature)?;
    let timestamp = callback
        .header("x-twilio-email-event-webhook-timestamp")
        .ok_or(CallbackRefusal::BadSignature)?;
    let key = b64
        .decode(public_key.trim())
        .ok()
        .and_then(|der| VerifyingKey::from_public_key_der(&der).ok())
        .ok_or(CallbackRefusal::BadSignature)?;
    let mut signed = timestamp.as_bytes().to_vec();
    signed.extend_from_slice(&callback.body);
    key.verify(&signed, &signature)
        .map_err(|_| CallbackRefusal::BadSignature)?;
    let events: Vec<serde_json::Value> = serde_json::from_slice(&callback.body)
        .map_err(|e| CallbackRefusal::Malformed(e.to_string()))?;
    Ok(events.iter().filter_map(report).collect())
}

fn report(event: &serde_json::Value) -> Option<Report> {
    let kind = event["event"].as_str()?;
    let event_kind = match kind {
        "delivered" => ReportEvent::Delivered,
        "bounce" | "dropped" => ReportEvent::Failed(
            event["reason"]
                .as_str()
                .unwrap_or(kind)
                .chars()
                .take(300)
                .collect(),
        ),
        "open" => ReportEvent::Opened,
        "click" => ReportEvent::Clicked,
        _ => return None,
    };
    // `sg_message_id` is the send's X-Message-Id with a suffix after a dot.
    let provider_id = event["sg_message_id"]
        .as_str()
        .map(|id| id.split('.').next().unwrap_or(id).to_string());
    Some(Report {
        reference: event["message_id"].as_str().map(str::to_string),
        provider_id,
        event: event_kind,
        at_ms: event["timestamp"].as_i64().map(|s| s * 1000),
    })
}
