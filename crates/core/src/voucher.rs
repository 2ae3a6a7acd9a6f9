//! Vouchers (voucher / mã khuyến mãi): programs, codes, and whether a code may be used on an
//! order and for how much.
//!
//! Discounts are whole đồng, never negative, never more than the amount they apply to, and
//! never more than a program's cap.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::Invalid;
use crate::limits;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum VoucherType {
    /// `value` percent of the eligible amount, at most `max_discount`.
    Percent,
    /// `value` đồng off the eligible amount.
    Fixed,
    /// The order's shipping.
    FreeShipping,
    /// One unit of `sku` free.
    FreeItem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CodeKind {
    /// One code, used up to `total_uses` times, `uses_per_member` per member.
    Shared,
    /// Many codes, each usable once.
    Unique,
}

/// Where a voucher applies; an empty list does not restrict.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, default)]
pub struct Scope {
    pub skus: Vec<String>,
    pub categories: Vec<String>,
    pub stores: Vec<String>,
    pub brands: Vec<String>,
    pub channels: Vec<String>,
}

impl Scope {
    fn restricts_lines(&self) -> bool {
        !self.skus.is_empty() || !self.categories.is_empty()
    }

    fn line_in_scope(&self, line: &OrderLine) -> bool {
        let any = |list: &[String], value: &Option<String>| {
            value
                .as_deref()
                .is_some_and(|v| list.iter().any(|x| x.eq_ignore_ascii_case(v)))
        };
        (self.skus.is_empty() && self.categories.is_empty())
            || any(&self.skus, &line.sku)
            || any(&self.categories, &line.category)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub total_uses: Option<i64>,
    pub uses_per_member: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VoucherProgram {
    pub id: crate::id::ProgramId,
    pub name: String,
    pub kind: VoucherType,
    /// Percent (1–100) for `percent`, đồng for `fixed`.
    pub value: i64,
    pub max_discount: Option<i64>,
    pub min_order: i64,
    pub free_item_sku: Option<String>,
    pub valid_from: Option<Timestamp>,
    pub valid_until: Option<Timestamp>,
    pub scope: Scope,
    pub limits: Limits,
    /// May be used together with other vouchers on one order.
    pub stackable: bool,
    pub active: bool,
    pub code_kind: CodeKind,
    pub code_prefix: String,
    pub code_length: i64,
    pub shared_code: Option<String>,
    /// Redemptions in force (released ones given back).
    pub uses: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The order a voucher is checked against.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, default)]
pub struct OrderContext {
    pub total: i64,
    pub shipping: i64,
    pub store: Option<String>,
    pub brand: Option<String>,
    pub channel: Option<String>,
    pub lines: Vec<OrderLine>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, default)]
pub struct OrderLine {
    pub sku: Option<String>,
    pub name: Option<String>,
    pub category: Option<String>,
    pub quantity: i64,
    pub unit_price: i64,
}

impl OrderContext {
    /// Checks the order's numbers against the same bounds as a posted order, naming fields
    /// under `path` (`order.lines[2].quantity`).
    pub fn check(&self, path: &str) -> Result<(), Invalid> {
        let mut e = Invalid::default();
        limits::amount(&mut e, &format!("{path}.total"), self.total);
        limits::amount(&mut e, &format!("{path}.shipping"), self.shipping);
        if self.lines.len() > crate::order::MAX_LINES {
            e.push_bounded(
                format!("{path}.lines"),
                "lines.too_many",
                (0, crate::order::MAX_LINES as i64),
                format!("at most {} lines", crate::order::MAX_LINES),
            );
        }
        for (i, line) in self.lines.iter().enumerate() {
            let at = format!("{path}.lines[{i}]");
            limits::within(
                &mut e,
                &format!("{at}.quantity"),
                line.quantity,
                1,
                limits::MAX_COUNT,
            );
            limits::amount(&mut e, &format!("{at}.unit_price"), line.unit_price);
        }
        let subtotal = self.lines.iter().try_fold(0i64, |sum, l| {
            sum.checked_add(l.quantity.checked_mul(l.unit_price)?)
        });
        if e.is_empty() && subtotal.is_none_or(|s| s > limits::MAX_AMOUNT) {
            e.push_bounded(
                format!("{path}.lines"),
                "order.subtotal_too_large",
                (0, limits::MAX_AMOUNT),
                format!("the lines add up to more than {}", limits::MAX_AMOUNT),
            );
        }
        e.into_result(|| ())
    }
}

/// Why a code cannot be used; the snake_case names are the API's `reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    NotFound,
    NotStarted,
    Expired,
    MinOrderNotMet,
    NotInScope,
    UsageLimitReached,
    MemberLimitReached,
    NotOwner,
    Used,
    /// The program is paused.
    Paused,
    /// Another voucher on the order does not combine with this one.
    NotStackable,
    /// The member using it is blocked.
    MemberBlocked,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::NotFound => "not_found",
            Refusal::NotStarted => "not_started",
            Refusal::Expired => "expired",
            Refusal::MinOrderNotMet => "min_order_not_met",
            Refusal::NotInScope => "not_in_scope",
            Refusal::UsageLimitReached => "usage_limit_reached",
            Refusal::MemberLimitReached => "member_limit_reached",
            Refusal::NotOwner => "not_owner",
            Refusal::Used => "used",
            Refusal::Paused => "paused",
            Refusal::NotStackable => "not_stackable",
            Refusal::MemberBlocked => "member_blocked",
        }
    }

    /// Refusals about the code's state (409) rather than the order's fit (422).
    pub fn is_conflict(self) -> bool {
        matches!(
            self,
            Refusal::UsageLimitReached
                | Refusal::MemberLimitReached
                | Refusal::Used
                | Refusal::MemberBlocked
        )
    }
}

/// Whether a voucher of `program` may join an order that already uses vouchers of `others`:
/// only when every one of them, this one included, stacks.
pub fn stacks_with(program: &VoucherProgram, others: &[VoucherProgram]) -> Result<(), Refusal> {
    if others.is_empty() || (program.stackable && others.iter().all(|o| o.stackable)) {
        Ok(())
    } else {
        Err(Refusal::NotStackable)
    }
}

/// A code as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    pub code: String,
    pub program_id: String,
    /// The member a unique code was issued to; others may not use it.
    pub member_id: Option<String>,
    pub uses: i64,
}

/// What the checks need to know besides the program, the code and the order.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// Uses of this program by the member (in force).
    pub member_uses: i64,
    /// The member is blocked: they use no voucher.
    pub member_blocked: bool,
}

/// Whether `code` of `program` may be used by `member_id` on `order` at `now`, and for what
/// discount.
pub fn check(
    program: &VoucherProgram,
    code: &Code,
    member_id: Option<&str>,
    order: &OrderContext,
    usage: Usage,
    now: Timestamp,
) -> Result<i64, Refusal> {
    if usage.member_blocked {
        return Err(Refusal::MemberBlocked);
    }
    if !program.active {
        return Err(Refusal::Paused);
    }
    if program.valid_from.is_some_and(|from| now < from) {
        return Err(Refusal::NotStarted);
    }
    if program.valid_until.is_some_and(|until| now > until) {
        return Err(Refusal::Expired);
    }
    if let Some(owner) = &code.member_id
        && member_id != Some(owner.as_str())
    {
        return Err(Refusal::NotOwner);
    }
    match program.code_kind {
        CodeKind::Unique if code.uses >= 1 => return Err(Refusal::Used),
        _ => {}
    }
    if program
        .limits
        .total_uses
        .is_some_and(|limit| program.uses >= limit)
    {
        return Err(Refusal::UsageLimitReached);
    }
    if let (Some(limit), Some(_)) = (program.limits.uses_per_member, member_id)
        && usage.member_uses >= limit
    {
        return Err(Refusal::MemberLimitReached);
    }
    let scope = &program.scope;
    let listed = |list: &[String], value: &Option<String>| {
        list.is_empty()
            || value
                .as_deref()
                .is_some_and(|v| list.iter().any(|x| x.eq_ignore_ascii_case(v)))
    };
    if !listed(&scope.stores, &order.store)
        || !listed(&scope.brands, &order.brand)
        || !listed(&scope.channels, &order.channel)
    {
        return Err(Refusal::NotInScope);
    }
    if order.total < program.min_order {
        return Err(Refusal::MinOrderNotMet);
    }
    let discount = discount(program, order);
    match discount {
        Some(d) if d > 0 => Ok(d),
        _ => Err(Refusal::NotInScope),
    }
}

/// The discount a program gives on an order, before any check; `None` when nothing in the
/// order is eligible.
pub fn discount(program: &VoucherProgram, order: &OrderContext) -> Option<i64> {
    let eligible: i64 = if program.scope.restricts_lines() {
        order
            .lines
            .iter()
            .filter(|l| program.scope.line_in_scope(l))
            .map(|l| l.quantity.max(0).saturating_mul(l.unit_price.max(0)))
            .fold(0i64, i64::saturating_add)
    } else {
        // Without line restrictions the voucher applies to the goods: the total less shipping.
        order.total.saturating_sub(order.shipping).max(0)
    };
    let raw = match program.kind {
        VoucherType::Percent => {
            let percent = program.value.clamp(0, 100);
            let d = i128::from(eligible) * i128::from(percent) / 100;
            let d = i64::try_from(d).unwrap_or(eligible);
            program.max_discount.map_or(d, |cap| d.min(cap.max(0)))
        }
        VoucherType::Fixed => program.value.max(0).min(eligible),
        VoucherType::FreeShipping => return (order.shipping > 0).then_some(order.shipping),
        VoucherType::FreeItem => {
            let sku = program.free_item_sku.as_deref()?;
            let line = order.lines.iter().find(|l| {
                l.quantity > 0
                    && l.sku
                        .as_deref()
                        .is_some_and(|s| s.eq_ignore_ascii_case(sku))
            })?;
            return Some(line.unit_price.max(0));
        }
    };
    (eligible > 0).then_some(raw.clamp(0, eligible))
}

/// The checked parts of a program as posted.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgramFields {
    pub name: String,
    pub kind: VoucherType,
    pub value: i64,
    pub max_discount: Option<i64>,
    pub min_order: i64,
    pub free_item_sku: Option<String>,
    pub valid_from: Option<Timestamp>,
    pub valid_until: Option<Timestamp>,
    pub scope: Scope,
    pub limits: Limits,
    pub stackable: bool,
    pub code_kind: CodeKind,
    pub code_prefix: String,
    pub code_length: i64,
    pub shared_code: Option<String>,
}

pub const MIN_CODE_LENGTH: i64 = 6;
pub const MAX_CODE_LENGTH: i64 = 20;

/// Checks a program's fields, naming every mistake by path.
#[allow(
    clippy::too_many_arguments,
    reason = "the program's fields, checked together"
)]
pub fn check_program(
    name: &str,
    kind: VoucherType,
    value: i64,
    max_discount: Option<i64>,
    min_order: i64,
    free_item_sku: Option<&str>,
    valid_from: Option<Timestamp>,
    valid_until: Option<Timestamp>,
    scope: Scope,
    limits: Limits,
    stackable: bool,
    code_kind: CodeKind,
    prefix: &str,
    length: i64,
    shared_code: Option<&str>,
) -> Result<ProgramFields, Invalid> {
    let mut e = Invalid::default();
    let name = e.label("name", name);
    match kind {
        VoucherType::Percent if !(1..=100).contains(&value) => e.push_bounded(
            "value",
            "out_of_range",
            (1, 100),
            "a percent voucher needs 1 to 100",
        ),
        VoucherType::Fixed if value <= 0 => e.push_bounded(
            "value",
            "out_of_range",
            (1, limits::MAX_AMOUNT),
            "a fixed voucher needs an amount above 0",
        ),
        VoucherType::Fixed => limits::amount(&mut e, "value", value),
        _ => {}
    }
    if let Some(max) = max_discount {
        limits::within(&mut e, "max_discount", max, 1, limits::MAX_AMOUNT);
    }
    limits::amount(&mut e, "min_order", min_order);
    let free_item_sku = free_item_sku
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    if kind == VoucherType::FreeItem && free_item_sku.is_none() {
        e.push_coded("sku", "required", "a free_item voucher names the free sku");
    }
    if let (Some(from), Some(until)) = (valid_from, valid_until)
        && from >= until
    {
        e.push_coded(
            "valid_until",
            "range.to_before_from",
            "must be after valid_from",
        );
    }
    for (field, limit) in [
        ("limits.total_uses", limits.total_uses),
        ("limits.uses_per_member", limits.uses_per_member),
    ] {
        if let Some(limit) = limit {
            limits::within(&mut e, field, limit, 1, limits::MAX_COUNT);
        }
    }
    let prefix = prefix.trim().to_uppercase();
    if prefix.len() > 10
        || !prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        e.push_bounded(
            "codes.prefix",
            "voucher.prefix_format",
            (0, 10),
            "up to 10 letters, digits or '-'",
        );
    }
    if !(MIN_CODE_LENGTH..=MAX_CODE_LENGTH).contains(&length) {
        e.push_bounded(
            "codes.length",
            "out_of_range",
            (MIN_CODE_LENGTH, MAX_CODE_LENGTH),
            format!("must be between {MIN_CODE_LENGTH} and {MAX_CODE_LENGTH}"),
        );
    }
    // Codes are kept upper case, without spaces; dashes are part of them (`TET-8KQ2MZ7A`).
    let normalise = |c: &str| -> Option<String> {
        let code: String = c
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_uppercase();
        code.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
            .then_some(code)
    };
    let shared_code = match (code_kind, shared_code.map(normalise)) {
        (CodeKind::Shared, Some(Some(code))) if (4..=40).contains(&code.len()) => Some(code),
        (CodeKind::Shared, _) => {
            e.push_bounded(
                "codes.code",
                "voucher.shared_code_format",
                (4, 40),
                "a shared program needs its code: 4 to 40 letters, digits or '-'",
            );
            None
        }
        (CodeKind::Unique, Some(_)) => {
            e.push_coded(
                "codes.code",
                "voucher.unique_code_given",
                "unique codes are generated; leave code out",
            );
            None
        }
        (CodeKind::Unique, None) => None,
    };
    e.into_result(|| ProgramFields {
        name,
        kind,
        value,
        max_discount,
        min_order,
        free_item_sku,
        valid_from,
        valid_until,
        scope,
        limits,
        stackable,
        code_kind,
        code_prefix: prefix,
        code_length: length,
        shared_code,
    })
}

/// Where a voucher redemption stands: `redeemed`, or `released` (its use given back).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RedemptionStatus {
    Redeemed,
    Released,
}

impl RedemptionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RedemptionStatus::Redeemed => "redeemed",
            RedemptionStatus::Released => "released",
        }
    }

    pub fn parse(text: &str) -> Option<RedemptionStatus> {
        [RedemptionStatus::Redeemed, RedemptionStatus::Released]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn program(kind: VoucherType, value: i64) -> VoucherProgram {
        VoucherProgram {
            id: "vpr_1".into(),
            name: "Tết 2026".into(),
            kind,
            value,
            max_discount: None,
            min_order: 0,
            free_item_sku: None,
            valid_from: None,
            valid_until: None,
            scope: Scope::default(),
            limits: Limits::default(),
            stackable: false,
            active: true,
            code_kind: CodeKind::Unique,
            code_prefix: "TET-".into(),
            code_length: 8,
            shared_code: None,
            uses: 0,
            created_at: Timestamp::UNIX_EPOCH,
            updated_at: Timestamp::UNIX_EPOCH,
        }
    }

    #[test]
    fn vouchers_combine_only_when_every_one_of_them_stacks() {
        let lone = program(VoucherType::Fixed, 10_000);
        let stacking = VoucherProgram {
            stackable: true,
            ..program(VoucherType::Fixed, 5_000)
        };
        assert_eq!(stacks_with(&lone, &[]), Ok(()));
        assert_eq!(
            stacks_with(&stacking, std::slice::from_ref(&stacking)),
            Ok(())
        );
        assert_eq!(
            stacks_with(&stacking, std::slice::from_ref(&lone)),
            Err(Refusal::NotStackable)
        );
        assert_eq!(
            stacks_with(&lone, std::slice::from_ref(&stacking)),
            Err(Refusal::NotStackable)
        );
    }

    fn line(sku: &str, category: &str, quantity: i64, unit_price: i64) -> OrderLine {
        OrderLine {
            sku: Some(sku.into()),
            name: None,
            category: Some(category.into()),
            quantity,
            unit_price,
        }
    }

    fn order(total: i64, lines: Vec<OrderLine>) -> OrderContext {
        OrderContext {
            total,
            lines,
            ..OrderContext::default()
        }
    }

    fn code() -> Code {
        Code {
            code: "TET-8KQ2MZ7A".into(),
            program_id: "vpr_1".into(),
            member_id: None,
            uses: 0,
        }
    }

    #[test]
    fn the_contract_example_gives_ten_percent_capped() {
        let mut p = program(VoucherType::Percent, 10);
        p.max_discount = Some(50_000);
        p.min_order = 100_000;
        let now = Timestamp::UNIX_EPOCH;
        assert_eq!(
            check(
                &p,
                &code(),
                None,
                &order(250_000, vec![]),
                Usage::default(),
                now
            ),
            Ok(25_000)
        );
        assert_eq!(
            check(
                &p,
                &code(),
                None,
                &order(900_000, vec![]),
                Usage::default(),
                now
            ),
            Ok(50_000)
        );
        assert_eq!(
            check(
                &p,
                &code(),
                None,
                &order(99_999, vec![]),
                Usage::default(),
                now
            ),
            Err(Refusal::MinOrderNotMet)
        );
    }

    #[test]
    fn each_refusal_has_its_reason() {
        let now: Timestamp = "2026-02-01T00:00:00Z".parse().unwrap();
        let o = order(200_000, vec![]);
        let mut p = program(VoucherType::Fixed, 20_000);
        p.valid_from = Some("2026-02-02T00:00:00Z".parse().unwrap());
        assert_eq!(
            check(&p, &code(), None, &o, Usage::default(), now),
            Err(Refusal::NotStarted)
        );
        p.valid_from = None;
        p.valid_until = Some("2026-01-31T23:59:59Z".parse().unwrap());
        assert_eq!(
            check(&p, &code(), None, &o, Usage::default(), now),
            Err(Refusal::Expired)
        );
        p.valid_until = None;
        let mut owned = code();
        owned.member_id = Some("mem_a".into());
        assert_eq!(
            check(&p, &owned, Some("mem_b"), &o, Usage::default(), now),
            Err(Refusal::NotOwner)
        );
        assert_eq!(
            check(&p, &owned, Some("mem_a"), &o, Usage::default(), now),
            Ok(20_000)
        );
        let mut used = code();
        used.uses = 1;
        assert_eq!(
            check(&p, &used, None, &o, Usage::default(), now),
            Err(Refusal::Used)
        );
        p.limits.total_uses = Some(10);
        p.uses = 10;
        assert_eq!(
            check(&p, &code(), None, &o, Usage::default(), now),
            Err(Refusal::UsageLimitReached)
        );
        p.uses = 0;
        p.limits.uses_per_member = Some(1);
        assert_eq!(
            check(
                &p,
                &code(),
                Some("mem_a"),
                &o,
                Usage {
                    member_uses: 1,
                    ..Usage::default()
                },
                now
            ),
            Err(Refusal::MemberLimitReached)
        );
        p.limits = Limits::default();
        p.scope.stores = vec!["HN01".into()];
        assert_eq!(
            check(&p, &code(), None, &o, Usage::default(), now),
            Err(Refusal::NotInScope)
        );
        p.active = false;
        assert_eq!(
            check(&p, &code(), None, &o, Usage::default(), now),
            Err(Refusal::Paused)
        );
    }

    #[test]
    fn scoped_vouchers_apply_to_matching_lines_only() {
        let mut p = program(VoucherType::Percent, 50);
        p.scope.categories = vec!["bánh".into()];
        let o = order(
            120_000,
            vec![
                line("CF-001", "cà phê", 2, 30_000),
                line("BK-001", "bánh", 1, 60_000),
            ],
        );
        assert_eq!(discount(&p, &o), Some(30_000));
        let drinks_only = order(60_000, vec![line("CF-001", "cà phê", 2, 30_000)]);
        assert_eq!(discount(&p, &drinks_only), None);
        let mut item = program(VoucherType::FreeItem, 0);
        item.free_item_sku = Some("BK-001".into());
        assert_eq!(discount(&item, &o), Some(60_000));
        let mut ship = program(VoucherType::FreeShipping, 0);
        ship.kind = VoucherType::FreeShipping;
        assert_eq!(
            discount(
                &ship,
                &OrderContext {
                    total: 130_000,
                    shipping: 30_000,
                    ..OrderContext::default()
                }
            ),
            Some(30_000)
        );
    }

    proptest! {
        #[test]
        fn discounts_are_whole_never_negative_never_above_what_they_apply_to_and_respect_caps(
            percent in 1i64..=100,
            fixed in 1i64..5_000_000,
            cap in proptest::option::of(1i64..1_000_000),
            lines in proptest::collection::vec((0usize..3, 0i64..20, 0i64..2_000_000), 0..6),
            shipping in 0i64..100_000,
        ) {
            let categories = ["cà phê", "bánh", "trà"];
            let lines: Vec<OrderLine> = lines.into_iter().map(|(c, q, p)| line(&format!("SKU-{c}"), categories[c], q, p)).collect();
            let goods: i64 = lines.iter().map(|l| l.quantity * l.unit_price).sum();
            let o = OrderContext { total: goods + shipping, shipping, lines, ..OrderContext::default() };
            let mut pct = program(VoucherType::Percent, percent);
            pct.max_discount = cap;
            if let Some(d) = discount(&pct, &o) {
                prop_assert!(d >= 0 && d <= goods);
                prop_assert!(cap.is_none_or(|c| d <= c));
                prop_assert!(d <= goods * percent / 100);
            }
            pct.scope.categories = vec!["bánh".into()];
            let eligible: i64 = o.lines.iter().filter(|l| l.category.as_deref() == Some("bánh")).map(|l| l.quantity * l.unit_price).sum();
            if let Some(d) = discount(&pct, &o) {
                prop_assert!(d >= 0 && d <= eligible);
            }
            let fix = program(VoucherType::Fixed, fixed);
            if let Some(d) = discount(&fix, &o) {
                prop_assert!(d >= 0 && d <= goods && d <= fixed);
            }
        }
    }
}
