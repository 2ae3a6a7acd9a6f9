//! eSMS.vn brandname SMS: `SendMultipleMessage_V4_post_json` with our reference as
//! `RequestId`, which eSMS refuses to take twice (code 124): a send whose answer was lost is
//! tried again safely. Delivery reports are GETs to the `CallbackUrl` we give, unsigned, so
//! the URL carries the channel's secret.

use loyalty_core::Invalid;
use serde::Deserialize;
use serde_json::json;

use super::{
    Callback, CallbackRefusal, Outcome, Outgoing, Provider, Report, ReportEvent, Sending, base_or,
    by_status, check_base, check_common, national, unanswered,
};
use crate::sms::Encoding;
use crate::template::Rendered;

pub const API_BASE: &str = "https://rest.esms.vn";
pub const SEND_PATH: &str = "/MainService.svc/json/SendMultipleMessage_V4_post_json/";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub brandname: String,
    /// eSMS's `SmsType`: "2" customer care (the default), "1" advertising.
    #[serde(default = "customer_care")]
    pub sms_type: String,
    #[serde(default)]
    pub api_base: Option<String>,
    /// eSMS's sandbox: accepted and not delivered.
    #[serde(default)]
    pub sandbox: bool,
    #[serde(default)]
    pub price_per_message: Option<i64>,
    /// The provider's rate limit for this account (sends a second).
    #[serde(default)]
    pub max_per_second: Option<u32>,
}

fn customer_care() -> String {
    "2".into()
}

impl Settings {
    pub fn check(&self) -> Result<(), Invalid> {
        let mut errors = Invalid::default();
        if self.brandname.trim().is_empty() {
            errors.required("settings.brandname");
        }
        if !matches!(self.sms_type.as_str(), "1" | "2") {
            errors.push_coded(
                "settings.sms_type",
                "invalid",
                "\"2\" customer care or \"1\" advertising",
            );
        }
        check_base(&self.api_base, "api_base", &mut errors);
        check_common(self.price_per_message, &mut errors);
        errors.into_result(|| ())
    }
}

pub struct Esms {
    pub settings: Settings,
    pub api_key: String,
    pub secret_key: String,
    pub http: reqwest::Client,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Answer {
    code_result: Option<String>,
    #[serde(rename = "SMSID")]
    sms_id: Option<String>,
    error_message: Option<String>,
}

impl Provider for Esms {
    fn send<'a>(&'a self, out: &'a Outgoing) -> Sending<'a> {
        Box::pin(async move {
            let Rendered::Sms { text, length } = &out.content else {
                return Outcome::Permanent("an SMS channel sends SMS templates only".into());
            };
            let mut body = json!({
                "ApiKey": self.api_key,
                "SecretKey": self.secret_key,
                "Phone": national(&out.to),
                "Content": text,
                "Brandname": self.settings.brandname,
                "SmsType": self.settings.sms_type,
                "IsUnicode": if length.encoding == Encoding::Ucs2 { "1" } else { "0" },
                "Sandbox": if self.settings.sandbox { "1" } else { "0" },
                "RequestId": out.reference,
            });
            if let Some(url) = &out.callback_url {
                body["CallbackUrl"] = json!(url);
            }
            let url = format!("{}{SEND_PATH}", base_or(&self.settings.api_base, API_BASE));
            let answer = match self.http.post(url).json(&body).send().await {
                Ok(a) => a,
                Err(e) => return unanswered(&e),
            };
            let status = answer.status();
            let said = answer.text().await.unwrap_or_default();
            if !status.is_success() {
                return by_status(status, &said);
            }
            let Ok(parsed) = serde_json::from_str::<Answer>(&said) else {
                return Outcome::Unknown(format!("eSMS answered {said}"));
            };
            let why = || {
                format!(
                    "eSMS {}: {}",
                    parsed.code_result.as_deref().unwrap_or("?"),
                    parsed.error_message.as_deref().unwrap_or("")
                )
            };
            match parsed.code_result.as_deref() {
                Some("100") => Outcome::Sent {
                    provider_id: parsed.sms_id.clone(),
                },
                // This RequestId was taken before: the earlier try went through.
                Some("124") => Outcome::Sent {
                    provider_id: parsed.sms_id.clone(),
                },
                // Authentication, brandname, unregistered template, malformed request.
                Some("99" | "101" | "104" | "146") => Outcome::Permanent(why()),
                // Balance, throttling, the provider's own trouble: worth another try.
                _ => Outcome::Temporary(why()),
            }
        })
    }
}

/// `?SMSID=..&SendStatus=5&RequestId=..`: 5 sent, 4 rejected; the others are on the way.
pub fn read_callback(callback: &Callback) -> Result<Vec<Report>, CallbackRefusal> {
    let query = callback.query_pairs();
    let event = match query.get("SendStatus").map(String::as_str) {
        Some("5") => ReportEvent::Delivered,
        Some("4") => ReportEvent::Failed(
            query
                .get("error_info")
                .cloned()
                .unwrap_or_else(|| "rejected".into()),
        ),
        Some(_) => return Ok(Vec::new()),
        None => return Err(CallbackRefusal::Malformed("no SendStatus".into())),
    };
    Ok(vec![Report {
        reference: query.get("RequestId").cloned(),
        provider_id: query.get("SMSID").cloned(),
        event,
        at_ms: None,
    }])
}
