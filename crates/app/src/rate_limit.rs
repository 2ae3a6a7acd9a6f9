//! Requests per second per API key: a token bucket per key, refilled at the key's rate and
//! holding a tenth of a second's worth (at least ten requests, or the rate itself when lower)
//! for bursts. A key over its rate gets 429 with `Retry-After` until its bucket refills.
//!
//! Buckets live in memory per instance: with N instances a key may make N times its rate,
//! which is what a limit meant to stop a runaway integration needs.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// The server's default rate per key, far above what a till or `loyalty bench` sends.
pub const DEFAULT_RATE_PER_S: i64 = 20_000;

/// Keys tracked before idle, full buckets are dropped.
const MAX_TRACKED: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

#[derive(Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, Bucket>>,
}

/// How many requests a key may send at once after being idle.
pub fn burst(rate_per_s: i64) -> f64 {
    let rate = rate_per_s.max(1) as f64;
    (rate / 10.0).max(rate.min(10.0))
}

impl RateLimiter {
    /// Counts one request of `key`; `Err(seconds)` when the key is over its rate.
    pub fn admit(&self, key: &str, rate_per_s: i64, now: Instant) -> Result<(), u64> {
        let rate = rate_per_s.max(1) as f64;
        let capacity = burst(rate_per_s);
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > MAX_TRACKED {
            buckets
                .retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * rate < capacity);
        }
        let bucket = buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let refilled = bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * rate;
        bucket.tokens = refilled.min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - bucket.tokens) / rate).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_default_allows_bursts_of_two_thousand_and_small_rates_their_own_size() {
        assert_eq!(burst(DEFAULT_RATE_PER_S), 2_000.0);
        assert_eq!(burst(5), 5.0);
        assert_eq!(burst(50), 10.0);
    }

    #[test]
    fn a_key_over_its_rate_waits_for_its_bucket_and_others_are_untouched() {
        let limiter = RateLimiter::default();
        let now = Instant::now();
        for _ in 0..5 {
            assert_eq!(limiter.admit("slow", 5, now), Ok(()));
        }
        assert_eq!(limiter.admit("slow", 5, now), Err(1));
        assert_eq!(limiter.admit("other", 5, now), Ok(()));
        let later = now + Duration::from_millis(400);
        assert_eq!(
            limiter.admit("slow", 5, later),
            Ok(()),
            "two tokens back after 0.4 s"
        );
        assert_eq!(limiter.admit("slow", 5, later), Ok(()));
        assert_eq!(limiter.admit("slow", 5, later), Err(1));
    }

    #[test]
    fn a_steady_load_under_the_rate_is_never_refused() {
        let limiter = RateLimiter::default();
        let start = Instant::now();
        // 19,000 requests/s for a second, evenly spread.
        for i in 0..19_000u64 {
            let at = start + Duration::from_micros(i * 1_000_000 / 19_000);
            assert_eq!(
                limiter.admit("till", DEFAULT_RATE_PER_S, at),
                Ok(()),
                "request {i}"
            );
        }
    }
}
