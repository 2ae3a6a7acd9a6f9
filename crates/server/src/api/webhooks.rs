//! `/api/v1/webhooks`: outbound webhook endpoints, their deliveries, replay and a test ping.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use loyalty_app::App;
use loyalty_app::webhooks::{DeliveryView, WebhookView};
use loyalty_core::webhook::{WebhookIn, WebhookPatchIn};
use serde::Serialize;
use utoipa::ToSchema;

use super::catalog::ListQuery;
use crate::extract::{ApiJson, ApiQuery, Auth};
use crate::paging::{List, page};
use crate::problem::{ApiResult, Problem};

/// A new endpoint, with its signing secret: shown only here.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhookOut {
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// `whsec_…`: the key of the `Loyalty-Signature` HMAC. Keep it; it is not shown again.
    pub secret: String,
}

#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", request_body = WebhookIn,
    responses(
        (status = 201, body = CreatedWebhookOut),
        (status = 409, description = "The server has no secret key to store the signing secret with", body = Problem),
        (status = 422, description = "Invalid field, or a loopback or private address without --allow-private-webhooks", body = Problem),
    ),
    security(("api_key" = [])))]
pub async fn create_webhook(
    State(app): State<App>,
    Auth(ctx): Auth,
    ApiJson(input): ApiJson<WebhookIn>,
) -> ApiResult<impl IntoResponse> {
    let (webhook, secret) = app.create_webhook(&ctx, input).await?;
    let location = format!("/api/v1/webhooks/{}", webhook.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        // Shown once: a retry with the same Idempotency-Key is not shown it again.
        axum::Extension(crate::idempotency::HoldsSecret),
        Json(CreatedWebhookOut { webhook, secret }),
    ))
}

#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks", params(ListQuery),
    responses((status = 200, body = List<WebhookView>)), security(("api_key" = [])))]
pub async fn list_webhooks(
    State(app): State<App>,
    Auth(ctx): Auth,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<List<WebhookView>>> {
    let page = page(query.limit, query.cursor.as_deref())?;
    Ok(Json(List::from_paged(
        app.webhooks(&ctx, page).await?,
        |w| w,
    )))
}

#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 200, body = WebhookView), (status = 404, body = Problem)), security(("api_key" = [])))]
pub async fn get_webhook(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookView>> {
    Ok(Json(app.webhook(&ctx, id).await?))
}

#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = String, Path)),
    request_body = WebhookPatchIn,
    responses((status = 200, body = WebhookView), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("api_key" = [])))]
pub async fn update_webhook(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<WebhookPatchIn>,
) -> ApiResult<Json<WebhookView>> {
    Ok(Json(app.update_webhook(&ctx, id, patch).await?))
}

#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 204, description = "Deleted, with its delivery log"), (status = 404, body = Problem)),
    security(("api_key" = [])))]
pub async fn delete_webhook(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    app.delete_webhook(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/webhooks/{id}/test", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 202, description = "A `ping` is queued and sent at once, tried once; its delivery shows how it went", body = DeliveryView), (status = 404, body = Problem)),
    security(("api_key" = [])))]
pub async fn test_webhook(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<DeliveryView>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(app.ping_webhook(&ctx, id).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = String, Path), ListQuery),
    responses((status = 200, description = "Newest first", body = List<DeliveryView>), (status = 404, body = Problem)),
    security(("api_key" = [])))]
pub async fn list_deliveries(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<List<DeliveryView>>> {
    let page = page(query.limit, query.cursor.as_deref())?;
    Ok(Json(List::from_paged(
        app.webhook_deliveries(&ctx, id, page).await?,
        |d| d,
    )))
}

#[utoipa::path(post, path = "/api/v1/webhooks/{id}/deliveries/{delivery_id}/replay", tag = "webhooks",
    params(("id" = String, Path), ("delivery_id" = String, Path)),
    responses((status = 200, description = "Queued to be sent again from its first attempt", body = DeliveryView), (status = 404, body = Problem)),
    security(("api_key" = [])))]
pub async fn replay_delivery(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path((id, delivery_id)): Path<(String, String)>,
) -> ApiResult<Json<DeliveryView>> {
    Ok(Json(app.replay_delivery(&ctx, id, delivery_id).await?))
}
