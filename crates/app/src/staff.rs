//! Staff accounts: creating them, and the owner's offboarding — deactivating, changing a role,
//! resetting a password — each of which ends the account's sessions at once. Staff change their
//! own password with the current one.

use std::time::Instant;

use loyalty_core::id::new_id;
use loyalty_core::tenancy::{Access, Role, StaffUser};
use loyalty_store::repo::{sessions, staff};
use loyalty_store::{Page, Paged, Sql};

use crate::activity::{Change, record, snapshot};
use loyalty_core::input::staff::validate_password;

use crate::auth::{hash_password, hash_secret, verify_password};
use crate::sessions::Session;
use crate::throttle::Outcome;
use crate::{App, AppError, AppResult, Ctx};

pub use loyalty_core::input::staff::{NewStaff, StaffChange};

impl App {
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn create_staff(&self, ctx: &Ctx, input: NewStaff) -> AppResult<StaffUser> {
        ctx.require(Access::Admin)?;
        let (email, name) = input.validate()?;
        let email = email.into_string();
        let password_hash = hash_password(input.password).await?;
        let now = self.now();
        let user = StaffUser {
            id: new_id("usr"),
            email,
            name,
            role: input.role,
            active: true,
            created_at: now,
            last_login_at: None,
        };
        let (ctx2, u) = (ctx.clone(), user.clone());
        self.db
            .write(move |sql| {
                if staff::by_email(sql, &ctx2.tenant_id, &u.email)?.is_some() {
                    return Err(AppError::conflict(
                        "duplicate",
                        "email",
                        "a staff account with this e-mail exists",
                    ));
                }
                staff::insert(sql, &ctx2.tenant_id, &u, &password_hash)?;
                let change = Change {
                    entity: "staff_user",
                    id: &u.id,
                    action: "create",
                };
                record(sql, &ctx2, now, change, None, snapshot(&u))?;
                Ok(())
            })
            .await?;
        Ok(user)
    }

    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn staff(&self, ctx: &Ctx, page: Page) -> AppResult<Paged<StaffUser>> {
        ctx.require(Access::Admin)?;
        let tenant_id = ctx.tenant_id.clone();
        Ok(self
            .db
            .read(move |sql| staff::list(sql, &tenant_id, &page))
            .await?)
    }

    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, id = %id))]
    pub async fn staff_member(&self, ctx: &Ctx, id: String) -> AppResult<StaffUser> {
        ctx.require(Access::Admin)?;
        let tenant_id = ctx.tenant_id.clone();
        self.db
            .read(move |sql| staff::get(sql, &tenant_id, &id))
            .await?
            .ok_or(AppError::NotFound {
                entity: "staff member",
            })
    }

    /// Renames, changes the role of, deactivates or reactivates an account. A new role or a
    /// deactivation ends the account's sessions in the same transaction; the last active owner
    /// can be neither demoted nor deactivated.
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, id = %id))]
    pub async fn update_staff(
        &self,
        ctx: &Ctx,
        id: String,
        change: StaffChange,
    ) -> AppResult<StaffUser> {
        ctx.require(Access::Admin)?;
        let name = change.validate_name()?;
        let (ctx2, now) = (ctx.clone(), self.now());
        self.db
            .write(move |sql| {
                let before = load(sql, &ctx2.tenant_id, &id)?;
                let mut after = before.clone();
                if let Some(name) = name.clone() {
                    after.name = name;
                }
                after.role = change.role.unwrap_or(after.role);
                after.active = change.active.unwrap_or(after.active);
                if after == before {
                    return Ok(after);
                }
                let loses_owner = before.role == Role::Owner
                    && before.active
                    && (after.role != Role::Owner || !after.active);
                if loses_owner {
                    staff::active_owners(sql, &ctx2.tenant_id)?;
                }
                staff::update(sql, &ctx2.tenant_id, &after, now)?;
                if loses_owner && staff::active_owners(sql, &ctx2.tenant_id)? == 0 {
                    return Err(AppError::conflict(
                        "last_owner",
                        if after.active { "role" } else { "active" },
                        "the last active owner must stay an active owner; make another owner first",
                    ));
                }
                if after.role != before.role || !after.active {
                    sessions::delete_for_staff(sql, &ctx2.tenant_id, &after.id, None)?;
                }
                let action = match (before.active, after.active) {
                    (true, false) => "deactivate",
                    (false, true) => "reactivate",
                    _ => "update",
                };
                let change = Change {
                    entity: "staff_user",
                    id: &after.id,
                    action,
                };
                record(sql, &ctx2, now, change, snapshot(&before), snapshot(&after))?;
                Ok(after)
            })
            .await
    }

    /// Sets a new password for an account (the owner's reset, for someone who forgot theirs or
    /// left); every session of the account ends.
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, id = %id))]
    pub async fn reset_staff_password(
        &self,
        ctx: &Ctx,
        id: String,
        password: String,
    ) -> AppResult<StaffUser> {
        ctx.require(Access::Admin)?;
        validate_password("password", &password)?;
        let hash = hash_password(password).await?;
        let (ctx2, now) = (ctx.clone(), self.now());
        self.db
            .write(move |sql| {
                let user = load(sql, &ctx2.tenant_id, &id)?;
                staff::set_password(sql, &ctx2.tenant_id, &user.id, &hash, now)?;
                sessions::delete_for_staff(sql, &ctx2.tenant_id, &user.id, None)?;
                let change = Change {
                    entity: "staff_user",
                    id: &user.id,
                    action: "password_reset",
                };
                record(sql, &ctx2, now, change, None, None)?;
                Ok(user)
            })
            .await
    }

    /// A signed-in staff member changes their own password, giving the current one (checked
    /// under the same sign-in limits); their other sessions end, this one (`token`) stays.
    pub async fn change_own_password(
        &self,
        session: &Session,
        token: &str,
        client: &str,
        current: String,
        new: String,
    ) -> AppResult<()> {
        validate_password("new_password", &new)?;
        let (tenant_id, user_id) = (session.ctx.tenant_id.clone(), session.user.id.clone());
        let ticket = self
            .logins
            .reserve(&session.user.email, client, Instant::now())
            .map_err(|retry_after_secs| AppError::Throttled { retry_after_secs })?;
        let (t, u) = (tenant_id.clone(), user_id.clone());
        let stored = self
            .db
            .read(move |sql| staff::password_hash(sql, &t, &u))
            .await;
        let matches = match stored {
            Ok(hash) => verify_password(current, hash).await,
            Err(error) => Err(error.into()),
        };
        let outcome = match &matches {
            Ok(true) => Outcome::Succeeded,
            Ok(false) => Outcome::WrongPassword,
            Err(_) => Outcome::Abandoned,
        };
        ticket.finish(outcome, Instant::now());
        if !matches? {
            return Err(AppError::invalid(
                "current_password",
                "password.not_current",
                "is not your current password",
            ));
        }
        let hash = hash_password(new).await?;
        let (ctx, now, keep) = (session.ctx.clone(), self.now(), hash_secret(token));
        self.db
            .write(move |sql| {
                staff::set_password(sql, &tenant_id, &user_id, &hash, now)?;
                sessions::delete_for_staff(sql, &tenant_id, &user_id, Some(&keep))?;
                let change = Change {
                    entity: "staff_user",
                    id: &user_id,
                    action: "password_change",
                };
                record(sql, &ctx, now, change, None, None)?;
                Ok::<_, AppError>(())
            })
            .await
    }
}

fn load(sql: &mut dyn Sql, tenant_id: &str, id: &str) -> AppResult<StaffUser> {
    staff::get(sql, tenant_id, id)?.ok_or(AppError::NotFound {
        entity: "staff member",
    })
}
