//! A quote at the till (`POST /api/v1/orders/quote`): what a basket costs a member after their
//! tier discount, vouchers and points, and what posting it would earn — asked of the same
//! decisions as posting (`core::voucher`, `core::quote`, `core::earning`), writing nothing.

use jiff::Timestamp;
use loyalty_core::earning;
use loyalty_core::member::{Member, MemberStatus, Profile};
use loyalty_core::order::{Buyer, NewOrder, OrderInput, ReceiptMember, ReceiptPoints};
use loyalty_core::quote;
use loyalty_core::rules::EarnRule;
use loyalty_core::tenancy::Access;
use loyalty_core::tier::Tier;
use loyalty_core::voucher::{self, VoucherProgram};
use loyalty_store::Sql;
use loyalty_store::repo::members;
use serde::Serialize;

use crate::order_buyer::find_customer;
use crate::orders::{earn_error, earning_order, receipt_member, rules_used, voucher_context};
use crate::points::available_now;
use crate::vouchers::{code_key, evaluate};
use crate::{App, AppError, AppResult, Ctx, TenantInfo};

/// The answer to a quote.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Quote {
    /// The member as they are now (`null` for a walk-in guest or a customer not yet known).
    pub member: Option<ReceiptMember>,
    /// What posting the order at `total_after_discounts` (with these points paid) would earn.
    pub points: ReceiptPoints,
    /// The member's tier discount on the goods.
    pub tier_discount: i64,
    /// Each voucher of the basket, in order: whether it applies and for what discount.
    pub vouchers: Vec<QuotedVoucher>,
    /// The most points the member may pay this invoice with.
    pub max_points_redeemable: i64,
    /// The basket's total less the tier discount, the vouchers and the points paid.
    pub total_after_discounts: i64,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QuotedVoucher {
    pub code: String,
    pub valid: bool,
    pub discount: Option<i64>,
    /// Why it does not apply (`expired`, `not_stackable`…), as the voucher validation says.
    pub reason: Option<&'static str>,
}

impl App {
    /// Quotes a basket (the body of an order, before the tier discount, vouchers and points).
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn quote_order(&self, ctx: &Ctx, input: OrderInput) -> AppResult<Quote> {
        ctx.require(Access::Pos)?;
        let now = self.now();
        let order = input.validate(now)?;
        let order = self
            .with_catalogue_categories(&ctx.tenant_id, order)
            .await?;
        let info = self.tenant(ctx).await?;
        let rules = self.cached_rules(&ctx.tenant_id).await?;
        let ladder = self.ladder(&ctx.tenant_id).await?;
        let tenant_id = ctx.tenant_id.to_string();
        self.db
            .read(move |sql| quote(sql, &tenant_id, &info, &rules, &ladder, &order, now))
            .await
    }
}

fn quote(
    sql: &mut dyn Sql,
    tenant_id: &str,
    info: &TenantInfo,
    rules: &[EarnRule],
    ladder: &[Tier],
    order: &NewOrder,
    now: Timestamp,
) -> AppResult<Quote> {
    let member = match &order.buyer {
        Buyer::Guest => None,
        Buyer::Member(id) => Some(members::get(sql, tenant_id, id)?.ok_or_else(|| {
            AppError::invalid("member_id", "member.not_found", "no member with this id")
        })?),
        Buyer::Customer { phone, email, .. } => {
            find_customer(sql, tenant_id, phone.as_ref(), email.as_ref())?
        }
    };
    let member_id = member.as_ref().map(|m| m.id.to_string());

    let context = voucher_context(order);
    let mut vouchers = Vec::with_capacity(order.vouchers.len());
    let mut taken: Vec<VoucherProgram> = Vec::new();
    for raw in &order.vouchers {
        let code = code_key(raw);
        let judged = evaluate(sql, tenant_id, &code, member_id.as_deref(), &context, now)?
            .and_then(|(_, program, discount)| {
                voucher::stacks_with(&program, &taken)?;
                taken.push(program);
                Ok(discount)
            });
        vouchers.push(QuotedVoucher {
            code,
            valid: judged.is_ok(),
            discount: judged.ok(),
            reason: judged.err().map(|r| r.as_str()),
        });
    }
    let discounts: Vec<i64> = vouchers.iter().filter_map(|v| v.discount).collect();

    let tier = member
        .as_ref()
        .and_then(|m| m.tier_id.as_ref())
        .and_then(|id| ladder.iter().find(|t| &t.id == id));
    let tier_percent = tier.map_or(0, |t| t.discount_for(order.brand.as_deref()));
    let available = match &member {
        Some(m) => available_now(sql, tenant_id, m, now)?,
        None => 0,
    };
    if order.points_redeemed > available {
        return Err(AppError::conflict(
            "insufficient_points",
            "points_redeemed",
            format!("the member has {available} points available"),
        ));
    }
    let totals = quote::totals(
        order.total,
        order.shipping,
        tier_percent,
        &discounts,
        &info.program.redeem,
        available,
        order.points_redeemed,
    )?;

    // The order as the till would post it: the discounts taken, the invoice total charged.
    // (Earning reads the total, shipping, points and lines; the discount is for the record.)
    let posted = NewOrder {
        total: totals.invoice_total,
        ..order.clone()
    };
    let buyer = member.clone().or_else(|| would_register(order, now));
    let (earned, pending, breakdown) = match &buyer {
        None => (0, 0, Vec::new()),
        Some(m) => {
            let setting = earning::Setting {
                program: &info.program,
                zone: &info.zone,
                ladder,
                rules,
                now,
            };
            let buyer = crate::rule_behaviour::buyer_for(
                sql,
                tenant_id,
                m,
                rules,
                posted.placed_at,
                &info.zone,
            )?;
            let plan =
                earning::plan(earning_order(&posted), &buyer, setting).map_err(earn_error)?;
            let used = rules_used(sql, tenant_id, &m.id, &plan)?;
            let decision = plan.finish(&used).map_err(earn_error)?;
            (decision.earned, decision.pending, decision.breakdown)
        }
    };
    Ok(Quote {
        member: member.as_ref().map(|m| {
            let mut shown = receipt_member(m, ladder);
            shown.points.available = available;
            shown
        }),
        points: ReceiptPoints {
            earned,
            pending,
            redeemed: order.points_redeemed,
            breakdown,
            reason: member
                .as_ref()
                .is_some_and(|m| m.status == loyalty_core::member::MemberStatus::Blocked)
                .then(|| "member_blocked".to_string()),
        },
        tier_discount: totals.tier_discount,
        vouchers,
        max_points_redeemable: totals.max_points_redeemable,
        total_after_discounts: totals.total_after_discounts,
    })
}

/// The customer a posted order would register, for an order naming a customer not known yet
/// (never saved here); nobody for a walk-in guest.
fn would_register(order: &NewOrder, now: Timestamp) -> Option<Member> {
    let Buyer::Customer { phone, email, name } = &order.buyer else {
        return None;
    };
    let profile = Profile {
        phone: phone.clone(),
        email: email.clone(),
        name: name.clone(),
        ..Profile::default()
    };
    Some(Member::new(
        String::new(),
        MemberStatus::Customer,
        profile,
        Some(order.source.clone()),
        now,
    ))
}
