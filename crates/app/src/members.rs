//! Members: create, find, update, activate.

use crate::events::raise;
use loyalty_core::code::{MEMBER_CODE_LEN, random_code};
use loyalty_core::consent::ConsentSource;
use loyalty_core::event::{EventType, member_changed};
use loyalty_core::id::MemberId;
use loyalty_core::input::member::{MemberIn, MemberPatchIn};
use loyalty_core::member::{Member, MemberStatus, Profile};
use loyalty_core::tenancy::Access;
use loyalty_store::repo::members::{self, Contact, MemberFilter};
use loyalty_store::{Page, Paged, Sql};

use crate::activity::{Change, record, snapshot};
use crate::{App, AppError, AppResult, Ctx};

/// Where a member record came from, kept for reports (`api`, `pos`, `import`, `web`…).
pub const SOURCE_API: &str = "api";

impl App {
    /// Registers a customer. They become a member when activated (by hand or by their first
    /// paid order).
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn create_member(&self, ctx: &Ctx, mut input: MemberIn) -> AppResult<Member> {
        ctx.require(Access::Pos)?;
        let referred_by = input.referred_by.take().filter(|r| !r.trim().is_empty());
        if referred_by.as_ref().is_some_and(|r| r.chars().count() > 40) {
            return Err(AppError::invalid(
                "referred_by",
                "length",
                "at most 40 characters",
            ));
        }
        let (profile, source) = input.validate(self.today(ctx).await?)?;
        let info = match referred_by {
            Some(_) => Some(self.tenant(ctx).await?),
            None => None,
        };
        if !profile.has_contact() {
            return Err(contact_required(
                "a member needs a phone number or an e-mail address",
            ));
        }
        let now = self.now();
        let ctx2 = ctx.clone();
        let source = source.unwrap_or_else(|| SOURCE_API.to_string());
        let key = profile
            .phone
            .as_ref()
            .map(|p| p.as_str().to_string())
            .or_else(|| profile.email.as_ref().map(|e| e.as_str().to_string()))
            .unwrap_or_default();
        self.db
            .write_keyed(&key, move |sql| {
                ensure_contacts_free(sql, &ctx2.tenant_id, &profile, None)?;
                // The referrer is locked first, so the monthly cap holds under concurrency.
                let referrer = match &referred_by {
                    Some(text) => Some(crate::referrals::referrer_by(sql, &ctx2.tenant_id, text)?),
                    None => None,
                };
                let member = new_member(sql, &ctx2.tenant_id, profile.clone(), &source, now)?;
                members::insert(sql, &ctx2.tenant_id, &member)?;
                if let (Some(referrer), Some(info)) = (&referrer, &info) {
                    let at = (crate::referrals::AT_REGISTRATION, "referred_by");
                    crate::referrals::refer_in(sql, &ctx2, info, referrer, &member, at, now)?;
                }
                let from = ConsentSource::of(&ctx2.actor);
                let consent = &member.profile.consent;
                crate::consent::record(sql, &ctx2, from, &member.id, None, consent, now)?;
                let change = Change {
                    entity: "member",
                    id: &member.id,
                    action: "create",
                };
                record(sql, &ctx2, now, change, None, snapshot(&member))?;
                let event = member_changed(EventType::MemberCreated, &member);
                raise(sql, &ctx2.tenant_id, now, &[event])?;
                Ok(member)
            })
            .await
    }

    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, id = %id))]
    pub async fn member(&self, ctx: &Ctx, id: MemberId) -> AppResult<Member> {
        ctx.require(Access::Read)?;
        let (tenant_id, now) = (ctx.tenant_id.clone(), self.now());
        self.db
            .read(move |sql| {
                let Some(mut member) = members::get(sql, &tenant_id, &id)? else {
                    return Ok(None);
                };
                crate::points::as_of(sql, &tenant_id, &mut member, now)?;
                Ok::<_, AppError>(Some(member))
            })
            .await?
            .ok_or(AppError::NotFound { entity: "member" })
    }

    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn members(
        &self,
        ctx: &Ctx,
        filter: MemberFilter,
        page: Page,
    ) -> AppResult<Paged<Member>> {
        ctx.require(Access::Read)?;
        let tenant_id = ctx.tenant_id.clone();
        Ok(self
            .db
            .read(move |sql| members::search(sql, &tenant_id, &filter, &page))
            .await?)
    }

    /// Changes the given fields; an update that changes nothing writes nothing.
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, id = %id))]
    pub async fn update_member(
        &self,
        ctx: &Ctx,
        id: MemberId,
        input: MemberPatchIn,
    ) -> AppResult<Member> {
        ctx.require(Access::Pos)?;
        let patch = input.validate(self.today(ctx).await?)?;
        let now = self.now();
        let (ctx2, key) = (ctx.clone(), id.clone());
        self.db
            .write_keyed(&key, move |sql| {
                let before = members::get_for_update(sql, &ctx2.tenant_id, &id)?
                    .ok_or(AppError::NotFound { entity: "member" })?;
                let mut after = before.clone();
                after.profile.apply(patch.clone());
                if after == before {
                    return Ok(before);
                }
                if !after.profile.has_contact() {
                    return Err(contact_required(
                        "a member needs a phone number or an e-mail address; keep one of them",
                    ));
                }
                // The member read, not the id asked for: a merged record's id leads here.
                let id = &before.id;
                ensure_contacts_free(sql, &ctx2.tenant_id, &after.profile, Some(id))?;
                after.updated_at = now;
                members::update_profile(sql, &ctx2.tenant_id, &after)?;
                let (was, is) = (&before.profile.consent, &after.profile.consent);
                let from = ConsentSource::of(&ctx2.actor);
                crate::consent::record(sql, &ctx2, from, id, Some(was), is, now)?;
                let change = Change {
                    entity: "member",
                    id,
                    action: "update",
                };
                record(sql, &ctx2, now, change, snapshot(&before), snapshot(&after))?;
                let event = member_changed(EventType::MemberUpdated, &after);
                raise(sql, &ctx2.tenant_id, now, &[event])?;
                Ok(after)
            })
            .await
    }

    /// Makes a customer a member (kích hoạt thành viên). Activating a member again changes
    /// nothing; a blocked member cannot be activated.
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, id = %id))]
    pub async fn activate_member(&self, ctx: &Ctx, id: MemberId) -> AppResult<Member> {
        ctx.require(Access::Pos)?;
        let now = self.now();
        let (ctx2, key) = (ctx.clone(), id.clone());
        self.db
            .write_keyed(&key, move |sql| {
                let before = members::get_for_update(sql, &ctx2.tenant_id, &id)?
                    .ok_or(AppError::NotFound { entity: "member" })?;
                match before.status {
                    MemberStatus::Member => return Ok(before),
                    MemberStatus::Blocked => {
                        return Err(AppError::conflict(
                            "member_blocked",
                            "status",
                            "a blocked member cannot be activated",
                        ));
                    }
                    // `get_for_update` follows a tombstone to the kept member.
                    MemberStatus::Customer | MemberStatus::Merged => {}
                }
                let after = Member {
                    status: MemberStatus::Member,
                    member_since: Some(now),
                    updated_at: now,
                    ..before.clone()
                };
                members::update_profile(sql, &ctx2.tenant_id, &after)?;
                let change = Change {
                    entity: "member",
                    id: &id,
                    action: "activate",
                };
                record(sql, &ctx2, now, change, snapshot(&before), snapshot(&after))?;
                let event = member_changed(EventType::MemberActivated, &after);
                raise(sql, &ctx2.tenant_id, now, &[event])?;
                Ok(after)
            })
            .await
    }
}

/// Refuses a phone, e-mail or external id that another member of the tenant already has, naming
/// the field so the cashier knows which one clashes.
fn ensure_contacts_free(
    sql: &mut dyn Sql,
    tenant_id: &str,
    profile: &Profile,
    except: Option<&str>,
) -> AppResult<()> {
    let taken = |found: Option<String>| found.is_some_and(|id| Some(id.as_str()) != except);
    let phone = profile
        .phone
        .as_ref()
        .map(|p| (Contact::Phone, "phone", p.as_str()));
    let email = profile
        .email
        .as_ref()
        .map(|e| (Contact::Email, "email", e.as_str()));
    for (contact, field, value) in phone.into_iter().chain(email) {
        if taken(members::id_by_contact(sql, tenant_id, contact, value)?) {
            return Err(AppError::conflict(
                "duplicate",
                field,
                format!("another member already has {field} {value}"),
            ));
        }
    }
    for (system, external_id) in &profile.external_ids {
        if taken(members::id_by_external_id(
            sql,
            tenant_id,
            system,
            external_id,
        )?) {
            return Err(AppError::conflict(
                "duplicate",
                &format!("external_ids.{system}"),
                format!("another member already has {system} id {external_id}"),
            ));
        }
    }
    Ok(())
}

/// Registers a customer met for the first time by phone or e-mail (an order's buyer, a
/// referred friend, a portal sign-up), with its activity entry; when a concurrent request
/// registered the same person first, theirs, locked. The flag says whether it is new (the
/// caller raises `member.created` where its events want it).
pub(crate) fn register_customer(
    sql: &mut dyn Sql,
    ctx: &Ctx,
    profile: Profile,
    source: &str,
    now: jiff::Timestamp,
) -> AppResult<(Member, bool)> {
    let tenant_id = ctx.tenant_id.as_str();
    let (phone, email) = (profile.phone.clone(), profile.email.clone());
    let member = new_member(sql, tenant_id, profile, source, now)?;
    if !members::insert_if_absent(sql, tenant_id, &member)? {
        let theirs =
            crate::order_buyer::find_customer(sql, tenant_id, phone.as_ref(), email.as_ref())?
                .ok_or_else(|| {
                    AppError::Internal(anyhow::anyhow!("customer vanished after a conflict"))
                })?;
        return Ok((theirs, false));
    }
    let change = Change {
        entity: "member",
        id: &member.id,
        action: "create",
    };
    record(sql, ctx, now, change, None, snapshot(&member))?;
    Ok((member, true))
}

/// A new customer record (not yet activated) with an unused member code. Codes collide
/// rarely (31^8 of them); a few draws settle it.
pub(crate) fn new_member(
    sql: &mut dyn Sql,
    tenant_id: &str,
    profile: Profile,
    source: &str,
    now: jiff::Timestamp,
) -> AppResult<Member> {
    let mut member_code = None;
    for _ in 0..10 {
        let code = random_code(MEMBER_CODE_LEN);
        if members::id_by_contact(sql, tenant_id, Contact::MemberCode, &code)?.is_none() {
            member_code = Some(code);
            break;
        }
    }
    let member_code = member_code
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no free member code after 10 draws")))?;
    Ok(Member::new(
        member_code,
        MemberStatus::Customer,
        profile,
        Some(source.to_string()),
        now,
    ))
}

/// A member left without a phone number and an e-mail address (code `member.contact_required`).
fn contact_required(message: &str) -> AppError {
    let mut errors = loyalty_core::Invalid::default();
    errors.push_coded("phone", "member.contact_required", message);
    errors.into()
}
