//! Vouchers: programs, code generation, validate → redeem → release, reports, and redemption
//! inside an order. A code used at the till and online at the same moment is given once: the
//! code's row (and its program's, for shared limits) is locked by the transaction that uses it.

use std::collections::BTreeMap;

use jiff::Timestamp;
use loyalty_core::code::random_code;
use loyalty_core::event::{EventType, Raised};
use loyalty_core::id::{MemberId, OrderId, ProgramId, new_id};
use loyalty_core::tenancy::Access;
use loyalty_core::voucher::{
    self, Code, CodeKind, Limits, OrderContext, RedemptionStatus, Refusal, Scope, Usage,
    VoucherProgram, VoucherType, check_program,
};
use loyalty_store::repo::members;
use loyalty_store::repo::vouchers::{self as codes, Redemption};
use loyalty_store::{Page, Paged, Sql};
use serde::Serialize;

use crate::activity::{Change, record, snapshot};
use crate::{App, AppError, AppResult, Ctx};

/// A program as posted; on update, absent fields keep their values.
#[derive(Debug, Clone, Default)]
pub struct ProgramInput {
    pub name: Option<String>,
    pub kind: Option<VoucherType>,
    pub value: Option<i64>,
    pub max_discount: Option<Option<i64>>,
    pub min_order: Option<i64>,
    pub sku: Option<Option<String>>,
    pub valid_from: Option<Option<Timestamp>>,
    pub valid_until: Option<Option<Timestamp>>,
    pub scope: Option<Scope>,
    pub limits: Option<Limits>,
    pub stackable: Option<bool>,
    pub active: Option<bool>,
    pub code_kind: Option<CodeKind>,
    pub prefix: Option<String>,
    pub length: Option<i64>,
    pub code: Option<String>,
}

/// The answer of `validate`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Validation {
    pub valid: bool,
    pub discount: Option<i64>,
    pub reason: Option<&'static str>,
}

pub const MAX_CODES_PER_REQUEST: i64 = 100_000;

/// The stored form of a code typed by a person: upper case, no spaces.
pub fn code_key(input: &str) -> String {
    input
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase()
}

/// A refused voucher as an API error: 409 when the code's state refuses it (used, limits),
/// 422 when the order does not fit; both name the field and carry the reason as the code.
pub fn refused(field: &str, code: &str, reason: Refusal) -> AppError {
    let message = format!("voucher {code} cannot be used: {}", reason.as_str());
    if reason.is_conflict() {
        AppError::Conflict {
            code: reason.as_str(),
            field: Some(field.to_string()),
            message,
        }
    } else {
        AppError::Rejected {
            code: reason.as_str(),
            field: field.to_string(),
            message,
        }
    }
}

impl App {
    /// The vouchers an order redeemed (and has not released).
    pub async fn order_vouchers(
        &self,
        ctx: &Ctx,
        order_id: loyalty_core::id::OrderId,
    ) -> AppResult<Vec<Redemption>> {
        ctx.require(Access::Read)?;
        let tenant_id = ctx.tenant_id.clone();
        Ok(self
            .db
            .read(move |sql| codes::redemptions_of_order(sql, &tenant_id, &order_id))
            .await?)
    }

    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn create_voucher_program(
        &self,
        ctx: &Ctx,
        input: ProgramInput,
    ) -> AppResult<VoucherProgram> {
        ctx.require(Access::Admin)?;
        let now = self.now();
        let program = build(None, &input, now)?;
        let ctx2 = ctx.clone();
        self.db
            .write(move |sql| {
                if let Some(code) = &program.shared_code
                    && codes::code_for_update(sql, &ctx2.tenant_id, code)?.is_some()
                {
                    return Err(AppError::conflict(
                        "duplicate",
                        "codes.code",
                        format!("code {code} is already used"),
                    ));
                }
                codes::insert_program(sql, &ctx2.tenant_id, &program)?;
                if let Some(code) = &program.shared_code {
                    codes::insert_codes(
                        sql,
                        &ctx2.tenant_id,
                        &program.id,
                        None,
                        std::slice::from_ref(code),
                        "program",
                        now,
                    )?;
                }
                let change = Change {
                    entity: "voucher_program",
                    id: &program.id,
                    action: "create",
                };
                record(sql, &ctx2, now, change, None, snapshot(&program))?;
                Ok(program.clone())
            })
            .await
    }

    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, id = %id))]
    pub async fn update_voucher_program(
        &self,
        ctx: &Ctx,
        id: ProgramId,
        input: ProgramInput,
    ) -> AppResult<VoucherProgram> {
        ctx.require(Access::Admin)?;
        if input.code_kind.is_some() || input.code.is_some() {
            return Err(AppError::invalid(
                "codes",
                "voucher.codes_fixed",
                "the kind of codes and a shared code cannot change; make a new program",
            ));
        }
        let now = self.now();
        let ctx2 = ctx.clone();
        self.db
            .write(move |sql| {
                let before = codes::get_program_for_update(sql, &ctx2.tenant_id, &id)?.ok_or(
                    AppError::NotFound {
                        entity: "voucher program",
                    },
                )?;
                let after = build(Some(&before), &input, now)?;
                codes::update_program(sql, &ctx2.tenant_id, &after)?;
                let change = Change {
                    entity: "voucher_program",
                    id: &id,
                    action: "update",
                };
                record(sql, &ctx2, now, change, snapshot(&before), snapshot(&after))?;
                Ok(after)
            })
            .await
    }

    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, id = %id))]
    pub async fn voucher_program(&self, ctx: &Ctx, id: ProgramId) -> AppResult<VoucherProgram> {
        ctx.require(Access::Read)?;
        let tenant_id = ctx.tenant_id.clone();
        self.db
            .read(move |sql| codes::get_program(sql, &tenant_id, &id))
            .await?
            .ok_or(AppError::NotFound {
                entity: "voucher program",
            })
    }

    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn voucher_programs(
        &self,
        ctx: &Ctx,
        page: Page,
    ) -> AppResult<Paged<VoucherProgram>> {
        ctx.require(Access::Read)?;
        let tenant_id = ctx.tenant_id.clone();
        Ok(self
            .db
            .read(move |sql| codes::list_programs(sql, &tenant_id, &page))
            .await?)
    }

    /// Makes `count` new unique codes for a program, optionally issued to one member. Codes
    /// are drawn at random from the look-alike-free alphabet; a draw that collides with an
    /// existing code of the tenant is drawn again.
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, program_id = %program_id))]
    pub async fn generate_codes(
        &self,
        ctx: &Ctx,
        program_id: ProgramId,
        count: i64,
        member_id: Option<String>,
    ) -> AppResult<Vec<String>> {
        ctx.require(Access::Admin)?;
        if !(1..=MAX_CODES_PER_REQUEST).contains(&count) {
            return Err(AppError::Invalid(loyalty_core::Invalid::one_bounded(
                "count",
                "out_of_range",
                (1, MAX_CODES_PER_REQUEST),
                format!("must be between 1 and {MAX_CODES_PER_REQUEST}"),
            )));
        }
        let now = self.now();
        let ctx2 = ctx.clone();
        self.db
            .write(move |sql| {
                let program = codes::get_program(sql, &ctx2.tenant_id, &program_id)?.ok_or(
                    AppError::NotFound {
                        entity: "voucher program",
                    },
                )?;
                if program.code_kind != CodeKind::Unique {
                    return Err(AppError::invalid(
                        "count",
                        "voucher.shared_program",
                        "a shared program has its one code; unique codes need a unique program",
                    ));
                }
                // The codes belong to the member read (a merged record's id leads to the kept).
                let owner = match &member_id {
                    Some(member) => match members::get(sql, &ctx2.tenant_id, member)? {
                        Some(found) => Some(found.id.to_string()),
                        None => {
                            return Err(AppError::invalid(
                                "member_id",
                                "member.not_found",
                                "no member with this id",
                            ));
                        }
                    },
                    None => None,
                };
                let mut made: Vec<String> = Vec::with_capacity(count as usize);
                let mut rounds = 0;
                while (made.len() as i64) < count {
                    rounds += 1;
                    if rounds > 20 {
                        return Err(AppError::Internal(anyhow::anyhow!(
                            "could not find free codes; lengthen the codes"
                        )));
                    }
                    let wanted = count as usize - made.len();
                    let draws: Vec<String> = (0..wanted)
                        .map(|_| {
                            format!(
                                "{}{}",
                                program.code_prefix,
                                random_code(program.code_length as usize)
                            )
                        })
                        .collect();
                    made.extend(codes::insert_codes(
                        sql,
                        &ctx2.tenant_id,
                        &program.id,
                        owner.as_deref(),
                        &draws,
                        "api",
                        now,
                    )?);
                }
                let change = Change {
                    entity: "voucher_program",
                    id: &program.id,
                    action: "generate_codes",
                };
                let after = serde_json::json!({"count": count, "member_id": member_id});
                record(sql, &ctx2, now, change, None, Some(after))?;
                let raised: Vec<Raised> = made
                    .iter()
                    .map(|code| {
                        issued_event(
                            code,
                            Some(&program.id),
                            member_id.as_deref(),
                            program.valid_until,
                        )
                    })
                    .collect();
                crate::events::raise(sql, &ctx2.tenant_id, now, &raised)?;
                Ok(made)
            })
            .await
    }

    /// Checks a code against an order without using it.
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn validate_voucher(
        &self,
        ctx: &Ctx,
        code: String,
        member_id: Option<String>,
        order: OrderContext,
    ) -> AppResult<Validation> {
        ctx.require(Access::Pos)?;
        order.check("order")?;
        let (tenant_id, now) = (ctx.tenant_id.clone(), self.now());
        self.db
            .read(move |sql| {
                Ok(
                    match evaluate(
                        sql,
                        &tenant_id,
                        &code_key(&code),
                        member_id.as_deref(),
                        &order,
                        now,
                    )? {
                        Ok((_, _, discount)) => Validation {
                            valid: true,
                            discount: Some(discount),
                            reason: None,
                        },
                        Err(reason) => Validation {
                            valid: false,
                            discount: None,
                            reason: Some(reason.as_str()),
                        },
                    },
                )
            })
            .await
    }

    /// Uses a code for an order. The same `order_ref` again returns the same redemption.
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn redeem_voucher(
        &self,
        ctx: &Ctx,
        code: String,
        member_id: Option<String>,
        order_ref: String,
        order: OrderContext,
    ) -> AppResult<Redemption> {
        ctx.require(Access::Pos)?;
        order.check("order")?;
        let order_ref = order_ref.trim().to_string();
        if order_ref.is_empty() || order_ref.chars().count() > 200 {
            return Err(AppError::Invalid(loyalty_core::Invalid::one_bounded(
                "order_ref",
                "length",
                (1, 200),
                "must have 1 to 200 characters",
            )));
        }
        let code = code_key(&code);
        let (ctx2, now, key) = (ctx.clone(), self.now(), code.clone());
        self.db
            .write_keyed(&key, move |sql| {
                let r = redeem_in(
                    sql,
                    &ctx2.tenant_id,
                    &code,
                    member_id.as_deref(),
                    &order_ref,
                    None,
                    &order,
                    &[],
                    now,
                )
                .map_err(|e| e.into_app("code", &code))?;
                let change = Change {
                    entity: "voucher",
                    id: &code,
                    action: "redeem",
                };
                record(sql, &ctx2, now, change, None, snapshot(&r))?;
                Ok(r)
            })
            .await
    }

    /// Gives a redemption's use back; releasing it again changes nothing.
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn release_voucher(&self, ctx: &Ctx, redemption_id: String) -> AppResult<Redemption> {
        ctx.require(Access::Pos)?;
        let (ctx2, now) = (ctx.clone(), self.now());
        self.db
            .write(move |sql| {
                let r = codes::redemption(sql, &ctx2.tenant_id, &redemption_id)?.ok_or(
                    AppError::NotFound {
                        entity: "redemption",
                    },
                )?;
                let released = release_in(sql, &ctx2.tenant_id, r, now)?;
                let change = Change {
                    entity: "voucher",
                    id: &released.code,
                    action: "release",
                };
                record(sql, &ctx2, now, change, None, snapshot(&released))?;
                Ok(released)
            })
            .await
    }

    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, program_id = %program_id))]
    pub async fn voucher_report(
        &self,
        ctx: &Ctx,
        program_id: ProgramId,
    ) -> AppResult<ProgramReport> {
        ctx.require(Access::Read)?;
        let info = self.tenant(ctx).await?;
        let tenant_id = ctx.tenant_id.clone();
        self.db
            .snapshot(move |sql| {
                let program = codes::get_program(sql, &tenant_id, &program_id)?.ok_or(
                    AppError::NotFound {
                        entity: "voucher program",
                    },
                )?;
                let issued = match program.code_kind {
                    CodeKind::Unique => codes::count_codes(sql, &tenant_id, &program.id)?,
                    CodeKind::Shared => program.limits.total_uses.unwrap_or(0),
                };
                let redemptions = codes::redemptions_of_program(sql, &tenant_id, &program.id)?;
                let mut by_day: BTreeMap<String, DayLine> = BTreeMap::new();
                let mut orders = std::collections::HashSet::new();
                let (mut discount, mut revenue) = (0, 0);
                for r in &redemptions {
                    let day = r
                        .created_at
                        .to_zoned_datetime(info.zone.clone())
                        .date()
                        .to_string();
                    let line = by_day.entry(day.clone()).or_insert(DayLine {
                        day,
                        redeemed: 0,
                        discount: 0,
                        revenue: 0,
                    });
                    // A report adds up many rows: it saturates rather than fail.
                    line.redeemed += 1;
                    line.discount = line.discount.saturating_add(r.discount);
                    discount = i64::saturating_add(discount, r.discount);
                    if orders.insert(r.order_ref.clone()) {
                        line.revenue = line.revenue.saturating_add(r.order_total);
                        revenue = i64::saturating_add(revenue, r.order_total);
                    }
                }
                let redeemed = redemptions.len() as i64;
                Ok(ProgramReport {
                    program_id: program.id.to_string(),
                    issued,
                    redeemed,
                    redemption_rate: if issued > 0 {
                        redeemed as f64 / issued as f64
                    } else {
                        0.0
                    },
                    total_discount: discount,
                    orders: orders.len() as i64,
                    revenue,
                    by_day: by_day.into_values().collect(),
                })
            })
            .await
    }

    /// A member's vouchers with their state now.
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, member_id = %member_id))]
    pub async fn member_vouchers(
        &self,
        ctx: &Ctx,
        member_id: MemberId,
    ) -> AppResult<Vec<MemberVoucher>> {
        ctx.require(Access::Read)?;
        let (tenant_id, now) = (ctx.tenant_id.clone(), self.now());
        self.db
            .read(move |sql| {
                let member = members::get(sql, &tenant_id, &member_id)?
                    .ok_or(AppError::NotFound { entity: "member" })?;
                let list = codes::member_codes(sql, &tenant_id, &member.id)?;
                Ok(list
                    .into_iter()
                    .map(|(code, program)| {
                        let status = if program.code_kind == CodeKind::Unique && code.uses > 0 {
                            "used"
                        } else if program.valid_until.is_some_and(|u| u < now) {
                            "expired"
                        } else if !program.active {
                            "paused"
                        } else if program.valid_from.is_some_and(|f| f > now) {
                            "not_started"
                        } else {
                            "available"
                        };
                        MemberVoucher {
                            code: code.code,
                            program_id: program.id.to_string(),
                            program_name: program.name,
                            status,
                            valid_until: program.valid_until,
                        }
                    })
                    .collect())
            })
            .await
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProgramReport {
    pub program_id: String,
    /// Unique codes generated, or the shared code's total uses.
    pub issued: i64,
    pub redeemed: i64,
    pub redemption_rate: f64,
    pub total_discount: i64,
    /// Orders that used the program, and their revenue.
    pub orders: i64,
    pub revenue: i64,
    pub by_day: Vec<DayLine>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DayLine {
    pub day: String,
    pub redeemed: i64,
    pub discount: i64,
    pub revenue: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberVoucher {
    pub code: String,
    pub program_id: String,
    pub program_name: String,
    /// `available`, `used`, `expired`, `paused` or `not_started`.
    pub status: &'static str,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub valid_until: Option<Timestamp>,
}

fn build(
    current: Option<&VoucherProgram>,
    input: &ProgramInput,
    now: Timestamp,
) -> AppResult<VoucherProgram> {
    macro_rules! pick {
        ($field:ident, $current:ident, $default:expr) => {
            input
                .$field
                .clone()
                .or_else(|| current.map(|c| c.$current.clone()))
                .unwrap_or($default)
        };
    }
    let name = pick!(name, name, String::new());
    let kind = input
        .kind
        .or(current.map(|c| c.kind))
        .unwrap_or(VoucherType::Percent);
    let value = input.value.or(current.map(|c| c.value)).unwrap_or(0);
    let max_discount = input
        .max_discount
        .unwrap_or_else(|| current.and_then(|c| c.max_discount));
    let min_order = input
        .min_order
        .or(current.map(|c| c.min_order))
        .unwrap_or(0);
    let sku = input
        .sku
        .clone()
        .unwrap_or_else(|| current.and_then(|c| c.free_item_sku.clone()));
    let valid_from = input
        .valid_from
        .unwrap_or_else(|| current.and_then(|c| c.valid_from));
    let valid_until = input
        .valid_until
        .unwrap_or_else(|| current.and_then(|c| c.valid_until));
    let scope = pick!(scope, scope, Scope::default());
    let limits = pick!(limits, limits, Limits::default());
    let stackable = input
        .stackable
        .or(current.map(|c| c.stackable))
        .unwrap_or(false);
    let code_kind = input
        .code_kind
        .or(current.map(|c| c.code_kind))
        .unwrap_or(CodeKind::Unique);
    let prefix = pick!(prefix, code_prefix, String::new());
    let length = input.length.or(current.map(|c| c.code_length)).unwrap_or(8);
    let shared = input
        .code
        .clone()
        .or_else(|| current.and_then(|c| c.shared_code.clone()));
    let f = check_program(
        &name,
        kind,
        value,
        max_discount,
        min_order,
        sku.as_deref(),
        valid_from,
        valid_until,
        scope,
        limits,
        stackable,
        code_kind,
        &prefix,
        length,
        shared.as_deref().map(code_key).as_deref(),
    )?;
    Ok(VoucherProgram {
        id: current.map_or_else(ProgramId::new, |c| c.id.clone()),
        name: f.name,
        kind: f.kind,
        value: f.value,
        max_discount: f.max_discount,
        min_order: f.min_order,
        free_item_sku: f.free_item_sku,
        valid_from: f.valid_from,
        valid_until: f.valid_until,
        scope: f.scope,
        limits: f.limits,
        stackable: f.stackable,
        active: input.active.or(current.map(|c| c.active)).unwrap_or(true),
        code_kind: f.code_kind,
        code_prefix: f.code_prefix,
        code_length: f.code_length,
        shared_code: f.shared_code,
        uses: current.map_or(0, |c| c.uses),
        created_at: current.map_or(now, |c| c.created_at),
        updated_at: now,
    })
}

/// Reads (and on PostgreSQL locks) a code and its program and checks them against the order.
pub(crate) fn evaluate(
    sql: &mut dyn Sql,
    tenant_id: &str,
    code: &str,
    member_id: Option<&str>,
    order: &OrderContext,
    now: Timestamp,
) -> Result<Result<(Code, VoucherProgram, i64), Refusal>, AppError> {
    let Some(found) = codes::code_for_update(sql, tenant_id, code)? else {
        return Ok(Err(Refusal::NotFound));
    };
    let Some(program) = codes::get_program_for_update(sql, tenant_id, &found.program_id)? else {
        return Ok(Err(Refusal::NotFound));
    };
    let member_uses = match member_id {
        Some(m) if program.limits.uses_per_member.is_some() => {
            codes::member_uses(sql, tenant_id, &program.id, m)?
        }
        _ => 0,
    };
    let member_blocked = match member_id {
        Some(m) => loyalty_store::repo::members::get(sql, tenant_id, m)?
            .is_some_and(|m| m.status == loyalty_core::member::MemberStatus::Blocked),
        None => false,
    };
    Ok(voucher::check(
        &program,
        &found,
        member_id,
        order,
        Usage {
            member_uses,
            member_blocked,
        },
        now,
    )
    .map(|d| (found, program, d)))
}

/// Why a redemption inside a transaction did not happen.
pub(crate) enum RedeemError {
    Refused(Refusal),
    Failed(AppError),
}

impl From<AppError> for RedeemError {
    fn from(e: AppError) -> Self {
        RedeemError::Failed(e)
    }
}

impl From<loyalty_store::DbError> for RedeemError {
    fn from(e: loyalty_store::DbError) -> Self {
        RedeemError::Failed(e.into())
    }
}

impl RedeemError {
    pub(crate) fn into_app(self, field: &str, code: &str) -> AppError {
        match self {
            RedeemError::Refused(reason) => refused(field, code, reason),
            RedeemError::Failed(e) => e,
        }
    }
}

/// Uses `code` for the order `order_ref` in the current transaction. The same code and
/// order_ref again returns the first redemption. `others` are the programs of the vouchers
/// already used on the same order (for stacking).
#[allow(
    clippy::too_many_arguments,
    reason = "the redemption's context, named at the call site"
)]
pub(crate) fn redeem_in(
    sql: &mut dyn Sql,
    tenant_id: &str,
    code: &str,
    member_id: Option<&str>,
    order_ref: &str,
    order_id: Option<&str>,
    order: &OrderContext,
    others: &[VoucherProgram],
    now: Timestamp,
) -> Result<Redemption, RedeemError> {
    if let Some(existing) = codes::redemption_by_ref(sql, tenant_id, code, order_ref)?
        && existing.status == RedemptionStatus::Redeemed
    {
        return Ok(existing);
    }
    let (found, program, discount) =
        evaluate(sql, tenant_id, code, member_id, order, now)?.map_err(RedeemError::Refused)?;
    voucher::stacks_with(&program, others).map_err(RedeemError::Refused)?;
    let redemption = Redemption {
        id: new_id("vrd"),
        code: found.code.clone(),
        program_id: program.id.clone(),
        member_id: member_id.map(MemberId::from),
        order_ref: order_ref.to_string(),
        order_id: order_id.map(OrderId::from),
        discount,
        order_total: order.total,
        status: RedemptionStatus::Redeemed,
        created_at: now,
        released_at: None,
    };
    codes::insert_redemption(sql, tenant_id, &redemption)?;
    codes::add_code_uses(sql, tenant_id, &found.code, 1)?;
    codes::add_program_uses(sql, tenant_id, &program.id, 1)?;
    let event = redemption_event(EventType::VoucherRedeemed, &redemption);
    crate::events::raise(sql, tenant_id, now, &[event]).map_err(RedeemError::from)?;
    Ok(redemption)
}

/// Draws a new code of `program` for the member and raises `voucher.issued`; `None` when no
/// free code was found in 20 draws (a program whose code space is nearly used up).
pub(crate) fn issue_to_member(
    sql: &mut dyn Sql,
    tenant_id: &str,
    program: &VoucherProgram,
    member_id: &str,
    issued_via: &str,
    now: Timestamp,
) -> AppResult<Option<String>> {
    for _ in 0..20 {
        let code = format!(
            "{}{}",
            program.code_prefix,
            loyalty_core::code::random_code(program.code_length as usize)
        );
        let issued = codes::insert_member_codes(
            sql,
            tenant_id,
            &program.id,
            &[(code, member_id.to_string())],
            issued_via,
            now,
        )?;
        if let Some((code, _)) = issued.into_iter().next() {
            let event = issued_event(
                &code,
                Some(&program.id),
                Some(member_id),
                program.valid_until,
            );
            crate::events::raise(sql, tenant_id, now, &[event])?;
            return Ok(Some(code));
        }
    }
    Ok(None)
}

/// `voucher.issued`: a code made for a program, to a member or (without one) to hand out.
pub(crate) fn issued_event(
    code: &str,
    program_id: Option<&str>,
    member_id: Option<&str>,
    valid_until: Option<Timestamp>,
) -> Raised {
    let data = serde_json::json!({
        "voucher": {
            "code": code,
            "program_id": program_id,
            "member_id": member_id,
            "valid_until": valid_until,
        }
    });
    Raised::new(
        EventType::VoucherIssued,
        member_id.map(MemberId::from).as_ref(),
        &data,
    )
}

/// `voucher.redeemed` / `voucher.released`: the redemption as the API shows it.
fn redemption_event(kind: EventType, r: &Redemption) -> Raised {
    let data = serde_json::json!({
        "redemption": {
            "id": r.id,
            "code": r.code,
            "program_id": r.program_id,
            "member_id": r.member_id,
            "order_ref": r.order_ref,
            "order_id": r.order_id,
            "discount": r.discount,
            "order_total": r.order_total,
            "status": r.status,
            "created_at": r.created_at,
            "released_at": r.released_at,
        }
    });
    Raised::new(kind, r.member_id.as_ref(), &data)
}

/// Gives a redemption's use back (a cancelled order, or `release`).
pub(crate) fn release_in(
    sql: &mut dyn Sql,
    tenant_id: &str,
    r: Redemption,
    now: Timestamp,
) -> AppResult<Redemption> {
    if r.status == RedemptionStatus::Released {
        return Ok(r);
    }
    codes::code_for_update(sql, tenant_id, &r.code)?;
    codes::release_redemption(sql, tenant_id, &r.id, now)?;
    codes::add_code_uses(sql, tenant_id, &r.code, -1)?;
    codes::add_program_uses(sql, tenant_id, &r.program_id, -1)?;
    let released = Redemption {
        status: RedemptionStatus::Released,
        released_at: Some(now),
        ..r
    };
    let event = redemption_event(EventType::VoucherReleased, &released);
    crate::events::raise(sql, tenant_id, now, &[event])?;
    Ok(released)
}

/// The program a code belongs to (for stacking checks on an order).
pub(crate) fn program_of(
    sql: &mut dyn Sql,
    tenant_id: &str,
    program_id: &str,
) -> AppResult<Option<VoucherProgram>> {
    Ok(codes::get_program(sql, tenant_id, program_id)?)
}
