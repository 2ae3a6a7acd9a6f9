//! Who an order belongs to: the member it names, or the customer found by phone or e-mail
//! (registered when new), or a walk-in guest; and the key its write is queued by.

use jiff::Timestamp;
use loyalty_core::event::{EventType, Raised, member_changed};
use loyalty_core::member::{Member, Profile};
use loyalty_core::order::{Buyer, NewOrder};
use loyalty_store::Sql;
use loyalty_store::repo::members::{self, Contact};

use crate::{App, AppError, AppResult, Ctx};

impl App {
    /// What the order's write is queued by: its member, so that one writer handles all of a
    /// member's orders (see `Db::write_keyed`). A customer known by phone or e-mail is looked up
    /// first; the transaction looks again, so a stale answer only costs a less ideal queue.
    pub(crate) async fn buyer_key(&self, ctx: &Ctx, order: &NewOrder) -> AppResult<String> {
        let (phone, email) = match &order.buyer {
            Buyer::Member(id) => return Ok(id.to_string()),
            Buyer::Guest => return Ok(format!("{}:{}", order.source, order.external_id)),
            Buyer::Customer { phone, email, .. } => (phone.clone(), email.clone()),
        };
        let tenant_id = ctx.tenant_id.clone();
        let fallback = phone
            .as_ref()
            .map(|p| p.as_str().to_string())
            .or_else(|| email.as_ref().map(|e| e.as_str().to_string()))
            .unwrap_or_default();
        let found = self
            .db
            .read(move |sql| {
                if let Some(p) = &phone
                    && let Some(id) =
                        members::id_by_contact(sql, &tenant_id, Contact::Phone, p.as_str())?
                {
                    return Ok(Some(id));
                }
                match &email {
                    Some(e) => members::id_by_contact(sql, &tenant_id, Contact::Email, e.as_str()),
                    None => Ok(None),
                }
            })
            .await?;
        Ok(found.unwrap_or(fallback))
    }
}

/// The member the order belongs to, locked for the transaction: by id, or found by phone or
/// e-mail (created as a customer when new), or nobody for a walk-in guest.
pub(crate) fn find_buyer(
    sql: &mut dyn Sql,
    ctx: &Ctx,
    order: &NewOrder,
    now: Timestamp,
    registered: &mut Vec<Raised>,
) -> AppResult<Option<Member>> {
    let tenant_id = ctx.tenant_id.as_str();
    match &order.buyer {
        Buyer::Guest => Ok(None),
        Buyer::Member(id) => members::get_for_update(sql, tenant_id, id)?
            .map(Some)
            .ok_or_else(|| {
                AppError::invalid("member_id", "member.not_found", "no member with this id")
            }),
        Buyer::Customer { phone, email, name } => {
            if let Some(found) = find_customer(sql, tenant_id, phone.as_ref(), email.as_ref())? {
                return Ok(Some(found));
            }
            let profile = Profile {
                phone: phone.clone(),
                email: email.clone(),
                name: name.clone(),
                ..Profile::default()
            };
            let (member, new) =
                crate::members::register_customer(sql, ctx, profile, &order.source, now)?;
            if new {
                registered.push(member_changed(EventType::MemberCreated, &member));
            }
            Ok(Some(member))
        }
    }
}

/// The member with this phone, else with this e-mail, locked.
pub(crate) fn find_customer(
    sql: &mut dyn Sql,
    tenant_id: &str,
    phone: Option<&loyalty_core::phone::Phone>,
    email: Option<&loyalty_core::email::Email>,
) -> AppResult<Option<Member>> {
    let by_phone = match phone {
        Some(p) => members::id_by_contact(sql, tenant_id, Contact::Phone, p.as_str())?,
        None => None,
    };
    let id = match (by_phone, email) {
        (Some(id), _) => Some(id),
        (None, Some(e)) => members::id_by_contact(sql, tenant_id, Contact::Email, e.as_str())?,
        (None, None) => None,
    };
    match id {
        Some(id) => Ok(members::get_for_update(sql, tenant_id, &id)?),
        None => Ok(None),
    }
}
