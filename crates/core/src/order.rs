//! Orders as they arrive from a POS or a web store, checked before anything is written.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::amount::Money;
use crate::email::Email;
use crate::error::Invalid;
use crate::limits;
use crate::phone::Phone;

pub const MAX_LINES: usize = 500;

/// An order as posted (`POST /api/v1/orders`).
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OrderInput {
    /// The system the order comes from (`pos`, `haravan`, `web`…); with `external_id` it
    /// identifies the order, so a retry is recognised and applied once.
    #[cfg_attr(feature = "openapi", schema(example = "pos"))]
    pub source: String,
    #[cfg_attr(feature = "openapi", schema(example = "HN01-000123"))]
    pub external_id: String,
    /// The member, when the till identified them.
    pub member_id: Option<String>,
    /// Or the customer by phone or e-mail: found, or created as a customer.
    pub customer: Option<CustomerInput>,
    /// Brand code.
    pub brand: Option<String>,
    /// Store code.
    pub store: Option<String>,
    pub channel: Option<String>,
    /// RFC 3339; the time of receipt when absent.
    #[cfg_attr(feature = "openapi", schema(example = "2026-11-20T10:00:00+07:00"))]
    pub placed_at: Option<String>,
    pub currency: Option<String>,
    #[serde(default)]
    pub lines: Vec<LineInput>,
    #[serde(default)]
    pub discount: i64,
    #[serde(default)]
    pub shipping: i64,
    /// What the customer owes: Σ(quantity × unit_price) − discount + shipping.
    pub total: i64,
    #[serde(default)]
    pub vouchers: Vec<String>,
    /// Points paying part of the total (each worth `redeem.point_value`).
    #[serde(default)]
    pub points_redeemed: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CustomerInput {
    pub phone: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LineInput {
    pub sku: Option<String>,
    pub name: Option<String>,
    pub category: Option<String>,
    pub quantity: i64,
    pub unit_price: i64,
}

/// Who the order belongs to.
#[derive(Debug, Clone, PartialEq)]
pub enum Buyer {
    Member(crate::id::MemberId),
    Customer {
        phone: Option<Phone>,
        email: Option<Email>,
        name: Option<String>,
    },
    /// A walk-in guest (khách vãng lai): kept for reports, earns nothing.
    Guest,
}

/// An order line, as checked and as shown.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = LineOut))]
pub struct Line {
    pub sku: Option<String>,
    pub name: Option<String>,
    pub category: Option<String>,
    pub quantity: i64,
    pub unit_price: i64,
}

/// A checked order.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOrder {
    pub source: String,
    pub external_id: String,
    pub buyer: Buyer,
    pub brand: Option<String>,
    pub store: Option<String>,
    pub channel: Option<String>,
    pub placed_at: Timestamp,
    pub lines: Vec<Line>,
    pub subtotal: i64,
    pub discount: i64,
    pub shipping: i64,
    pub total: i64,
    pub vouchers: Vec<String>,
    pub points_redeemed: i64,
}

fn short_text(e: &mut Invalid, field: &str, value: Option<String>, max: usize) -> Option<String> {
    let value = value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())?;
    if value.chars().count() > max {
        let message = format!("must be at most {max} characters");
        e.push_bounded(field, "length", (1, max as i64), message);
    }
    Some(value)
}

impl OrderInput {
    /// Checks the order against the contract; `now` bounds `placed_at` (a day of clock skew
    /// is tolerated).
    pub fn validate(self, now: Timestamp) -> Result<NewOrder, Invalid> {
        let mut e = Invalid::default();
        let source = self.source.trim().to_string();
        if source.is_empty()
            || source.len() > 50
            || !source
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        {
            e.push_bounded(
                "source",
                "source.format",
                (1, 50),
                "must have 1 to 50 letters, digits, '-', '_' or '.'",
            );
        }
        let external_id = self.external_id.trim().to_string();
        if external_id.is_empty() || external_id.chars().count() > 100 {
            e.push_bounded(
                "external_id",
                "length",
                (1, 100),
                "must have 1 to 100 characters",
            );
        }
        let buyer = match (self.member_id, self.customer) {
            (Some(_), Some(_)) => {
                e.push_coded(
                    "customer",
                    "order.buyer_conflict",
                    "give member_id or customer, not both",
                );
                Buyer::Guest
            }
            (Some(id), None) => Buyer::Member(id.into()),
            (None, Some(c)) => {
                let phone = c
                    .phone
                    .filter(|p| !p.trim().is_empty())
                    .and_then(|p| e.check("customer.phone", Phone::parse(&p)));
                let email = c
                    .email
                    .filter(|v| !v.trim().is_empty())
                    .and_then(|v| e.check("customer.email", Email::parse(&v)));
                let name = short_text(&mut e, "customer.name", c.name, 200);
                if phone.is_none() && email.is_none() && e.is_empty() {
                    e.push_coded("customer", "customer.contact_required", "a customer needs a phone or an e-mail; send neither member_id nor customer for a walk-in guest");
                }
                Buyer::Customer { phone, email, name }
            }
            (None, None) => Buyer::Guest,
        };
        let brand = short_text(&mut e, "brand", self.brand, 50);
        let store = short_text(&mut e, "store", self.store, 50);
        let channel = short_text(&mut e, "channel", self.channel, 50);
        let placed_at = match self
            .placed_at
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => now,
            Some(text) => match text.parse::<Timestamp>() {
                Ok(t) if t > now + jiff::SignedDuration::from_hours(24) => {
                    e.push_coded(
                        "placed_at",
                        "placed_at.in_future",
                        "is more than a day in the future",
                    );
                    now
                }
                Ok(t) => t,
                Err(_) => {
                    e.push_coded(
                        "placed_at",
                        "placed_at.format",
                        "must be an RFC 3339 time such as 2026-11-20T10:00:00+07:00",
                    );
                    now
                }
            },
        };
        if let Some(currency) = self
            .currency
            .as_deref()
            .filter(|c| *c != crate::tenancy::DEFAULT_CURRENCY)
        {
            e.push_coded(
                "currency",
                "currency.not_vnd",
                format!("{currency} is not the program's currency (VND)"),
            );
        }
        if self.lines.len() > MAX_LINES {
            e.push_bounded(
                "lines",
                "lines.too_many",
                (0, MAX_LINES as i64),
                format!("at most {MAX_LINES} lines"),
            );
        }
        let mut subtotal = Money::ZERO;
        let mut lines = Vec::with_capacity(self.lines.len());
        for (i, line) in self.lines.into_iter().enumerate() {
            limits::within(
                &mut e,
                &format!("lines[{i}].quantity"),
                line.quantity,
                1,
                limits::MAX_COUNT,
            );
            limits::amount(&mut e, &format!("lines[{i}].unit_price"), line.unit_price);
            let ceiling = Money::new(limits::MAX_AMOUNT);
            match Money::new(line.unit_price)
                .times("a line", line.quantity)
                .ok()
                .filter(|v| (Money::ZERO..=ceiling).contains(v))
                .and_then(|v| subtotal.plus("the lines", v).ok())
                .filter(|sum| *sum <= ceiling)
            {
                Some(sum) => subtotal = sum,
                None => e.push_bounded(
                    format!("lines[{i}].unit_price"),
                    "order.subtotal_too_large",
                    (0, limits::MAX_AMOUNT),
                    format!("the lines add up to more than {}", limits::MAX_AMOUNT),
                ),
            }
            lines.push(Line {
                sku: short_text(&mut e, &format!("lines[{i}].sku"), line.sku, 100),
                name: short_text(&mut e, &format!("lines[{i}].name"), line.name, 200),
                category: short_text(&mut e, &format!("lines[{i}].category"), line.category, 100),
                quantity: line.quantity,
                unit_price: line.unit_price,
            });
        }
        for (field, value) in [
            ("discount", self.discount),
            ("shipping", self.shipping),
            ("total", self.total),
        ] {
            limits::amount(&mut e, field, value);
        }
        limits::points(&mut e, "points_redeemed", self.points_redeemed);
        if e.is_empty() && self.total + self.discount - self.shipping > limits::MAX_AMOUNT {
            e.push_bounded(
                "discount",
                "order.subtotal_too_large",
                (0, limits::MAX_AMOUNT),
                format!(
                    "total + discount − shipping must be at most {}",
                    limits::MAX_AMOUNT
                ),
            );
        }
        let subtotal = subtotal.get();
        if !lines.is_empty() && e.is_empty() {
            // Every term is bounded above, so this cannot overflow.
            let expected = subtotal - self.discount + self.shipping;
            if expected != self.total {
                e.push_coded("total", "order.total_mismatch", format!("must equal the lines ({subtotal}) − discount ({}) + shipping ({}) = {expected}", self.discount, self.shipping));
            }
        }
        let vouchers: Vec<String> = self
            .vouchers
            .iter()
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect();
        if self.points_redeemed > 0 && !matches!(buyer, Buyer::Member(_) | Buyer::Customer { .. }) {
            e.push_coded(
                "points_redeemed",
                "order.guest_cannot_redeem",
                "a walk-in guest has no points to spend",
            );
        }
        e.into_result(|| NewOrder {
            source,
            external_id,
            buyer,
            brand,
            store,
            channel,
            placed_at,
            lines,
            subtotal: if subtotal == 0 {
                self.total + self.discount - self.shipping
            } else {
                subtotal
            },
            discount: self.discount,
            shipping: self.shipping,
            total: self.total,
            vouchers,
            points_redeemed: self.points_redeemed,
        })
    }
}

/// Where an order stands: `paid`, `partially_refunded`, `refunded` or `cancelled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Paid,
    PartiallyRefunded,
    Refunded,
    Cancelled,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 4] = [
        OrderStatus::Paid,
        OrderStatus::PartiallyRefunded,
        OrderStatus::Refunded,
        OrderStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Paid => "paid",
            OrderStatus::PartiallyRefunded => "partially_refunded",
            OrderStatus::Refunded => "refunded",
            OrderStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<OrderStatus> {
        OrderStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// The till's answer to a posted order, stored with the order so a retry gets it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderReceipt {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: crate::id::OrderId,
    pub source: String,
    pub external_id: String,
    /// `paid` when posted.
    pub status: OrderStatus,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub member_id: Option<crate::id::MemberId>,
    pub points: ReceiptPoints,
    /// The member after the order, when there is one.
    pub member: Option<ReceiptMember>,
    /// The vouchers used on the order and what each took off.
    #[serde(default)]
    pub vouchers: Vec<ReceiptVoucher>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReceiptVoucher {
    pub code: String,
    pub redemption_id: String,
    pub discount: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReceiptPoints {
    /// Points this order earned in all (base and bonuses).
    pub earned: i64,
    /// Of those, points waiting out the pending days.
    pub pending: i64,
    /// Points spent on this order.
    pub redeemed: i64,
    /// Which rule gave what: `base`, `tier`, then each bonus rule by name.
    pub breakdown: Vec<BreakdownLine>,
    /// Why the order earned nothing, when the till should tell the customer:
    /// `member_blocked`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BreakdownLine {
    pub rule: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    pub points: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReceiptMember {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: crate::id::MemberId,
    pub status: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub tier: Option<serde_json::Value>,
    pub points: ReceiptBalances,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReceiptBalances {
    pub available: i64,
    pub pending: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: serde_json::Value) -> OrderInput {
        serde_json::from_value(json).unwrap()
    }

    fn now() -> Timestamp {
        "2026-11-20T03:00:00Z".parse().unwrap()
    }

    #[test]
    fn the_contract_example_is_valid() {
        let order = input(serde_json::json!({"source": "pos", "external_id": "HN01-000123", "member_id": "mem_1",
            "brand": "cafe", "store": "HN01", "channel": "pos", "placed_at": "2026-11-20T10:00:00+07:00", "currency": "VND",
            "lines": [{"sku": "CF-001", "name": "Cà phê sữa", "category": "drinks", "quantity": 2, "unit_price": 35000}],
            "discount": 0, "shipping": 0, "total": 70000, "points_redeemed": 0}))
        .validate(now())
        .unwrap();
        assert_eq!(order.buyer, Buyer::Member("mem_1".into()));
        assert_eq!(order.placed_at, now());
        assert_eq!(order.subtotal, 70_000);
    }

    #[test]
    fn totals_must_add_up_and_mistakes_name_their_fields() {
        let wrong = input(
            serde_json::json!({"source": "pos", "external_id": "1", "total": 60000,
            "lines": [{"quantity": 2, "unit_price": 35000}]}),
        );
        assert_eq!(wrong.validate(now()).unwrap_err().0[0].field, "total");
        let many = input(
            serde_json::json!({"source": "p o s", "external_id": "", "total": -1, "placed_at": "yesterday",
            "customer": {"phone": "123"}, "lines": [{"quantity": 0, "unit_price": 1}]}),
        );
        let fields: Vec<String> = many
            .validate(now())
            .unwrap_err()
            .0
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "source",
                "external_id",
                "customer.phone",
                "placed_at",
                "lines[0].quantity",
                "total"
            ]
        );
    }

    #[test]
    fn an_order_with_nobody_is_a_guest_order() {
        let guest = input(serde_json::json!({"source": "pos", "external_id": "9", "total": 50000}))
            .validate(now())
            .unwrap();
        assert_eq!(guest.buyer, Buyer::Guest);
    }
}
