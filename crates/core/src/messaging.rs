//! The rules of sending to members (API.md "Channels and messages", "Campaigns"): which of a
//! campaign's channels a member gets (the first they can receive) or why they are suppressed,
//! the weekly cap, and when quiet hours let a message go. Pure: the campaign and automation
//! runners ask, and sequence the rest.

use jiff::civil::Time;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};
use serde::Serialize;

use crate::member::Consent;

/// What a message is for: advertising needs the member's consent and is capped; customer care
/// (points, tier, order and voucher notices) is neither, and both wait out quiet hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    Advertising,
    CustomerCare,
}

/// The kinds of channel, by the address they need: e-mail, or a phone (SMS and Zalo ZNS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    Email,
    Sms,
    Zalo,
}

/// Why a member gets no message (API.md's `suppressed` reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Suppressed {
    Blocked,
    NoAddress,
    Unsubscribed,
    NoConsent,
    FrequencyCap,
}

/// What the rules need to know of a member.
#[derive(Debug, Clone, Default)]
pub struct Recipient {
    pub blocked: bool,
    pub has_phone: bool,
    pub has_email: bool,
    pub consent: Consent,
    /// Channels whose consent was last withdrawn through an unsubscribe link.
    pub unsubscribed: Vec<ChannelKind>,
}

impl Recipient {
    fn has_address(&self, kind: ChannelKind) -> bool {
        match kind {
            ChannelKind::Email => self.has_email,
            ChannelKind::Sms | ChannelKind::Zalo => self.has_phone,
        }
    }

    fn consents(&self, kind: ChannelKind) -> bool {
        match kind {
            ChannelKind::Email => self.consent.email,
            ChannelKind::Sms => self.consent.sms,
            ChannelKind::Zalo => self.consent.zalo,
        }
    }
}

/// The index of the first of `channels` (the campaign's ordered fallback) the member can
/// receive for `purpose`, or why none.
pub fn choose(
    channels: &[ChannelKind],
    member: &Recipient,
    purpose: Purpose,
) -> Result<usize, Suppressed> {
    route(channels, member, purpose).map(|route| route[0])
}

/// The indexes of every one of `channels` the member can receive for `purpose`, in the
/// campaign's order (the first is sent; the others are the fallbacks after a permanent
/// failure), or why none.
pub fn route(
    channels: &[ChannelKind],
    member: &Recipient,
    purpose: Purpose,
) -> Result<Vec<usize>, Suppressed> {
    let advertising = purpose == Purpose::Advertising;
    if advertising && member.blocked {
        return Err(Suppressed::Blocked);
    }
    let open: Vec<usize> = channels
        .iter()
        .enumerate()
        .filter(|&(_, &kind)| member.has_address(kind) && (!advertising || member.consents(kind)))
        .map(|(at, _)| at)
        .collect();
    if !open.is_empty() {
        return Ok(open);
    }
    let reachable: Vec<ChannelKind> = channels
        .iter()
        .copied()
        .filter(|&kind| member.has_address(kind))
        .collect();
    if reachable.is_empty() {
        Err(Suppressed::NoAddress)
    } else if reachable.iter().any(|k| member.unsubscribed.contains(k)) {
        Err(Suppressed::Unsubscribed)
    } else {
        Err(Suppressed::NoConsent)
    }
}

/// Whether one more advertising message fits the weekly cap: fewer than `max` sent in the
/// rolling seven days before `now` (campaigns and automations together).
pub fn within_weekly_cap(sent: &[Timestamp], now: Timestamp, max: u32) -> bool {
    let since = now - SignedDuration::from_hours(7 * 24);
    let recent = sent.iter().filter(|&&at| at > since && at <= now).count();
    recent < max as usize
}

/// What a sender does with a message after the provider's answer (or its silence).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Recorded as sent.
    Sent,
    /// Tried again at this time, on the same channel, with the same reference.
    Retry(Timestamp),
    /// Refused for good here: moved to the next channel of the route.
    Fallback,
    /// Failed for good, with why.
    Failed(String),
}

/// How a provider answered, as far as the decision needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Sent,
    Permanent(String),
    Temporary(String),
    /// No answer after the request left.
    Unknown(String),
}

/// Attempts of one message on one channel before it fails (about 8 hours of backoff).
pub const MAX_SEND_ATTEMPTS: i64 = 8;

/// The decision after attempt number `attempts` on a channel: a permanent refusal falls back
/// when another channel remains; a temporary one is retried with backoff; an unanswered one is
/// retried only where the provider recognises the reference (`idempotent`) — elsewhere the
/// member may already have it, and a second message is worse than none.
pub fn after_send(
    answer: &Answer,
    attempts: i64,
    has_fallback: bool,
    idempotent: bool,
    now: Timestamp,
    jitter: f64,
) -> Next {
    let retry = |why: &str| match crate::backoff::retry_at(attempts, MAX_SEND_ATTEMPTS, now, jitter)
    {
        Some(at) => Next::Retry(at),
        None => Next::Failed(format!("gave up after {attempts} attempts: {why}")),
    };
    match answer {
        Answer::Sent => Next::Sent,
        Answer::Permanent(_) if has_fallback => Next::Fallback,
        Answer::Permanent(why) => Next::Failed(why.clone()),
        Answer::Temporary(why) => retry(why),
        Answer::Unknown(why) if idempotent => retry(why),
        Answer::Unknown(why) => Next::Failed(format!("outcome unknown, not sent again: {why}")),
    }
}

/// A provider's rate limit: at most `per_second` sends a second on average, bursts of up to
/// one second's worth. Time is given, so it is tested without waiting.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    per_second: f64,
    tokens: f64,
    at_ms: i64,
}

impl TokenBucket {
    pub fn new(per_second: u32, now_ms: i64) -> TokenBucket {
        let per_second = f64::from(per_second.max(1));
        TokenBucket {
            per_second,
            tokens: per_second,
            at_ms: now_ms,
        }
    }

    /// Takes a token: `0` when one was there, else how many milliseconds until one is (taken
    /// then, so successive callers queue one behind another).
    pub fn take(&mut self, now_ms: i64) -> i64 {
        let elapsed = (now_ms - self.at_ms).max(0) as f64 / 1000.0;
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.per_second);
        self.at_ms = now_ms.max(self.at_ms);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            0
        } else {
            (-self.tokens / self.per_second * 1000.0).ceil() as i64
        }
    }
}

/// The hours, in the shop's time zone, when nothing is sent: from `from` to `to`, across
/// midnight when `from` is later than `to` (21:00 → 08:00).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub from: Time,
    pub to: Time,
}

impl QuietHours {
    /// `"21:00"`, `"08:00"`; `None` when either is not a time of day or both are the same.
    pub fn parse(from: &str, to: &str) -> Option<QuietHours> {
        let (from, to) = (from.parse::<Time>().ok()?, to.parse::<Time>().ok()?);
        (from != to).then_some(QuietHours { from, to })
    }

    fn contains(&self, t: Time) -> bool {
        if self.from < self.to {
            self.from <= t && t < self.to
        } else {
            t >= self.from || t < self.to
        }
    }

    /// When a message due at `now` may go: `now`, or the end of the quiet hours it falls in.
    pub fn next_allowed(&self, now: Timestamp, zone: &TimeZone) -> Timestamp {
        let local = now.to_zoned_datetime(zone.clone());
        let time = local.time();
        if !self.contains(time) {
            return now;
        }
        // The end is today, or tomorrow when the quiet hours began today before midnight.
        let mut day = local.date();
        if time >= self.to {
            day = day.checked_add(1.day()).unwrap_or(day);
        }
        day.to_datetime(self.to)
            .to_zoned_datetime(zone.clone())
            .map(|z| z.timestamp())
            .unwrap_or(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lan() -> Recipient {
        Recipient {
            has_phone: true,
            has_email: true,
            consent: Consent {
                email: true,
                sms: false,
                zalo: false,
            },
            ..Recipient::default()
        }
    }

    #[test]
    fn each_member_gets_the_first_channel_they_can_receive() {
        use ChannelKind::{Email, Sms, Zalo};
        let campaign = [Zalo, Sms, Email];
        assert_eq!(choose(&campaign, &lan(), Purpose::Advertising), Ok(2));
        // Customer care needs no marketing consent: the first channel with an address.
        assert_eq!(choose(&campaign, &lan(), Purpose::CustomerCare), Ok(0));
        let phone_only = Recipient {
            has_email: false,
            ..lan()
        };
        assert_eq!(
            choose(&campaign, &phone_only, Purpose::Advertising),
            Err(Suppressed::NoConsent)
        );
        assert_eq!(
            choose(&[Email], &phone_only, Purpose::Advertising),
            Err(Suppressed::NoAddress)
        );
        let unsubscribed = Recipient {
            unsubscribed: vec![Sms],
            ..phone_only.clone()
        };
        assert_eq!(
            choose(&[Zalo, Sms], &unsubscribed, Purpose::Advertising),
            Err(Suppressed::Unsubscribed)
        );
        let blocked = Recipient {
            blocked: true,
            ..lan()
        };
        assert_eq!(
            choose(&campaign, &blocked, Purpose::Advertising),
            Err(Suppressed::Blocked)
        );
        assert_eq!(choose(&campaign, &blocked, Purpose::CustomerCare), Ok(0));
    }

    #[test]
    fn the_route_lists_every_channel_in_order_for_the_fallback() {
        use ChannelKind::{Email, Sms, Zalo};
        let both = Recipient {
            consent: Consent {
                email: true,
                sms: true,
                zalo: true,
            },
            ..lan()
        };
        assert_eq!(
            route(&[Zalo, Sms, Email], &both, Purpose::Advertising),
            Ok(vec![0, 1, 2])
        );
        assert_eq!(
            route(&[Zalo, Sms, Email], &lan(), Purpose::Advertising),
            Ok(vec![2])
        );
    }

    #[test]
    fn after_a_send_permanent_falls_back_temporary_retries_unknown_depends() {
        let now: Timestamp = "2026-12-06T03:00:00Z".parse().unwrap();
        let refused = Answer::Permanent("ZNS -114".into());
        assert_eq!(
            after_send(&refused, 1, true, true, now, 0.5),
            Next::Fallback
        );
        assert!(matches!(
            after_send(&refused, 1, false, true, now, 0.5),
            Next::Failed(_)
        ));
        let busy = Answer::Temporary("503".into());
        assert!(matches!(after_send(&busy, 1, true, false, now, 0.5), Next::Retry(at) if at > now));
        assert!(matches!(
            after_send(&busy, MAX_SEND_ATTEMPTS, true, false, now, 0.5),
            Next::Failed(_)
        ));
        let silent = Answer::Unknown("timeout".into());
        assert!(matches!(
            after_send(&silent, 1, true, true, now, 0.5),
            Next::Retry(_)
        ));
        assert!(matches!(
            after_send(&silent, 1, true, false, now, 0.5),
            Next::Failed(why) if why.contains("not sent again")
        ));
    }

    #[test]
    fn the_bucket_lets_a_seconds_worth_through_then_paces() {
        let mut bucket = TokenBucket::new(10, 0);
        let waits: Vec<i64> = (0..12).map(|_| bucket.take(0)).collect();
        assert_eq!(&waits[..10], &[0; 10]);
        assert_eq!(waits[10], 100);
        assert_eq!(waits[11], 200);
        // A second later the debt is paid and a few tokens are back.
        assert_eq!(bucket.take(1_000), 0);
    }

    #[test]
    fn the_weekly_cap_counts_a_rolling_seven_days() {
        let now: Timestamp = "2026-12-06T03:00:00Z".parse().unwrap();
        let days_ago = |d: i64| now - SignedDuration::from_hours(24 * d);
        let sent = [days_ago(1), days_ago(3), days_ago(8)];
        assert!(within_weekly_cap(&sent, now, 3));
        assert!(!within_weekly_cap(&sent, now, 2));
        assert!(!within_weekly_cap(&[], now, 0));
    }

    #[test]
    fn quiet_hours_hold_a_send_until_they_end_in_the_shops_zone() {
        let zone = TimeZone::get("Asia/Ho_Chi_Minh").unwrap();
        let quiet = QuietHours::parse("21:00", "08:00").unwrap();
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        // 22:30 in Hà Nội (15:30 UTC) waits until 08:00 the next morning (01:00 UTC).
        assert_eq!(
            quiet.next_allowed(at("2026-12-06T15:30:00Z"), &zone),
            at("2026-12-07T01:00:00Z")
        );
        // 06:00 local (23:00 UTC the day before) waits until 08:00 the same morning.
        assert_eq!(
            quiet.next_allowed(at("2026-12-05T23:00:00Z"), &zone),
            at("2026-12-06T01:00:00Z")
        );
        // 10:00 local goes at once; so does 08:00 sharp.
        assert_eq!(
            quiet.next_allowed(at("2026-12-06T03:00:00Z"), &zone),
            at("2026-12-06T03:00:00Z")
        );
        assert_eq!(
            quiet.next_allowed(at("2026-12-06T01:00:00Z"), &zone),
            at("2026-12-06T01:00:00Z")
        );
        // A window within one day: lunch, 12:00 → 13:30.
        let lunch = QuietHours::parse("12:00", "13:30").unwrap();
        assert_eq!(
            lunch.next_allowed(at("2026-12-06T05:15:00Z"), &zone),
            at("2026-12-06T06:30:00Z")
        );
        assert_eq!(QuietHours::parse("21:00", "21:00"), None);
        assert_eq!(QuietHours::parse("25:00", "08:00"), None);
    }

    proptest::proptest! {
        /// Whatever the time and the window, a held send goes at or after its due time, at a
        /// moment outside the quiet hours, and within a day.
        #[test]
        fn a_held_send_goes_outside_the_quiet_hours_within_a_day(
            secs in 1_700_000_000i64..1_900_000_000,
            from_min in 0i64..1440,
            to_min in 0i64..1440,
        ) {
            let zone = TimeZone::get("Asia/Ho_Chi_Minh").unwrap();
            let hm = |m: i64| format!("{:02}:{:02}", m / 60, m % 60);
            let Some(quiet) = QuietHours::parse(&hm(from_min), &hm(to_min)) else {
                return Ok(());
            };
            let now = Timestamp::from_second(secs).unwrap();
            let at = quiet.next_allowed(now, &zone);
            proptest::prop_assert!(at >= now);
            proptest::prop_assert!(at - now <= SignedDuration::from_hours(24));
            proptest::prop_assert!(!quiet.contains(at.to_zoned_datetime(zone.clone()).time()));
        }
    }
}
