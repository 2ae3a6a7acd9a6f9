//! `/api/v1/referrals` and `/api/v1/reports/referrals` (API.md "Referral").

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use loyalty_app::App;
use loyalty_app::referrals::ReferralIn;
use loyalty_core::referral::{Referral, ReferralReport};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::extract::{ApiJson, ApiQuery, Auth};
use crate::problem::{ApiResult, Problem};

#[utoipa::path(post, path = "/api/v1/referrals", tag = "referral", request_body = ReferralIn,
    responses(
        (status = 201, description = "The friend (registered as a customer when new) is referred; the referral completes with their first qualifying order", body = Referral),
        (status = 422, description = "An unknown referrer, or refused with `reason` (`self_referral`, `friend_has_orders`, `already_referred`, `monthly_cap`, `referral_disabled`)", body = Problem),
    ),
    security(("api_key" = [])))]
pub async fn create_referral(
    State(app): State<App>,
    Auth(ctx): Auth,
    ApiJson(input): ApiJson<ReferralIn>,
) -> ApiResult<impl IntoResponse> {
    let referral = app.create_referral(&ctx, input).await?;
    Ok((StatusCode::CREATED, Json(referral)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReferralsQuery {
    /// Only referrals this member made or was referred by.
    pub member_id: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/referrals", tag = "referral", params(ReferralsQuery),
    responses((status = 200, description = "Newest first, at most 500", body = Vec<Referral>)),
    security(("api_key" = [])))]
pub async fn list_referrals(
    State(app): State<App>,
    Auth(ctx): Auth,
    ApiQuery(query): ApiQuery<ReferralsQuery>,
) -> ApiResult<Json<Vec<Referral>>> {
    let member = query.member_id.map(Into::into);
    Ok(Json(app.referrals(&ctx, member).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PeriodQuery {
    /// First day (`YYYY-MM-DD`, the shop's time zone); the first of this month by default.
    #[param(value_type = Option<String>, example = "2026-12-01")]
    pub from: Option<jiff::civil::Date>,
    /// Last day, included; today by default.
    #[param(value_type = Option<String>, example = "2026-12-31")]
    pub to: Option<jiff::civil::Date>,
}

#[utoipa::path(get, path = "/api/v1/reports/referrals", tag = "referral", params(PeriodQuery),
    responses((status = 200, body = ReferralReport), (status = 422, body = Problem)),
    security(("api_key" = [])))]
pub async fn referral_report(
    State(app): State<App>,
    Auth(ctx): Auth,
    ApiQuery(query): ApiQuery<PeriodQuery>,
) -> ApiResult<Json<ReferralReport>> {
    Ok(Json(app.referral_report(&ctx, query.from, query.to).await?))
}

/// A member's referral code and the portal link that carries it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ReferralCodeOut {
    #[schema(example = "K7M2Q9XA")]
    pub code: String,
}

#[utoipa::path(get, path = "/api/v1/members/{id}/referral", tag = "referral", params(("id" = String, Path)),
    responses((status = 200, description = "The member's referral code (drawn the first time it is asked for)", body = ReferralCodeOut),
        (status = 404, body = Problem)),
    security(("api_key" = [])))]
pub async fn member_referral_code(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ReferralCodeOut>> {
    let code = app.referral_code(&ctx, id.into()).await?;
    Ok(Json(ReferralCodeOut { code }))
}
