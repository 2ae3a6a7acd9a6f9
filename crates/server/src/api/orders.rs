//! `/api/v1/orders`: the earning path, cancel and refunds.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use jiff::Timestamp;
use loyalty_app::App;
use loyalty_app::quote::Quote;
use loyalty_core::Invalid;
use loyalty_core::id::OrderId;
use loyalty_core::order::{OrderInput, OrderReceipt, OrderStatus};
use loyalty_core::records::OrderFilter;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::extract::{ApiJson, ApiQuery, Auth};
use crate::paging::{List, page};
use crate::problem::{ApiResult, Problem};

pub use loyalty_core::order_view::OrderView as OrderOut;

/// An order in a list: the order itself without its lines and refunds.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderSummaryOut {
    pub id: String,
    pub source: String,
    pub external_id: String,
    pub status: OrderStatus,
    pub member_id: Option<String>,
    pub store: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub placed_at: Timestamp,
    pub total: i64,
    pub refunded_amount: i64,
    pub points_earned: i64,
    pub points_reversed: i64,
    pub points_redeemed: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundIn {
    /// The refund's id in the POS: the same id again changes nothing.
    #[schema(example = "R1")]
    pub external_id: String,
    /// Money refunded by this refund (refunds add up).
    #[schema(example = 35000)]
    pub amount: i64,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OrderQuery {
    pub source: Option<String>,
    pub external_id: Option<String>,
    pub member_id: Option<String>,
    /// Store code.
    pub store: Option<String>,
    /// `paid`, `partially_refunded`, `refunded` or `cancelled`.
    pub status: Option<String>,
    /// Placed at or after (RFC 3339).
    pub from: Option<String>,
    /// Placed before (RFC 3339).
    pub to: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

pub(crate) fn instant(
    errors: &mut Invalid,
    field: &str,
    value: &Option<String>,
) -> Option<Timestamp> {
    let value = value.as_deref().filter(|v| !v.is_empty())?;
    match value.parse::<Timestamp>() {
        Ok(t) => Some(t),
        Err(_) => {
            errors.push_coded(
                field,
                "timestamp.format",
                "must be an RFC 3339 instant such as 2026-11-25T10:00:00+07:00",
            );
            None
        }
    }
}

#[utoipa::path(post, path = "/api/v1/orders", tag = "orders",
    request_body = OrderInput,
    responses(
        (status = 201, description = "Recorded; points earned", body = OrderReceipt),
        (status = 200, description = "The same source and external_id were posted before: the first answer, nothing applied again", body = OrderReceipt),
        (status = 409, description = "Not enough points", body = Problem),
        (status = 422, description = "Invalid field", body = Problem),
    ),
    security(("api_key" = [])))]
pub async fn post_order(
    State(app): State<App>,
    Auth(ctx): Auth,
    ApiJson(input): ApiJson<OrderInput>,
) -> ApiResult<impl IntoResponse> {
    let posted = app.post_order(&ctx, input).await?;
    let status = if posted.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let location = format!("/api/v1/orders/{}", posted.receipt.id);
    Ok((status, [(header::LOCATION, location)], Json(posted.receipt)))
}

/// What a basket costs and earns before the till charges: the same decisions as posting it,
/// nothing written.
#[utoipa::path(post, path = "/api/v1/orders/quote", tag = "orders",
    request_body(content = OrderInput, description = "The order as it would be posted, with `lines` and `total` the basket before the tier discount, vouchers and points"),
    responses(
        (status = 200, description = "The quote: discounts, the most points payable, what the order would earn", body = Quote),
        (status = 409, description = "Not enough points for `points_redeemed`", body = Problem),
        (status = 422, description = "Invalid field, or more points than the invoice allows", body = Problem),
    ),
    security(("api_key" = [])))]
pub async fn quote_order(
    State(app): State<App>,
    Auth(ctx): Auth,
    ApiJson(input): ApiJson<OrderInput>,
) -> ApiResult<Json<Quote>> {
    Ok(Json(app.quote_order(&ctx, input).await?))
}

#[utoipa::path(get, path = "/api/v1/orders", tag = "orders", params(OrderQuery),
    responses((status = 200, body = List<OrderSummaryOut>)), security(("api_key" = [])))]
pub async fn list_orders(
    State(app): State<App>,
    Auth(ctx): Auth,
    ApiQuery(query): ApiQuery<OrderQuery>,
) -> ApiResult<Json<List<OrderSummaryOut>>> {
    let mut errors = Invalid::default();
    let from = instant(&mut errors, "from", &query.from);
    let to = instant(&mut errors, "to", &query.to);
    let status = match query.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(text) => {
            let parsed = OrderStatus::parse(text);
            if parsed.is_none() {
                errors.push_coded(
                    "status",
                    "order.status_unknown",
                    "must be paid, partially_refunded, refunded or cancelled",
                );
            }
            parsed
        }
    };
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let page = page(query.limit, query.cursor.as_deref())?;
    let filter = OrderFilter {
        source: query.source,
        external_id: query.external_id,
        member_id: query.member_id,
        store: query.store,
        status,
        from,
        to,
        newest_first: false,
    };
    let orders = app.orders(&ctx, filter, page).await?;
    Ok(Json(List::from_paged(orders, |o| OrderSummaryOut {
        id: o.id.to_string(),
        source: o.source,
        external_id: o.external_id,
        status: o.status,
        member_id: o.member_id.map(String::from),
        store: o.store,
        placed_at: o.placed_at,
        total: o.total,
        refunded_amount: o.refunded_amount,
        points_earned: o.points_earned,
        points_reversed: o.points_reversed,
        points_redeemed: o.points_redeemed,
    })))
}

#[utoipa::path(get, path = "/api/v1/orders/{id}", tag = "orders", params(("id" = String, Path)),
    responses((status = 200, body = OrderOut), (status = 404, body = Problem)), security(("api_key" = [])))]
pub async fn get_order(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<OrderId>,
) -> ApiResult<Json<OrderOut>> {
    Ok(Json(app.order(&ctx, id).await?))
}

#[utoipa::path(post, path = "/api/v1/orders/{id}/cancel", tag = "orders", params(("id" = String, Path)),
    responses(
        (status = 200, description = "Cancelled: points earned reversed, points spent given back", body = OrderOut),
        (status = 404, body = Problem),
        (status = 409, description = "Already cancelled", body = Problem),
    ),
    security(("api_key" = [])))]
pub async fn cancel_order(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<OrderId>,
) -> ApiResult<Json<OrderOut>> {
    Ok(Json(app.cancel_order(&ctx, id).await?))
}

#[utoipa::path(post, path = "/api/v1/orders/{id}/refunds", tag = "orders", params(("id" = String, Path)),
    request_body = RefundIn,
    responses(
        (status = 200, description = "Refund recorded (or recorded before under this external_id)", body = OrderOut),
        (status = 404, body = Problem),
        (status = 409, description = "More than was paid, or the order is cancelled", body = Problem),
    ),
    security(("api_key" = [])))]
pub async fn refund_order(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<OrderId>,
    ApiJson(input): ApiJson<RefundIn>,
) -> ApiResult<Json<OrderOut>> {
    Ok(Json(
        app.refund_order(&ctx, id, input.external_id, input.amount)
            .await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/orders/export", tag = "orders",
    responses((status = 200, description = "Every order but the cancelled ones, one row per line, in the orders import's columns (UTF-8 with BOM), streamed", content_type = "text/csv")),
    security(("api_key" = [])))]
pub async fn export_orders(
    State(app): State<App>,
    crate::extract::Auth(ctx): crate::extract::Auth,
) -> crate::problem::ApiResult<axum::response::Response> {
    let zone = app.order_export(&ctx).await?;
    let header = app.order_export_header();
    let filename = format!("orders-{}.csv", app.now().strftime("%Y%m%d"));
    Ok(super::segments::stream_csv(
        header,
        filename,
        move |after| {
            let (app, ctx, zone) = (app.clone(), ctx.clone(), zone.clone());
            async move { app.order_export_page(&ctx, &zone, after).await }
        },
    ))
}
