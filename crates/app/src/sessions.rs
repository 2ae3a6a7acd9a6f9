//! Staff signing in to the admin UI: sessions, their CSRF tokens, and login throttling.
//!
//! The browser holds a random token in an HttpOnly cookie; the database holds its SHA-256
//! (as for API keys: the token is long and random, so a fast hash is enough). Each session
//! has its own CSRF token that every form must send back.

use std::time::Instant;

use jiff::{SignedDuration, Timestamp};
use loyalty_core::code::random_code;
use loyalty_core::tenancy::{Actor, ActorKind, StaffUser};
use loyalty_store::repo::reports::{self, Dashboard};
use loyalty_store::repo::{sessions, sign_ins, staff, tenants};

use crate::activity::{Change, record};
use crate::auth::{hash_password, hash_secret, verify_password};
use crate::throttle::{self, Outcome};
use crate::{App, AppError, AppResult, Ctx};

/// A session ends after this long without use…
pub const SESSION_IDLE: SignedDuration = SignedDuration::from_hours(12);
/// …and this long after signing in, however much it is used.
pub const SESSION_MAX: SignedDuration = SignedDuration::from_hours(7 * 24);

/// A signed-in staff member, as every admin page sees them.
#[derive(Debug, Clone)]
pub struct Session {
    pub ctx: Ctx,
    pub user: StaffUser,
    pub csrf_token: String,
}

fn session_ctx(tenant_id: String, user: &StaffUser) -> Ctx {
    Ctx {
        tenant_id: tenant_id.into(),
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
        Ok(!self.db.read(tenants::any).await?)
    }

    /// Checks an e-mail and password and opens a session; returns the cookie's token.
    /// `client` is the caller's address, for throttling (see `throttle`): the attempt is
    /// reserved before any password is hashed, and refused at once during a delay.
    pub async fn sign_in(&self, email: &str, password: String, client: &str) -> AppResult<String> {
        let email = email.trim().to_lowercase();
        let ticket = self
            .logins
            .reserve(&email, client, Instant::now())
            .map_err(|retry_after_secs| AppError::Throttled { retry_after_secs })?;
        let (account, client_subject) = {
            let (account, client) = ticket.subjects();
            (account.to_string(), client.to_string())
        };
        self.wait_for_other_instances_delay(&account, &client_subject)
            .await?;
        let checked = self.check_password(&email, password).await;
        let outcome = match &checked {
            Ok(Some(_)) => Outcome::Succeeded,
            Ok(None) => Outcome::WrongPassword,
            Err(_) => Outcome::Abandoned,
        };
        ticket.finish(outcome, Instant::now());
        let Some((tenant_id, user, checked_hash)) = checked? else {
            self.share_failure(account, client_subject).await?;
            return Err(AppError::Unauthorized("wrong e-mail or password"));
        };
        let token = random_code(40);
        let csrf = random_code(32);
        let now = self.now();
        let ctx = session_ctx(tenant_id.clone(), &user);
        let id_hash = hash_secret(&token);
        self.db
            .write(move |sql| {
                // A reset or deactivation that committed while the password was being checked
                // wins: the session is not opened with the old password.
                let current = staff::get(sql, &tenant_id, &user.id)?;
                if current.is_none_or(|u| !u.active)
                    || staff::password_hash(sql, &tenant_id, &user.id)? != checked_hash
                {
                    return Err(AppError::Unauthorized("wrong e-mail or password"));
                }
                sessions::delete_expired(sql, now)?;
                sign_ins::clear(sql, &account)?;
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
                Ok(record(sql, &ctx, now, change, None, None)?)
            })
            .await?;
        Ok(token)
    }

    /// Refuses a sign-in while the account or the client waits out a delay that failures on
    /// any instance set (`throttle` holds this instance's own).
    async fn wait_for_other_instances_delay(&self, account: &str, client: &str) -> AppResult<()> {
        let (account, client) = (account.to_string(), client.to_string());
        let until = self
            .db
            .read(move |sql| sign_ins::blocked_until(sql, &account, &client))
            .await?;
        // Delays are real time, as the in-memory guard's are (not the business clock).
        let now = Timestamp::now();
        match until {
            Some(until) if until > now => Err(AppError::Throttled {
                retry_after_secs: throttle::seconds((until - now).unsigned_abs()),
            }),
            _ => Ok(()),
        }
    }

    /// Counts a wrong password for every instance: the account's and the client's failures,
    /// and the delay they now call for.
    async fn share_failure(&self, account: String, client: String) -> AppResult<()> {
        // Delays are real time, as the in-memory guard's are (not the business clock).
        let now = Timestamp::now();
        let forget_before =
            now - SignedDuration::try_from(throttle::FORGET_AFTER).map_err(anyhow::Error::from)?;
        self.db
            .write(move |sql| {
                for subject in [&account, &client] {
                    let failures = sign_ins::add_failure(sql, subject, now, forget_before)?;
                    let wait =
                        throttle::delay_after(subject, u32::try_from(failures).unwrap_or(u32::MAX));
                    if !wait.is_zero() {
                        let wait = SignedDuration::try_from(wait).map_err(anyhow::Error::from)?;
                        sign_ins::block(sql, subject, now + wait)?;
                    }
                }
                Ok::<_, AppError>(())
            })
            .await
    }

    /// The active account with this e-mail and password, if any.
    async fn check_password(
        &self,
        email: &str,
        password: String,
    ) -> AppResult<Option<(String, StaffUser, String)>> {
        let lookup = email.to_string();
        let accounts = self
            .db
            .read(move |sql| staff::by_email_any_tenant(sql, &lookup))
            .await?;
        if accounts.is_empty() {
            // Spend what a password check costs, so the answer's timing does not tell which
            // e-mails have accounts.
            hash_password(password).await?;
            return Ok(None);
        }
        for (tenant_id, user, hash) in accounts {
            if verify_password(password.clone(), hash.clone()).await? {
                return Ok(Some((tenant_id, user, hash)));
            }
        }
        Ok(None)
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
        // Slide the end forward, never past the absolute end; write at most once an hour per
        // session, not on every page.
        let until = (now + SESSION_IDLE).min(row.created_at + SESSION_MAX);
        if until - row.expires_at > SignedDuration::from_hours(1) {
            self.db
                .write(move |sql| sessions::extend(sql, &id_hash, until))
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
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
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
