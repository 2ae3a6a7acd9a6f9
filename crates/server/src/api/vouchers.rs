//! `/api/v1/voucher-programs`, `/api/v1/vouchers/*`, `/api/v1/rewards` and a member's
//! vouchers and reward redemptions.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use jiff::Timestamp;
use loyalty_app::App;
use loyalty_app::rewards::{RewardInput, RewardReport};
use loyalty_app::vouchers::{MemberVoucher, ProgramInput, ProgramReport, Validation};
use loyalty_core::Invalid;
use loyalty_core::id::{MemberId, ProgramId};
use loyalty_core::records::Redemption;
use loyalty_core::records::Reward;
use loyalty_core::voucher::RedemptionStatus;
use loyalty_core::voucher::{CodeKind, Limits, OrderContext, Scope, VoucherProgram, VoucherType};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::catalog::ListQuery;
use super::orders::instant;
use crate::extract::{ApiJson, ApiQuery, Auth, nullable};
use crate::paging::{List, page};
use crate::problem::{ApiResult, Problem};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgramIn {
    #[schema(example = "Tết 2026")]
    pub name: Option<String>,
    /// `percent`, `fixed`, `free_shipping` or `free_item`.
    #[serde(rename = "type")]
    #[schema(value_type = Option<String>, example = "percent")]
    pub kind: Option<VoucherType>,
    /// Percent for `percent`, đồng for `fixed`.
    #[schema(example = 10)]
    pub value: Option<i64>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>, example = 50000)]
    pub max_discount: Option<Option<i64>>,
    #[schema(example = 100000)]
    pub min_order: Option<i64>,
    /// The free item of a `free_item` voucher.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub sku: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub valid_from: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub valid_until: Option<Option<String>>,
    pub scope: Option<Scope>,
    pub limits: Option<Limits>,
    /// May combine with other vouchers on one order.
    pub stacking: Option<bool>,
    /// `false` pauses the program.
    pub active: Option<bool>,
    pub codes: Option<CodesIn>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodesIn {
    /// `shared` (one code, with `code`) or `unique` (many generated codes).
    #[schema(value_type = String, example = "unique")]
    pub kind: CodeKind,
    #[schema(example = "TET-")]
    pub prefix: Option<String>,
    #[schema(example = 8)]
    pub length: Option<i64>,
    /// The shared code.
    pub code: Option<String>,
}

fn program_input(p: ProgramIn) -> Result<ProgramInput, Invalid> {
    let mut e = Invalid::default();
    let stamp =
        |e: &mut Invalid, field: &str, v: Option<Option<String>>| v.map(|v| instant(e, field, &v));
    let valid_from = stamp(&mut e, "valid_from", p.valid_from);
    let valid_until = stamp(&mut e, "valid_until", p.valid_until);
    let (code_kind, prefix, length, code) = match p.codes {
        Some(c) => (Some(c.kind), c.prefix, c.length, c.code),
        None => (None, None, None, None),
    };
    e.into_result(|| ProgramInput {
        name: p.name,
        kind: p.kind,
        value: p.value,
        max_discount: p.max_discount,
        min_order: p.min_order,
        sku: p.sku,
        valid_from,
        valid_until,
        scope: p.scope,
        limits: p.limits,
        stackable: p.stacking,
        active: p.active,
        code_kind,
        prefix,
        length,
        code,
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProgramOut {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    pub kind: VoucherType,
    pub value: i64,
    pub max_discount: Option<i64>,
    pub min_order: i64,
    pub sku: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub valid_from: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub valid_until: Option<Timestamp>,
    pub scope: Scope,
    pub limits: Limits,
    pub stacking: bool,
    pub active: bool,
    pub codes: CodesOut,
    /// Redemptions in force.
    pub uses: i64,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CodesOut {
    #[schema(value_type = String)]
    pub kind: CodeKind,
    pub prefix: String,
    pub length: i64,
    pub code: Option<String>,
}

impl From<VoucherProgram> for ProgramOut {
    fn from(p: VoucherProgram) -> Self {
        ProgramOut {
            id: p.id.to_string(),
            name: p.name,
            kind: p.kind,
            value: p.value,
            max_discount: p.max_discount,
            min_order: p.min_order,
            sku: p.free_item_sku,
            valid_from: p.valid_from,
            valid_until: p.valid_until,
            scope: p.scope,
            limits: p.limits,
            stacking: p.stackable,
            active: p.active,
            codes: CodesOut {
                kind: p.code_kind,
                prefix: p.code_prefix,
                length: p.code_length,
                code: p.shared_code,
            },
            uses: p.uses,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

#[utoipa::path(post, path = "/api/v1/voucher-programs", tag = "vouchers", request_body = ProgramIn,
    responses((status = 201, body = ProgramOut), (status = 409, description = "The shared code is taken", body = Problem), (status = 422, body = Problem)),
    security(("api_key" = [])))]
pub async fn create_program(
    State(app): State<App>,
    Auth(ctx): Auth,
    ApiJson(input): ApiJson<ProgramIn>,
) -> ApiResult<impl IntoResponse> {
    let program = app
        .create_voucher_program(&ctx, program_input(input)?)
        .await?;
    let location = format!("/api/v1/voucher-programs/{}", program.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(ProgramOut::from(program)),
    ))
}

#[utoipa::path(get, path = "/api/v1/voucher-programs", tag = "vouchers", params(ListQuery),
    responses((status = 200, body = List<ProgramOut>)), security(("api_key" = [])))]
pub async fn list_programs(
    State(app): State<App>,
    Auth(ctx): Auth,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<List<ProgramOut>>> {
    let page = page(query.limit, query.cursor.as_deref())?;
    Ok(Json(List::from_paged(
        app.voucher_programs(&ctx, page).await?,
        ProgramOut::from,
    )))
}

#[utoipa::path(get, path = "/api/v1/voucher-programs/{id}", tag = "vouchers", params(("id" = String, Path)),
    responses((status = 200, body = ProgramOut), (status = 404, body = Problem)), security(("api_key" = [])))]
pub async fn get_program(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<ProgramId>,
) -> ApiResult<Json<ProgramOut>> {
    Ok(Json(app.voucher_program(&ctx, id).await?.into()))
}

#[utoipa::path(patch, path = "/api/v1/voucher-programs/{id}", tag = "vouchers", params(("id" = String, Path)), request_body = ProgramIn,
    responses((status = 200, body = ProgramOut), (status = 404, body = Problem), (status = 422, body = Problem)), security(("api_key" = [])))]
pub async fn update_program(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<ProgramId>,
    ApiJson(input): ApiJson<ProgramIn>,
) -> ApiResult<Json<ProgramOut>> {
    Ok(Json(
        app.update_voucher_program(&ctx, id, program_input(input)?)
            .await?
            .into(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodesRequest {
    /// 1 to 100,000 codes.
    #[schema(example = 10000)]
    pub count: i64,
    /// Issue them to this member (only they may use them).
    pub member_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CodesCreated {
    pub count: usize,
    pub codes: Vec<String>,
}

#[utoipa::path(post, path = "/api/v1/voucher-programs/{id}/codes", tag = "vouchers", params(("id" = String, Path)), request_body = CodesRequest,
    responses((status = 201, description = "The new codes, unique in the tenant, without look-alike characters", body = CodesCreated), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("api_key" = [])))]
pub async fn create_codes(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<ProgramId>,
    ApiJson(input): ApiJson<CodesRequest>,
) -> ApiResult<impl IntoResponse> {
    let codes = app
        .generate_codes(&ctx, id, input.count, input.member_id)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CodesCreated {
            count: codes.len(),
            codes,
        }),
    ))
}

#[utoipa::path(get, path = "/api/v1/voucher-programs/{id}/report", tag = "vouchers", params(("id" = String, Path)),
    responses((status = 200, body = ProgramReport), (status = 404, body = Problem)), security(("api_key" = [])))]
pub async fn program_report(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<ProgramId>,
) -> ApiResult<Json<ProgramReport>> {
    Ok(Json(app.voucher_report(&ctx, id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateIn {
    #[schema(example = "TET-8KQ2MZ7A")]
    pub code: String,
    pub member_id: Option<String>,
    #[serde(default)]
    pub order: OrderContext,
}

#[utoipa::path(post, path = "/api/v1/vouchers/validate", tag = "vouchers", request_body = ValidateIn,
    responses((status = 200, description = "`valid` with the discount, or the reason it cannot be used", body = Validation)),
    security(("api_key" = [])))]
pub async fn validate(
    State(app): State<App>,
    Auth(ctx): Auth,
    ApiJson(input): ApiJson<ValidateIn>,
) -> ApiResult<Json<Validation>> {
    Ok(Json(
        app.validate_voucher(&ctx, input.code, input.member_id, input.order)
            .await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedeemIn {
    pub code: String,
    pub member_id: Option<String>,
    /// The order it is used for: the same code and order_ref again returns the same answer.
    #[schema(example = "pos:HN01-000123")]
    pub order_ref: String,
    #[serde(default)]
    pub order: OrderContext,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RedemptionOut {
    pub redemption_id: String,
    pub code: String,
    pub discount: i64,
    pub status: RedemptionStatus,
    pub order_ref: String,
}

impl From<Redemption> for RedemptionOut {
    fn from(r: Redemption) -> Self {
        RedemptionOut {
            redemption_id: r.id,
            code: r.code,
            discount: r.discount,
            status: r.status,
            order_ref: r.order_ref,
        }
    }
}

#[utoipa::path(post, path = "/api/v1/vouchers/redeem", tag = "vouchers", request_body = RedeemIn,
    responses((status = 200, body = RedemptionOut), (status = 409, description = "Used, or a use limit reached (`code` says which)", body = Problem), (status = 422, description = "Not for this order (`code` says why)", body = Problem)),
    security(("api_key" = [])))]
pub async fn redeem(
    State(app): State<App>,
    Auth(ctx): Auth,
    ApiJson(input): ApiJson<RedeemIn>,
) -> ApiResult<Json<RedemptionOut>> {
    Ok(Json(
        app.redeem_voucher(
            &ctx,
            input.code,
            input.member_id,
            input.order_ref,
            input.order,
        )
        .await?
        .into(),
    ))
}

#[utoipa::path(post, path = "/api/v1/vouchers/redemptions/{id}/release", tag = "vouchers", params(("id" = String, Path)),
    responses((status = 200, description = "The use is given back (or already was)", body = RedemptionOut), (status = 404, body = Problem)),
    security(("api_key" = [])))]
pub async fn release(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<RedemptionOut>> {
    Ok(Json(app.release_voucher(&ctx, id).await?.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberVouchers {
    pub items: Vec<MemberVoucher>,
}

#[utoipa::path(get, path = "/api/v1/members/{id}/vouchers", tag = "vouchers", params(("id" = String, Path)),
    responses((status = 200, description = "Codes issued to or used by the member, with their state", body = MemberVouchers), (status = 404, body = Problem)),
    security(("api_key" = [])))]
pub async fn member_vouchers(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<MemberId>,
) -> ApiResult<Json<MemberVouchers>> {
    Ok(Json(MemberVouchers {
        items: app.member_vouchers(&ctx, id).await?,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RewardIn {
    #[schema(example = "Ly sứ Cà Phê Sáng")]
    pub name: Option<String>,
    #[schema(example = 200)]
    pub points_cost: Option<i64>,
    /// `voucher` or `gift`.
    #[schema(example = "gift")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub voucher_program_id: Option<Option<String>>,
    /// `null` for unlimited.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    pub stock: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    pub per_member_limit: Option<Option<i64>>,
    /// Tier ids allowed; empty or absent for everyone.
    pub tiers: Option<Vec<String>>,
    pub active: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub starts_at: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ends_at: Option<Option<String>>,
}

fn reward_input(r: RewardIn) -> Result<RewardInput, Invalid> {
    let mut e = Invalid::default();
    let stamp =
        |e: &mut Invalid, field: &str, v: Option<Option<String>>| v.map(|v| instant(e, field, &v));
    let starts_at = stamp(&mut e, "starts_at", r.starts_at);
    let ends_at = stamp(&mut e, "ends_at", r.ends_at);
    e.into_result(|| RewardInput {
        name: r.name,
        points_cost: r.points_cost,
        kind: r.kind,
        voucher_program_id: r.voucher_program_id,
        stock: r.stock,
        per_member_limit: r.per_member_limit,
        tiers: r.tiers,
        active: r.active,
        starts_at,
        ends_at,
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RewardList {
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Reward>,
}

#[utoipa::path(get, path = "/api/v1/rewards", tag = "rewards", responses((status = 200, body = RewardList)), security(("api_key" = [])))]
pub async fn list_rewards(State(app): State<App>, Auth(ctx): Auth) -> ApiResult<Json<RewardList>> {
    Ok(Json(RewardList {
        items: app.rewards(&ctx).await?,
    }))
}

#[utoipa::path(post, path = "/api/v1/rewards", tag = "rewards", request_body = RewardIn,
    responses((status = 201, description = "The reward", body = Object), (status = 422, body = Problem)), security(("api_key" = [])))]
pub async fn create_reward(
    State(app): State<App>,
    Auth(ctx): Auth,
    ApiJson(input): ApiJson<RewardIn>,
) -> ApiResult<impl IntoResponse> {
    let reward = app.create_reward(&ctx, reward_input(input)?).await?;
    let location = format!("/api/v1/rewards/{}", reward.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(reward),
    ))
}

#[utoipa::path(get, path = "/api/v1/rewards/{id}", tag = "rewards", params(("id" = String, Path)),
    responses((status = 200, description = "The reward", body = Object), (status = 404, body = Problem)), security(("api_key" = [])))]
pub async fn get_reward(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Reward>> {
    Ok(Json(app.reward(&ctx, id).await?))
}

#[utoipa::path(patch, path = "/api/v1/rewards/{id}", tag = "rewards", params(("id" = String, Path)), request_body = RewardIn,
    responses((status = 200, description = "The reward", body = Object), (status = 404, body = Problem), (status = 422, body = Problem)), security(("api_key" = [])))]
pub async fn update_reward(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<RewardIn>,
) -> ApiResult<Json<Reward>> {
    Ok(Json(
        app.update_reward(&ctx, id, reward_input(input)?).await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/rewards/{id}/report", tag = "rewards", params(("id" = String, Path)),
    responses((status = 200, body = RewardReport), (status = 404, body = Problem)), security(("api_key" = [])))]
pub async fn reward_report(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<RewardReport>> {
    Ok(Json(app.reward_report(&ctx, id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedeemRewardIn {
    pub reward_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RewardRedemptionOut {
    pub id: String,
    pub reward_id: String,
    pub points_spent: i64,
    /// `issued` (a voucher), `pending` (a gift to hand over).
    pub fulfilment: String,
    pub voucher: Option<IssuedVoucher>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedVoucher {
    pub code: String,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub valid_until: Option<Timestamp>,
}

#[utoipa::path(post, path = "/api/v1/members/{id}/redemptions", tag = "rewards", params(("id" = String, Path)), request_body = RedeemRewardIn,
    responses(
        (status = 201, body = RewardRedemptionOut),
        (status = 409, description = "`insufficient_points`, `out_of_stock`, `limit_reached`, `tier_not_eligible` or `not_available`", body = Problem),
        (status = 404, body = Problem),
    ),
    security(("api_key" = [])))]
pub async fn redeem_reward(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<MemberId>,
    ApiJson(input): ApiJson<RedeemRewardIn>,
) -> ApiResult<impl IntoResponse> {
    let done = app.redeem_reward(&ctx, id, input.reward_id).await?;
    let r = done.redemption;
    let body = RewardRedemptionOut {
        id: r.id,
        reward_id: r.reward_id,
        points_spent: r.points_spent,
        fulfilment: r.fulfilment,
        voucher: r.voucher_code.map(|code| IssuedVoucher {
            code,
            valid_until: done.voucher_valid_until,
        }),
    };
    Ok((StatusCode::CREATED, Json(body)))
}
