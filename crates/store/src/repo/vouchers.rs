//! Voucher programs, codes and redemptions.

use jiff::Timestamp;
use loyalty_core::voucher::RedemptionStatus;
use loyalty_core::voucher::{Code, CodeKind, Limits, Scope, VoucherProgram, VoucherType};

use super::{json, ms, to_json, ts, ts_opt};
use crate::params;
use crate::sql::{DbError, Row, Sql, Value};
use crate::{Page, Paged};
pub use loyalty_core::records::Redemption;

fn kind_str(k: VoucherType) -> &'static str {
    match k {
        VoucherType::Percent => "percent",
        VoucherType::Fixed => "fixed",
        VoucherType::FreeShipping => "free_shipping",
        VoucherType::FreeItem => "free_item",
    }
}

fn parse_kind(s: &str) -> Result<VoucherType, DbError> {
    Ok(match s {
        "percent" => VoucherType::Percent,
        "fixed" => VoucherType::Fixed,
        "free_shipping" => VoucherType::FreeShipping,
        "free_item" => VoucherType::FreeItem,
        other => return Err(DbError::Decode(format!("voucher kind {other}"))),
    })
}

fn code_kind_str(k: CodeKind) -> &'static str {
    match k {
        CodeKind::Shared => "shared",
        CodeKind::Unique => "unique",
    }
}

pub fn insert_program(
    sql: &mut dyn Sql,
    tenant_id: &str,
    p: &VoucherProgram,
) -> Result<(), DbError> {
    sql.execute(
        "insert into voucher_programs (tenant_id, id, name, kind, value, max_discount, min_order,
            free_item_sku, valid_from, valid_until, scope, total_uses, uses_per_member, stackable,
            active, code_kind, code_prefix, code_length, shared_code, uses, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
            $19, $20, $21, $22)",
        &program_values(tenant_id, p),
    )?;
    Ok(())
}

pub fn update_program(
    sql: &mut dyn Sql,
    tenant_id: &str,
    p: &VoucherProgram,
) -> Result<(), DbError> {
    sql.execute(
        "update voucher_programs
         set name = $3, kind = $4, value = $5, max_discount = $6, min_order = $7,
             free_item_sku = $8, valid_from = $9, valid_until = $10, scope = $11, total_uses = $12,
             uses_per_member = $13, stackable = $14, active = $15, updated_at = $16
         where tenant_id = $1 and id = $2",
        params![
            tenant_id,
            &p.id,
            &p.name,
            kind_str(p.kind),
            p.value,
            p.max_discount,
            p.min_order,
            &p.free_item_sku,
            p.valid_from.map(ms),
            p.valid_until.map(ms),
            to_json(&p.scope),
            p.limits.total_uses,
            p.limits.uses_per_member,
            p.stackable,
            p.active,
            ms(p.updated_at)
        ],
    )?;
    Ok(())
}

fn program_values<'a>(tenant_id: &'a str, p: &'a VoucherProgram) -> Vec<Value<'a>> {
    vec![
        tenant_id.into(),
        (&p.id).into(),
        (&p.name).into(),
        kind_str(p.kind).into(),
        p.value.into(),
        p.max_discount.into(),
        p.min_order.into(),
        (&p.free_item_sku).into(),
        p.valid_from.map(ms).into(),
        p.valid_until.map(ms).into(),
        to_json(&p.scope).into(),
        p.limits.total_uses.into(),
        p.limits.uses_per_member.into(),
        p.stackable.into(),
        p.active.into(),
        code_kind_str(p.code_kind).into(),
        (&p.code_prefix).into(),
        p.code_length.into(),
        (&p.shared_code).into(),
        p.uses.into(),
        ms(p.created_at).into(),
        ms(p.updated_at).into(),
    ]
}

macro_rules! program_columns {
    () => {
        "id, name, kind, value, max_discount, min_order, free_item_sku, valid_from, valid_until,
         scope, total_uses, uses_per_member, stackable, active, code_kind, code_prefix, code_length,
         shared_code, uses, created_at, updated_at"
    };
}

pub fn get_program(
    sql: &mut dyn Sql,
    tenant_id: &str,
    id: &str,
) -> Result<Option<VoucherProgram>, DbError> {
    sql.query_opt(
        concat!(
            "select ",
            program_columns!(),
            " from voucher_programs where tenant_id = $1 and id = $2"
        ),
        params![tenant_id, id],
    )?
    .map(|row| program_from_row(&row))
    .transpose()
}

/// The program, locked until the transaction ends (PostgreSQL): its use count is shared by
/// every code of the program.
pub fn get_program_for_update(
    sql: &mut dyn Sql,
    tenant_id: &str,
    id: &str,
) -> Result<Option<VoucherProgram>, DbError> {
    let query = match sql.backend() {
        crate::Backend::Sqlite => concat!(
            "select ",
            program_columns!(),
            " from voucher_programs where tenant_id = $1 and id = $2"
        ),
        crate::Backend::Postgres => {
            concat!(
                "select ",
                program_columns!(),
                " from voucher_programs where tenant_id = $1 and id = $2 for update"
            )
        }
    };
    sql.query_opt(query, params![tenant_id, id])?
        .map(|row| program_from_row(&row))
        .transpose()
}

pub fn list_programs(
    sql: &mut dyn Sql,
    tenant_id: &str,
    page: &Page,
) -> Result<Paged<VoucherProgram>, DbError> {
    let rows = sql.query(
        concat!(
            "select ",
            program_columns!(),
            " from voucher_programs where tenant_id = $1 and id > $2 order by id limit $3"
        ),
        params![
            tenant_id,
            page.after.as_deref().unwrap_or(""),
            page.limit + 1
        ],
    )?;
    let programs = rows
        .iter()
        .map(program_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Paged::from_rows(programs, page.limit, |p| &p.id))
}

pub fn add_program_uses(
    sql: &mut dyn Sql,
    tenant_id: &str,
    id: &str,
    delta: i64,
) -> Result<(), DbError> {
    sql.execute(
        "update voucher_programs set uses = uses + $3 where tenant_id = $1 and id = $2",
        params![tenant_id, id, delta],
    )?;
    Ok(())
}

fn program_from_row(row: &Row) -> Result<VoucherProgram, DbError> {
    let kind: String = row.get("kind")?;
    let code_kind: String = row.get("code_kind")?;
    let scope: Scope = json(row, "scope")?;
    Ok(VoucherProgram {
        id: row.get("id")?,
        name: row.get("name")?,
        kind: parse_kind(&kind)?,
        value: row.get("value")?,
        max_discount: row.get("max_discount")?,
        min_order: row.get("min_order")?,
        free_item_sku: row.get("free_item_sku")?,
        valid_from: ts_opt(row, "valid_from")?,
        valid_until: ts_opt(row, "valid_until")?,
        scope,
        limits: Limits {
            total_uses: row.get("total_uses")?,
            uses_per_member: row.get("uses_per_member")?,
        },
        stackable: row.get("stackable")?,
        active: row.get("active")?,
        code_kind: if code_kind == "shared" {
            CodeKind::Shared
        } else {
            CodeKind::Unique
        },
        code_prefix: row.get("code_prefix")?,
        code_length: row.get("code_length")?,
        shared_code: row.get("shared_code")?,
        uses: row.get("uses")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
    })
}

/// Inserts codes, skipping any already taken in the tenant; returns the ones inserted.
pub fn insert_codes(
    sql: &mut dyn Sql,
    tenant_id: &str,
    program_id: &str,
    member_id: Option<&str>,
    codes: &[String],
    issued_via: &str,
    now: Timestamp,
) -> Result<Vec<String>, DbError> {
    let mut inserted = Vec::with_capacity(codes.len());
    for chunk in codes.chunks(500) {
        let mut query = String::from(
            "insert into vouchers (tenant_id, code, program_id, member_id, uses, issued_via, created_at) values ",
        );
        let mut values: Vec<Value<'_>> = vec![
            tenant_id.into(),
            program_id.into(),
            member_id.into(),
            issued_via.into(),
            ms(now).into(),
        ];
        for (i, code) in chunk.iter().enumerate() {
            if i > 0 {
                query.push_str(", ");
            }
            query.push_str(&format!("($1, ${}, $2, $3, 0, $4, $5)", i + 6));
            values.push(code.as_str().into());
        }
        query.push_str(" on conflict (tenant_id, code) do nothing returning code");
        for row in sql.query(&query, &values)? {
            inserted.push(row.at(0)?);
        }
    }
    Ok(inserted)
}

/// A code, locked for the transaction (PostgreSQL).
pub fn code_for_update(
    sql: &mut dyn Sql,
    tenant_id: &str,
    code: &str,
) -> Result<Option<Code>, DbError> {
    let query = match sql.backend() {
        crate::Backend::Sqlite => {
            "select code, program_id, member_id, uses from vouchers where tenant_id = $1 and code = $2"
        }
        crate::Backend::Postgres => {
            "select code, program_id, member_id, uses from vouchers where tenant_id = $1 and code = $2 for update"
        }
    };
    sql.query_opt(query, params![tenant_id, code])?
        .map(|row| {
            Ok(Code {
                code: row.get("code")?,
                program_id: row.get("program_id")?,
                member_id: row.get("member_id")?,
                uses: row.get("uses")?,
            })
        })
        .transpose()
}

pub fn add_code_uses(
    sql: &mut dyn Sql,
    tenant_id: &str,
    code: &str,
    delta: i64,
) -> Result<(), DbError> {
    sql.execute(
        "update vouchers set uses = uses + $3 where tenant_id = $1 and code = $2",
        params![tenant_id, code, delta],
    )?;
    Ok(())
}

/// How many times the member uses the program now (redemptions not released).
pub fn member_uses(
    sql: &mut dyn Sql,
    tenant_id: &str,
    program_id: &str,
    member_id: &str,
) -> Result<i64, DbError> {
    sql.query_scalar(
        "select count(*) from voucher_redemptions
         where tenant_id = $1 and program_id = $2 and member_id = $3 and status = 'redeemed'",
        params![tenant_id, program_id, member_id],
    )
}

pub fn insert_redemption(
    sql: &mut dyn Sql,
    tenant_id: &str,
    r: &Redemption,
) -> Result<(), DbError> {
    sql.execute(
        "insert into voucher_redemptions (tenant_id, id, code, program_id, member_id, order_ref,
            order_id, discount, order_total, status, created_at, released_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        params![
            tenant_id,
            &r.id,
            &r.code,
            &r.program_id,
            &r.member_id,
            &r.order_ref,
            &r.order_id,
            r.discount,
            r.order_total,
            r.status.as_str(),
            ms(r.created_at),
            r.released_at.map(ms)
        ],
    )?;
    Ok(())
}

const REDEMPTION_COLUMNS: &str = "id, code, program_id, member_id, order_ref, order_id, discount, order_total, status, created_at, released_at";

pub fn redemption_by_ref(
    sql: &mut dyn Sql,
    tenant_id: &str,
    code: &str,
    order_ref: &str,
) -> Result<Option<Redemption>, DbError> {
    let query = format!(
        "select {REDEMPTION_COLUMNS} from voucher_redemptions where tenant_id = $1 and code = $2 and order_ref = $3"
    );
    sql.query_opt(&query, params![tenant_id, code, order_ref])?
        .map(|r| redemption_from_row(&r))
        .transpose()
}

pub fn redemption(
    sql: &mut dyn Sql,
    tenant_id: &str,
    id: &str,
) -> Result<Option<Redemption>, DbError> {
    let query = format!(
        "select {REDEMPTION_COLUMNS} from voucher_redemptions where tenant_id = $1 and id = $2"
    );
    sql.query_opt(&query, params![tenant_id, id])?
        .map(|r| redemption_from_row(&r))
        .transpose()
}

pub fn redemptions_of_order(
    sql: &mut dyn Sql,
    tenant_id: &str,
    order_id: &str,
) -> Result<Vec<Redemption>, DbError> {
    let query = format!(
        "select {REDEMPTION_COLUMNS} from voucher_redemptions where tenant_id = $1 and order_id = $2 and status = 'redeemed'"
    );
    sql.query(&query, params![tenant_id, order_id])?
        .iter()
        .map(redemption_from_row)
        .collect()
}

/// All redemptions of a program (in force), oldest first, for its report.
pub fn redemptions_of_program(
    sql: &mut dyn Sql,
    tenant_id: &str,
    program_id: &str,
) -> Result<Vec<Redemption>, DbError> {
    let query = format!(
        "select {REDEMPTION_COLUMNS} from voucher_redemptions where tenant_id = $1 and program_id = $2 and status = 'redeemed' order by created_at"
    );
    sql.query(&query, params![tenant_id, program_id])?
        .iter()
        .map(redemption_from_row)
        .collect()
}

pub fn release_redemption(
    sql: &mut dyn Sql,
    tenant_id: &str,
    id: &str,
    at: Timestamp,
) -> Result<(), DbError> {
    sql.execute(
        "update voucher_redemptions set status = 'released', released_at = $3 where tenant_id = $1 and id = $2",
        params![tenant_id, id, ms(at)],
    )?;
    Ok(())
}

fn redemption_from_row(row: &Row) -> Result<Redemption, DbError> {
    Ok(Redemption {
        id: row.get("id")?,
        code: row.get("code")?,
        program_id: row.get("program_id")?,
        member_id: row.get("member_id")?,
        order_ref: row.get("order_ref")?,
        order_id: row.get("order_id")?,
        discount: row.get("discount")?,
        order_total: row.get("order_total")?,
        status: {
            let status: String = row.get("status")?;
            RedemptionStatus::parse(&status)
                .ok_or_else(|| DbError::Decode(format!("redemption status {status}")))?
        },
        created_at: ts(row, "created_at")?,
        released_at: ts_opt(row, "released_at")?,
    })
}

pub fn count_codes(sql: &mut dyn Sql, tenant_id: &str, program_id: &str) -> Result<i64, DbError> {
    sql.query_scalar(
        "select count(*) from vouchers where tenant_id = $1 and program_id = $2",
        params![tenant_id, program_id],
    )
}

/// A member's codes (issued to them, or used by them) with their program.
pub fn member_codes(
    sql: &mut dyn Sql,
    tenant_id: &str,
    member_id: &str,
) -> Result<Vec<(Code, VoucherProgram)>, DbError> {
    let rows = sql.query(
        "select v.code, v.program_id, v.member_id, v.uses from vouchers v
         where v.tenant_id = $1 and v.member_id = $2
         union
         select v.code, v.program_id, v.member_id, v.uses from vouchers v
         join voucher_redemptions r on r.tenant_id = v.tenant_id and r.code = v.code
         where v.tenant_id = $1 and r.member_id = $2 and r.status = 'redeemed'",
        params![tenant_id, member_id],
    )?;
    let mut out = Vec::with_capacity(rows.len());
    let mut programs: std::collections::HashMap<String, VoucherProgram> =
        std::collections::HashMap::new();
    for row in rows {
        let code = Code {
            code: row.get("code")?,
            program_id: row.get("program_id")?,
            member_id: row.get("member_id")?,
            uses: row.get("uses")?,
        };
        if !programs.contains_key(&code.program_id)
            && let Some(p) = get_program(sql, tenant_id, &code.program_id)?
        {
            programs.insert(p.id.to_string(), p);
        }
        if let Some(p) = programs.get(&code.program_id) {
            out.push((code, p.clone()));
        }
    }
    out.sort_by(|a, b| a.0.code.cmp(&b.0.code));
    Ok(out)
}

/// Issues one code to each member, many to a statement; returns the (code, member) pairs
/// written (a code already taken is not, and the caller draws again).
pub fn insert_member_codes(
    sql: &mut dyn Sql,
    tenant_id: &str,
    program_id: &str,
    codes: &[(String, String)],
    issued_via: &str,
    now: Timestamp,
) -> Result<Vec<(String, String)>, DbError> {
    let mut inserted = Vec::with_capacity(codes.len());
    for chunk in codes.chunks(400) {
        let mut query = String::from(
            "insert into vouchers (tenant_id, code, program_id, member_id, uses, issued_via, created_at) values ",
        );
        let mut values: Vec<Value<'_>> = vec![
            tenant_id.into(),
            program_id.into(),
            issued_via.into(),
            ms(now).into(),
        ];
        for (i, (code, member)) in chunk.iter().enumerate() {
            if i > 0 {
                query.push_str(", ");
            }
            query.push_str(&format!(
                "($1, ${}, $2, ${}, 0, $3, $4)",
                5 + 2 * i,
                6 + 2 * i
            ));
            values.push(code.as_str().into());
            values.push(member.as_str().into());
        }
        query.push_str(" on conflict (tenant_id, code) do nothing returning code, member_id");
        for row in sql.query(&query, &values)? {
            inserted.push((row.at(0)?, row.at(1)?));
        }
    }
    Ok(inserted)
}

/// Withdraws a member's code that was never used (a referral reward reversed); whether it was.
pub fn withdraw_unused(sql: &mut dyn Sql, tenant_id: &str, code: &str) -> Result<bool, DbError> {
    let n = sql.execute(
        "delete from vouchers where tenant_id = $1 and code = $2 and uses = 0",
        params![tenant_id, code],
    )?;
    Ok(n > 0)
}
