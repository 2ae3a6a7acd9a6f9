//! The rows a member merge moves (API.md "Back office"), each table in one statement, in the
//! caller's transaction with both member rows locked. `core::merge` decides the two member
//! rows; this moves what hangs off them.

use crate::params;
use crate::sql::{DbError, Sql};

/// Tables whose rows simply change hands: the person's orders, ledger (lots and their takes
/// follow the entries), vouchers and their uses (per-member limits then count both records),
/// gifts and their consent history.
const MOVED: &[&str] = &[
    "orders",
    "ledger_entries",
    "vouchers",
    "voucher_redemptions",
    "reward_redemptions",
    "consent_history",
];

/// Moves what belongs to `from` onto `kept`. Messages and tier history stay with the record
/// they happened to (what was sent to that contact; how that record climbed).
pub fn move_records(
    sql: &mut dyn Sql,
    tenant_id: &str,
    from: &str,
    kept: &str,
    now_ms: i64,
) -> Result<(), DbError> {
    // A rule's per-member daily cap counts both records' points of the day.
    sql.execute(
        "update earn_rule_days
         set points = points + (
             select f.points from earn_rule_days f
             where f.tenant_id = earn_rule_days.tenant_id and f.rule_id = earn_rule_days.rule_id
               and f.day = earn_rule_days.day and f.member_id = $2)
         where tenant_id = $1 and member_id = $3 and exists (
             select 1 from earn_rule_days f
             where f.tenant_id = earn_rule_days.tenant_id and f.rule_id = earn_rule_days.rule_id
               and f.day = earn_rule_days.day and f.member_id = $2)",
        params![tenant_id, from, kept],
    )?;
    sql.execute(
        "delete from earn_rule_days
         where tenant_id = $1 and member_id = $2 and exists (
             select 1 from earn_rule_days k
             where k.tenant_id = earn_rule_days.tenant_id and k.rule_id = earn_rule_days.rule_id
               and k.day = earn_rule_days.day and k.member_id = $3)",
        params![tenant_id, from, kept],
    )?;
    sql.execute(
        "update earn_rule_days set member_id = $3 where tenant_id = $1 and member_id = $2",
        params![tenant_id, from, kept],
    )?;
    // A pending referral between the two records would become a member referring themselves,
    // and one whose friend already bought on the other record is no first purchase: both end
    // unrewarded (nothing was given while pending). Before the orders move.
    let reversed = "update referrals set status = 'reversed', reversed_at = $4
         where tenant_id = $1 and status = 'pending'
           and ((referrer_id = $2 and friend_id = $3) or (referrer_id = $3 and friend_id = $2)
             or (friend_id = $2 and exists (select 1 from orders o
                 where o.tenant_id = $1 and o.member_id = $3 and o.status <> 'cancelled'))
             or (friend_id = $3 and exists (select 1 from orders o
                 where o.tenant_id = $1 and o.member_id = $2 and o.status <> 'cancelled')))";
    sql.execute(reversed, params![tenant_id, from, kept, now_ms])?;
    for table in MOVED {
        sql.execute(
            &format!("update {table} set member_id = $3 where tenant_id = $1 and member_id = $2"),
            params![tenant_id, from, kept],
        )?;
    }
    // Friends the merged record brought are the kept one's; so is its own referral, unless the
    // kept record was referred too (one referral per friend).
    sql.execute(
        "update referrals set referrer_id = $3 where tenant_id = $1 and referrer_id = $2",
        params![tenant_id, from, kept],
    )?;
    sql.execute(
        "update referrals set friend_id = $3
         where tenant_id = $1 and friend_id = $2
           and not exists (select 1 from referrals r where r.tenant_id = $1 and r.friend_id = $3)",
        params![tenant_id, from, kept],
    )?;
    // A shared link with the merged record's code still works (its code leads to the kept
    // member); the kept record takes the code when it has none.
    sql.execute(
        "update referral_codes set member_id = $3
         where tenant_id = $1 and member_id = $2
           and not exists (select 1 from referral_codes c where c.tenant_id = $1 and c.member_id = $3)",
        params![tenant_id, from, kept],
    )?;
    // Merged records leave automations: their runs stop, their segment memberships go.
    sql.execute(
        "update automation_runs set status = 'stopped', next_at = null, updated_at = $3
         where tenant_id = $1 and member_id = $2 and status in ('waiting', 'running')",
        params![tenant_id, from, now_ms],
    )?;
    sql.execute(
        "delete from automation_segment_members where tenant_id = $1 and member_id = $2",
        params![tenant_id, from],
    )?;
    // Signed in as the merged record: sign in again, as the kept one.
    sql.execute(
        "delete from portal_sessions where tenant_id = $1 and member_id = $2",
        params![tenant_id, from],
    )?;
    Ok(())
}

/// Marks `from` merged into `kept`, and points any record merged into `from` earlier at `kept`
/// (look-ups then take one step).
pub fn mark_merged(
    sql: &mut dyn Sql,
    tenant_id: &str,
    from: &str,
    kept: &str,
) -> Result<(), DbError> {
    sql.execute(
        "update members set merged_into = $3
         where tenant_id = $1 and (id = $2 or merged_into = $2)",
        params![tenant_id, from, kept],
    )?;
    Ok(())
}

/// A pair of records that may be one person, and why (API.md: `same_name_birthday`,
/// `same_name_phone_suffix`, `email_variant`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    pub a: String,
    pub b: String,
    pub reason: &'static str,
}

/// Up to `limit` suggested pairs of each reason, merged records left out. Each reason is one
/// self-join the database answers with a hash join, never the members in memory.
pub fn duplicates(
    sql: &mut dyn Sql,
    tenant_id: &str,
    limit: i64,
) -> Result<Vec<Suggestion>, DbError> {
    // The e-mail with the local part's dots and `+tag` ignored.
    let email_key = |t: &str| {
        match sql.backend() {
        crate::Backend::Postgres => format!(
            "replace(split_part(split_part(lower({t}.email), '@', 1), '+', 1), '.', '')
             || '@' || split_part(lower({t}.email), '@', 2)"
        ),
        crate::Backend::Sqlite => format!(
            "replace(case when instr(substr(lower({t}.email), 1, instr({t}.email, '@') - 1), '+') > 0
                 then substr(lower({t}.email), 1, instr({t}.email, '+') - 1)
                 else substr(lower({t}.email), 1, instr({t}.email, '@') - 1) end, '.', '')
             || substr(lower({t}.email), instr({t}.email, '@'))"
        ),
    }
    };
    let reasons = [
        (
            "same_name_birthday",
            "a.name is not null and a.birthday is not null
             and lower(b.name) = lower(a.name) and b.birthday = a.birthday"
                .to_string(),
        ),
        (
            "same_name_phone_suffix",
            "a.name is not null and a.phone is not null and b.phone is not null
             and lower(b.name) = lower(a.name)
             and substr(b.phone, length(b.phone) - 5) = substr(a.phone, length(a.phone) - 5)"
                .to_string(),
        ),
        (
            "email_variant",
            format!(
                "a.email is not null and b.email is not null and {} = {}",
                email_key("a"),
                email_key("b")
            ),
        ),
    ];
    let mut found = Vec::new();
    for (reason, condition) in reasons {
        let rows = sql.query(
            &format!(
                "select a.id as a, b.id as b from members a
                 join members b on b.tenant_id = a.tenant_id and b.id > a.id
                 where a.tenant_id = $1 and a.status <> 'merged' and b.status <> 'merged'
                   and {condition}
                 order by a.id, b.id limit $2"
            ),
            params![tenant_id, limit],
        )?;
        for row in rows {
            found.push(Suggestion {
                a: row.get("a")?,
                b: row.get("b")?,
                reason,
            });
        }
    }
    Ok(found)
}
