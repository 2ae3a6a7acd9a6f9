//! When a member moves between tiers, decided without I/O: the upgrade an order earns, the
//! periodic review (which may move down), and the move itself (the member's tier fields and the
//! history record). `app` loads the qualifying value (an SQL sum) and persists what these
//! decide.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::id::new_id;
use crate::member::{Member, MemberStatus};
use crate::program::{Downgrade, Program};
use crate::records::TierChange;
use crate::tier::{self, Tier};

/// The program's tier settings and the tenant's time zone (reviews fall on local dates).
#[derive(Debug, Clone, Copy)]
pub struct Setting<'a> {
    pub program: &'a Program,
    pub zone: &'a TimeZone,
}

pub const REASON_UPGRADE: &str = "upgrade";
pub const REASON_REVIEW: &str = "review";
pub const REASON_OVERRIDE: &str = "override";
pub const REASON_IMPORT: &str = "import";

/// A manual override holds the member's tier until it ends (or for good, without an end).
pub fn override_active(m: &Member, now: Timestamp) -> bool {
    m.tier_overridden && m.tier_override_until.is_none_or(|until| until > now)
}

/// Puts the member on `to` and describes the move (the tier left is named by id; callers
/// that know its name add it).
pub fn move_to(
    m: &mut Member,
    to: Option<&Tier>,
    reason: &str,
    value: i64,
    note: Option<String>,
    now: Timestamp,
    setting: Setting<'_>,
) -> TierChange {
    let from = m.tier_id.clone().map(|id| (id, String::new()));
    m.tier_id = to.map(|t| t.id.clone());
    m.tier_reached_at = Some(now);
    m.tier_review_at = match (setting.program.tiers.downgrade, to) {
        (Downgrade::AtReview, Some(_)) => Some(tier::next_review(
            now,
            setting.program.tiers.review_every_months,
            setting.zone,
        )),
        _ => None,
    };
    TierChange {
        id: new_id("tch"),
        member_id: m.id.clone(),
        from,
        to: to.map(|t| (t.id.clone(), t.name.clone())),
        reason: reason.to_string(),
        value,
        note,
        actor: None,
        at: now,
    }
}

/// Whether an upgrade is worth checking (and its qualifying value worth reading): a ladder, an
/// activated member, no override holding their tier.
pub fn may_upgrade(m: &Member, ladder: &[Tier], now: Timestamp) -> bool {
    !ladder.is_empty() && m.status == MemberStatus::Member && !override_active(m, now)
}

/// Moves the member up when `value` reaches a higher tier than theirs (never down: reviews
/// do that), starting a new cycle when the program resets at reviews.
pub fn upgrade(
    m: &mut Member,
    ladder: &[Tier],
    value: i64,
    now: Timestamp,
    setting: Setting<'_>,
) -> Option<TierChange> {
    let current = m
        .tier_id
        .as_ref()
        .and_then(|id| ladder.iter().find(|t| &t.id == id));
    let (current_rank, from_name) = (current.map(|t| t.rank), current.map(|t| t.name.clone()));
    let best = tier::qualifying(ladder, value)?;
    if current_rank.is_some_and(|r| best.rank <= r) {
        return None;
    }
    let mut change = move_to(m, Some(best), REASON_UPGRADE, value, None, now, setting);
    if let (Some((id, _)), Some(name)) = (change.from.take(), from_name) {
        change.from = Some((id, name));
    }
    if setting.program.tiers.reset_on_review && m.tier_cycle_start.is_none() {
        m.tier_cycle_start = Some(now);
        m.tier_carry = value;
    }
    Some(change)
}

/// The first step of a review: an override still holding postpones it to the override's end;
/// an ended one is lifted. Returns whether the review is due now (then read the value and call
/// [`review`]), and whether an override just ended.
pub fn review_due(m: &mut Member, now: Timestamp) -> (bool, bool) {
    if override_active(m, now) {
        m.tier_review_at = m.tier_override_until;
        return (false, false);
    }
    let override_ended = m.tier_overridden;
    m.tier_overridden = false;
    m.tier_override_until = None;
    let due = override_ended || m.tier_review_at.is_some_and(|at| at <= now);
    (due, override_ended)
}

/// A due review: the member keeps the highest tier `value` supports now (perhaps lower); the
/// next review counts from the last one, so reviews do not drift later each year.
pub fn review(
    m: &mut Member,
    ladder: &[Tier],
    value: i64,
    override_ended: bool,
    now: Timestamp,
    setting: Setting<'_>,
) -> Option<TierChange> {
    let (kept, carry) = tier::review(ladder, value, setting.program.tiers.reset_on_review);
    let current = m
        .tier_id
        .as_ref()
        .and_then(|id| ladder.iter().find(|t| &t.id == id))
        .cloned();
    let months = setting.program.tiers.review_every_months;
    let mut next = m.tier_review_at.unwrap_or(now);
    while next <= now {
        next = tier::next_review(next, months, setting.zone);
    }
    if setting.program.tiers.reset_on_review {
        m.tier_cycle_start = Some(now);
        m.tier_carry = carry;
    }
    let change = if kept.map(|t| &t.id) != current.as_ref().map(|t| &t.id) {
        let note = override_ended.then(|| "override ended".to_string());
        let mut change = move_to(m, kept, REASON_REVIEW, value, note, now, setting);
        change.from = current.map(|t| (t.id, t.name));
        Some(change)
    } else {
        None
    };
    m.tier_review_at = match (setting.program.tiers.downgrade, &m.tier_id) {
        (Downgrade::AtReview, Some(_)) => Some(next),
        _ => None,
    };
    change
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::member::Profile;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn ladder() -> Vec<Tier> {
        [
            ("tie_bac", "Bạc", 1, 1_000_000),
            ("tie_vang", "Vàng", 2, 5_000_000),
        ]
        .into_iter()
        .map(|(id, name, rank, threshold)| Tier {
            id: id.into(),
            name: name.into(),
            rank,
            threshold,
            earn_multiplier_per_mille: 1000,
            discount_percent: 0,
            brand_discounts: vec![],
            created_at: at("2026-01-01T00:00:00Z"),
            updated_at: at("2026-01-01T00:00:00Z"),
        })
        .collect()
    }

    fn member(tier_id: Option<&str>) -> Member {
        Member {
            tier_id: tier_id.map(str::to_string),
            ..Member::new(
                "K7Q3M9P2".into(),
                MemberStatus::Member,
                Profile::default(),
                None,
                at("2026-01-01T00:00:00Z"),
            )
        }
    }

    fn vietnam() -> TimeZone {
        TimeZone::get("Asia/Ho_Chi_Minh").unwrap()
    }

    #[test]
    fn an_upgrade_moves_up_names_both_tiers_and_sets_the_review_a_year_on() {
        let (program, zone, now) = (Program::default(), vietnam(), at("2026-06-01T03:00:00Z"));
        let setting = Setting {
            program: &program,
            zone: &zone,
        };
        let mut m = member(Some("tie_bac"));
        let change = upgrade(&mut m, &ladder(), 6_000_000, now, setting).expect("an upgrade");
        assert_eq!(m.tier_id.as_deref(), Some("tie_vang"));
        assert_eq!(change.from, Some(("tie_bac".into(), "Bạc".into())));
        assert_eq!(change.to, Some(("tie_vang".into(), "Vàng".into())));
        assert_eq!(
            (change.reason.as_str(), change.value),
            (REASON_UPGRADE, 6_000_000)
        );
        assert_eq!(m.tier_review_at, Some(at("2027-06-01T03:00:00Z")));
        // Never down, and not sideways.
        assert_eq!(upgrade(&mut m, &ladder(), 1_500_000, now, setting), None);
        assert_eq!(upgrade(&mut m, &ladder(), 9_000_000, now, setting), None);
        assert_eq!(m.tier_id.as_deref(), Some("tie_vang"));
    }

    #[test]
    fn an_override_holds_the_tier_and_postpones_the_review_until_it_ends() {
        let now = at("2026-06-01T00:00:00Z");
        let mut m = member(Some("tie_vang"));
        m.tier_overridden = true;
        m.tier_override_until = Some(at("2026-07-01T00:00:00Z"));
        assert!(!may_upgrade(&m, &ladder(), now));
        assert_eq!(review_due(&mut m, now), (false, false));
        assert_eq!(m.tier_review_at, m.tier_override_until);
        let (due, ended) = review_due(&mut m, at("2026-07-02T00:00:00Z"));
        assert!(due && ended && !m.tier_overridden);
    }

    #[test]
    fn a_review_keeps_what_the_value_supports_and_counts_the_next_from_the_last() {
        let (program, zone) = (Program::default(), vietnam());
        let setting = Setting {
            program: &program,
            zone: &zone,
        };
        let mut m = member(Some("tie_vang"));
        m.tier_review_at = Some(at("2026-06-01T00:00:00Z"));
        let now = at("2026-06-03T00:00:00Z");
        let (due, ended) = review_due(&mut m, now);
        assert!(due && !ended);
        let change =
            review(&mut m, &ladder(), 2_000_000, ended, now, setting).expect("a move down");
        assert_eq!(m.tier_id.as_deref(), Some("tie_bac"));
        assert_eq!(
            (change.reason.as_str(), change.from.unwrap().1.as_str()),
            (REASON_REVIEW, "Vàng")
        );
        assert_eq!(
            m.tier_review_at,
            Some(at("2027-06-01T00:00:00Z")),
            "not 2027-06-03"
        );
    }
}
