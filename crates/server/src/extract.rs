//! Request extractors that fail with problem+json instead of axum's plain-text rejections.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, MatchedPath, Request};
use axum::http::header;
use axum::http::request::Parts;
use loyalty_app::{App, AppError, Ctx};
use loyalty_core::tenancy::Access;
use serde::de::DeserializeOwned;

use crate::problem::ApiError;

/// The authenticated caller, from `Authorization: Bearer <api key>`.
pub struct Auth(pub Ctx);

impl FromRequestParts<App> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let ctx = caller(parts, app).await?;
        // The route's scope (`api::scopes`), before anything of the request is read.
        let route = parts
            .extensions
            .get::<MatchedPath>()
            .map(|p| p.as_str())
            .unwrap_or_default();
        let needed = crate::api::scopes::required(&parts.method, route).unwrap_or(Access::Admin);
        ctx.require(needed)?;
        Ok(Auth(ctx))
    }
}

/// The caller, from the API key (or as the Idempotency-Key layer already found it).
async fn caller(parts: &Parts, app: &App) -> Result<Ctx, ApiError> {
    if let Some(ctx) = parts.extensions.get::<Ctx>() {
        return Ok(ctx.clone());
    }
    let header = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or(AppError::Unauthorized(
            "send the API key as Authorization: Bearer <key>",
        ))?;
    let value = header
        .to_str()
        .map_err(|_| AppError::Unauthorized("the Authorization header is not text"))?;
    let key = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .ok_or(AppError::Unauthorized(
            "use the Bearer scheme: Authorization: Bearer <key>",
        ))?;
    Ok(app.authenticate(key).await?)
}

pub use loyalty_core::input::nullable;

/// A JSON body. Unknown fields, wrong types and missing fields are 422 naming the field (by
/// its path, e.g. `lines[1].quantity`); text that is not JSON is 400; too large is 413.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                let mime = v.split(';').next().unwrap_or("").trim();
                mime.eq_ignore_ascii_case("application/json") || mime.ends_with("+json")
            });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = read_limited(req, crate::MAX_BODY_BYTES).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// How much of a too-large body is still read (and dropped) before answering 413: a client
/// still sending when the answer comes sees its connection reset instead of the problem
/// document. Beyond this the connection is given up.
const DRAIN_BYTES: usize = 16 * 1024 * 1024;

/// The body, up to `limit` bytes; a larger one is 413, after reading what the client sends
/// (up to [`DRAIN_BYTES`]) so that it can read the answer.
async fn read_limited(req: Request, limit: usize) -> Result<Bytes, ApiError> {
    use futures_util::StreamExt;
    let mut stream = req.into_body().into_data_stream();
    let mut body = Vec::new();
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::MalformedJson(e.to_string()))?;
        seen += chunk.len();
        if seen > limit {
            if seen > DRAIN_BYTES {
                break;
            }
            continue;
        }
        body.extend_from_slice(&chunk);
    }
    if seen > limit {
        return Err(ApiError::TooLarge(limit));
    }
    Ok(Bytes::from(body))
}

/// The path of the first string holding the NUL character: valid JSON (`"\u0000"`), but text
/// no one means and PostgreSQL cannot store.
fn nul_at(value: &serde_json::Value, path: &str) -> Option<String> {
    use serde_json::Value;
    let join = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::String(s) if s.contains('\0') => Some(if path.is_empty() {
            "body".into()
        } else {
            path.into()
        }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_at(v, &format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            if k.contains('\0') {
                Some(join(k))
            } else {
                nul_at(v, &join(k))
            }
        }),
        _ => None,
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Only bodies that spell a NUL are walked; the rest pay one scan.
    if bytes.windows(6).any(|w| w == br"\u0000")
        && let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes)
        && let Some(field) = nul_at(&value, "")
    {
        return Err(ApiError::Shape {
            field,
            message: "text must not contain the NUL character (\\u0000)".to_string(),
        });
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => shape_error(&path, &inner.to_string()),
            _ => ApiError::MalformedJson(inner.to_string()),
        }
    })?;
    deserializer
        .end()
        .map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    Ok(value)
}

/// Names the field of a shape error. serde reports an unknown or missing field at its parent's
/// path, with the name only inside the message; we put it back on the path.
fn shape_error(path: &str, message: &str) -> ApiError {
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(message)
        .to_string();
    let named = ["unknown field `", "missing field `"]
        .iter()
        .find_map(|marker| message.split_once(marker))
        .and_then(|(_, rest)| rest.split('`').next());
    // serde_path_to_error puts an unknown field on the path itself, a missing one on its parent.
    let path = if path == "." { "" } else { path };
    let field = match named {
        Some(name) if path == name || path.ends_with(&format!(".{name}")) => path.to_string(),
        Some(name) if path.is_empty() => name.to_string(),
        Some(name) => format!("{path}.{name}"),
        None if path.is_empty() => "body".to_string(),
        None => path.to_string(),
    };
    ApiError::Shape { field, message }
}

/// Query-string parameters, with the same rules as [`ApiJson`]: an unknown parameter is a 422
/// rather than a silently ignored typo.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        if query.to_ascii_lowercase().contains("%00") {
            return Err(ApiError::Shape {
                field: "query".to_string(),
                message: "parameters must not contain the NUL character".to_string(),
            });
        }
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(ApiQuery)
            .map_err(|error| {
                let path = error.path().to_string();
                shape_error(&path, &error.into_inner().to_string())
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code, reason = "fields exist to be deserialized")]
    struct Line {
        quantity: i64,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code, reason = "fields exist to be deserialized")]
    struct Order {
        total: i64,
        lines: Vec<Line>,
    }

    fn field_of(json: &str) -> String {
        match parse_json::<Order>(json.as_bytes()) {
            Err(ApiError::Shape { field, .. }) => field,
            other => panic!("expected a shape error, got {other:?}"),
        }
    }

    #[test]
    fn shape_errors_name_the_field_by_its_path() {
        assert_eq!(field_of(r#"{"total": 1, "lines": [], "totl": 2}"#), "totl");
        assert_eq!(field_of(r#"{"lines": []}"#), "total");
        assert_eq!(field_of(r#"{"total": "x", "lines": []}"#), "total");
        assert_eq!(
            field_of(r#"{"total": 1, "lines": [{"quantity": 1}, {"qty": 2}]}"#),
            "lines[1].qty"
        );
        assert_eq!(
            field_of(r#"{"total": 1, "lines": [{"quantity": 1.5}]}"#),
            "lines[0].quantity"
        );
    }

    #[test]
    fn a_nul_character_is_refused_by_the_field_that_holds_it() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code, reason = "fields exist to be deserialized")]
        struct Body {
            name: String,
            tags: Vec<String>,
        }
        for (json, field) in [
            (r#"{"name": "a\u0000b", "tags": []}"#, "name"),
            (r#"{"name": "a", "tags": ["x", "\u0000"]}"#, "tags[1]"),
        ] {
            match parse_json::<Body>(json.as_bytes()) {
                Err(ApiError::Shape { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{json}: {other:?}"),
            }
        }
        assert!(parse_json::<Body>(br#"{"name": "\\u0000 spelt out", "tags": []}"#).is_ok());
    }

    #[test]
    fn text_that_is_not_json_is_malformed() {
        assert!(matches!(
            parse_json::<Order>(b"{\"total\": "),
            Err(ApiError::MalformedJson(_))
        ));
        assert!(matches!(
            parse_json::<Order>(br#"{"total": 1, "lines": []} x"#),
            Err(ApiError::MalformedJson(_))
        ));
    }
}
