//! The consent history: appended in the transaction of each consent change.

use loyalty_core::consent::{ConsentChange, ConsentSource};
use loyalty_core::tenancy::{Actor, ActorKind};

use super::{ms, ts};
use crate::params;
use crate::sql::{DbError, Row, Sql, Value, row_placeholders};
use crate::{Page, Paged};

/// Appends the entries, many to a statement.
pub fn record(
    sql: &mut dyn Sql,
    tenant_id: &str,
    changes: &[ConsentChange],
) -> Result<(), DbError> {
    for chunk in changes.chunks(50) {
        let mut values: Vec<Value<'_>> = Vec::with_capacity(chunk.len() * 10);
        let mut rows = Vec::with_capacity(chunk.len());
        for (i, c) in chunk.iter().enumerate() {
            values.extend([
                tenant_id.into(),
                c.id.as_str().into(),
                c.member_id.as_str().into(),
                c.channel.as_str().into(),
                c.granted.into(),
                c.source.as_str().into(),
                c.actor.kind.as_str().into(),
                c.actor.id.as_deref().into(),
                c.actor.name.as_deref().into(),
                ms(c.at).into(),
            ]);
            rows.push(row_placeholders(i, 10, 1));
        }
        sql.execute(
            &format!(
                "insert into consent_history (tenant_id, id, member_id, channel, granted, source,
                     actor_kind, actor_id, actor_name, at)
                 values {}",
                rows.join(", ")
            ),
            &values,
        )?;
    }
    Ok(())
}

/// A member's history, newest first; the cursor continues towards older entries.
pub fn list(
    sql: &mut dyn Sql,
    tenant_id: &str,
    member_id: &str,
    page: &Page,
) -> Result<Paged<ConsentChange>, DbError> {
    let rows = sql.query(
        "select id, member_id, channel, granted, source, actor_kind, actor_id, actor_name, at
         from consent_history
         where tenant_id = $1 and member_id = $2 and id < $3
         order by id desc limit $4",
        params![
            tenant_id,
            member_id,
            page.after.as_deref().unwrap_or("\u{10FFFF}"),
            page.limit + 1
        ],
    )?;
    let entries = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    Ok(Paged::from_rows(entries, page.limit, |c| &c.id))
}

fn from_row(row: &Row) -> Result<ConsentChange, DbError> {
    let (kind, source): (String, String) = (row.get("actor_kind")?, row.get("source")?);
    Ok(ConsentChange {
        id: row.get("id")?,
        member_id: row.get("member_id")?,
        channel: row.get("channel")?,
        granted: row.get("granted")?,
        source: ConsentSource::parse(&source)
            .ok_or_else(|| DbError::Decode(format!("consent source {source}")))?,
        actor: Actor {
            kind: ActorKind::parse(&kind)
                .ok_or_else(|| DbError::Decode(format!("unknown actor kind {kind}")))?,
            id: row.get("actor_id")?,
            name: row.get("actor_name")?,
        },
        at: ts(row, "at")?,
    })
}

/// For each of the members, the channels whose consent was last withdrawn through an
/// unsubscribe link (API.md's `unsubscribed` reason, as against `no_consent`).
pub fn unsubscribed(
    sql: &mut dyn Sql,
    tenant_id: &str,
    member_ids: &[&str],
) -> Result<std::collections::HashMap<String, Vec<String>>, DbError> {
    let mut last: std::collections::HashMap<(String, String), (String, bool, String)> =
        std::collections::HashMap::new();
    for chunk in member_ids.chunks(400) {
        let mut values = Vec::new();
        let list = super::rows_in(sql.backend(), &mut values, &[tenant_id], chunk);
        let rows = sql.query(
            &format!(
                "select member_id, channel, id, granted, source from consent_history
                 where (tenant_id, member_id) in ({list})"
            ),
            &values,
        )?;
        for row in rows {
            let key = (
                row.get::<String>("member_id")?,
                row.get::<String>("channel")?,
            );
            let entry = (
                row.get::<String>("id")?,
                row.get::<bool>("granted")?,
                row.get::<String>("source")?,
            );
            if last.get(&key).is_none_or(|seen| seen.0 < entry.0) {
                last.insert(key, entry);
            }
        }
    }
    let mut out: std::collections::HashMap<String, Vec<String>> = Default::default();
    for ((member, channel), (_, granted, source)) in last {
        if !granted && source == "unsubscribe" {
            out.entry(member).or_default().push(channel);
        }
    }
    Ok(out)
}
