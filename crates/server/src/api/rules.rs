//! `/api/v1/earn-rules`: bonus earning rules and their preview on past orders.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use jiff::Timestamp;
use loyalty_app::App;
use loyalty_app::rules::{RuleInput, RulePreview};
use loyalty_core::Invalid;
use loyalty_core::rules::{Caps, EarnRule};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::orders::instant;
use crate::extract::{ApiJson, Auth, nullable};
use crate::problem::{ApiResult, Problem};

/// A rule as written: conditions nest with `all`/`any`/`not` over `order.*`, `line.*` and
/// `member.*` fields; the effect is `{"multiplier": x}`, `{"bonus_points": n}` or
/// `{"points_per_item": n}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleIn {
    #[schema(example = "Sinh nhật x2")]
    pub name: Option<String>,
    pub active: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub starts_at: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ends_at: Option<Option<String>>,
    #[schema(value_type = Object, example = json!({"all": [{"field": "member.birthday", "op": "is_today"}, {"field": "order.total", "op": ">=", "value": 100000}]}))]
    pub conditions: Option<Value>,
    #[schema(value_type = Object, example = json!({"multiplier": 2}))]
    pub effect: Option<Value>,
    #[schema(value_type = Option<Object>, example = json!({"per_order": 500, "per_member_per_day": 500, "budget_points": 1000000}))]
    pub caps: Option<Caps>,
}

impl From<RuleIn> for RuleInput {
    fn from(r: RuleIn) -> Self {
        RuleInput {
            name: r.name,
            active: r.active,
            starts_at: r.starts_at,
            ends_at: r.ends_at,
            conditions: r.conditions,
            effect: r.effect,
            caps: r.caps,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RuleOut {
    pub id: String,
    pub name: String,
    pub active: bool,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub starts_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ends_at: Option<Timestamp>,
    #[schema(value_type = Object)]
    pub conditions: Value,
    #[schema(value_type = Object)]
    pub effect: Value,
    #[schema(value_type = Object)]
    pub caps: Caps,
    /// Points the rule has given in all.
    pub awarded_points: i64,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

impl From<EarnRule> for RuleOut {
    fn from(r: EarnRule) -> Self {
        RuleOut {
            id: r.id,
            name: r.name,
            active: r.active,
            starts_at: r.starts_at,
            ends_at: r.ends_at,
            conditions: r.conditions_json,
            effect: r.effect.to_json(),
            caps: r.caps,
            awarded_points: r.awarded_points,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RuleList {
    pub items: Vec<RuleOut>,
}

#[utoipa::path(get, path = "/api/v1/earn-rules", tag = "earn rules",
    responses((status = 200, body = RuleList)), security(("api_key" = [])))]
pub async fn list_rules(State(app): State<App>, Auth(ctx): Auth) -> ApiResult<Json<RuleList>> {
    let items = app
        .earn_rules(&ctx)
        .await?
        .into_iter()
        .map(RuleOut::from)
        .collect();
    Ok(Json(RuleList { items }))
}

#[utoipa::path(post, path = "/api/v1/earn-rules", tag = "earn rules", request_body = RuleIn,
    responses((status = 201, body = RuleOut), (status = 422, body = Problem)), security(("api_key" = [])))]
pub async fn create_rule(
    State(app): State<App>,
    Auth(ctx): Auth,
    ApiJson(input): ApiJson<RuleIn>,
) -> ApiResult<impl IntoResponse> {
    let rule = app.create_earn_rule(&ctx, input.into()).await?;
    let location = format!("/api/v1/earn-rules/{}", rule.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(RuleOut::from(rule)),
    ))
}

#[utoipa::path(get, path = "/api/v1/earn-rules/{id}", tag = "earn rules", params(("id" = String, Path)),
    responses((status = 200, body = RuleOut), (status = 404, body = Problem)), security(("api_key" = [])))]
pub async fn get_rule(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<RuleOut>> {
    Ok(Json(app.earn_rule(&ctx, id).await?.into()))
}

#[utoipa::path(patch, path = "/api/v1/earn-rules/{id}", tag = "earn rules", params(("id" = String, Path)),
    request_body = RuleIn,
    responses((status = 200, body = RuleOut), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("api_key" = [])))]
pub async fn update_rule(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<RuleIn>,
) -> ApiResult<Json<RuleOut>> {
    Ok(Json(
        app.update_earn_rule(&ctx, id, input.into()).await?.into(),
    ))
}

#[utoipa::path(delete, path = "/api/v1/earn-rules/{id}", tag = "earn rules", params(("id" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, body = Problem)), security(("api_key" = [])))]
pub async fn delete_rule(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    app.delete_earn_rule(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A draft rule and the period to replay it on.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewIn {
    #[serde(flatten)]
    pub rule: PreviewRule,
    #[schema(value_type = String, format = DateTime)]
    pub from: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub to: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PreviewRule {
    pub name: Option<String>,
    pub active: Option<bool>,
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    #[schema(value_type = Object)]
    pub conditions: Option<Value>,
    #[schema(value_type = Object)]
    pub effect: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub caps: Option<Caps>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewOut {
    pub orders_scanned: i64,
    pub orders_matched: i64,
    pub members: i64,
    pub points: i64,
    /// The points' value at `redeem.point_value`.
    pub cost: i64,
}

impl From<RulePreview> for PreviewOut {
    fn from(p: RulePreview) -> Self {
        PreviewOut {
            orders_scanned: p.orders_scanned,
            orders_matched: p.orders_matched,
            members: p.members,
            points: p.points,
            cost: p.cost,
        }
    }
}

#[utoipa::path(post, path = "/api/v1/earn-rules/preview", tag = "earn rules", request_body = PreviewIn,
    responses((status = 200, description = "What the rule would have given; nothing is written", body = PreviewOut), (status = 422, body = Problem)),
    security(("api_key" = [])))]
pub async fn preview_rule(
    State(app): State<App>,
    Auth(ctx): Auth,
    ApiJson(input): ApiJson<serde_json::Map<String, Value>>,
) -> ApiResult<Json<PreviewOut>> {
    // Read by hand: serde's `flatten` and `deny_unknown_fields` do not mix, and an unknown
    // field must still be named.
    let mut body = input;
    let mut errors = Invalid::default();
    let text = |body: &mut serde_json::Map<String, Value>, key: &str| {
        body.remove(key)
            .and_then(|v| v.as_str().map(str::to_string))
    };
    let from = instant(&mut errors, "from", &text(&mut body, "from"));
    let to = instant(&mut errors, "to", &text(&mut body, "to"));
    if from.is_none() && !errors.0.iter().any(|e| e.field == "from") {
        errors.required("from");
    }
    if to.is_none() && !errors.0.iter().any(|e| e.field == "to") {
        errors.required("to");
    }
    let rule: RuleIn = crate::extract::parse_json(&serde_json::to_vec(&body).unwrap_or_default())?;
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let (Some(from), Some(to)) = (from, to) else {
        return Err(Invalid::one("from", "required", "is required").into());
    };
    Ok(Json(
        app.preview_earn_rule(&ctx, rule.into(), from, to)
            .await?
            .into(),
    ))
}
