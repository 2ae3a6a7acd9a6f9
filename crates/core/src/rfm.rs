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
