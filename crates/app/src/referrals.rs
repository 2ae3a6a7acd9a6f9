//! Referral (API.md "Referral"): members' codes, a referral made at registration, at the till
//! after the referrer's purchase or from the portal, completed in the transaction of the
//! friend's qualifying order (both rewards with it) and reversed with that order's cancel or
//! full refund. The rules are `core::referral`'s; this module reads what they need and writes
//! what they decide.

use jiff::Timestamp;
use loyalty_core::event::{EventType, Raised};
use loyalty_core::id::{MemberId, new_id};
use loyalty_core::member::{Member, MemberStatus, Profile};
use loyalty_core::phone::Phone;
use loyalty_core::referral::{
    self, Given, Proposal, Referral, ReferralReport, ReferralReward, ReferralSettings,
};
use loyalty_core::tenancy::Access;
use loyalty_store::Sql;
use loyalty_store::repo::members::{self, Contact};
use loyalty_store::repo::referrals::{self as store, ReferralRow};
use loyalty_store::repo::vouchers;

use crate::activity::{Change, record};
use crate::events::raise;
use crate::points::Book;
use crate::{App, AppError, AppResult, Ctx, TenantInfo};

/// Who referred, as the till names them (`POST /api/v1/referrals`).
#[derive(Debug, Clone, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReferrerIn {
    pub phone: Option<String>,
    pub member_code: Option<String>,
    pub member_id: Option<String>,
}

/// The friend whose phone the till enters after the referrer's payment.
#[derive(Debug, Clone, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FriendIn {
    pub phone: String,
    pub name: Option<String>,
}

/// `POST /api/v1/referrals`.
#[derive(Debug, Clone, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReferralIn {
    pub referrer: ReferrerIn,
    pub friend: FriendIn,
}

/// The member's side of the program (`GET /portal/v1/{slug}/me/referral`).
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MyReferral {
    /// Whether the shop runs a referral program.
    pub enabled: bool,
    pub code: String,
    /// The portal link to share (`/m/{slug}?ref={code}`; absolute when the server knows its
    /// public URL).
    pub link: String,
    /// Friends referred, and how many of them completed.
    pub referred: i64,
    pub completed: i64,
    pub referrer_reward: Option<ReferralReward>,
    pub friend_reward: Option<ReferralReward>,
}

/// A referral with the names the admin's list shows.
#[derive(Debug, Clone)]
pub struct NamedReferral {
    pub referral: Referral,
    pub referrer_name: String,
    pub friend_name: String,
}

/// Where a referral was made.
pub(crate) const AT_REGISTRATION: &str = "registration";
pub(crate) const AT_POS: &str = "pos";
pub(crate) const AT_PORTAL: &str = "portal";

impl App {
    /// `POST /api/v1/referrals`: the till enters a friend's phone after the referrer paid; the
    /// friend is registered as a customer when new.
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn create_referral(&self, ctx: &Ctx, input: ReferralIn) -> AppResult<Referral> {
        ctx.require(Access::Pos)?;
        let phone = Phone::parse(input.friend.phone.trim())
            .map_err(|e| AppError::invalid("friend.phone", "phone.invalid", e.to_string()))?;
        let name = input
            .friend
            .name
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty());
        if name.as_ref().is_some_and(|n| n.chars().count() > 200) {
            return Err(AppError::invalid(
                "friend.name",
                "length",
                "at most 200 characters",
            ));
        }
        let info = self.tenant(ctx).await?;
        let (ctx2, now) = (ctx.clone(), self.now());
        let key = phone.as_str().to_string();
        self.db
            .write_keyed(&key, move |sql| {
                let referrer = referrer_named(sql, &ctx2.tenant_id, &input.referrer)?;
                let friend = friend_by_phone(sql, &ctx2, phone.clone(), name.clone(), now)?;
                let row = refer_in(
                    sql,
                    &ctx2,
                    &info,
                    &referrer,
                    &friend,
                    (AT_POS, "friend.phone"),
                    now,
                )?;
                Ok(view(row))
            })
            .await
    }

    /// `GET /api/v1/referrals?member_id=`: the referrals the member made or was referred by,
    /// or the shop's latest 500.
    pub async fn referrals(
        &self,
        ctx: &Ctx,
        member_id: Option<MemberId>,
    ) -> AppResult<Vec<Referral>> {
        ctx.require(Access::Read)?;
        let tenant_id = ctx.tenant_id.clone();
        let rows = self
            .db
            .read(move |sql| store::list(sql, &tenant_id, member_id.as_deref(), 500))
            .await?;
        Ok(rows.into_iter().map(view).collect())
    }

    /// `GET /api/v1/members/{id}/referral`: the member's referral code (drawn the first time it
    /// is asked for), for the till to tell the customer or print on a receipt.
    pub async fn referral_code(&self, ctx: &Ctx, member_id: MemberId) -> AppResult<String> {
        ctx.require(Access::Read)?;
        let (tenant_id, now) = (ctx.tenant_id.clone(), self.now());
        self.db
            .write(move |sql| {
                let member = members::get(sql, &tenant_id, &member_id)?
                    .ok_or(AppError::NotFound { entity: "member" })?;
                code_in(sql, &tenant_id, &member.id, now)
            })
            .await
    }

    /// The shop's latest referrals with both members' names (the admin's referral page).
    pub async fn referrals_named(&self, ctx: &Ctx) -> AppResult<Vec<NamedReferral>> {
        ctx.require(Access::Read)?;
        let tenant_id = ctx.tenant_id.clone();
        self.db
            .read(move |sql| {
                let rows = store::list(sql, &tenant_id, None, 200)?;
                let mut ids: Vec<&str> = rows
                    .iter()
                    .flat_map(|r| [r.referrer_id.as_str(), r.friend_id.as_str()])
                    .collect();
                ids.sort_unstable();
                ids.dedup();
                let found = members::get_many(sql, &tenant_id, &ids)?;
                let name = |id: &str| {
                    found
                        .iter()
                        .find(|m| m.id.as_str() == id)
                        .map(|m| {
                            m.profile
                                .name
                                .clone()
                                .or_else(|| {
                                    m.profile.phone.as_ref().map(|p| p.as_str().to_string())
                                })
                                .unwrap_or_else(|| m.member_code.clone())
                        })
                        .unwrap_or_default()
                };
                let named = rows
                    .into_iter()
                    .map(|r| NamedReferral {
                        referrer_name: name(&r.referrer_id),
                        friend_name: name(&r.friend_id),
                        referral: view(r),
                    })
                    .collect();
                Ok::<_, AppError>(named)
            })
            .await
    }

    /// `GET /api/v1/reports/referrals?from=&to=`: the days `from` to `to` (both included, the
    /// shop's time zone); this month so far by default.
    pub async fn referral_report(
        &self,
        ctx: &Ctx,
        from: Option<jiff::civil::Date>,
        to: Option<jiff::civil::Date>,
    ) -> AppResult<ReferralReport> {
        ctx.require(Access::Read)?;
        let info = self.tenant(ctx).await?;
        let today = self.now().to_zoned_datetime(info.zone.clone()).date();
        let from_day = from.unwrap_or_else(|| today.first_of_month());
        let to_day = to.unwrap_or(today);
        if from_day > to_day {
            return Err(AppError::invalid(
                "from",
                "after_to",
                "from must not be after to",
            ));
        }
        let start = |day: jiff::civil::Date| {
            day.to_zoned_datetime(info.zone.clone())
                .map(|z| z.timestamp())
                .map_err(|e| AppError::invalid("to", "invalid", e.to_string()))
        };
        let from = start(from_day)?;
        let to = start(
            to_day
                .tomorrow()
                .map_err(|e| AppError::invalid("to", "invalid", e.to_string()))?,
        )?;
        let tenant_id = ctx.tenant_id.clone();
        let row = self
            .db
            .read(move |sql| store::report(sql, &tenant_id, from, to))
            .await?;
        let points_cost = row
            .points_given
            .checked_mul(info.program.redeem.point_value)
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("referral cost overflows")))?;
        Ok(ReferralReport {
            referrers: row.referrers,
            friends: row.friends,
            completed: row.completed,
            reversed: row.reversed,
            friends_orders: row.friends_orders,
            friends_revenue: row.friends_revenue,
            points_given: row.points_given,
            points_cost,
            vouchers_given: row.vouchers_given,
        })
    }

    /// The signed-in member's referral code (drawn the first time it is asked for), the link
    /// to share and their counts.
    pub async fn my_referral(
        &self,
        who: &crate::portal::PortalMember,
        slug: &str,
    ) -> AppResult<MyReferral> {
        let (ctx, member_id) = (&who.ctx, who.member_id.as_str());
        let info = self.tenant(ctx).await?;
        let (tenant_id, member_id, now) =
            (ctx.tenant_id.clone(), member_id.to_string(), self.now());
        // Read first: the code is drawn (a write) only the first time.
        let (t, m) = (tenant_id.clone(), member_id.clone());
        let (code, (referred, completed)) = self
            .db
            .read(move |sql| {
                let code = store::code_of(sql, &t, &m)?;
                Ok::<_, AppError>((code, store::made_counts(sql, &t, &m)?))
            })
            .await?;
        let code = match code {
            Some(code) => code,
            None => {
                self.db
                    .write(move |sql| code_in(sql, &tenant_id, &member_id, now))
                    .await?
            }
        };
        let settings = &info.program.referral;
        Ok(MyReferral {
            enabled: settings.enabled,
            link: self.public_link(&format!("/m/{slug}?ref={code}")),
            code,
            referred,
            completed,
            referrer_reward: settings.referrer_reward.clone(),
            friend_reward: settings.friend_reward.clone(),
        })
    }
}

/// The member's referral code, drawn and kept when they have none yet.
pub(crate) fn code_in(
    sql: &mut dyn Sql,
    tenant_id: &str,
    member_id: &str,
    now: Timestamp,
) -> AppResult<String> {
    for _ in 0..10 {
        if let Some(code) = store::code_of(sql, tenant_id, member_id)? {
            return Ok(code);
        }
        let drawn = loyalty_core::code::random_code(referral::CODE_LEN);
        store::insert_code(sql, tenant_id, member_id, &drawn, now)?;
    }
    Err(AppError::Internal(anyhow::anyhow!(
        "no free referral code after 10 draws"
    )))
}

/// The member a `referred_by` names: a referral code, else a phone number.
pub(crate) fn referrer_by(sql: &mut dyn Sql, tenant_id: &str, text: &str) -> AppResult<Member> {
    let text = text.trim();
    let unknown = || {
        AppError::invalid(
            "referred_by",
            "referral.referrer_unknown",
            "no member has this referral code or phone number",
        )
    };
    let id = if referral::looks_like_code(text) {
        store::member_by_code(sql, tenant_id, &text.to_ascii_uppercase())?
    } else {
        match Phone::parse(text) {
            Ok(phone) => members::id_by_contact(sql, tenant_id, Contact::Phone, phone.as_str())?,
            Err(_) => None,
        }
    };
    let id = id.ok_or_else(unknown)?;
    members::get_for_update(sql, tenant_id, &id)?.ok_or_else(unknown)
}

/// The referrer as the till names them, locked.
fn referrer_named(sql: &mut dyn Sql, tenant_id: &str, r: &ReferrerIn) -> AppResult<Member> {
    let unknown = |field: &str| {
        AppError::invalid(
            format!("referrer.{field}"),
            "member.not_found",
            "no member is known by this",
        )
    };
    let id = match (&r.member_id, &r.member_code, &r.phone) {
        (Some(id), _, _) => Some(id.clone()),
        (None, Some(code), _) => {
            let code = code.trim().to_ascii_uppercase();
            members::id_by_contact(sql, tenant_id, Contact::MemberCode, &code)?
        }
        (None, None, Some(phone)) => match Phone::parse(phone.trim()) {
            Ok(p) => members::id_by_contact(sql, tenant_id, Contact::Phone, p.as_str())?,
            Err(e) => {
                return Err(AppError::invalid(
                    "referrer.phone",
                    "phone.invalid",
                    e.to_string(),
                ));
            }
        },
        (None, None, None) => {
            return Err(AppError::invalid(
                "referrer",
                "required",
                "name the referrer by phone, member_code or member_id",
            ));
        }
    };
    let field = match (&r.member_id, &r.member_code) {
        (Some(_), _) => "member_id",
        (None, Some(_)) => "member_code",
        _ => "phone",
    };
    let id = id.ok_or_else(|| unknown(field))?;
    members::get_for_update(sql, tenant_id, &id)?.ok_or_else(|| unknown(field))
}

/// The friend with this phone, locked, or a new customer registered with it.
fn friend_by_phone(
    sql: &mut dyn Sql,
    ctx: &Ctx,
    phone: Phone,
    name: Option<String>,
    now: Timestamp,
) -> AppResult<Member> {
    let tenant_id = ctx.tenant_id.as_str();
    if let Some(id) = members::id_by_contact(sql, tenant_id, Contact::Phone, phone.as_str())?
        && let Some(found) = members::get_for_update(sql, tenant_id, &id)?
    {
        return Ok(found);
    }
    let profile = Profile {
        phone: Some(phone.clone()),
        name,
        ..Profile::default()
    };
    let (member, new) = crate::members::register_customer(sql, ctx, profile, "referral", now)?;
    if new {
        let event = loyalty_core::event::member_changed(EventType::MemberCreated, &member);
        raise(sql, tenant_id, now, &[event])?;
    }
    Ok(member)
}

/// Makes `friend` the referred friend of `referrer` (both locked by the caller), or refuses
/// with the API's reason under `field` (the input that named the referrer).
pub(crate) fn refer_in(
    sql: &mut dyn Sql,
    ctx: &Ctx,
    info: &TenantInfo,
    referrer: &Member,
    friend: &Member,
    (source, field): (&str, &str),
    now: Timestamp,
) -> AppResult<ReferralRow> {
    let tenant_id = ctx.tenant_id.as_str();
    let friends_referral = store::of_friend_for_update(sql, tenant_id, &friend.id)?;
    let referrers_referral = store::of_friend_for_update(sql, tenant_id, &referrer.id)?;
    let since = referral::month_start(now, &info.zone);
    let proposal = Proposal {
        referrer,
        friend,
        friend_referred: friends_referral.is_some(),
        mutual: referrers_referral.is_some_and(|r| r.referrer_id == friend.id.as_str()),
        made_this_month: store::made_since(sql, tenant_id, &referrer.id, since)?,
    };
    referral::may_refer(&info.program.referral, &proposal).map_err(|r| refused(r, field))?;
    let row = ReferralRow {
        id: new_id("ref"),
        referrer_id: referrer.id.to_string(),
        friend_id: friend.id.to_string(),
        status: "pending".to_string(),
        source: source.to_string(),
        created_at: now,
        completed_order_id: None,
        completed_at: None,
        reversed_at: None,
        referrer_points: 0,
        referrer_voucher: None,
        friend_points: 0,
        friend_voucher: None,
    };
    // The friend's referral was checked above under the referrer's lock; a concurrent referral
    // of the same friend by someone else is refused by the unique index.
    if !store::insert(sql, tenant_id, &row)? {
        return Err(refused(referral::Refusal::AlreadyReferred, field));
    }
    let change = Change {
        entity: "referral",
        id: &row.id,
        action: "create",
    };
    let after = serde_json::json!({"referrer_id": row.referrer_id, "friend_id": row.friend_id, "source": source});
    record(sql, ctx, now, change, None, Some(after))?;
    Ok(row)
}

fn refused(refusal: referral::Refusal, field: &str) -> AppError {
    AppError::Rejected {
        code: refusal.code(),
        field: field.to_string(),
        message: refusal.to_string(),
    }
}

/// In the transaction of a paid order of `friend_id`: completes their pending referral when
/// the order qualifies, giving both rewards. Returns the events to raise after the order's and
/// the friend's member after the reward (for the receipt). Shops without the program read
/// nothing.
pub(crate) fn complete_in(
    sql: &mut dyn Sql,
    ctx: &Ctx,
    info: &TenantInfo,
    friend_id: &str,
    order_id: &str,
    total: i64,
    now: Timestamp,
) -> AppResult<(Vec<Raised>, Option<Member>)> {
    let settings = &info.program.referral;
    if !referral::completes(settings, total) {
        return Ok((Vec::new(), None));
    }
    let tenant_id = ctx.tenant_id.as_str();
    let Some(mut row) = store::of_friend_for_update(sql, tenant_id, friend_id)? else {
        return Ok((Vec::new(), None));
    };
    if row.status != "pending" {
        return Ok((Vec::new(), None));
    }
    let reason = format!("referral {}", row.id);
    let (referrer_points, referrer_voucher, _) = give(
        sql,
        ctx,
        settings.referrer_reward.as_ref(),
        &row.referrer_id,
        &reason,
        now,
    )?;
    let (friend_points, friend_voucher, friend) = give(
        sql,
        ctx,
        settings.friend_reward.as_ref(),
        &row.friend_id,
        &reason,
        now,
    )?;
    row.status = "completed".to_string();
    row.completed_order_id = Some(order_id.to_string());
    row.completed_at = Some(now);
    (row.referrer_points, row.referrer_voucher) = (referrer_points, referrer_voucher);
    (row.friend_points, row.friend_voucher) = (friend_points, friend_voucher);
    store::update(sql, tenant_id, &row)?;
    let event = referral_event(EventType::ReferralCompleted, &row);
    Ok((vec![event], friend))
}

/// Gives one side its reward: points through the ledger (an adjustment naming the referral)
/// or a voucher of the program. A blocked member is given nothing.
fn give(
    sql: &mut dyn Sql,
    ctx: &Ctx,
    reward: Option<&ReferralReward>,
    member_id: &str,
    reason: &str,
    now: Timestamp,
) -> AppResult<(i64, Option<String>, Option<Member>)> {
    let tenant_id = ctx.tenant_id.as_str();
    let Some(reward) = reward else {
        return Ok((0, None, None));
    };
    let Some(member) = members::get_for_update(sql, tenant_id, member_id)? else {
        return Ok((0, None, None));
    };
    if member.status == MemberStatus::Blocked {
        return Ok((0, None, None));
    }
    match reward {
        ReferralReward::Points { points } => {
            let (_, member) =
                crate::points::adjust_in(sql, ctx, member_id, *points, reason, None, now)?;
            Ok((*points, None, Some(member)))
        }
        ReferralReward::Voucher { voucher_program_id } => {
            let Some(program) = vouchers::get_program(sql, tenant_id, voucher_program_id)? else {
                tracing::warn!(
                    tenant = tenant_id,
                    "a referral reward's voucher program is gone"
                );
                return Ok((0, None, None));
            };
            let code =
                crate::vouchers::issue_to_member(sql, tenant_id, &program, member_id, reason, now)?;
            Ok((0, code, None))
        }
    }
}

/// In the transaction of a cancel or a full refund of `order_id`: reverses the referral it
/// completed, when that was within the program's `clawback_days` — the points taken back (into
/// debt when spent), an unused voucher withdrawn.
pub(crate) fn reverse_in(
    sql: &mut dyn Sql,
    ctx: &Ctx,
    info: &TenantInfo,
    order_id: &str,
    now: Timestamp,
) -> AppResult<Vec<Raised>> {
    let tenant_id = ctx.tenant_id.as_str();
    let Some(mut row) = store::completed_by_order_for_update(sql, tenant_id, order_id)? else {
        return Ok(Vec::new());
    };
    let completed_at = row.completed_at.unwrap_or(row.created_at);
    if !referral::claws_back(&info.program.referral, completed_at, now) {
        return Ok(Vec::new());
    }
    let reason = format!("referral {} reversed", row.id);
    let mut raised = Vec::new();
    for (member_id, points, voucher) in [
        (&row.referrer_id, row.referrer_points, &row.referrer_voucher),
        (&row.friend_id, row.friend_points, &row.friend_voucher),
    ] {
        if points > 0 {
            let mut book = Book::open(sql, tenant_id, member_id, now, Some(ctx.actor.clone()))?
                .ok_or(AppError::NotFound { entity: "member" })?;
            let entry = book.take_back(sql, points, &reason)?;
            book.save(sql)?;
            raised.push(crate::events::points_moved(
                EventType::PointsAdjusted,
                &book.member,
                &entry,
            ));
        }
        if let Some(code) = voucher {
            vouchers::code_for_update(sql, tenant_id, code)?;
            vouchers::withdraw_unused(sql, tenant_id, code)?;
        }
    }
    row.status = "reversed".to_string();
    row.reversed_at = Some(now);
    store::update(sql, tenant_id, &row)?;
    raised.push(referral_event(EventType::ReferralReversed, &row));
    let change = Change {
        entity: "referral",
        id: &row.id,
        action: "reverse",
    };
    record(
        sql,
        ctx,
        now,
        change,
        None,
        Some(serde_json::json!({"order_id": order_id})),
    )?;
    Ok(raised)
}

/// `referral.completed` / `referral.reversed`, about the member who referred (the one an
/// automation thanks).
fn referral_event(kind: EventType, row: &ReferralRow) -> Raised {
    let referrer = MemberId::from(row.referrer_id.as_str());
    Raised::new(
        kind,
        Some(&referrer),
        &serde_json::json!({"referral": view(row.clone())}),
    )
}

pub(crate) fn view(r: ReferralRow) -> Referral {
    Referral {
        id: r.id,
        referrer_id: r.referrer_id,
        friend_id: r.friend_id,
        status: r.status,
        source: r.source,
        created_at: r.created_at,
        completed_order_id: r.completed_order_id,
        completed_at: r.completed_at,
        reversed_at: r.reversed_at,
        referrer_reward: Given {
            points: r.referrer_points,
            voucher_code: r.referrer_voucher,
        },
        friend_reward: Given {
            points: r.friend_points,
            voucher_code: r.friend_voucher,
        },
    }
}

/// The voucher programs the settings' rewards name must exist (checked when the program is
/// saved).
pub(crate) fn check_settings(
    sql: &mut dyn Sql,
    tenant_id: &str,
    settings: &ReferralSettings,
) -> AppResult<()> {
    let mut errors = loyalty_core::Invalid::default();
    for (field, program_id) in settings.voucher_programs() {
        if vouchers::get_program(sql, tenant_id, program_id)?.is_none() {
            errors.push_coded(
                format!("{field}.voucher_program_id"),
                "voucher_program.not_found",
                "no voucher program with this id",
            );
        }
    }
    errors.into_result(|| ())?;
    Ok(())
}
