//! What can go wrong in a business action, in terms an API client can act on. The server turns
//! each variant into one HTTP status in one exhaustive `match`.

use loyalty_core::{FieldError, Invalid};
use loyalty_store::DbError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 422: the input broke rules; each error names its field.
    #[error("invalid input: {0}")]
    Invalid(Invalid),
    /// 404: no such thing in this tenant (whether or not another tenant has it).
    #[error("{entity} not found")]
    NotFound { entity: &'static str },
    /// 409: the input is fine but clashes with the current state (duplicate, already used…).
    #[error("{message}")]
    Conflict {
        code: &'static str,
        field: Option<String>,
        message: String,
    },
    /// 422 with a stable code: the input is well formed but refused by a business rule (a
    /// voucher that does not apply to the order: `not_in_scope`, `expired`…).
    #[error("{message}")]
    Rejected {
        code: &'static str,
        field: String,
        message: String,
    },
    /// 401: no credentials, or credentials that do not check out.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// 429 with `Retry-After`: too many failed sign-ins for this account or from this address.
    #[error("too many attempts; try again in {retry_after_secs} seconds")]
    Throttled { retry_after_secs: u64 },
    /// 429 with `Retry-After`: this API key sends more requests than its rate.
    #[error("rate limited; try again in {retry_after_secs} seconds")]
    RateLimited { retry_after_secs: u64 },
    /// 503 with `Retry-After`: too much work of this kind at once (password hashing).
    #[error("busy; try again in {retry_after_secs} seconds")]
    Busy { retry_after_secs: u64 },
    /// 403: known caller, not allowed to do this.
    #[error("{0}")]
    Forbidden(String),
    /// 503: the database cannot be reached or is shutting down.
    #[error("database unavailable: {0}")]
    Unavailable(DbError),
    /// 500: a bug or an unexpected failure; logged, never shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    /// 422: `field` broke the rule `code` (see `core::FieldError` for how codes are named).
    pub fn invalid(
        field: impl Into<String>,
        code: &'static str,
        message: impl Into<String>,
    ) -> AppError {
        AppError::Invalid(Invalid::one(field, code, message))
    }

    pub fn conflict(code: &'static str, field: &str, message: impl Into<String>) -> AppError {
        AppError::Conflict {
            code,
            field: Some(field.to_string()),
            message: message.into(),
        }
    }

    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            AppError::Invalid(invalid) => &invalid.0,
            _ => &[],
        }
    }
}

impl From<loyalty_core::ledger::NotPositive> for AppError {
    fn from(error: loyalty_core::ledger::NotPositive) -> Self {
        AppError::invalid("points", "points.not_positive", error.to_string())
    }
}

impl From<loyalty_core::limits::OutOfRange> for AppError {
    /// A balance or counter that would leave the 64-bit range: refused, never wrapped.
    fn from(error: loyalty_core::limits::OutOfRange) -> Self {
        AppError::Conflict {
            code: "out_of_range",
            field: None,
            message: error.to_string(),
        }
    }
}

impl From<Invalid> for AppError {
    fn from(invalid: Invalid) -> Self {
        AppError::Invalid(invalid)
    }
}

impl From<DbError> for AppError {
    fn from(error: DbError) -> Self {
        match error {
            // Normally caught earlier with a precise message; this is the race where two
            // requests claimed the same value at the same instant.
            DbError::Unique { detail } => {
                let field = [
                    "phone",
                    "email",
                    "member_code",
                    "external_id",
                    "code",
                    "key_prefix",
                ]
                .into_iter()
                .find(|column| detail.contains(column))
                .map(|column| {
                    if column == "external_id" {
                        "external_ids"
                    } else {
                        column
                    }
                });
                AppError::Conflict {
                    code: "duplicate",
                    field: field.map(str::to_string),
                    message: format!(
                        "{} is already used by another record",
                        field.unwrap_or("a unique value")
                    ),
                }
            }
            DbError::Unstorable(_) => AppError::invalid(
                "body",
                "text.nul",
                "text must not contain the NUL character (\\u0000)",
            ),
            DbError::KeyTaken => AppError::Conflict {
                code: "idempotency_key_in_progress",
                field: Some("Idempotency-Key".to_string()),
                message: "another request with this Idempotency-Key is being processed".into(),
            },
            DbError::Closed | DbError::Connection(_) => AppError::Unavailable(error),
            other => AppError::Internal(anyhow::Error::new(other)),
        }
    }
}
