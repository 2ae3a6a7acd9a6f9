//! When a failed job is tried again: exponential backoff with jitter, up to its last attempt.

use jiff::{SignedDuration, Timestamp};

/// The first retry comes about this long after the first failure (within 10 s even with the
/// jitter, as API.md promises for webhook deliveries).
pub const FIRST_RETRY: SignedDuration = SignedDuration::from_secs(8);
/// No wait between two attempts is longer than this.
pub const LONGEST_WAIT: SignedDuration = SignedDuration::from_secs(6 * 3600);

/// When to try again after attempt number `attempts` (1 for the first) failed, or `None` when
/// that was the last one (`max_attempts`). The wait doubles with each attempt — 8 s, 16 s,
/// 32 s… up to six hours — and `jitter` (0.0 to 1.0, random) moves it by up to ±20%, so jobs
/// that failed together do not all come back together.
pub fn retry_at(
    attempts: i64,
    max_attempts: i64,
    now: Timestamp,
    jitter: f64,
) -> Option<Timestamp> {
    if attempts >= max_attempts {
        return None;
    }
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let base = FIRST_RETRY.as_secs_f64() * f64::from(1u32 << doublings);
    let wait = base.min(LONGEST_WAIT.as_secs_f64()) * (0.8 + 0.4 * jitter.clamp(0.0, 1.0));
    let wait = SignedDuration::try_from_secs_f64(wait).unwrap_or(LONGEST_WAIT);
    Some(now.checked_add(wait).unwrap_or(now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn wait(attempts: i64, jitter: f64) -> i64 {
        let now = Timestamp::UNIX_EPOCH;
        retry_at(attempts, 8, now, jitter).map_or(-1, |at| at.as_second() - now.as_second())
    }

    #[test]
    fn waits_double_from_eight_seconds_and_stop_after_the_last_attempt() {
        assert_eq!(
            (1..=8).map(|n| wait(n, 0.5)).collect::<Vec<_>>(),
            [8, 16, 32, 64, 128, 256, 512, -1]
        );
        assert_eq!(wait(1, 0.0), 6);
        assert_eq!(wait(1, 1.0), 9);
        assert_eq!(
            retry_at(40, 50, Timestamp::UNIX_EPOCH, 0.5).map(|t| t.as_second()),
            Some(6 * 3600)
        );
    }

    proptest! {
        #[test]
        fn a_retry_is_later_than_now_and_never_beyond_the_longest_wait(
            attempts in -5i64..100, max in 1i64..100, jitter in -1.0f64..2.0,
        ) {
            let now = Timestamp::from_second(1_800_000_000).unwrap();
            match retry_at(attempts, max, now, jitter) {
                None => prop_assert!(attempts >= max),
                Some(at) => {
                    prop_assert!(attempts < max);
                    prop_assert!(at > now);
                    prop_assert!(at.duration_since(now) <= LONGEST_WAIT * 12 / 10);
                }
            }
        }
    }
}
