//! Outbound webhooks, decided without I/O: an endpoint's fields, which addresses it may reach,
//! the signature a receiver checks, when a failed delivery is tried again, and when an
//! endpoint that keeps failing is switched off. (API.md "Events and outbound webhooks".)

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hmac::{Hmac, Mac};
use jiff::{SignedDuration, Timestamp};
use sha2::Sha256;

use crate::error::Invalid;
use crate::event::{EventType, Position, TypeFilter};

/// The longest URL an endpoint may have.
pub const MAX_URL_CHARS: usize = 2_000;
/// The longest description.
pub const MAX_DESCRIPTION_CHARS: usize = 500;
/// How long a receiver has to answer before the attempt counts as failed.
pub const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// An endpoint whose deliveries have failed without a success for this long is switched off.
pub const DISABLE_AFTER: SignedDuration = SignedDuration::from_hours(3 * 24);

/// The waits before each retry: the first within 10 s and the second within a minute even
/// with the jitter, then longer, so that 9 attempts span more than a day (API.md: at least 8
/// attempts over at least 24 hours).
const RETRY_WAITS_S: [i64; 8] = [
    8,
    45,
    5 * 60,
    30 * 60,
    2 * 3600,
    6 * 3600,
    10 * 3600,
    14 * 3600,
];
/// Attempts before a delivery is marked failed.
pub const MAX_ATTEMPTS: i64 = RETRY_WAITS_S.len() as i64 + 1;

/// An endpoint as an admin asks for it.
#[derive(Debug, Clone, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WebhookIn {
    /// Where events are POSTed: `https://…` (or `http://…`).
    #[cfg_attr(
        feature = "openapi",
        schema(example = "https://shop.example.vn/hooks/loyalty")
    )]
    pub url: String,
    /// Event types, families (`points.*`) or `*`.
    #[cfg_attr(feature = "openapi", schema(example = json!(["order.paid", "points.*"])))]
    pub events: Vec<String>,
    pub description: Option<String>,
}

/// A change to an endpoint; absent fields stay as they are.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WebhookPatchIn {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
    /// Switch the endpoint off, or on again (its pending deliveries then resume).
    pub active: Option<bool>,
}

/// An endpoint's checked fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookFields {
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
}

impl WebhookIn {
    pub fn validate(&self, allow_private: bool) -> Result<WebhookFields, Invalid> {
        let mut errors = Invalid::default();
        let url = check_url(&mut errors, &self.url, allow_private);
        let events = check_events(&mut errors, &self.events);
        let description = check_description(&mut errors, self.description.as_deref());
        errors.into_result(|| WebhookFields {
            url: url.unwrap_or_default(),
            events,
            description,
        })
    }
}

impl WebhookPatchIn {
    /// The endpoint's fields after this change, checked.
    pub fn apply(
        &self,
        current: &WebhookFields,
        allow_private: bool,
    ) -> Result<WebhookFields, Invalid> {
        WebhookIn {
            url: self.url.clone().unwrap_or_else(|| current.url.clone()),
            events: self
                .events
                .clone()
                .unwrap_or_else(|| current.events.clone()),
            description: self
                .description
                .clone()
                .or_else(|| current.description.clone()),
        }
        .validate(allow_private)
    }
}

fn check_url(errors: &mut Invalid, text: &str, allow_private: bool) -> Option<String> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_URL_CHARS {
        let message = format!("must have 1 to {MAX_URL_CHARS} characters");
        errors.push_bounded("url", "length", (1, MAX_URL_CHARS as i64), message);
        return None;
    }
    let Ok(url) = url::Url::parse(text) else {
        errors.push_coded(
            "url",
            "url.format",
            "must be an absolute URL such as https://shop.example.vn/hooks",
        );
        return None;
    };
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
        errors.push_coded(
            "url",
            "url.format",
            "must be an http or https URL with a host",
        );
        return None;
    }
    if !url.username().is_empty() || url.password().is_some() {
        errors.push_coded(
            "url",
            "url.credentials",
            "must not carry a user name or password; the signature authenticates us",
        );
        return None;
    }
    if !allow_private {
        let private = match url.host() {
            Some(url::Host::Ipv4(ip)) => !is_public(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => !is_public(IpAddr::V6(ip)),
            Some(url::Host::Domain(name)) => is_local_name(name),
            None => true,
        };
        if private {
            errors.push_coded(
                "url",
                "url.private_address",
                "points to a loopback or private address; the server must run with --allow-private-webhooks for that",
            );
            return None;
        }
    }
    Some(url.to_string())
}

fn check_events(errors: &mut Invalid, events: &[String]) -> Vec<String> {
    if events.is_empty() {
        errors.push_coded(
            "events",
            "required",
            "name at least one event type, a family such as points.* or *",
        );
        return Vec::new();
    }
    let mut kept: Vec<String> = Vec::with_capacity(events.len());
    for (i, pattern) in events.iter().enumerate() {
        let pattern = pattern.trim();
        match TypeFilter::parse(&format!("events[{i}]"), pattern) {
            Ok(_) if !pattern.contains(',') => {
                if !kept.iter().any(|k| k == pattern) {
                    kept.push(pattern.to_string());
                }
            }
            Ok(_) => errors.push_coded(
                format!("events[{i}]"),
                "event_type.unknown",
                "one type or family per entry",
            ),
            Err(invalid) => errors.0.extend(invalid.0),
        }
    }
    kept
}

fn check_description(errors: &mut Invalid, text: Option<&str>) -> Option<String> {
    let text = text.map(str::trim).filter(|t| !t.is_empty())?;
    if text.chars().count() > MAX_DESCRIPTION_CHARS {
        let message = format!("must have at most {MAX_DESCRIPTION_CHARS} characters");
        errors.push_bounded(
            "description",
            "length",
            (1, MAX_DESCRIPTION_CHARS as i64),
            message,
        );
    }
    Some(text.to_string())
}

/// Whether an endpoint subscribed to `patterns` wants events of type `kind`.
pub fn wants(patterns: &[String], kind: EventType) -> bool {
    TypeFilter::parse("events", &patterns.join(",")).is_ok_and(|filter| filter.matches(kind))
}

/// Whether `ip` is an address on the public internet: not loopback, private, link-local,
/// carrier-grade NAT, unspecified, broadcast, multicast or reserved for documentation — the
/// addresses a server must not be made to call on a stranger's behalf.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || first == 0x2001 && ip.segments()[1] == 0x0db8)
}

/// Host names that name this machine or its network whatever DNS says.
fn is_local_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost"
        || name.ends_with(".localhost")
        || name.ends_with(".local")
        || name.ends_with(".internal")
}

/// The `Loyalty-Signature` header for `body` sent at `t` (unix seconds):
/// `t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, the key being the whole `whsec_…` secret.
pub fn signature(secret: &str, t: i64, body: &[u8]) -> String {
    format!("t={t},v1={}", hex::encode(sign(secret, t, body)))
}

fn sign(secret: &str, t: i64, body: &[u8]) -> Vec<u8> {
    mac(secret, t, body).finalize().into_bytes().to_vec()
}

/// The HMAC over `"<t>.<body>"` keyed with the whole secret, before it is finished.
fn mac(secret: &str, t: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// Checks a `Loyalty-Signature` header as a receiver would (in constant time), for the tests
/// and the integrator's guide.
pub fn verify(secret: &str, header: &str, body: &[u8]) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => v1 = hex::decode(value).ok(),
            _ => {}
        }
    }
    let (Some(t), Some(given)) = (t, v1) else {
        return false;
    };
    mac(secret, t, body).verify_slice(&given).is_ok()
}

/// When to try a delivery again after its attempt number `attempts` (1 for the first) failed,
/// or `None` when that was its last. `jitter` (0.0 to 1.0) moves the wait by up to ±20%.
pub fn retry_at(attempts: i64, now: Timestamp, jitter: f64) -> Option<Timestamp> {
    let index = usize::try_from(attempts.checked_sub(1)?).ok()?;
    let wait = *RETRY_WAITS_S.get(index)? as f64 * (0.8 + 0.4 * jitter.clamp(0.0, 1.0));
    let wait = SignedDuration::try_from_secs_f64(wait).ok()?;
    now.checked_add(wait).ok()
}

/// Whether an endpoint failing since `failing_since` has failed for long enough to be switched
/// off.
pub fn should_disable(failing_since: Option<Timestamp>, now: Timestamp) -> bool {
    failing_since.is_some_and(|since| now.duration_since(since) >= DISABLE_AFTER)
}

/// The answer that counts as delivered: any 2xx.
pub fn delivered(status: u16) -> bool {
    (200..300).contains(&status)
}

/// An endpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    /// The signing secret sealed with the server's key (`app::secrets`).
    pub secret_sealed: String,
    pub active: bool,
    /// Why the endpoint was switched off by the server (after failing for days).
    pub disabled_reason: Option<String>,
    /// Where in the events feed the sender has reached for this endpoint.
    pub cursor: Position,
    pub failing_since: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Webhook {
    pub fn fields(&self) -> WebhookFields {
        WebhookFields {
            url: self.url.clone(),
            events: self.events.clone(),
            description: self.description.clone(),
        }
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<DeliveryStatus> {
        [
            DeliveryStatus::Pending,
            DeliveryStatus::Delivered,
            DeliveryStatus::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// One event for one endpoint, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: String,
    pub webhook_id: String,
    pub event_id: String,
    pub event_type: String,
    /// The event's member (`""` when none): deliveries of one lane go out in order.
    pub lane: String,
    pub position: Position,
    /// The request body: the event object, the same bytes on every attempt.
    pub body: String,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
}

impl Delivery {
    /// A delivery of an event to an endpoint, due now, not yet tried.
    pub fn pending(
        webhook_id: &str,
        event: (&str, &str),
        lane: String,
        position: Position,
        body: String,
        now: Timestamp,
    ) -> Delivery {
        let (event_id, event_type) = event;
        Delivery {
            id: crate::id::new_id("dlv"),
            webhook_id: webhook_id.to_string(),
            event_id: event_id.to_string(),
            event_type: event_type.to_string(),
            lane,
            position,
            body,
            status: DeliveryStatus::Pending,
            attempts: 0,
            last_status_code: None,
            last_error: None,
            next_attempt_at: Some(now),
            created_at: now,
            delivered_at: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(url: &str) -> WebhookIn {
        WebhookIn {
            url: url.into(),
            events: vec!["order.paid".into(), "points.*".into()],
            description: Some("  Kho dữ liệu  ".into()),
        }
    }

    #[test]
    fn an_endpoint_on_the_internet_is_taken_and_a_private_one_only_when_allowed() {
        let fields = endpoint("https://shop.example.vn/hooks")
            .validate(false)
            .unwrap();
        assert_eq!(fields.url, "https://shop.example.vn/hooks");
        assert_eq!(fields.description.as_deref(), Some("Kho dữ liệu"));
        for private in [
            "http://127.0.0.1:8080/h",
            "http://localhost/h",
            "http://10.0.0.5/h",
            "http://192.168.1.10/h",
            "http://172.16.3.4/h",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/h",
            "http://[fd00::1]/h",
            "http://[::ffff:127.0.0.1]/h",
            "http://100.64.0.1/h",
            "http://0.0.0.0/h",
        ] {
            let refused = endpoint(private).validate(false).unwrap_err();
            assert_eq!(refused.0[0].code, "url.private_address", "{private}");
            assert!(endpoint(private).validate(true).is_ok(), "{private}");
        }
    }

    #[test]
    fn broken_endpoints_name_each_field() {
        let broken = WebhookIn {
            url: "ftp://shop.example.vn".into(),
            events: vec!["order.shipped".into()],
            description: Some("x".repeat(501)),
        }
        .validate(false)
        .unwrap_err();
        let fields: Vec<_> = broken
            .0
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect();
        assert_eq!(
            fields,
            [
                ("url", "url.format"),
                ("events[0]", "event_type.unknown"),
                ("description", "length")
            ]
        );
        let secret_in_url = endpoint("https://user:pw@shop.example.vn/h")
            .validate(false)
            .unwrap_err();
        assert_eq!(secret_in_url.0[0].code, "url.credentials");
    }

    #[test]
    fn patterns_choose_the_events_an_endpoint_gets() {
        let patterns = vec!["order.paid".to_string(), "points.*".to_string()];
        assert!(wants(&patterns, EventType::OrderPaid));
        assert!(wants(&patterns, EventType::PointsExpired));
        assert!(!wants(&patterns, EventType::TierChanged));
        assert!(wants(&["*".to_string()], EventType::TierChanged));
    }

    #[test]
    fn the_signature_is_the_one_python_openssl_and_node_compute() {
        // The vector of docs/webhooks.md, computed there with each language's HMAC.
        let body = br#"{"id":"evt_1","type":"ping"}"#;
        assert_eq!(
            signature("whsec_test", 1_764_990_000, body),
            "t=1764990000,v1=750f52b87e73ecc7383ef17d59f233732da369d573795ee2f986d761aa88c696"
        );
    }

    #[test]
    fn a_signature_verifies_with_its_secret_only() {
        let body = br#"{"id":"evt_1","type":"ping"}"#;
        let header = signature("whsec_abc", 1_764_000_000, body);
        assert!(header.starts_with("t=1764000000,v1="));
        assert!(verify("whsec_abc", &header, body));
        assert!(!verify("whsec_abd", &header, body));
        assert!(!verify("whsec_abc", &header, b"{}"));
        assert!(!verify("whsec_abc", "t=1,v1=zz", body));
    }

    #[test]
    fn retries_come_within_10_s_then_a_minute_and_span_more_than_a_day() {
        let now = Timestamp::UNIX_EPOCH;
        let wait = |attempts, jitter| retry_at(attempts, now, jitter).map(|t| t.as_second());
        assert!(wait(1, 1.0).unwrap() <= 10);
        assert!(wait(2, 1.0).unwrap() <= 60);
        assert_eq!(wait(MAX_ATTEMPTS, 0.5), None);
        let span: i64 = (1..MAX_ATTEMPTS).map(|a| wait(a, 0.0).unwrap()).sum();
        assert!(MAX_ATTEMPTS >= 8 && span >= 24 * 3600, "{span}");
    }

    #[test]
    fn an_endpoint_failing_for_three_days_is_switched_off() {
        let now: Timestamp = "2026-12-06T00:00:00Z".parse().unwrap();
        assert!(!should_disable(None, now));
        assert!(!should_disable(
            Some(now - SignedDuration::from_hours(71)),
            now
        ));
        assert!(should_disable(
            Some(now - SignedDuration::from_hours(72)),
            now
        ));
    }
}
