//! `/api/v1/members`: create, read, search, update, activate.

use loyalty_core::id::MemberId;
use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use jiff::Timestamp;
use loyalty_app::App;
use loyalty_app::tiers::MemberView;
use loyalty_core::Invalid;
use loyalty_core::code::normalise_code;
use loyalty_core::email::Email;
use loyalty_core::input::member::{MemberIn, MemberPatchIn, given};
use loyalty_core::member::{Gender, Member, MemberStatus};
use loyalty_core::phone::Phone;
use loyalty_core::records::MemberFilter;
use loyalty_core::text::fold;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::extract::{ApiJson, ApiQuery, Auth};
use crate::paging::{List, page};
use crate::problem::{ApiResult, Problem};

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberOut {
    pub id: String,
    /// Short code for the till's QR code or barcode.
    #[schema(example = "K7Q3M9P2")]
    pub member_code: String,
    /// `customer` (known, not activated), `member` (activated), `blocked` or `merged` (a
    /// tombstone: listed only when asked for by status).
    #[schema(value_type = String, example = "customer")]
    pub status: MemberStatus,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    #[schema(value_type = Option<String>)]
    pub gender: Option<Gender>,
    pub birthday: Option<String>,
    pub province: Option<String>,
    /// The 2025 province code (GSO) the written province belongs to, old names included.
    pub province_code: Option<String>,
    pub district: Option<String>,
    pub address: Option<String>,
    pub tags: Vec<String>,
    #[schema(value_type = Object)]
    pub attributes: Map<String, Value>,
    pub consent: ConsentOut,
    pub external_ids: BTreeMap<String, String>,
    pub source: Option<String>,
    /// The member's tier and what it gives at the till (`discount_percent` is the brand's own
    /// when `?brand=` is given and the tier has one).
    pub tier: Option<MemberTierOut>,
    /// The next tier and how much more of the program's metric it needs.
    pub tier_progress: Option<TierProgressOut>,
    /// The qualifying value now (spend, points or orders over the program's window).
    pub tier_value: i64,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub tier_reached_at: Option<Timestamp>,
    /// When the tier is next reviewed.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub tier_review_at: Option<Timestamp>,
    /// A manual tier override holds until this time (`null` with `tier_overridden` = until changed).
    pub tier_overridden: bool,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub tier_override_until: Option<Timestamp>,
    pub points: MemberPointsOut,
    pub lifetime_spend: i64,
    pub order_count: i64,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_order_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub member_since: Option<Timestamp>,
    /// The nightly RFM class; `null` until the member has bought and the job has run.
    pub rfm: Option<RfmOut>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RfmOut {
    /// `Champions`, `Loyal`, `Potential`, `New`, `At risk`, `Hibernating` or `Lost`.
    #[schema(example = "Champions")]
    pub class: String,
    /// Recency, frequency and monetary quintiles (5 best), e.g. `545`.
    #[schema(example = "545")]
    pub score: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentOut {
    pub email: bool,
    pub sms: bool,
    pub zalo: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberPointsOut {
    pub available: i64,
    pub pending: i64,
    /// Points reversed after they were spent; the next earnings pay this off first.
    pub debt: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberTierOut {
    pub id: String,
    pub name: String,
    pub rank: i64,
    pub earn_multiplier: f64,
    pub discount_percent: i64,
    pub brand_discounts: Vec<loyalty_core::tier::BrandDiscount>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TierProgressOut {
    #[schema(example = "Vàng")]
    pub next: String,
    #[schema(example = 1250000)]
    pub remaining: i64,
}

impl MemberOut {
    pub fn from_view(view: MemberView, brand: Option<&str>) -> MemberOut {
        let mut out = MemberOut::from(view.member);
        out.tier = view.tier.map(|t| MemberTierOut {
            discount_percent: t.discount_for(brand),
            earn_multiplier: t.earn_multiplier(),
            brand_discounts: t.brand_discounts.clone(),
            id: t.id,
            name: t.name,
            rank: t.rank,
        });
        out.tier_progress = view
            .next_tier
            .map(|(next, remaining)| TierProgressOut { next, remaining });
        out.tier_value = view.tier_value;
        out
    }
}

impl From<Member> for MemberOut {
    fn from(m: Member) -> Self {
        let province_code = m.profile.province_code().map(str::to_string);
        let p = m.profile;
        MemberOut {
            id: m.id.to_string(),
            member_code: m.member_code,
            status: m.status,
            phone: p.phone.map(Phone::into_string),
            email: p.email.map(Email::into_string),
            name: p.name,
            gender: p.gender,
            birthday: p.birthday.map(|b| b.to_string()),
            province: p.province,
            province_code,
            district: p.district,
            address: p.address,
            tags: p.tags,
            attributes: p.attributes,
            consent: ConsentOut {
                email: p.consent.email,
                sms: p.consent.sms,
                zalo: p.consent.zalo,
            },
            external_ids: p.external_ids,
            source: m.source,
            tier: None,
            tier_progress: None,
            tier_value: 0,
            tier_reached_at: m.tier_reached_at,
            tier_review_at: m.tier_review_at,
            tier_overridden: m.tier_overridden,
            tier_override_until: m.tier_override_until,
            points: MemberPointsOut {
                available: m.points_available,
                pending: m.points_pending,
                debt: m.points_debt,
            },
            lifetime_spend: m.lifetime_spend,
            order_count: m.order_count,
            last_order_at: m.last_order_at,
            member_since: m.member_since,
            rfm: m.rfm_class.map(|class| RfmOut {
                class,
                score: m.rfm_score.unwrap_or_default(),
            }),
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MemberQuery {
    /// Exact phone, in any usual form.
    pub phone: Option<String>,
    /// Exact e-mail (case-insensitive).
    pub email: Option<String>,
    /// Exact member code (case-insensitive).
    pub member_code: Option<String>,
    /// Text contained in the name (tone marks optional), phone or e-mail.
    pub q: Option<String>,
    /// `customer`, `member`, `blocked` or `merged` (merged records are listed only so).
    #[param(value_type = Option<String>)]
    pub status: Option<MemberStatus>,
    /// A brand code: the tier's discount is given for that brand.
    pub brand: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BrandQuery {
    /// A brand code: the tier's discount is given for that brand.
    pub brand: Option<String>,
}

impl MemberQuery {
    fn filter(&self) -> Result<MemberFilter, Invalid> {
        let mut e = Invalid::default();
        let phone = given(self.phone.clone())
            .and_then(|v| e.check("phone", Phone::parse(&v)))
            .map(Phone::into_string);
        let email = given(self.email.clone())
            .and_then(|v| e.check("email", Email::parse(&v)))
            .map(Email::into_string);
        let member_code = given(self.member_code.clone()).and_then(|v| {
            let code = normalise_code(&v);
            if code.is_none() {
                e.push_coded(
                    "member_code",
                    "member_code.format",
                    "may contain only letters and digits",
                );
            }
            code
        });
        let text = given(self.q.clone()).map(|q| fold(&q));
        e.into_result(|| MemberFilter {
            phone,
            email,
            member_code,
            text,
            status: self.status,
            tier_id: None,
        })
    }
}

#[utoipa::path(post, path = "/api/v1/members", tag = "members",
    request_body = MemberIn,
    responses(
        (status = 201, description = "Created", body = MemberOut),
        (status = 409, description = "Phone, e-mail or external id already used", body = Problem),
        (status = 422, description = "Invalid field", body = Problem),
    ),
    security(("api_key" = [])))]
pub async fn create_member(
    State(app): State<App>,
    Auth(ctx): Auth,
    ApiJson(input): ApiJson<MemberIn>,
) -> ApiResult<impl IntoResponse> {
    let member = app.create_member(&ctx, input).await?;
    let location = format!("/api/v1/members/{}", member.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(MemberOut::from(member)),
    ))
}

#[utoipa::path(get, path = "/api/v1/members", tag = "members",
    params(MemberQuery),
    responses((status = 200, description = "Members matching every given filter, oldest first", body = List<MemberOut>)),
    security(("api_key" = [])))]
pub async fn list_members(
    State(app): State<App>,
    Auth(ctx): Auth,
    ApiQuery(query): ApiQuery<MemberQuery>,
) -> ApiResult<Json<List<MemberOut>>> {
    let filter = query.filter()?;
    let page = page(query.limit, query.cursor.as_deref())?;
    let members = app.members(&ctx, filter, page).await?;
    let brand = query.brand.as_deref();
    let next_cursor = members.next_after.as_deref().map(crate::paging::cursor);
    let views = app.member_views(&ctx, members.items, brand).await?;
    Ok(Json(List {
        items: views
            .into_iter()
            .map(|v| MemberOut::from_view(v, brand))
            .collect(),
        next_cursor,
    }))
}

#[utoipa::path(get, path = "/api/v1/members/{id}", tag = "members",
    params(("id" = String, Path), BrandQuery),
    responses((status = 200, body = MemberOut), (status = 404, body = Problem)),
    security(("api_key" = [])))]
pub async fn get_member(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<MemberId>,
    ApiQuery(query): ApiQuery<BrandQuery>,
) -> ApiResult<Json<MemberOut>> {
    let member = app.member(&ctx, id).await?;
    Ok(Json(one(&app, &ctx, member, query.brand.as_deref()).await?))
}

/// One member with their tier.
async fn one(
    app: &App,
    ctx: &loyalty_app::Ctx,
    member: Member,
    brand: Option<&str>,
) -> ApiResult<MemberOut> {
    let view = app.member_views(ctx, vec![member], brand).await?.remove(0);
    Ok(MemberOut::from_view(view, brand))
}

#[utoipa::path(patch, path = "/api/v1/members/{id}", tag = "members",
    params(("id" = String, Path)),
    request_body = MemberPatchIn,
    responses((status = 200, body = MemberOut), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("api_key" = [])))]
pub async fn update_member(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<MemberId>,
    ApiJson(input): ApiJson<MemberPatchIn>,
) -> ApiResult<Json<MemberOut>> {
    let member = app.update_member(&ctx, id, input).await?;
    Ok(Json(one(&app, &ctx, member, None).await?))
}

#[utoipa::path(post, path = "/api/v1/members/{id}/activate", tag = "members",
    params(("id" = String, Path)),
    responses((status = 200, description = "Now a member (or already was)", body = MemberOut), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("api_key" = [])))]
pub async fn activate_member(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<MemberId>,
) -> ApiResult<Json<MemberOut>> {
    let member = app.activate_member(&ctx, id).await?;
    Ok(Json(one(&app, &ctx, member, None).await?))
}

/// `POST /api/v1/members/{id}/block`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockIn {
    /// Why (kept in the activity log), 1 to 500 characters.
    #[schema(example = "gian lận tích điểm")]
    pub reason: String,
}

#[utoipa::path(post, path = "/api/v1/members/{id}/block", tag = "members",
    params(("id" = String, Path)), request_body = BlockIn,
    responses((status = 200, description = "Blocked (or already was): their orders earn nothing, their redemptions and voucher uses are refused with `member_blocked`, marketing leaves them out", body = MemberOut),
        (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("api_key" = [])))]
pub async fn block_member(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<MemberId>,
    ApiJson(input): ApiJson<BlockIn>,
) -> ApiResult<Json<MemberOut>> {
    let member = app.block_member(&ctx, id, &input.reason).await?;
    Ok(Json(one(&app, &ctx, member, None).await?))
}

#[utoipa::path(post, path = "/api/v1/members/{id}/unblock", tag = "members",
    params(("id" = String, Path)),
    responses((status = 200, description = "Back to member (if ever activated) or customer", body = MemberOut),
        (status = 404, body = Problem)),
    security(("api_key" = [])))]
pub async fn unblock_member(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<MemberId>,
) -> ApiResult<Json<MemberOut>> {
    let member = app.unblock_member(&ctx, id).await?;
    Ok(Json(one(&app, &ctx, member, None).await?))
}

/// `POST /api/v1/members/{id}/merge`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeIn {
    /// The other record of the same person: merged into `{id}` and kept as a tombstone.
    #[schema(value_type = String)]
    pub from: MemberId,
}

#[utoipa::path(post, path = "/api/v1/members/{id}/merge", tag = "members",
    params(("id" = String, Path)), request_body = MergeIn,
    responses((status = 200, description = "The kept member, with the other's orders, points, vouchers, referrals, tags and external ids; the other answers as this one from now on", body = MemberOut),
        (status = 404, body = Problem),
        (status = 409, description = "`merge_into_itself`, `member_merged` (already merged) or `points_out_of_range`", body = Problem),
        (status = 422, body = Problem)),
    security(("api_key" = [])))]
pub async fn merge_members(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<MemberId>,
    ApiJson(input): ApiJson<MergeIn>,
) -> ApiResult<Json<MemberOut>> {
    let member = app.merge_members(&ctx, id, input.from).await?;
    Ok(Json(one(&app, &ctx, member, None).await?))
}

/// A pair of records that may be one person.
#[derive(Debug, Serialize, ToSchema)]
pub struct DuplicateOut {
    pub a: String,
    pub b: String,
    /// `same_name_birthday`, `same_name_phone_suffix` (the last 6 digits) or `email_variant`
    /// (equal once the local part's dots and `+tag` are ignored).
    pub reason: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DuplicatesOut {
    pub items: Vec<DuplicateOut>,
}

#[utoipa::path(get, path = "/api/v1/members/duplicates", tag = "members",
    responses((status = 200, description = "Suggested pairs for review (at most 500 per reason), merged records left out", body = DuplicatesOut)),
    security(("api_key" = [])))]
pub async fn duplicate_members(
    State(app): State<App>,
    Auth(ctx): Auth,
) -> ApiResult<Json<DuplicatesOut>> {
    let items = app
        .duplicate_members(&ctx)
        .await?
        .into_iter()
        .map(|s| DuplicateOut {
            a: s.a,
            b: s.b,
            reason: s.reason,
        })
        .collect();
    Ok(Json(DuplicatesOut { items }))
}

/// One change of a member's marketing consent.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentChangeOut {
    /// `email`, `sms` or `zalo`.
    pub channel: String,
    pub granted: bool,
    pub source: loyalty_core::consent::ConsentSource,
    pub actor: crate::api::activity::ActorOut,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
}

impl From<loyalty_core::consent::ConsentChange> for ConsentChangeOut {
    fn from(c: loyalty_core::consent::ConsentChange) -> Self {
        ConsentChangeOut {
            channel: c.channel,
            granted: c.granted,
            source: c.source,
            actor: crate::api::activity::ActorOut {
                kind: c.actor.kind.as_str().to_string(),
                id: c.actor.id,
                name: c.actor.name,
            },
            at: c.at,
        }
    }
}

#[utoipa::path(get, path = "/api/v1/members/{id}/consent-history", tag = "members",
    params(("id" = String, Path), super::catalog::ListQuery),
    responses((status = 200, description = "Every consent change (API, admin UI, import, portal, unsubscribe), newest first", body = List<ConsentChangeOut>),
        (status = 404, body = Problem)),
    security(("api_key" = [])))]
pub async fn get_consent_history(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<MemberId>,
    ApiQuery(query): ApiQuery<super::catalog::ListQuery>,
) -> ApiResult<Json<List<ConsentChangeOut>>> {
    let page = page(query.limit, query.cursor.as_deref())?;
    Ok(Json(List::from_paged(
        app.consent_history(&ctx, id, page).await?,
        ConsentChangeOut::from,
    )))
}
