//! The member's own side (API.md "Member portal and widget"): the portal's settings, and the
//! rules of the one-time sign-in code — how often one is sent, how long it lives, how many
//! tries it allows. Codes and session tokens are kept hashed; the app draws them at random.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::Invalid;

/// How long a code is good for.
pub const CODE_VALID: SignedDuration = SignedDuration::from_mins(5);
/// Wrong codes a code survives (the fifth wrong one ends it).
pub const CODE_TRIES: i64 = 5;
/// The least time between two codes to one phone.
pub const CODE_EVERY: SignedDuration = SignedDuration::from_secs(60);
/// Codes one phone, and one client address, may be sent in an hour.
pub const CODES_PER_PHONE_HOUR: i64 = 5;
pub const CODES_PER_CLIENT_HOUR: i64 = 20;
/// How long a member's sign-in lasts.
pub const SESSION: SignedDuration = SignedDuration::from_hours(30 * 24);

/// Program settings `portal` (API.md).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, default)]
pub struct PortalSettings {
    pub enabled: bool,
    /// The portal's address: `/m/{slug}` and `/portal/v1/{slug}` (lower-case letters, digits
    /// and dashes).
    pub slug: Option<String>,
    /// `#rrggbb`.
    pub brand_color: Option<String>,
    pub logo_url: Option<String>,
    /// Pages that may show the portal in the widget's frame (`https://shop.example.vn`).
    pub allowed_origins: Vec<String>,
    /// A verified phone that is not a member yet registers one.
    pub self_signup: bool,
    /// What the shop's site signs its logged-in customer's token with (API.md
    /// `customer_token`). Written, never shown: reading the settings gives `••••`; kept sealed
    /// with the server's key.
    pub customer_token_secret: Option<String>,
    /// The shop's approved Zalo ZNS template for sign-in codes (its parameter `otp`): with it,
    /// codes go by Zalo first, then SMS, then e-mail.
    pub zns_otp_template_id: Option<String>,
}

/// What the settings show in place of a customer token secret; sent back, it keeps the secret.
pub const SECRET_SHOWN: &str = "••••";
/// How a sealed secret is kept in the settings.
pub const SEALED_PREFIX: &str = "sealed:";

impl PortalSettings {
    /// The settings' mistakes, each under `portal.…`.
    pub fn check(&self, e: &mut Invalid) {
        match self.slug.as_deref() {
            Some(slug) if !slug_ok(slug) => e.push_coded(
                "portal.slug",
                "invalid",
                "3 to 60 lower-case letters, digits and dashes",
            ),
            None if self.enabled => e.required("portal.slug"),
            _ => {}
        }
        if let Some(color) = &self.brand_color
            && !(color.len() == 7
                && color.starts_with('#')
                && color[1..].bytes().all(|b| b.is_ascii_hexdigit()))
        {
            e.push_coded("portal.brand_color", "invalid", "a colour such as #b91c1c");
        }
        if let Some(url) = &self.logo_url
            && !web_address(url, true)
        {
            e.push_coded(
                "portal.logo_url",
                "invalid",
                "an https:// or http:// address",
            );
        }
        if let Some(secret) = &self.customer_token_secret
            && secret != SECRET_SHOWN
            && !secret.starts_with(SEALED_PREFIX)
            && !(16..=200).contains(&secret.chars().count())
        {
            e.push_bounded(
                "portal.customer_token_secret",
                "length",
                (16, 200),
                "16 to 200 characters",
            );
        }
        if let Some(template) = &self.zns_otp_template_id
            && !(1..=64).contains(&template.len())
        {
            e.push_bounded(
                "portal.zns_otp_template_id",
                "length",
                (1, 64),
                "1 to 64 characters",
            );
        }
        if self.allowed_origins.len() > 20 {
            e.push_bounded("portal.allowed_origins", "too_many", (0, 20), "at most 20");
        }
        for (i, origin) in self.allowed_origins.iter().enumerate() {
            if !web_address(origin, false) {
                e.push_coded(
                    format!("portal.allowed_origins[{i}]"),
                    "invalid",
                    "an origin such as https://shop.example.vn (no path)",
                );
            }
        }
    }
}

/// Whether `text` can be a portal's slug (3 to 60 lower-case letters, digits and inner dashes).
pub fn is_slug(text: &str) -> bool {
    slug_ok(text)
}

fn slug_ok(slug: &str) -> bool {
    (3..=60).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
}

/// `http(s)://host[:port]`, with a path only where `path` allows it.
fn web_address(text: &str, path: bool) -> bool {
    let Some(rest) = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
    else {
        return false;
    };
    let (host, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'))
        && (path || tail.is_empty())
        && text.len() <= 500
}

/// Why no code is sent now (the answer is the same 202 either way: whether a phone is known,
/// or limited, is not told).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// A code went to this phone less than a minute ago.
    TooSoon,
    /// Five codes to this phone in the last hour.
    PhoneHour,
    /// Twenty codes asked from this client address in the last hour.
    ClientHour,
}

/// Whether a new code may go to a phone: `last` is when the phone's latest code was sent,
/// `phone_hour` and `client_hour` the codes of the last hour to the phone and from the client.
pub fn may_send(
    last: Option<Timestamp>,
    phone_hour: i64,
    client_hour: i64,
    now: Timestamp,
) -> Result<(), Held> {
    if client_hour >= CODES_PER_CLIENT_HOUR {
        return Err(Held::ClientHour);
    }
    if phone_hour >= CODES_PER_PHONE_HOUR {
        return Err(Held::PhoneHour);
    }
    if last.is_some_and(|at| now < at + CODE_EVERY) {
        return Err(Held::TooSoon);
    }
    Ok(())
}

/// A code as kept: its hash, when it was sent, and the wrong tries so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCode {
    pub id: String,
    pub salt: String,
    pub hash: String,
    pub created_at: Timestamp,
    pub tries: i64,
}

/// What a typed code means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Right: the code is used up and the member is signed in.
    Right,
    /// Wrong, and the code still allows another try.
    Wrong,
    /// No live code (never sent, expired, or its tries used up).
    NoCode,
}

/// The hash a code is kept as: SHA-256 of its salt and the digits.
pub fn code_hash(salt: &str, code: &str) -> String {
    hex::encode(Sha256::digest(format!("{salt}:{code}").as_bytes()))
}

/// Checks a typed code against the phone's latest code (compared in constant time).
pub fn check_code(stored: Option<&StoredCode>, typed: &str, now: Timestamp) -> Verdict {
    let Some(code) = stored else {
        return Verdict::NoCode;
    };
    if now >= code.created_at + CODE_VALID || code.tries >= CODE_TRIES {
        return Verdict::NoCode;
    }
    let typed = typed.trim();
    let shaped = typed.len() == 6 && typed.bytes().all(|b| b.is_ascii_digit());
    let same = crate::code::constant_time_eq(
        code_hash(&code.salt, typed).as_bytes(),
        code.hash.as_bytes(),
    );
    if shaped && same {
        Verdict::Right
    } else {
        Verdict::Wrong
    }
}

/// A session token's stored form: SHA-256, so a copy of the database signs nobody in.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Who a shop's site says its logged-in customer is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Customer {
    Phone(String),
    Email(String),
    ExternalId(String),
}

/// Why a `customer_token` does not sign anyone in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    Malformed,
    Signature,
    Expired,
}

type HmacSha256 = hmac::Hmac<Sha256>;

fn token_mac(secret: &str, payload: &str) -> HmacSha256 {
    use hmac::Mac;
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(payload.as_bytes());
    mac
}

/// A `customer_token` as a shop's site makes one (API.md):
/// `base64url(payload).hex(HMAC-SHA256(secret, base64url(payload)))`, base64url unpadded.
pub fn sign_customer_token(secret: &str, payload: &serde_json::Value) -> String {
    use base64::Engine;
    use hmac::Mac;
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload.to_string());
    let signature = hex::encode(token_mac(secret, &encoded).finalize().into_bytes());
    format!("{encoded}.{signature}")
}

/// The customer a `customer_token` names, if its signature is the secret's (checked in
/// constant time) and its `exp` (unix seconds) is still ahead.
pub fn customer_from_token(
    secret: &str,
    token: &str,
    now: Timestamp,
) -> Result<Customer, TokenRefusal> {
    use base64::Engine;
    use hmac::Mac;
    let (encoded, signature) = token
        .trim()
        .rsplit_once('.')
        .ok_or(TokenRefusal::Malformed)?;
    let signature = hex::decode(signature).map_err(|_| TokenRefusal::Malformed)?;
    token_mac(secret, encoded)
        .verify_slice(&signature)
        .map_err(|_| TokenRefusal::Signature)?;
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| TokenRefusal::Malformed)?;
    let payload: serde_json::Value =
        serde_json::from_slice(&payload).map_err(|_| TokenRefusal::Malformed)?;
    let exp = payload["exp"].as_i64().ok_or(TokenRefusal::Malformed)?;
    if exp <= now.as_second() {
        return Err(TokenRefusal::Expired);
    }
    let text = |name: &str| {
        payload[name]
            .as_str()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    if let Some(phone) = text("phone") {
        Ok(Customer::Phone(phone))
    } else if let Some(email) = text("email") {
        Ok(Customer::Email(email))
    } else if let Some(id) = text("external_id") {
        Ok(Customer::ExternalId(id))
    } else {
        Err(TokenRefusal::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn codes_are_held_by_the_minute_the_phone_and_the_client() {
        let now = at("2026-12-07T03:00:00Z");
        assert_eq!(may_send(None, 0, 0, now), Ok(()));
        assert_eq!(
            may_send(Some(now - SignedDuration::from_secs(59)), 1, 1, now),
            Err(Held::TooSoon)
        );
        assert_eq!(
            may_send(Some(now - SignedDuration::from_secs(60)), 1, 1, now),
            Ok(())
        );
        assert_eq!(may_send(None, 5, 0, now), Err(Held::PhoneHour));
        assert_eq!(may_send(None, 0, 20, now), Err(Held::ClientHour));
    }

    #[test]
    fn a_code_is_right_once_within_five_minutes_and_five_tries() {
        let now = at("2026-12-07T03:00:00Z");
        let code = StoredCode {
            id: "otp_1".into(),
            salt: "s".into(),
            hash: code_hash("s", "123456"),
            created_at: now,
            tries: 0,
        };
        assert_eq!(check_code(Some(&code), " 123456 ", now), Verdict::Right);
        assert_eq!(check_code(Some(&code), "123457", now), Verdict::Wrong);
        assert_eq!(check_code(Some(&code), "12345", now), Verdict::Wrong);
        let late = now + CODE_VALID;
        assert_eq!(check_code(Some(&code), "123456", late), Verdict::NoCode);
        let spent = StoredCode { tries: 5, ..code };
        assert_eq!(check_code(Some(&spent), "123456", now), Verdict::NoCode);
        assert_eq!(check_code(None, "123456", now), Verdict::NoCode);
    }

    #[test]
    fn a_customer_token_signs_in_whom_it_names_until_it_expires() {
        let now = at("2026-12-07T03:00:00Z");
        let secret = "bi-mat-cua-cua-hang-0123";
        let good = sign_customer_token(
            secret,
            &serde_json::json!({"phone": "0901234567", "exp": now.as_second() + 600}),
        );
        assert_eq!(
            customer_from_token(secret, &good, now),
            Ok(Customer::Phone("0901234567".into()))
        );
        assert_eq!(
            customer_from_token("another-secret-0123456", &good, now),
            Err(TokenRefusal::Signature)
        );
        let later = now + SignedDuration::from_secs(600);
        assert_eq!(
            customer_from_token(secret, &good, later),
            Err(TokenRefusal::Expired)
        );
        let (payload, signature) = good.split_once('.').unwrap();
        let forged = format!("{payload}x.{signature}");
        assert_eq!(
            customer_from_token(secret, &forged, now),
            Err(TokenRefusal::Signature)
        );
        assert_eq!(
            customer_from_token(secret, "nonsense", now),
            Err(TokenRefusal::Malformed)
        );
        let nobody = sign_customer_token(secret, &serde_json::json!({"exp": now.as_second() + 60}));
        assert_eq!(
            customer_from_token(secret, &nobody, now),
            Err(TokenRefusal::Malformed)
        );
    }

    #[test]
    fn settings_name_each_mistake() {
        let mut e = Invalid::default();
        PortalSettings {
            enabled: true,
            slug: Some("Cà Phê".into()),
            brand_color: Some("red".into()),
            logo_url: Some("javascript:alert(1)".into()),
            allowed_origins: vec!["https://shop.example.vn".into(), "https://x.vn/path".into()],
            self_signup: false,
            customer_token_secret: Some("short".into()),
            zns_otp_template_id: Some(String::new()),
        }
        .check(&mut e);
        let fields: Vec<&str> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "portal.slug",
                "portal.brand_color",
                "portal.logo_url",
                "portal.customer_token_secret",
                "portal.zns_otp_template_id",
                "portal.allowed_origins[1]"
            ]
        );
        let mut ok = Invalid::default();
        PortalSettings {
            enabled: true,
            slug: Some("ca-phe-sang".into()),
            ..PortalSettings::default()
        }
        .check(&mut ok);
        assert!(ok.0.is_empty());
    }
}
