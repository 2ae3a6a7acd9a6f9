//! The HTTP server: the REST API (problem+json errors, OpenAPI at `/api/v1/openapi.json`) and
//! the admin web UI (server-rendered, under `/`). Handlers are thin: extract, call one
//! use-case of `loyalty_app::App`, map the result.

pub mod api;
pub mod extract;
pub mod hooks;
pub mod idempotency;
mod message_hooks;
pub mod paging;
pub mod portal_api;
mod portal_embed;
mod portal_pages;
mod portal_profile;
pub mod problem;
pub mod ui;

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use loyalty_app::App;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use tracing::Span;

use crate::problem::ApiError;

/// The largest JSON body accepted; imports of files use their own, streaming endpoints.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// How this server sits in the network.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// Reverse proxies (addresses or networks) whose `X-Forwarded-For` names the client: the
    /// address sign-in limits count by. Without it, every request comes from its peer.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

/// The whole HTTP application, with default options.
pub fn router(app: App) -> Router {
    router_with(app, ServerOptions::default())
}

/// The OpenAPI document the server serves at `/api/v1/openapi.json` (and `docs/openapi.json`
/// keeps, so that every change to the API shows in a diff).
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let (_, mut openapi) = api::routes().split_for_parts();
    idempotency::document(&mut openapi);
    let (_, portal) = portal_api::routes().split_for_parts();
    openapi.merge(portal);
    if let Some(components) = openapi.components.as_mut() {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        components.add_security_scheme(
            "member_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
    openapi
}

/// The whole HTTP application.
pub fn router_with(app: App, options: ServerOptions) -> Router {
    let (api, _) = api::routes().split_for_parts();
    let openapi = std::sync::Arc::new(openapi_document());
    let api = api
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            idempotency::layer,
        ))
        .layer(axum::middleware::from_fn(no_nul_in_path));
    api.route(
        "/api/v1/openapi.json",
        get(move || {
            let openapi = openapi.clone();
            async move { axum::Json(openapi.as_ref().clone()) }
        }),
    )
    .merge(ui::routes())
    .merge(hooks::routes())
    .merge(message_hooks::routes())
    .merge(
        portal_api::routes()
            .split_for_parts()
            .0
            .layer(axum::middleware::from_fn(no_nul_in_path)),
    )
    .merge(
        portal_pages::routes()
            .merge(portal_embed::routes())
            .route_layer(axum::middleware::from_fn_with_state(
                app.clone(),
                portal_embed::policy,
            )),
    )
    .fallback(|uri: Uri, headers: HeaderMap| async move {
        // A browser gets a page; an API client a problem document.
        if uri.path().starts_with("/api/") {
            ApiError::NoRoute.into_response()
        } else {
            ui::not_found(&headers)
        }
    })
    .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
    .with_state(app)
    .layer(axum::Extension(std::sync::Arc::new(options)))
    .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
    .layer(CatchPanicLayer::custom(|_| {
        ApiError::App(loyalty_app::AppError::Internal(anyhow::anyhow!(
            "a handler panicked"
        )))
        .into_response()
    }))
    .layer(
        // Logged per request: method, route template (never the raw path or query, which can
        // hold phone numbers), status and time. No bodies, no personal data.
        TraceLayer::new_for_http()
            .make_span_with(|request: &Request| {
                let route = request
                    .extensions()
                    .get::<MatchedPath>()
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_else(|| "unmatched".to_string());
                let request_id = request
                    .headers()
                    .get(REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                tracing::info_span!("request", method = %request.method(), route, request_id)
            })
            .on_request(())
            .on_response(|response: &Response, latency: Duration, _span: &Span| {
                tracing::info!(
                    status = response.status().as_u16(),
                    ms = latency.as_secs_f64() * 1000.0,
                    "served"
                );
            }),
    )
    // Pages only load their own scripts and styles and are never framed (clickjacking).
    .layer(SetResponseHeaderLayer::if_not_present(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
        ),
    ))
    .layer(SetResponseHeaderLayer::if_not_present(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    ))
    // Pages and answers carry personal data: no cache keeps them (static assets say otherwise
    // for themselves), and no other site learns our URLs from a Referer.
    .layer(SetResponseHeaderLayer::if_not_present(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    ))
    .layer(SetResponseHeaderLayer::if_not_present(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    ))
    .layer(axum::middleware::from_fn(strict_transport_security))
    .layer(PropagateRequestIdLayer::new(REQUEST_ID))
    .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

/// No id or code holds the NUL character, and PostgreSQL cannot even compare text holding one:
/// a path that spells it (`%00`) names nothing.
async fn no_nul_in_path(request: Request, next: axum::middleware::Next) -> Response {
    if request.uri().path().to_ascii_lowercase().contains("%00") {
        return ApiError::NoRoute.into_response();
    }
    next.run(request).await
}

/// Behind a proxy that terminates HTTPS (it says so with `X-Forwarded-Proto: https`), tells
/// browsers to use HTTPS only. (A browser ignores the header on plain HTTP, so a client that
/// sends the proxy's header itself gains nothing.)
async fn strict_transport_security(request: Request, next: axum::middleware::Next) -> Response {
    let https = request
        .headers()
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    let mut response = next.run(request).await;
    if https {
        response.headers_mut().insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    response
}

/// Serves until `shutdown` completes, then finishes the requests in flight.
pub async fn serve(
    listener: TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, app, ServerOptions::default(), shutdown).await
}

/// [`serve`] with options.
pub async fn serve_with(
    listener: TcpListener,
    app: App,
    options: ServerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The peer's address is kept for login throttling.
    let service =
        router_with(app, options).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(shutdown)
        .await
}
