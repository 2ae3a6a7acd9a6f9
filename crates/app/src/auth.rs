//! API keys and passwords.
//!
//! An API key looks like `lk_7QKM3P9XWA_…32 symbols…`: a public prefix that finds the key
//! (and with it the tenant) and a secret. Only the SHA-256 of the secret is stored: the secret
//! has ~158 random bits, so a fast hash is as safe as a slow one and keeps every request cheap.
//! Staff passwords are chosen by people, so they get argon2id.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, RwLock};
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use loyalty_core::code::{constant_time_eq, random_code};
use loyalty_core::tenancy::{Actor, ActorKind};
use loyalty_store::repo::api_keys::{self, KeyCredentials};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::{App, AppError, AppResult, Ctx};

const KEY_PREFIX_LEN: usize = 10;
const KEY_SECRET_LEN: usize = 32;

/// How long a verified key is trusted without asking the database again. Revoking a key takes
/// effect at once on the instance that revoked it and within this time on the others.
const KEY_CACHE_TTL: Duration = Duration::from_secs(30);

/// A freshly made key: the full text is shown once, then only its hash exists.
pub struct NewKey {
    pub prefix: String,
    pub full: String,
    pub secret_hash: String,
}

pub fn generate_key() -> NewKey {
    let prefix = random_code(KEY_PREFIX_LEN);
    let secret = random_code(KEY_SECRET_LEN);
    NewKey {
        full: format!("lk_{prefix}_{secret}"),
        secret_hash: hash_secret(&secret),
        prefix,
    }
}

pub(crate) fn hash_secret(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn split_key(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix("lk_")?;
    let (prefix, secret) = rest.split_once('_')?;
    (prefix.len() == KEY_PREFIX_LEN && secret.len() == KEY_SECRET_LEN).then_some((prefix, secret))
}

#[derive(Default)]
pub struct KeyCache {
    keys: RwLock<HashMap<String, (KeyCredentials, Instant)>>,
}

impl KeyCache {
    fn get(&self, prefix: &str) -> Option<KeyCredentials> {
        let keys = self.keys.read().ok()?;
        let (credentials, fetched) = keys.get(prefix)?;
        (fetched.elapsed() < KEY_CACHE_TTL).then(|| credentials.clone())
    }

    fn put(&self, prefix: &str, credentials: KeyCredentials) {
        if let Ok(mut keys) = self.keys.write() {
            keys.insert(prefix.to_string(), (credentials, Instant::now()));
        }
    }

    pub(crate) fn forget(&self, prefix: &str) {
        if let Ok(mut keys) = self.keys.write() {
            keys.remove(prefix);
        }
    }

    pub(crate) fn forget_all(&self) {
        if let Ok(mut keys) = self.keys.write() {
            keys.clear();
        }
    }
}

impl App {
    /// Turns an `Authorization: Bearer` key into the caller's context, or 401.
    pub async fn authenticate(&self, key: &str) -> AppResult<Ctx> {
        let (prefix, secret) =
            split_key(key.trim()).ok_or(AppError::Unauthorized("the API key is malformed"))?;
        let credentials = match self.keys.get(prefix) {
            Some(found) => found,
            None => {
                let lookup = prefix.to_string();
                let found = self
                    .db
                    .read(move |sql| api_keys::by_prefix(sql, &lookup))
                    .await?
                    .ok_or(AppError::Unauthorized("unknown API key"))?;
                self.keys.put(prefix, found.clone());
                self.note_key_used(&found);
                found
            }
        };
        // The secret first: whether a key was revoked is told only to whoever holds it.
        if !constant_time_eq(
            hash_secret(secret).as_bytes(),
            credentials.secret_hash.as_bytes(),
        ) {
            return Err(AppError::Unauthorized("unknown API key"));
        }
        if credentials.key.revoked_at.is_some() {
            return Err(AppError::Unauthorized("this API key was revoked"));
        }
        let rate = credentials
            .key
            .rate_limit_per_s
            .unwrap_or(self.rate_limit_per_key);
        self.rates
            .admit(prefix, rate, Instant::now())
            .map_err(|retry_after_secs| AppError::RateLimited { retry_after_secs })?;
        Ok(Ctx {
            tenant_id: credentials.tenant_id.into(),
            actor: Actor {
                kind: ActorKind::ApiKey,
                id: Some(credentials.key.id.to_string()),
                name: Some(credentials.key.name.clone()),
            },
            scopes: credentials.key.scopes,
        })
    }

    /// Records when a key was last seen, at most once per cache period, off the request path.
    fn note_key_used(&self, credentials: &KeyCredentials) {
        let (db, now) = (self.db.clone(), self.now());
        let (tenant_id, id) = (credentials.tenant_id.clone(), credentials.key.id.clone());
        tokio::spawn(async move {
            let touched = db
                .write(move |sql| api_keys::touch(sql, &tenant_id, &id, now))
                .await;
            if let Err(error) = touched {
                tracing::warn!(%error, "could not record API key use");
            }
        });
    }
}

/// At most this many argon2 hashes run at once in the process (two per core): each takes
/// 19 MiB, and unbounded sign-ins would otherwise exhaust memory before any limit counted them.
static HASHING: LazyLock<Hashing> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    Hashing::new(2 * cores, 8 * cores)
});

struct Hashing {
    permits: Arc<Semaphore>,
    /// Hashes allowed to queue for a permit; beyond, the caller is told to come back (503).
    max_waiting: usize,
    waiting: Arc<AtomicUsize>,
    running: Arc<AtomicUsize>,
    peak: AtomicUsize,
}

/// One count held in an `AtomicUsize` while the guard lives: released however the holder
/// ends, including a request dropped when its client goes away.
struct Counted(Arc<AtomicUsize>);

impl Counted {
    fn enter(counter: &Arc<AtomicUsize>) -> (Counted, usize) {
        let now = counter.fetch_add(1, Ordering::SeqCst) + 1;
        (Counted(counter.clone()), now)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Hashing {
    fn new(at_once: usize, max_waiting: usize) -> Hashing {
        Hashing {
            permits: Arc::new(Semaphore::new(at_once)),
            max_waiting,
            waiting: Arc::new(AtomicUsize::new(0)),
            running: Arc::new(AtomicUsize::new(0)),
            peak: AtomicUsize::new(0),
        }
    }

    /// Runs one argon2 computation on the blocking pool, within the cap. The permit travels
    /// with the computation: a caller that goes away frees nothing before the hash ends.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> AppResult<T> {
        let (waiting, queued) = Counted::enter(&self.waiting);
        if queued > self.max_waiting {
            return Err(AppError::Busy {
                retry_after_secs: 1,
            });
        }
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| AppError::Internal(e.into()))?;
        drop(waiting);
        let (running, now) = Counted::enter(&self.running);
        self.peak.fetch_max(now, Ordering::Relaxed);
        tokio::task::spawn_blocking(move || {
            let result = work();
            drop((running, permit));
            result
        })
        .await
        .map_err(|e| AppError::Internal(e.into()))
    }
}

/// The most argon2 hashes that ever ran at once in this process.
pub fn peak_concurrent_hashes() -> usize {
    HASHING.peak.load(Ordering::Relaxed)
}

async fn with_hash_slot<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> AppResult<T> {
    HASHING.run(work).await
}

/// Hashes a staff password with argon2id (its default parameters: 19 MiB, 2 passes). Runs on
/// the blocking pool: a hash takes tens of milliseconds of CPU.
pub async fn hash_password(password: String) -> AppResult<String> {
    with_hash_slot(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|e| AppError::Internal(anyhow::anyhow!("hashing a password: {e}")))
    })
    .await?
}

/// Whether `password` matches `hash` (false for a malformed hash).
pub async fn verify_password(password: String, hash: String) -> AppResult<bool> {
    with_hash_slot(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
}

pub use loyalty_core::input::staff::{MIN_PASSWORD_CHARS, check_password};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_split_back_into_prefix_and_secret() {
        let key = generate_key();
        let (prefix, secret) = split_key(&key.full).unwrap();
        assert_eq!(prefix, key.prefix);
        assert_eq!(hash_secret(secret), key.secret_hash);
        assert!(split_key("lk_short_x").is_none());
        assert!(split_key("Bearer something").is_none());
    }

    #[tokio::test]
    async fn passwords_verify_only_against_their_own_hash() {
        let hash = hash_password("mật khẩu an toàn".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(
            verify_password("mật khẩu an toàn".into(), hash.clone())
                .await
                .unwrap()
        );
        assert!(
            !verify_password("wrong password".into(), hash)
                .await
                .unwrap()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_flood_of_password_checks_runs_a_few_at_a_time_and_turns_the_rest_away() {
        let hashing = std::sync::Arc::new(Hashing::new(4, 16));
        let hash = hash_password("mật khẩu an toàn".into()).await.unwrap();
        let checks: Vec<_> = (0..48)
            .map(|_| {
                let (hashing, hash) = (hashing.clone(), hash.clone());
                tokio::spawn(async move {
                    hashing
                        .run(move || {
                            let parsed = PasswordHash::new(&hash).unwrap();
                            Argon2::default().verify_password(b"sai", &parsed).is_ok()
                        })
                        .await
                })
            })
            .collect();
        let (mut checked, mut busy) = (0, 0);
        for check in checks {
            match check.await.unwrap() {
                Ok(matched) => {
                    assert!(!matched);
                    checked += 1;
                }
                Err(AppError::Busy { .. }) => busy += 1,
                Err(other) => panic!("{other}"),
            }
        }
        assert!(hashing.peak.load(Ordering::SeqCst) <= 4);
        assert!(checked >= 4, "{checked} checked");
        assert!(
            busy > 0,
            "beyond the queue's bound a check is refused at once, not queued"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn checks_abandoned_in_the_queue_or_mid_hash_give_their_places_back() {
        let hashing = std::sync::Arc::new(Hashing::new(1, 4));
        let slow = |ms| move || std::thread::sleep(std::time::Duration::from_millis(ms));
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let hashing = hashing.clone();
                tokio::spawn(async move { hashing.run(slow(300)).await })
            })
            .collect();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        for task in &tasks {
            task.abort(); // the clients went away: one mid-hash, three queued
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert_eq!(
            hashing.waiting.load(Ordering::SeqCst),
            0,
            "the queue is empty again"
        );
        assert_eq!(
            hashing.running.load(Ordering::SeqCst),
            1,
            "the hash still runs, and counts"
        );
        assert!(
            hashing.run(slow(1)).await.is_ok(),
            "a later check gets its turn"
        );
        assert_eq!(hashing.running.load(Ordering::SeqCst), 0);
    }
}
