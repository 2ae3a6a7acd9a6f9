//! Mailgun: `POST /v3/{domain}/messages` as a form with HTTP Basic `api:<key>`; our reference
//! rides as the custom variable `v:message_id`. Webhooks carry an HMAC-SHA256 of timestamp +
//! token under the webhook signing key.

use hmac::{Hmac, Mac};
use loyalty_core::Invalid;
use serde::Deserialize;
use sha2::Sha256;

use super::{
    Callback, CallbackRefusal, Outcome, Outgoing, Provider, Report, ReportEvent, Sending, base_or,
    by_status, check_base, check_common, unanswered,
};
use crate::template::Rendered;

pub const API_BASE: &str = "https://api.mailgun.net";
/// How old a signed webhook may be before it is refused as a replay.
const MAX_AGE_S: i64 = 15 * 60;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub domain: String,
    pub from: String,
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
        if self.domain.trim().is_empty() || self.domain.contains('/') {
            errors.push_coded(
                "settings.domain",
                "invalid",
                "the sending domain, e.g. mg.shop.vn",
            );
        }
        if self.from.trim().is_empty() {
            errors.required("settings.from");
        }
        check_base(&self.api_base, "api_base", &mut errors);
        check_common(self.price_per_message, &mut errors);
        errors.into_result(|| ())
    }
}

pub struct Mailgun {
    pub settings: Settings,
    pub api_key: String,
    pub http: reqwest::Client,
}

#[derive(Deserialize)]
struct Answer {
    id: Option<String>,
}

impl Provider for Mailgun {
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
            let to = match &out.name {
                Some(name) => format!("{name} <{}>", out.to),
                None => out.to.clone(),
            };
            let mut form = vec![
                ("from", self.settings.from.clone()),
                ("to", to),
                ("subject", subject.clone()),
                ("html", html.clone()),
                ("v:message_id", out.reference.clone()),
            ];
            if let Some(text) = text {
                form.push(("text", text.clone()));
            }
            let url = format!(
                "{}/v3/{}/messages",
                base_or(&self.settings.api_base, API_BASE),
                self.settings.domain
            );
            let answer = match self
                .http
                .post(url)
                .basic_auth("api", Some(&self.api_key))
                .form(&form)
                .send()
                .await
            {
                Ok(a) => a,
                Err(e) => return unanswered(&e),
            };
            let status = answer.status();
            let said = answer.text().await.unwrap_or_default();
            if status.is_success() {
                let id = serde_json::from_str::<Answer>(&said)
                    .ok()
                    .and_then(|a| a.id)
                    .map(|id| id.trim_matches(['<', '>']).to_string());
                return Outcome::Sent { provider_id: id };
            }
            by_status(status, &said)
        })
    }
}

/// The hex HMAC-SHA256 Mailgun signs a webhook with.
pub fn signature(key: &str, timestamp: &str, token: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key");
    mac.update(timestamp.as_bytes());
    mac.update(token.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

pub fn read_callback(key: &str, callback: &Callback) -> Result<Vec<Report>, CallbackRefusal> {
    use subtle::ConstantTimeEq;
    let body: serde_json::Value = serde_json::from_slice(&callback.body)
        .map_err(|e| CallbackRefusal::Malformed(e.to_string()))?;
    let signed = &body["signature"];
    let (Some(timestamp), Some(token), Some(given)) = (
        signed["timestamp"].as_str(),
        signed["token"].as_str(),
        signed["signature"].as_str(),
    ) else {
        return Err(CallbackRefusal::BadSignature);
    };
    let expected = signature(key, timestamp, token);
    if key.is_empty() || !bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
        return Err(CallbackRefusal::BadSignature);
    }
    let fresh = timestamp
        .parse::<i64>()
        .is_ok_and(|t| (callback.now_s - t).abs() <= MAX_AGE_S);
    if !fresh {
        return Err(CallbackRefusal::BadSignature);
    }
    let data = &body["event-data"];
    let event = match data["event"].as_str().unwrap_or_default() {
        "delivered" => ReportEvent::Delivered,
        // A temporary failure is Mailgun retrying; only the permanent one is final.
        "failed" if data["severity"].as_str() == Some("permanent") => ReportEvent::Failed(
            data["reason"]
                .as_str()
                .unwrap_or("failed")
                .chars()
                .take(300)
                .collect(),
        ),
        "opened" => ReportEvent::Opened,
        "clicked" => ReportEvent::Clicked,
        _ => return Ok(Vec::new()),
    };
    Ok(vec![Report {
        reference: data["user-variables"]["message_id"]
            .as_str()
            .map(str::to_string),
        provider_id: data["message"]["headers"]["message-id"]
            .as_str()
            .map(str::to_string),
        event,
        at_ms: data["timestamp"].as_f64().map(|s| (s * 1000.0) as i64),
    }])
}

#[cfg(test)]
mod tests {
    #[test]
    fn signature_matches_the_documented_vector() {
        assert_eq!(
            super::signature(
                "key-signing",
                "1770920772",
                "e0b5477167110d68991efc6b9f89f0a11066af27834600e123"
            ),
            "7fb3d51ad721e696fb87207b3d0f5ad012137aa3be974e58fcdea3327cd85700"
        );
    }
}
