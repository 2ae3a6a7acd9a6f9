//! Answers to the behaviour questions of bonus rules (`core::rules::Behaviour`): did the member
//! buy (or use a voucher) as the block says, before the order being judged? The store finds the
//! first matching time; a block holds when it is before the order. Only rules in force with
//! such blocks cost a query, one per distinct block.

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use loyalty_core::clock::to_millis;
use loyalty_core::earning;
use loyalty_core::member::Member;
use loyalty_core::rules::{Behaviour, BehaviourKind, EarnRule};
use loyalty_store::Sql;
use loyalty_store::repo::behaviour::{Question, first_times};

use crate::AppResult;
use crate::orders::buyer_of;

/// The buyer as the earning decision sees them, with the answers the rules in force at
/// `placed_at` ask for.
pub(crate) fn buyer_for(
    sql: &mut dyn Sql,
    tenant_id: &str,
    m: &Member,
    rules: &[EarnRule],
    placed_at: Timestamp,
    zone: &TimeZone,
) -> AppResult<earning::Buyer> {
    let mut buyer = buyer_of(m);
    let mut questions: Vec<Behaviour> = Vec::new();
    for rule in rules.iter().filter(|r| r.in_force(placed_at)) {
        for q in rule.condition.behaviours() {
            if !questions.contains(&q) {
                questions.push(q);
            }
        }
    }
    let before = to_millis(placed_at);
    for (q, first) in first_times_of(sql, tenant_id, &[m.id.as_str()], &questions, zone)? {
        let did = first.get(m.id.as_str()).is_some_and(|t| *t < before);
        buyer.behaviour.insert(q, did);
    }
    Ok(buyer)
}

/// Each question with the first matching time of each of `member_ids` who has one.
pub(crate) fn first_times_of(
    sql: &mut dyn Sql,
    tenant_id: &str,
    member_ids: &[&str],
    questions: &[Behaviour],
    zone: &TimeZone,
) -> AppResult<Vec<(Behaviour, HashMap<String, i64>)>> {
    let mut out = Vec::with_capacity(questions.len());
    for q in questions {
        let midnight = |d: Option<Date>| {
            d.and_then(|d| d.to_zoned_datetime(zone.clone()).ok())
                .map(|z| to_millis(z.timestamp()))
        };
        let asked = Question {
            voucher: q.kind == BehaviourKind::UsedVoucher,
            from_ms: midnight(q.from),
            to_ms: midnight(q.to),
            sku: q.sku.as_deref(),
            category: q.category.as_deref(),
            store: q.store.as_deref(),
            brand: q.brand.as_deref(),
        };
        out.push((q.clone(), first_times(sql, tenant_id, member_ids, &asked)?));
    }
    Ok(out)
}
