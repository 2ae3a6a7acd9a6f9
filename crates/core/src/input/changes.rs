//! Changes staff or a till ask of something that exists: an order's refund, a member's tier set
//! by hand.

use jiff::Timestamp;

use crate::error::Invalid;
use crate::limits;

/// The longest refund id a till or a web store may send.
pub const MAX_REFUND_ID_CHARS: usize = 100;

/// The longest reason for a tier set by hand.
pub const MAX_OVERRIDE_REASON_CHARS: usize = 500;

/// A refund's id (trimmed) and amount.
pub fn validate_refund(external_id: &str, amount: i64) -> Result<(String, i64), Invalid> {
    let mut errors = Invalid::default();
    let external_id = external_id.trim().to_string();
    if external_id.is_empty() || external_id.chars().count() > MAX_REFUND_ID_CHARS {
        errors.push_bounded(
            "external_id",
            "length",
            (1, MAX_REFUND_ID_CHARS as i64),
            format!("must have 1 to {MAX_REFUND_ID_CHARS} characters"),
        );
    }
    limits::within(&mut errors, "amount", amount, 1, limits::MAX_AMOUNT);
    errors.into_result(|| (external_id, amount))
}

/// A tier override's reason (trimmed) and end, which must be later than `now`.
pub fn validate_tier_override(
    reason: &str,
    until: Option<Timestamp>,
    now: Timestamp,
) -> Result<String, Invalid> {
    let mut errors = Invalid::default();
    let reason = reason.trim().to_string();
    if reason.is_empty() || reason.chars().count() > MAX_OVERRIDE_REASON_CHARS {
        errors.push_bounded(
            "reason",
            "length",
            (1, MAX_OVERRIDE_REASON_CHARS as i64),
            format!("is required, at most {MAX_OVERRIDE_REASON_CHARS} characters"),
        );
    }
    if until.is_some_and(|u| u <= now) {
        errors.push_coded("until", "until.in_past", "must be in the future");
    }
    errors.into_result(|| reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refund_needs_an_id_and_a_positive_amount() {
        assert_eq!(
            validate_refund(" RF-1 ", 50_000),
            Ok(("RF-1".to_string(), 50_000))
        );
        let invalid = validate_refund(" ", 0).unwrap_err();
        let codes: Vec<_> = invalid
            .0
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect();
        assert_eq!(
            codes,
            [("external_id", "length"), ("amount", "out_of_range")]
        );
    }

    #[test]
    fn an_override_needs_a_reason_and_an_end_in_the_future() {
        let now: Timestamp = "2026-12-01T00:00:00Z".parse().unwrap();
        assert_eq!(
            validate_tier_override(" VIP khai trương ", None, now),
            Ok("VIP khai trương".to_string())
        );
        let invalid = validate_tier_override("", Some(now), now).unwrap_err();
        let codes: Vec<_> = invalid.0.iter().map(|e| e.code.as_str()).collect();
        assert_eq!(codes, ["length", "until.in_past"]);
    }
}
