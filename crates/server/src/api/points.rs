//! `/api/v1/program` and a member's points: balance, ledger, manual adjustments.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use jiff::Timestamp;
use loyalty_app::App;
use loyalty_app::points::PointsSummary;
use loyalty_core::book::EntryKind;
use loyalty_core::id::MemberId;
use loyalty_core::program::Program;
use loyalty_core::records::Entry;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::activity::ActorOut;
use super::catalog::ListQuery;
use crate::extract::{ApiJson, ApiQuery, Auth};
use crate::paging::{List, page};
use crate::problem::{ApiResult, Problem};

#[utoipa::path(get, path = "/api/v1/program", tag = "program",
    responses((status = 200, body = Program)), security(("api_key" = [])))]
pub async fn get_program(State(app): State<App>, Auth(ctx): Auth) -> ApiResult<Json<Program>> {
    Ok(Json(app.program(&ctx).await?))
}

#[utoipa::path(put, path = "/api/v1/program", tag = "program", request_body = Program,
    responses((status = 200, body = Program), (status = 422, body = Problem)),
    security(("api_key" = [])))]
pub async fn put_program(
    State(app): State<App>,
    Auth(ctx): Auth,
    ApiJson(program): ApiJson<Program>,
) -> ApiResult<Json<Program>> {
    Ok(Json(app.set_program(&ctx, program).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PointsOut {
    pub available: i64,
    pub pending: i64,
    /// Points reversed after they were spent; the next earnings pay this off first.
    pub debt: i64,
    pub lifetime_earned: i64,
    pub expiring: Vec<ExpiringOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExpiringOut {
    pub points: i64,
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: Timestamp,
}

impl From<PointsSummary> for PointsOut {
    fn from(p: PointsSummary) -> Self {
        PointsOut {
            available: p.available,
            pending: p.pending,
            debt: p.debt,
            lifetime_earned: p.lifetime_earned,
            expiring: p
                .expiring
                .into_iter()
                .map(|e| ExpiringOut {
                    points: e.points,
                    expires_at: e.expires_at,
                })
                .collect(),
        }
    }
}

#[utoipa::path(get, path = "/api/v1/members/{id}/points", tag = "points", params(("id" = String, Path)),
    responses((status = 200, body = PointsOut), (status = 404, body = Problem)), security(("api_key" = [])))]
pub async fn get_points(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<MemberId>,
) -> ApiResult<Json<PointsOut>> {
    Ok(Json(app.points(&ctx, id).await?.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EntryOut {
    pub id: String,
    pub kind: EntryKind,
    /// Signed: credits positive, debits negative.
    pub points: i64,
    pub order_id: Option<String>,
    pub reason: Option<String>,
    pub actor: Option<ActorOut>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub available_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Timestamp>,
}

impl From<Entry> for EntryOut {
    fn from(e: Entry) -> Self {
        EntryOut {
            id: e.id,
            kind: e.kind,
            points: e.points,
            order_id: e.order_id.map(String::from),
            reason: e.reason,
            actor: e.actor.map(|a| ActorOut {
                kind: a.kind.as_str().to_string(),
                id: a.id,
                name: a.name,
            }),
            created_at: e.created_at,
            available_at: e.available_at,
            expires_at: e.expires_at,
        }
    }
}

#[utoipa::path(get, path = "/api/v1/members/{id}/ledger", tag = "points", params(("id" = String, Path), ListQuery),
    responses((status = 200, description = "Newest first", body = List<EntryOut>), (status = 404, body = Problem)),
    security(("api_key" = [])))]
pub async fn get_ledger(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<MemberId>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<List<EntryOut>>> {
    let page = page(query.limit, query.cursor.as_deref())?;
    Ok(Json(List::from_paged(
        app.ledger(&ctx, id, page).await?,
        EntryOut::from,
    )))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentIn {
    /// Points to add (positive) or take (negative).
    #[schema(example = -50)]
    pub points: i64,
    /// Why; kept in the ledger and the activity log.
    #[schema(example = "Khiếu nại đơn HN01-000120")]
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdjustmentOut {
    pub entry: EntryOut,
    pub points: BalancesOut,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BalancesOut {
    pub available: i64,
    pub pending: i64,
    pub debt: i64,
}

#[utoipa::path(post, path = "/api/v1/members/{id}/points/adjustments", tag = "points", params(("id" = String, Path)),
    request_body = AdjustmentIn,
    responses(
        (status = 201, body = AdjustmentOut),
        (status = 409, description = "A debit below zero", body = Problem),
        (status = 422, description = "No reason, or zero points", body = Problem),
    ),
    security(("api_key" = [])))]
pub async fn adjust_points(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<MemberId>,
    ApiJson(input): ApiJson<AdjustmentIn>,
) -> ApiResult<impl IntoResponse> {
    let (entry, member) = app
        .adjust_points(&ctx, id, input.points, input.reason)
        .await?;
    let body = AdjustmentOut {
        entry: entry.into(),
        points: BalancesOut {
            available: member.points_available,
            pending: member.points_pending,
            debt: member.points_debt,
        },
    };
    Ok((StatusCode::CREATED, Json(body)))
}
