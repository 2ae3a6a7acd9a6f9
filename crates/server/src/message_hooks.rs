//! What comes back from outside after a message: providers' delivery reports at
//! `/hooks/messages/{channel}` (verified the provider's way; no API key), and the member's
//! one-button unsubscribe page at `/u/{token}`, and our e-mail open pixel (`/t/o/{token}`)
//! and click redirect (`/t/c/{token}?u=…`).

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use loyalty_app::App;
use loyalty_app::message_reports::{ReportRefusal, Unsubscribe};
use loyalty_messaging::provider::Callback;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/hooks/messages/{channel}", get(report).post(report))
        .route("/u/{token}", get(unsubscribe_page).post(unsubscribe))
        .route("/t/o/{token}", get(opened))
        .route("/t/c/{token}", get(clicked))
}

/// A transparent 1×1 GIF.
const PIXEL: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

/// The pixel, whatever the token: a mail reader gets its image either way, and a failed
/// write loses one open, not the e-mail's looks.
async fn opened(State(app): State<App>, Path(token): Path<String>) -> Response {
    if let Err(error) = app.track_open(&token).await {
        tracing::warn!(%error, "an e-mail open not recorded");
    }
    (
        [
            (header::CONTENT_TYPE, "image/gif"),
            (header::CACHE_CONTROL, "no-store, max-age=0"),
        ],
        PIXEL,
    )
        .into_response()
}

#[derive(serde::Deserialize)]
struct ClickQuery {
    u: Option<String>,
}

/// Where the e-mail's link pointed, when the link is ours; a plain page otherwise (never a
/// redirect to an address we did not sign).
async fn clicked(
    State(app): State<App>,
    Path(token): Path<String>,
    Query(query): Query<ClickQuery>,
) -> Response {
    let address = query.u.unwrap_or_default();
    match app.track_click(&token, &address).await {
        Ok(Some(target)) => Redirect::to(&target).into_response(),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            "Liên kết không hợp lệ / Link not valid",
        )
            .into_response(),
        Err(error) => {
            tracing::warn!(%error, "an e-mail click not recorded");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "Vui lòng thử lại / Please try again",
            )
                .into_response()
        }
    }
}

async fn report(
    State(app): State<App>,
    Path(channel): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let headers: BTreeMap<String, String> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let callback = Callback {
        query: query.unwrap_or_default(),
        headers,
        body: body.to_vec(),
        now_s: 0,
    };
    match app.receive_message_report(&channel, callback).await {
        Ok(_) => (StatusCode::OK, "ok").into_response(),
        Err(ReportRefusal::NotFound) => (StatusCode::NOT_FOUND, "no such channel").into_response(),
        Err(ReportRefusal::BadSignature) => {
            (StatusCode::UNAUTHORIZED, "signature does not verify").into_response()
        }
        Err(ReportRefusal::Malformed(why)) => (StatusCode::BAD_REQUEST, why).into_response(),
        Err(ReportRefusal::Failed(error)) => {
            tracing::warn!(%error, "delivery report not applied; the provider will retry");
            (StatusCode::SERVICE_UNAVAILABLE, "try again later").into_response()
        }
    }
}

async fn unsubscribe_page(State(app): State<App>, Path(token): Path<String>) -> Response {
    page(app.unsubscribe_page(&token).await, &token)
}

async fn unsubscribe(State(app): State<App>, Path(token): Path<String>) -> Response {
    page(app.unsubscribe(&token).await, &token)
}

fn page(found: loyalty_app::AppResult<Option<Unsubscribe>>, token: &str) -> Response {
    let escape = loyalty_messaging::template::escape_html;
    let body = match found {
        Ok(Some(u)) => {
            let channel = match u.channel.as_str() {
                "email" => "e-mail",
                "sms" => "tin nhắn SMS",
                _ => "Zalo",
            };
            let shop = escape(&u.shop);
            if u.done {
                format!(
                    "<h1>Đã hủy đăng ký</h1><p>Bạn sẽ không nhận tin quảng cáo qua {channel} từ {shop} nữa.</p>\
                     <p lang=\"en\">You will no longer receive advertising by {channel} from {shop}.</p>"
                )
            } else {
                format!(
                    "<h1>Hủy nhận tin quảng cáo</h1><p>Không nhận tin quảng cáo qua {channel} từ {shop} nữa?</p>\
                     <form method=\"post\" action=\"/u/{}\"><button type=\"submit\">Hủy đăng ký</button></form>\
                     <p lang=\"en\">Stop advertising by {channel} from {shop}?</p>",
                    escape(token)
                )
            }
        }
        Ok(None) => {
            return (
                StatusCode::NOT_FOUND,
                Html(document(
                    "<h1>Liên kết không hợp lệ</h1><p>This link is not valid.</p>",
                )),
            )
                .into_response();
        }
        Err(error) => {
            tracing::warn!(%error, "unsubscribe page failed");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Html(document(
                    "<h1>Vui lòng thử lại sau</h1><p>Please try again later.</p>",
                )),
            )
                .into_response();
        }
    };
    Html(document(&body)).into_response()
}

fn document(body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Hủy đăng ký</title><style>body{{font-family:system-ui,sans-serif;max-width:28rem;\
         margin:3rem auto;padding:0 1rem;line-height:1.5}}button{{font-size:1.1rem;padding:.7rem 1.4rem;\
         border-radius:.5rem;border:0;background:#b91c1c;color:#fff}}</style></head><body>{body}</body></html>"
    )
}
