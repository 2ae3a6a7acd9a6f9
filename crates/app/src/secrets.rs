//! Secrets kept at rest (webhook signing secrets now; provider credentials and connection
//! secrets later), sealed with the server's key: XChaCha20-Poly1305, a fresh random nonce per
//! secret, so the database alone reveals none of them.
//!
//! The key (32 bytes, 64 hex characters) comes from `LOYALTY_SECRET_KEY`; on SQLite, when that
//! is unset, from a key file beside the database, created at first start with mode 0600. On
//! PostgreSQL the variable is needed once a secret is stored. The database keeps a known text
//! sealed with the key (`secret_key_check`): an instance started with another key refuses to
//! start instead of failing later on every secret it reads.

use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use loyalty_store::repo::webhooks as store;
use rand::RngCore;

use crate::{App, AppError, AppResult};

/// The text sealed as the key's proof.
const CHECK_TEXT: &str = "loyalty secret key check";
/// Sealed texts start with their format's version.
const PREFIX: &str = "x1:";

/// The server's secret key.
#[derive(Clone)]
pub struct SecretKey {
    cipher: XChaCha20Poly1305,
    /// A key of its own for the links the server signs (unsubscribe, open, click), derived
    /// from the secret key so that one backup keeps both.
    links: [u8; 32],
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "the secret key must be 64 hexadecimal characters (32 bytes); make one with `openssl rand -hex 32`"
    )]
    Malformed,
    #[error("cannot read or create the key file {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl SecretKey {
    pub fn from_hex(text: &str) -> Result<SecretKey, KeyError> {
        let bytes = hex::decode(text.trim()).map_err(|_| KeyError::Malformed)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Malformed)?;
        use sha2::Digest;
        let links = sha2::Sha256::new()
            .chain_update(b"loyalty signed links")
            .chain_update(key)
            .finalize()
            .into();
        Ok(SecretKey {
            cipher: XChaCha20Poly1305::new(&key.into()),
            links,
        })
    }

    /// A new random key (the key file's, or a test's).
    pub fn generate() -> (SecretKey, String) {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        let text = hex::encode(key);
        (SecretKey::from_hex(&text).expect("64 hex characters"), text)
    }

    /// The key from `LOYALTY_SECRET_KEY` (given as `from_env`), else from the key file, created
    /// when missing (SQLite), else none.
    pub fn load(
        from_env: Option<&str>,
        key_file: Option<&Path>,
    ) -> Result<Option<SecretKey>, KeyError> {
        if let Some(text) = from_env.filter(|t| !t.trim().is_empty()) {
            return SecretKey::from_hex(text).map(Some);
        }
        let Some(path) = key_file else {
            return Ok(None);
        };
        let file_error = |source| KeyError::File {
            path: path.to_path_buf(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => SecretKey::from_hex(&text).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let (key, text) = SecretKey::generate();
                write_private(path, &text).map_err(file_error)?;
                tracing::info!(path = %path.display(), "created the secret key file; back it up with the database");
                Ok(Some(key))
            }
            Err(e) => Err(file_error(e)),
        }
    }

    pub fn seal(&self, plain: &str) -> String {
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), plain.as_bytes())
            .expect("XChaCha20-Poly1305 seals any text");
        format!("{PREFIX}{}{}", hex::encode(nonce), hex::encode(sealed))
    }

    /// The signature of a link's `data` (24 hex characters of an HMAC-SHA256), for links
    /// that must not be guessed or altered: unsubscribe, e-mail opens and clicks.
    pub fn sign_link(&self, data: &str) -> String {
        use hmac::Mac;
        let mut mac =
            <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.links).expect("any key length");
        mac.update(data.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..12])
    }

    /// Whether `signature` is `data`'s, compared in constant time.
    pub fn verify_link(&self, data: &str, signature: &str) -> bool {
        use subtle::ConstantTimeEq;
        bool::from(self.sign_link(data).as_bytes().ct_eq(signature.as_bytes()))
    }

    pub fn open(&self, sealed: &str) -> Option<String> {
        let bytes = hex::decode(sealed.strip_prefix(PREFIX)?).ok()?;
        if bytes.len() < 24 {
            return None;
        }
        let (nonce, body) = bytes.split_at(24);
        let plain = self.cipher.decrypt(XNonce::from_slice(nonce), body).ok()?;
        String::from_utf8(plain).ok()
    }
}

/// Writes `text` to a new file readable by its owner only.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

impl App {
    /// Refuses a key other than the one the database's secrets were sealed with, and a missing
    /// key once secrets are stored. Run at start, before serving.
    pub async fn check_secret_key(&self) -> AppResult<()> {
        let check = self.db.read(store::key_check).await?;
        match (check, &self.secret_key) {
            (None, _) => Ok(()),
            (Some(_), None) => Err(AppError::Internal(anyhow::anyhow!(
                "this database holds secrets: set LOYALTY_SECRET_KEY to the key they were sealed with"
            ))),
            (Some(sealed), Some(key)) => match key.open(&sealed) {
                Some(text) if text == CHECK_TEXT => Ok(()),
                _ => Err(AppError::Internal(anyhow::anyhow!(
                    "LOYALTY_SECRET_KEY (or the key file) is not the key this database's secrets were sealed with"
                ))),
            },
        }
    }

    /// Seals a secret to store in the caller's transaction, recording the key's proof with
    /// the first one.
    pub(crate) fn seal_in(
        &self,
        sql: &mut dyn loyalty_store::Sql,
        secret: &str,
    ) -> AppResult<String> {
        let key = self.secret_key.as_ref().ok_or_else(|| {
            AppError::conflict(
                "secret_key_missing",
                "secret",
                "the server has no secret key to store secrets with: set LOYALTY_SECRET_KEY (64 hex characters) on every instance",
            )
        })?;
        store::set_key_check(sql, &key.seal(CHECK_TEXT))?;
        Ok(key.seal(secret))
    }

    /// Opens a stored secret.
    pub(crate) fn open_secret(&self, sealed: &str) -> AppResult<String> {
        self.secret_key
            .as_ref()
            .and_then(|key| key.open(sealed))
            .ok_or_else(|| {
                AppError::Internal(anyhow::anyhow!(
                    "a stored secret cannot be opened with this server's key"
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_with_its_key_only_and_never_reads_the_same_twice() {
        let (key, _) = SecretKey::generate();
        let (other, _) = SecretKey::generate();
        let sealed = key.seal("whsec_abc");
        assert_ne!(sealed, key.seal("whsec_abc"), "a fresh nonce each time");
        assert!(!sealed.contains("whsec"));
        assert_eq!(key.open(&sealed).as_deref(), Some("whsec_abc"));
        assert_eq!(other.open(&sealed), None);
        assert_eq!(key.open("x1:00"), None);
        assert!(SecretKey::from_hex("abc").is_err());
    }

    #[test]
    fn the_key_file_is_created_once_readable_by_its_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("loyalty.db.key");
        let first = SecretKey::load(None, Some(&path)).unwrap().unwrap();
        let again = SecretKey::load(None, Some(&path)).unwrap().unwrap();
        assert_eq!(again.open(&first.seal("x")).as_deref(), Some("x"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let from_env = SecretKey::load(Some(&"ab".repeat(32)), Some(&path))
            .unwrap()
            .unwrap();
        assert_eq!(
            from_env.open(&first.seal("x")),
            None,
            "the variable wins over the file"
        );
    }
}
