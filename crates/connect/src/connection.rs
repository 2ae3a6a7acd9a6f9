//! A connection as an admin creates or changes it (`POST /api/v1/connections`), checked.

use loyalty_core::error::Invalid;
use serde::Deserialize;

use crate::Platform;

const MAX_SECRET: usize = 500;

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConnectionIn {
    /// `haravan`, `shopify`, `sapo` or `kiotviet`.
    pub platform: String,
    pub name: String,
    /// The platform's webhook signing secret (Shopify: the app's client secret; Haravan: the
    /// app secret or the private webhook's authentication string; KiotViet: the secret given
    /// when registering the webhook).
    pub secret: String,
    /// Haravan's verify token, answered in its subscription handshake.
    pub verify_token: Option<String>,
    /// Store code the connection's orders are booked to.
    pub store: Option<String>,
    /// Brand code the connection's orders are booked to.
    pub brand: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConnectionPatchIn {
    pub name: Option<String>,
    pub secret: Option<String>,
    #[serde(default, with = "double_option")]
    pub verify_token: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    pub store: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    pub brand: Option<Option<String>>,
    pub active: Option<bool>,
}

/// A checked connection.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionFields {
    pub platform: Platform,
    pub name: String,
    pub secret: String,
    pub verify_token: Option<String>,
    pub store: Option<String>,
    pub brand: Option<String>,
}

/// A checked change: `None` leaves a field as it is.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConnectionPatch {
    pub name: Option<String>,
    pub secret: Option<String>,
    pub verify_token: Option<Option<String>>,
    pub store: Option<Option<String>>,
    pub brand: Option<Option<String>>,
    pub active: Option<bool>,
}

impl ConnectionIn {
    pub fn validate(self) -> Result<ConnectionFields, Invalid> {
        let mut e = Invalid::default();
        let platform = Platform::parse(self.platform.trim());
        if platform.is_none() {
            e.push_coded(
                "platform",
                "platform.unknown",
                "must be haravan, shopify, sapo or kiotviet",
            );
        }
        let name = required(&mut e, "name", &self.name, 100);
        let secret = required(&mut e, "secret", &self.secret, MAX_SECRET);
        let verify_token = optional(&mut e, "verify_token", self.verify_token, 200);
        let store = optional(&mut e, "store", self.store, 50);
        let brand = optional(&mut e, "brand", self.brand, 50);
        let platform = platform.unwrap_or(Platform::Haravan);
        e.into_result(|| ConnectionFields {
            platform,
            name,
            secret,
            verify_token,
            store,
            brand,
        })
    }
}

impl ConnectionPatchIn {
    pub fn validate(self) -> Result<ConnectionPatch, Invalid> {
        let mut e = Invalid::default();
        let patch = ConnectionPatch {
            name: self.name.map(|n| required(&mut e, "name", &n, 100)),
            secret: self
                .secret
                .map(|s| required(&mut e, "secret", &s, MAX_SECRET)),
            verify_token: self
                .verify_token
                .map(|t| optional(&mut e, "verify_token", t, 200)),
            store: self.store.map(|s| optional(&mut e, "store", s, 50)),
            brand: self.brand.map(|b| optional(&mut e, "brand", b, 50)),
            active: self.active,
        };
        e.into_result(|| patch)
    }
}

fn required(e: &mut Invalid, field: &str, value: &str, max: usize) -> String {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max {
        e.push_bounded(
            field,
            "length",
            (1, max as i64),
            format!("must have 1 to {max} characters"),
        );
    }
    value.to_string()
}

fn optional(e: &mut Invalid, field: &str, value: Option<String>, max: usize) -> Option<String> {
    let value = value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())?;
    Some(required(e, field, &value, max))
}

/// `null` clears a field; absence leaves it.
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ConnectionIn {
        ConnectionIn {
            platform: "haravan".into(),
            name: "Web store".into(),
            secret: "hush".into(),
            verify_token: None,
            store: Some("WEB".into()),
            brand: None,
        }
    }

    #[test]
    fn a_connection_names_its_platform_and_secret() {
        assert_eq!(input().validate().unwrap().platform, Platform::Haravan);
        let bad = ConnectionIn {
            platform: "woo".into(),
            secret: " ".into(),
            ..input()
        };
        let errors = bad.validate().unwrap_err();
        let fields: Vec<_> = errors.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["platform", "secret"]);
    }

    #[test]
    fn a_patch_may_clear_optional_fields() {
        let patch: ConnectionPatchIn =
            serde_json::from_str(r#"{"store": null, "active": false}"#).unwrap();
        let patch = patch.validate().unwrap();
        assert_eq!(patch.store, Some(None));
        assert_eq!(patch.brand, None);
        assert_eq!(patch.active, Some(false));
    }
}
