//! The till's question before it charges: what does this basket cost this member after their
//! tier discount, their vouchers and the points they pay with, and how many points may they
//! pay? (API.md "Quote at the till".) What the order would earn is the earning decision's own
//! answer (`core::earning`), asked of the order as it would be posted.

use crate::amount::{Money, Points};
use crate::limits::OutOfRange;
use crate::program::RedeemSettings;

/// The basket's money as a quote works it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuoteTotals {
    /// The member's tier discount on the goods (shipping is not discounted).
    pub tier_discount: i64,
    /// The invoice total the order would be posted with: the basket less the tier and voucher
    /// discounts (never below zero). Points pay part of it.
    pub invoice_total: i64,
    /// The most points the member may pay this invoice with: their balance, or the program's
    /// share of the invoice, whichever is less.
    pub max_points_redeemable: i64,
    /// What the customer pays in money: the invoice less the points paid.
    pub total_after_discounts: i64,
}

/// Works out a quote. `total` and `shipping` are the basket's (before the tier discount,
/// vouchers and points), `tier_percent` the member's tier discount (0 without a tier),
/// `voucher_discounts` the valid vouchers' discounts, `available` the member's spendable
/// points, `points_redeemed` what the till proposes to pay with points.
pub fn totals(
    total: i64,
    shipping: i64,
    tier_percent: i64,
    voucher_discounts: &[i64],
    redeem: &RedeemSettings,
    available: i64,
    points_redeemed: i64,
) -> Result<QuoteTotals, OutOfRange> {
    let goods = Money::new(total).minus("the goods", Money::new(shipping))?;
    let tier_discount = goods.max(Money::ZERO).percent(tier_percent);
    let vouchers = Money::total(
        "the vouchers' discounts",
        voucher_discounts.iter().copied().map(Money::new),
    )?;
    let invoice = Money::new(total)
        .minus("the invoice", tier_discount)?
        .minus("the invoice", vouchers)?
        .max(Money::ZERO);
    let share = invoice.percent(redeem.max_invoice_percent);
    let by_share = if redeem.point_value > 0 {
        share.get() / redeem.point_value
    } else {
        0
    };
    let max_points_redeemable = by_share.min(available.max(0));
    let paid = Points::new(points_redeemed).worth(Money::new(redeem.point_value))?;
    let total_after_discounts = invoice.minus("the invoice", paid)?.max(Money::ZERO);
    Ok(QuoteTotals {
        tier_discount: tier_discount.get(),
        invoice_total: invoice.get(),
        max_points_redeemable,
        total_after_discounts: total_after_discounts.get(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const REDEEM: RedeemSettings = RedeemSettings {
        point_value: 1_000,
        max_invoice_percent: 50,
    };

    #[test]
    fn a_gold_member_with_a_voucher_and_points_pays_what_is_left() {
        // 200.000 ₫ of goods + 20.000 ₫ shipping, 5% tier discount, one 30.000 ₫ voucher.
        let q = totals(220_000, 20_000, 5, &[30_000], &REDEEM, 500, 40).unwrap();
        assert_eq!(q.tier_discount, 10_000);
        assert_eq!(q.invoice_total, 180_000);
        // Half of 180.000 ₫ is 90 points; the member has 500.
        assert_eq!(q.max_points_redeemable, 90);
        assert_eq!(q.total_after_discounts, 140_000);
    }

    #[test]
    fn the_balance_bounds_the_points_and_discounts_never_go_below_zero() {
        let q = totals(50_000, 0, 0, &[80_000], &REDEEM, 7, 0).unwrap();
        assert_eq!((q.invoice_total, q.max_points_redeemable), (0, 0));
        let q = totals(100_000, 0, 0, &[], &REDEEM, 7, 0).unwrap();
        assert_eq!(q.max_points_redeemable, 7);
        let free = RedeemSettings {
            point_value: 0,
            max_invoice_percent: 50,
        };
        assert_eq!(
            totals(100_000, 0, 0, &[], &free, 7, 0)
                .unwrap()
                .max_points_redeemable,
            0
        );
    }
}
