//! The `Idempotency-Key` header of mutating API requests (`POST`, `PUT`, `PATCH`, `DELETE`).
//!
//! A retry with the same key and the same request gets the first answer again, with
//! `Idempotent-Replayed: true`, and changes nothing; the same key with another request is a
//! 409. The key is claimed in the transaction of the request's change (`app::idempotency`),
//! so not even two copies racing on two instances both apply. A copy that arrives while the
//! first still runs waits a few seconds for its answer.

use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use loyalty_app::idempotency::{Answer, ClaimOutcome, KeyedRequest, Prior};
use loyalty_app::{App, AppError, Ctx};
use loyalty_core::tenancy::Access;

use crate::api::scopes;

use crate::problem::ApiError;

pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// The largest request a key covers. (A file import is itself idempotent row by row: send it
/// again without a key.)
pub const MAX_KEYED_BODY: usize = 16 * 1024 * 1024;

/// The largest answer kept for replay.
const MAX_KEPT_ANSWER: usize = 16 * 1024 * 1024;

/// How long a copy waits for the first request's answer before asking the client to retry.
const WAIT_FOR_FIRST: Duration = Duration::from_secs(5);

pub async fn layer(State(app): State<App>, request: Request, next: Next) -> Response {
    let mutating = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let Some(key) = request.headers().get(IDEMPOTENCY_KEY).cloned() else {
        return next.run(request).await;
    };
    if !mutating {
        return next.run(request).await;
    }
    // The request runs to its end on its own task, its answer kept, even when the client
    // hangs up meanwhile: that is exactly when it will retry.
    tokio::spawn(keyed_request(app, key, request, next))
        .await
        .unwrap_or_else(|error| {
            ApiError::App(AppError::Internal(anyhow::anyhow!(
                "an Idempotency-Key request failed: {error}"
            )))
            .into_response()
        })
}

async fn keyed_request(app: App, key: HeaderValue, request: Request, next: Next) -> Response {
    // A keyed request never runs without its claim: a caller who cannot be authenticated,
    // or whose key's scope does not reach the route, is answered here, before the body.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let needed = scopes::required(request.method(), &route).unwrap_or(Access::Admin);
    let bearer = bearer(&request);
    let ctx = match authenticate(&app, bearer).await.and_then(|ctx| {
        ctx.require(needed)?;
        Ok(ctx)
    }) {
        Ok(ctx) => ctx,
        Err(error) => return ApiError::App(error).into_response(),
    };
    let (mut parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_KEYED_BODY).await else {
        return ApiError::TooLarge(MAX_KEYED_BODY).into_response();
    };
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let keyed = match KeyedRequest::new(
        key.to_str().unwrap_or("\u{0}"),
        ctx.actor.id.as_deref().unwrap_or_default(),
        parts.method.as_str(),
        &path,
        &bytes,
    ) {
        Ok(keyed) => keyed,
        Err(error) => return ApiError::App(error).into_response(),
    };
    match app.idempotency_prior(&ctx, &keyed).await {
        Ok(Prior::Fresh) => {}
        Ok(_) => return wait_for_first(&app, &ctx, &keyed).await,
        Err(error) => return ApiError::App(error).into_response(),
    }
    parts.extensions.insert(ctx.clone());
    let request = Request::from_parts(parts, Body::from(bytes));
    let (response, claim) = app.run_claiming(&ctx, &keyed, next.run(request)).await;
    match claim {
        ClaimOutcome::NotClaimed => response,
        // An identical request took the key first and its change committed; this one wrote
        // nothing. Answer as the first did.
        ClaimOutcome::Taken => wait_for_first(&app, &ctx, &keyed).await,
        ClaimOutcome::Claimed(claim_id) => {
            keep_answer(&app, &ctx, &keyed, claim_id, response).await
        }
    }
}

/// The API key of a request, as the `Auth` extractor reads it.
fn bearer(request: &Request) -> Option<String> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::to_string)
}

async fn authenticate(app: &App, bearer: Option<String>) -> Result<Ctx, AppError> {
    let key = bearer.ok_or(AppError::Unauthorized(
        "send the API key as Authorization: Bearer <key>",
    ))?;
    app.authenticate(&key).await
}

/// Marks an answer that must not be kept for replays because it holds a secret shown once
/// (a new API key): a retry learns the request was applied, not the secret.
#[derive(Debug, Clone, Copy)]
pub struct HoldsSecret;

/// Stores the answer of the request whose claim is `claim_id`, and sends it. A server error
/// is not stored: the change may or may not have committed (a lost connection at commit), so
/// a retry is told the answer was lost rather than shown an error for a change that happened.
async fn keep_answer(
    app: &App,
    ctx: &Ctx,
    keyed: &KeyedRequest,
    claim_id: String,
    response: Response,
) -> Response {
    if response.status().is_server_error() {
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = match to_bytes(body, MAX_KEPT_ANSWER).await {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::warn!(%error, "an answer too large to keep for Idempotency-Key replays");
            return (parts.status, "").into_response();
        }
    };
    let header = |name| {
        parts
            .headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let answer = if parts.extensions.get::<HoldsSecret>().is_some() {
        Some(withheld())
    } else {
        String::from_utf8(bytes.to_vec()).ok().map(|text| Answer {
            status: parts.status.as_u16(),
            content_type: header(header::CONTENT_TYPE).unwrap_or_default(),
            location: header(header::LOCATION),
            body: text,
        })
    };
    match answer {
        Some(answer) => {
            if let Err(error) = app.record_answer(ctx, keyed, claim_id, answer).await {
                tracing::warn!(%error, "could not keep the answer of an Idempotency-Key request");
            }
        }
        None => tracing::warn!("an answer that is not text cannot be kept for replays"),
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// What a retry of a request whose answer held a secret gets instead of the secret.
fn withheld() -> Answer {
    Answer {
        status: StatusCode::CONFLICT.as_u16(),
        content_type: crate::problem::PROBLEM_JSON.to_string(),
        location: None,
        body: serde_json::json!({
            "type": "/problems/idempotency_answer_withheld",
            "title": "Conflict",
            "status": 409,
            "code": "idempotency_answer_withheld",
            "detail": "the first request with this Idempotency-Key was applied; its answer held a secret that is shown only once",
        })
        .to_string(),
    }
}

/// Answers a request whose key was used before: the first answer, or why there is none.
async fn wait_for_first(app: &App, ctx: &Ctx, keyed: &KeyedRequest) -> Response {
    let started = tokio::time::Instant::now();
    loop {
        match app.idempotency_prior(ctx, keyed).await {
            Ok(Prior::Answered(answer)) => return replay(answer),
            Ok(Prior::Mismatch) => {
                return conflict(
                    "idempotency_key_reused",
                    "this Idempotency-Key was used for another request; use a new key for a new request",
                );
            }
            Ok(Prior::Unanswered { lost: true }) => {
                return conflict(
                    "idempotency_answer_lost",
                    "the first request with this Idempotency-Key was applied, but its answer was lost when the server stopped; look the result up instead of retrying",
                );
            }
            Ok(Prior::Unanswered { lost: false } | Prior::Fresh) => {}
            Err(error) => return ApiError::App(error).into_response(),
        }
        if started.elapsed() >= WAIT_FOR_FIRST {
            let mut response = conflict(
                "idempotency_key_in_progress",
                "a request with this Idempotency-Key is still being processed; retry shortly",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return response;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn replay(answer: Answer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut response = (status, answer.body).into_response();
    if let Ok(content_type) = HeaderValue::from_str(&answer.content_type) {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, content_type);
    }
    if let Some(location) = answer.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
        .headers_mut()
        .insert(REPLAYED, HeaderValue::from_static("true"));
    response
}

fn conflict(code: &'static str, message: &str) -> Response {
    ApiError::App(AppError::Conflict {
        code,
        field: Some("Idempotency-Key".to_string()),
        message: message.to_string(),
    })
    .into_response()
}

/// Adds the `Idempotency-Key` header to every mutating operation of the OpenAPI document.
pub fn document(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
    use utoipa::openapi::{ObjectBuilder, Required, ResponseBuilder, Type};
    for item in openapi.paths.paths.values_mut() {
        let operations = [
            item.post.as_mut(),
            item.put.as_mut(),
            item.patch.as_mut(),
            item.delete.as_mut(),
        ];
        for operation in operations.into_iter().flatten() {
            let header = ParameterBuilder::new()
                .name("Idempotency-Key")
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some(
                    "Up to 255 visible ASCII characters, unique per request (a UUID). A retry \
                     with the same key and the same request gets the first answer again, with \
                     `Idempotent-Replayed: true`, and changes nothing; the same key with another \
                     request is a 409 `idempotency_key_reused`. Keys are kept 24 hours, per \
                     tenant. A request that failed changed nothing: its retry runs again.",
                ))
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .min_length(Some(1))
                        .max_length(Some(255)),
                ))
                .build();
            operation
                .parameters
                .get_or_insert_with(Vec::new)
                .push(header.into());
            operation
                .responses
                .responses
                .entry("409".to_string())
                .or_insert_with(|| {
                    ResponseBuilder::new()
                        .description(
                            "Conflict; with an Idempotency-Key also `idempotency_key_reused`, \
                             `idempotency_key_in_progress` (retry after `Retry-After`)",
                        )
                        .build()
                        .into()
                });
        }
    }
}
