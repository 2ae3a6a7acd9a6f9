use loyalty_core::birthday::Birthday;
use loyalty_core::email::Email;
use loyalty_core::member::{Consent, Gender, Member, MemberStatus, Profile};
use loyalty_core::phone::Phone;

use super::{json, like_contains, ms, to_json, ts, ts_opt};
use crate::params;
use crate::sql::{DbError, Row, Sql, Value};
use crate::{Page, Paged};
pub use loyalty_core::records::MemberFilter;

macro_rules! member_columns {
    () => {
        "id, member_code, status, phone, email, name, gender, birthday, province, district, address,
         tags, attributes, external_ids, consent_email, consent_sms, consent_zalo, source, tier_id,
         tier_reached_at, tier_review_at, tier_overridden, tier_override_until, tier_cycle_start,
         tier_carry,
         points_available, points_pending, points_debt, next_change_at, lifetime_points,
         lifetime_spend, order_count,
         last_order_at, member_since, rfm_class, rfm_score, merged_into, created_at, updated_at"
    };
}

macro_rules! insert_member {
    () => {
        "insert into members (tenant_id, id, member_code, status, phone, email, name, search_text,
            gender, birthday, birth_month, birth_day, province, province_code, district, address,
            tags, attributes, external_ids, consent_email, consent_sms, consent_zalo, source,
            member_since, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
            $19, $20, $21, $22, $23, $24, $25, $26)"
    };
}

/// Inserts a new member with its external-id index rows.
pub fn insert(sql: &mut dyn Sql, tenant_id: &str, m: &Member) -> Result<(), DbError> {
    insert_row(sql, tenant_id, m, false).map(drop)
}

/// Inserts a new member unless its phone, e-mail or code is taken meanwhile (by a concurrent
/// transaction, which PostgreSQL waits for); returns whether it was inserted.
pub fn insert_if_absent(sql: &mut dyn Sql, tenant_id: &str, m: &Member) -> Result<bool, DbError> {
    insert_row(sql, tenant_id, m, true)
}

fn insert_row(
    sql: &mut dyn Sql,
    tenant_id: &str,
    m: &Member,
    if_absent: bool,
) -> Result<bool, DbError> {
    let p = &m.profile;
    let query = if if_absent {
        concat!(insert_member!(), " on conflict do nothing returning id")
    } else {
        concat!(insert_member!(), " returning id")
    };
    let inserted = !sql
        .query(
            query,
            &[
                tenant_id.into(),
                (&m.id).into(),
                (&m.member_code).into(),
                m.status.as_str().into(),
                p.phone.as_ref().map(Phone::as_str).into(),
                p.email.as_ref().map(Email::as_str).into(),
                (&p.name).into(),
                p.search_text().into(),
                p.gender.map(Gender::as_str).into(),
                p.birthday.map(|b| b.to_string()).into(),
                p.birthday.map(|b| i64::from(b.month)).into(),
                p.birthday.map(|b| i64::from(b.day)).into(),
                (&p.province).into(),
                p.province_code().into(),
                (&p.district).into(),
                (&p.address).into(),
                to_json(&p.tags).into(),
                to_json(&p.attributes).into(),
                to_json(&p.external_ids).into(),
                p.consent.email.into(),
                p.consent.sms.into(),
                p.consent.zalo.into(),
                (&m.source).into(),
                m.member_since.map(ms).into(),
                ms(m.created_at).into(),
                ms(m.updated_at).into(),
            ],
        )?
        .is_empty();
    if inserted {
        write_external_ids(sql, tenant_id, m)?;
    }
    Ok(inserted)
}

/// Writes the profile, status and activation of an existing member.
pub fn update_profile(sql: &mut dyn Sql, tenant_id: &str, m: &Member) -> Result<(), DbError> {
    let p = &m.profile;
    sql.execute(
        "update members
         set status = $3, phone = $4, email = $5, name = $6, search_text = $7, gender = $8,
             birthday = $9, birth_month = $10, birth_day = $11, province = $12,
             province_code = $13, district = $14, address = $15, tags = $16, attributes = $17,
             external_ids = $18, consent_email = $19, consent_sms = $20, consent_zalo = $21,
             member_since = $22, updated_at = $23
         where tenant_id = $1 and id = $2",
        &[
            tenant_id.into(),
            (&m.id).into(),
            m.status.as_str().into(),
            p.phone.as_ref().map(Phone::as_str).into(),
            p.email.as_ref().map(Email::as_str).into(),
            (&p.name).into(),
            p.search_text().into(),
            p.gender.map(Gender::as_str).into(),
            p.birthday.map(|b| b.to_string()).into(),
            p.birthday.map(|b| i64::from(b.month)).into(),
            p.birthday.map(|b| i64::from(b.day)).into(),
            (&p.province).into(),
            p.province_code().into(),
            (&p.district).into(),
            (&p.address).into(),
            to_json(&p.tags).into(),
            to_json(&p.attributes).into(),
            to_json(&p.external_ids).into(),
            p.consent.email.into(),
            p.consent.sms.into(),
            p.consent.zalo.into(),
            m.member_since.map(ms).into(),
            ms(m.updated_at).into(),
        ],
    )?;
    sql.execute(
        "delete from member_external_ids where tenant_id = $1 and member_id = $2",
        params![tenant_id, &m.id],
    )?;
    write_external_ids(sql, tenant_id, m)
}

fn write_external_ids(sql: &mut dyn Sql, tenant_id: &str, m: &Member) -> Result<(), DbError> {
    for (system, external_id) in &m.profile.external_ids {
        sql.execute(
            "insert into member_external_ids (tenant_id, system, external_id, member_id)
             values ($1, $2, $3, $4)",
            params![tenant_id, system, external_id, &m.id],
        )?;
    }
    Ok(())
}

/// Writes what orders and points change on a member: status and activation, balances, debt,
/// counters.
pub fn update_state(sql: &mut dyn Sql, tenant_id: &str, m: &Member) -> Result<(), DbError> {
    sql.defer(
        "update members
         set status = $3, member_since = $4, tier_id = $5, points_available = $6,
             points_pending = $7, points_debt = $8, next_change_at = $9, lifetime_points = $10,
             lifetime_spend = $11, order_count = $12, last_order_at = $13, updated_at = $14,
             tier_reached_at = $15, tier_review_at = $16, tier_overridden = $17,
             tier_override_until = $18, tier_cycle_start = $19, tier_carry = $20
         where tenant_id = $1 and id = $2",
        params![
            tenant_id,
            &m.id,
            m.status.as_str(),
            m.member_since.map(ms),
            &m.tier_id,
            m.points_available,
            m.points_pending,
            m.points_debt,
            m.next_change_at.map(ms),
            m.lifetime_points,
            m.lifetime_spend,
            m.order_count,
            m.last_order_at.map(ms),
            ms(m.updated_at),
            m.tier_reached_at.map(ms),
            m.tier_review_at.map(ms),
            m.tier_overridden,
            m.tier_override_until.map(ms),
            m.tier_cycle_start.map(ms),
            m.tier_carry
        ],
    )?;
    Ok(())
}

/// Members whose stored balances are stale by `now` (points to make available or to expire).
pub fn due_for_refresh(
    sql: &mut dyn Sql,
    tenant_id: &str,
    now: jiff::Timestamp,
    limit: i64,
) -> Result<Vec<String>, DbError> {
    sql.query(
        "select id from members
         where tenant_id = $1 and next_change_at <= $2
         order by next_change_at
         limit $3",
        params![tenant_id, ms(now), limit],
    )?
    .iter()
    .map(|row| row.at(0))
    .collect()
}

/// The member `id`; a record merged into another answers with the kept one (API.md "Back
/// office": requests naming a merged id act on the kept member).
pub fn get(sql: &mut dyn Sql, tenant_id: &str, id: &str) -> Result<Option<Member>, DbError> {
    follow(sql, tenant_id, id, "")
}

/// Reads a member to change it: on PostgreSQL the row stays locked until the transaction ends.
/// A merged record leads to the kept one, which is then locked (after waiting for a merge in
/// progress, PostgreSQL reads the tombstone as the merge left it).
pub fn get_for_update(
    sql: &mut dyn Sql,
    tenant_id: &str,
    id: &str,
) -> Result<Option<Member>, DbError> {
    let lock = sql.backend().for_update();
    follow(sql, tenant_id, id, lock)
}

/// [`get_for_update`] with its first read sent together with `other`, an independent query
/// (PostgreSQL pipelines the two: the order path asks for its receipt and its buyer at once).
/// Returns `other`'s rows and the member.
pub fn get_for_update_with(
    sql: &mut dyn Sql,
    tenant_id: &str,
    id: &str,
    other: (&str, &[Value<'_>]),
) -> Result<(Vec<Row>, Option<Member>), DbError> {
    let lock = sql.backend().for_update();
    let query = member_query(lock);
    let (other_rows, rows) = sql.query_two(other, (&query, params![tenant_id, id]))?;
    let member = match rows.into_iter().next() {
        None => None,
        Some(row) => match row.get::<Option<String>>("merged_into")? {
            Some(kept) => follow(sql, tenant_id, &kept, lock)?,
            None => Some(from_row(&row)?),
        },
    };
    Ok((other_rows, member))
}

fn member_query(suffix: &str) -> String {
    format!(
        concat!(
            "select ",
            member_columns!(),
            " from members where tenant_id = $1 and id = $2{}"
        ),
        suffix
    )
}

/// How many tombstones a look-up walks at most: a merge points every tombstone of the merged
/// record at the kept one, so one step is the rule; the bound only guards against a cycle.
const MAX_MERGE_STEPS: usize = 4;

fn follow(
    sql: &mut dyn Sql,
    tenant_id: &str,
    id: &str,
    suffix: &str,
) -> Result<Option<Member>, DbError> {
    let query = member_query(suffix);
    let mut id = id.to_string();
    for _ in 0..MAX_MERGE_STEPS {
        let Some(row) = sql.query_opt(&query, params![tenant_id, &id])? else {
            return Ok(None);
        };
        match row.get::<Option<String>>("merged_into")? {
            Some(kept) => id = kept,
            None => return from_row(&row).map(Some),
        }
    }
    Err(DbError::Other(format!(
        "member {id}: merged records form a cycle"
    )))
}

/// The id of the member holding `phone` or `email` (whichever matches first), to refuse a
/// duplicate with the field that clashes.
pub fn id_by_contact(
    sql: &mut dyn Sql,
    tenant_id: &str,
    column: Contact,
    value: &str,
) -> Result<Option<String>, DbError> {
    // A merged record's contacts lead to the kept member.
    let query = match column {
        Contact::Phone => {
            "select coalesce(merged_into, id) from members where tenant_id = $1 and phone = $2"
        }
        Contact::Email => {
            "select coalesce(merged_into, id) from members where tenant_id = $1 and email = $2"
        }
        Contact::MemberCode => {
            "select coalesce(merged_into, id) from members where tenant_id = $1 and member_code = $2"
        }
    };
    sql.query_opt(query, params![tenant_id, value])?
        .map(|row| row.at(0))
        .transpose()
}

#[derive(Debug, Clone, Copy)]
pub enum Contact {
    Phone,
    Email,
    MemberCode,
}

/// The member linked to `external_id` in another system, if any.
pub fn id_by_external_id(
    sql: &mut dyn Sql,
    tenant_id: &str,
    system: &str,
    external_id: &str,
) -> Result<Option<String>, DbError> {
    sql.query_opt(
        "select coalesce(m.merged_into, m.id)
         from member_external_ids e
         join members m on m.tenant_id = e.tenant_id and m.id = e.member_id
         where e.tenant_id = $1 and e.system = $2 and e.external_id = $3",
        params![tenant_id, system, external_id],
    )?
    .map(|row| row.at(0))
    .transpose()
}

pub fn search(
    sql: &mut dyn Sql,
    tenant_id: &str,
    filter: &MemberFilter,
    page: &Page,
) -> Result<Paged<Member>, DbError> {
    let mut query = String::from(concat!(
        "select ",
        member_columns!(),
        " from members where tenant_id = $1 and id > $2"
    ));
    let mut values: Vec<Value<'_>> =
        vec![tenant_id.into(), page.after.as_deref().unwrap_or("").into()];
    let mut add = |query: &mut String, condition: &str, value: Value<'static>| {
        values.push(value);
        query.push_str(&format!(" and {condition} ${}", values.len()));
    };
    if let Some(phone) = &filter.phone {
        add(&mut query, "phone =", phone.clone().into());
    }
    if let Some(email) = &filter.email {
        add(&mut query, "email =", email.clone().into());
    }
    if let Some(code) = &filter.member_code {
        add(&mut query, "member_code =", code.clone().into());
    }
    let lookup = filter.phone.is_some() || filter.email.is_some() || filter.member_code.is_some();
    match filter.status {
        Some(status) => add(&mut query, "status =", status.as_str().into()),
        // A look-up by contact finds a merged record's kept member (below); lists leave
        // merged records out.
        None if !lookup => query.push_str(" and status <> 'merged'"),
        None => {}
    }
    if let Some(tier_id) = &filter.tier_id {
        add(&mut query, "tier_id =", tier_id.clone().into());
    }
    if let Some(text) = &filter.text {
        add(&mut query, "search_text like", like_contains(text).into());
        query.push_str(" escape '\\'");
    }
    values.push((page.limit + 1).into());
    query.push_str(&format!(" order by id limit ${}", values.len()));
    let rows = sql.query(&query, &values)?;
    let mut members = Vec::with_capacity(rows.len());
    for row in &rows {
        match row.get::<Option<String>>("merged_into")? {
            Some(kept) if lookup && filter.status.is_none() => {
                members.extend(get(sql, tenant_id, &kept)?);
            }
            _ => members.push(from_row(row)?),
        }
    }
    Ok(Paged::from_rows(members, page.limit, |m| &m.id))
}

/// The columns `from_row` reads, for queries of other modules that return members.
pub(crate) const COLUMNS: &str = member_columns!();

pub(crate) fn from_row(row: &Row) -> Result<Member, DbError> {
    let status: String = row.get("status")?;
    let gender: Option<String> = row.get("gender")?;
    let birthday: Option<String> = row.get("birthday")?;
    let phone: Option<String> = row.get("phone")?;
    let email: Option<String> = row.get("email")?;
    Ok(Member {
        id: row.get("id")?,
        member_code: row.get("member_code")?,
        status: MemberStatus::parse(&status)
            .ok_or_else(|| DbError::Decode(format!("unknown member status {status}")))?,
        profile: Profile {
            phone: phone.map(Phone::from_e164_unchecked),
            email: email.map(Email::from_normalised_unchecked),
            name: row.get("name")?,
            gender: gender.as_deref().and_then(Gender::parse),
            birthday: birthday.as_deref().and_then(Birthday::from_stored),
            province: row.get("province")?,
            district: row.get("district")?,
            address: row.get("address")?,
            tags: json(row, "tags")?,
            attributes: json(row, "attributes")?,
            consent: Consent {
                email: row.get("consent_email")?,
                sms: row.get("consent_sms")?,
                zalo: row.get("consent_zalo")?,
            },
            external_ids: json(row, "external_ids")?,
        },
        source: row.get("source")?,
        tier_id: row.get("tier_id")?,
        tier_reached_at: ts_opt(row, "tier_reached_at")?,
        tier_review_at: ts_opt(row, "tier_review_at")?,
        tier_overridden: row.get("tier_overridden")?,
        tier_override_until: ts_opt(row, "tier_override_until")?,
        tier_cycle_start: ts_opt(row, "tier_cycle_start")?,
        tier_carry: row.get("tier_carry")?,
        points_available: row.get("points_available")?,
        points_pending: row.get("points_pending")?,
        points_debt: row.get("points_debt")?,
        next_change_at: ts_opt(row, "next_change_at")?,
        lifetime_points: row.get("lifetime_points")?,
        lifetime_spend: row.get("lifetime_spend")?,
        order_count: row.get("order_count")?,
        last_order_at: ts_opt(row, "last_order_at")?,
        member_since: ts_opt(row, "member_since")?,
        rfm_class: row.get("rfm_class")?,
        rfm_score: row.get("rfm_score")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
    })
}

/// Several members in one query (never one query per member).
pub fn get_many(sql: &mut dyn Sql, tenant_id: &str, ids: &[&str]) -> Result<Vec<Member>, DbError> {
    get_many_with(sql, tenant_id, ids, "")
}

/// Reads members to change them: on PostgreSQL the rows stay locked until the transaction ends.
pub fn get_many_for_update(
    sql: &mut dyn Sql,
    tenant_id: &str,
    ids: &[&str],
) -> Result<Vec<Member>, DbError> {
    let lock = sql.backend().for_update();
    get_many_with(sql, tenant_id, ids, lock)
}

fn get_many_with(
    sql: &mut dyn Sql,
    tenant_id: &str,
    ids: &[&str],
    suffix: &str,
) -> Result<Vec<Member>, DbError> {
    let mut found = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let mut values: Vec<Value<'_>> = Vec::with_capacity(chunk.len() * 2);
        let filter = match sql.backend() {
            // Rows of (tenant, id), each with parameters of its own: PostgreSQL plans them as
            // an index probe per row, where `tenant_id = $1 and id in (…)` let a cached generic
            // plan walk the tenant's members (150 ms a page of 1,000 at a million members).
            crate::Backend::Postgres => format!(
                "(tenant_id, id) in ({})",
                super::rows_in(sql.backend(), &mut values, &[tenant_id], chunk)
            ),
            crate::Backend::Sqlite => {
                values.push(tenant_id.into());
                values.extend(chunk.iter().map(|id| Value::from(*id)));
                let marks: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
                format!("tenant_id = $1 and id in ({})", marks.join(", "))
            }
        };
        // Merged records are tombstones: whoever names one by id reaches the kept member
        // through `get`; a batch leaves them out.
        let query = format!(
            concat!(
                "select ",
                member_columns!(),
                " from members where {} and status <> 'merged'{}"
            ),
            filter, suffix
        );
        for row in sql.query(&query, &values)? {
            found.push(from_row(&row)?);
        }
    }
    Ok(found)
}

/// Locks several members (PostgreSQL; SQLite's writer already holds the database) and returns
/// those whose balances are due for refresh by `now`, with their debt.
pub fn lock_due(
    sql: &mut dyn Sql,
    tenant_id: &str,
    ids: &[&str],
    now: jiff::Timestamp,
) -> Result<Vec<(String, i64)>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 3)).collect();
    let lock = sql.backend().for_update();
    // The unary `+` keeps the planner off `members_next_change`: through it, SQLite walked
    // every due member of the tenant to find the batch's thousand (a million index entries per
    // batch at the start of a year-end sweep, so the sweep was quadratic); the primary key finds
    // each member at once.
    let query = format!(
        "select id, points_debt from members
         where tenant_id = $1 and id in ({}) and +next_change_at <= $2
         order by id{lock}",
        placeholders.join(", ")
    );
    let mut values: Vec<Value<'_>> = vec![tenant_id.into(), ms(now).into()];
    values.extend(ids.iter().map(|id| Value::from(*id)));
    sql.query(&query, &values)?
        .iter()
        .map(|row| Ok((row.get("id")?, row.get("points_debt")?)))
        .collect()
}

/// New balances for several members in a few statements.
pub struct Balances {
    pub id: String,
    pub available: i64,
    pub pending: i64,
    pub next_change_at: Option<jiff::Timestamp>,
}

pub fn set_balances(
    sql: &mut dyn Sql,
    tenant_id: &str,
    rows: &[Balances],
    now: jiff::Timestamp,
) -> Result<(), DbError> {
    for chunk in rows.chunks(100) {
        let mut tuples = Vec::with_capacity(chunk.len());
        let mut values: Vec<Value<'_>> = vec![tenant_id.into(), ms(now).into()];
        for (i, r) in chunk.iter().enumerate() {
            let b = 3 + i * 4;
            tuples.push(format!(
                "(${}, cast(${} as bigint), cast(${} as bigint), cast(${} as bigint))",
                b,
                b + 1,
                b + 2,
                b + 3
            ));
            values.extend([
                Value::from(r.id.as_str()),
                Value::from(r.available),
                Value::from(r.pending),
                Value::from(r.next_change_at.map(ms)),
            ]);
        }
        let query = format!(
            "with v (id, available, pending, next_change) as (values {})
             update members
             set points_available = v.available, points_pending = v.pending,
                 next_change_at = v.next_change, updated_at = $2
             from v
             where members.tenant_id = $1 and members.id = v.id",
            tuples.join(", ")
        );
        sql.execute(&query, &values)?;
    }
    Ok(())
}

/// Members whose tier review is due by `now`, or whose override has ended.
pub fn due_for_review(
    sql: &mut dyn Sql,
    tenant_id: &str,
    now: jiff::Timestamp,
    limit: i64,
) -> Result<Vec<String>, DbError> {
    sql.query(
        "select id from members where tenant_id = $1 and tier_review_at <= $2
         union
         select id from members where tenant_id = $1 and tier_override_until <= $2
         limit $3",
        params![tenant_id, ms(now), limit],
    )?
    .iter()
    .map(|row| row.at(0))
    .collect()
}

/// Ids of all members, in pages (for re-evaluating the ladder).
pub fn ids_after(
    sql: &mut dyn Sql,
    tenant_id: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<String>, DbError> {
    sql.query(
        "select id from members where tenant_id = $1 and id > $2 order by id limit $3",
        params![tenant_id, after, limit],
    )?
    .iter()
    .map(|row| row.at(0))
    .collect()
}

/// The qualifying metrics of members over their orders placed since `from`: (member, spend
/// net of refunds, paid orders, points earned net of reversals). Cancelled orders count for
/// nothing; a fully refunded order is no longer an order.
pub fn order_totals(
    sql: &mut dyn Sql,
    tenant_id: &str,
    member_ids: &[&str],
    from: jiff::Timestamp,
) -> Result<Vec<(String, i64, i64, i64)>, DbError> {
    if member_ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (0..member_ids.len())
        .map(|i| format!("${}", i + 3))
        .collect();
    let query = format!(
        "select member_id, {},
                cast(coalesce(sum(case when status in ('paid', 'partially_refunded') then 1 else 0 end), 0) as bigint) as orders,
                {}
         from orders
         where tenant_id = $1 and placed_at >= $2 and status <> 'cancelled' and member_id in ({})
         group by member_id",
        crate::sql::wide_sum("total - refunded_amount", "spend"),
        crate::sql::wide_sum("points_earned - points_reversed", "points"),
        placeholders.join(", ")
    );
    let mut values: Vec<Value<'_>> = vec![tenant_id.into(), ms(from).into()];
    values.extend(member_ids.iter().map(|id| Value::from(*id)));
    sql.query(&query, &values)?
        .iter()
        .map(|row| {
            Ok((
                row.get("member_id")?,
                row.wide_saturated("spend")?,
                row.get("orders")?,
                row.wide_saturated("points")?,
            ))
        })
        .collect()
}

/// Inserts many new members, with their balances, tier and external ids, in a few multi-row
/// statements (imports, benchmarks).
pub fn insert_many(sql: &mut dyn Sql, tenant_id: &str, list: &[Member]) -> Result<(), DbError> {
    const COLUMNS: usize = 34;
    for chunk in list.chunks(50) {
        let mut query = String::from(
            "insert into members (tenant_id, id, member_code, status, phone, email, name, search_text,
                gender, birthday, birth_month, birth_day, province, province_code, district, address,
                tags, attributes, external_ids, consent_email, consent_sms, consent_zalo, source,
                member_since, created_at, updated_at, tier_id, tier_reached_at, tier_review_at,
                points_available, points_pending, next_change_at, lifetime_points, lifetime_spend)
                values ",
        );
        let mut values: Vec<Value<'_>> = Vec::with_capacity(chunk.len() * COLUMNS);
        for (i, m) in chunk.iter().enumerate() {
            if i > 0 {
                query.push_str(", ");
            }
            let placeholders: Vec<String> = (1..=COLUMNS)
                .map(|c| format!("${}", i * COLUMNS + c))
                .collect();
            query.push_str(&format!("({})", placeholders.join(", ")));
            let p = &m.profile;
            values.extend([
                Value::from(tenant_id),
                Value::from(m.id.as_str()),
                Value::from(m.member_code.as_str()),
                Value::from(m.status.as_str()),
                Value::from(p.phone.as_ref().map(Phone::as_str)),
                Value::from(p.email.as_ref().map(Email::as_str)),
                Value::from(&p.name),
                Value::from(p.search_text()),
                Value::from(p.gender.map(Gender::as_str)),
                Value::from(p.birthday.map(|b| b.to_string())),
                Value::from(p.birthday.map(|b| i64::from(b.month))),
                Value::from(p.birthday.map(|b| i64::from(b.day))),
                Value::from(&p.province),
                Value::from(p.province_code()),
                Value::from(&p.district),
                Value::from(&p.address),
                Value::from(to_json(&p.tags)),
                Value::from(to_json(&p.attributes)),
                Value::from(to_json(&p.external_ids)),
                Value::from(p.consent.email),
                Value::from(p.consent.sms),
                Value::from(p.consent.zalo),
                Value::from(&m.source),
                Value::from(m.member_since.map(ms)),
                Value::from(ms(m.created_at)),
                Value::from(ms(m.updated_at)),
                Value::from(&m.tier_id),
                Value::from(m.tier_reached_at.map(ms)),
                Value::from(m.tier_review_at.map(ms)),
                Value::from(m.points_available),
                Value::from(m.points_pending),
                Value::from(m.next_change_at.map(ms)),
                Value::from(m.lifetime_points),
                Value::from(m.lifetime_spend),
            ]);
        }
        sql.execute(&query, &values)?;
    }
    let links: Vec<(&str, &str, &str)> = list
        .iter()
        .flat_map(|m| {
            m.profile
                .external_ids
                .iter()
                .map(|(system, id)| (system.as_str(), id.as_str(), m.id.as_str()))
        })
        .collect();
    for chunk in links.chunks(200) {
        let mut query = String::from(
            "insert into member_external_ids (tenant_id, system, external_id, member_id) values ",
        );
        let mut values: Vec<Value<'_>> = vec![tenant_id.into()];
        for (i, (system, external_id, member_id)) in chunk.iter().enumerate() {
            let b = 2 + i * 3;
            if i > 0 {
                query.push_str(", ");
            }
            query.push_str(&format!("($1, ${b}, ${}, ${})", b + 1, b + 2));
            values.extend([(*system).into(), (*external_id).into(), (*member_id).into()]);
        }
        sql.execute(&query, &values)?;
    }
    Ok(())
}

/// Which of `values` (phones, e-mails or member codes) belong to a member: (value, member id).
pub fn ids_by_contacts(
    sql: &mut dyn Sql,
    tenant_id: &str,
    column: Contact,
    values: &[&str],
) -> Result<Vec<(String, String)>, DbError> {
    let column = match column {
        Contact::Phone => "phone",
        Contact::Email => "email",
        Contact::MemberCode => "member_code",
    };
    let mut found = Vec::new();
    for chunk in values.chunks(500) {
        let placeholders: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
        let query = format!(
            "select {column}, coalesce(merged_into, id) from members
             where tenant_id = $1 and {column} in ({})",
            placeholders.join(", ")
        );
        let mut params: Vec<Value<'_>> = vec![tenant_id.into()];
        params.extend(chunk.iter().map(|v| Value::from(*v)));
        for row in sql.query(&query, &params)? {
            found.push((row.at(0)?, row.at(1)?));
        }
    }
    Ok(found)
}

/// Which of `external_ids` in `system` are linked to a member: (external id, member id).
pub fn ids_by_external_ids(
    sql: &mut dyn Sql,
    tenant_id: &str,
    system: &str,
    external_ids: &[&str],
) -> Result<Vec<(String, String)>, DbError> {
    let mut found = Vec::new();
    for chunk in external_ids.chunks(500) {
        let placeholders: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 3)).collect();
        let query = format!(
            "select e.external_id, coalesce(m.merged_into, m.id)
             from member_external_ids e
             join members m on m.tenant_id = e.tenant_id and m.id = e.member_id
             where e.tenant_id = $1 and e.system = $2 and e.external_id in ({})",
            placeholders.join(", ")
        );
        let mut params: Vec<Value<'_>> = vec![tenant_id.into(), system.into()];
        params.extend(chunk.iter().map(|v| Value::from(*v)));
        for row in sql.query(&query, &params)? {
            found.push((row.at(0)?, row.at(1)?));
        }
    }
    Ok(found)
}
