//! Merging two records of one person, and the pairs that look like one (API.md "Back office").
//!
//! One transaction: both member rows locked (the lower id first), `core::merge` decides the two
//! rows, the store moves orders, lots, vouchers, referrals… onto the kept record, the tombstone
//! is marked, the tier is looked at again, with an activity entry and a `member.updated` event.
//! An order for either record waits for the merge on the row lock and then lands on the kept
//! record (the store follows a tombstone to the member it was merged into), so concurrent
//! orders neither lose nor duplicate points.

use loyalty_core::book::{Credit, EntryKind};
use loyalty_core::clock::to_millis;
use loyalty_core::event::{EventType, member_changed};
use loyalty_core::id::MemberId;
use loyalty_core::member::Member;
use loyalty_core::merge::{MergeRefusal, merge};
use loyalty_core::tenancy::Access;
use loyalty_store::repo::members;
use loyalty_store::repo::merge::{self as rows, Suggestion};

use crate::activity::{Change, record};
use crate::events::raise;
use crate::tiers::{record_moves, upgrade_if_qualified};
use crate::{App, AppError, AppResult, Ctx};

/// Suggested pairs answered per reason at most.
const SUGGESTIONS_MAX: i64 = 500;

impl App {
    /// `POST /api/v1/members/{id}/merge` `{"from"}`: `from` is merged into `id`, which is
    /// returned as it now stands.
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, id = %id, from = %from))]
    pub async fn merge_members(
        &self,
        ctx: &Ctx,
        id: MemberId,
        from: MemberId,
    ) -> AppResult<Member> {
        ctx.require(Access::Admin)?;
        let info = self.tenant(ctx).await?;
        let ladder = self.ladder(&ctx.tenant_id).await?;
        let now = self.now();
        let (ctx2, key) = (ctx.clone(), id.to_string());
        self.db
            .write_keyed(&key, move |sql| {
                let tenant = ctx2.tenant_id.as_str();
                // The lower id first: two merges of the same pair cannot wait on each other.
                let (first, second) = if id.as_str() <= from.as_str() {
                    (&id, &from)
                } else {
                    (&from, &id)
                };
                let a = members::get_for_update(sql, tenant, first)?;
                let b = members::get_for_update(sql, tenant, second)?;
                let (kept, other) = if first == &id { (a, b) } else { (b, a) };
                let kept = kept.ok_or(AppError::NotFound { entity: "member" })?;
                let other = other
                    .ok_or_else(|| AppError::invalid("from", "not_found", "no such member"))?;
                // A tombstone leads to its kept record: naming one as `from` is a second merge.
                let decided = if other.id != from {
                    Err(MergeRefusal::AlreadyMerged)
                } else {
                    merge(&kept, &other, now)
                };
                let decided = decided.map_err(|refusal| {
                    AppError::conflict(refusal.code(), "from", refusal.to_string())
                })?;
                let mut after = decided.kept;
                let tombstone = decided.tombstone;

                rows::move_records(sql, tenant, &tombstone.id, &after.id, to_millis(now))?;
                // The tombstone first: a phone or e-mail it gives up is free for the kept row.
                members::update_profile(sql, tenant, &tombstone)?;
                members::update_state(sql, tenant, &tombstone)?;
                rows::mark_merged(sql, tenant, &tombstone.id, &after.id)?;
                members::update_profile(sql, tenant, &after)?;
                let tier =
                    upgrade_if_qualified(sql, tenant, &mut after, &ladder, &info, now, None)?;
                members::update_state(sql, tenant, &after)?;
                let after = settle_debt(sql, tenant, after, now, &ctx2)?;
                if let Some(change) = tier {
                    record_moves(sql, tenant, &[change])?;
                }
                let change = Change {
                    entity: "member",
                    id: &after.id,
                    action: "merge",
                };
                let was = serde_json::json!({
                    "kept": summary(&kept),
                    "merged": summary(&other),
                });
                record(sql, &ctx2, now, change, Some(was), Some(summary(&after)))?;
                raise(
                    sql,
                    tenant,
                    now,
                    &[member_changed(EventType::MemberUpdated, &after)],
                )?;
                Ok(after)
            })
            .await
    }

    /// `GET /api/v1/members/duplicates`: pairs that may be one person, for review.
    pub async fn duplicate_members(&self, ctx: &Ctx) -> AppResult<Vec<Suggestion>> {
        ctx.require(Access::Admin)?;
        let tenant = ctx.tenant_id.clone();
        Ok(self
            .db
            .read(move |sql| rows::duplicates(sql, &tenant, SUGGESTIONS_MAX))
            .await?)
    }

    /// The suggested pairs with both records, for the review page (one query for the members).
    pub async fn duplicate_pairs(
        &self,
        ctx: &Ctx,
    ) -> AppResult<Vec<(&'static str, Member, Member)>> {
        let pairs = self.duplicate_members(ctx).await?;
        let tenant = ctx.tenant_id.clone();
        let ids: Vec<String> = pairs
            .iter()
            .flat_map(|p| [p.a.clone(), p.b.clone()])
            .collect();
        let found = self
            .db
            .read(move |sql| {
                let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
                members::get_many(sql, &tenant, &ids)
            })
            .await?;
        let by_id: std::collections::HashMap<&str, &Member> =
            found.iter().map(|m| (m.id.as_str(), m)).collect();
        // A pair found for two reasons is shown once, with the first.
        let mut seen = std::collections::HashSet::new();
        Ok(pairs
            .iter()
            .filter(|p| seen.insert((p.a.as_str(), p.b.as_str())))
            .filter_map(|p| {
                let (a, b) = (by_id.get(p.a.as_str())?, by_id.get(p.b.as_str())?);
                Some((p.reason, (*a).clone(), (*b).clone()))
            })
            .collect())
    }
}

/// A debt on one record and points on the other: the points pay the debt now, as the next
/// credit would have — a spend of the points and a credit that goes to the debt, both in the
/// ledger — so the kept member cannot spend what they owe.
fn settle_debt(
    sql: &mut dyn loyalty_store::Sql,
    tenant: &str,
    member: Member,
    now: jiff::Timestamp,
    ctx: &Ctx,
) -> AppResult<Member> {
    if member.points_debt == 0 || member.points_available == 0 {
        return Ok(member);
    }
    let mut book = crate::points::Book::with(member, tenant, now, Some(ctx.actor.clone()));
    book.catch_up(sql)?;
    let owed = book.member.points_debt.min(book.member.points_available);
    if owed > 0 {
        let reason = Some("merge: debt paid from the merged points");
        book.spend(sql, EntryKind::Adjust, owed, None, reason, "from")?;
        book.credit(
            sql,
            Credit {
                kind: EntryKind::Adjust,
                points: owed,
                order_id: None,
                reason,
                available_at: now,
                expires_at: None,
            },
        )?;
    }
    book.save(sql)?;
    Ok(book.member)
}

/// What the activity log keeps of each side.
fn summary(m: &Member) -> serde_json::Value {
    serde_json::json!({
        "id": m.id,
        "status": m.status.as_str(),
        "phone": m.profile.phone.as_ref().map(|p| p.as_str()),
        "email": m.profile.email.as_ref().map(|e| e.as_str()),
        "name": m.profile.name,
        "points_available": m.points_available,
        "points_pending": m.points_pending,
        "lifetime_spend": m.lifetime_spend,
        "order_count": m.order_count,
        "tier_id": m.tier_id,
    })
}
