//! `/api/v1/automations`: journeys that run by themselves (birthday, thank-you, win-back, …).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use loyalty_app::App;
use loyalty_app::automations::{
    AutomationIn, AutomationPatch, AutomationReport, AutomationView, RunView,
};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::extract::{ApiJson, ApiQuery, Auth};
use crate::problem::{ApiResult, Problem};

#[utoipa::path(post, path = "/api/v1/automations", tag = "automations", request_body = AutomationIn,
    responses(
        (status = 201, body = AutomationView),
        (status = 422, description = "A trigger or step out of its bounds, or naming a channel, program or segment that does not exist (named)", body = Problem),
    ),
    security(("api_key" = [])))]
pub async fn create_automation(
    State(app): State<App>,
    Auth(ctx): Auth,
    ApiJson(input): ApiJson<AutomationIn>,
) -> ApiResult<impl IntoResponse> {
    let automation = app.create_automation(&ctx, input).await?;
    let location = format!("/api/v1/automations/{}", automation.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(automation),
    ))
}

#[utoipa::path(get, path = "/api/v1/automations", tag = "automations",
    responses((status = 200, body = Vec<AutomationView>)), security(("api_key" = [])))]
pub async fn list_automations(
    State(app): State<App>,
    Auth(ctx): Auth,
) -> ApiResult<Json<Vec<AutomationView>>> {
    Ok(Json(app.automations(&ctx).await?))
}

#[utoipa::path(get, path = "/api/v1/automations/{id}", tag = "automations", params(("id" = String, Path)),
    responses((status = 200, body = AutomationView), (status = 404, body = Problem)), security(("api_key" = [])))]
pub async fn get_automation(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<AutomationView>> {
    Ok(Json(app.automation(&ctx, id).await?))
}

#[utoipa::path(patch, path = "/api/v1/automations/{id}", tag = "automations", params(("id" = String, Path)),
    request_body = AutomationPatch,
    responses((status = 200, description = "Changed; runs already started keep their steps", body = AutomationView),
        (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("api_key" = [])))]
pub async fn update_automation(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<AutomationPatch>,
) -> ApiResult<Json<AutomationView>> {
    Ok(Json(app.update_automation(&ctx, id, patch).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RunsQuery {
    /// Only this member's runs.
    pub member_id: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/automations/{id}/runs", tag = "automations",
    params(("id" = String, Path), RunsQuery),
    responses((status = 200, description = "The newest 200 runs, each with what its steps did", body = Vec<RunView>),
        (status = 404, body = Problem)),
    security(("api_key" = [])))]
pub async fn automation_runs(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<RunsQuery>,
) -> ApiResult<Json<Vec<RunView>>> {
    Ok(Json(app.automation_runs(&ctx, id, query.member_id).await?))
}

#[utoipa::path(get, path = "/api/v1/automations/{id}/report", tag = "automations", params(("id" = String, Path)),
    responses((status = 200, body = AutomationReport), (status = 404, body = Problem)),
    security(("api_key" = [])))]
pub async fn automation_report(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<AutomationReport>> {
    Ok(Json(app.automation_report(&ctx, id).await?))
}
