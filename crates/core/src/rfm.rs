//! RFM: recency, frequency and monetary value, each scored 1–5 by quintile within the tenant,
//! and a named class for marketers.
//!
//! Classes, checked in this order (R, F, M are the quintile scores; 5 is best):
//! - **Champions**: R ≥ 4, F ≥ 4 and M ≥ 4 — bought recently, often, and spend the most.
//! - **Loyal**: R ≥ 3 and F ≥ 4 — buy often.
//! - **New**: R = 5 and F = 1 — one recent first order.
//! - **Potential**: R ≥ 4 — recent, not yet frequent.
//! - **At risk**: R ≤ 2 and F ≥ 3 — used to buy often, not lately.
//! - **Lost**: R = 1 — the least recent fifth.
//! - **Hibernating**: everyone else (R 2–3, low frequency).
//!
//! Members who never bought have no class. Equal values get equal scores (a tie never splits
//! across quintiles), so a tenant where most customers bought once gives them all the same F.

pub const CLASSES: [&str; 7] = [
    "Champions",
    "Loyal",
    "New",
    "Potential",
    "At risk",
    "Lost",
    "Hibernating",
];

/// Quintile scores 1–5 for `values` (higher value, higher score), ties sharing the score of
/// their first position.
pub fn quintiles(values: &[i64]) -> Vec<u8> {
    let n = values.len();
    if n == 0 {
        return Vec::new();
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| values[i]);
    let mut scores = vec![0u8; n];
    let mut start = 0;
    while start < n {
        let mut end = start;
        while end + 1 < n && values[order[end + 1]] == values[order[start]] {
            end += 1;
        }
        let score = 1 + (start * 5 / n) as u8;
        for &i in &order[start..=end] {
            scores[i] = score;
        }
        start = end + 1;
    }
    scores
}

/// The values at which a quintile score steps up, so that members can be scored a page at a
/// time and get what [`quintiles`] would give them over the whole tenant, without the tenant's
/// values in memory: a value scores 1 plus the number of cuts it is above. The cuts are the
/// values at the sorted [`Cuts::positions`] (the database finds them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cuts(pub [i64; 4]);

impl Cuts {
    /// The 0-based sorted positions whose values are the cuts among `n` values: ⌈k·n/5⌉ − 1 for
    /// k = 1…4. (A value's quintile score is 1 + ⌊(values below it)·5/n⌋, which reaches k + 1
    /// once at least ⌈k·n/5⌉ values are below it, that is once it is above the value there.)
    pub fn positions(n: u64) -> [u64; 4] {
        [1u64, 2, 3, 4].map(|k| (k.saturating_mul(n)).div_ceil(5).saturating_sub(1))
    }

    pub fn score(&self, value: i64) -> u8 {
        1 + self.0.iter().filter(|&&cut| value > cut).count() as u8
    }
}

/// Scores members on the three measures' cuts: their class and their `RFM` digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scorer {
    pub recency: Cuts,
    pub frequency: Cuts,
    pub money: Cuts,
}

impl Scorer {
    /// (class, "RFM") for a member's last order time, order count and spend.
    pub fn score(&self, last_order_at: i64, orders: i64, spend: i64) -> (&'static str, String) {
        let (r, f, m) = (
            self.recency.score(last_order_at),
            self.frequency.score(orders),
            self.money.score(spend),
        );
        (class(r, f, m), format!("{r}{f}{m}"))
    }
}

pub fn class(r: u8, f: u8, m: u8) -> &'static str {
    match (r, f, m) {
        (4.., 4.., 4..) => "Champions",
        (3.., 4.., _) => "Loyal",
        (5, 1, _) => "New",
        (4.., _, _) => "Potential",
        (..=2, 3.., _) => "At risk",
        (1, _, _) => "Lost",
        _ => "Hibernating",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quintiles_split_evenly_and_keep_ties_together() {
        assert_eq!(quintiles(&[10, 20, 30, 40, 50]), [1, 2, 3, 4, 5]);
        assert_eq!(quintiles(&[1, 1, 1, 1, 9]), [1, 1, 1, 1, 5]);
        let many: Vec<i64> = (0..100).collect();
        let q = quintiles(&many);
        assert_eq!(q[0], 1);
        assert_eq!(q[19], 1);
        assert_eq!(q[20], 2);
        assert_eq!(q[99], 5);
    }

    proptest::proptest! {
        #[test]
        fn cuts_score_every_value_as_the_whole_quintile_ranking_does(
            values in proptest::collection::vec(-20i64..20, 1..300)
        ) {
            let mut sorted = values.clone();
            sorted.sort_unstable();
            let positions = Cuts::positions(values.len() as u64);
            let cuts = Cuts(positions.map(|p| sorted[p as usize]));
            let paged: Vec<u8> = values.iter().map(|&v| cuts.score(v)).collect();
            proptest::prop_assert_eq!(paged, quintiles(&values));
        }
    }

    #[test]
    fn classes_follow_the_documented_order() {
        assert_eq!(class(5, 5, 5), "Champions");
        assert_eq!(class(3, 5, 1), "Loyal");
        assert_eq!(class(5, 1, 1), "New");
        assert_eq!(class(4, 2, 3), "Potential");
        assert_eq!(class(2, 4, 4), "At risk");
        assert_eq!(class(1, 1, 2), "Lost");
        assert_eq!(class(3, 2, 2), "Hibernating");
    }
}
