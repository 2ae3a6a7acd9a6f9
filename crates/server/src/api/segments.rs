//! `/api/v1/segments`: condition trees over members, their live count, members, CSV export and
//! report.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::{SignedDuration, Timestamp};
use loyalty_app::segments::{SegmentInput, SegmentReport};
use loyalty_app::{App, Ctx};
use loyalty_core::Invalid;
use loyalty_core::records::SavedSegment;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::members::MemberOut;
use super::orders::instant;
use crate::extract::{ApiJson, ApiQuery, Auth, nullable};
use crate::paging::{List, page};
use crate::problem::{ApiResult, Problem};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewIn {
    /// `all` / `any` / `not` over `{"field", "op", "value"}` conditions and the behaviour blocks
    /// `purchased`, `not_purchased`, `used_voucher`.
    #[schema(value_type = Object, example = json!({"all": [{"field": "member.province", "op": "=", "value": "Hà Nội"}, {"field": "member.tier", "op": "in", "value": ["Vàng", "Bạch Kim"]}, {"purchased": {"from": "2026-10-01", "to": "2026-11-01", "category": "bánh"}}, {"not_purchased": {"from": "2026-11-01"}}]}))]
    pub conditions: Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewOut {
    pub count: i64,
    /// The first 20 members (by id).
    pub sample: Vec<MemberOut>,
}

#[utoipa::path(post, path = "/api/v1/segments/preview", tag = "segments", request_body = PreviewIn,
    responses((status = 200, description = "How many members the tree selects, with a sample; nothing is written", body = PreviewOut),
        (status = 422, description = "The tree is not valid; `errors[].field` is its path, e.g. `conditions.all[2].op`", body = Problem)),
    security(("api_key" = [])))]
pub async fn preview_segment(
    State(app): State<App>,
    Auth(ctx): Auth,
    ApiJson(input): ApiJson<PreviewIn>,
) -> ApiResult<Json<PreviewOut>> {
    let preview = app.preview_segment(&ctx, input.conditions).await?;
    Ok(Json(PreviewOut {
        count: preview.count,
        sample: preview
            .sample
            .into_iter()
            .map(|v| MemberOut::from_view(v, None))
            .collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentIn {
    #[schema(example = "Khách Hà Nội mua bánh tháng 10")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    #[schema(value_type = Object, example = json!({"all": [{"field": "member.province", "op": "=", "value": "Hà Nội"}, {"field": "member.tier", "op": "in", "value": ["Vàng", "Bạch Kim"]}, {"purchased": {"from": "2026-10-01", "to": "2026-11-01", "category": "bánh"}}, {"not_purchased": {"from": "2026-11-01"}}]}))]
    pub conditions: Option<Value>,
}

impl From<SegmentIn> for SegmentInput {
    fn from(s: SegmentIn) -> Self {
        SegmentInput {
            name: s.name,
            description: s.description,
            conditions: s.conditions,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SegmentOut {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    #[schema(value_type = Object)]
    pub conditions: Value,
    /// Members it selects now (absent in lists, where counting every segment would be slow).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

impl SegmentOut {
    fn new(s: SavedSegment, count: Option<i64>) -> SegmentOut {
        SegmentOut {
            id: s.id,
            name: s.name,
            description: s.description,
            conditions: s.conditions,
            count,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SegmentList {
    pub items: Vec<SegmentOut>,
}

#[utoipa::path(get, path = "/api/v1/segments", tag = "segments",
    responses((status = 200, body = SegmentList)), security(("api_key" = [])))]
pub async fn list_segments(
    State(app): State<App>,
    Auth(ctx): Auth,
) -> ApiResult<Json<SegmentList>> {
    let items = app
        .segments(&ctx)
        .await?
        .into_iter()
        .map(|s| SegmentOut::new(s, None))
        .collect();
    Ok(Json(SegmentList { items }))
}

#[utoipa::path(post, path = "/api/v1/segments", tag = "segments", request_body = SegmentIn,
    responses((status = 201, body = SegmentOut), (status = 422, body = Problem)), security(("api_key" = [])))]
pub async fn create_segment(
    State(app): State<App>,
    Auth(ctx): Auth,
    ApiJson(input): ApiJson<SegmentIn>,
) -> ApiResult<impl IntoResponse> {
    let (segment, count) = app.create_segment(&ctx, input.into()).await?;
    let location = format!("/api/v1/segments/{}", segment.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(SegmentOut::new(segment, Some(count))),
    ))
}

#[utoipa::path(get, path = "/api/v1/segments/{id}", tag = "segments", params(("id" = String, Path)),
    responses((status = 200, description = "The segment with its member count as of now", body = SegmentOut), (status = 404, body = Problem)),
    security(("api_key" = [])))]
pub async fn get_segment(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<SegmentOut>> {
    let (segment, count) = app.segment(&ctx, id).await?;
    Ok(Json(SegmentOut::new(segment, Some(count))))
}

#[utoipa::path(patch, path = "/api/v1/segments/{id}", tag = "segments", params(("id" = String, Path)),
    request_body = SegmentIn,
    responses((status = 200, body = SegmentOut), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("api_key" = [])))]
pub async fn update_segment(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<SegmentIn>,
) -> ApiResult<Json<SegmentOut>> {
    let (segment, count) = app.update_segment(&ctx, id, input.into()).await?;
    Ok(Json(SegmentOut::new(segment, Some(count))))
}

#[utoipa::path(delete, path = "/api/v1/segments/{id}", tag = "segments", params(("id" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, body = Problem)), security(("api_key" = [])))]
pub async fn delete_segment(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    app.delete_segment(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/segments/{id}/members", tag = "segments",
    params(("id" = String, Path), PageQuery),
    responses((status = 200, description = "The segment's members now, by id", body = List<MemberOut>), (status = 404, body = Problem)),
    security(("api_key" = [])))]
pub async fn segment_members(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<List<MemberOut>>> {
    let page = page(query.limit, query.cursor.as_deref())?;
    let members = app.segment_members(&ctx, id, page).await?;
    let next_cursor = members.next_after.as_deref().map(crate::paging::cursor);
    let views = app.member_views(&ctx, members.items, None).await?;
    Ok(Json(List {
        items: views
            .into_iter()
            .map(|v| MemberOut::from_view(v, None))
            .collect(),
        next_cursor,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// Start of the period (RFC 3339); 30 days before `to` when absent.
    pub from: Option<String>,
    /// End of the period; now when absent.
    pub to: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/segments/{id}/report", tag = "segments",
    params(("id" = String, Path), ReportQuery),
    responses((status = 200, description = "Size, share of all members, revenue, average order value and repeat-purchase rate in the period", body = SegmentReport),
        (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("api_key" = [])))]
pub async fn segment_report(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<ReportQuery>,
) -> ApiResult<Json<SegmentReport>> {
    let mut errors = Invalid::default();
    let from = instant(&mut errors, "from", &query.from);
    let to = instant(&mut errors, "to", &query.to);
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let to = to.unwrap_or_else(|| app.now());
    let from = from.unwrap_or_else(|| to - SignedDuration::from_hours(24 * 30));
    Ok(Json(app.segment_report(&ctx, id, from, to).await?))
}

#[utoipa::path(get, path = "/api/v1/segments/{id}/export", tag = "segments", params(("id" = String, Path)),
    responses((status = 200, description = "The segment's members as CSV in the import's columns (UTF-8 with BOM), streamed", content_type = "text/csv"),
        (status = 404, body = Problem)),
    security(("api_key" = [])))]
pub async fn export_segment(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    csv_export(app, ctx, Some(id), "segment").await
}

#[utoipa::path(get, path = "/api/v1/members/export", tag = "members",
    responses((status = 200, description = "Every member as CSV in the import's columns (UTF-8 with BOM), streamed", content_type = "text/csv")),
    security(("api_key" = [])))]
pub async fn export_members(State(app): State<App>, Auth(ctx): Auth) -> ApiResult<Response> {
    csv_export(app, ctx, None, "members").await
}

/// Streams a member export (all members, or a saved segment's).
pub(crate) async fn csv_export(
    app: App,
    ctx: Ctx,
    segment_id: Option<String>,
    name: &str,
) -> ApiResult<Response> {
    let export = app.member_export(&ctx, segment_id).await?;
    let header = app.member_export_header();
    let filename = format!("{name}-{}.csv", app.now().strftime("%Y%m%d"));
    Ok(stream_csv(header, filename, move |after| {
        let (app, ctx, export) = (app.clone(), ctx.clone(), export.clone());
        async move { app.member_export_page(&ctx, &export, after).await }
    }))
}

/// Streams an export page by page (`next_page` after the row id given, from the start with
/// `None`): memory stays at one page whatever the row count. An error after the first byte
/// can only end the stream early, so it is logged.
pub(crate) fn stream_csv<F, Fut>(header: Vec<u8>, filename: String, next_page: F) -> Response
where
    F: Fn(Option<String>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = loyalty_app::AppResult<loyalty_app::exports::ExportPage>>
        + Send
        + 'static,
{
    let next_page = std::sync::Arc::new(next_page);
    // State: the header still to send, then the page to fetch next (`None` once done).
    let state = Some((Some(header), None::<String>));
    let stream = futures_util::stream::unfold(state, move |state| {
        let next_page = next_page.clone();
        async move {
            let (header, after) = state?;
            if let Some(header) = header {
                return Some((Ok(header), Some((None, after))));
            }
            match next_page(after).await {
                Ok(page) => {
                    let next = page.next_after.map(|after| (None, Some(after)));
                    Some((Ok::<_, std::io::Error>(page.csv), next))
                }
                Err(e) => {
                    tracing::error!(error = %e, "export stopped");
                    Some((Err(std::io::Error::other(e.to_string())), None))
                }
            }
        }
    });
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}
