//! `/api/v1/redemptions`: gift rewards waiting at the counter, handed over or cancelled
//! (API.md "Back office").

use axum::Json;
use axum::extract::{Path, State};
use jiff::Timestamp;
use loyalty_app::App;
use loyalty_app::gifts::GiftRow;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::extract::{ApiJson, ApiQuery, Auth};
use crate::problem::{ApiResult, Problem};

/// A gift reward's redemption.
#[derive(Debug, Serialize, ToSchema)]
pub struct GiftOut {
    pub id: String,
    pub reward_id: String,
    pub reward_name: String,
    pub member_id: String,
    pub member_name: Option<String>,
    pub points_spent: i64,
    /// `pending`, `handed_over` or `cancelled`.
    pub fulfilment: String,
    /// The store that handed it over.
    pub store: Option<String>,
    pub cancel_reason: Option<String>,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>)]
    pub settled_at: Option<Timestamp>,
}

impl From<GiftRow> for GiftOut {
    fn from(g: GiftRow) -> Self {
        GiftOut {
            id: g.id,
            reward_id: g.reward_id,
            reward_name: g.reward_name,
            member_id: g.member_id,
            member_name: g.member_name,
            points_spent: g.points_spent,
            fulfilment: g.fulfilment,
            store: g.store,
            cancel_reason: g.cancel_reason,
            created_at: g.created_at,
            settled_at: g.settled_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct GiftQuery {
    /// `pending` (the default: the queue, oldest first), `handed_over` or `cancelled`.
    pub fulfilment: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/redemptions", tag = "rewards", params(GiftQuery),
    responses((status = 200, description = "Gift redemptions in that state, at most 500", body = Vec<GiftOut>),
        (status = 422, body = Problem)),
    security(("api_key" = [])))]
pub async fn list_gifts(
    State(app): State<App>,
    Auth(ctx): Auth,
    ApiQuery(query): ApiQuery<GiftQuery>,
) -> ApiResult<Json<Vec<GiftOut>>> {
    let state = query.fulfilment.as_deref().unwrap_or("pending");
    let gifts = app.gifts(&ctx, state).await?;
    Ok(Json(gifts.into_iter().map(GiftOut::from).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandOverIn {
    /// The code of the store handing it over.
    #[schema(example = "HN01")]
    pub store: String,
}

#[utoipa::path(post, path = "/api/v1/redemptions/{id}/hand-over", tag = "rewards",
    params(("id" = String, Path)), request_body = HandOverIn,
    responses((status = 200, description = "Handed over (again: unchanged)", body = GiftOut),
        (status = 404, body = Problem),
        (status = 409, description = "`gift_cancelled`, or `not_a_gift` for a voucher reward", body = Problem),
        (status = 422, body = Problem)),
    security(("api_key" = [])))]
pub async fn hand_over(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<HandOverIn>,
) -> ApiResult<Json<GiftOut>> {
    Ok(Json(
        app.hand_over_gift(&ctx, id, &input.store).await?.into(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelGiftIn {
    pub reason: String,
}

#[utoipa::path(post, path = "/api/v1/redemptions/{id}/cancel", tag = "rewards",
    params(("id" = String, Path)), request_body = CancelGiftIn,
    responses((status = 200, description = "Cancelled: the points are back with the member, the gift back in stock", body = GiftOut),
        (status = 404, body = Problem),
        (status = 409, description = "`gift_handed_over`, or `not_a_gift`", body = Problem),
        (status = 422, body = Problem)),
    security(("api_key" = [])))]
pub async fn cancel(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<CancelGiftIn>,
) -> ApiResult<Json<GiftOut>> {
    Ok(Json(app.cancel_gift(&ctx, id, &input.reason).await?.into()))
}
