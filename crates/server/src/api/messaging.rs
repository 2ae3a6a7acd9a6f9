//! `/api/v1/channels`, `/api/v1/campaigns` and `/api/v1/messages`: the providers a shop sends
//! through, its campaigns, and every message with its status.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use loyalty_app::App;
use loyalty_app::campaign_results::{CampaignReport, MessageFilter, MessageView};
use loyalty_app::campaigns::{CampaignIn, CampaignPatch, CampaignTestIn, CampaignView};
use loyalty_app::channels::{ChannelIn, ChannelPatch, ChannelView, TestIn, TestSend};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::catalog::ListQuery;
use crate::extract::{ApiJson, ApiQuery, Auth};
use crate::paging::{List, page};
use crate::problem::{ApiResult, Problem};

#[utoipa::path(post, path = "/api/v1/channels", tag = "messaging", request_body = ChannelIn,
    responses(
        (status = 201, body = ChannelView),
        (status = 409, description = "The server has no secret key to store the secrets with", body = Problem),
        (status = 422, description = "Unknown type, or a setting or secret missing or wrong (named)", body = Problem),
    ),
    security(("api_key" = [])))]
pub async fn create_channel(
    State(app): State<App>,
    Auth(ctx): Auth,
    ApiJson(input): ApiJson<ChannelIn>,
) -> ApiResult<impl IntoResponse> {
    let channel = app.create_channel(&ctx, input).await?;
    let location = format!("/api/v1/channels/{}", channel.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(channel),
    ))
}

#[utoipa::path(get, path = "/api/v1/channels", tag = "messaging",
    responses((status = 200, body = Vec<ChannelView>)), security(("api_key" = [])))]
pub async fn list_channels(
    State(app): State<App>,
    Auth(ctx): Auth,
) -> ApiResult<Json<Vec<ChannelView>>> {
    Ok(Json(app.channels(&ctx).await?))
}

#[utoipa::path(get, path = "/api/v1/channels/{id}", tag = "messaging", params(("id" = String, Path)),
    responses((status = 200, body = ChannelView), (status = 404, body = Problem)), security(("api_key" = [])))]
pub async fn get_channel(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ChannelView>> {
    Ok(Json(app.channel(&ctx, id).await?))
}

#[utoipa::path(patch, path = "/api/v1/channels/{id}", tag = "messaging", params(("id" = String, Path)),
    request_body = ChannelPatch,
    responses((status = 200, body = ChannelView), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("api_key" = [])))]
pub async fn update_channel(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<ChannelPatch>,
) -> ApiResult<Json<ChannelView>> {
    Ok(Json(app.update_channel(&ctx, id, patch).await?))
}

#[utoipa::path(delete, path = "/api/v1/channels/{id}", tag = "messaging", params(("id" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, body = Problem),
        (status = 409, description = "Messages went through it: switch it off instead", body = Problem)),
    security(("api_key" = [])))]
pub async fn delete_channel(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    app.delete_channel(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/channels/{id}/test", tag = "messaging", params(("id" = String, Path)),
    request_body = TestIn,
    responses((status = 200, description = "Sent now; the provider's answer", body = TestSend),
        (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("api_key" = [])))]
pub async fn test_channel(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<TestIn>,
) -> ApiResult<Json<TestSend>> {
    Ok(Json(app.test_channel(&ctx, id, input).await?))
}

#[utoipa::path(post, path = "/api/v1/campaigns", tag = "messaging", request_body = CampaignIn,
    responses((status = 201, body = CampaignView),
        (status = 422, description = "A field, channel or template is wrong (each template is rendered for a sample member)", body = Problem)),
    security(("api_key" = [])))]
pub async fn create_campaign(
    State(app): State<App>,
    Auth(ctx): Auth,
    ApiJson(input): ApiJson<CampaignIn>,
) -> ApiResult<impl IntoResponse> {
    let campaign = app.create_campaign(&ctx, input).await?;
    let location = format!("/api/v1/campaigns/{}", campaign.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(campaign),
    ))
}

#[utoipa::path(get, path = "/api/v1/campaigns", tag = "messaging", params(ListQuery),
    responses((status = 200, description = "Newest first", body = List<CampaignView>)), security(("api_key" = [])))]
pub async fn list_campaigns(
    State(app): State<App>,
    Auth(ctx): Auth,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<List<CampaignView>>> {
    let page = page(query.limit, query.cursor.as_deref())?;
    Ok(Json(List::from_paged(
        app.campaigns(&ctx, page).await?,
        |c| c,
    )))
}

#[utoipa::path(get, path = "/api/v1/campaigns/{id}", tag = "messaging", params(("id" = String, Path)),
    responses((status = 200, body = CampaignView), (status = 404, body = Problem)), security(("api_key" = [])))]
pub async fn get_campaign(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<CampaignView>> {
    Ok(Json(app.campaign(&ctx, id).await?))
}

#[utoipa::path(patch, path = "/api/v1/campaigns/{id}", tag = "messaging", params(("id" = String, Path)),
    request_body = CampaignPatch,
    responses((status = 200, body = CampaignView), (status = 404, body = Problem),
        (status = 409, description = "Not a draft", body = Problem), (status = 422, body = Problem)),
    security(("api_key" = [])))]
pub async fn update_campaign(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<CampaignPatch>,
) -> ApiResult<Json<CampaignView>> {
    Ok(Json(app.update_campaign(&ctx, id, patch).await?))
}

#[utoipa::path(post, path = "/api/v1/campaigns/{id}/launch", tag = "messaging", params(("id" = String, Path)),
    responses((status = 200, description = "`scheduled` (a send_at ahead) or `sending`", body = CampaignView),
        (status = 404, body = Problem), (status = 409, description = "Not a draft", body = Problem)),
    security(("api_key" = [])))]
pub async fn launch_campaign(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<CampaignView>> {
    Ok(Json(app.launch_campaign(&ctx, id).await?))
}

#[utoipa::path(post, path = "/api/v1/campaigns/{id}/cancel", tag = "messaging", params(("id" = String, Path)),
    responses((status = 200, body = CampaignView), (status = 404, body = Problem),
        (status = 409, description = "Already finished or cancelled", body = Problem)),
    security(("api_key" = [])))]
pub async fn cancel_campaign(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<CampaignView>> {
    Ok(Json(app.cancel_campaign(&ctx, id).await?))
}

#[utoipa::path(post, path = "/api/v1/campaigns/{id}/test", tag = "messaging", params(("id" = String, Path)),
    request_body = CampaignTestIn,
    responses((status = 200, description = "Sent now with a sample member's data, counted nowhere", body = Vec<TestSend>),
        (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("api_key" = [])))]
pub async fn test_campaign(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<CampaignTestIn>,
) -> ApiResult<Json<Vec<TestSend>>> {
    Ok(Json(app.test_campaign(&ctx, id, input).await?))
}

#[utoipa::path(get, path = "/api/v1/campaigns/{id}/report", tag = "messaging", params(("id" = String, Path)),
    responses((status = 200, body = CampaignReport), (status = 404, body = Problem)), security(("api_key" = [])))]
pub async fn campaign_report(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<CampaignReport>> {
    Ok(Json(app.campaign_report(&ctx, id).await?))
}

#[derive(Debug, Deserialize, IntoParams, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessagesQuery {
    pub member_id: Option<String>,
    pub campaign_id: Option<String>,
    pub automation_id: Option<String>,
    /// queued, sent, delivered, failed, suppressed, cancelled
    pub status: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/messages", tag = "messaging", params(MessagesQuery),
    responses((status = 200, description = "Newest first", body = List<MessageView>), (status = 422, body = Problem)),
    security(("api_key" = [])))]
pub async fn list_messages(
    State(app): State<App>,
    Auth(ctx): Auth,
    ApiQuery(query): ApiQuery<MessagesQuery>,
) -> ApiResult<Json<List<MessageView>>> {
    let page = page(query.limit, query.cursor.as_deref())?;
    let filter = MessageFilter {
        member_id: query.member_id,
        campaign_id: query.campaign_id,
        automation_id: query.automation_id,
        status: query.status,
    };
    Ok(Json(List::from_paged(
        app.messages(&ctx, filter, page).await?,
        |m| m,
    )))
}

#[utoipa::path(get, path = "/api/v1/campaigns/{id}/export", tag = "messaging", params(("id" = String, Path)),
    responses((status = 200, description = "The campaign's recipients with their status as CSV (UTF-8 with BOM), streamed", content_type = "text/csv"),
        (status = 404, body = Problem)),
    security(("api_key" = [])))]
pub async fn export_campaign(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> ApiResult<axum::response::Response> {
    let zone = app.campaign_export(&ctx, &id).await?;
    let header = app.campaign_export_header();
    let filename = format!("campaign-{id}.csv");
    Ok(super::segments::stream_csv(
        header,
        filename,
        move |after| {
            let (app, ctx, id, zone) = (app.clone(), ctx.clone(), id.clone(), zone.clone());
            async move { app.campaign_export_page(&ctx, &id, &zone, after).await }
        },
    ))
}
