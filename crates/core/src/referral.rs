//! Referral (khách cũ giới thiệu khách mới, API.md "Referral"): the settings, who may refer
//! whom, which order completes a referral and until when it can be taken back. The app reads
//! the counts and rows these rules need and writes what they decide.

use jiff::{SignedDuration, Timestamp, tz::TimeZone};
use serde::{Deserialize, Serialize};

use crate::error::Invalid;
use crate::limits::{MAX_AMOUNT, MAX_POINTS, within};
use crate::member::{Member, MemberStatus};

/// Program settings `referral` (API.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, default)]
pub struct ReferralSettings {
    pub enabled: bool,
    /// What the member who referred is given when the friend's first order completes it.
    pub referrer_reward: Option<ReferralReward>,
    /// What the friend is given on that order.
    pub friend_reward: Option<ReferralReward>,
    /// The friend's order must be at least this (₫) to complete the referral.
    pub min_order: i64,
    /// Referrals one member may make in a calendar month (the shop's time zone), whatever
    /// became of them.
    pub max_per_referrer_per_month: i64,
    /// Days after completion within which a cancel or full refund of the order takes both
    /// rewards back.
    pub clawback_days: i64,
}

impl Default for ReferralSettings {
    fn default() -> Self {
        ReferralSettings {
            enabled: false,
            referrer_reward: None,
            friend_reward: None,
            min_order: 0,
            max_per_referrer_per_month: 20,
            clawback_days: 30,
        }
    }
}

/// A referral reward: points, or a voucher of one of the shop's voucher programs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged, deny_unknown_fields)]
pub enum ReferralReward {
    Points { points: i64 },
    Voucher { voucher_program_id: String },
}

impl ReferralSettings {
    /// The settings' mistakes, each under `referral.…`.
    pub fn check(&self, e: &mut Invalid) {
        for (field, reward) in [
            ("referral.referrer_reward", &self.referrer_reward),
            ("referral.friend_reward", &self.friend_reward),
        ] {
            match reward {
                Some(ReferralReward::Points { points }) => {
                    within(e, &format!("{field}.points"), *points, 1, MAX_POINTS);
                }
                Some(ReferralReward::Voucher { voucher_program_id })
                    if voucher_program_id.trim().is_empty() =>
                {
                    e.required(format!("{field}.voucher_program_id"));
                }
                _ => {}
            }
        }
        within(e, "referral.min_order", self.min_order, 0, MAX_AMOUNT);
        within(
            e,
            "referral.max_per_referrer_per_month",
            self.max_per_referrer_per_month,
            1,
            10_000,
        );
        within(e, "referral.clawback_days", self.clawback_days, 0, 365);
    }

    /// The voucher programs the rewards name (the app checks they exist).
    pub fn voucher_programs(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("referral.referrer_reward", &self.referrer_reward),
            ("referral.friend_reward", &self.friend_reward),
        ]
        .into_iter()
        .filter_map(|(field, reward)| match reward {
            Some(ReferralReward::Voucher { voucher_program_id }) => {
                Some((field, voucher_program_id.as_str()))
            }
            _ => None,
        })
    }
}

/// Why a referral is refused (the API's 422 `reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the shop has no referral program")]
    Disabled,
    #[error("a member cannot refer themselves")]
    SelfReferral,
    #[error("the friend has already bought from the shop")]
    FriendHasOrders,
    #[error("the friend was already referred")]
    AlreadyReferred,
    #[error("the member has made as many referrals as a month allows")]
    MonthlyCap,
    #[error("a blocked member cannot refer")]
    ReferrerBlocked,
}

impl Refusal {
    /// The API's `reason`.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::Disabled => "referral_disabled",
            Refusal::SelfReferral => "self_referral",
            Refusal::FriendHasOrders => "friend_has_orders",
            Refusal::AlreadyReferred => "already_referred",
            Refusal::MonthlyCap => "monthly_cap",
            Refusal::ReferrerBlocked => "member_blocked",
        }
    }
}

/// What is known of a proposed referral when it is decided.
pub struct Proposal<'a> {
    pub referrer: &'a Member,
    pub friend: &'a Member,
    /// The friend has a referral of their own already (as the friend).
    pub friend_referred: bool,
    /// The referrer was referred by this friend (a pair referring each other is one person
    /// twice, or a trade of rewards).
    pub mutual: bool,
    /// Referrals the referrer made since the start of this month.
    pub made_this_month: i64,
}

/// Decides whether a referral may be made.
pub fn may_refer(settings: &ReferralSettings, p: &Proposal<'_>) -> Result<(), Refusal> {
    if !settings.enabled {
        return Err(Refusal::Disabled);
    }
    if p.referrer.id == p.friend.id || p.mutual || same_contact(p.referrer, p.friend) {
        return Err(Refusal::SelfReferral);
    }
    if p.referrer.status == MemberStatus::Blocked {
        return Err(Refusal::ReferrerBlocked);
    }
    if p.friend_referred {
        return Err(Refusal::AlreadyReferred);
    }
    if p.friend.order_count > 0 {
        return Err(Refusal::FriendHasOrders);
    }
    if p.made_this_month >= settings.max_per_referrer_per_month {
        return Err(Refusal::MonthlyCap);
    }
    Ok(())
}

fn same_contact(a: &Member, b: &Member) -> bool {
    let same = |x: Option<&str>, y: Option<&str>| x.is_some() && x == y;
    same(
        a.profile.phone.as_ref().map(|p| p.as_str()),
        b.profile.phone.as_ref().map(|p| p.as_str()),
    ) || same(
        a.profile.email.as_ref().map(|e| e.as_str()),
        b.profile.email.as_ref().map(|e| e.as_str()),
    )
}

/// The start of the calendar month `now` falls in, in the shop's time zone (the monthly cap).
pub fn month_start(now: Timestamp, zone: &TimeZone) -> Timestamp {
    now.to_zoned_datetime(zone.clone())
        .date()
        .first_of_month()
        .to_zoned_datetime(zone.clone())
        .map(|z| z.timestamp())
        .unwrap_or(now)
}

/// Whether a paid order of `total` completes the friend's pending referral.
pub fn completes(settings: &ReferralSettings, total: i64) -> bool {
    settings.enabled && total >= settings.min_order
}

/// Whether a cancel or full refund at `now` of the order that completed a referral at
/// `completed_at` takes its rewards back.
pub fn claws_back(settings: &ReferralSettings, completed_at: Timestamp, now: Timestamp) -> bool {
    now.duration_since(completed_at) <= SignedDuration::from_hours(24 * settings.clawback_days)
}

/// A referral as the API shows it (`GET /api/v1/referrals`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Referral {
    pub id: String,
    pub referrer_id: String,
    pub friend_id: String,
    /// `pending`, `completed` or `reversed`.
    pub status: String,
    /// Where it was made: `registration`, `pos` or `portal`.
    pub source: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub created_at: Timestamp,
    pub completed_order_id: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub completed_at: Option<Timestamp>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub reversed_at: Option<Timestamp>,
    /// What completing it gave the member who referred.
    pub referrer_reward: Given,
    /// What completing it gave the friend.
    pub friend_reward: Given,
}

/// What one side of a referral was given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Given {
    pub points: i64,
    pub voucher_code: Option<String>,
}

/// The referral report (`GET /api/v1/reports/referrals`): referrals made, completed and
/// reversed in the period, what referred friends bought, and what the rewards cost.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReferralReport {
    /// Members who referred someone in the period.
    pub referrers: i64,
    /// Friends referred in the period.
    pub friends: i64,
    pub completed: i64,
    pub reversed: i64,
    /// Orders of referred friends placed in the period (not cancelled), and their revenue net
    /// of refunds (₫).
    pub friends_orders: i64,
    pub friends_revenue: i64,
    /// Points given by referrals completed in the period and not reversed.
    pub points_given: i64,
    /// Those points at the program's point value (₫).
    pub points_cost: i64,
    pub vouchers_given: i64,
}

/// Length of a member's referral code (letters and digits without look-alikes).
pub const CODE_LEN: usize = 8;

/// Whether `text` looks like a referral code rather than a phone number.
pub fn looks_like_code(text: &str) -> bool {
    text.len() == CODE_LEN && text.bytes().any(|b| b.is_ascii_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::member::Profile;

    fn member(id: &str, phone: &str, orders: i64) -> Member {
        let profile = Profile {
            phone: crate::phone::Phone::parse(phone).ok(),
            ..Profile::default()
        };
        let mut m = Member::new(
            "CODE0001".into(),
            MemberStatus::Member,
            profile,
            None,
            Timestamp::UNIX_EPOCH,
        );
        m.id = crate::id::MemberId::from(id);
        m.order_count = orders;
        m
    }

    fn on() -> ReferralSettings {
        ReferralSettings {
            enabled: true,
            max_per_referrer_per_month: 2,
            ..ReferralSettings::default()
        }
    }

    fn proposal<'a>(referrer: &'a Member, friend: &'a Member) -> Proposal<'a> {
        Proposal {
            referrer,
            friend,
            friend_referred: false,
            mutual: false,
            made_this_month: 0,
        }
    }

    #[test]
    fn refuses_what_api_md_lists() {
        let (a, b) = (member("a", "0901234567", 3), member("b", "0912345678", 0));
        assert_eq!(may_refer(&on(), &proposal(&a, &b)), Ok(()));
        assert_eq!(
            may_refer(&ReferralSettings::default(), &proposal(&a, &b)),
            Err(Refusal::Disabled)
        );
        assert_eq!(
            may_refer(&on(), &proposal(&a, &a)),
            Err(Refusal::SelfReferral)
        );
        let twin = member("c", "0901234567", 0);
        assert_eq!(
            may_refer(&on(), &proposal(&a, &twin)),
            Err(Refusal::SelfReferral)
        );
        assert_eq!(
            may_refer(&on(), &proposal(&b, &a)),
            Err(Refusal::FriendHasOrders)
        );
        let referred = Proposal {
            friend_referred: true,
            ..proposal(&a, &b)
        };
        assert_eq!(may_refer(&on(), &referred), Err(Refusal::AlreadyReferred));
        let capped = Proposal {
            made_this_month: 2,
            ..proposal(&a, &b)
        };
        assert_eq!(may_refer(&on(), &capped), Err(Refusal::MonthlyCap));
        let mutual = Proposal {
            mutual: true,
            ..proposal(&a, &b)
        };
        assert_eq!(may_refer(&on(), &mutual), Err(Refusal::SelfReferral));
    }

    #[test]
    fn the_month_starts_in_the_shops_zone() {
        let zone = TimeZone::get("Asia/Ho_Chi_Minh").unwrap();
        // 2026-12-01 03:00 in Hà Nội is 2026-11-30 20:00 UTC.
        let now: Timestamp = "2026-11-30T20:00:00Z".parse().unwrap();
        assert_eq!(
            month_start(now, &zone),
            "2026-11-30T17:00:00Z".parse::<Timestamp>().unwrap()
        );
    }

    #[test]
    fn clawback_window_and_minimum_order() {
        let s = ReferralSettings {
            enabled: true,
            min_order: 100_000,
            clawback_days: 30,
            ..ReferralSettings::default()
        };
        assert!(!completes(&s, 99_999));
        assert!(completes(&s, 100_000));
        let done: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        assert!(claws_back(
            &s,
            done,
            "2026-01-31T00:00:00Z".parse().unwrap()
        ));
        assert!(!claws_back(
            &s,
            done,
            "2026-01-31T00:00:01Z".parse().unwrap()
        ));
    }

    #[test]
    fn settings_are_checked() {
        let s = ReferralSettings {
            referrer_reward: Some(ReferralReward::Points { points: 0 }),
            friend_reward: Some(ReferralReward::Voucher {
                voucher_program_id: " ".into(),
            }),
            clawback_days: 400,
            ..ReferralSettings::default()
        };
        let mut e = Invalid::default();
        s.check(&mut e);
        let fields: Vec<String> = e.0.iter().map(|f| f.field.clone()).collect();
        assert!(fields.contains(&"referral.referrer_reward.points".to_string()));
        assert!(fields.contains(&"referral.friend_reward.voucher_program_id".to_string()));
        assert!(fields.contains(&"referral.clawback_days".to_string()));
        let parsed: ReferralSettings = serde_json::from_str(
            r#"{"enabled": true, "referrer_reward": {"points": 100}, "friend_reward": {"voucher_program_id": "vp_1"}}"#,
        )
        .unwrap();
        assert_eq!(
            parsed.friend_reward,
            Some(ReferralReward::Voucher {
                voucher_program_id: "vp_1".into()
            })
        );
    }
}
