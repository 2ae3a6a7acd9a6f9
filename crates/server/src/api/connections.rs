//! `/api/v1/connections`: web-store and POS connections and what came in on them.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use loyalty_app::App;
use loyalty_app::connections::{ConnectionView, InboundView};
use loyalty_connect::connection::{ConnectionIn, ConnectionPatchIn};

use super::catalog::ListQuery;
use crate::extract::{ApiJson, ApiQuery, Auth};
use crate::paging::{List, page};
use crate::problem::{ApiResult, Problem};

#[utoipa::path(post, path = "/api/v1/connections", tag = "connections", request_body = ConnectionIn,
    responses(
        (status = 201, description = "Paste `webhook_url` into the platform's webhook settings", body = ConnectionView),
        (status = 409, description = "The server has no secret key to store the platform's secret with", body = Problem),
        (status = 422, body = Problem),
    ),
    security(("api_key" = [])))]
pub async fn create_connection(
    State(app): State<App>,
    Auth(ctx): Auth,
    ApiJson(input): ApiJson<ConnectionIn>,
) -> ApiResult<impl IntoResponse> {
    let connection = app.create_connection(&ctx, input).await?;
    let location = format!("/api/v1/connections/{}", connection.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(connection),
    ))
}

#[utoipa::path(get, path = "/api/v1/connections", tag = "connections", params(ListQuery),
    responses((status = 200, body = List<ConnectionView>)), security(("api_key" = [])))]
pub async fn list_connections(
    State(app): State<App>,
    Auth(ctx): Auth,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<List<ConnectionView>>> {
    let page = page(query.limit, query.cursor.as_deref())?;
    Ok(Json(List::from_paged(
        app.connections(&ctx, page).await?,
        |c| c,
    )))
}

#[utoipa::path(get, path = "/api/v1/connections/{id}", tag = "connections", params(("id" = String, Path)),
    responses((status = 200, body = ConnectionView), (status = 404, body = Problem)), security(("api_key" = [])))]
pub async fn get_connection(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ConnectionView>> {
    Ok(Json(app.connection(&ctx, id).await?))
}

#[utoipa::path(patch, path = "/api/v1/connections/{id}", tag = "connections", params(("id" = String, Path)),
    request_body = ConnectionPatchIn,
    responses((status = 200, body = ConnectionView), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("api_key" = [])))]
pub async fn update_connection(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<ConnectionPatchIn>,
) -> ApiResult<Json<ConnectionView>> {
    Ok(Json(app.update_connection(&ctx, id, patch).await?))
}

#[utoipa::path(delete, path = "/api/v1/connections/{id}", tag = "connections", params(("id" = String, Path)),
    responses((status = 204, description = "Deleted, with its delivery log"), (status = 404, body = Problem)),
    security(("api_key" = [])))]
pub async fn delete_connection(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    app.delete_connection(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/connections/{id}/deliveries", tag = "connections",
    params(("id" = String, Path), ListQuery),
    responses((status = 200, description = "What came in, newest first", body = List<InboundView>), (status = 404, body = Problem)),
    security(("api_key" = [])))]
pub async fn list_inbound(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<List<InboundView>>> {
    let page = page(query.limit, query.cursor.as_deref())?;
    Ok(Json(List::from_paged(
        app.connection_deliveries(&ctx, id, page).await?,
        |d| d,
    )))
}
