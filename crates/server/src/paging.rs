//! Cursor pagination: `?limit=` (default 50, max 500) and `?cursor=`; responses carry
//! `{"items": [...], "next_cursor": "..." | null}`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use loyalty_core::Invalid;
use loyalty_core::records::{Page, Paged};
use serde::Serialize;
use utoipa::ToSchema;

use crate::problem::ApiError;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;

/// A list page in the API's envelope.
#[derive(Debug, Serialize, ToSchema)]
pub struct List<T> {
    pub items: Vec<T>,
    /// Pass as `?cursor=` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> List<T> {
    pub fn from_paged<U>(paged: Paged<U>, to_item: impl Fn(U) -> T) -> List<T> {
        List {
            items: paged.items.into_iter().map(to_item).collect(),
            next_cursor: paged.next_after.as_deref().map(cursor),
        }
    }
}

/// The opaque cursor that continues a list after the row with this id.
pub fn cursor(after_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(after_id)
}

pub fn page(limit: Option<i64>, cursor: Option<&str>) -> Result<Page, ApiError> {
    let mut errors = Invalid::default();
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        let message = format!("must be between 1 and {MAX_LIMIT}");
        errors.push_bounded("limit", "out_of_range", (1, MAX_LIMIT), message);
    }
    let after = match cursor.filter(|c| !c.is_empty()) {
        None => None,
        Some(cursor) => match URL_SAFE_NO_PAD
            .decode(cursor)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
        {
            Some(id) => Some(id),
            None => {
                errors.push_coded(
                    "cursor",
                    "cursor.unknown",
                    "is not a cursor this API returned",
                );
                None
            }
        },
    };
    errors
        .into_result(|| Page { after, limit })
        .map_err(ApiError::from)
}
