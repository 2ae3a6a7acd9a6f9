//! `/api/v1/tiers`, a member's tier history and tier override.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use jiff::Timestamp;
use loyalty_app::App;
use loyalty_app::tiers::TierInput;
use loyalty_core::Invalid;
use loyalty_core::id::MemberId;
use loyalty_core::records::TierChange;
use loyalty_core::tier::{BrandDiscount, Tier};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::members::MemberOut;
use super::orders::instant;
use crate::extract::{ApiJson, ApiQuery, Auth};
use crate::paging::{List, page};
use crate::problem::{ApiResult, Problem};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierIn {
    #[schema(example = "Vàng")]
    pub name: Option<String>,
    /// 1 for the entry tier; higher ranks need higher thresholds.
    #[schema(example = 3)]
    pub rank: Option<i64>,
    /// In the program's tier metric (VND of spend, points, or orders).
    #[schema(example = 5000000)]
    pub threshold: Option<i64>,
    pub benefits: Option<BenefitsIn>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BenefitsIn {
    /// On base points, e.g. 1.5.
    pub earn_multiplier: Option<f64>,
    pub discount_percent: Option<i64>,
    /// Per-brand discounts that replace `discount_percent` at that brand.
    pub brand_discounts: Option<Vec<BrandDiscount>>,
}

impl From<TierIn> for TierInput {
    fn from(t: TierIn) -> Self {
        let b = t.benefits.unwrap_or_default();
        TierInput {
            name: t.name,
            rank: t.rank,
            threshold: t.threshold,
            earn_multiplier: b.earn_multiplier,
            discount_percent: b.discount_percent,
            brand_discounts: b.brand_discounts,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TierOut {
    pub id: String,
    pub name: String,
    pub rank: i64,
    pub threshold: i64,
    pub benefits: BenefitsOut,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BenefitsOut {
    pub earn_multiplier: f64,
    pub discount_percent: i64,
    pub brand_discounts: Vec<BrandDiscount>,
}

impl From<Tier> for TierOut {
    fn from(t: Tier) -> Self {
        TierOut {
            benefits: BenefitsOut {
                earn_multiplier: t.earn_multiplier(),
                discount_percent: t.discount_percent,
                brand_discounts: t.brand_discounts.clone(),
            },
            id: t.id,
            name: t.name,
            rank: t.rank,
            threshold: t.threshold,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TierList {
    /// The ladder, lowest rank first.
    pub items: Vec<TierOut>,
}

#[utoipa::path(get, path = "/api/v1/tiers", tag = "tiers",
    responses((status = 200, body = TierList)), security(("api_key" = [])))]
pub async fn list_tiers(State(app): State<App>, Auth(ctx): Auth) -> ApiResult<Json<TierList>> {
    Ok(Json(TierList {
        items: app
            .tiers(&ctx)
            .await?
            .into_iter()
            .map(TierOut::from)
            .collect(),
    }))
}

#[utoipa::path(post, path = "/api/v1/tiers", tag = "tiers", request_body = TierIn,
    responses((status = 201, body = TierOut), (status = 422, description = "Invalid field, duplicate rank, or a threshold out of order", body = Problem)),
    security(("api_key" = [])))]
pub async fn create_tier(
    State(app): State<App>,
    Auth(ctx): Auth,
    ApiJson(input): ApiJson<TierIn>,
) -> ApiResult<impl IntoResponse> {
    let tier = app.create_tier(&ctx, input.into()).await?;
    let location = format!("/api/v1/tiers/{}", tier.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(TierOut::from(tier)),
    ))
}

#[utoipa::path(patch, path = "/api/v1/tiers/{id}", tag = "tiers", params(("id" = String, Path)), request_body = TierIn,
    responses((status = 200, body = TierOut), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("api_key" = [])))]
pub async fn update_tier(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<TierIn>,
) -> ApiResult<Json<TierOut>> {
    Ok(Json(app.update_tier(&ctx, id, input.into()).await?.into()))
}

#[utoipa::path(delete, path = "/api/v1/tiers/{id}", tag = "tiers", params(("id" = String, Path)),
    responses((status = 204, description = "Deleted; its members move to the tier their value supports"), (status = 404, body = Problem)),
    security(("api_key" = [])))]
pub async fn delete_tier(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    app.delete_tier(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TierChangeOut {
    pub id: String,
    pub from: Option<TierRef>,
    pub to: Option<TierRef>,
    /// `upgrade`, `review`, `override` or `import`.
    pub reason: String,
    /// The qualifying value at the time.
    pub value: i64,
    pub note: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TierRef {
    pub id: String,
    pub name: String,
}

impl From<TierChange> for TierChangeOut {
    fn from(c: TierChange) -> Self {
        let reference = |(id, name): (String, String)| TierRef { id, name };
        TierChangeOut {
            id: c.id,
            from: c.from.map(reference),
            to: c.to.map(reference),
            reason: c.reason,
            value: c.value,
            note: c.note,
            at: c.at,
        }
    }
}

#[utoipa::path(get, path = "/api/v1/members/{id}/tier-history", tag = "tiers", params(("id" = String, Path), HistoryQuery),
    responses((status = 200, description = "Newest first", body = List<TierChangeOut>), (status = 404, body = Problem)),
    security(("api_key" = [])))]
pub async fn tier_history(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<MemberId>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> ApiResult<Json<List<TierChangeOut>>> {
    let mut errors = Invalid::default();
    let from = instant(&mut errors, "from", &query.from);
    let to = instant(&mut errors, "to", &query.to);
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let page = page(query.limit, query.cursor.as_deref())?;
    Ok(Json(List::from_paged(
        app.tier_history(&ctx, id, from, to, page).await?,
        TierChangeOut::from,
    )))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OverrideIn {
    /// The tier to hold; `null` for no tier.
    pub tier_id: Option<String>,
    /// When the override ends (RFC 3339); `null` holds it until changed.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub until: Option<String>,
    pub reason: String,
}

#[utoipa::path(post, path = "/api/v1/members/{id}/tier", tag = "tiers", params(("id" = String, Path)), request_body = OverrideIn,
    responses((status = 200, description = "The member, on the tier given until the end date", body = MemberOut), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("api_key" = [])))]
pub async fn override_tier(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<MemberId>,
    ApiJson(input): ApiJson<OverrideIn>,
) -> ApiResult<Json<MemberOut>> {
    let mut errors = Invalid::default();
    let until = instant(&mut errors, "until", &input.until);
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let view = app
        .override_tier(&ctx, id, input.tier_id, until, input.reason)
        .await?;
    Ok(Json(MemberOut::from_view(view, None)))
}
