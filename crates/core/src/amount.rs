//! Money (whole đồng) and points as types of their own, for the arithmetic user input can push
//! far: a basket's subtotal, the value of points paid, an order's earned points, the sums the
//! ledger takes. Every operation is checked and says what it was adding up when it would leave
//! the 64-bit range ([`OutOfRange`]); nothing wraps or saturates silently, and money cannot be
//! added to points by mistake.
//!
//! Rows and the wire keep plain integers (API.md: "Money is an integer amount in the currency's
//! minor unit; points are integers"); a value becomes `Money` or `Points` where it is computed
//! with, and the bounds of `core::limits` still apply at the edge.

use std::fmt;

use crate::limits::{OutOfRange, checked_total};

macro_rules! quantity {
    ($(#[$doc:meta])* $name:ident, $unit:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[derive(serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(i64);

        impl $name {
            pub const ZERO: $name = $name(0);

            pub const fn new(value: i64) -> $name {
                $name(value)
            }

            pub const fn get(self) -> i64 {
                self.0
            }

            /// `self + other`, or the range error naming `what` is being added up.
            pub fn plus(self, what: &'static str, other: $name) -> Result<$name, OutOfRange> {
                checked_total(what, self.0, other.0).map($name)
            }

            /// `self − other`, checked the same way.
            pub fn minus(self, what: &'static str, other: $name) -> Result<$name, OutOfRange> {
                self.0.checked_sub(other.0).map($name).ok_or(OutOfRange {
                    what,
                    current: self.0,
                    change: other.0.saturating_neg(),
                })
            }

            /// `self × count` (a line's quantity, points per unit).
            pub fn times(self, what: &'static str, count: i64) -> Result<$name, OutOfRange> {
                self.0.checked_mul(count).map($name).ok_or(OutOfRange {
                    what,
                    current: self.0,
                    change: count,
                })
            }

            /// The sum of `values`, or the range error naming `what`.
            pub fn total(
                what: &'static str,
                values: impl IntoIterator<Item = $name>,
            ) -> Result<$name, OutOfRange> {
                values
                    .into_iter()
                    .try_fold($name::ZERO, |sum, v| sum.plus(what, v))
            }

            pub fn is_positive(self) -> bool {
                self.0 > 0
            }
        }

        impl From<$name> for i64 {
            fn from(value: $name) -> i64 {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{} {}", self.0, $unit)
            }
        }
    };
}

quantity!(
    /// An amount in whole đồng (VND has no minor unit).
    Money,
    "đồng"
);

quantity!(
    /// A number of loyalty points.
    Points,
    "points"
);

impl Points {
    /// What these points pay for at `per_point` đồng each.
    pub fn worth(self, per_point: Money) -> Result<Money, OutOfRange> {
        Money(per_point.0).times("the value of the points", self.0)
    }
}

impl Money {
    /// `percent`% of this amount, rounded down (a payment limit, a discount); exact in 128
    /// bits, so it cannot overflow for any percentage up to 100.
    pub fn percent(self, percent: i64) -> Money {
        let part = i128::from(self.0) * i128::from(percent) / 100;
        Money(i64::try_from(part).unwrap_or(if part < 0 { i64::MIN } else { i64::MAX }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sums_name_what_they_were_adding_when_they_overflow() {
        let big = Money::new(i64::MAX - 1);
        let error = big.plus("the lines", Money::new(5)).unwrap_err();
        assert_eq!(error.what, "the lines");
        assert!(
            Money::new(i64::MIN)
                .minus("a refund", Money::new(1))
                .is_err()
        );
        assert!(
            Money::new(0)
                .minus("a refund", Money::new(i64::MIN))
                .is_err()
        );
        assert_eq!(
            Money::new(-1).minus("a refund", Money::new(i64::MIN)),
            Ok(Money::new(i64::MAX))
        );
        assert!(Points::new(i64::MAX / 2).times("per unit", 3).is_err());
        assert_eq!(
            Points::total("an order", [Points::new(5), Points::new(7)]),
            Ok(Points::new(12))
        );
    }

    #[test]
    fn points_are_worth_their_value_and_a_percentage_rounds_down() {
        assert_eq!(
            Points::new(120).worth(Money::new(1_000)),
            Ok(Money::new(120_000))
        );
        assert!(Points::new(i64::MAX).worth(Money::new(2)).is_err());
        assert_eq!(Money::new(99_999).percent(50), Money::new(49_999));
        assert_eq!(Money::new(i64::MAX).percent(100), Money::new(i64::MAX));
    }

    #[test]
    fn money_and_points_serialize_as_plain_integers() {
        assert_eq!(
            serde_json::to_string(&Money::new(250_000)).unwrap(),
            "250000"
        );
        let read: Points = serde_json::from_str("-40").unwrap();
        assert_eq!(read, Points::new(-40));
    }

    proptest! {
        #[test]
        fn checked_arithmetic_agrees_with_wide_arithmetic(a: i64, b: i64) {
            let wide = i128::from(a) + i128::from(b);
            let sum = Money::new(a).plus("sum", Money::new(b));
            prop_assert_eq!(sum.ok().map(i64::from).map(i128::from), (i64::MIN as i128..=i64::MAX as i128).contains(&wide).then_some(wide));
            let wide = i128::from(a) - i128::from(b);
            let difference = Points::new(a).minus("difference", Points::new(b));
            prop_assert_eq!(difference.ok().map(i64::from).map(i128::from), (i64::MIN as i128..=i64::MAX as i128).contains(&wide).then_some(wide));
            let wide = i128::from(a) * i128::from(b);
            let product = Money::new(a).times("product", b);
            prop_assert_eq!(product.ok().map(i64::from).map(i128::from), (i64::MIN as i128..=i64::MAX as i128).contains(&wide).then_some(wide));
        }
    }
}
