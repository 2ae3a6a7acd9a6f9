//! Membership tiers (hạng thành viên): the ladder, qualification over a window, reviews and
//! reset cycles, and the benefits a POS applies.
//!
//! The exact semantics (also in `docs/user-guide.md`):
//! - A member's *qualifying value* is the program's metric (`spend` = paid minus refunded,
//!   `points_earned` = earned minus reversed, `orders` = paid orders) over the window —
//!   `lifetime`, the last `rolling_months`, or the current `calendar_year` (tenant's zone).
//! - They hold the highest tier whose threshold the value reaches. Reaching a higher tier
//!   upgrades them at once, in the order's transaction.
//! - With `downgrade: at_review`, each member is reviewed every `review_every_months` from the
//!   day they reached their tier: they keep the highest tier the value then supports (perhaps a
//!   lower one). Cancels and refunds lower the value but never downgrade before the review.
//! - With `reset_on_review`, each review also starts a new cycle: the value counts only from the
//!   review on, plus a carry of what exceeded the kept tier's threshold (value − threshold).
//! - A manual override holds a tier until its end date, whatever the value says.

use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::Invalid;
use crate::program::{TierWindow, WindowKind};

/// A per-brand discount for a tier: the same Vàng member gets 10% at the café, 5% at the shop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BrandDiscount {
    pub brand: String,
    pub discount_percent: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tier {
    pub id: String,
    pub name: String,
    pub rank: i64,
    /// In the program's metric: VND of spend, points, or orders.
    pub threshold: i64,
    /// Multiplier on base points, in thousandths (1500 = ×1.5).
    pub earn_multiplier_per_mille: i64,
    pub discount_percent: i64,
    pub brand_discounts: Vec<BrandDiscount>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Tier {
    /// The discount a POS applies for this tier at `brand` (the brand's override, if any).
    pub fn discount_for(&self, brand: Option<&str>) -> i64 {
        brand
            .and_then(|b| {
                self.brand_discounts
                    .iter()
                    .find(|d| d.brand.eq_ignore_ascii_case(b))
            })
            .map_or(self.discount_percent, |d| d.discount_percent)
    }

    pub fn earn_multiplier(&self) -> f64 {
        self.earn_multiplier_per_mille as f64 / 1000.0
    }
}

/// The fields of a tier as written, checked one by one.
#[derive(Debug, Clone, PartialEq)]
pub struct TierFields {
    pub name: String,
    pub rank: i64,
    pub threshold: i64,
    pub earn_multiplier_per_mille: i64,
    pub discount_percent: i64,
    pub brand_discounts: Vec<BrandDiscount>,
}

pub fn check_tier(
    name: &str,
    rank: i64,
    threshold: i64,
    earn_multiplier: f64,
    discount_percent: i64,
    brand_discounts: &[BrandDiscount],
) -> Result<TierFields, Invalid> {
    let mut e = Invalid::default();
    let name = name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        e.push_bounded("name", "length", (1, 100), "must have 1 to 100 characters");
    }
    if !(1..=100).contains(&rank) {
        e.push_bounded(
            "rank",
            "out_of_range",
            (1, 100),
            "must be between 1 and 100",
        );
    }
    crate::limits::amount(&mut e, "threshold", threshold);
    let per_mille = (earn_multiplier * 1000.0).round() as i64;
    if !earn_multiplier.is_finite() || !(1000..=10_000).contains(&per_mille) {
        e.push_bounded(
            "benefits.earn_multiplier",
            "out_of_range",
            (1, 10),
            "must be between 1 and 10 (up to 3 decimals)",
        );
    }
    if !(0..=100).contains(&discount_percent) {
        e.push_bounded(
            "benefits.discount_percent",
            "out_of_range",
            (0, 100),
            "must be between 0 and 100",
        );
    }
    for (i, d) in brand_discounts.iter().enumerate() {
        if d.brand.trim().is_empty() {
            e.required(format!("benefits.brand_discounts[{i}].brand"));
        }
        if !(0..=100).contains(&d.discount_percent) {
            e.push_bounded(
                format!("benefits.brand_discounts[{i}].discount_percent"),
                "out_of_range",
                (0, 100),
                "must be between 0 and 100",
            );
        }
    }
    e.into_result(|| TierFields {
        name,
        rank,
        threshold,
        earn_multiplier_per_mille: per_mille,
        discount_percent,
        brand_discounts: brand_discounts.to_vec(),
    })
}

/// Checks a whole ladder: ranks unique, and thresholds strictly increasing with rank (a higher
/// tier must be harder to reach). `field` names the tier being written.
pub fn check_ladder(ladder: &[(i64, i64, &str)]) -> Result<(), Invalid> {
    let mut sorted: Vec<&(i64, i64, &str)> = ladder.iter().collect();
    sorted.sort_by_key(|(rank, _, _)| *rank);
    for pair in sorted.windows(2) {
        let ((rank_a, threshold_a, name_a), (rank_b, threshold_b, name_b)) = (pair[0], pair[1]);
        if rank_a == rank_b {
            return Err(Invalid::one(
                "rank",
                "tier.rank_taken",
                format!("rank {rank_a} is already {name_a}"),
            ));
        }
        if threshold_b <= threshold_a {
            return Err(Invalid::one(
                "threshold",
                "tier.threshold_not_above_lower",
                format!(
                    "{name_b} (rank {rank_b}) needs a threshold above {name_a}'s {threshold_a}"
                ),
            ));
        }
    }
    Ok(())
}

/// The highest tier whose threshold `value` reaches, from a ladder sorted by rank.
pub fn qualifying(ladder: &[Tier], value: i64) -> Option<&Tier> {
    ladder
        .iter()
        .filter(|t| value >= t.threshold)
        .max_by_key(|t| t.rank)
}

/// The next tier above `current` and how much more of the metric it needs.
pub fn progress(ladder: &[Tier], current_rank: Option<i64>, value: i64) -> Option<(&Tier, i64)> {
    ladder
        .iter()
        .filter(|t| current_rank.is_none_or(|r| t.rank > r))
        .min_by_key(|t| t.rank)
        .map(|next| (next, next.threshold.saturating_sub(value).max(0)))
}

/// Where the qualification window starts at `now`; `None` for a lifetime window.
pub fn window_start(window: &TierWindow, now: Timestamp, zone: &TimeZone) -> Option<Timestamp> {
    let local = now.to_zoned_datetime(zone.clone());
    match window.kind {
        WindowKind::Lifetime => None,
        WindowKind::RollingMonths => {
            let months = window.months.unwrap_or(12);
            local
                .checked_sub(Span::new().months(months))
                .ok()
                .map(|z| z.timestamp())
        }
        WindowKind::CalendarYear => jiff::civil::Date::new(local.year(), 1, 1)
            .ok()
            .and_then(|d| d.to_zoned_datetime(zone.clone()).ok())
            .map(|z| z.timestamp()),
    }
}

/// The review after `from`: `months` later on the local calendar (31 January + 1 month is the
/// last day of February).
pub fn next_review(from: Timestamp, months: i64, zone: &TimeZone) -> Timestamp {
    from.to_zoned_datetime(zone.clone())
        .checked_add(Span::new().months(months))
        .map(|z| z.timestamp())
        .unwrap_or(from)
}

/// Base points times the tier's multiplier, rounded down.
pub fn multiply(base: i64, per_mille: i64) -> i64 {
    let product = i128::from(base) * i128::from(per_mille) / 1000;
    i64::try_from(product).unwrap_or(i64::MAX)
}

/// The outcome of a review: the tier kept and, with reset cycles, the carry into the next
/// cycle (what exceeded the kept tier's threshold).
pub fn review(ladder: &[Tier], value: i64, reset: bool) -> (Option<&Tier>, i64) {
    let kept = qualifying(ladder, value);
    let carry = if reset {
        (value - kept.map_or(0, |t| t.threshold)).max(0)
    } else {
        0
    };
    (kept, carry)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tier(name: &str, rank: i64, threshold: i64) -> Tier {
        Tier {
            id: format!("tier_{rank}"),
            name: name.into(),
            rank,
            threshold,
            earn_multiplier_per_mille: 1000 + 250 * (rank - 1),
            discount_percent: rank * 2,
            brand_discounts: vec![BrandDiscount {
                brand: "cafe".into(),
                discount_percent: rank * 5,
            }],
            created_at: Timestamp::UNIX_EPOCH,
            updated_at: Timestamp::UNIX_EPOCH,
        }
    }

    fn ladder() -> Vec<Tier> {
        vec![
            tier("Đồng", 1, 0),
            tier("Bạc", 2, 2_000_000),
            tier("Vàng", 3, 5_000_000),
            tier("Bạch Kim", 4, 15_000_000),
        ]
    }

    fn zone() -> TimeZone {
        TimeZone::get("Asia/Ho_Chi_Minh").unwrap()
    }

    #[test]
    fn the_highest_reached_tier_qualifies_and_progress_names_the_next() {
        let l = ladder();
        assert_eq!(qualifying(&l, 1_999_999).unwrap().name, "Đồng");
        assert_eq!(qualifying(&l, 5_000_000).unwrap().name, "Vàng");
        assert_eq!(qualifying(&l, 99_000_000).unwrap().name, "Bạch Kim");
        let (next, remaining) = progress(&l, Some(3), 6_000_000).unwrap();
        assert_eq!((next.name.as_str(), remaining), ("Bạch Kim", 9_000_000));
        assert!(progress(&l, Some(4), 20_000_000).is_none());
        assert_eq!(progress(&l, None, 0).unwrap().0.name, "Đồng");
    }

    #[test]
    fn ladders_need_unique_ranks_and_rising_thresholds() {
        assert!(check_ladder(&[(1, 0, "Đồng"), (2, 100, "Bạc")]).is_ok());
        assert_eq!(
            check_ladder(&[(1, 0, "Đồng"), (1, 100, "Bạc")])
                .unwrap_err()
                .0[0]
                .field,
            "rank"
        );
        assert_eq!(
            check_ladder(&[(1, 500, "Đồng"), (2, 100, "Bạc")])
                .unwrap_err()
                .0[0]
                .field,
            "threshold"
        );
        assert!(check_tier("Vàng", 3, 5_000_000, 1.5, 5, &[]).is_ok());
        let bad = check_tier(
            "",
            0,
            -1,
            0.5,
            120,
            &[BrandDiscount {
                brand: " ".into(),
                discount_percent: 101,
            }],
        )
        .unwrap_err();
        let fields: Vec<_> = bad.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "name",
                "rank",
                "threshold",
                "benefits.earn_multiplier",
                "benefits.discount_percent",
                "benefits.brand_discounts[0].brand",
                "benefits.brand_discounts[0].discount_percent"
            ]
        );
    }

    #[test]
    fn windows_start_where_the_calendar_says() {
        let now: Timestamp = "2026-03-31T10:00:00Z".parse().unwrap(); // 17:00 in Hà Nội
        let rolling = TierWindow {
            kind: WindowKind::RollingMonths,
            months: Some(1),
        };
        // 31 March minus one month is the last day of February.
        assert_eq!(
            window_start(&rolling, now, &zone()),
            Some("2026-02-28T10:00:00Z".parse().unwrap())
        );
        let year = TierWindow {
            kind: WindowKind::CalendarYear,
            months: None,
        };
        assert_eq!(
            window_start(&year, now, &zone()),
            Some("2025-12-31T17:00:00Z".parse().unwrap())
        );
        // At 23:30 UTC on 31 December it is already 1 January in Hà Nội: the new year's window.
        let edge: Timestamp = "2026-12-31T17:30:00Z".parse().unwrap();
        assert_eq!(
            window_start(&year, edge, &zone()),
            Some("2026-12-31T17:00:00Z".parse().unwrap())
        );
        let lifetime = TierWindow {
            kind: WindowKind::Lifetime,
            months: None,
        };
        assert_eq!(window_start(&lifetime, now, &zone()), None);
    }

    #[test]
    fn reviews_fall_on_the_same_local_day_months_later_with_month_ends_and_leap_days() {
        let z = zone();
        let reached: Timestamp = "2024-02-29T03:00:00Z".parse().unwrap();
        assert_eq!(
            next_review(reached, 12, &z),
            "2025-02-28T03:00:00Z".parse().unwrap()
        );
        let jan31: Timestamp = "2026-01-31T03:00:00Z".parse().unwrap();
        assert_eq!(
            next_review(jan31, 1, &z),
            "2026-02-28T03:00:00Z".parse().unwrap()
        );
        assert_eq!(
            next_review(jan31, 3, &z),
            "2026-04-30T03:00:00Z".parse().unwrap()
        );
    }

    #[test]
    fn a_review_keeps_what_the_value_supports_and_a_reset_carries_the_excess() {
        let l = ladder();
        let (kept, carry) = review(&l, 3_000_000, false);
        assert_eq!((kept.unwrap().name.as_str(), carry), ("Bạc", 0));
        let (kept, carry) = review(&l, 6_500_000, true);
        assert_eq!((kept.unwrap().name.as_str(), carry), ("Vàng", 1_500_000));
        let silver_only = [tier("Bạc", 2, 2_000_000)];
        let (kept, carry) = review(&silver_only, 1_000, true);
        assert_eq!((kept, carry), (None, 1_000));
    }

    #[test]
    fn multipliers_round_down_and_brand_discounts_override() {
        assert_eq!(multiply(7, 1500), 10);
        assert_eq!(multiply(7, 1000), 7);
        let gold = &ladder()[2];
        assert_eq!(gold.discount_for(Some("CAFE")), 15);
        assert_eq!(gold.discount_for(Some("shop")), 6);
        assert_eq!(gold.discount_for(None), 6);
    }
}
