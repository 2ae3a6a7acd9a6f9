//! The platforms a shop sells on — Haravan, Shopify and Sapo web stores, the KiotViet POS — as
//! they talk to us: the signature on each webhook, the payloads they send, and what those mean
//! for our orders and members.
//!
//! Pure: bytes and headers in, [`Message`]s and a [`sync::plan`] out. The app does the I/O
//! (finds the connection, opens its secret, applies the plan).

mod amount;
pub mod connection;
mod kiotviet;
mod platform;
mod shopify;
pub mod sync;

pub use platform::Platform;

use loyalty_core::order::{CustomerInput, LineInput, OrderInput};

/// What one webhook said, in our terms.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// The order as the platform sees it now (created, updated, paid, cancelled…).
    Order(Box<OrderSnapshot>),
    /// A refund of an order (Shopify's `refunds/create`).
    Refund {
        order_id: String,
        refund: RefundNote,
    },
    /// A customer created or changed on the platform.
    Customer(Customer),
    /// A topic we do not act on: received, logged, nothing done.
    Ignored { topic: String },
}

/// Where an order stands on the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payment {
    /// Not paid yet (pending, authorised, partially paid, voided): it earns nothing yet.
    Unpaid,
    /// Paid (also when later partly or fully refunded).
    Paid,
    Cancelled,
}

/// An order as one webhook described it.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderSnapshot {
    /// The platform's order id: our order's `external_id`.
    pub id: String,
    /// The number staff know it by ("#1001", "HD000123").
    pub number: Option<String>,
    pub payment: Payment,
    pub customer: Option<Customer>,
    /// RFC 3339.
    pub placed_at: Option<String>,
    pub currency: Option<String>,
    pub lines: Vec<LineInput>,
    /// Whole dong.
    pub discount: i64,
    /// Whole dong: shipping and anything added on top of the lines (taxes, fees).
    pub shipping: i64,
    /// Whole dong: what the customer paid for the order before any refund.
    pub total: i64,
    /// Refunds the platform lists with the order, each by its own id.
    pub refunds: Vec<RefundNote>,
    /// How much has been refunded, when the platform says so without listing the refunds
    /// (a `refunded` status, or a total that went down).
    pub refunded_total: Option<i64>,
    /// Notes for the delivery log: what was read around (a phone that is not one, a
    /// customer with no contact).
    pub notes: Vec<String>,
}

/// A refund the platform made, by its own id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundNote {
    pub id: String,
    /// Whole dong actually given back (successful refund transactions only).
    pub amount: i64,
}

/// A customer as the platform knows them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Customer {
    /// The platform's customer id, kept as the member's external id for this platform.
    pub id: Option<String>,
    /// A Vietnamese mobile number, already checked (an unusable one is dropped with a note).
    pub phone: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
}

impl Customer {
    pub fn has_contact(&self) -> bool {
        self.phone.is_some() || self.email.is_some()
    }
}

/// Why a delivery could not be read. The signature was good, so the platform sent it: it is
/// logged and answered 200 (a retry would carry the same bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError(pub String);

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Reads a verified delivery: `topic` from the platform's topic header when it sends one.
pub fn read(
    platform: Platform,
    topic: Option<&str>,
    body: &[u8],
) -> Result<Vec<Message>, ReadError> {
    let json: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ReadError(format!("the body is not JSON: {e}")))?;
    match platform {
        Platform::Kiotviet => kiotviet::read(&json),
        Platform::Haravan | Platform::Shopify | Platform::Sapo => {
            let topic = topic
                .map(str::to_string)
                .or_else(|| {
                    json.get("topic")
                        .and_then(|t| t.as_str())
                        .map(str::to_string)
                })
                .ok_or_else(|| ReadError("no topic in the headers or the body".into()))?;
            shopify::read(platform, &topic, &json).map(|m| vec![m])
        }
    }
}

impl OrderSnapshot {
    /// The order to post when it is paid: our `POST /orders` body, source = the platform.
    pub fn order_input(
        &self,
        platform: Platform,
        store: Option<&str>,
        brand: Option<&str>,
    ) -> OrderInput {
        let customer = self
            .customer
            .as_ref()
            .filter(|c| c.has_contact())
            .map(|c| CustomerInput {
                phone: c.phone.clone(),
                email: c.email.clone(),
                name: c.name.clone(),
            });
        OrderInput {
            source: platform.as_str().to_string(),
            external_id: self.id.clone(),
            member_id: None,
            customer,
            brand: brand.map(str::to_string),
            store: store.map(str::to_string),
            channel: Some(platform.channel().to_string()),
            placed_at: self.placed_at.clone(),
            currency: self.currency.clone(),
            lines: self.lines.clone(),
            discount: self.discount,
            shipping: self.shipping,
            total: self.total,
            vouchers: Vec::new(),
            points_redeemed: 0,
        }
    }
}

/// Checks a contact read from a platform: a usable phone and e-mail are kept, others dropped
/// with a note (an order must not be refused for a typo in the store's customer record).
fn contact(
    phone: Option<&str>,
    email: Option<&str>,
    notes: &mut Vec<String>,
) -> (Option<String>, Option<String>) {
    let phone = phone
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .and_then(|p| match loyalty_core::phone::Phone::parse(p) {
            Ok(phone) => Some(phone.into_string()),
            Err(_) => {
                notes.push(format!(
                    "phone {p:?} is not a Vietnamese mobile number: left out"
                ));
                None
            }
        });
    let email = email
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .and_then(|e| match loyalty_core::email::Email::parse(e) {
            Ok(email) => Some(email.as_str().to_string()),
            Err(_) => {
                notes.push(format!("e-mail {e:?} is not an address: left out"));
                None
            }
        });
    (phone, email)
}

/// Makes lines, discount, shipping and total agree as our orders require: what the lines add
/// up to above the total is the discount, what the total has above them (shipping, taxes
/// added on top) is shipping.
fn balance(lines: Vec<LineInput>, shipping: i64, total: i64) -> (Vec<LineInput>, i64, i64) {
    let sum = lines.iter().try_fold(0i64, |acc, l| {
        acc.checked_add(l.quantity.checked_mul(l.unit_price)?)
    });
    let Some(sum) = sum else {
        // Lines beyond any real order: keep the total, drop the lines (the order's checks
        // would refuse them anyway).
        return (Vec::new(), 0, 0);
    };
    let before = sum.saturating_add(shipping);
    if before >= total {
        (lines, before - total, shipping)
    } else {
        (lines, 0, total - sum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(quantity: i64, unit_price: i64) -> LineInput {
        LineInput {
            sku: None,
            name: None,
            category: None,
            quantity,
            unit_price,
        }
    }

    #[test]
    fn balance_puts_the_gap_in_discount_or_shipping() {
        let (_, discount, shipping) = balance(vec![line(2, 35_000)], 0, 60_000);
        assert_eq!((discount, shipping), (10_000, 0));
        let (_, discount, shipping) = balance(vec![line(2, 35_000)], 15_000, 85_000);
        assert_eq!((discount, shipping), (0, 15_000));
        // Tax added on top of the lines counts as shipping.
        let (_, discount, shipping) = balance(vec![line(1, 100_000)], 0, 108_000);
        assert_eq!((discount, shipping), (0, 8_000));
    }

    #[test]
    fn unusable_contacts_are_left_out_with_a_note() {
        let mut notes = Vec::new();
        let (phone, email) = contact(Some("0901 234 567"), Some("not-an-email"), &mut notes);
        assert_eq!(phone.as_deref(), Some("+84901234567"));
        assert_eq!(email, None);
        assert_eq!(notes.len(), 1);
    }
}
