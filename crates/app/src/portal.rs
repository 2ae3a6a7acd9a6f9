//! The member portal's sign-in and the member's own data (API.md "Member portal and widget"):
//! a one-time code to a phone (rules in `core::portal`), a session token that reaches one
//! member only, and what that member may read. Staff sessions and API keys never reach here,
//! and a member token reaches nothing else.

use jiff::Timestamp;
use loyalty_core::campaign::Message;
use loyalty_core::consent::ConsentSource;
use loyalty_core::event::EventType;
use loyalty_core::id::{MemberId, new_id};
use loyalty_core::member::Profile;
use loyalty_core::messaging::{ChannelKind, Purpose};
use loyalty_core::phone::Phone;
use loyalty_core::portal::{self as rules, StoredCode, Verdict};
use loyalty_core::tenancy::{Actor, ActorKind};
use loyalty_messaging::template::Rendered;
use loyalty_store::repo::members::{self, Contact};
use loyalty_store::repo::portal as store;
use rand::Rng;
use serde::Serialize;

use crate::{App, AppError, AppResult, Ctx};

/// A member's sign-in: the bearer token (shown once) and when it ends.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PortalSession {
    pub token: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub expires_at: Timestamp,
}

/// A signed-in member: their shop, as the member acts in it, and who they are.
#[derive(Debug, Clone)]
pub struct PortalMember {
    pub ctx: Ctx,
    pub member_id: MemberId,
}

/// The portal is not there (unknown slug, or switched off): a 404, as for any page.
fn no_portal() -> AppError {
    AppError::NotFound { entity: "portal" }
}

fn signed_out() -> AppError {
    AppError::Unauthorized("sign in to the portal again")
}

/// How the portal acts in the shop: as the member, reading and redeeming for themselves only.
fn member_ctx(tenant_id: &str, member_id: &str) -> Ctx {
    Ctx {
        actor: Actor {
            kind: ActorKind::Member,
            id: Some(member_id.to_string()),
            name: Some("portal".into()),
        },
        ..Ctx::cli(tenant_id)
    }
}

impl App {
    /// The tenant whose portal is at `slug`, when it is switched on.
    pub async fn portal_tenant(&self, slug: &str) -> AppResult<String> {
        if !rules::is_slug(slug) {
            return Err(no_portal());
        }
        let wanted = slug.to_string();
        let tenant_id = self
            .db
            .read(move |sql| store::tenant_by_slug(sql, &wanted))
            .await?
            .ok_or_else(no_portal)?;
        let info = self.tenant(&Ctx::cli(&tenant_id)).await?;
        if !info.program.portal.enabled {
            return Err(no_portal());
        }
        Ok(tenant_id)
    }

    /// Sends a sign-in code to `phone` when it belongs to a member and the limits allow; says
    /// nothing either way (`client` is the asking address, for its hourly limit). Only a
    /// malformed phone is refused.
    pub async fn request_portal_code(
        &self,
        slug: &str,
        phone: &str,
        client: &str,
    ) -> AppResult<()> {
        let phone = Phone::parse(phone)
            .map_err(|_| AppError::invalid("phone", "invalid", "a Vietnamese phone number"))?;
        let tenant_id = self.portal_tenant(slug).await?;
        let info = self.tenant(&Ctx::cli(&tenant_id)).await?;
        let now = self.now();
        let code = format!("{:06}", rand::rng().random_range(0..1_000_000));
        let salt = new_id("salt");
        let stored = StoredCode {
            id: new_id("otp"),
            hash: rules::code_hash(&salt, &code),
            salt,
            created_at: now,
            tries: 0,
        };
        let (tenant, number, client) = (
            tenant_id.clone(),
            phone.as_str().to_string(),
            client.to_string(),
        );
        let self_signup = info.program.portal.self_signup;
        let member = self
            .db
            .write(move |sql| {
                let member = match members::id_by_contact(sql, &tenant, Contact::Phone, &number)? {
                    Some(id) => {
                        let email = members::get(sql, &tenant, &id)?
                            .and_then(|m| m.profile.email.map(|e| e.as_str().to_string()));
                        Some((id, email))
                    }
                    None => None,
                };
                // A stranger gets a code only where the code registers them (`self_signup`).
                if member.is_none() && !self_signup {
                    return Ok::<_, AppError>(None);
                }
                let since = now - jiff::SignedDuration::from_hours(1);
                let (last, phone_hour, client_hour) =
                    store::code_counts(sql, &tenant, &number, &client, since)?;
                if let Err(held) = rules::may_send(last, phone_hour, client_hour, now) {
                    tracing::info!(?held, "a portal code was not sent");
                    return Ok(None);
                }
                store::insert_code(sql, &tenant, &number, &client, &stored)?;
                Ok(Some(member))
            })
            .await?;
        let Some(member) = member else {
            return Ok(());
        };
        let to = CodeTo {
            member_id: member.as_ref().map(|(id, _)| id.as_str()),
            phone: &phone,
            email: member.as_ref().and_then(|(_, email)| email.as_deref()),
        };
        self.send_code(&info, to, &code).await
    }

    /// Sends the code by the first channel that takes it, in API.md's order: Zalo ZNS (when the
    /// portal names its approved code template), SMS, then e-mail (to a member with an
    /// address); a refusal falls back to the next.
    async fn send_code(
        &self,
        info: &crate::TenantInfo,
        to: CodeTo<'_>,
        code: &str,
    ) -> AppResult<()> {
        let tenant_id = info.tenant.id.as_str();
        let shop = &info.tenant.name;
        let channels = self.channels(&Ctx::cli(tenant_id)).await?;
        let zns_template = info.program.portal.zns_otp_template_id.as_deref();
        for kind in [ChannelKind::Zalo, ChannelKind::Sms, ChannelKind::Email] {
            for channel in channels.iter().filter(|c| c.active) {
                let Ok(open) = self.load_channel(tenant_id, &channel.id).await else {
                    continue;
                };
                if open.kind.kind() != kind {
                    continue;
                }
                let (address, body) = match kind {
                    ChannelKind::Zalo => {
                        let Some(template_id) = zns_template else {
                            continue;
                        };
                        let params = [("otp".to_string(), code.to_string())].into();
                        let template_id = template_id.to_string();
                        (
                            to.phone.as_str().to_string(),
                            Rendered::Zns {
                                template_id,
                                params,
                            },
                        )
                    }
                    ChannelKind::Sms => {
                        let text = format!(
                            "{code} la ma dang nhap {} cua ban, co hieu luc 5 phut. Khong chia se ma nay.",
                            loyalty_messaging::sms::unaccented(shop)
                        );
                        let length = loyalty_messaging::sms::length(&text);
                        (
                            to.phone.as_str().to_string(),
                            Rendered::Sms { text, length },
                        )
                    }
                    ChannelKind::Email => {
                        let Some(email) = to.email else { continue };
                        let text = format!(
                            "{code} là mã đăng nhập {shop} của bạn, có hiệu lực 5 phút. Không chia sẻ mã này.\n\n\
                             {code} is your {shop} sign-in code, valid for 5 minutes. Do not share it."
                        );
                        let html =
                            format!("<p>{}</p>", html_escape(&text).replace("\n\n", "</p><p>"));
                        let subject = format!("{code} · {shop}");
                        (
                            email.to_string(),
                            Rendered::Email {
                                subject,
                                html,
                                text: Some(text),
                            },
                        )
                    }
                };
                let mut message = Message::test_send(
                    new_id("msg"),
                    Purpose::CustomerCare,
                    &open.channel,
                    address,
                    serde_json::to_value(&body).ok(),
                    self.now(),
                );
                message.test = false;
                message.reason = Some("portal sign-in code".into());
                message.member_id = to.member_id.map(str::to_string);
                let sent = self.send_now(tenant_id, open, message).await?;
                if sent.error.is_none() {
                    return Ok(());
                }
            }
        }
        tracing::warn!(tenant = %tenant_id, "no channel took a portal sign-in code");
        Ok(())
    }

    /// Signs a member in with the code sent to their phone: a session token, or 401 (wrong,
    /// expired, used up, or no member with that phone).
    pub async fn portal_sign_in(
        &self,
        slug: &str,
        phone: &str,
        code: &str,
        referred_by: Option<&str>,
    ) -> AppResult<PortalSession> {
        let phone = Phone::parse(phone)
            .map_err(|_| AppError::invalid("phone", "invalid", "a Vietnamese phone number"))?;
        let tenant_id = self.portal_tenant(slug).await?;
        let info = self.tenant(&Ctx::cli(&tenant_id)).await?;
        let referred_by = referred_by.map(str::to_string);
        let now = self.now();
        let token = format!("mt_{}", loyalty_core::code::random_code(40));
        let hash = rules::token_hash(&token);
        let (tenant, number, typed) = (
            tenant_id.clone(),
            phone.as_str().to_string(),
            code.to_string(),
        );
        let signed_in = self
            .db
            .write(move |sql| {
                let latest = store::latest_code(sql, &tenant, &number)?;
                match rules::check_code(latest.as_ref(), &typed, now) {
                    Verdict::Right => {}
                    Verdict::Wrong => {
                        if let Some(code) = &latest {
                            store::add_try(sql, &tenant, &code.id)?;
                        }
                        return Ok::<_, AppError>(false);
                    }
                    Verdict::NoCode => return Ok(false),
                }
                let Some(code) = latest else {
                    return Ok(false);
                };
                store::use_code(sql, &tenant, &code.id, now)?;
                let member = match members::id_by_contact(sql, &tenant, Contact::Phone, &number)? {
                    Some(member) => member,
                    None if info.program.portal.self_signup => {
                        let profile = Profile {
                            phone: Some(phone.clone()),
                            ..Profile::default()
                        };
                        register_in(sql, &info, profile, referred_by.as_deref(), now)?
                    }
                    None => return Ok(false),
                };
                store::insert_session(sql, &tenant, &hash, &member, now + rules::SESSION, now)?;
                Ok(true)
            })
            .await?;
        if !signed_in {
            return Err(signed_out());
        }
        Ok(PortalSession {
            token,
            expires_at: now + rules::SESSION,
        })
    }

    /// The member a portal token signs in, in the portal's shop; 401 for any other token.
    pub async fn portal_member(&self, slug: &str, token: &str) -> AppResult<PortalMember> {
        let tenant_id = self.portal_tenant(slug).await?;
        if !token.starts_with("mt_") {
            return Err(signed_out());
        }
        let (tenant, hash, now) = (tenant_id.clone(), rules::token_hash(token), self.now());
        let member_id = self
            .db
            .read(move |sql| store::session_member(sql, &tenant, &hash, now))
            .await?
            .ok_or_else(signed_out)?;
        Ok(PortalMember {
            ctx: member_ctx(&tenant_id, &member_id),
            member_id: MemberId::from(member_id),
        })
    }
}

/// What a member may change of themselves from the portal (API.md: `PATCH /me`): their name,
/// their birthday once (it gives a birthday gift), their marketing consent.
#[derive(Debug, Default, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MePatch {
    pub name: Option<String>,
    pub birthday: Option<String>,
    pub consent: Option<loyalty_core::input::member::ConsentIn>,
}

/// A reward as the member sees it: whether their points reach it now.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RewardForMember {
    pub id: String,
    pub name: String,
    pub points_cost: i64,
    /// `voucher` or `gift`.
    pub kind: String,
    pub affordable: bool,
}

impl App {
    /// The signed-in member's changes to themselves; the consent ones recorded with the source
    /// `portal`.
    pub async fn portal_update_me(
        &self,
        who: &PortalMember,
        patch: MePatch,
    ) -> AppResult<loyalty_core::member::Member> {
        let current = self.member(&who.ctx, who.member_id.clone()).await?;
        if patch.birthday.is_some() && current.profile.birthday.is_some() {
            return Err(AppError::invalid(
                "birthday",
                "birthday.already_set",
                "the birthday is set once; ask the shop to change it",
            ));
        }
        let input = loyalty_core::input::member::MemberPatchIn {
            name: patch.name.map(Some),
            birthday: patch.birthday.map(Some),
            consent: patch.consent,
            ..Default::default()
        };
        self.update_member(&who.ctx, who.member_id.clone(), input)
            .await
    }

    /// The member's points that will expire, by the last day they can be spent (soonest first, at most
    /// `limit` days): what the portal warns about.
    pub async fn portal_expiring(
        &self,
        who: &PortalMember,
        limit: usize,
    ) -> AppResult<Vec<(jiff::civil::Date, i64)>> {
        let zone = self.tenant(&who.ctx).await?.zone.clone();
        let (tenant_id, member_id, now) =
            (who.ctx.tenant_id.clone(), who.member_id.clone(), self.now());
        let lots = self
            .db
            .read(move |sql| loyalty_store::repo::ledger::live_lots(sql, &tenant_id, &member_id))
            .await?;
        let mut by_day: Vec<(jiff::civil::Date, i64)> = Vec::new();
        // The last moment a lot can be spent is the day before it expires at midnight.
        let last_day = |at: Timestamp| {
            (at - jiff::SignedDuration::from_secs(1))
                .to_zoned_datetime(zone.clone())
                .date()
        };
        let mut dated: Vec<(jiff::civil::Date, i64)> = lots
            .iter()
            .filter(|l| l.remaining > 0 && !l.is_expired(now))
            .filter_map(|l| l.expires_at.map(|at| (last_day(at), l.remaining)))
            .collect();
        dated.sort();
        for (day, points) in dated {
            if let Some((last, sum)) = by_day.last_mut()
                && *last == day
            {
                *sum = sum.saturating_add(points);
            } else if by_day.len() == limit {
                break;
            } else {
                by_day.push((day, points));
            }
        }
        Ok(by_day)
    }

    /// The shop's rewards on offer to the member now, cheapest first, each saying whether the
    /// member's available points reach it.
    pub async fn portal_rewards(&self, who: &PortalMember) -> AppResult<Vec<RewardForMember>> {
        let member = self.member(&who.ctx, who.member_id.clone()).await?;
        let now = self.now();
        let mut offered: Vec<RewardForMember> = self
            .rewards(&who.ctx)
            .await?
            .into_iter()
            // On offer: what the redemption's own rules would let this member have now (the
            // per-member limit is the redemption's to check).
            .filter(|r| loyalty_core::reward::redeem(r, &member, 0, now).is_ok())
            .map(|r| RewardForMember {
                affordable: r.points_cost <= member.points_available,
                id: r.id,
                name: r.name,
                points_cost: r.points_cost,
                kind: r.kind,
            })
            .collect();
        offered.sort_by_key(|r| r.points_cost);
        Ok(offered)
    }
}

/// How a redemption from the portal went: done now, or done already by the same confirmation
/// (a second tap, a reload that posts again).
#[derive(Debug)]
pub enum PortalRedeemed {
    Done(Box<crate::rewards::Redeemed>),
    AlreadyDone,
}

impl App {
    /// Spends the member's points on a reward — the API's redemption, once per confirmation:
    /// `confirmation` (drawn when the confirm page was shown) is the request's idempotency
    /// key, claimed in the redemption's own transaction.
    pub async fn portal_redeem(
        &self,
        who: &PortalMember,
        reward_id: String,
        confirmation: &str,
    ) -> AppResult<PortalRedeemed> {
        use crate::idempotency::{ClaimOutcome, KeyedRequest, Prior};
        let keyed = KeyedRequest::new(
            &format!("portal:{confirmation}"),
            &format!("member:{}", who.member_id),
            "POST",
            "/portal/redemptions",
            reward_id.as_bytes(),
        )?;
        match self.idempotency_prior(&who.ctx, &keyed).await? {
            Prior::Fresh => {}
            Prior::Answered(_) | Prior::Unanswered { .. } => {
                return Ok(PortalRedeemed::AlreadyDone);
            }
            Prior::Mismatch => {
                return Err(AppError::invalid(
                    "confirmation",
                    "invalid",
                    "this confirmation was for another reward",
                ));
            }
        }
        let work = self.redeem_reward(&who.ctx, who.member_id.clone(), reward_id);
        let (done, claim) = self.run_claiming(&who.ctx, &keyed, work).await;
        match claim {
            ClaimOutcome::Taken => Ok(PortalRedeemed::AlreadyDone),
            _ => done.map(|r| PortalRedeemed::Done(Box::new(r))),
        }
    }
}

/// The external system a `customer_token`'s `external_id` is looked up in: the shop's site links
/// its customer ids to members under it (`"external_ids": {"website": "…"}`).
pub const WEBSITE_SYSTEM: &str = "website";

impl App {
    /// Signs in the customer a shop's site vouches for with a signed `customer_token` (API.md):
    /// 401 for a token that is not signed with the shop's secret, has expired, or names nobody
    /// who is a member.
    pub async fn portal_sign_in_with_token(
        &self,
        slug: &str,
        token: &str,
    ) -> AppResult<PortalSession> {
        use loyalty_core::portal::{Customer, SEALED_PREFIX, customer_from_token};
        let tenant_id = self.portal_tenant(slug).await?;
        let info = self.tenant(&Ctx::cli(&tenant_id)).await?;
        let sealed = info
            .program
            .portal
            .customer_token_secret
            .as_deref()
            .and_then(|s| s.strip_prefix(SEALED_PREFIX))
            .ok_or(AppError::Unauthorized(
                "this shop's portal takes no customer tokens",
            ))?;
        let secret = self.open_secret(sealed)?;
        let now = self.now();
        let customer = customer_from_token(&secret, token, now).map_err(|refusal| {
            tracing::info!(?refusal, "a customer token was refused");
            AppError::Unauthorized("the customer token is not valid (signature or exp)")
        })?;
        let session = format!("mt_{}", loyalty_core::code::random_code(40));
        let hash = rules::token_hash(&session);
        let tenant = tenant_id.clone();
        let found = self
            .db
            .write(move |sql| {
                let member = match &customer {
                    Customer::Phone(p) => match Phone::parse(p) {
                        Ok(phone) => {
                            members::id_by_contact(sql, &tenant, Contact::Phone, phone.as_str())?
                        }
                        Err(_) => None,
                    },
                    Customer::Email(e) => match loyalty_core::email::Email::parse(e) {
                        Ok(email) => {
                            members::id_by_contact(sql, &tenant, Contact::Email, email.as_str())?
                        }
                        Err(_) => None,
                    },
                    Customer::ExternalId(id) => {
                        members::id_by_external_id(sql, &tenant, WEBSITE_SYSTEM, id)?
                    }
                };
                let member = match (member, &customer) {
                    (Some(member), _) => member,
                    (None, Customer::Phone(_) | Customer::Email(_))
                        if info.program.portal.self_signup =>
                    {
                        let profile = Profile {
                            phone: match &customer {
                                Customer::Phone(p) => Phone::parse(p).ok(),
                                _ => None,
                            },
                            email: match &customer {
                                Customer::Email(e) => loyalty_core::email::Email::parse(e).ok(),
                                _ => None,
                            },
                            ..Profile::default()
                        };
                        if !profile.has_contact() {
                            return Ok::<_, AppError>(false);
                        }
                        register_in(sql, &info, profile, None, now)?
                    }
                    (None, _) => return Ok::<_, AppError>(false),
                };
                store::insert_session(sql, &tenant, &hash, &member, now + rules::SESSION, now)?;
                Ok(true)
            })
            .await?;
        if !found {
            return Err(AppError::Unauthorized(
                "the customer token names no member of this shop",
            ));
        }
        Ok(PortalSession {
            token: session,
            expires_at: now + rules::SESSION,
        })
    }
}

/// Registers a customer who verified their phone (or whom the shop's site vouched for) from
/// the portal (`portal.self_signup`): consent as the defaults give it, recorded with the
/// source `portal`; a `?ref=` code makes them the referred friend of its member (a refused
/// referral leaves the registration alone). Returns the new member's id.
fn register_in(
    sql: &mut dyn loyalty_store::Sql,
    info: &crate::TenantInfo,
    profile: Profile,
    referred_by: Option<&str>,
    now: jiff::Timestamp,
) -> AppResult<String> {
    let tenant_id = info.tenant.id.as_str();
    let member = crate::members::new_member(sql, tenant_id, profile, "portal", now)?;
    members::insert(sql, tenant_id, &member)?;
    let ctx = member_ctx(tenant_id, &member.id);
    let consent = &member.profile.consent;
    crate::consent::record(
        sql,
        &ctx,
        ConsentSource::Portal,
        &member.id,
        None,
        consent,
        now,
    )?;
    let change = crate::activity::Change {
        entity: "member",
        id: &member.id,
        action: "create",
    };
    crate::activity::record(
        sql,
        &ctx,
        now,
        change,
        None,
        serde_json::to_value(&member).ok(),
    )?;
    let event = loyalty_core::event::member_changed(EventType::MemberCreated, &member);
    crate::events::raise(sql, tenant_id, now, &[event])?;
    if let Some(code) = referred_by.filter(|c| !c.trim().is_empty()) {
        let at = (crate::referrals::AT_PORTAL, "ref");
        let made = crate::referrals::referrer_by(sql, tenant_id, code).and_then(|referrer| {
            crate::referrals::refer_in(sql, &ctx, info, &referrer, &member, at, now)
        });
        match made {
            Ok(_) => {}
            Err(AppError::Invalid(_) | AppError::Rejected { .. }) => {
                tracing::info!(
                    tenant = tenant_id,
                    "a portal registration's referral was refused"
                );
            }
            Err(other) => return Err(other),
        }
    }
    Ok(member.id.to_string())
}

/// Who a sign-in code goes to: the phone it was asked for, and the member's e-mail address
/// when they are a member with one.
struct CodeTo<'a> {
    member_id: Option<&'a str>,
    phone: &'a Phone,
    email: Option<&'a str>,
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
