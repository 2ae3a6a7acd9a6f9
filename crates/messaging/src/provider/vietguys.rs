//! Vietguys brandname SMS (from third-party code, low confidence — INTERFACES.md §4.3): a form
//! POST with our reference as `bid`, answered `{"error":0,"msgid":…}`. Delivery reports are
//! pushed unsigned to a URL registered with Vietguys, which carries the channel's secret.

use loyalty_core::Invalid;
use serde::Deserialize;

use super::{
    Callback, CallbackRefusal, Outcome, Outgoing, Provider, Report, ReportEvent, Sending, base_or,
    by_status, check_base, check_common, international, unanswered,
};
use crate::sms::Encoding;
use crate::template::Rendered;

pub const API_BASE: &str = "https://cloudsms.vietguys.biz:4438";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
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
        if self.from.trim().is_empty() {
            errors.required("settings.from");
        }
        check_base(&self.api_base, "api_base", &mut errors);
        check_common(self.price_per_message, &mut errors);
        errors.into_result(|| ())
    }
}

pub struct Vietguys {
    pub settings: Settings,
    pub username: String,
    pub password: String,
    pub http: reqwest::Client,
}

#[derive(Deserialize)]
struct Answer {
    error: Option<i64>,
    msgid: Option<serde_json::Value>,
    log: Option<String>,
}

impl Provider for Vietguys {
    fn send<'a>(&'a self, out: &'a Outgoing) -> Sending<'a> {
        Box::pin(async move {
            let Rendered::Sms { text, length } = &out.content else {
                return Outcome::Permanent("an SMS channel sends SMS templates only".into());
            };
            let unicode = length.encoding == Encoding::Ucs2;
            let form = [
                ("u", self.username.as_str()),
                ("pwd", self.password.as_str()),
                ("from", self.settings.from.as_str()),
                ("phone", &international(&out.to)),
                ("sms", text.as_str()),
                ("bid", out.reference.as_str()),
                ("type", if unicode { "8" } else { "0" }),
                ("json", "1"),
            ];
            let url = format!(
                "{}/api/index.php",
                base_or(&self.settings.api_base, API_BASE)
            );
            let answer = match self.http.post(url).form(&form).send().await {
                Ok(a) => a,
                Err(e) => return unanswered(&e),
            };
            let status = answer.status();
            let said = answer.text().await.unwrap_or_default();
            if !status.is_success() {
                return by_status(status, &said);
            }
            match serde_json::from_str::<Answer>(&said) {
                Ok(Answer {
                    error: Some(0),
                    msgid,
                    ..
                }) => Outcome::Sent {
                    provider_id: msgid.map(|id| match id {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    }),
                },
                // Its error numbers are not documented publicly: every refusal is final.
                Ok(Answer { error, log, .. }) => Outcome::Permanent(format!(
                    "Vietguys error {}: {}",
                    error.unwrap_or(-1),
                    log.unwrap_or_default()
                )),
                Err(_) => Outcome::Unknown(format!("Vietguys answered {said}")),
            }
        })
    }
}

/// `{"data":{"message_id":…,"status":"delivered|fail|sent"}}`.
pub fn read_callback(callback: &Callback) -> Result<Vec<Report>, CallbackRefusal> {
    let body: serde_json::Value = serde_json::from_slice(&callback.body)
        .map_err(|e| CallbackRefusal::Malformed(e.to_string()))?;
    let data = &body["data"];
    let id = match &data["message_id"] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => return Err(CallbackRefusal::Malformed("no data.message_id".into())),
    };
    let event = match data["status"].as_str() {
        Some("delivered") => ReportEvent::Delivered,
        Some("fail") => ReportEvent::Failed("undelivered".into()),
        _ => return Ok(Vec::new()),
    };
    Ok(vec![Report {
        reference: None,
        provider_id: Some(id),
        event,
        at_ms: None,
    }])
}
