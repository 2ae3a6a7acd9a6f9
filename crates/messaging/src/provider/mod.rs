//! The providers a message goes out through, one module each behind one trait: SMTP
//! (`lettre`), SendGrid v3, Mailgun, eSMS, Vietguys and Zalo ZNS (INTERFACES.md §4). An
//! adapter turns a rendered message into the provider's request and its answer into an
//! [`Outcome`]; the delivery reports the provider sends back are verified its way and read
//! into [`Report`]s. Nothing here touches the database: `app` sequences.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use loyalty_core::Invalid;
use loyalty_core::messaging::ChannelKind;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::template::Rendered;

pub mod esms;
pub mod mailgun;
pub mod sendgrid;
pub mod smtp;
pub mod vietguys;
pub mod zns;

/// The kinds of channel API.md names (`type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelType {
    EmailSmtp,
    EmailSendgrid,
    EmailMailgun,
    SmsEsms,
    SmsVietguys,
    ZaloZns,
}

impl ChannelType {
    pub const ALL: [ChannelType; 6] = [
        ChannelType::EmailSmtp,
        ChannelType::EmailSendgrid,
        ChannelType::EmailMailgun,
        ChannelType::SmsEsms,
        ChannelType::SmsVietguys,
        ChannelType::ZaloZns,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelType::EmailSmtp => "email_smtp",
            ChannelType::EmailSendgrid => "email_sendgrid",
            ChannelType::EmailMailgun => "email_mailgun",
            ChannelType::SmsEsms => "sms_esms",
            ChannelType::SmsVietguys => "sms_vietguys",
            ChannelType::ZaloZns => "zalo_zns",
        }
    }

    pub fn parse(text: &str) -> Option<ChannelType> {
        ChannelType::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// The address a member needs for it.
    pub fn kind(self) -> ChannelKind {
        match self {
            ChannelType::EmailSmtp | ChannelType::EmailSendgrid | ChannelType::EmailMailgun => {
                ChannelKind::Email
            }
            ChannelType::SmsEsms | ChannelType::SmsVietguys => ChannelKind::Sms,
            ChannelType::ZaloZns => ChannelKind::Zalo,
        }
    }

    /// Whether the provider recognises a repeated request by our reference (eSMS `RequestId`,
    /// Vietguys `bid`, ZNS `tracking_id`), so that a send whose outcome is unknown may be tried
    /// again without messaging the member twice.
    pub fn idempotent(self) -> bool {
        matches!(
            self,
            ChannelType::SmsEsms | ChannelType::SmsVietguys | ChannelType::ZaloZns
        )
    }

    /// The settings a channel of this type reads (besides `price_per_message` and
    /// `max_per_second`, which every type has).
    pub fn setting_names(self) -> &'static [&'static str] {
        match self {
            ChannelType::EmailSmtp => &["host", "port", "tls", "from"],
            ChannelType::EmailSendgrid => &["from", "api_base"],
            ChannelType::EmailMailgun => &["from", "domain", "api_base"],
            ChannelType::SmsEsms => &["brandname", "sms_type", "api_base"],
            ChannelType::SmsVietguys => &["from", "api_base"],
            ChannelType::ZaloZns => &["app_id", "oa_id", "api_base", "oauth_base"],
        }
    }

    /// The secrets a channel of this type keeps (encrypted at rest, never shown).
    pub fn secret_names(self) -> &'static [&'static str] {
        match self {
            ChannelType::EmailSmtp => &["username", "password"],
            ChannelType::EmailSendgrid => &["api_key", "webhook_verification_key"],
            ChannelType::EmailMailgun => &["api_key", "webhook_signing_key"],
            ChannelType::SmsEsms => &["api_key", "secret_key"],
            ChannelType::SmsVietguys => &["username", "password"],
            ChannelType::ZaloZns => &["access_token", "refresh_token", "app_secret", "oa_secret"],
        }
    }

    /// The secrets it cannot send without.
    fn required_secrets(self) -> &'static [&'static str] {
        match self {
            ChannelType::EmailSmtp => &[],
            ChannelType::EmailSendgrid | ChannelType::EmailMailgun => &["api_key"],
            ChannelType::SmsEsms => &["api_key", "secret_key"],
            ChannelType::SmsVietguys => &["username", "password"],
            ChannelType::ZaloZns => &["access_token"],
        }
    }
}

/// The secrets of a channel, by name.
pub type Secrets = BTreeMap<String, String>;

/// One message to hand to a provider.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Our id of the message: the provider's idempotency reference where it has one, and what
    /// its delivery reports carry back.
    pub reference: String,
    /// An e-mail address, or a phone number in E.164 form (`+84901234567`).
    pub to: String,
    pub name: Option<String>,
    pub content: Rendered,
    /// Where the provider should send delivery reports, when it is told per message.
    pub callback_url: Option<String>,
}

/// What became of a send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The provider took it.
    Sent { provider_id: Option<String> },
    /// Refused for good (an invalid number, ZNS -114, no such template): the next channel, if
    /// any, is tried instead.
    Permanent(String),
    /// Refused for now (5xx, quota, rate limit, no connection): tried again later.
    Temporary(String),
    /// The request left and no answer came (a timeout): the provider may have sent it.
    Unknown(String),
    /// Zalo's access token ran out: refresh it and try again.
    TokenExpired(String),
}

/// A send in progress.
pub type Sending<'a> = Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;

/// A provider a channel sends through.
pub trait Provider: Send + Sync {
    fn send<'a>(&'a self, message: &'a Outgoing) -> Sending<'a>;
}

/// Checks a channel's settings and secrets (fields named `settings.x`, `secrets.x`).
pub fn validate(kind: ChannelType, settings: &Value, secrets: &Secrets) -> Result<(), Invalid> {
    let mut errors = Invalid::default();
    let parsed = match kind {
        ChannelType::EmailSmtp => parse::<smtp::Settings>(settings).map(|s| s.check()),
        ChannelType::EmailSendgrid => parse::<sendgrid::Settings>(settings).map(|s| s.check()),
        ChannelType::EmailMailgun => parse::<mailgun::Settings>(settings).map(|s| s.check()),
        ChannelType::SmsEsms => parse::<esms::Settings>(settings).map(|s| s.check()),
        ChannelType::SmsVietguys => parse::<vietguys::Settings>(settings).map(|s| s.check()),
        ChannelType::ZaloZns => parse::<zns::Settings>(settings).map(|s| s.check()),
    };
    match parsed {
        Ok(Ok(())) => {}
        Ok(Err(invalid)) | Err(invalid) => errors.0.extend(invalid.0),
    }
    for name in secrets.keys() {
        if !kind.secret_names().contains(&name.as_str()) {
            errors.push_coded(
                format!("secrets.{name}"),
                "unknown_field",
                format!("{} keeps no secret of that name", kind.as_str()),
            );
        }
    }
    for name in kind.required_secrets() {
        if secrets.get(*name).is_none_or(|v| v.trim().is_empty()) {
            errors.required(format!("secrets.{name}"));
        }
    }
    errors.into_result(|| ())
}

/// The provider for a channel of `kind` (its settings checked by [`validate`]).
pub fn build(
    kind: ChannelType,
    settings: &Value,
    secrets: &Secrets,
    http: &reqwest::Client,
) -> Result<Box<dyn Provider>, Invalid> {
    let secret = |name: &str| secrets.get(name).cloned().unwrap_or_default();
    Ok(match kind {
        ChannelType::EmailSmtp => Box::new(smtp::Smtp::new(
            parse(settings)?,
            secrets.get("username").cloned(),
            secrets.get("password").cloned(),
        )?),
        ChannelType::EmailSendgrid => Box::new(sendgrid::SendGrid {
            settings: parse(settings)?,
            api_key: secret("api_key"),
            http: http.clone(),
        }),
        ChannelType::EmailMailgun => Box::new(mailgun::Mailgun {
            settings: parse(settings)?,
            api_key: secret("api_key"),
            http: http.clone(),
        }),
        ChannelType::SmsEsms => Box::new(esms::Esms {
            settings: parse(settings)?,
            api_key: secret("api_key"),
            secret_key: secret("secret_key"),
            http: http.clone(),
        }),
        ChannelType::SmsVietguys => Box::new(vietguys::Vietguys {
            settings: parse(settings)?,
            username: secret("username"),
            password: secret("password"),
            http: http.clone(),
        }),
        ChannelType::ZaloZns => Box::new(zns::Zns {
            settings: parse(settings)?,
            access_token: secret("access_token"),
            http: http.clone(),
        }),
    })
}

/// A channel's price per message in đồng (`settings.price_per_message`), for cost reports.
pub fn price_per_message(settings: &Value) -> i64 {
    settings["price_per_message"].as_i64().unwrap_or(0).max(0)
}

/// A channel's rate limit in sends a second (`settings.max_per_second`, 100 unless set:
/// eSMS and Zalo accounts start around there; a shop raises it with its provider's limit).
pub fn max_per_second(settings: &Value) -> u32 {
    settings["max_per_second"]
        .as_u64()
        .map_or(100, |n| n.clamp(1, 10_000) as u32)
}

/// Settings of one type, each unknown or mistyped field named.
fn parse<T: DeserializeOwned>(settings: &Value) -> Result<T, Invalid> {
    serde_path_to_error::deserialize(settings).map_err(|e| {
        let message = e.inner().to_string();
        let path = e.path().to_string();
        let field = if path == "." {
            "settings".to_string()
        } else {
            format!("settings.{path}")
        };
        let code = if message.starts_with("unknown field") {
            "unknown_field"
        } else {
            "invalid"
        };
        Invalid::one(field, code, message)
    })
}

/// Checks the common settings every type may carry.
fn check_common(price: Option<i64>, errors: &mut Invalid) {
    if price.is_some_and(|p| !(0..=1_000_000).contains(&p)) {
        errors.push_coded(
            "settings.price_per_message",
            "out_of_range",
            "a price per message in đồng, from 0 to 1,000,000",
        );
    }
}

/// Checks an `api_base`: an http(s) URL without a query.
fn check_base(base: &Option<String>, field: &str, errors: &mut Invalid) {
    if let Some(base) = base {
        match url::Url::parse(base) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.query().is_none() => {}
            _ => errors.push_coded(
                format!("settings.{field}"),
                "invalid",
                "an http:// or https:// address",
            ),
        }
    }
}

/// `base` without its trailing slash, or the provider's own.
fn base_or(base: &Option<String>, default: &str) -> String {
    base.as_deref()
        .unwrap_or(default)
        .trim_end_matches('/')
        .to_string()
}

/// The outcome of an HTTP request that got no answer: nothing left if it never connected.
fn unanswered(error: &reqwest::Error) -> Outcome {
    if error.is_connect() || error.is_builder() {
        Outcome::Temporary(format!("could not reach the provider: {error}"))
    } else {
        Outcome::Unknown(format!("no answer from the provider: {error}"))
    }
}

/// The outcome of an HTTP status the provider answered with, when its body says nothing more.
fn by_status(status: reqwest::StatusCode, body: &str) -> Outcome {
    let said = format!("HTTP {}: {}", status.as_u16(), truncate(body, 300));
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        Outcome::Temporary(said)
    } else {
        Outcome::Permanent(said)
    }
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

/// A phone as `84xxxxxxxxx` (ZNS, Vietguys): E.164 without the `+`.
fn international(phone: &str) -> String {
    phone.trim_start_matches('+').to_string()
}

/// A phone as `0xxxxxxxxx` (eSMS) when Vietnamese, else E.164 without the `+`.
fn national(phone: &str) -> String {
    match phone.strip_prefix("+84") {
        Some(rest) => format!("0{rest}"),
        None => international(phone),
    }
}

/// What a delivery report says of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Our reference, when the provider echoes it.
    pub reference: Option<String>,
    /// The provider's id of the message, when it reports by that.
    pub provider_id: Option<String>,
    pub event: ReportEvent,
    /// When it happened, in epoch milliseconds, when the report says.
    pub at_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportEvent {
    Delivered,
    Failed(String),
    Opened,
    Clicked,
}

/// A delivery report as it arrived at `/hooks/messages/{channel}`.
#[derive(Debug, Clone, Default)]
pub struct Callback {
    /// The query string, undecoded.
    pub query: String,
    /// Header values by lower-case name.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    /// Now, in epoch seconds, for the providers whose signatures carry a time.
    pub now_s: i64,
}

impl Callback {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    fn query_pairs(&self) -> BTreeMap<String, String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .into_owned()
            .collect()
    }
}

/// Why a delivery report was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackRefusal {
    BadSignature,
    Malformed(String),
}

/// Verifies a delivery report the provider's way and reads what it says. `callback_secret` is
/// the channel's own secret that eSMS and Vietguys carry in the URL (`?k=`), as they sign
/// nothing.
pub fn read_callback(
    kind: ChannelType,
    settings: &Value,
    secrets: &Secrets,
    callback_secret: &str,
    callback: &Callback,
) -> Result<Vec<Report>, CallbackRefusal> {
    let secret = |name: &str| secrets.get(name).map(String::as_str).unwrap_or_default();
    match kind {
        ChannelType::EmailSmtp => Err(CallbackRefusal::Malformed(
            "an SMTP channel has no delivery reports".into(),
        )),
        ChannelType::EmailSendgrid => {
            sendgrid::read_callback(secret("webhook_verification_key"), callback)
        }
        ChannelType::EmailMailgun => {
            mailgun::read_callback(secret("webhook_signing_key"), callback)
        }
        ChannelType::SmsEsms => {
            check_url_secret(callback_secret, callback)?;
            esms::read_callback(callback)
        }
        ChannelType::SmsVietguys => {
            check_url_secret(callback_secret, callback)?;
            vietguys::read_callback(callback)
        }
        ChannelType::ZaloZns => zns::read_callback(
            settings["app_id"].as_str().unwrap_or_default(),
            secret("oa_secret"),
            callback,
        ),
    }
}

/// The `k` in the URL equals the channel's callback secret (compared in constant time).
fn check_url_secret(expected: &str, callback: &Callback) -> Result<(), CallbackRefusal> {
    use subtle::ConstantTimeEq;
    let given = callback.query_pairs().remove("k").unwrap_or_default();
    if !expected.is_empty() && bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
        Ok(())
    } else {
        Err(CallbackRefusal::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_take_each_providers_form() {
        assert_eq!(international("+84901234567"), "84901234567");
        assert_eq!(national("+84901234567"), "0901234567");
        assert_eq!(national("+6591234567"), "6591234567");
    }

    #[test]
    fn validation_names_settings_and_secrets() {
        let settings = serde_json::json!({"brandname": "SHOP", "api_base": "ftp://x"});
        let secrets = Secrets::from([("nonsense".to_string(), "x".to_string())]);
        let errors = validate(ChannelType::SmsEsms, &settings, &secrets).unwrap_err();
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "settings.api_base",
                "secrets.nonsense",
                "secrets.api_key",
                "secrets.secret_key"
            ]
        );
        let typo = serde_json::json!({"brandname": "SHOP", "brand": 1});
        let errors = validate(ChannelType::SmsEsms, &typo, &Secrets::new()).unwrap_err();
        assert_eq!(errors.0[0].field, "settings.brand");
    }

    #[test]
    fn statuses_split_into_temporary_and_permanent() {
        use reqwest::StatusCode;
        assert!(matches!(
            by_status(StatusCode::SERVICE_UNAVAILABLE, ""),
            Outcome::Temporary(_)
        ));
        assert!(matches!(
            by_status(StatusCode::TOO_MANY_REQUESTS, ""),
            Outcome::Temporary(_)
        ));
        assert!(matches!(
            by_status(StatusCode::BAD_REQUEST, "bad"),
            Outcome::Permanent(_)
        ));
    }
}
