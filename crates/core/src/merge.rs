//! Merging two records of one person (API.md "Back office"): what the kept record becomes and
//! what is left of the other, a tombstone pointing at it. The store moves the rows (orders,
//! lots, vouchers…); this decides the two member rows.
//!
//! - The kept record's profile stands; what it lacks (name, phone, e-mail, birthday, gender,
//!   address) comes from the other. Tags are united; attributes and external ids of systems
//!   the kept record has no id in are added. Consent stays the kept record's: a consent is
//!   given for a contact, and the history of both stays on the kept record.
//! - Balances, debt and counters add up exactly (the lots move with them, so `loyalty verify`
//!   still holds); the next balance change is the earlier of the two.
//! - A block on either record holds for the person; a member (activated) on either side
//!   makes the kept record a member, since the earlier of the two activations.

use jiff::Timestamp;

use crate::limits::{OutOfRange, checked_total};
use crate::member::{MAX_TAGS, Member, MemberStatus};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeRefusal {
    #[error("a member cannot be merged into itself")]
    SameMember,
    #[error("that member was already merged into another")]
    AlreadyMerged,
    #[error(transparent)]
    OutOfRange(#[from] OutOfRange),
}

impl MergeRefusal {
    /// The code the API and the UI say it by.
    pub fn code(&self) -> &'static str {
        match self {
            MergeRefusal::SameMember => "merge_into_itself",
            MergeRefusal::AlreadyMerged => "member_merged",
            MergeRefusal::OutOfRange(_) => "points_out_of_range",
        }
    }
}

/// The two rows after the merge.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    pub kept: Member,
    /// Status `merged`; keeps the contacts the kept record did not take (so look-ups by them
    /// still lead somewhere) and the external ids of systems the kept record already had.
    pub tombstone: Member,
}

/// Decides the merge of `from` into `kept`.
pub fn merge(kept: &Member, from: &Member, now: Timestamp) -> Result<Merged, MergeRefusal> {
    if kept.id == from.id {
        return Err(MergeRefusal::SameMember);
    }
    if kept.status == MemberStatus::Merged || from.status == MemberStatus::Merged {
        return Err(MergeRefusal::AlreadyMerged);
    }
    let mut k = kept.clone();
    let mut t = from.clone();

    k.status = match (kept.status, from.status) {
        (MemberStatus::Blocked, _) | (_, MemberStatus::Blocked) => MemberStatus::Blocked,
        (MemberStatus::Member, _) | (_, MemberStatus::Member) => MemberStatus::Member,
        _ => MemberStatus::Customer,
    };
    k.member_since = earliest(kept.member_since, from.member_since);

    let (kp, tp) = (&mut k.profile, &mut t.profile);
    if kp.phone.is_none() {
        kp.phone = tp.phone.take();
    }
    if kp.email.is_none() {
        kp.email = tp.email.take();
    }
    fill(&mut kp.name, &tp.name);
    fill(&mut kp.gender, &tp.gender);
    fill(&mut kp.birthday, &tp.birthday);
    fill(&mut kp.province, &tp.province);
    fill(&mut kp.district, &tp.district);
    fill(&mut kp.address, &tp.address);
    for tag in std::mem::take(&mut tp.tags) {
        if kp.tags.len() < MAX_TAGS && !kp.tags.contains(&tag) {
            kp.tags.push(tag);
        }
    }
    for (key, value) in std::mem::take(&mut tp.attributes) {
        kp.attributes.entry(key).or_insert(value);
    }
    let theirs = std::mem::take(&mut tp.external_ids);
    for (system, id) in theirs {
        match kp.external_ids.entry(system) {
            std::collections::btree_map::Entry::Vacant(free) => {
                free.insert(id);
            }
            // Their id in a system the kept record has one in stays on the tombstone, whose
            // index row then still leads to the kept record.
            std::collections::btree_map::Entry::Occupied(taken) => {
                tp.external_ids.insert(taken.key().clone(), id);
            }
        }
    }

    k.points_available = checked_total("points", kept.points_available, from.points_available)?;
    k.points_pending = checked_total("points", kept.points_pending, from.points_pending)?;
    k.points_debt = checked_total("points", kept.points_debt, from.points_debt)?;
    k.next_change_at = earliest(kept.next_change_at, from.next_change_at);
    k.lifetime_points = checked_total("points", kept.lifetime_points, from.lifetime_points)?;
    k.lifetime_spend = checked_total("spend", kept.lifetime_spend, from.lifetime_spend)?;
    k.order_count = checked_total("orders", kept.order_count, from.order_count)?;
    k.last_order_at = kept.last_order_at.max(from.last_order_at);
    k.updated_at = now;

    t.status = MemberStatus::Merged;
    t.tier_id = None;
    t.tier_reached_at = None;
    t.tier_review_at = None;
    t.tier_overridden = false;
    t.tier_override_until = None;
    t.points_available = 0;
    t.points_pending = 0;
    t.points_debt = 0;
    t.next_change_at = None;
    t.lifetime_points = 0;
    t.lifetime_spend = 0;
    t.order_count = 0;
    t.last_order_at = None;
    t.updated_at = now;
    Ok(Merged {
        kept: k,
        tombstone: t,
    })
}

fn fill<T: Clone>(kept: &mut Option<T>, theirs: &Option<T>) {
    if kept.is_none() {
        kept.clone_from(theirs);
    }
}

fn earliest(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::member::Profile;
    use proptest::prelude::*;

    fn member(id: &str, status: MemberStatus) -> Member {
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        let mut m = Member::new(format!("code-{id}"), status, Profile::default(), None, now);
        m.id = id.into();
        m
    }

    #[test]
    fn refuses_itself_and_tombstones() {
        let a = member("a", MemberStatus::Member);
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        assert_eq!(merge(&a, &a, now), Err(MergeRefusal::SameMember));
        let gone = member("b", MemberStatus::Merged);
        assert_eq!(merge(&a, &gone, now), Err(MergeRefusal::AlreadyMerged));
        assert_eq!(merge(&gone, &a, now), Err(MergeRefusal::AlreadyMerged));
    }

    #[test]
    fn the_kept_profile_stands_and_takes_what_it_lacks() {
        let mut a = member("a", MemberStatus::Customer);
        a.profile.name = Some("Lan".into());
        a.profile.tags = vec!["vip".into()];
        a.profile.external_ids.insert("haravan".into(), "1".into());
        let mut b = member("b", MemberStatus::Member);
        b.profile.name = Some("Nguyễn Thị Lan".into());
        b.profile.email = Some(crate::email::Email::parse("lan@example.vn").unwrap());
        b.profile.tags = vec!["vip".into(), "cafe".into()];
        b.profile.external_ids.insert("haravan".into(), "2".into());
        b.profile.external_ids.insert("shopify".into(), "9".into());
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let m = merge(&a, &b, now).unwrap();
        assert_eq!(m.kept.profile.name.as_deref(), Some("Lan"));
        assert_eq!(m.kept.profile.email, b.profile.email);
        assert_eq!(m.tombstone.profile.email, None, "the e-mail moved");
        assert_eq!(m.kept.profile.tags, vec!["vip", "cafe"]);
        assert_eq!(m.kept.profile.external_ids["haravan"], "1");
        assert_eq!(m.kept.profile.external_ids["shopify"], "9");
        assert_eq!(m.tombstone.profile.external_ids["haravan"], "2");
        assert_eq!(m.kept.status, MemberStatus::Member);
        assert_eq!(m.tombstone.status, MemberStatus::Merged);
    }

    #[test]
    fn a_block_on_either_side_holds() {
        let a = member("a", MemberStatus::Member);
        let b = member("b", MemberStatus::Blocked);
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        assert_eq!(
            merge(&a, &b, now).unwrap().kept.status,
            MemberStatus::Blocked
        );
    }

    proptest! {
        /// Nothing is lost or made: the two rows after hold exactly what the two held before.
        #[test]
        fn balances_and_counters_add_up(
            av in 0i64..1 << 40, bv in 0i64..1 << 40,
            ap in 0i64..1 << 40, bp in 0i64..1 << 40,
            ad in 0i64..1 << 40, bd in 0i64..1 << 40,
            asp in 0i64..1 << 50, bsp in 0i64..1 << 50,
        ) {
            let mut a = member("a", MemberStatus::Member);
            let mut b = member("b", MemberStatus::Member);
            (a.points_available, a.points_pending, a.points_debt, a.lifetime_spend) = (av, ap, ad, asp);
            (b.points_available, b.points_pending, b.points_debt, b.lifetime_spend) = (bv, bp, bd, bsp);
            let m = merge(&a, &b, Timestamp::from_second(1_800_000_000).unwrap()).unwrap();
            prop_assert_eq!(m.kept.points_available + m.tombstone.points_available, av + bv);
            prop_assert_eq!(m.kept.points_pending + m.tombstone.points_pending, ap + bp);
            prop_assert_eq!(m.kept.points_debt + m.tombstone.points_debt, ad + bd);
            prop_assert_eq!(m.kept.lifetime_spend + m.tombstone.lifetime_spend, asp + bsp);
        }

        #[test]
        fn sums_beyond_range_are_refused(extra in 1i64..1000) {
            let mut a = member("a", MemberStatus::Member);
            let mut b = member("b", MemberStatus::Member);
            a.points_available = i64::MAX - extra + 1;
            b.points_available = extra;
            let refused = merge(&a, &b, Timestamp::from_second(1_800_000_000).unwrap());
            prop_assert!(matches!(refused, Err(MergeRefusal::OutOfRange(_))));
        }
    }
}
