//! Staff signing in to the admin UI: sessions, their CSRF tokens, and login throttling.
//!
//! The browser holds a random token in an HttpOnly cookie; the database holds its SHA-256
//! (as for API keys: the token is long and random, so a fast hash is enough). Each session
//! has its own CSRF token that every form must send back.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use loyalty_core::code::random_code;
use loyalty_core::tenancy::{Actor, ActorKind, StaffUser};
use loyalty_store::repo::reports::{self, Dashboard};
use loyalty_store::repo::{sessions, staff, tenants};

use crate::activity::{Change, record};
use crate::auth::{hash_secret, verify_password};
use crate::{App, AppError, AppResult, Ctx};

/// A session ends after this long without use.
pub const SESSION_IDLE: SignedDuration = SignedDuration::from_hours(12);
/// Failed sign-ins allowed per account, and per client address, within [`THROTTLE_WINDOW`].
pub const MAX_FAILURES_PER_ACCOUNT: u32 = 5;
pub const MAX_FAILURES_PER_CLIENT: u32 = 20;
pub const THROTTLE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// A signed-in staff member, as every admin page sees them.
#[derive(Debug, Clone)]
pub struct Session {
    pub ctx: Ctx,
    pub user: StaffUser,
    pub csrf_token: String,
}

/// Failed sign-ins, counted in memory per account and per client address. (Per instance: with
/// several instances an attacker gets a few more tries, which argon2's cost still bounds.)
#[derive(Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginThrottle {
    fn retry_after(&self, key: &str, limit: u32) -> Option<u64> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let (count, since) = failures.get(key)?;
        let elapsed = since.elapsed();
        (*count >= limit && elapsed < THROTTLE_WINDOW)
            .then(|| (THROTTLE_WINDOW - elapsed).as_secs().max(1))
    }

    fn fail(&self, key: String) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() > 10_000 {
            failures.retain(|_, (_, since)| since.elapsed() < THROTTLE_WINDOW);
        }
        let entry = failures.entry(key).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= THROTTLE_WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    fn forget(&self, key: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.remove(key);
    }
}

fn session_ctx(tenant_id: String, user: &StaffUser) -> Ctx {
    Ctx {
        tenant_id,
        actor: Actor {
            kind: ActorKind::Staff,
            id: Some(user.id.clone()),
            name: Some(user.name.clone().unwrap_or_else(|| user.email.clone())),
        },
        scopes: user.role.scopes(),
    }
}

impl App {
    /// True until the first tenant exists: the admin UI then shows its setup page.
    pub async fn needs_setup(&self) -> AppResult<bool> {
        Ok(self.db.read(tenants::list).await?.is_empty())
    }

    /// Checks an e-mail and password and opens a session; returns the cookie's token.
    /// `client` is the caller's address, for throttling.
    pub async fn sign_in(&self, email: &str, password: String, client: &str) -> AppResult<String> {
        let email = email.trim().to_lowercase();
        let (account_key, client_key) = (format!("account:{email}"), format!("client:{client}"));
        let throttled = self
            .logins
            .retry_after(&account_key, MAX_FAILURES_PER_ACCOUNT)
            .or_else(|| {
                self.logins
                    .retry_after(&client_key, MAX_FAILURES_PER_CLIENT)
            });
        if let Some(retry_after_secs) = throttled {
            return Err(AppError::Throttled { retry_after_secs });
        }
        let lookup = email.clone();
        let accounts = self
            .db
            .read(move |sql| staff::by_email_any_tenant(sql, &lookup))
            .await?;
        if accounts.is_empty() {
            // Spend what a password check costs, so the answer's timing does not tell which
            // e-mails have accounts.
            let _ = crate::auth::hash_password(password.clone()).await;
        }
        let mut signed_in = None;
        for (tenant_id, user, hash) in accounts {
            if verify_password(password.clone(), hash).await {
                signed_in = Some((tenant_id, user));
                break;
            }
        }
        let Some((tenant_id, user)) = signed_in else {
            self.logins.fail(account_key);
            self.logins.fail(client_key);
            return Err(AppError::Unauthorized("wrong e-mail or password"));
        };
        self.logins.forget(&account_key);

        let token = random_code(40);
        let csrf = random_code(32);
        let now = self.now();
        let ctx = session_ctx(tenant_id.clone(), &user);
        let id_hash = hash_secret(&token);
        self.db
            .write(move |sql| {
                sessions::delete_expired(sql, now)?;
                sessions::insert(
                    sql,
                    &sessions::NewSession {
                        id_hash: &id_hash,
                        tenant_id: &tenant_id,
                        staff_id: &user.id,
                        csrf_token: &csrf,
                        created_at: now,
                        expires_at: now + SESSION_IDLE,
                    },
                )?;
                staff::touch_login(sql, &tenant_id, &user.id, now)?;
                let change = Change {
                    entity: "staff_user",
                    id: &user.id,
                    action: "sign_in",
                };
                record(sql, &ctx, now, change, None, None)
            })
            .await?;
        Ok(token)
    }

    /// The session behind a cookie's token, if it is live. Use slides its end forward.
    pub async fn session(&self, token: &str) -> AppResult<Option<Session>> {
        if token.is_empty() || token.len() > 100 {
            return Ok(None);
        }
        let (id_hash, now) = (hash_secret(token), self.now());
        let lookup = id_hash.clone();
        let Some(row) = self
            .db
            .read(move |sql| sessions::get(sql, &lookup, now))
            .await?
        else {
            return Ok(None);
        };
        // Write at most once an hour per session, not on every page.
        if row.expires_at - now < SESSION_IDLE - SignedDuration::from_hours(1) {
            self.db
                .write(move |sql| sessions::extend(sql, &id_hash, now + SESSION_IDLE))
                .await?;
        }
        Ok(Some(Session {
            ctx: session_ctx(row.tenant_id, &row.user),
            user: row.user,
            csrf_token: row.csrf_token,
        }))
    }

    pub async fn sign_out(&self, token: &str) -> AppResult<()> {
        let id_hash = hash_secret(token);
        Ok(self
            .db
            .write(move |sql| sessions::delete(sql, &id_hash))
            .await?)
    }

    /// The dashboard's figures for orders, points and members in `[from, to)`.
    pub async fn dashboard(
        &self,
        ctx: &Ctx,
        from: Timestamp,
        to: Timestamp,
    ) -> AppResult<Dashboard> {
        ctx.require(loyalty_core::tenancy::Access::Read)?;
        let info = self.tenant(ctx).await?;
        let offset = info.zone.to_offset(to).seconds() as i64;
        let tenant_id = ctx.tenant_id.clone();
        Ok(self
            .db
            .snapshot(move |sql| reports::dashboard(sql, &tenant_id, from, to, offset))
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_throttle_locks_after_the_limit_and_forgets_on_success() {
        let throttle = LoginThrottle::default();
        for _ in 0..MAX_FAILURES_PER_ACCOUNT - 1 {
            throttle.fail("a".into());
        }
        assert_eq!(throttle.retry_after("a", MAX_FAILURES_PER_ACCOUNT), None);
        throttle.fail("a".into());
        let wait = throttle.retry_after("a", MAX_FAILURES_PER_ACCOUNT).unwrap();
        assert!(wait > 0 && wait <= THROTTLE_WINDOW.as_secs());
        throttle.forget("a");
        assert_eq!(throttle.retry_after("a", MAX_FAILURES_PER_ACCOUNT), None);
    }
}
