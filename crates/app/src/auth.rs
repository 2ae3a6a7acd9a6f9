//! API keys and passwords.
//!
//! An API key looks like `lk_7QKM3P9XWA_…32 symbols…`: a public prefix that finds the key
//! (and with it the tenant) and a secret. Only the SHA-256 of the secret is stored: the secret
//! has ~158 random bits, so a fast hash is as safe as a slow one and keeps every request cheap.
//! Staff passwords are chosen by people, so they get argon2id.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use loyalty_core::code::random_code;
use loyalty_core::tenancy::{Actor, ActorKind};
use loyalty_store::repo::api_keys::{self, KeyCredentials};
use sha2::{Digest, Sha256};

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
        if credentials.key.revoked_at.is_some() {
            return Err(AppError::Unauthorized("this API key was revoked"));
        }
        if hash_secret(secret) != credentials.secret_hash {
            return Err(AppError::Unauthorized("unknown API key"));
        }
        Ok(Ctx {
            tenant_id: credentials.tenant_id,
            actor: Actor {
                kind: ActorKind::ApiKey,
                id: Some(credentials.key.id.clone()),
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

/// Hashes a staff password with argon2id (its default parameters: 19 MiB, 2 passes). Runs on
/// the blocking pool: a hash takes tens of milliseconds of CPU.
pub async fn hash_password(password: String) -> AppResult<String> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|e| AppError::Internal(anyhow::anyhow!("hashing a password: {e}")))
    })
    .await
    .map_err(|e| AppError::Internal(e.into()))?
}

pub async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

pub const MIN_PASSWORD_CHARS: usize = 8;

pub fn check_password(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!(
            "must have at least {MIN_PASSWORD_CHARS} characters"
        ));
    }
    if password.len() > 1024 {
        return Err("must have at most 1024 bytes".into());
    }
    Ok(())
}

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
        assert!(verify_password("mật khẩu an toàn".into(), hash.clone()).await);
        assert!(!verify_password("wrong password".into(), hash).await);
    }
}
