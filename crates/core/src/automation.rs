//! Automations (API.md "Automations"): a trigger and a list of steps a member goes through, one
//! run per occurrence of the trigger. This module decides, without I/O: whether an input is a
//! valid automation, when a trigger's occurrence is due and its once-key (a birthday once per
//! member per year, an order once, a lapse once per last purchase, an expiring lot once per
//! date), and where a run goes after a step. The runner (app) sequences; the store keeps runs
//! unique per (automation, member, occurrence key).

use jiff::civil::Date;
use jiff::{Span, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::birthday::Birthday;
use crate::campaign::CampaignChannel;
use crate::error::Invalid;

/// Steps an automation may have.
pub const MAX_STEPS: usize = 30;
/// The longest `wait` (a year): a run is not a calendar.
pub const MAX_WAIT_DAYS: i64 = 366;

/// A journey a marketer sets up once.
#[derive(Debug, Clone, PartialEq)]
pub struct Automation {
    pub id: String,
    pub name: String,
    pub active: bool,
    pub trigger: Trigger,
    pub steps: Vec<Step>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Trigger {
    /// The trigger's type as API.md names it (`birthday`, `order_paid`, …).
    pub fn type_name(&self) -> &'static str {
        match self {
            Trigger::MemberCreated => "member_created",
            Trigger::MemberActivated => "member_activated",
            Trigger::OrderPaid { .. } => "order_paid",
            Trigger::TierChanged { .. } => "tier_changed",
            Trigger::Birthday { .. } => "birthday",
            Trigger::NoPurchase { .. } => "no_purchase",
            Trigger::PointsExpiring { .. } => "points_expiring",
            Trigger::ReferralCompleted => "referral_completed",
            Trigger::SegmentEntered { .. } => "segment_entered",
        }
    }
}

/// What starts a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    MemberCreated,
    MemberActivated,
    OrderPaid {
        /// Only orders of at least this total (đồng).
        #[serde(default)]
        min_total: Option<i64>,
        /// Only the member's n-th paid order (1 = the first).
        #[serde(default)]
        index: Option<i64>,
    },
    TierChanged {
        #[serde(default)]
        direction: Direction,
        /// Only moves into this tier.
        #[serde(default)]
        tier_id: Option<String>,
    },
    Birthday {
        #[serde(default)]
        days_before: i64,
    },
    NoPurchase {
        days: i64,
    },
    PointsExpiring {
        #[serde(default)]
        days_before: i64,
    },
    ReferralCompleted,
    SegmentEntered {
        segment_id: String,
    },
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    #[default]
    Up,
    Down,
    Any,
}

/// One step of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    Send {
        channels: Vec<CampaignChannel>,
        /// `advertising` (the default: consent needed, the weekly cap, `QC` on SMS) or
        /// `customer_care` (a thank-you, a points notice).
        #[serde(default)]
        purpose: Option<String>,
    },
    IssueVoucher {
        voucher_program_id: String,
    },
    GivePoints {
        points: i64,
        #[serde(default)]
        reason: Option<String>,
    },
    Tag {
        #[serde(default)]
        add: Vec<String>,
        #[serde(default)]
        remove: Vec<String>,
    },
    /// An ISO 8601 duration (`PT2H`, `P3D`).
    Wait {
        duration: String,
    },
    /// A segment condition tree on the member; false ends the run (`stopped`).
    Condition {
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        conditions: Value,
    },
    Webhook {
        url: String,
    },
}

/// Checks what can be checked without the database (channels, programs and segments named by
/// the steps are the app's to find).
pub fn check(trigger: &Trigger, steps: &[Step]) -> Result<(), Invalid> {
    let mut errors = Invalid::default();
    match trigger {
        Trigger::Birthday { days_before } | Trigger::PointsExpiring { days_before }
            if !(0..=30).contains(days_before) =>
        {
            errors.push_bounded(
                "trigger.days_before",
                "out_of_range",
                (0, 30),
                "0 to 30 days",
            );
        }
        Trigger::NoPurchase { days } if !(1..=3650).contains(days) => {
            errors.push_bounded("trigger.days", "out_of_range", (1, 3650), "1 to 3650 days");
        }
        Trigger::OrderPaid { min_total, index } => {
            if min_total.is_some_and(|t| !(0..=crate::limits::MAX_AMOUNT).contains(&t)) {
                errors.push_bounded(
                    "trigger.min_total",
                    "out_of_range",
                    (0, crate::limits::MAX_AMOUNT),
                    "an order total in đồng",
                );
            }
            if index.is_some_and(|i| !(1..=1000).contains(&i)) {
                errors.push_bounded("trigger.index", "out_of_range", (1, 1000), "1 to 1000");
            }
        }
        Trigger::SegmentEntered { segment_id } if segment_id.trim().is_empty() => {
            errors.required("trigger.segment_id");
        }
        _ => {}
    }
    if steps.is_empty() {
        errors.required("steps");
    }
    if steps.len() > MAX_STEPS {
        errors.push_bounded(
            "steps",
            "too_many",
            (1, MAX_STEPS as i64),
            "at most 30 steps",
        );
    }
    for (i, step) in steps.iter().enumerate() {
        let field = |name: &str| format!("steps[{i}].{name}");
        match step {
            Step::Send { channels, purpose } => {
                if channels.is_empty() {
                    errors.required(field("channels"));
                }
                if purpose
                    .as_deref()
                    .is_some_and(|p| crate::messaging::Purpose::parse(p).is_none())
                {
                    errors.push_coded(field("purpose"), "invalid", "advertising or customer_care");
                }
            }
            Step::IssueVoucher { voucher_program_id } if voucher_program_id.trim().is_empty() => {
                errors.required(field("voucher_program_id"))
            }
            Step::GivePoints { points, .. }
                if !(1..=crate::limits::MAX_POINTS).contains(points) =>
            {
                errors.push_bounded(
                    field("points"),
                    "out_of_range",
                    (1, crate::limits::MAX_POINTS),
                    "a positive number of points",
                )
            }
            Step::Tag { add, remove } => {
                if add.is_empty() && remove.is_empty() {
                    errors.required(field("add"));
                }
                if add.len() + remove.len() > 20 {
                    errors.push_bounded(field("add"), "too_many", (1, 20), "at most 20 tags");
                }
                if add
                    .iter()
                    .chain(remove)
                    .any(|t| t.trim().is_empty() || t.len() > 50)
                {
                    errors.push_coded(field("add"), "invalid", "tags of 1 to 50 characters");
                }
            }
            Step::Wait { duration } => {
                if let Err(why) = wait_span(duration) {
                    errors.push_coded(field("duration"), "invalid", why);
                }
            }
            Step::Condition { conditions } if !conditions.is_object() => {
                errors.push_coded(field("conditions"), "invalid", "a condition tree")
            }
            Step::Webhook { url }
                if !(url.starts_with("https://") || url.starts_with("http://")) =>
            {
                errors.push_coded(field("url"), "invalid", "an http(s) address")
            }
            _ => {}
        }
    }
    errors.into_result(|| ())
}

/// A `wait` step's duration: ISO 8601, more than nothing and at most a year.
pub fn wait_span(duration: &str) -> Result<Span, &'static str> {
    let duration = duration.trim();
    // jiff also reads "3 days"; the contract is ISO 8601 only.
    if !duration.starts_with(['P', 'p']) {
        return Err("an ISO 8601 duration such as PT2H or P3D");
    }
    let span: Span = duration
        .parse()
        .map_err(|_| "an ISO 8601 duration such as PT2H or P3D")?;
    let hours = span
        .total((jiff::Unit::Hour, jiff::civil::date(2026, 1, 1)))
        .map_err(|_| "an ISO 8601 duration such as PT2H or P3D")?;
    if span.is_negative() || hours <= 0.0 {
        return Err("a duration of more than nothing");
    }
    if hours > (MAX_WAIT_DAYS * 24) as f64 {
        return Err("at most a year");
    }
    Ok(span)
}

/// When a run waiting `duration` from `now` goes on, counted in the shop's calendar (a day is
/// a calendar day there).
pub fn wait_until(now: Timestamp, duration: &str, zone: &jiff::tz::TimeZone) -> Option<Timestamp> {
    let span = wait_span(duration).ok()?;
    now.to_zoned_datetime(zone.clone())
        .checked_add(span)
        .ok()
        .map(|z| z.timestamp())
}

/// The birthday a pass on `today` (the shop's date) greets `days_before` days ahead, as its
/// once-key (`birthday:2026`), if that day is the member's birthday. A 29 February birthday is
/// greeted on 28 February in other years.
pub fn birthday_due(birthday: Birthday, today: Date, days_before: i64) -> Option<String> {
    let target = today.checked_add(Span::new().days(days_before)).ok()?;
    let (month, day) = if birthday.month == 2 && birthday.day == 29 && !target.in_leap_year() {
        (2, 28)
    } else {
        (birthday.month, birthday.day)
    };
    (target.month() == month && target.day() == day).then(|| format!("birthday:{}", target.year()))
}

/// A member whose last purchase was `days` or more ago has lapsed, once per last purchase: the
/// key names it, so a new purchase and a new lapse make a new occurrence. A member who never
/// bought has nothing to come back to.
pub fn lapse_due(last_order_at: Option<Timestamp>, now: Timestamp, days: i64) -> Option<String> {
    let last = last_order_at?;
    let lapsed = last
        .checked_add(jiff::SignedDuration::from_hours(days * 24))
        .ok()?
        <= now;
    lapsed.then(|| format!("lapse:{}", last.as_millisecond()))
}

/// Points expiring on `expires_on` are announced `days_before` days ahead (or later, if the pass
/// was late), once per expiry date.
pub fn expiring_due(expires_on: Date, today: Date, days_before: i64) -> Option<String> {
    let announce = expires_on.checked_sub(Span::new().days(days_before)).ok()?;
    (announce <= today && today <= expires_on).then(|| format!("expiring:{expires_on}"))
}

/// Whether a tier move matches the trigger.
pub fn tier_move_matches(
    direction: Direction,
    wanted_tier: Option<&str>,
    went_up: bool,
    to_tier: Option<&str>,
) -> bool {
    let way = match direction {
        Direction::Up => went_up,
        Direction::Down => !went_up,
        Direction::Any => true,
    };
    way && wanted_tier.is_none_or(|t| Some(t) == to_tier)
}

/// Whether a paid order starts a run: its total and the member's count of paid orders with it.
pub fn order_matches(min_total: Option<i64>, index: Option<i64>, total: i64, nth: i64) -> bool {
    min_total.is_none_or(|m| total >= m) && index.is_none_or(|i| i == nth)
}

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Waiting,
    Running,
    Done,
    Stopped,
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Waiting => "waiting",
            RunStatus::Running => "running",
            RunStatus::Done => "done",
            RunStatus::Stopped => "stopped",
            RunStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<RunStatus> {
        Some(match s {
            "waiting" => RunStatus::Waiting,
            "running" => RunStatus::Running,
            "done" => RunStatus::Done,
            "stopped" => RunStatus::Stopped,
            "failed" => RunStatus::Failed,
            _ => return None,
        })
    }
}

/// One member going through an automation's steps for one occurrence of its trigger.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub id: String,
    pub automation_id: String,
    pub member_id: String,
    /// The trigger's once-key (`birthday:2027`, `order:ord_…`).
    pub occurrence: String,
    pub status: RunStatus,
    /// The step to do next (its index).
    pub step: i64,
    /// The steps as they were when the run started.
    pub steps: Vec<Step>,
    /// What earlier steps left for later ones (`voucher.code`, the order).
    pub context: Value,
    /// `[{"step", "at", "result"}, …]`.
    pub log: Vec<Value>,
    /// When the next step is due (none once the run ended).
    pub next_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Run {
    /// A run starting now for `member` at the automation's first step.
    pub fn start(
        id: String,
        automation: &Automation,
        member_id: &str,
        occurrence: String,
        context: Value,
        now: Timestamp,
    ) -> Run {
        Run {
            id,
            automation_id: automation.id.clone(),
            member_id: member_id.to_string(),
            occurrence,
            status: RunStatus::Waiting,
            step: 0,
            steps: automation.steps.clone(),
            context,
            log: Vec::new(),
            next_at: Some(now),
            created_at: now,
            updated_at: now,
        }
    }
}

/// What a step came to.
#[derive(Debug, Clone, PartialEq)]
pub enum StepOutcome {
    /// Done; go on at once.
    Done,
    /// A `wait`: go on at this time.
    WaitUntil(Timestamp),
    /// A `condition` that does not hold: the run ends.
    ConditionFalse,
    /// Could not be done (a program gone, a channel deleted).
    Failed(String),
    /// Not done this time (a webhook receiver did not answer 2xx): the same step again then.
    Retry(Timestamp),
}

/// How long a `webhook` step waits before calling again after its `attempts`-th failed call;
/// `None` after the last (the run fails): 1 minute, 5, 30, 2 hours, 12 hours.
pub fn webhook_retry(attempts: usize, now: Timestamp) -> Option<Timestamp> {
    const AFTER_MINUTES: [i64; 5] = [1, 5, 30, 120, 720];
    let minutes = AFTER_MINUTES.get(attempts.checked_sub(1)?)?;
    now.checked_add(jiff::SignedDuration::from_mins(*minutes))
        .ok()
}

/// The run's next state after step `step` of `steps`: (status, the step to do next, when).
pub fn after_step(
    step: usize,
    steps: usize,
    outcome: &StepOutcome,
    now: Timestamp,
) -> (RunStatus, usize, Option<Timestamp>) {
    match outcome {
        StepOutcome::ConditionFalse => (RunStatus::Stopped, step, None),
        StepOutcome::Failed(_) => (RunStatus::Failed, step, None),
        StepOutcome::Retry(at) => (RunStatus::Waiting, step, Some(*at)),
        _ if step + 1 >= steps => (RunStatus::Done, steps, None),
        StepOutcome::WaitUntil(at) => (RunStatus::Waiting, step + 1, Some(*at)),
        StepOutcome::Done => (RunStatus::Waiting, step + 1, Some(now)),
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;
    use serde_json::json;

    use super::*;

    #[test]
    fn a_webhook_step_is_tried_again_five_times_then_fails() {
        let now: Timestamp = "2026-12-07T03:00:00Z".parse().unwrap();
        let at = |n| webhook_retry(n, now).map(|t| (t - now).as_secs() / 60);
        assert_eq!(
            (1..=6).map(at).collect::<Vec<_>>(),
            [Some(1), Some(5), Some(30), Some(120), Some(720), None]
        );
        assert_eq!(webhook_retry(0, now), None);
        let again = StepOutcome::Retry(now);
        assert_eq!(
            after_step(2, 4, &again, now),
            (RunStatus::Waiting, 2, Some(now)),
            "the same step, even the last"
        );
        assert_eq!(
            after_step(3, 4, &again, now),
            (RunStatus::Waiting, 3, Some(now))
        );
    }

    fn birthday(month: i8, day: i8) -> Birthday {
        Birthday {
            year: None,
            month,
            day,
        }
    }

    #[test]
    fn the_api_example_reads_and_checks() {
        let trigger: Trigger =
            serde_json::from_value(json!({"type": "birthday", "days_before": 0})).unwrap();
        let steps: Vec<Step> = serde_json::from_value(json!([
            {"type": "issue_voucher", "voucher_program_id": "vp_1"},
            {"type": "send", "channels": [{"channel_id": "ch_1", "template": {"text": "Chúc mừng sinh nhật"}}]},
            {"type": "wait", "duration": "P3D"},
            {"type": "condition", "conditions": {"all": [{"field": "member.last_order_at", "op": "not_within_days", "value": 3}]}},
            {"type": "send", "channels": [{"channel_id": "ch_1", "template": {"text": "Nhắc"}}]}
        ]))
        .unwrap();
        assert_eq!(check(&trigger, &steps), Ok(()));
    }

    #[test]
    fn bad_inputs_name_their_fields() {
        let steps = vec![
            Step::Wait {
                duration: "3 days".into(),
            },
            Step::GivePoints {
                points: 0,
                reason: None,
            },
            Step::Tag {
                add: vec![],
                remove: vec![],
            },
        ];
        let errors = check(&Trigger::Birthday { days_before: 45 }, &steps).unwrap_err();
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "trigger.days_before",
                "steps[0].duration",
                "steps[1].points",
                "steps[2].add"
            ]
        );
        assert!(check(&Trigger::MemberCreated, &[]).is_err(), "no steps");
        assert!(serde_json::from_value::<Trigger>(json!({"type": "full_moon"})).is_err());
    }

    #[test]
    fn waits_are_bounded_and_counted_in_the_shops_calendar() {
        assert!(wait_span("PT2H").is_ok());
        assert!(wait_span("P3D").is_ok());
        assert!(wait_span("PT0S").is_err());
        assert!(wait_span("P2Y").is_err());
        let zone = jiff::tz::TimeZone::get("Asia/Ho_Chi_Minh").unwrap();
        let now: Timestamp = "2026-12-06T10:00:00Z".parse().unwrap();
        assert_eq!(
            wait_until(now, "PT2H", &zone).unwrap(),
            "2026-12-06T12:00:00Z".parse::<Timestamp>().unwrap()
        );
        assert_eq!(
            wait_until(now, "P1D", &zone).unwrap(),
            "2026-12-07T10:00:00Z".parse::<Timestamp>().unwrap()
        );
    }

    #[test]
    fn a_birthday_is_greeted_once_a_year_days_ahead_across_the_new_year() {
        let b = birthday(1, 3);
        assert_eq!(
            birthday_due(b, date(2026, 12, 27), 7).as_deref(),
            Some("birthday:2027")
        );
        assert_eq!(birthday_due(b, date(2026, 12, 28), 7), None);
        assert_eq!(
            birthday_due(b, date(2027, 1, 3), 0).as_deref(),
            Some("birthday:2027")
        );
        // 29 February: the 28th in other years, the 29th in leap years.
        let leap = birthday(2, 29);
        assert_eq!(
            birthday_due(leap, date(2027, 2, 28), 0).as_deref(),
            Some("birthday:2027")
        );
        assert_eq!(birthday_due(leap, date(2028, 2, 28), 0), None);
        assert_eq!(
            birthday_due(leap, date(2028, 2, 29), 0).as_deref(),
            Some("birthday:2028")
        );
    }

    #[test]
    fn a_lapse_is_keyed_by_the_last_purchase() {
        let last: Timestamp = "2026-10-01T03:00:00Z".parse().unwrap();
        let before: Timestamp = "2026-11-29T03:00:00Z".parse().unwrap();
        let after: Timestamp = "2026-11-30T03:00:00Z".parse().unwrap();
        assert_eq!(lapse_due(Some(last), before, 60), None);
        let key = lapse_due(Some(last), after, 60).unwrap();
        assert_eq!(
            lapse_due(Some(last), after + jiff::SignedDuration::from_hours(48), 60),
            Some(key.clone())
        );
        let again: Timestamp = "2026-12-01T03:00:00Z".parse().unwrap();
        assert_ne!(
            lapse_due(Some(again), "2027-02-01T03:00:00Z".parse().unwrap(), 60),
            Some(key)
        );
        assert_eq!(
            lapse_due(None, after, 60),
            None,
            "never bought, never lapsed"
        );
    }

    #[test]
    fn expiring_points_are_announced_from_days_before_until_the_day() {
        let on = date(2026, 12, 31);
        assert_eq!(expiring_due(on, date(2026, 12, 23), 7), None);
        assert_eq!(
            expiring_due(on, date(2026, 12, 24), 7).as_deref(),
            Some("expiring:2026-12-31")
        );
        assert!(expiring_due(on, date(2026, 12, 31), 7).is_some());
        assert_eq!(expiring_due(on, date(2027, 1, 1), 7), None);
    }

    #[test]
    fn moves_and_orders_match_their_triggers() {
        assert!(tier_move_matches(Direction::Up, None, true, Some("gold")));
        assert!(!tier_move_matches(
            Direction::Up,
            None,
            false,
            Some("silver")
        ));
        assert!(tier_move_matches(
            Direction::Any,
            Some("gold"),
            false,
            Some("gold")
        ));
        assert!(!tier_move_matches(
            Direction::Up,
            Some("gold"),
            true,
            Some("silver")
        ));
        assert!(order_matches(None, None, 10_000, 5));
        assert!(order_matches(Some(100_000), Some(1), 150_000, 1));
        assert!(!order_matches(Some(100_000), None, 99_999, 1));
        assert!(!order_matches(None, Some(1), 150_000, 2));
    }

    #[test]
    fn a_run_goes_on_waits_stops_or_ends() {
        let now: Timestamp = "2026-12-06T10:00:00Z".parse().unwrap();
        let later: Timestamp = "2026-12-06T12:00:00Z".parse().unwrap();
        assert_eq!(
            after_step(0, 3, &StepOutcome::Done, now),
            (RunStatus::Waiting, 1, Some(now))
        );
        assert_eq!(
            after_step(1, 3, &StepOutcome::WaitUntil(later), now),
            (RunStatus::Waiting, 2, Some(later))
        );
        assert_eq!(
            after_step(2, 3, &StepOutcome::Done, now),
            (RunStatus::Done, 3, None)
        );
        assert_eq!(
            after_step(1, 3, &StepOutcome::ConditionFalse, now),
            (RunStatus::Stopped, 1, None)
        );
        assert_eq!(
            after_step(0, 3, &StepOutcome::Failed("gone".into()), now),
            (RunStatus::Failed, 0, None)
        );
    }

    proptest::proptest! {
        /// Whatever the birthday, the year and the days ahead, each year's birthday is greeted
        /// on exactly one day.
        #[test]
        fn each_birthday_is_greeted_on_exactly_one_day(
            month in 1i8..=12, day in 1i8..=31, year in 2001i16..2099, days_before in 0i64..=30
        ) {
            proptest::prop_assume!(Date::new(2000, month, day).is_ok());
            let b = birthday(month, day);
            let key = format!("birthday:{year}");
            let mut greeted = 0;
            let mut d = date(year - 1, 11, 1);
            while d <= date(year, 12, 31) {
                if birthday_due(b, d, days_before).as_deref() == Some(key.as_str()) {
                    greeted += 1;
                }
                d = d.tomorrow().unwrap();
            }
            proptest::prop_assert_eq!(greeted, 1);
        }
    }
}
