//! Cookies and the signed-in staff member.
//!
//! - `loyalty_session`: the session token (HttpOnly, SameSite=Lax; `Secure` when the request
//!   came over HTTPS through a proxy that says so, since a shop's box on the LAN often serves
//!   plain HTTP and a `Secure` cookie would then never come back).
//! - `loyalty_csrf`: a random value for the forms shown before signing in (setup, login),
//!   checked against the form's hidden field (double submit). Signed-in forms use the
//!   session's own token instead.
//! - `loyalty_lang`: `vi` or `en`.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use loyalty_app::App;
use loyalty_app::sessions::{SESSION_IDLE, Session};
use loyalty_core::tenancy::Permission;

use super::i18n::Lang;
use super::{UiError, error_page};

pub const SESSION_COOKIE: &str = "loyalty_session";
pub const CSRF_COOKIE: &str = "loyalty_csrf";
pub const LANG_COOKIE: &str = "loyalty_lang";

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

fn is_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value. `max_age` 0 deletes the cookie.
pub fn set_cookie(
    headers: &HeaderMap,
    name: &str,
    value: &str,
    max_age: i64,
    strict: bool,
) -> String {
    let same_site = if strict { "Strict" } else { "Lax" };
    let secure = if is_https(headers) { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; HttpOnly; SameSite={same_site}; Max-Age={max_age}{secure}")
}

pub fn session_cookie(headers: &HeaderMap, token: &str) -> String {
    set_cookie(
        headers,
        SESSION_COOKIE,
        token,
        SESSION_IDLE.as_secs(),
        false,
    )
}

pub fn lang(headers: &HeaderMap) -> Lang {
    cookie(headers, LANG_COOKIE)
        .and_then(Lang::parse)
        .unwrap_or(Lang::Vi)
}

/// The caller's address, for sign-in limits: the peer, or — when the peer is a trusted proxy
/// (`--trusted-proxy`) — the address its `X-Forwarded-For` gives. A forwarded header from
/// anyone else is ignored, as anyone can send one.
pub struct Client(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let Some(peer) = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
        else {
            return Ok(Client("unknown".to_string()));
        };
        let trusted = parts
            .extensions
            .get::<std::sync::Arc<crate::ServerOptions>>()
            .map(|o| o.trusted_proxies.clone())
            .unwrap_or_default();
        let forwarded: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        Ok(Client(
            client_address(peer, &forwarded.join(","), &trusted).to_string(),
        ))
    }
}

/// The client behind a chain of proxies: walking `X-Forwarded-For` from the right (the entry
/// the nearest proxy added), the first address that is not a trusted proxy. Only a trusted
/// peer's header is read at all.
pub fn client_address(peer: IpAddr, forwarded_for: &str, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    for hop in forwarded_for
        .rsplit(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
    {
        match hop.parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    client
}

/// Compares without stopping at the first difference, so timing does not reveal a prefix.
pub fn same_token(given: &str, expected: &str) -> bool {
    !expected.is_empty()
        && loyalty_core::code::constant_time_eq(given.as_bytes(), expected.as_bytes())
}

/// A signed-in staff member with their language. Pages that need one take this; without a
/// live session the browser is sent to the login page.
pub struct Staff {
    pub session: Session,
    pub lang: Lang,
    pub headers: HeaderMap,
}

impl Staff {
    /// 403 unless the staff member's role allows it.
    pub fn require(&self, permission: Permission) -> Result<(), UiError> {
        if self.session.user.role.may(permission) {
            Ok(())
        } else {
            Err(UiError::Forbidden(self.lang))
        }
    }

    pub fn may(&self, permission: Permission) -> bool {
        self.session.user.role.may(permission)
    }

    /// 403 unless the form carried this session's CSRF token.
    pub fn check_csrf(&self, given: &str) -> Result<(), UiError> {
        if same_token(given, &self.session.csrf_token) {
            Ok(())
        } else {
            Err(UiError::Csrf(self.lang))
        }
    }
}

impl FromRequestParts<App> for Staff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let lang = lang(&parts.headers);
        let token = cookie(&parts.headers, SESSION_COOKIE).unwrap_or_default();
        match app.session(token).await {
            Ok(Some(session)) => Ok(Staff {
                session,
                lang,
                headers: parts.headers.clone(),
            }),
            Ok(None) => {
                let next = parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/");
                let target = format!(
                    "/login?next={}",
                    form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                );
                Err(Redirect::to(&target).into_response())
            }
            Err(error) => Err(error_page(lang, UiError::App(lang, error))),
        }
    }
}

/// Only same-site paths may follow a login or a language switch (no open redirect): one
/// leading `/`, then no second `/` or `\` right after it, no backslash anywhere, and no
/// control character or whitespace — browsers drop tabs and line breaks from a URL, so
/// `/\t/evil.example` would become `//evil.example`, another site.
pub fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(|c| c.is_control() || c.is_whitespace()) =>
        {
            n
        }
        _ => "/",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_trusted_proxy_may_name_the_client() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // Straight from the internet: the header is whatever the client wrote.
        assert_eq!(
            client_address(ip("203.0.113.9"), "1.2.3.4", &trusted),
            ip("203.0.113.9")
        );
        // Through our proxies: the rightmost address that is not one of them.
        assert_eq!(
            client_address(ip("10.0.0.2"), "6.6.6.6, 198.51.100.7, 10.0.0.5", &trusted),
            ip("198.51.100.7")
        );
        assert_eq!(client_address(ip("10.0.0.2"), "", &trusted), ip("10.0.0.2"));
        assert_eq!(
            client_address(ip("10.0.0.2"), "garbage, 198.51.100.7", &trusted),
            ip("198.51.100.7")
        );
        assert_eq!(
            client_address(ip("10.0.0.2"), "198.51.100.7, garbage", &trusted),
            ip("10.0.0.2")
        );
        assert_eq!(
            client_address(ip("10.0.0.2"), "1.2.3.4", &[]),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, "a=1; loyalty_lang=en; b=2".parse().unwrap());
        assert_eq!(cookie(&headers, LANG_COOKIE), Some("en"));
        assert_eq!(lang(&headers), Lang::En);
        assert_eq!(cookie(&headers, "c"), None);
    }

    #[test]
    fn tokens_compare_whole_and_never_empty() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abd", "abc"));
        assert!(!same_token("ab", "abc"));
        assert!(!same_token("", ""));
    }

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(safe_next(Some("/members?q=a")), "/members?q=a");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(None), "/");
        for attack in [
            "/\t/evil.example",
            "/\n/evil",
            "/\r/evil",
            "/ /evil",
            "\t//evil",
            "/\u{0}x",
            "/\u{85}/evil",
            "/a\\b",
        ] {
            assert_eq!(safe_next(Some(attack)), "/", "{attack:?}");
        }
    }

    #[test]
    fn cookies_are_http_only_and_secure_behind_https() {
        let mut headers = HeaderMap::new();
        let plain = session_cookie(&headers, "t");
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Lax"));
        assert!(!plain.contains("Secure"));
        headers.insert("x-forwarded-proto", "https".parse().unwrap());
        assert!(session_cookie(&headers, "t").ends_with("; Secure"));
    }
}
