//! `/api/v1/events`: the tenant's events, oldest first — a feed an integrator can poll instead
//! of receiving webhooks.

use axum::Json;
use axum::extract::State;
use jiff::Timestamp;
use loyalty_app::App;
use loyalty_app::events::Event;
use loyalty_core::Invalid;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::extract::{ApiQuery, Auth};
use crate::paging::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::problem::ApiResult;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Comma-separated types; `points.*` stands for every `points.` type. All when absent.
    #[serde(rename = "type")]
    pub types: Option<String>,
    /// `next_cursor` or `poll_cursor` of an earlier page; from the oldest event when absent.
    pub cursor: Option<String>,
    /// 1–500, default 50.
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventOut {
    /// `evt_…`
    pub id: String,
    /// `order.paid`, `points.earned`, `tier.changed`…
    #[serde(rename = "type")]
    pub kind: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// The changed object(s) as the API returns them (`member`, `order`, `entry`…).
    #[schema(value_type = Object)]
    pub data: Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventFeed {
    pub items: Vec<EventOut>,
    /// The next page's cursor; `null` when this page reached the newest event.
    pub next_cursor: Option<String>,
    /// Where to ask again later for events newer than these: always set, so a client that
    /// reached the end keeps its place.
    pub poll_cursor: String,
}

impl From<Event> for EventOut {
    fn from(e: Event) -> Self {
        EventOut {
            id: e.id,
            kind: e.kind.as_str().to_string(),
            created_at: e.created_at,
            data: e.data,
        }
    }
}

#[utoipa::path(get, path = "/api/v1/events", tag = "events", params(EventsQuery),
    responses((status = 200, description = "Oldest first", body = EventFeed)),
    security(("api_key" = [])))]
pub async fn list_events(
    State(app): State<App>,
    Auth(ctx): Auth,
    ApiQuery(query): ApiQuery<EventsQuery>,
) -> ApiResult<Json<EventFeed>> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        let message = format!("must be between 1 and {MAX_LIMIT}");
        return Err(Invalid::one_bounded("limit", "out_of_range", (1, MAX_LIMIT), message).into());
    }
    let page = app.events(&ctx, query.types, query.cursor, limit).await?;
    Ok(Json(EventFeed {
        items: page.items.into_iter().map(EventOut::from).collect(),
        next_cursor: page.next_cursor,
        poll_cursor: page.poll_cursor,
    }))
}
