//! Limits on signing in: a growing delay per account and per client address, reserved before
//! any password is hashed.
//!
//! Each account may have one sign-in in flight; two failures cost nothing (typos), then each
//! failure doubles the wait before the next try (1 s, 2 s, 4 s… up to 15 minutes), and a
//! success clears the account. During a wait a sign-in is refused at once, with no hash
//! computed, so parallel guessing gains nothing and the right password works again seconds
//! after a few mistakes instead of being locked out. A client address gets twenty free
//! failures across accounts and four sign-ins in flight before its own delay starts.
//!
//! Sign-ins in flight are counted in memory, per instance. Failures and delays are kept both in
//! memory and in the database (`sign_in_failures`, written by `sessions`), so instances behind
//! one load balancer share them: spreading guesses over N instances gains nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The longest delay between tries.
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);

/// Failures are forgotten a day after the last one.
pub(crate) const FORGET_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// Entries kept before the idle ones are dropped.
const MAX_TRACKED: usize = 50_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Policy {
    /// Failures without any delay.
    free_failures: u32,
    /// Sign-ins that may run at once.
    max_in_flight: u32,
}

const ACCOUNT: Policy = Policy {
    free_failures: 2,
    max_in_flight: 1,
};

const CLIENT: Policy = Policy {
    free_failures: 20,
    max_in_flight: 4,
};

impl Policy {
    /// The wait after `failures` failures: none for the free ones, then 1 s doubling.
    fn delay(self, failures: u32) -> Duration {
        match failures.checked_sub(self.free_failures + 1) {
            None => Duration::ZERO,
            Some(extra) => Duration::from_secs(1u64 << extra.min(20)).min(MAX_DELAY),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Tally {
    failures: u32,
    in_flight: u32,
    blocked_until: Instant,
    last_failure: Instant,
}

/// Failed sign-ins per account and per client address.
#[derive(Default)]
pub struct SignInGuard {
    tallies: Mutex<HashMap<String, Tally>>,
}

/// A sign-in allowed to check its password. Report its outcome with [`Ticket::finish`]; a
/// ticket dropped unfinished (the client went away mid-check) counts for nothing, so an
/// abandoned sign-in never leaves its account waiting.
pub struct Ticket {
    guard: Arc<SignInGuard>,
    account: String,
    client: String,
    finished: bool,
}

impl std::fmt::Debug for Ticket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ticket")
            .field("account", &self.account)
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl Ticket {
    /// The account's and the client's subjects, as the shared table names them.
    pub fn subjects(&self) -> (&str, &str) {
        (&self.account, &self.client)
    }

    pub fn finish(mut self, outcome: Outcome, now: Instant) {
        self.finished = true;
        self.guard.end(&self.account, &self.client, outcome, now);
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.finished {
            self.guard.end(
                &self.account,
                &self.client,
                Outcome::Abandoned,
                Instant::now(),
            );
        }
    }
}

/// How a reserved sign-in ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    WrongPassword,
    /// Neither (the database failed): counts for nothing.
    Abandoned,
}

impl SignInGuard {
    /// Reserves a sign-in for `account` from `client`, or says how many seconds to wait.
    pub fn reserve(
        self: &Arc<Self>,
        account: &str,
        client: &str,
        now: Instant,
    ) -> Result<Ticket, u64> {
        let (account, client) = (
            format!("account:{account}"),
            format!("client:{}", network(client)),
        );
        let mut tallies = self.tallies.lock().unwrap_or_else(|e| e.into_inner());
        if tallies.len() > MAX_TRACKED {
            // Drop what no longer matters; failures of the last day are kept, or flooding
            // the table with new names would wipe an account's delay.
            tallies.retain(|_, t| {
                t.in_flight > 0
                    || t.blocked_until > now
                    || (t.failures > 0 && now.duration_since(t.last_failure) <= FORGET_AFTER)
            });
        }
        for (key, policy) in [(&account, ACCOUNT), (&client, CLIENT)] {
            if let Some(t) = tallies.get_mut(key.as_str()) {
                if now.duration_since(t.last_failure) > FORGET_AFTER && t.in_flight == 0 {
                    t.failures = 0;
                }
                if t.blocked_until > now {
                    return Err(seconds(t.blocked_until - now));
                }
                if t.in_flight >= policy.max_in_flight {
                    return Err(1);
                }
            }
        }
        for key in [&account, &client] {
            tallies
                .entry(key.clone())
                .or_insert(Tally {
                    failures: 0,
                    in_flight: 0,
                    blocked_until: now,
                    last_failure: now,
                })
                .in_flight += 1;
        }
        Ok(Ticket {
            guard: self.clone(),
            account,
            client,
            finished: false,
        })
    }

    fn end(&self, account: &str, client: &str, outcome: Outcome, now: Instant) {
        let mut tallies = self.tallies.lock().unwrap_or_else(|e| e.into_inner());
        for (key, policy) in [(account, ACCOUNT), (client, CLIENT)] {
            let Some(t) = tallies.get_mut(key) else {
                continue;
            };
            t.in_flight = t.in_flight.saturating_sub(1);
            match outcome {
                Outcome::WrongPassword => {
                    t.failures = t.failures.saturating_add(1);
                    t.last_failure = now;
                    t.blocked_until = now + policy.delay(t.failures);
                }
                Outcome::Succeeded if policy == ACCOUNT => {
                    t.failures = 0;
                    t.blocked_until = now;
                }
                Outcome::Succeeded | Outcome::Abandoned => {}
            }
        }
    }
}

/// The wait after `failures` failures of a subject (`account:…` or `client:…`).
pub fn delay_after(subject: &str, failures: u32) -> Duration {
    let policy = if subject.starts_with("account:") {
        ACCOUNT
    } else {
        CLIENT
    };
    policy.delay(failures)
}

/// Whole seconds to wait, rounded up.
pub fn seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// The network a client address stands for: an IPv6 client is its /64 (one subscriber's
/// whole range, where every address is free to take), an IPv4 client itself.
fn network(client: &str) -> String {
    match client.parse::<std::net::Ipv6Addr>() {
        Ok(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Err(_) => client.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail(guard: &Arc<SignInGuard>, account: &str, client: &str, at: Instant) {
        let ticket = guard.reserve(account, client, at).expect("allowed");
        ticket.finish(Outcome::WrongPassword, at);
    }

    #[test]
    fn two_mistakes_are_free_then_the_wait_doubles_up_to_fifteen_minutes() {
        let delays: Vec<u64> = (1..=15).map(|f| ACCOUNT.delay(f).as_secs()).collect();
        assert_eq!(
            delays,
            [0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900]
        );
        assert_eq!(ACCOUNT.delay(u32::MAX), MAX_DELAY);
    }

    #[test]
    fn the_right_password_works_seconds_after_five_mistakes() {
        let guard = Arc::new(SignInGuard::default());
        let mut now = Instant::now();
        for failures_so_far in 0..5 {
            // Wait out each delay, as a person retyping would.
            now += ACCOUNT.delay(failures_so_far);
            fail(&guard, "a@x.vn", "1.1.1.1", now);
        }
        assert_eq!(guard.reserve("a@x.vn", "1.1.1.1", now).unwrap_err(), 4);
        now += Duration::from_secs(4);
        let ticket = guard.reserve("a@x.vn", "1.1.1.1", now).expect("after 4 s");
        ticket.finish(Outcome::Succeeded, now);
        fail(&guard, "a@x.vn", "1.1.1.1", now);
        assert!(
            guard.reserve("a@x.vn", "1.1.1.1", now).is_ok(),
            "success cleared the account"
        );
    }

    #[test]
    fn one_sign_in_per_account_runs_at_a_time() {
        let guard = Arc::new(SignInGuard::default());
        let now = Instant::now();
        let first = guard.reserve("a@x.vn", "1.1.1.1", now).unwrap();
        let refused = (0..39)
            .filter(|_| guard.reserve("a@x.vn", "2.2.2.2", now).is_err())
            .count();
        assert_eq!(refused, 39);
        drop(first);
        assert!(
            guard.reserve("a@x.vn", "1.1.1.1", now).is_ok(),
            "a dropped ticket frees the account"
        );
    }

    #[test]
    fn a_client_spraying_accounts_is_slowed_without_blocking_other_clients() {
        let guard = Arc::new(SignInGuard::default());
        let now = Instant::now();
        for n in 0..21 {
            fail(&guard, &format!("u{n}@x.vn"), "6.6.6.6", now);
        }
        assert_eq!(guard.reserve("new@x.vn", "6.6.6.6", now).unwrap_err(), 1);
        assert!(guard.reserve("new@x.vn", "7.7.7.7", now).is_ok());
    }

    #[test]
    fn an_ipv6_subscriber_counts_as_one_client_whatever_address_it_takes() {
        let guard = Arc::new(SignInGuard::default());
        let now = Instant::now();
        for n in 0..21 {
            fail(
                &guard,
                &format!("u{n}@x.vn"),
                &format!("2001:db8:1:2::{n:x}"),
                now,
            );
        }
        assert!(
            guard
                .reserve("new@x.vn", "2001:db8:1:2:ffff::9", now)
                .is_err()
        );
        assert!(guard.reserve("new@x.vn", "2001:db8:1:3::1", now).is_ok());
        assert_eq!(network("::ffff:1.2.3.4"), "1.2.3.4");
        assert_eq!(network("unknown"), "unknown");
    }

    #[test]
    fn failures_are_forgotten_a_day_later() {
        let guard = Arc::new(SignInGuard::default());
        let now = Instant::now();
        for _ in 0..3 {
            fail(&guard, "a@x.vn", "1.1.1.1", now);
        }
        assert!(guard.reserve("a@x.vn", "1.1.1.1", now).is_err());
        let later = now + FORGET_AFTER + Duration::from_secs(60);
        fail(&guard, "a@x.vn", "1.1.1.1", later);
        assert!(
            guard.reserve("a@x.vn", "1.1.1.1", later).is_ok(),
            "one failure today is free"
        );
    }
}
