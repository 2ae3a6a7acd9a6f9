//! The records use-cases read back and show: an order as stored, a ledger entry, an
//! activity entry, a tier move, a voucher redemption, a reward, a saved segment, an import
//! job, the dashboard's figures, and the filters and pages of lists. Plain data: `store`
//! reads and writes them, `app` hands them on, `server` shows them — so the server needs no
//! dependency on the store to name them.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::book::EntryKind;
use crate::id::{MemberId, OrderId, ProgramId};
use crate::member::MemberStatus;
use crate::order::OrderStatus;
use crate::tenancy::Actor;
use crate::voucher::RedemptionStatus;

/// A page of a keyset-paginated list: rows after `after` (an id), at most `limit`.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub after: Option<String>,
    pub limit: i64,
}

/// Items of one page and the id to continue after, when there are more.
#[derive(Debug, Clone)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub next_after: Option<String>,
}

impl<T> Paged<T> {
    /// The same page with each item turned into another type.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Paged<U> {
        Paged {
            items: self.items.into_iter().map(f).collect(),
            next_after: self.next_after,
        }
    }

    /// Builds a page from `limit + 1` fetched rows: the extra row only says "there is more".
    pub fn from_rows(mut items: Vec<T>, limit: i64, id: impl Fn(&T) -> &str) -> Paged<T> {
        let limit = usize::try_from(limit).unwrap_or(0);
        let next_after = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|last| id(last).to_string())
        } else {
            None
        };
        Paged { items, next_after }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    pub id: String,
    pub at: Timestamp,
    pub actor: Actor,
    pub entity: String,
    pub entity_id: String,
    pub action: String,
    pub before: Option<Json>,
    pub after: Option<Json>,
}

#[derive(Debug, Clone, Default)]
pub struct ActivityFilter {
    pub entity: Option<String>,
    pub entity_id: Option<String>,
    /// An actor id (staff user or API key id) or kind (`system`, `cli`).
    pub actor: Option<String>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub id: String,
    pub member_id: MemberId,
    pub kind: EntryKind,
    /// Signed: credits positive, debits negative.
    pub points: i64,
    /// For credits that are lots: what is left of them.
    pub remaining: Option<i64>,
    pub order_id: Option<OrderId>,
    pub reason: Option<String>,
    pub actor: Option<Actor>,
    pub created_at: Timestamp,
    pub available_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
}

/// Search filters; all given ones must match.
#[derive(Debug, Clone, Default)]
pub struct MemberFilter {
    pub phone: Option<String>,
    pub email: Option<String>,
    pub member_code: Option<String>,
    /// Already folded (lower case, no tone marks): matched inside name, phone and e-mail.
    pub text: Option<String>,
    pub status: Option<MemberStatus>,
    pub tier_id: Option<String>,
}

/// An order row.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderRow {
    pub id: OrderId,
    pub source: String,
    pub external_id: String,
    pub member_id: Option<MemberId>,
    pub status: OrderStatus,
    pub brand: Option<String>,
    pub store: Option<String>,
    pub channel: Option<String>,
    pub placed_at: Timestamp,
    pub currency: String,
    pub subtotal: i64,
    pub discount: i64,
    pub shipping: i64,
    pub total: i64,
    pub points_redeemed: i64,
    pub redeemed_value: i64,
    pub member_index: Option<i64>,
    pub base_points: i64,
    pub points_earned: i64,
    pub points_reversed: i64,
    pub points_returned: i64,
    pub refunded_amount: i64,
    /// JSON list of `{rule, rule_id, points}`.
    pub breakdown: String,
    /// JSON of the answer given when the order was posted.
    pub receipt: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub source: Option<String>,
    pub external_id: Option<String>,
    pub member_id: Option<String>,
    pub store: Option<String>,
    pub status: Option<crate::order::OrderStatus>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    /// Newest first (the admin's list) instead of oldest first (a feed to page through).
    pub newest_first: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RefundRow {
    pub external_id: String,
    pub amount: i64,
    pub points_reversed: i64,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TierChange {
    pub id: String,
    pub member_id: MemberId,
    pub from: Option<(String, String)>,
    pub to: Option<(String, String)>,
    /// `upgrade`, `review`, `override` or `import`.
    pub reason: String,
    pub value: i64,
    pub note: Option<String>,
    pub actor: Option<Actor>,
    pub at: Timestamp,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dashboard {
    /// Every member record (customers not yet activated included).
    pub members_total: i64,
    /// Joined in the period (activated, or created when not activated).
    pub members_new: i64,
    /// Members with an order in the period.
    pub members_active: i64,
    pub revenue_members: i64,
    pub revenue_guests: i64,
    pub orders_members: i64,
    pub orders_guests: i64,
    pub points_issued: i64,
    pub points_redeemed: i64,
    pub points_expired: i64,
    /// Points members hold now (available and pending).
    pub points_outstanding: i64,
    /// Members per tier id (`None`: no tier), largest first.
    pub tiers: Vec<(Option<String>, i64)>,
    /// New members per local day: (days since the Unix epoch in the tenant's offset, count).
    pub new_per_day: Vec<(i64, i64)>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SavedSegment {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub conditions: serde_json::Value,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ImportJob {
    pub id: String,
    /// `members` (later `orders`, `products`).
    pub kind: String,
    /// `running`, `done` or `failed` (the file could not be read to the end).
    pub status: String,
    /// Data rows read so far.
    pub total: i64,
    pub imported: i64,
    pub failed: i64,
    pub errors: Vec<RowError>,
    /// Why a failed import stopped.
    pub message: Option<String>,
    pub created_at: Timestamp,
    pub finished_at: Option<Timestamp>,
}

/// One bad cell of one row. `row` counts as a spreadsheet does: the header is row 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    pub row: u64,
    pub field: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Redemption {
    pub id: String,
    pub code: String,
    pub program_id: ProgramId,
    pub member_id: Option<MemberId>,
    pub order_ref: String,
    pub order_id: Option<OrderId>,
    pub discount: i64,
    pub order_total: i64,
    pub status: RedemptionStatus,
    pub created_at: Timestamp,
    pub released_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Reward {
    pub id: String,
    pub name: String,
    pub points_cost: i64,
    /// `voucher` (issues a code of `voucher_program_id`) or `gift` (an item to hand over).
    pub kind: String,
    pub voucher_program_id: Option<String>,
    /// `None`: unlimited.
    pub stock: Option<i64>,
    pub per_member_limit: Option<i64>,
    /// Tier ids that may redeem; empty for everyone.
    pub tiers: Vec<String>,
    pub active: bool,
    pub starts_at: Option<Timestamp>,
    pub ends_at: Option<Timestamp>,
    pub redeemed: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}
