//! `/api/v1/imports`: member CSV files, imported in the background and followed by id.

use std::io::{Seek, SeekFrom, Write};

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use futures_util::StreamExt;
use jiff::Timestamp;
use loyalty_app::history::HistoryKind;
use loyalty_app::{App, AppError};
use loyalty_core::records::ImportJob;
use serde::Serialize;
use utoipa::ToSchema;

use crate::extract::Auth;
use crate::problem::{ApiError, ApiResult, Problem};

/// The largest file the API takes: about four million members. Bigger lists go through
/// `loyalty import members`, which reads the file where it lies.
pub const MAX_IMPORT_BYTES: usize = 512 * 1024 * 1024;

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportOut {
    pub id: String,
    #[schema(example = "members")]
    pub kind: String,
    /// `running`, `done`, or `failed` (the file could not be read to the end; see `message`).
    #[schema(example = "done")]
    pub status: String,
    /// Data rows read so far.
    pub total: i64,
    pub imported: i64,
    pub failed: i64,
    /// The first 1,000 problems; `row` counts as a spreadsheet does (the header is row 1).
    pub errors: Vec<RowErrorOut>,
    pub message: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub finished_at: Option<Timestamp>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RowErrorOut {
    #[schema(example = 5)]
    pub row: u64,
    #[schema(example = "phone")]
    pub field: String,
    pub message: String,
}

impl From<ImportJob> for ImportOut {
    fn from(j: ImportJob) -> Self {
        ImportOut {
            id: j.id,
            kind: j.kind,
            status: j.status,
            total: j.total,
            imported: j.imported,
            failed: j.failed,
            errors: j
                .errors
                .into_iter()
                .map(|e| RowErrorOut {
                    row: e.row,
                    field: e.field,
                    message: e.message,
                })
                .collect(),
            message: j.message,
            created_at: j.created_at,
            finished_at: j.finished_at,
        }
    }
}

/// CSV as browsers and spreadsheets label it (Windows sends Excel's type for `.csv` files).
fn is_csv(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .is_some_and(|mime| {
            matches!(
                mime.as_str(),
                "text/csv" | "application/csv" | "text/plain" | "application/vnd.ms-excel"
            )
        })
}

#[utoipa::path(post, path = "/api/v1/imports/members", tag = "imports",
    request_body(content = String, content_type = "text/csv",
        description = "UTF-8 (with or without BOM), a header row, columns `phone,email,name,gender,birthday,province,district,tags,points,lifetime_spend,tier,member_since,external_id` in any order and subset (phone or email required)"),
    responses((status = 202, description = "The import runs; follow it at `Location`", body = ImportOut),
        (status = 413, body = Problem), (status = 415, body = Problem),
        (status = 422, description = "The file is not UTF-8 CSV or its header names an unknown column; nothing was written", body = Problem)),
    security(("api_key" = [])))]
pub async fn import_members(
    State(app): State<App>,
    Auth(ctx): Auth,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<impl IntoResponse> {
    ctx.require(loyalty_core::tenancy::Access::Admin)?;
    if !is_csv(&headers) {
        return Err(ApiError::NotCsv);
    }
    let file = spool(body).await?;
    let job = app.start_member_import(&ctx, Box::new(file)).await?;
    let location = format!("/api/v1/imports/{}", job.id);
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(ImportOut::from(job)),
    ))
}

/// `?earn=true` on an orders import: the orders earn points and move tiers as if posted then.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OrdersImportQuery {
    /// Off by default: imported orders are history only.
    pub earn: Option<bool>,
}

#[utoipa::path(post, path = "/api/v1/imports/orders", tag = "imports",
    params(OrdersImportQuery),
    request_body(content = String, content_type = "text/csv",
        description = "One row per order line, an order's rows together: `order_id,placed_at,phone,email,store,brand,channel,sku,name,category,quantity,unit_price,discount,shipping,total` (order cells read from its first row; `total` may be blank)"),
    responses((status = 202, description = "The import runs; follow it at `Location`", body = ImportOut),
        (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)),
    security(("api_key" = [])))]
pub async fn import_orders(
    State(app): State<App>,
    Auth(ctx): Auth,
    crate::extract::ApiQuery(query): crate::extract::ApiQuery<OrdersImportQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<impl IntoResponse> {
    let earn = query.earn.unwrap_or(false);
    start_history(app, ctx, HistoryKind::Orders { earn }, headers, body).await
}

#[utoipa::path(post, path = "/api/v1/imports/products", tag = "imports",
    request_body(content = String, content_type = "text/csv",
        description = "`sku,name,category,brand,price`, one product per row"),
    responses((status = 202, description = "The import runs; follow it at `Location`", body = ImportOut),
        (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)),
    security(("api_key" = [])))]
pub async fn import_products(
    State(app): State<App>,
    Auth(ctx): Auth,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<impl IntoResponse> {
    start_history(app, ctx, HistoryKind::Products, headers, body).await
}

async fn start_history(
    app: App,
    ctx: loyalty_app::Ctx,
    kind: HistoryKind,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<impl IntoResponse> {
    ctx.require(loyalty_core::tenancy::Access::Admin)?;
    if !is_csv(&headers) {
        return Err(ApiError::NotCsv);
    }
    let file = spool(body).await?;
    let job = app.start_history_import(&ctx, kind, Box::new(file)).await?;
    let location = format!("/api/v1/imports/{}", job.id);
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(ImportOut::from(job)),
    ))
}

/// Writes the body to an unnamed temporary file, so that a large upload is read from disk by
/// the importer rather than held in memory.
async fn spool(body: Body) -> ApiResult<std::fs::File> {
    let internal = |e: std::io::Error| ApiError::App(AppError::Internal(e.into()));
    let mut file = tempfile::tempfile().map_err(internal)?;
    let mut stream = body.into_data_stream();
    let mut size = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::App(AppError::invalid(
                "file",
                "file.unreadable",
                format!("the upload broke off: {e}"),
            ))
        })?;
        size += chunk.len();
        if size > MAX_IMPORT_BYTES {
            return Err(ApiError::TooLarge(MAX_IMPORT_BYTES));
        }
        file.write_all(&chunk).map_err(internal)?;
    }
    file.seek(SeekFrom::Start(0)).map_err(internal)?;
    Ok(file)
}

#[utoipa::path(get, path = "/api/v1/imports/{id}", tag = "imports", params(("id" = String, Path)),
    responses((status = 200, description = "Progress while running; the counts and row errors when done", body = ImportOut),
        (status = 404, body = Problem)),
    security(("api_key" = [])))]
pub async fn get_import(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ImportOut>> {
    Ok(Json(app.import_job(&ctx, id).await?.into()))
}
