//! Data the scenarios start from: a tenant and its members, made quickly.

use loyalty_app::tenants::NewTenant;
use loyalty_app::{App, Ctx};
use loyalty_core::member::{Member, MemberStatus};
use loyalty_demo::generate::Generator;
use loyalty_demo::seed::profile;

pub struct Shop {
    pub ctx: Ctx,
    pub api_key: String,
    /// (member id, phone as a till would type it)
    pub members: Vec<(String, String)>,
}

/// A tenant with `members` members created through the real use-case, many at a time.
pub async fn shop(app: &App, members: usize) -> anyhow::Result<Shop> {
    populate(app, members, true).await
}

/// The same shop without the list of its members in memory (a scenario that measures memory
/// and never names a member).
pub async fn shop_unlisted(app: &App, members: usize) -> anyhow::Result<Shop> {
    populate(app, members, false).await
}

async fn populate(app: &App, members: usize, listed: bool) -> anyhow::Result<Shop> {
    let created = app
        .create_tenant(NewTenant {
            name: "Bench Café".into(),
            owner_email: "bench@loyalty.local".into(),
            owner_password: "bench-password".into(),
            timezone: None,
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let ctx = Ctx::cli(&created.tenant.id);
    // Members go in with multi-row inserts, a few thousand per transaction: the benchmarks
    // measure their scenario, not the set-up.
    let mut generator = Generator::new(4);
    let now = app.now();
    let mut ids = Vec::with_capacity(if listed { members } else { 0 });
    let mut start = 0;
    while start < members {
        let end = (start + 5_000).min(members);
        let batch: Vec<Member> = (start..end)
            .map(|i| {
                let person = generator.person(i);
                let member = Member {
                    member_since: Some(now),
                    ..Member::new(
                        format!("B{i:07}"),
                        MemberStatus::Member,
                        profile(&person),
                        Some("bench".into()),
                        now,
                    )
                };
                if listed {
                    ids.push((member.id.to_string(), person.phone.clone()));
                }
                member
            })
            .collect();
        let tenant_id = ctx.tenant_id.clone();
        app.db()
            .write(move |sql| loyalty_store::repo::members::insert_many(sql, &tenant_id, &batch))
            .await?;
        start = end;
    }
    Ok(Shop {
        ctx,
        api_key: created.api_key,
        members: ids,
    })
}
