//! `Idempotency-Key` on mutating requests: a till that retries after a timeout must not spend
//! a member's points twice.
//!
//! The key is claimed inside the transaction of the request's change (a preamble of its first
//! write, see `store::engine::with_preamble`), so the change and the claim commit together or
//! not at all: however retries, races and crashes fall, a key applies its request at most
//! once. The answer is stored as soon as it is known and replayed to every retry with the same
//! request; the same key with another request is refused. A request that failed changed
//! nothing and claimed nothing, so its retry simply runs again. Keys are kept 24 hours.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use jiff::SignedDuration;
use loyalty_store::repo::idempotency::{self, Claim};
use sha2::{Digest, Sha256};

pub use loyalty_store::repo::idempotency::Answer;

use crate::{App, AppError, AppResult, Ctx};

/// How long a key and its answer are kept.
pub const KEEP_FOR: SignedDuration = SignedDuration::from_hours(24);

/// A claim without an answer older than this belongs to a request that will never answer (its
/// process stopped between the commit and storing the answer).
pub const ANSWER_LOST_AFTER: SignedDuration = SignedDuration::from_secs(60);

/// The longest an `Idempotency-Key` may be.
pub const MAX_KEY_CHARS: usize = 255;

/// A mutating request carrying a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyedRequest {
    pub key: String,
    pub method: String,
    pub path: String,
    /// SHA-256 of the caller, method, path and body: a retry must be exactly the same request
    /// from the same API key (another key, even of the same tenant, never sees its answer).
    pub request_hash: String,
}

impl KeyedRequest {
    /// Checks the key (1 to 255 visible ASCII characters) and fingerprints the request of
    /// `caller` (the API key's id).
    pub fn new(
        key: &str,
        caller: &str,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> AppResult<KeyedRequest> {
        if key.is_empty() || key.len() > MAX_KEY_CHARS || !key.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(AppError::Invalid(loyalty_core::Invalid::one_bounded(
                "Idempotency-Key",
                "idempotency_key.format",
                (1, MAX_KEY_CHARS as i64),
                format!("must have 1 to {MAX_KEY_CHARS} visible ASCII characters"),
            )));
        }
        let mut hash = Sha256::new();
        for part in [
            caller.as_bytes(),
            b"\n",
            method.as_bytes(),
            b"\n",
            path.as_bytes(),
            b"\n",
            body,
        ] {
            hash.update(part);
        }
        Ok(KeyedRequest {
            key: key.to_string(),
            method: method.to_string(),
            path: path.to_string(),
            request_hash: hash.finalize().iter().map(|b| format!("{b:02x}")).collect(),
        })
    }
}

/// What is known of a key before its request runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prior {
    /// Never used (or forgotten): run the request.
    Fresh,
    /// Used by this very request, which answered this.
    Answered(Answer),
    /// Used by this request, which has not answered yet: still running, or its answer was lost
    /// when its process stopped (`lost`). Either way it must not run again.
    Unanswered { lost: bool },
    /// Used by another request.
    Mismatch,
}

/// Whether the request's first write took the key, lost it to a concurrent request, or never
/// came (a request that only reads, or failed before writing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    NotClaimed,
    /// Claimed with this id, in a transaction that may or may not have committed; only a
    /// committed claim takes the answer (`record_answer`).
    Claimed(String),
    Taken,
}

const NOT_CLAIMED: u8 = 0;
const CLAIMED: u8 = 1;
const TAKEN: u8 = 2;

impl App {
    /// What happened to this key before.
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn idempotency_prior(&self, ctx: &Ctx, request: &KeyedRequest) -> AppResult<Prior> {
        let (tenant_id, key) = (ctx.tenant_id.clone(), request.key.clone());
        let record = self
            .db
            .read(move |sql| idempotency::get(sql, &tenant_id, &key))
            .await?;
        let now = self.now();
        Ok(match record {
            None => Prior::Fresh,
            Some(r) if r.created_at + KEEP_FOR <= now => Prior::Fresh,
            Some(r) if r.request_hash != request.request_hash => Prior::Mismatch,
            Some(r) => match r.answer {
                Some(answer) => Prior::Answered(answer),
                None => Prior::Unanswered {
                    lost: r.created_at + ANSWER_LOST_AFTER <= now,
                },
            },
        })
    }

    /// Runs `work` (the request) with the key claimed by its first write, in that write's
    /// transaction; says whether the claim was made.
    pub async fn run_claiming<F: std::future::Future>(
        &self,
        ctx: &Ctx,
        request: &KeyedRequest,
        work: F,
    ) -> (F::Output, ClaimOutcome) {
        let claim = Claim {
            tenant_id: ctx.tenant_id.to_string(),
            key: request.key.clone(),
            method: request.method.clone(),
            path: request.path.clone(),
            request_hash: request.request_hash.clone(),
            claim_id: loyalty_core::id::new_id("clm"),
            created_at: self.now(),
        };
        let claim_id = claim.claim_id.clone();
        let state = Arc::new(AtomicU8::new(NOT_CLAIMED));
        let seen = state.clone();
        let preamble: loyalty_store::Preamble = Box::new(move |sql| {
            // A key older than a day may be taken again: forget it first.
            idempotency::purge_one(
                sql,
                &claim.tenant_id,
                &claim.key,
                claim.created_at - KEEP_FOR,
            )?;
            let result = idempotency::claim(sql, &claim);
            let outcome = match &result {
                Ok(()) => CLAIMED,
                Err(loyalty_store::DbError::KeyTaken) => TAKEN,
                Err(_) => NOT_CLAIMED,
            };
            seen.store(outcome, Ordering::SeqCst);
            result
        });
        let output = loyalty_store::with_preamble(preamble, work).await;
        let outcome = match state.load(Ordering::SeqCst) {
            CLAIMED => ClaimOutcome::Claimed(claim_id),
            TAKEN => ClaimOutcome::Taken,
            _ => ClaimOutcome::NotClaimed,
        };
        (output, outcome)
    }

    /// Stores the answer of the request whose claim is `claim_id` (a no-op when that claim
    /// was rolled back).
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn record_answer(
        &self,
        ctx: &Ctx,
        request: &KeyedRequest,
        claim_id: String,
        answer: Answer,
    ) -> AppResult<()> {
        let (tenant_id, key) = (ctx.tenant_id.clone(), request.key.clone());
        self.db
            .write(move |sql| idempotency::answer(sql, &tenant_id, &key, &claim_id, &answer))
            .await?;
        Ok(())
    }

    /// Forgets keys older than [`KEEP_FOR`]; part of the periodic jobs.
    pub async fn purge_idempotency_keys(&self) -> AppResult<u64> {
        let before = self.now() - KEEP_FOR;
        Ok(self
            .db
            .write(move |sql| idempotency::purge(sql, before))
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_request_has_the_same_hash_and_any_change_another() {
        let a = KeyedRequest::new("k-1", "key_1", "POST", "/api/v1/x", b"{\"a\":1}").unwrap();
        let b = KeyedRequest::new("k-1", "key_1", "POST", "/api/v1/x", b"{\"a\":1}").unwrap();
        assert_eq!(a, b);
        for (method, path, body) in [
            ("PATCH", "/api/v1/x", &b"{\"a\":1}"[..]),
            ("POST", "/api/v1/y", &b"{\"a\":1}"[..]),
            ("POST", "/api/v1/x", &b"{\"a\":2}"[..]),
        ] {
            let other = KeyedRequest::new("k-1", "key_1", method, path, body).unwrap();
            assert_ne!(other.request_hash, a.request_hash);
        }
        let another_key =
            KeyedRequest::new("k-1", "key_2", "POST", "/api/v1/x", b"{\"a\":1}").unwrap();
        assert_ne!(another_key.request_hash, a.request_hash);
    }

    #[test]
    fn keys_are_short_visible_ascii() {
        for bad in ["", " ", "a b", "khóa", &"x".repeat(256), "a\tb"] {
            assert!(
                KeyedRequest::new(bad, "key_1", "POST", "/", b"").is_err(),
                "{bad:?}"
            );
        }
        assert!(KeyedRequest::new(&"x".repeat(255), "key_1", "POST", "/", b"").is_ok());
        assert!(KeyedRequest::new("9f1c-22:till/HN01", "key_1", "POST", "/", b"").is_ok());
    }
}
