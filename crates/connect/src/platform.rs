//! The platforms, their headers and their signatures.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Platform {
    Haravan,
    Shopify,
    Sapo,
    Kiotviet,
}

impl Platform {
    pub const ALL: [Platform; 4] = [
        Platform::Haravan,
        Platform::Shopify,
        Platform::Sapo,
        Platform::Kiotviet,
    ];

    pub fn parse(text: &str) -> Option<Platform> {
        Platform::ALL.into_iter().find(|p| p.as_str() == text)
    }

    /// The name in URLs and the API, and our orders' `source`.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Haravan => "haravan",
            Platform::Shopify => "shopify",
            Platform::Sapo => "sapo",
            Platform::Kiotviet => "kiotviet",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Platform::Haravan => "Haravan",
            Platform::Shopify => "Shopify",
            Platform::Sapo => "Sapo",
            Platform::Kiotviet => "KiotViet",
        }
    }

    /// Our orders' `channel`: a web store sells online, KiotViet at the counter.
    pub fn channel(self) -> &'static str {
        match self {
            Platform::Kiotviet => "pos",
            _ => "web",
        }
    }

    /// The header that carries the signature (lower case, as HTTP libraries give them).
    pub fn signature_header(self) -> &'static str {
        match self {
            Platform::Haravan => "x-haravan-hmacsha256",
            Platform::Shopify => "x-shopify-hmac-sha256",
            Platform::Sapo => "x-sapo-hmac-sha256",
            Platform::Kiotviet => "x-hub-signature",
        }
    }

    /// The header that names the topic; KiotViet names it in the body.
    pub fn topic_header(self) -> Option<&'static str> {
        match self {
            Platform::Haravan => Some("x-haravan-topic"),
            Platform::Shopify => Some("x-shopify-topic"),
            Platform::Sapo => Some("x-sapo-topic"),
            Platform::Kiotviet => None,
        }
    }

    /// The header that identifies a delivery across the platform's retries, where there is
    /// one (others are recognised by their bytes).
    pub fn delivery_header(self) -> Option<&'static str> {
        match self {
            Platform::Shopify => Some("x-shopify-webhook-id"),
            _ => None,
        }
    }

    /// Checks the signature header against the raw body, in constant time. Haravan, Shopify
    /// and Sapo send base64(HMAC-SHA256(secret, body)); KiotViet `sha256=<hex>` of the same.
    pub fn verify(self, secret: &str, body: &[u8], header: Option<&str>) -> bool {
        let Some(header) = header.map(str::trim).filter(|h| !h.is_empty()) else {
            return false;
        };
        let given = match self {
            Platform::Kiotviet => {
                let hex_part = header.strip_prefix("sha256=").unwrap_or(header);
                hex::decode(hex_part).ok()
            }
            _ => base64::engine::general_purpose::STANDARD
                .decode(header)
                .ok(),
        };
        let Some(given) = given else {
            return false;
        };
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
        mac.update(body);
        mac.verify_slice(&given).is_ok()
    }

    /// The signature header a platform would send: for the tests and the local doubles.
    pub fn sign(self, secret: &str, body: &[u8]) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
        mac.update(body);
        let digest = mac.finalize().into_bytes();
        match self {
            Platform::Kiotviet => format!("sha256={}", hex::encode(digest)),
            _ => base64::engine::general_purpose::STANDARD.encode(digest),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // INTERFACES.md §3.1: the published vector.
    const BODY: &[u8] = br#"{"id":820982911946154508,"financial_status":"paid"}"#;
    const BASE64: &str = "tFxPLaYcjW98phZIEd1LNAoZIlL8QfyG38KXviptOKQ=";

    #[test]
    fn the_published_vector_verifies_for_every_base64_platform() {
        for p in [Platform::Haravan, Platform::Shopify, Platform::Sapo] {
            assert_eq!(p.sign("hush", BODY), BASE64);
            assert!(p.verify("hush", BODY, Some(BASE64)));
            assert!(!p.verify("hush!", BODY, Some(BASE64)));
            assert!(!p.verify("hush", b"{}", Some(BASE64)));
            assert!(!p.verify("hush", BODY, None));
            assert!(!p.verify("hush", BODY, Some("not base64!")));
        }
    }

    #[test]
    fn kiotviet_signs_in_hex() {
        let header = Platform::Kiotviet.sign("hush", BODY);
        assert!(header.starts_with("sha256=b45c4f2d"), "{header}");
        assert!(header.ends_with("6d38a4"), "{header}");
        assert!(Platform::Kiotviet.verify("hush", BODY, Some(&header)));
        assert!(!Platform::Kiotviet.verify("hush", BODY, Some(BASE64)));
    }

    #[test]
    fn names_round_trip() {
        for p in Platform::ALL {
            assert_eq!(Platform::parse(p.as_str()), Some(p));
        }
        assert_eq!(Platform::parse("woocommerce"), None);
    }
}
