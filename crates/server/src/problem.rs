//! RFC 9457 problem documents: every error the API returns, with a stable `code` a client (or
//! the admin UI) can translate, and `errors` naming the offending fields.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use loyalty_app::AppError;
use serde::Serialize;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI reference naming the kind of problem (`/problems/{code}`).
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Stable machine-readable code, e.g. `validation_failed`, `duplicate`, `not_found`.
    pub code: String,
    /// Why a business rule refused the request (a 422 `Refused`: `self_referral`,
    /// `monthly_cap`…); the same as `code`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The fields at fault, when the problem is about the input.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FieldProblem {
    /// Path of the field in the request, e.g. `phone` or `lines[2].quantity`.
    pub field: String,
    /// The rule the field broke, stable across releases and languages, dotted and lower case:
    /// a generic rule (`required`, `length`, `out_of_range`), a thing that does not exist
    /// (`member.not_found`, `tier.not_found`…), or a rule of its own (`phone.unknown_prefix`,
    /// `birthday.in_future`, `order.total_mismatch`…); a refusal's own code
    /// (`insufficient_points`…); `shape` for JSON of the wrong shape.
    pub code: String,
    /// The same in English, for people.
    pub message: String,
    /// For a size rule (`out_of_range`, `length`): the smallest value (or length) allowed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<i64>,
    /// For a size rule: the largest value (or length) allowed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<i64>,
}

impl FieldProblem {
    fn plain(field: String, code: String, message: String) -> Self {
        Self {
            field,
            code,
            message,
            min: None,
            max: None,
        }
    }
}

/// Everything a handler can fail with.
#[derive(Debug)]
pub enum ApiError {
    App(AppError),
    /// 400: the body is not JSON at all.
    MalformedJson(String),
    /// 422 with a field: JSON of the wrong shape (unknown field, wrong type, missing field).
    Shape {
        field: String,
        message: String,
    },
    /// 413: the body is over the limit (in bytes).
    TooLarge(usize),
    /// 415: not `application/json`.
    UnsupportedMediaType,
    /// 415: not CSV, where a CSV file is expected.
    NotCsv,
    /// 404 for a path that does not exist.
    NoRoute,
    /// 405 for a path that exists with another method.
    MethodNotAllowed,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        ApiError::App(error)
    }
}

impl From<loyalty_core::Invalid> for ApiError {
    fn from(invalid: loyalty_core::Invalid) -> Self {
        ApiError::App(AppError::Invalid(invalid))
    }
}

fn problem(status: StatusCode, code: &str, title: &str, detail: Option<String>) -> Problem {
    Problem {
        kind: format!("/problems/{code}"),
        title: title.to_string(),
        status: status.as_u16(),
        detail,
        code: code.to_string(),
        reason: None,
        errors: Vec::new(),
    }
}

impl ApiError {
    fn to_problem(&self) -> Problem {
        use StatusCode as S;
        match self {
            ApiError::App(error) => match error {
                AppError::Invalid(invalid) => {
                    let mut p = problem(
                        S::UNPROCESSABLE_ENTITY,
                        "validation_failed",
                        "The request has invalid fields",
                        Some(invalid.to_string()),
                    );
                    p.errors = invalid
                        .0
                        .iter()
                        .map(|e| FieldProblem {
                            field: e.field.clone(),
                            code: e.code.clone(),
                            message: e.message.clone(),
                            min: e.bounds.map(|b| b.min),
                            max: e.bounds.map(|b| b.max),
                        })
                        .collect();
                    p
                }
                AppError::NotFound { entity } => problem(
                    S::NOT_FOUND,
                    "not_found",
                    "Not found",
                    Some(format!("{entity} not found")),
                ),
                AppError::Conflict {
                    code,
                    field,
                    message,
                } => {
                    let mut p = problem(S::CONFLICT, code, "Conflict", Some(message.clone()));
                    if let Some(field) = field {
                        p.errors.push(FieldProblem::plain(
                            field.clone(),
                            code.to_string(),
                            message.clone(),
                        ));
                    }
                    p
                }
                AppError::Rejected {
                    code,
                    field,
                    message,
                } => {
                    let mut p = problem(
                        S::UNPROCESSABLE_ENTITY,
                        code,
                        "Refused",
                        Some(message.clone()),
                    );
                    p.reason = Some(code.to_string());
                    p.errors.push(FieldProblem::plain(
                        field.clone(),
                        code.to_string(),
                        message.clone(),
                    ));
                    p
                }
                AppError::Unauthorized(why) => problem(
                    S::UNAUTHORIZED,
                    "unauthorized",
                    "Authentication required",
                    Some(why.to_string()),
                ),
                AppError::Throttled { retry_after_secs } => problem(
                    S::TOO_MANY_REQUESTS,
                    "too_many_attempts",
                    "Too many attempts",
                    Some(format!("try again in {retry_after_secs} seconds")),
                ),
                AppError::RateLimited { retry_after_secs } => problem(
                    S::TOO_MANY_REQUESTS,
                    "rate_limited",
                    "Too many requests for this API key",
                    Some(format!("try again in {retry_after_secs} seconds")),
                ),
                AppError::Busy { retry_after_secs } => problem(
                    S::SERVICE_UNAVAILABLE,
                    "busy",
                    "The server is busy",
                    Some(format!("try again in {retry_after_secs} seconds")),
                ),
                AppError::Forbidden(why) => {
                    problem(S::FORBIDDEN, "forbidden", "Not allowed", Some(why.clone()))
                }
                AppError::Unavailable(_) => problem(
                    S::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "The database is unavailable; try again shortly",
                    None,
                ),
                AppError::Internal(_) => problem(
                    S::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Something went wrong on our side; it has been logged",
                    None,
                ),
            },
            ApiError::MalformedJson(why) => problem(
                S::BAD_REQUEST,
                "malformed_json",
                "The body is not valid JSON",
                Some(why.clone()),
            ),
            ApiError::Shape { field, message } => {
                let mut p = problem(
                    S::UNPROCESSABLE_ENTITY,
                    "validation_failed",
                    "The request has invalid fields",
                    Some(format!("{field}: {message}")),
                );
                p.errors.push(FieldProblem::plain(
                    field.clone(),
                    "shape".to_string(),
                    message.clone(),
                ));
                p
            }
            ApiError::TooLarge(limit) => problem(
                S::PAYLOAD_TOO_LARGE,
                "too_large",
                "The request body is too large",
                Some(format!("the limit is {limit} bytes")),
            ),
            ApiError::NotCsv => problem(
                S::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Send the file with Content-Type: text/csv",
                None,
            ),
            ApiError::UnsupportedMediaType => problem(
                S::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Send JSON with Content-Type: application/json",
                None,
            ),
            ApiError::NoRoute => problem(S::NOT_FOUND, "not_found", "No such endpoint", None),
            ApiError::MethodNotAllowed => problem(
                S::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Method not allowed here",
                None,
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::App(AppError::Internal(cause)) => {
                tracing::error!(error = format!("{cause:#}"), "request failed");
            }
            ApiError::App(AppError::Unavailable(cause)) => {
                tracing::warn!(error = %cause, "database unavailable");
            }
            _ => {}
        }
        let problem = self.to_problem();
        let status =
            StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(&problem)).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let ApiError::App(
            AppError::Throttled { retry_after_secs }
            | AppError::RateLimited { retry_after_secs }
            | AppError::Busy { retry_after_secs },
        ) = &self
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
