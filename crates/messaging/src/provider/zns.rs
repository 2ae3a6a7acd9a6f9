//! Zalo ZNS: `POST /message/template` with the OA's `access_token` header and our reference as
//! `tracking_id`; HTTP 200 always, the answer's `error` says. The access token lasts about a
//! day and is refreshed with a single-use refresh token ([`refresh`]; the caller persists the
//! new pair atomically). Delivery events are signed `mac = sha256(appId + body + timestamp +
//! OA secret)`.

use loyalty_core::Invalid;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{
    Callback, CallbackRefusal, Outcome, Outgoing, Provider, Report, ReportEvent, Sending, base_or,
    by_status, check_base, check_common, international, unanswered,
};
use crate::template::Rendered;

pub const API_BASE: &str = "https://business.openapi.zalo.me";
pub const OAUTH_BASE: &str = "https://oauth.zaloapp.com";
/// "User is inactive, or reject the message, or using an outdated Zalo version…": final.
pub const USER_UNREACHABLE: i64 = -114;
/// "Access token invalid" (expired): refresh and try again.
pub const TOKEN_INVALID: i64 = -124;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub oa_id: Option<String>,
    #[serde(default)]
    pub app_id: Option<String>,
    #[serde(default)]
    pub api_base: Option<String>,
    #[serde(default)]
    pub oauth_base: Option<String>,
    /// Zalo's development mode: sent only to the app's and OA's admins.
    #[serde(default)]
    pub development: bool,
    #[serde(default)]
    pub price_per_message: Option<i64>,
    /// The provider's rate limit for this account (sends a second).
    #[serde(default)]
    pub max_per_second: Option<u32>,
}

impl Settings {
    pub fn check(&self) -> Result<(), Invalid> {
        let mut errors = Invalid::default();
        check_base(&self.api_base, "api_base", &mut errors);
        check_base(&self.oauth_base, "oauth_base", &mut errors);
        check_common(self.price_per_message, &mut errors);
        errors.into_result(|| ())
    }
}

pub struct Zns {
    pub settings: Settings,
    pub access_token: String,
    pub http: reqwest::Client,
}

#[derive(Deserialize)]
struct Answer {
    error: Option<i64>,
    message: Option<String>,
    data: Option<serde_json::Value>,
}

impl Provider for Zns {
    fn send<'a>(&'a self, out: &'a Outgoing) -> Sending<'a> {
        Box::pin(async move {
            let Rendered::Zns {
                template_id,
                params,
            } = &out.content
            else {
                return Outcome::Permanent("a ZNS channel sends ZNS templates only".into());
            };
            let mut body = json!({
                "phone": international(&out.to),
                "template_id": template_id,
                "template_data": params,
                "tracking_id": out.reference,
            });
            if self.settings.development {
                body["mode"] = json!("development");
            }
            let url = format!(
                "{}/message/template",
                base_or(&self.settings.api_base, API_BASE)
            );
            let answer = match self
                .http
                .post(url)
                .header("access_token", &self.access_token)
                .json(&body)
                .send()
                .await
            {
                Ok(a) => a,
                Err(e) => return unanswered(&e),
            };
            let status = answer.status();
            let said = answer.text().await.unwrap_or_default();
            if !status.is_success() {
                return by_status(status, &said);
            }
            let Ok(parsed) = serde_json::from_str::<Answer>(&said) else {
                return Outcome::Unknown(format!("Zalo answered {said}"));
            };
            let code = parsed.error.unwrap_or(-100);
            let message = parsed.message.unwrap_or_default();
            let why = format!("Zalo {code}: {message}");
            match code {
                0 => Outcome::Sent {
                    provider_id: parsed
                        .data
                        .as_ref()
                        .and_then(|d| d["msg_id"].as_str())
                        .map(str::to_string),
                },
                TOKEN_INVALID => Outcome::TokenExpired(why),
                USER_UNREACHABLE => Outcome::Permanent(why),
                // Quota and Zalo's own trouble pass; the numbers other than 0 and -114 are not
                // confirmed from Zalo's table, so quota is recognised by its words too.
                _ if message.to_lowercase().contains("quota") || code == -100 => {
                    Outcome::Temporary(why)
                }
                _ if message.to_lowercase().contains("access token") => Outcome::TokenExpired(why),
                _ => Outcome::Permanent(why),
            }
        })
    }
}

/// A fresh token pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
}

/// Trades the single-use refresh token for a new pair (`POST /v4/oa/access_token`).
pub async fn refresh(
    http: &reqwest::Client,
    settings: &Settings,
    app_secret: &str,
    refresh_token: &str,
) -> Result<Tokens, String> {
    let url = format!(
        "{}/v4/oa/access_token",
        base_or(&settings.oauth_base, OAUTH_BASE)
    );
    let form = [
        ("refresh_token", refresh_token),
        ("app_id", settings.app_id.as_deref().unwrap_or_default()),
        ("grant_type", "refresh_token"),
    ];
    let answer = http
        .post(url)
        .header("secret_key", app_secret)
        .form(&form)
        .send()
        .await
        .map_err(|e| format!("Zalo's token service did not answer: {e}"))?;
    let body: serde_json::Value = answer
        .json()
        .await
        .map_err(|e| format!("Zalo's token service answered: {e}"))?;
    match (
        body["access_token"].as_str(),
        body["refresh_token"].as_str(),
    ) {
        (Some(access), Some(refresh)) => Ok(Tokens {
            access_token: access.to_string(),
            refresh_token: refresh.to_string(),
        }),
        _ => Err(format!("Zalo refused to refresh the token: {body}")),
    }
}

/// `sha256(appId + body + timestamp + OA secret)` in hex.
pub fn mac(app_id: &str, body: &[u8], timestamp: &str, oa_secret: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(app_id.as_bytes());
    hash.update(body);
    hash.update(timestamp.as_bytes());
    hash.update(oa_secret.as_bytes());
    hex::encode(hash.finalize())
}

pub fn read_callback(
    app_id: &str,
    oa_secret: &str,
    callback: &Callback,
) -> Result<Vec<Report>, CallbackRefusal> {
    use subtle::ConstantTimeEq;
    let body: serde_json::Value = serde_json::from_slice(&callback.body)
        .map_err(|e| CallbackRefusal::Malformed(e.to_string()))?;
    let timestamp = match &body["timestamp"] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => return Err(CallbackRefusal::BadSignature),
    };
    let given = callback
        .header("x-zevent-signature")
        .map(|s| s.trim().trim_start_matches("mac=").to_string())
        .ok_or(CallbackRefusal::BadSignature)?;
    let expected = mac(app_id, &callback.body, &timestamp, oa_secret);
    if oa_secret.is_empty() || !bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
        return Err(CallbackRefusal::BadSignature);
    }
    if body["event_name"].as_str() != Some("user_received_message") {
        return Ok(Vec::new());
    }
    let message = &body["message"];
    Ok(vec![Report {
        reference: message["tracking_id"].as_str().map(str::to_string),
        provider_id: message["msg_id"].as_str().map(str::to_string),
        event: ReportEvent::Delivered,
        at_ms: message["delivery_time"]
            .as_str()
            .and_then(|t| t.parse().ok()),
    }])
}

#[cfg(test)]
mod tests {
    #[test]
    fn mac_matches_the_documented_vector() {
        assert_eq!(
            super::mac(
                "2074138120372622546",
                br#"{"event_name":"user_received_message"}"#,
                "1602560967477",
                "oasecret"
            ),
            "93041d297bdb2b5c007859cc318b159d591e6ca6c70618f4fe73439ec4398a97"
        );
    }
}
