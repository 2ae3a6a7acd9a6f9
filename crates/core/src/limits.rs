//! Ceilings on the numbers the outside world may send, and checked arithmetic for the numbers
//! we keep adding up.
//!
//! Every amount and every number of points that enters (API, forms, CSV) is bounded here, far
//! above anything real and far below where 64-bit arithmetic wraps: 900,000 maximal amounts
//! still add up inside an `i64`. Counters that grow without end (a member's lifetime spend, a
//! balance) are added with [`checked_total`], which refuses instead of wrapping.

use crate::error::Invalid;

/// The largest amount of money in one field (an order's total, a line's price, a refund, a
/// threshold): 10^13 đồng, about 400 million US dollars.
pub const MAX_AMOUNT: i64 = 10_000_000_000_000;

/// The largest number of points in one field (an adjustment, a reward's cost, an opening
/// balance, a rule's bonus or cap): 10^12.
pub const MAX_POINTS: i64 = 1_000_000_000_000;

/// The largest count in one field (a quantity, a usage limit, an order count).
pub const MAX_COUNT: i64 = 1_000_000_000;

/// Records an error under `field` unless `0 <= value <= MAX_AMOUNT`.
pub fn amount(errors: &mut Invalid, field: &str, value: i64) {
    within(errors, field, value, 0, MAX_AMOUNT);
}

/// Records an error under `field` unless `0 <= value <= MAX_POINTS`.
pub fn points(errors: &mut Invalid, field: &str, value: i64) {
    within(errors, field, value, 0, MAX_POINTS);
}

/// Records an error under `field` unless `0 <= value <= MAX_COUNT`.
pub fn count(errors: &mut Invalid, field: &str, value: i64) {
    within(errors, field, value, 0, MAX_COUNT);
}

/// Records an error under `field` unless `min <= value <= max`, saying which bound it broke.
pub fn within(errors: &mut Invalid, field: &str, value: i64, min: i64, max: i64) {
    if value < min {
        let message = format!("must be at least {min}");
        errors.push_bounded(field, "out_of_range", (min, max), message);
    } else if value > max {
        let message = format!("must be at most {max}");
        errors.push_bounded(field, "out_of_range", (min, max), message);
    }
}

/// A running total that would leave the 64-bit range: the change is refused, nothing wraps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{what} would leave the range this system can count ({current} {sign} {change})", sign = if *.change < 0 { "-" } else { "+" }, change = .change.unsigned_abs())]
pub struct OutOfRange {
    pub what: &'static str,
    pub current: i64,
    pub change: i64,
}

/// `current + change`, or [`OutOfRange`] naming `what` when it does not fit.
pub fn checked_total(what: &'static str, current: i64, change: i64) -> Result<i64, OutOfRange> {
    current.checked_add(change).ok_or(OutOfRange {
        what,
        current,
        change,
    })
}

/// A sum read from SQL in two halves (see `store::sql::wide_sum`) put back together exactly.
pub fn join_halves(high: i64, low: i64) -> i128 {
    i128::from(high) * WIDE_SUM_BASE + i128::from(low)
}

/// The base [`join_halves`] splits numbers by: 2^32, so each half of a 64-bit value is at most
/// 2^31 and billions of them add up without overflowing.
pub const WIDE_SUM_BASE: i128 = 1 << 32;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bounds_name_the_field_and_the_bound() {
        let mut e = Invalid::default();
        amount(&mut e, "total", -1);
        amount(&mut e, "discount", MAX_AMOUNT + 1);
        amount(&mut e, "shipping", MAX_AMOUNT);
        points(&mut e, "points", i64::MAX);
        let found: Vec<String> = e.0.iter().map(|f| f.to_string()).collect();
        assert_eq!(
            found,
            [
                "total: must be at least 0",
                "discount: must be at most 10000000000000",
                "points: must be at most 1000000000000"
            ]
        );
    }

    #[test]
    fn totals_refuse_to_wrap() {
        assert_eq!(checked_total("spend", 5, -7), Ok(-2));
        let refused = checked_total("lifetime spend", i64::MAX, 1).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "lifetime spend would leave the range this system can count (9223372036854775807 + 1)"
        );
        assert!(checked_total("x", i64::MIN, -1).is_err());
    }

    proptest! {
        #[test]
        fn halves_join_back_to_the_exact_sum(values in proptest::collection::vec(any::<i64>(), 0..50)) {
            // What SQL computes: sum(v / 2^32) and sum(v % 2^32), both truncating toward zero.
            let base = WIDE_SUM_BASE as i64;
            let high: i64 = values.iter().map(|v| v / base).sum();
            let low: i64 = values.iter().map(|v| v % base).sum();
            let exact: i128 = values.iter().map(|&v| i128::from(v)).sum();
            prop_assert_eq!(join_halves(high, low), exact);
        }

        #[test]
        fn nine_hundred_thousand_maximal_amounts_still_fit(n in 1i64..=900_000) {
            prop_assert!(MAX_AMOUNT.checked_mul(n).is_some());
            prop_assert!(MAX_POINTS.checked_mul(n).is_some());
        }
    }
}
