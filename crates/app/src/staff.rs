use loyalty_core::Invalid;
use loyalty_core::email::Email;
use loyalty_core::id::new_id;
use loyalty_core::tenancy::{Access, Role, StaffUser};
use loyalty_store::repo::staff;
use loyalty_store::{Page, Paged};

use crate::activity::{Change, record, snapshot};
use crate::auth::{check_password, hash_password};
use crate::{App, AppError, AppResult, Ctx};

#[derive(Debug, Clone)]
pub struct NewStaff {
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
    pub password: String,
}

impl App {
    pub async fn create_staff(&self, ctx: &Ctx, input: NewStaff) -> AppResult<StaffUser> {
        ctx.require(Access::Admin)?;
        let mut errors = Invalid::default();
        let email = errors.check("email", Email::parse(&input.email));
        errors.check("password", check_password(&input.password));
        let name = input.name.as_deref().and_then(|n| {
            loyalty_core::member::check_name(&mut errors, "name", n).filter(|n| !n.is_empty())
        });
        if !errors.is_empty() {
            return Err(errors.into());
        }
        let email = email.expect("checked above").into_string();
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

    pub async fn staff(&self, ctx: &Ctx, page: Page) -> AppResult<Paged<StaffUser>> {
        ctx.require(Access::Admin)?;
        let tenant_id = ctx.tenant_id.clone();
        Ok(self
            .db
            .read(move |sql| staff::list(sql, &tenant_id, &page))
            .await?)
    }
}
