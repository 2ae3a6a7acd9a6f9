//! An order as the API shows it and as its events carry it: the order, its lines and refunds,
//! and what it did to points. One shape for both, so a webhook consumer and a client reading
//! `GET /orders/{id}` parse the same object.

use jiff::Timestamp;
use serde::Serialize;

use crate::order::{BreakdownLine, Line, OrderStatus};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = OrderOut))]
pub struct OrderView {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: crate::id::OrderId,
    pub source: String,
    pub external_id: String,
    pub status: OrderStatus,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub member_id: Option<crate::id::MemberId>,
    pub brand: Option<String>,
    pub store: Option<String>,
    pub channel: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub placed_at: Timestamp,
    pub currency: String,
    pub lines: Vec<Line>,
    pub subtotal: i64,
    pub discount: i64,
    pub shipping: i64,
    pub total: i64,
    pub refunded_amount: i64,
    pub points: OrderPointsView,
    pub refunds: Vec<RefundView>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = OrderPointsOut))]
pub struct OrderPointsView {
    /// Points the order earned when posted (base and bonuses).
    pub earned: i64,
    /// Of those, points taken back by cancel and refunds.
    pub reversed: i64,
    /// Points spent on the order.
    pub redeemed: i64,
    /// Of those, points given back by a cancel or a full refund.
    pub returned: i64,
    /// The `member.index` rules saw: 1 for the member's first paid order.
    pub member_index: Option<i64>,
    pub breakdown: Vec<BreakdownLine>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = RefundOut))]
pub struct RefundView {
    pub external_id: String,
    pub amount: i64,
    pub points_reversed: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
}
