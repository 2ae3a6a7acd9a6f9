//! The portal's JSON (API.md "Member portal and widget"), under `/portal/v1/{slug}`: a
//! sign-in code to a phone, a member session, and the signed-in member's own data. A member
//! token (`Authorization: Bearer mt_…`) is neither a staff session nor an API key, and reaches
//! its own member only: no route here takes a member id.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use loyalty_app::portal::{MePatch, PortalMember, PortalRedeemed, PortalSession, RewardForMember};
use loyalty_app::{App, AppError};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::catalog::ListQuery;
use crate::api::members::MemberOut;
use crate::api::points::EntryOut;
use crate::api::vouchers::MemberVouchers;
use crate::extract::{ApiJson, ApiQuery};
use crate::paging::{List, page};
use crate::problem::{ApiError, ApiResult, Problem};
use crate::ui::session::Client;

/// The portal's routes and their OpenAPI description (merged into the API's document; the
/// routes themselves stay out of the API's key and idempotency layers).
pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(request_code))
        .routes(routes!(sign_in))
        .routes(routes!(me, update_me))
        .routes(routes!(rewards))
        .routes(routes!(redeem))
        .routes(routes!(ledger))
        .routes(routes!(vouchers))
        .routes(routes!(referral))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeIn {
    #[schema(example = "0901234567")]
    phone: String,
}

/// 202 whatever the phone: whether it is a member's is not told.
#[utoipa::path(post, path = "/portal/v1/{slug}/otp", tag = "portal", params(("slug" = String, Path)),
    request_body = CodeIn,
    responses((status = 202, description = "A code is on its way if the phone may have one (the answer is the same either way)"),
        (status = 404, description = "No portal at this address", body = Problem),
        (status = 422, body = Problem)))]
pub async fn request_code(
    State(app): State<App>,
    Path(slug): Path<String>,
    Client(client): Client,
    ApiJson(input): ApiJson<CodeIn>,
) -> ApiResult<StatusCode> {
    app.request_portal_code(&slug, &input.phone, &client)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

/// `{"phone", "code"}`, or `{"customer_token"}` from the shop's own site.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionIn {
    phone: Option<String>,
    code: Option<String>,
    customer_token: Option<String>,
    /// A friend's referral code (the portal link's `?ref=`): a customer registering now
    /// becomes their referred friend.
    referred_by: Option<String>,
}

#[utoipa::path(post, path = "/portal/v1/{slug}/session", tag = "portal", params(("slug" = String, Path)),
    request_body = SessionIn,
    responses((status = 200, description = "The member's token (`Authorization: Bearer mt_…`)", body = PortalSession),
        (status = 401, description = "A wrong, expired or spent code; a customer token not signed by the shop or expired", body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn sign_in(
    State(app): State<App>,
    Path(slug): Path<String>,
    ApiJson(input): ApiJson<SessionIn>,
) -> ApiResult<Json<PortalSession>> {
    let session = match (input.customer_token, input.phone, input.code) {
        (Some(token), None, None) => app.portal_sign_in_with_token(&slug, &token).await?,
        (None, Some(phone), Some(code)) => {
            let referred_by = input.referred_by.as_deref();
            app.portal_sign_in(&slug, &phone, &code, referred_by)
                .await?
        }
        (None, None, _) => {
            return Err(AppError::invalid(
                "phone",
                "required",
                "give phone and code, or customer_token",
            )
            .into());
        }
        (None, Some(_), None) => {
            return Err(AppError::invalid("code", "required", "the code sent to the phone").into());
        }
        (Some(_), _, _) => {
            return Err(AppError::invalid(
                "customer_token",
                "invalid",
                "give customer_token alone",
            )
            .into());
        }
    };
    Ok(Json(session))
}

/// The member the request's bearer token signs in, in the portal's shop.
async fn member(app: &App, slug: &str, headers: &HeaderMap) -> Result<PortalMember, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(ApiError::App(AppError::Unauthorized(
            "sign in to the portal: Authorization: Bearer <token>",
        )))?;
    Ok(app.portal_member(slug, token.trim()).await?)
}

#[utoipa::path(get, path = "/portal/v1/{slug}/me", tag = "portal", params(("slug" = String, Path)),
    responses((status = 200, body = MemberOut), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("member_token" = [])))]
pub async fn me(
    State(app): State<App>,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> ApiResult<impl IntoResponse> {
    let who = member(&app, &slug, &headers).await?;
    let found = app.member(&who.ctx, who.member_id.clone()).await?;
    shown(&app, &who, found).await
}

#[utoipa::path(patch, path = "/portal/v1/{slug}/me", tag = "portal", params(("slug" = String, Path)),
    request_body = MePatch,
    responses((status = 200, body = MemberOut), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 422, description = "Invalid, or the birthday is already set", body = Problem)),
    security(("member_token" = [])))]
pub async fn update_me(
    State(app): State<App>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    ApiJson(patch): ApiJson<MePatch>,
) -> ApiResult<impl IntoResponse> {
    let who = member(&app, &slug, &headers).await?;
    let updated = app.portal_update_me(&who, patch).await?;
    shown(&app, &who, updated).await
}

#[utoipa::path(get, path = "/portal/v1/{slug}/me/rewards", tag = "portal", params(("slug" = String, Path)),
    responses((status = 200, description = "Rewards on offer to the member, cheapest first", body = Vec<RewardForMember>),
        (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("member_token" = [])))]
pub async fn rewards(
    State(app): State<App>,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<Vec<RewardForMember>>> {
    let who = member(&app, &slug, &headers).await?;
    Ok(Json(app.portal_rewards(&who).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedeemIn {
    reward_id: String,
}

/// As `POST /api/v1/members/{id}/redemptions`, for the signed-in member; an
/// `Idempotency-Key` makes a retry (or a second tap) redeem once.
#[utoipa::path(post, path = "/portal/v1/{slug}/me/redemptions", tag = "portal", params(("slug" = String, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "The same key redeems once")),
    request_body = RedeemIn,
    responses((status = 201, description = "Redeemed: `{id, reward_id, points_spent, fulfilment, voucher}`"),
        (status = 200, description = "This key already redeemed: `{\"status\": \"already_redeemed\"}`"),
        (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "Not enough points, out of stock, the limit reached", body = Problem)),
    security(("member_token" = [])))]
pub async fn redeem(
    State(app): State<App>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<RedeemIn>,
) -> ApiResult<impl IntoResponse> {
    let who = member(&app, &slug, &headers).await?;
    let key = match headers.get(crate::idempotency::IDEMPOTENCY_KEY) {
        Some(value) => value.to_str().unwrap_or("\u{0}").to_string(),
        None => loyalty_core::code::random_code(24),
    };
    Ok(
        match app.portal_redeem(&who, input.reward_id, &key).await? {
            PortalRedeemed::Done(done) => {
                let r = done.redemption;
                let body = serde_json::json!({
                    "id": r.id, "reward_id": r.reward_id, "points_spent": r.points_spent,
                    "fulfilment": r.fulfilment,
                    "voucher": r.voucher_code.map(|code| serde_json::json!({"code": code, "valid_until": done.voucher_valid_until})),
                });
                (StatusCode::CREATED, Json(body))
            }
            PortalRedeemed::AlreadyDone => (
                StatusCode::OK,
                Json(serde_json::json!({"status": "already_redeemed"})),
            ),
        },
    )
}

/// The member as the API shows one, with their tier's progress.
async fn shown(
    app: &App,
    who: &PortalMember,
    found: loyalty_core::member::Member,
) -> ApiResult<Json<MemberOut>> {
    let view = app
        .member_views(&who.ctx, vec![found], None)
        .await?
        .pop()
        .ok_or(AppError::NotFound { entity: "member" })?;
    Ok(Json(MemberOut::from_view(view, None)))
}

#[utoipa::path(get, path = "/portal/v1/{slug}/me/ledger", tag = "portal", params(("slug" = String, Path), ListQuery),
    responses((status = 200, body = List<EntryOut>), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)),
    security(("member_token" = [])))]
pub async fn ledger(
    State(app): State<App>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<List<EntryOut>>> {
    let who = member(&app, &slug, &headers).await?;
    let page = page(query.limit, query.cursor.as_deref())?;
    Ok(Json(List::from_paged(
        app.ledger(&who.ctx, who.member_id, page).await?,
        EntryOut::from,
    )))
}

#[utoipa::path(get, path = "/portal/v1/{slug}/me/vouchers", tag = "portal", params(("slug" = String, Path)),
    responses((status = 200, body = MemberVouchers), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("member_token" = [])))]
pub async fn vouchers(
    State(app): State<App>,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<MemberVouchers>> {
    let who = member(&app, &slug, &headers).await?;
    Ok(Json(MemberVouchers {
        items: app.member_vouchers(&who.ctx, who.member_id).await?,
    }))
}

/// The member's referral code, the link to share, and how many friends they brought.
#[utoipa::path(get, path = "/portal/v1/{slug}/me/referral", tag = "portal", params(("slug" = String, Path)),
    responses((status = 200, body = loyalty_app::referrals::MyReferral), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("member_token" = [])))]
pub async fn referral(
    State(app): State<App>,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<loyalty_app::referrals::MyReferral>> {
    let who = member(&app, &slug, &headers).await?;
    Ok(Json(app.my_referral(&who, &slug).await?))
}
