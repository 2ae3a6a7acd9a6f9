//! Orders: the earning path (post), and cancel and refund.
//!
//! Posting an order is one transaction: the order and its lines, the customer found or created,
//! activation, the points spent and earned with their ledger entries, the member's balances and
//! counters, the rules' usage, the receipt and the activity entry. The same (source, external id)
//! posted again gets the first receipt back and changes nothing — also when both arrive at once.

use jiff::Timestamp;
use loyalty_core::id::OrderId;
use loyalty_core::limits::checked_total;
use loyalty_core::member::{Member, MemberStatus};
use loyalty_core::order::{
    BreakdownLine, Buyer, Line, NewOrder, OrderInput, OrderReceipt, ReceiptBalances, ReceiptMember,
    ReceiptPoints,
};
use loyalty_core::rules::EarnRule;
use loyalty_core::tenancy::Access;
use loyalty_store::repo::orders::{self, OrderFilter, OrderRow, RefundRow};
use loyalty_store::repo::rules;
use loyalty_store::{Page, Paged, Sql};

use crate::activity::{Change, record};
use crate::events::{entry_data, raise};
use crate::points::Book;
use crate::tiers::{InFlight, upgrade_if_qualified};
use crate::vouchers::{code_key, program_of, redeem_in, release_in};
use crate::{App, AppError, AppResult, Ctx, TenantInfo};
use loyalty_core::event::{EventType, Raised, member_changed};
use loyalty_store::repo::ledger::Entry;
use std::collections::HashMap;

use loyalty_core::book::{Credit, EntryKind, OrderPoints};
use loyalty_core::earning;
use loyalty_core::input::changes::validate_refund;
use loyalty_core::order::{OrderStatus, ReceiptVoucher};
use loyalty_core::order_change::{self, ChangeRefusal, Refund};
use loyalty_core::order_view::{OrderPointsView, OrderView, RefundView};
use loyalty_core::tier::Tier;
use loyalty_core::voucher::{OrderContext, OrderLine};
use loyalty_store::repo::vouchers as voucher_rows;

/// The answer to a posted order, and whether it is a replay of an earlier identical post.
#[derive(Debug, Clone)]
pub struct Posted {
    pub receipt: OrderReceipt,
    pub replayed: bool,
}

/// The code of the error that rolls back an order found posted by a concurrent request.
const CONCURRENT_DUPLICATE: &str = "concurrent_duplicate";

impl App {
    /// Posts an order as a till or a web store sent it: checked by core's rules first.
    pub async fn post_order(&self, ctx: &Ctx, input: OrderInput) -> AppResult<Posted> {
        ctx.require(Access::Pos)?;
        let order = input.validate(self.now())?;
        self.post_checked_order(ctx, order).await
    }

    /// Posts an order already checked by core (an order-history import checks its rows with
    /// the file's own rules).
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn post_checked_order(&self, ctx: &Ctx, order: NewOrder) -> AppResult<Posted> {
        ctx.require(Access::Pos)?;
        let order = self
            .with_catalogue_categories(&ctx.tenant_id, order)
            .await?;
        let setup = Setup {
            info: self.tenant(ctx).await?,
            rules: self.cached_rules(&ctx.tenant_id).await?,
            ladder: self.ladder(&ctx.tenant_id).await?,
        };
        let now = self.now();
        let ctx2 = ctx.clone();
        let (source, external_id) = (order.source.clone(), order.external_id.clone());
        let key = self.buyer_key(ctx, &order).await?;
        match self
            .db
            .write_keyed(&key, move |sql| post(sql, &ctx2, &setup, &order, now))
            .await
        {
            // A concurrent post of the same order committed first; this one was rolled back.
            Err(AppError::Conflict {
                code: CONCURRENT_DUPLICATE,
                ..
            }) => {
                let tenant_id = ctx.tenant_id.clone();
                let existing = self
                    .db
                    .read(move |sql| orders::by_source(sql, &tenant_id, &source, &external_id))
                    .await?
                    .ok_or_else(|| {
                        AppError::Internal(anyhow::anyhow!("order vanished after a conflict"))
                    })?;
                replay(existing)
            }
            other => other,
        }
    }

    /// The key an existing order's changes are queued by: its member, else itself.
    async fn order_key(&self, ctx: &Ctx, id: &str) -> AppResult<String> {
        let (tenant_id, order_id) = (ctx.tenant_id.clone(), id.to_string());
        let order = self
            .db
            .read(move |sql| orders::get(sql, &tenant_id, &order_id))
            .await?;
        Ok(order
            .and_then(|o| o.member_id)
            .map_or_else(|| id.to_string(), String::from))
    }

    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, id = %id))]
    pub async fn order(&self, ctx: &Ctx, id: OrderId) -> AppResult<OrderView> {
        ctx.require(Access::Read)?;
        let tenant_id = ctx.tenant_id.clone();
        self.db
            .snapshot(move |sql| {
                let order = orders::get(sql, &tenant_id, &id)?
                    .ok_or(AppError::NotFound { entity: "order" })?;
                detail(sql, &tenant_id, order)
            })
            .await
    }

    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn orders(
        &self,
        ctx: &Ctx,
        filter: OrderFilter,
        page: Page,
    ) -> AppResult<Paged<OrderRow>> {
        ctx.require(Access::Read)?;
        let tenant_id = ctx.tenant_id.clone();
        Ok(self
            .db
            .read(move |sql| orders::list(sql, &tenant_id, &filter, &page))
            .await?)
    }

    /// Cancels a paid order: reverses every point it earned, gives back the points it spent.
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, id = %id))]
    pub async fn cancel_order(&self, ctx: &Ctx, id: OrderId) -> AppResult<OrderView> {
        ctx.require(Access::Pos)?;
        let now = self.now();
        let ctx2 = ctx.clone();
        let info = self.tenant(ctx).await?;
        let key = self.order_key(ctx, &id).await?;
        self.db
            .write_keyed(&key, move |sql| {
                let mut order = orders::get_for_update(sql, &ctx2.tenant_id, &id)?
                    .ok_or(AppError::NotFound { entity: "order" })?;
                order_change::cancel(&order)
                    .map_err(|r| refused(r, "the order is already cancelled"))?;
                let before = order_json(&order);
                let mut entries = Vec::new();
                if let Some(member_id) = order.member_id.clone() {
                    let mut book = open_book(sql, &ctx2, &member_id, now)?;
                    let mut points = order_points(&order);
                    entries = book.cancel_order(sql, &mut points)?;
                    let to_reverse = points.reversed - order.points_reversed;
                    order_change::count_cancel(&mut book.member, &order, to_reverse)?;
                    order.points_reversed = points.reversed;
                    order.points_returned = points.returned;
                    book.save(sql)?;
                }
                for redemption in
                    voucher_rows::redemptions_of_order(sql, &ctx2.tenant_id, &order.id)?
                {
                    release_in(sql, &ctx2.tenant_id, redemption, now)?;
                }
                order.status = OrderStatus::Cancelled;
                order.updated_at = now;
                orders::update(sql, &ctx2.tenant_id, &order)?;
                let after = order_json(&order);
                let view = detail(sql, &ctx2.tenant_id, order)?;
                let mut raised = vec![order_event(
                    EventType::OrderCancelled,
                    &view,
                    &entries,
                    None,
                )];
                raised.extend(crate::referrals::reverse_in(
                    sql, &ctx2, &info, &view.id, now,
                )?);
                raise(sql, &ctx2.tenant_id, now, &raised)?;
                let change = Change {
                    entity: "order",
                    id: &view.id,
                    action: "cancel",
                };
                record(sql, &ctx2, now, change, Some(before), Some(after))?;
                Ok(view)
            })
            .await
    }

    /// Records a refund of `amount` (cumulative with earlier ones) and reverses the matching
    /// share of the points: floor(earned × refunded so far ÷ total) minus what was reversed. The
    /// same refund `external_id` again changes nothing.
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, id = %id))]
    pub async fn refund_order(
        &self,
        ctx: &Ctx,
        id: OrderId,
        external_id: String,
        amount: i64,
    ) -> AppResult<OrderView> {
        ctx.require(Access::Pos)?;
        let (external_id, amount) = validate_refund(&external_id, amount)?;
        let now = self.now();
        let ctx2 = ctx.clone();
        let info = self.tenant(ctx).await?;
        let key = self.order_key(ctx, &id).await?;
        self.db
            .write_keyed(&key, move |sql| {
                let mut order = orders::get_for_update(sql, &ctx2.tenant_id, &id)?
                    .ok_or(AppError::NotFound { entity: "order" })?;
                let recorded = orders::refund(sql, &ctx2.tenant_id, &order.id, &external_id)?.map(|(amount, _)| amount);
                let (refunded, status) = match order_change::refund(&order, &external_id, amount, recorded) {
                    Ok(Refund::Replay) => return detail(sql, &ctx2.tenant_id, order),
                    Ok(Refund::Apply { refunded_amount, status }) => (refunded_amount, status),
                    Err(refusal) => {
                        let message = match &refusal {
                            ChangeRefusal::AlreadyCancelled => "a cancelled order cannot be refunded".to_string(),
                            ChangeRefusal::RefundMismatch { external_id, recorded } => {
                                format!("refund {external_id} was recorded with amount {recorded}")
                            }
                            ChangeRefusal::OverRefund { refundable, total } => {
                                format!("only {refundable} of the order's {total} can still be refunded")
                            }
                        };
                        return Err(refused(refusal, message));
                    }
                };
                let before = order_json(&order);
                // A guest's order earned nothing, so it has nothing to reverse.
                let mut to_reverse = 0;
                let mut entries = Vec::new();
                if let Some(member_id) = order.member_id.clone() {
                    let mut book = open_book(sql, &ctx2, &member_id, now)?;
                    let mut points = order_points(&order);
                    (to_reverse, entries) = book.refund_order(sql, &mut points, amount)?;
                    order.points_reversed = points.reversed;
                    order.points_returned = points.returned;
                    order_change::count_refund(&mut book.member, amount, to_reverse, status)?;
                    book.save(sql)?;
                }
                order.refunded_amount = refunded;
                order.status = status;
                order.updated_at = now;
                orders::insert_refund(sql, &ctx2.tenant_id, &order.id, &external_id, amount, to_reverse, now)?;
                orders::update(sql, &ctx2.tenant_id, &order)?;
                let refund = serde_json::json!({"external_id": external_id, "amount": amount, "points_reversed": to_reverse});
                let view = detail(sql, &ctx2.tenant_id, order.clone())?;
                let mut raised = vec![order_event(EventType::OrderRefunded, &view, &entries, Some(&refund))];
                if status == OrderStatus::Refunded {
                    raised.extend(crate::referrals::reverse_in(sql, &ctx2, &info, &view.id, now)?);
                }
                let mut after = order_json(&order);
                after["refund"] = refund;
                raise(sql, &ctx2.tenant_id, now, &raised)?;
                let change = Change { entity: "order", id: &view.id, action: "refund" };
                record(sql, &ctx2, now, change, Some(before), Some(after))?;
                Ok(view)
            })
            .await
    }
}

/// A refused cancel or refund, as the API answers it.
fn refused(refusal: ChangeRefusal, message: impl Into<String>) -> AppError {
    AppError::conflict(refusal.code(), refusal.field(), message)
}

fn open_book(sql: &mut dyn Sql, ctx: &Ctx, member_id: &str, now: Timestamp) -> AppResult<Book> {
    Book::open(sql, &ctx.tenant_id, member_id, now, Some(ctx.actor.clone()))?.ok_or_else(|| {
        AppError::Internal(anyhow::anyhow!(
            "order refers to member {member_id}, which does not exist"
        ))
    })
}

/// What the order has done to its member's points, for the ledger to decide a cancel or refund.
fn order_points(o: &OrderRow) -> OrderPoints {
    OrderPoints {
        id: o.id.clone(),
        total: o.total,
        earned: o.points_earned,
        reversed: o.points_reversed,
        refunded: o.refunded_amount,
        redeemed: o.points_redeemed,
        returned: o.points_returned,
        cancelled: o.status == OrderStatus::Cancelled,
    }
}

fn detail(sql: &mut dyn Sql, tenant_id: &str, order: OrderRow) -> AppResult<OrderView> {
    let lines = orders::lines(sql, tenant_id, &order.id)?;
    let refunds = orders::refunds(sql, tenant_id, &order.id)?;
    view(order, lines, refunds)
}

/// The order as the API shows it. A breakdown that cannot be read back is an error, not an
/// empty list.
fn view(o: OrderRow, lines: Vec<Line>, refunds: Vec<RefundRow>) -> AppResult<OrderView> {
    let breakdown: Vec<BreakdownLine> = serde_json::from_str(&o.breakdown).map_err(|e| {
        AppError::Internal(anyhow::anyhow!("order {}: unreadable breakdown: {e}", o.id))
    })?;
    Ok(view_of(o, lines, refunds, breakdown))
}

fn view_of(
    o: OrderRow,
    lines: Vec<Line>,
    refunds: Vec<RefundRow>,
    breakdown: Vec<BreakdownLine>,
) -> OrderView {
    OrderView {
        id: o.id,
        source: o.source,
        external_id: o.external_id,
        status: o.status,
        member_id: o.member_id,
        brand: o.brand,
        store: o.store,
        channel: o.channel,
        placed_at: o.placed_at,
        currency: o.currency,
        lines,
        subtotal: o.subtotal,
        discount: o.discount,
        shipping: o.shipping,
        total: o.total,
        refunded_amount: o.refunded_amount,
        points: OrderPointsView {
            earned: o.points_earned,
            reversed: o.points_reversed,
            redeemed: o.points_redeemed,
            returned: o.points_returned,
            member_index: o.member_index,
            breakdown,
        },
        refunds: refunds
            .into_iter()
            .map(|r| RefundView {
                external_id: r.external_id,
                amount: r.amount,
                points_reversed: r.points_reversed,
                created_at: r.created_at,
            })
            .collect(),
        created_at: o.created_at,
        updated_at: o.updated_at,
    }
}

/// The data of an order's events: the order, and for a cancel or refund the ledger entries
/// the change wrote (points reversed, points given back) and the refund.
#[derive(serde::Serialize)]
struct OrderData<'a> {
    order: &'a OrderView,
    #[serde(skip_serializing_if = "Option::is_none")]
    entries: Option<Vec<crate::events::EntryData<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refund: Option<&'a serde_json::Value>,
}

/// `order.cancelled` / `order.refunded`.
fn order_event(
    kind: EventType,
    order: &OrderView,
    entries: &[Entry],
    refund: Option<&serde_json::Value>,
) -> Raised {
    let data = OrderData {
        order,
        entries: Some(entries.iter().map(entry_data).collect()),
        refund,
    };
    Raised::new(kind, order.member_id.as_ref(), &data)
}

fn order_json(o: &OrderRow) -> serde_json::Value {
    serde_json::json!({
        "status": o.status, "total": o.total, "refunded_amount": o.refunded_amount,
        "points_earned": o.points_earned, "points_reversed": o.points_reversed,
        "points_redeemed": o.points_redeemed, "points_returned": o.points_returned,
    })
}

fn replay(existing: OrderRow) -> AppResult<Posted> {
    let receipt = existing.receipt.as_deref().ok_or_else(|| {
        AppError::Internal(anyhow::anyhow!("order {} has no receipt", existing.id))
    })?;
    let receipt: OrderReceipt =
        serde_json::from_str(receipt).map_err(|e| AppError::Internal(e.into()))?;
    Ok(Posted {
        receipt,
        replayed: true,
    })
}

/// What the earning path reads from the caches before its transaction.
struct Setup {
    info: std::sync::Arc<TenantInfo>,
    rules: std::sync::Arc<Vec<EarnRule>>,
    ladder: std::sync::Arc<Vec<Tier>>,
}

/// The whole earning path, inside one transaction.
fn post(
    sql: &mut dyn Sql,
    ctx: &Ctx,
    setup: &Setup,
    order: &NewOrder,
    now: Timestamp,
) -> AppResult<Posted> {
    let (info, rules_in_force, ladder) = (
        setup.info.as_ref(),
        setup.rules.as_slice(),
        setup.ladder.as_slice(),
    );
    let tenant_id = ctx.tenant_id.as_str();
    // A till names its member: the receipt of a retry and the member's lock are asked together.
    let (existing, named) = match &order.buyer {
        Buyer::Member(id) => {
            orders::by_source_with_member(sql, tenant_id, &order.source, &order.external_id, id)?
        }
        _ => (
            orders::by_source(sql, tenant_id, &order.source, &order.external_id)?,
            None,
        ),
    };
    if let Some(existing) = existing {
        return replay(existing);
    }
    // The member's events follow `order.paid`; a registration comes first.
    let mut registered = Vec::new();
    let mut member_events = Vec::new();
    let mut tier_moved = Vec::new();
    let member = match named {
        Some(member) => Some(member),
        None => crate::order_buyer::find_buyer(sql, ctx, order, now, &mut registered)?,
    };
    let mut row = OrderRow {
        id: OrderId::new(),
        source: order.source.clone(),
        external_id: order.external_id.clone(),
        member_id: member.as_ref().map(|m| m.id.clone()),
        status: OrderStatus::Paid,
        brand: order.brand.clone(),
        store: order.store.clone(),
        channel: order.channel.clone(),
        placed_at: order.placed_at,
        currency: info.program.currency.clone(),
        subtotal: order.subtotal,
        discount: order.discount,
        shipping: order.shipping,
        total: order.total,
        points_redeemed: order.points_redeemed,
        redeemed_value: 0,
        member_index: None,
        base_points: 0,
        points_earned: 0,
        points_reversed: 0,
        points_returned: 0,
        refunded_amount: 0,
        breakdown: "[]".to_string(),
        receipt: None,
        created_at: now,
        updated_at: now,
    };
    orders::insert_lines(sql, tenant_id, &row.id, &order.lines)?;
    let receipt_vouchers = use_vouchers(sql, tenant_id, order, &row, now)?;

    let mut breakdown: Vec<BreakdownLine> = Vec::new();
    let mut earned = 0;
    let mut pending = 0;
    let mut receipt_member = None;
    let blocked = member
        .as_ref()
        .is_some_and(|m| m.status == MemberStatus::Blocked);
    if let Some(member) = member {
        let mut book = Book::with(member, tenant_id, now, Some(ctx.actor.clone()));
        book.catch_up(sql)?;
        let buyer = crate::rule_behaviour::buyer_for(
            sql,
            tenant_id,
            &book.member,
            rules_in_force,
            order.placed_at,
            &info.zone,
        )?;
        let setting = earning::Setting {
            program: &info.program,
            zone: &info.zone,
            ladder,
            rules: rules_in_force,
            now,
        };
        let plan = earning::plan(earning_order(order), &buyer, setting).map_err(earn_error)?;
        // The spend's event shows the balances right after it, before the order's earnings.
        let spent = if order.points_redeemed > 0 {
            let entry = book.spend(
                sql,
                EntryKind::Redeem,
                order.points_redeemed,
                Some(&row.id),
                None,
                "points_redeemed",
            )?;
            let after = loyalty_core::event::Balance::of(&book.member);
            Some(loyalty_core::event::points_moved(
                EventType::PointsSpent,
                &book.member.id,
                after,
                &entry_data(&entry),
            ))
        } else {
            None
        };
        let used = rules_used(sql, tenant_id, &book.member.id, &plan)?;
        let decision = plan.finish(&used).map_err(earn_error)?;
        for (bonus, given) in &decision.awards {
            rules::add_awarded(sql, tenant_id, &bonus.rule_id, *given)?;
            if bonus.caps.per_member_per_day.is_some() {
                let member_id = book.member.id.clone();
                rules::add_member_day(
                    sql,
                    tenant_id,
                    &bonus.rule_id,
                    &member_id,
                    &decision.day,
                    *given,
                )?;
            }
        }
        if let Some(since) = decision.activate_since {
            book.member.status = MemberStatus::Member;
            book.member.member_since = Some(since);
        }
        row.redeemed_value = decision.redeemed_value;
        row.member_index = Some(decision.index);
        row.base_points = decision.base_points;
        let earned_entry = if decision.earned > 0 {
            let credit = Credit {
                kind: EntryKind::Earn,
                points: decision.earned,
                order_id: Some(&row.id),
                reason: None,
                available_at: decision.available_at,
                expires_at: decision.expires_at,
            };
            Some(book.credit(sql, credit)?)
        } else {
            None
        };
        let index = decision.index;
        (earned, pending, breakdown) = (decision.earned, decision.pending, decision.breakdown);
        let m = &mut book.member;
        m.order_count = index;
        m.lifetime_spend = checked_total("lifetime spend", m.lifetime_spend, order.total)?;
        m.lifetime_points = checked_total("lifetime points", m.lifetime_points, earned)?;
        m.last_order_at = Some(
            m.last_order_at
                .map_or(order.placed_at, |t| t.max(order.placed_at)),
        );
        let in_flight = InFlight {
            placed_at: order.placed_at,
            spend: order.total,
            points: earned,
        };
        let tier_change = upgrade_if_qualified(
            sql,
            tenant_id,
            &mut book.member,
            ladder,
            info,
            now,
            Some(in_flight),
        )?;
        if let Some(change) = &tier_change {
            let mut change = change.clone();
            change.actor = Some(ctx.actor.clone());
            change.note = Some(format!("order {}", row.id));
            tier_moved = crate::tiers::write_moves(sql, tenant_id, &[change])?;
        }
        book.save(sql)?;
        let m = &book.member;
        member_events.extend(spent);
        if let Some(credited) = &earned_entry {
            member_events.extend(credited.events(EventType::PointsEarned, m));
        }
        if decision.activate_since.is_some() {
            member_events.push(member_changed(EventType::MemberActivated, m));
        }
        // A referred friend's qualifying order completes the referral with it.
        let (mut referred, rewarded) = if info.program.referral.enabled {
            crate::referrals::complete_in(sql, ctx, info, &m.id, &row.id, order.total, now)?
        } else {
            (Vec::new(), None)
        };
        member_events.append(&mut referred);
        receipt_member = Some(self::receipt_member(rewarded.as_ref().unwrap_or(m), ladder));
    }

    row.points_earned = earned;
    row.breakdown = serde_json::to_string(&breakdown).map_err(|e| AppError::Internal(e.into()))?;
    let receipt = OrderReceipt {
        id: row.id.clone(),
        source: row.source.clone(),
        external_id: row.external_id.clone(),
        status: row.status,
        member_id: row.member_id.clone(),
        points: ReceiptPoints {
            earned,
            pending,
            redeemed: order.points_redeemed,
            breakdown,
            reason: blocked.then(|| "member_blocked".to_string()),
        },
        member: receipt_member,
        vouchers: receipt_vouchers,
    };
    row.receipt = Some(serde_json::to_string(&receipt).map_err(|e| AppError::Internal(e.into()))?);
    let receipt_json = serde_json::to_value(&receipt).map_err(|e| AppError::Internal(e.into()))?;
    let breakdown = receipt.points.breakdown.clone();
    let paid = view_of(row.clone(), order.lines.clone(), Vec::new(), breakdown);
    let data = OrderData {
        order: &paid,
        entries: None,
        refund: None,
    };
    let mut raised = registered;
    raised.push(Raised::new(
        EventType::OrderPaid,
        paid.member_id.as_ref(),
        &data,
    ));
    raised.append(&mut member_events);
    raised.append(&mut tier_moved);
    raise(sql, tenant_id, now, &raised)?;
    let change = Change {
        entity: "order",
        id: &paid.id,
        action: "create",
    };
    record(sql, ctx, now, change, None, Some(receipt_json))?;
    // The order row goes in last, complete, in one statement: on PostgreSQL the writes above
    // travel with it in one round trip (`Sql::defer`). Should a concurrent request have posted
    // the same order meanwhile (PostgreSQL waits for it here), everything above is rolled back
    // and the caller replays the first receipt.
    if !orders::insert_if_new(sql, tenant_id, &row)? {
        return Err(AppError::Conflict {
            code: CONCURRENT_DUPLICATE,
            field: None,
            message: "the same order was posted concurrently".to_string(),
        });
    }
    Ok(Posted {
        receipt,
        replayed: false,
    })
}

/// Redeems the order's vouchers in its transaction; any refusal rejects the whole order
/// (naming `vouchers[i]` and the reason).
fn use_vouchers(
    sql: &mut dyn Sql,
    tenant_id: &str,
    order: &NewOrder,
    row: &OrderRow,
    now: Timestamp,
) -> AppResult<Vec<ReceiptVoucher>> {
    if order.vouchers.is_empty() {
        return Ok(Vec::new());
    }
    let context = voucher_context(order);
    let order_ref = format!("{}:{}", order.source, order.external_id);
    let mut used = Vec::new();
    let mut receipt = Vec::with_capacity(order.vouchers.len());
    for (i, raw) in order.vouchers.iter().enumerate() {
        let code = code_key(raw);
        let redemption = redeem_in(
            sql,
            tenant_id,
            &code,
            row.member_id.as_deref(),
            &order_ref,
            Some(&row.id),
            &context,
            &used,
            now,
        )
        .map_err(|e| e.into_app(&format!("vouchers[{i}]"), &code))?;
        if let Some(program) = program_of(sql, tenant_id, &redemption.program_id)? {
            used.push(program);
        }
        receipt.push(ReceiptVoucher {
            code,
            redemption_id: redemption.id,
            discount: redemption.discount,
        });
    }
    Ok(receipt)
}

/// The order as vouchers judge it: the goods before any discount, plus shipping.
pub(crate) fn voucher_context(order: &NewOrder) -> OrderContext {
    OrderContext {
        total: order.subtotal + order.shipping,
        shipping: order.shipping,
        store: order.store.clone(),
        brand: order.brand.clone(),
        channel: order.channel.clone(),
        lines: order
            .lines
            .iter()
            .map(|l| OrderLine {
                sku: l.sku.clone(),
                name: l.name.clone(),
                category: l.category.clone(),
                quantity: l.quantity,
                unit_price: l.unit_price,
            })
            .collect(),
    }
}

/// The member as a receipt (or a quote) shows them.
pub(crate) fn receipt_member(m: &Member, ladder: &[Tier]) -> ReceiptMember {
    let tier = m
        .tier_id
        .as_ref()
        .and_then(|id| ladder.iter().find(|t| &t.id == id));
    ReceiptMember {
        id: m.id.clone(),
        status: m.status.as_str().to_string(),
        tier: tier.map(|t| serde_json::json!({"id": t.id, "name": t.name})),
        points: ReceiptBalances {
            available: m.points_available,
            pending: m.points_pending,
        },
    }
}

/// The member as the earning decision sees them.
pub(crate) fn buyer_of(m: &Member) -> earning::Buyer {
    earning::Buyer {
        status: m.status,
        has_contact: m.profile.has_contact(),
        order_count: m.order_count,
        tier_id: m.tier_id.clone(),
        tags: m.profile.tags.clone(),
        birthday: m.profile.birthday,
        behaviour: std::collections::HashMap::new(),
    }
}

/// What the capped rules that matched have already given, read and locked (PostgreSQL): the
/// rule's budget row and the member's day row, so concurrent orders cannot both spend the last
/// of a budget or a daily cap. Rules without such caps are not read at all.
pub(crate) fn rules_used(
    sql: &mut dyn Sql,
    tenant_id: &str,
    member_id: &str,
    plan: &earning::EarnPlan,
) -> AppResult<HashMap<String, earning::RuleUse>> {
    let mut used = HashMap::new();
    for bonus in plan.bonuses.iter().filter(|b| b.is_capped_by_use()) {
        let awarded_total = match bonus.caps.budget_points {
            Some(_) => rules::awarded_for_update(sql, tenant_id, &bonus.rule_id)?,
            None => 0,
        };
        let member_today = match bonus.caps.per_member_per_day {
            Some(_) => {
                rules::member_day_for_update(sql, tenant_id, &bonus.rule_id, member_id, &plan.day)?
            }
            None => 0,
        };
        used.insert(
            bonus.rule_id.clone(),
            earning::RuleUse {
                awarded_total,
                member_today,
            },
        );
    }
    Ok(used)
}

pub(crate) fn earning_order(order: &NewOrder) -> earning::Order<'_> {
    earning::Order {
        placed_at: order.placed_at,
        total: order.total,
        shipping: order.shipping,
        points_redeemed: order.points_redeemed,
        channel: &order.channel,
        store: &order.store,
        brand: &order.brand,
        lines: &order.lines,
    }
}

/// The earning decision's refusals in the API's terms.
pub(crate) fn earn_error(error: earning::EarnError) -> AppError {
    match error {
        earning::EarnError::Blocked => AppError::conflict(
            "member_blocked",
            "points_redeemed",
            "a blocked member cannot spend points",
        ),
        earning::EarnError::OverInvoice { .. } => AppError::invalid(
            "points_redeemed",
            "points_redeemed.over_invoice",
            error.to_string(),
        ),
        earning::EarnError::OutOfRange(range) => range.into(),
    }
}
