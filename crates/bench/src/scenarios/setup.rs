//! Data the scenarios start from: a tenant and its members, made quickly.

use std::sync::Arc;

use loyalty_app::tenants::NewTenant;
use loyalty_app::{App, Ctx};
use loyalty_demo::generate::Generator;
use loyalty_demo::seed::profile;
use tokio::task::JoinSet;

pub struct Shop {
    pub ctx: Ctx,
    pub api_key: String,
    /// (member id, phone as a till would type it)
    pub members: Vec<(String, String)>,
}

/// A tenant with `members` members created through the real use-case, many at a time.
pub async fn shop(app: &App, members: usize) -> anyhow::Result<Shop> {
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
    let mut generator = Generator::new(4);
    let people = Arc::new(
        (0..members)
            .map(|i| generator.person(i))
            .collect::<Vec<_>>(),
    );
    let mut ids = vec![(String::new(), String::new()); members];
    let mut tasks = JoinSet::new();
    let (mut next, mut done) = (0, 0);
    while done < members {
        while next < members && tasks.len() < 256 {
            let (app, ctx, people, i) = (app.clone(), ctx.clone(), people.clone(), next);
            tasks.spawn(async move {
                let member = app
                    .create_member(&ctx, profile(&people[i]), Some("bench".into()))
                    .await;
                (i, member.map(|m| m.id), people[i].phone.clone())
            });
            next += 1;
        }
        if let Some(joined) = tasks.join_next().await {
            let (i, id, phone) = joined?;
            ids[i] = (id.map_err(|e| anyhow::anyhow!("{e}"))?, phone);
            done += 1;
        }
    }
    Ok(Shop {
        ctx,
        api_key: created.api_key,
        members: ids,
    })
}
