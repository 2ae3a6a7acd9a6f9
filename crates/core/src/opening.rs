//! What a row of a member import does to a member: the profile it fills in, the status and
//! "member since" it sets, and — for a new member or a first link to the previous program's
//! account — the opening state it brings (opening points, lifetime spend, the tier the member
//! held). `app` finds the rows' members, asks these, and writes the result in one transaction;
//! the opening points go into the ledger as an adjustment.

use jiff::Timestamp;

use crate::error::Invalid;
use crate::import::{EXTERNAL_SYSTEM, MemberRow};
use crate::limits::checked_total;
use crate::member::{Member, MemberStatus};
use crate::records::TierChange;
use crate::tier::Tier;
use crate::tier_moves::{self, REASON_IMPORT, Setting};

/// The member a row creates or changes, and what else it brings.
#[derive(Debug, Clone)]
pub struct Opening {
    pub member: Member,
    /// Points to credit as an opening balance (0: none).
    pub points: i64,
    /// The tier the row places the member in, when it moves them.
    pub tier_change: Option<TierChange>,
    /// Whether the profile, status or "member since" changed (an existing member's row).
    pub profile_changed: bool,
}

impl Opening {
    /// Whether the row changes anything at all; a row that does not writes nothing.
    pub fn changes(&self, before: &Member) -> bool {
        self.profile_changed
            || self.points > 0
            || self.member.lifetime_spend != before.lifetime_spend
            || self.tier_change.is_some()
    }
}

/// A new member from a row. The opening points are the member's balance and lifetime points
/// (the caller writes them as one lot); the tier is taken as the row says.
pub fn create(
    mut member: Member,
    row: &MemberRow,
    ladder: &[Tier],
    now: Timestamp,
    setting: Setting<'_>,
) -> Opening {
    let status = row.status.unwrap_or(MemberStatus::Member);
    apply_profile(&mut member, row);
    member.status = status;
    member.member_since = match status {
        MemberStatus::Customer => row.member_since,
        _ => Some(row.member_since.unwrap_or(now)),
    };
    let spend = row.lifetime_spend.unwrap_or(0);
    member.lifetime_spend = spend;
    let points = row.points.filter(|p| *p > 0).unwrap_or(0);
    let tier_change = placed_tier(row, ladder).map(|tier| {
        tier_moves::move_to(
            &mut member,
            Some(tier),
            REASON_IMPORT,
            spend,
            None,
            now,
            setting,
        )
    });
    Opening {
        member,
        points,
        tier_change,
        profile_changed: true,
    }
}

/// An existing member under a row: its non-blank cells over the profile and, on a first link
/// to the previous program's account, the opening state. Refused (naming the column) when the
/// member is blocked and the row brings points, or a total would leave the countable range.
pub fn update(
    before: &Member,
    row: &MemberRow,
    first_link: bool,
    ladder: &[Tier],
    now: Timestamp,
    setting: Setting<'_>,
) -> Result<Opening, Invalid> {
    let mut m = before.clone();
    apply_profile(&mut m, row);
    if let Some(status) = row.status {
        m.status = status;
    }
    if m.status != MemberStatus::Customer && m.member_since.is_none() {
        m.member_since = Some(row.member_since.unwrap_or(now));
    }
    let points = if first_link {
        row.points.unwrap_or(0)
    } else {
        0
    };
    if points > 0 && m.status == MemberStatus::Blocked {
        let message = "a blocked member's points cannot change";
        return Err(Invalid::one("points", "member_blocked", message));
    }
    if let Err(error) = checked_total("lifetime points", m.lifetime_points, points) {
        return Err(Invalid::one(
            "points",
            "total.out_of_range",
            error.to_string(),
        ));
    }
    let mut tier_change = None;
    if first_link {
        if let Some(since) = row.member_since {
            m.member_since = Some(since);
        }
        let spend = row.lifetime_spend.unwrap_or(0);
        m.lifetime_spend = checked_total("lifetime spend", m.lifetime_spend, spend)
            .map_err(|e| Invalid::one("lifetime_spend", "total.out_of_range", e.to_string()))?;
        if let Some(tier) = placed_tier(row, ladder)
            && m.tier_id.as_ref() != Some(&tier.id)
        {
            let value = m.lifetime_spend;
            let change =
                tier_moves::move_to(&mut m, Some(tier), REASON_IMPORT, value, None, now, setting);
            tier_change = Some(change);
        }
    }
    let profile_changed = m.profile != before.profile
        || m.status != before.status
        || m.member_since != before.member_since;
    Ok(Opening {
        member: m,
        points,
        tier_change,
        profile_changed,
    })
}

/// The tier the row names, when the ladder has it.
fn placed_tier<'a>(row: &MemberRow, ladder: &'a [Tier]) -> Option<&'a Tier> {
    row.tier_id
        .as_ref()
        .and_then(|id| ladder.iter().find(|t| &t.id == id))
}

/// The row's non-blank cells over the member's profile.
fn apply_profile(m: &mut Member, r: &MemberRow) {
    let p = &mut m.profile;
    if let Some(v) = &r.phone {
        p.phone = Some(v.clone());
    }
    if let Some(v) = &r.email {
        p.email = Some(v.clone());
    }
    if let Some(v) = &r.name {
        p.name = Some(v.clone());
    }
    if let Some(v) = r.gender {
        p.gender = Some(v);
    }
    if let Some(v) = r.birthday {
        p.birthday = Some(v);
    }
    if let Some(v) = &r.province {
        p.province = Some(v.clone());
    }
    if let Some(v) = &r.district {
        p.district = Some(v.clone());
    }
    if let Some(v) = &r.tags {
        p.tags = v.clone();
    }
    if let Some(v) = &r.external_id {
        p.external_ids
            .insert(EXTERNAL_SYSTEM.to_string(), v.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::member::Profile;
    use crate::program::Program;
    use jiff::tz::TimeZone;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn member(status: MemberStatus) -> Member {
        Member::new(
            "K7Q3M9P2".into(),
            status,
            Profile::default(),
            Some("import".into()),
            at("2026-01-01T00:00:00Z"),
        )
    }

    fn row() -> MemberRow {
        MemberRow {
            phone: None,
            email: None,
            name: Some("Trần Văn Bình".into()),
            gender: None,
            birthday: None,
            province: None,
            district: None,
            tags: None,
            points: Some(1_200),
            lifetime_spend: Some(5_000_000),
            tier_id: None,
            member_since: None,
            external_id: Some("KV-991".into()),
            status: None,
        }
    }

    #[test]
    fn a_new_member_brings_its_opening_state_and_an_existing_one_only_on_a_first_link() {
        let (program, zone) = (Program::default(), TimeZone::UTC);
        let setting = Setting {
            program: &program,
            zone: &zone,
        };
        let now = at("2026-12-01T00:00:00Z");
        let new = create(member(MemberStatus::Member), &row(), &[], now, setting);
        assert_eq!(new.points, 1_200);
        assert_eq!(new.member.lifetime_spend, 5_000_000);
        assert_eq!(new.member.member_since, Some(now));
        assert_eq!(new.member.profile.name.as_deref(), Some("Trần Văn Bình"));

        let before = member(MemberStatus::Member);
        let again = update(&before, &row(), false, &[], now, setting).unwrap();
        assert_eq!((again.points, again.member.lifetime_spend), (0, 0));
        assert!(again.profile_changed && again.changes(&before));
        let linked = update(&before, &row(), true, &[], now, setting).unwrap();
        assert_eq!(
            (linked.points, linked.member.lifetime_spend),
            (1_200, 5_000_000)
        );
    }

    #[test]
    fn a_blocked_member_gets_no_opening_points_and_the_row_says_why() {
        let (program, zone) = (Program::default(), TimeZone::UTC);
        let setting = Setting {
            program: &program,
            zone: &zone,
        };
        let blocked = member(MemberStatus::Blocked);
        let refused = update(
            &blocked,
            &row(),
            true,
            &[],
            at("2026-12-01T00:00:00Z"),
            setting,
        )
        .unwrap_err();
        assert_eq!(refused.0[0].field, "points");
        assert_eq!(refused.0[0].code, "member_blocked");
    }

    #[test]
    fn a_row_that_changes_nothing_is_seen_as_such() {
        let (program, zone) = (Program::default(), TimeZone::UTC);
        let setting = Setting {
            program: &program,
            zone: &zone,
        };
        let before = Member {
            member_since: Some(at("2025-06-01T00:00:00Z")),
            ..member(MemberStatus::Member)
        };
        let empty = MemberRow {
            name: None,
            points: None,
            lifetime_spend: None,
            external_id: None,
            ..row()
        };
        let same = update(
            &before,
            &empty,
            false,
            &[],
            at("2026-12-01T00:00:00Z"),
            setting,
        )
        .unwrap();
        assert!(!same.changes(&before));
    }
}
