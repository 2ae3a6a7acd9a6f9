//! The portal inside the shop's own website (API.md "Member portal and widget"): `/widget.js`
//! adds a floating button that opens `/m/{slug}` in a panel; when the shop's page gives a
//! signed customer token, the panel signs that customer in through `POST /m/{slug}/embed`.
//! Framing is allowed to the shop's `portal.allowed_origins` only (CSP `frame-ancestors`), and
//! inside a frame the portal's cookies are `SameSite=None; Secure; Partitioned`: sent back to
//! the frame, kept apart from every other site's copy of it.

use axum::Form;
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use loyalty_app::{App, AppError};
use serde::Deserialize;

const WIDGET_JS: &str = include_str!("../static/widget.js");

pub fn routes() -> Router<App> {
    Router::new()
        .route("/widget.js", get(widget))
        .route("/m/{slug}/embed", post(embed))
}

async fn widget() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                "application/javascript; charset=utf-8",
            ),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        WIDGET_JS,
    )
        .into_response()
}

/// Whether the request is a page loading inside a frame (the browser says so in
/// `Sec-Fetch-Dest`).
pub fn framed(headers: &HeaderMap) -> bool {
    headers
        .get("sec-fetch-dest")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "iframe")
}

/// A portal cookie: as the admin's (`Lax`/`Strict`, `Secure` behind HTTPS) on the portal's
/// own pages; inside the widget's frame, one the browser sends to a frame on another site.
pub fn portal_cookie(
    headers: &HeaderMap,
    name: &str,
    value: &str,
    max_age: i64,
    strict: bool,
) -> String {
    if framed(headers) {
        format!(
            "{name}={value}; Path=/; HttpOnly; SameSite=None; Secure; Partitioned; Max-Age={max_age}"
        )
    } else {
        crate::ui::session::set_cookie(headers, name, value, max_age, strict)
    }
}

#[derive(Debug, Default, Deserialize)]
struct EmbedForm {
    #[serde(default)]
    customer_token: String,
}

/// The widget's sign-in: the shop's page posts its signed customer token into the frame.
/// No double-submit token here: the post comes from the shop's page by design, and the
/// signature is the credential (a forged or expired token signs nobody in).
async fn embed(
    State(app): State<App>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    Form(form): Form<EmbedForm>,
) -> Response {
    let home = format!("/m/{slug}");
    match app
        .portal_sign_in_with_token(&slug, form.customer_token.trim())
        .await
    {
        Ok(session) => {
            let max_age = (session.expires_at - app.now()).as_secs();
            let name = crate::portal_pages::session_name(&slug);
            let set = portal_cookie(&headers, &name, &session.token, max_age, false);
            ([(header::SET_COOKIE, set)], Redirect::to(&home)).into_response()
        }
        Err(AppError::Unauthorized(_)) => {
            // The portal's sign-in page, saying the shop's sign-in did not hold.
            let page = crate::portal_pages::refused_token_page(&app, &slug, &headers).await;
            (StatusCode::UNAUTHORIZED, page).into_response()
        }
        Err(error) => {
            let lang = crate::ui::session::lang(&headers);
            crate::ui::error_page(lang, crate::ui::UiError::App(lang, error))
        }
    }
}

/// The portal pages' policy: their own scripts and styles, the shop's logo, and framing by
/// the shop's allowed origins only (nobody's when it lists none).
pub async fn policy(State(app): State<App>, request: Request, next: Next) -> Response {
    let slug = request
        .uri()
        .path()
        .strip_prefix("/m/")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("")
        .to_string();
    let mut response = next.run(request).await;
    let settings = match app.portal_tenant(&slug).await {
        Ok(tenant_id) => app
            .tenant(&loyalty_app::Ctx::cli(&tenant_id))
            .await
            .ok()
            .map(|info| info.program.portal.clone()),
        Err(_) => None,
    };
    let (ancestors, logo) = match &settings {
        Some(portal) if !portal.allowed_origins.is_empty() => (
            format!("'self' {}", portal.allowed_origins.join(" ")),
            portal.logo_url.as_deref().and_then(origin_of),
        ),
        Some(portal) => (
            "'none'".to_string(),
            portal.logo_url.as_deref().and_then(origin_of),
        ),
        None => ("'none'".to_string(), None),
    };
    let images = match logo {
        Some(origin) => format!("'self' data: {origin}"),
        None => "'self' data:".to_string(),
    };
    let value = format!(
        "default-src 'self'; img-src {images}; frame-ancestors {ancestors}; form-action 'self'"
    );
    // Origins and the logo's address were checked when saved (no spaces, quotes or `;`).
    if let Ok(value) = HeaderValue::from_str(&value) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

/// `https://host[:port]` of an address.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    (!host.is_empty()).then(|| format!("{scheme}://{host}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_logo_address_gives_its_origin() {
        assert_eq!(
            origin_of("https://cdn.shop.vn/logo.png?v=2").as_deref(),
            Some("https://cdn.shop.vn")
        );
        assert_eq!(
            origin_of("http://127.0.0.1:9000/a").as_deref(),
            Some("http://127.0.0.1:9000")
        );
        assert_eq!(origin_of("nonsense"), None);
    }

    #[test]
    fn inside_a_frame_cookies_cross_sites_and_stay_partitioned() {
        let mut headers = HeaderMap::new();
        headers.insert("sec-fetch-dest", HeaderValue::from_static("iframe"));
        let framed = portal_cookie(&headers, "c", "v", 60, true);
        assert!(framed.contains("SameSite=None; Secure; Partitioned"));
        let own = portal_cookie(&HeaderMap::new(), "c", "v", 60, true);
        assert!(own.contains("SameSite=Strict") && !own.contains("Partitioned"));
    }
}
