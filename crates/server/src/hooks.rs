//! `/hooks/{platform}/{connection}`: where Haravan, Shopify, Sapo and KiotViet send their
//! webhooks. No API key: the connection's signature on the raw body is the credential, and it
//! is checked before the body is read.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use loyalty_app::App;
use loyalty_app::inbound::{Hook, HookRefusal};
use loyalty_connect::Platform;
use serde::Deserialize;

pub fn routes() -> Router<App> {
    Router::new().route("/hooks/{platform}/{id}", get(handshake).post(receive))
}

fn header(headers: &HeaderMap, name: Option<&str>) -> Option<String> {
    headers
        .get(name?)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

async fn receive(
    State(app): State<App>,
    Path((platform, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let known = Platform::parse(&platform);
    let hook = Hook {
        signature: known.and_then(|p| header(&headers, Some(p.signature_header()))),
        topic: known.and_then(|p| header(&headers, p.topic_header())),
        delivery_id: known.and_then(|p| header(&headers, p.delivery_header())),
        body: body.to_vec(),
    };
    match app.receive_hook(&platform, &id, hook).await {
        Ok(()) => (StatusCode::OK, "ok").into_response(),
        Err(refusal) => refused(refusal),
    }
}

#[derive(Deserialize)]
struct Handshake {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

/// Haravan's subscription check: `hub.challenge` back when `hub.verify_token` is the
/// connection's.
async fn handshake(
    State(app): State<App>,
    Path((platform, id)): Path<(String, String)>,
    Query(query): Query<Handshake>,
) -> Response {
    let (Some("subscribe"), Some(token), Some(challenge)) =
        (query.mode.as_deref(), query.verify_token, query.challenge)
    else {
        return (
            StatusCode::BAD_REQUEST,
            "expected hub.mode=subscribe, hub.verify_token and hub.challenge",
        )
            .into_response();
    };
    match app.hook_handshake(&platform, &id, &token, challenge).await {
        Ok(challenge) => (
            StatusCode::OK,
            [("content-type", "text/plain; charset=utf-8")],
            challenge,
        )
            .into_response(),
        Err(refusal) => refused(refusal),
    }
}

fn refused(refusal: HookRefusal) -> Response {
    match refusal {
        HookRefusal::NotFound => (StatusCode::NOT_FOUND, "no such connection").into_response(),
        HookRefusal::BadSignature => {
            (StatusCode::UNAUTHORIZED, "signature does not verify").into_response()
        }
        HookRefusal::BadVerifyToken => {
            (StatusCode::FORBIDDEN, "verify token does not match").into_response()
        }
        HookRefusal::Failed(error) => {
            tracing::warn!(%error, "inbound webhook not handled; the platform will retry");
            (StatusCode::SERVICE_UNAVAILABLE, "try again later").into_response()
        }
    }
}
