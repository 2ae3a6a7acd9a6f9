//! The activity log (nhật ký hoạt động): append-only, written in the same transaction as the
//! change it describes, so the log and the data can never disagree.

use loyalty_core::tenancy::{Actor, ActorKind};
use serde_json::Value as Json;

use super::{ms, ts};
use crate::params;
use crate::sql::{DbError, Row, Sql, Value};
use crate::{Page, Paged};
pub use loyalty_core::records::Activity;
pub use loyalty_core::records::ActivityFilter;

pub fn record(sql: &mut dyn Sql, tenant_id: &str, a: &Activity) -> Result<(), DbError> {
    sql.defer(
        "insert into activity_log (tenant_id, id, at, actor_kind, actor_id, actor_name, entity,
            entity_id, action, before_data, after_data)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        params![
            tenant_id,
            &a.id,
            ms(a.at),
            a.actor.kind.as_str(),
            &a.actor.id,
            &a.actor.name,
            &a.entity,
            &a.entity_id,
            &a.action,
            a.before.as_ref().map(Json::to_string),
            a.after.as_ref().map(Json::to_string)
        ],
    )?;
    Ok(())
}

/// Newest first; the cursor continues towards older entries.
pub fn list(
    sql: &mut dyn Sql,
    tenant_id: &str,
    filter: &ActivityFilter,
    page: &Page,
) -> Result<Paged<Activity>, DbError> {
    let mut query = String::from(
        "select id, at, actor_kind, actor_id, actor_name, entity, entity_id, action, before_data, after_data
         from activity_log
         where tenant_id = $1",
    );
    let mut values: Vec<Value<'_>> = vec![tenant_id.into()];
    let mut add = |query: &mut String, condition: &str, value: Value<'static>| {
        values.push(value);
        query.push_str(&format!(" and {condition} ${}", values.len()));
    };
    if let Some(after) = &page.after {
        add(&mut query, "id <", after.clone().into());
    }
    if let Some(entity) = &filter.entity {
        add(&mut query, "entity =", entity.clone().into());
    }
    if let Some(entity_id) = &filter.entity_id {
        add(&mut query, "entity_id =", entity_id.clone().into());
    }
    if let Some(actor) = &filter.actor {
        match ActorKind::parse(actor) {
            Some(kind) => add(&mut query, "actor_kind =", kind.as_str().into()),
            None => add(&mut query, "actor_id =", actor.clone().into()),
        }
    }
    if let Some(from) = filter.from {
        add(&mut query, "at >=", ms(from).into());
    }
    if let Some(to) = filter.to {
        add(&mut query, "at <", ms(to).into());
    }
    values.push((page.limit + 1).into());
    query.push_str(&format!(" order by id desc limit ${}", values.len()));
    let rows = sql.query(&query, &values)?;
    let entries = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    Ok(Paged::from_rows(entries, page.limit, |a| &a.id))
}

fn from_row(row: &Row) -> Result<Activity, DbError> {
    let kind: String = row.get("actor_kind")?;
    let parse = |column: &str| -> Result<Option<Json>, DbError> {
        row.get::<Option<String>>(column)?
            .map(|text| serde_json::from_str(&text).map_err(|e| DbError::Decode(e.to_string())))
            .transpose()
    };
    Ok(Activity {
        id: row.get("id")?,
        at: ts(row, "at")?,
        actor: Actor {
            kind: ActorKind::parse(&kind)
                .ok_or_else(|| DbError::Decode(format!("unknown actor kind {kind}")))?,
            id: row.get("actor_id")?,
            name: row.get("actor_name")?,
        },
        entity: row.get("entity")?,
        entity_id: row.get("entity_id")?,
        action: row.get("action")?,
        before: parse("before_data")?,
        after: parse("after_data")?,
    })
}
