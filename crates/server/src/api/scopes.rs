//! Which scope every API route needs, in one table, checked by the `Auth` extractor before the
//! body is read. The use-cases check again (an admin page calls them too); this table is what
//! an integrator and a reviewer read, and what the route × scope test walks. It follows the
//! admin UI's roles: `read` reads what a viewer sees (members, orders, the program, reports);
//! `pos` adds what a cashier does at the till; the activity log, the events feed, exports, import reports, keys
//! and staff, the messaging channels, and every change to the program, to saved segments or to
//! campaigns and automations are `admin`'s.

use axum::http::Method;
use loyalty_core::tenancy::Access;

/// The access a route needs; `None` for a route missing from the table (the extractor then
/// asks for `admin`, and the route × scope test fails until it is added).
pub fn required(method: &Method, route: &str) -> Option<Access> {
    use Access::{Admin, Pos, Read};
    // HEAD is a GET without its body.
    let method = if method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    let needed = match (method, route) {
        // Reads that reveal staff, keys, who did what, or whole lists of personal data.
        ("GET", "/api/v1/activity")
        | ("GET", "/api/v1/events")
        | ("GET", "/api/v1/api-keys")
        | ("GET", "/api/v1/staff")
        | ("GET", "/api/v1/staff/{id}")
        | ("GET", "/api/v1/imports/{id}")
        | ("GET", "/api/v1/members/export")
        | ("GET", "/api/v1/orders/export")
        | ("GET", "/api/v1/segments/{id}/export")
        | ("GET", "/api/v1/webhooks")
        | ("GET", "/api/v1/webhooks/{id}")
        | ("GET", "/api/v1/webhooks/{id}/deliveries")
        | ("GET", "/api/v1/connections")
        | ("GET", "/api/v1/connections/{id}")
        | ("GET", "/api/v1/connections/{id}/deliveries")
        | ("GET", "/api/v1/campaigns/{id}/export")
        | ("GET", "/api/v1/channels")
        | ("GET", "/api/v1/channels/{id}")
        | ("GET", "/api/v1/members/duplicates") => Admin,
        // Counting and previewing read nothing they do not show.
        ("POST", "/api/v1/segments/preview") | ("POST", "/api/v1/earn-rules/preview") => Read,
        ("GET", _) => Read,
        // The till: customers, orders, vouchers, rewards.
        ("POST", "/api/v1/members")
        | ("PATCH", "/api/v1/members/{id}")
        | ("POST", "/api/v1/members/{id}/activate")
        | ("POST", "/api/v1/members/{id}/redemptions")
        | ("POST", "/api/v1/orders")
        | ("POST", "/api/v1/orders/quote")
        | ("POST", "/api/v1/referrals")
        | ("POST", "/api/v1/redemptions/{id}/hand-over")
        | ("POST", "/api/v1/redemptions/{id}/cancel")
        | ("POST", "/api/v1/orders/{id}/cancel")
        | ("POST", "/api/v1/orders/{id}/refunds")
        | ("POST", "/api/v1/vouchers/validate")
        | ("POST", "/api/v1/vouchers/redeem")
        | ("POST", "/api/v1/vouchers/redemptions/{id}/release") => Pos,
        // Everything else that changes something is configuration.
        ("POST", "/api/v1/members/{id}/points/adjustments")
        | ("POST", "/api/v1/members/{id}/block")
        | ("POST", "/api/v1/members/{id}/unblock")
        | ("POST", "/api/v1/members/{id}/merge")
        | ("POST", "/api/v1/members/{id}/tier")
        | ("PUT", "/api/v1/program")
        | ("POST", "/api/v1/webhooks")
        | ("PATCH" | "DELETE", "/api/v1/webhooks/{id}")
        | ("POST", "/api/v1/webhooks/{id}/test")
        | ("POST", "/api/v1/webhooks/{id}/deliveries/{delivery_id}/replay")
        | ("POST", "/api/v1/connections")
        | ("POST", "/api/v1/channels")
        | ("PATCH" | "DELETE", "/api/v1/channels/{id}")
        | ("POST", "/api/v1/channels/{id}/test")
        | ("POST", "/api/v1/campaigns")
        | ("PATCH", "/api/v1/campaigns/{id}")
        | ("POST", "/api/v1/campaigns/{id}/launch")
        | ("POST", "/api/v1/campaigns/{id}/cancel")
        | ("POST", "/api/v1/campaigns/{id}/test")
        | ("POST", "/api/v1/automations")
        | ("PATCH", "/api/v1/automations/{id}")
        | ("PATCH" | "DELETE", "/api/v1/connections/{id}")
        | ("POST", "/api/v1/earn-rules")
        | ("PATCH" | "DELETE", "/api/v1/earn-rules/{id}")
        | ("POST", "/api/v1/tiers")
        | ("PATCH" | "DELETE", "/api/v1/tiers/{id}")
        | ("POST", "/api/v1/rewards")
        | ("PATCH", "/api/v1/rewards/{id}")
        | ("POST", "/api/v1/voucher-programs")
        | ("PATCH", "/api/v1/voucher-programs/{id}")
        | ("POST", "/api/v1/voucher-programs/{id}/codes")
        | ("POST", "/api/v1/segments")
        | ("PATCH" | "DELETE", "/api/v1/segments/{id}")
        | ("POST", "/api/v1/brands")
        | ("PATCH", "/api/v1/brands/{id}")
        | ("POST", "/api/v1/stores")
        | ("PATCH", "/api/v1/stores/{id}")
        | ("POST", "/api/v1/api-keys")
        | ("DELETE", "/api/v1/api-keys/{id}")
        | ("POST", "/api/v1/staff")
        | ("PATCH", "/api/v1/staff/{id}")
        | ("POST", "/api/v1/staff/{id}/password")
        | ("POST", "/api/v1/imports/members")
        | ("POST", "/api/v1/imports/orders")
        | ("POST", "/api/v1/imports/products") => Admin,
        _ => return None,
    };
    Some(needed)
}
