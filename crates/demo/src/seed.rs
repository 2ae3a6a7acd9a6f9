//! The demo tenant: a café chain and a fashion shop with a year of customers and orders, built
//! through the same use-cases the API calls, so everything it shows is real.

use loyalty_core::input::member::{ConsentIn, MemberIn};
use std::sync::Arc;

use jiff::tz::TimeZone;
use loyalty_app::catalog::{BrandInput, StoreInput};
use loyalty_app::rules::RuleInput;
use loyalty_app::tenants::NewTenant;
use loyalty_app::{App, AppError, Ctx};
use loyalty_core::birthday::Birthday;
use loyalty_core::email::Email;
use loyalty_core::member::{Consent, Profile};
use loyalty_core::order::{CustomerInput, LineInput, OrderInput};
use loyalty_core::phone::Phone;
use serde_json::json;
use tokio::task::JoinSet;

use crate::generate::{GenOrder, Generator, Person};
use crate::words::BRANDS;

#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub members: usize,
    pub seed: u64,
    /// How far back the order history goes.
    pub days: i64,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            members: 2_000,
            seed: 2026,
            days: 365,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Demo {
    pub tenant_id: String,
    pub api_key: String,
    pub owner_email: String,
    pub owner_password: String,
    pub members: usize,
    pub orders: usize,
}

/// How many actions run at once while loading: enough to fill the engine's groups.
const PARALLEL: usize = 64;

/// Creates the demo tenant. `progress(stage, done, total)` is called as work completes.
pub async fn create_demo(
    app: &App,
    options: &DemoOptions,
    progress: impl Fn(&str, usize, usize),
) -> anyhow::Result<Demo> {
    let owner_email = "demo@loyalty.local".to_string();
    let owner_password = format!(
        "demo-{}",
        loyalty_core::code::random_code(10).to_lowercase()
    );
    let created = app
        .create_tenant(NewTenant {
            name: "Cà Phê Sáng & Thời Trang Mộc (demo)".to_string(),
            owner_email: owner_email.clone(),
            owner_password: owner_password.clone(),
            timezone: None,
        })
        .await
        .map_err(anyhow_app)?;
    let ctx = Ctx::cli(&created.tenant.id);
    let zone = TimeZone::get(&created.tenant.timezone)?;
    catalog(app, &ctx).await?;
    rules(app, &ctx).await?;
    tiers(app, &ctx).await?;
    vouchers_and_rewards(app, &ctx).await?;

    let mut generator = Generator::new(options.seed);
    let people: Vec<Person> = (0..options.members).map(|i| generator.person(i)).collect();
    let now = app.now();
    let mut orders: Vec<(usize, GenOrder)> = Vec::new();
    for (i, person) in people.iter().enumerate() {
        orders.extend(
            generator
                .orders(person, now, options.days, &zone)
                .into_iter()
                .map(|o| (i, o)),
        );
    }
    orders.sort_by_key(|(_, o)| o.placed_at);

    let people = Arc::new(people);
    let mut ids = vec![String::new(); people.len()];
    let mut tasks = JoinSet::new();
    let mut next = 0;
    let mut done = 0;
    while done < people.len() {
        while next < people.len() && tasks.len() < PARALLEL {
            let (app, ctx, people, i) = (app.clone(), ctx.clone(), people.clone(), next);
            tasks
                .spawn(async move { (i, app.create_member(&ctx, member_input(&people[i])).await) });
            next += 1;
        }
        if let Some(joined) = tasks.join_next().await {
            let (i, member) = joined?;
            ids[i] = member.map_err(anyhow_app)?.id.to_string();
            done += 1;
            if done % 500 == 0 || done == people.len() {
                progress("members", done, people.len());
            }
        }
    }

    let ids = Arc::new(ids);
    let orders = Arc::new(orders);
    let (mut next, mut done) = (0, 0);
    let mut tasks = JoinSet::new();
    while done < orders.len() {
        while next < orders.len() && tasks.len() < PARALLEL {
            let (app, ctx, orders, ids, n) =
                (app.clone(), ctx.clone(), orders.clone(), ids.clone(), next);
            tasks.spawn(async move {
                let (who, order) = &orders[n];
                let input = order_input(n, &ids[*who], order);
                let result = app
                    .post_order(&ctx, input)
                    .await
                    .map(drop::<loyalty_app::orders::Posted>);
                (n, result)
            });
            next += 1;
        }
        if let Some(joined) = tasks.join_next().await {
            let (_, posted) = joined?;
            posted.map_err(anyhow_app)?;
            done += 1;
            if done % 1_000 == 0 || done == orders.len() {
                progress("orders", done, orders.len());
            }
        }
    }
    // Score RFM now so segments by class work straight away, not after the first nightly job.
    app.score_rfm_for(&created.tenant.id)
        .await
        .map_err(anyhow_app)?;

    Ok(Demo {
        tenant_id: created.tenant.id.to_string(),
        api_key: created.api_key,
        owner_email,
        owner_password,
        members: people.len(),
        orders: orders.len(),
    })
}

fn anyhow_app(error: AppError) -> anyhow::Error {
    anyhow::anyhow!("{error}")
}

/// The profile a generated person registers with.
pub fn profile(p: &Person) -> Profile {
    Profile {
        phone: Phone::parse(&p.phone).ok(),
        email: p.email.as_deref().and_then(|e| Email::parse(e).ok()),
        name: Some(p.name.clone()),
        gender: Some(if p.female {
            loyalty_core::member::Gender::Female
        } else {
            loyalty_core::member::Gender::Male
        }),
        birthday: p.birthday.as_deref().and_then(Birthday::from_stored),
        province: Some(p.province.clone()),
        district: Some(p.district.clone()),
        address: None,
        tags: p.tags.clone(),
        attributes: serde_json::Map::new(),
        consent: Consent {
            email: p.consent_email,
            sms: p.consent_sms,
            zalo: p.consent_zalo,
        },
        external_ids: Default::default(),
    }
}

/// What a client would send to enrol a generated person.
pub fn member_input(p: &Person) -> MemberIn {
    MemberIn {
        phone: Some(p.phone.clone()),
        email: p.email.clone(),
        name: Some(p.name.clone()),
        gender: Some(if p.female {
            loyalty_core::member::Gender::Female
        } else {
            loyalty_core::member::Gender::Male
        }),
        birthday: p.birthday.clone(),
        province: Some(p.province.clone()),
        district: Some(p.district.clone()),
        tags: Some(p.tags.clone()),
        consent: Some(ConsentIn {
            email: Some(p.consent_email),
            sms: Some(p.consent_sms),
            zalo: Some(p.consent_zalo),
        }),
        source: Some("import".into()),
        ..MemberIn::default()
    }
}

/// The order a till would post for a generated order.
pub fn order_input(n: usize, member_id: &str, order: &GenOrder) -> OrderInput {
    OrderInput {
        source: "pos".to_string(),
        external_id: format!("{}-{n:07}", order.store),
        member_id: Some(member_id.to_string()),
        customer: None::<CustomerInput>,
        brand: Some(order.brand.code.to_string()),
        store: Some(order.store.to_string()),
        channel: Some(
            if order.store.ends_with("WEB") {
                "web"
            } else {
                "pos"
            }
            .to_string(),
        ),
        placed_at: Some(order.placed_at.to_string()),
        currency: Some("VND".to_string()),
        lines: order
            .lines
            .iter()
            .map(|l| LineInput {
                sku: Some(l.product.sku.to_string()),
                name: Some(l.product.name.to_string()),
                category: Some(l.product.category.to_string()),
                quantity: l.quantity,
                unit_price: l.product.price,
            })
            .collect(),
        discount: 0,
        shipping: 0,
        total: order.total(),
        vouchers: Vec::new(),
        points_redeemed: 0,
    }
}

async fn catalog(app: &App, ctx: &Ctx) -> anyhow::Result<()> {
    for brand in BRANDS {
        app.create_brand(
            ctx,
            BrandInput {
                code: Some(brand.code.into()),
                name: Some(brand.name.into()),
            },
        )
        .await
        .map_err(anyhow_app)?;
        for (code, name, province, district) in brand.stores {
            let store = StoreInput {
                code: Some(code.to_string()),
                name: Some(name.to_string()),
                brand: Some(Some(brand.code.to_string())),
                province: Some(Some(province.to_string())),
                district: Some(Some(district.to_string())),
                address: None,
                active: Some(true),
            };
            app.create_store(ctx, store).await.map_err(anyhow_app)?;
        }
    }
    Ok(())
}

/// Đồng, Bạc, Vàng, Bạch Kim on a year's spend.
async fn tiers(app: &App, ctx: &Ctx) -> anyhow::Result<()> {
    use loyalty_app::tiers::TierInput;
    use loyalty_core::tier::BrandDiscount;
    let ladder = [
        ("Đồng", 1, 0, 1.0, 0, None),
        ("Bạc", 2, 2_000_000, 1.2, 3, None),
        ("Vàng", 3, 5_000_000, 1.5, 5, Some(10)),
        ("Bạch Kim", 4, 15_000_000, 2.0, 10, Some(15)),
    ];
    for (name, rank, threshold, multiplier, discount, cafe) in ladder {
        let input = TierInput {
            name: Some(name.to_string()),
            rank: Some(rank),
            threshold: Some(threshold),
            earn_multiplier: Some(multiplier),
            discount_percent: Some(discount),
            brand_discounts: Some(
                cafe.map(|d| {
                    vec![BrandDiscount {
                        brand: "cafe".into(),
                        discount_percent: d,
                    }]
                })
                .unwrap_or_default(),
            ),
        };
        app.create_tier(ctx, input).await.map_err(anyhow_app)?;
    }
    Ok(())
}

/// A welcome code, a Tết campaign with unique codes, and a small rewards catalogue.
async fn vouchers_and_rewards(app: &App, ctx: &Ctx) -> anyhow::Result<()> {
    use loyalty_app::rewards::RewardInput;
    use loyalty_app::vouchers::ProgramInput;
    use loyalty_core::voucher::{CodeKind, Limits, VoucherType};
    let now = app.now();
    let welcome = ProgramInput {
        name: Some("Chào bạn mới".into()),
        kind: Some(VoucherType::Fixed),
        value: Some(20_000),
        min_order: Some(50_000),
        limits: Some(Limits {
            total_uses: Some(1_000),
            uses_per_member: Some(1),
        }),
        code_kind: Some(CodeKind::Shared),
        code: Some("CHAOBANMOI".into()),
        ..ProgramInput::default()
    };
    app.create_voucher_program(ctx, welcome)
        .await
        .map_err(anyhow_app)?;
    let tet = ProgramInput {
        name: Some("Tết 2027".into()),
        kind: Some(VoucherType::Percent),
        value: Some(10),
        max_discount: Some(Some(50_000)),
        min_order: Some(100_000),
        valid_until: Some(Some(now + jiff::SignedDuration::from_hours(24 * 90))),
        limits: Some(Limits {
            total_uses: None,
            uses_per_member: Some(1),
        }),
        code_kind: Some(CodeKind::Unique),
        prefix: Some("TET-".into()),
        length: Some(8),
        ..ProgramInput::default()
    };
    let tet = app
        .create_voucher_program(ctx, tet)
        .await
        .map_err(anyhow_app)?;
    app.generate_codes(ctx, tet.id.clone(), 200, None)
        .await
        .map_err(anyhow_app)?;
    let points_voucher = ProgramInput {
        name: Some("Đổi điểm 50.000 ₫".into()),
        kind: Some(VoucherType::Fixed),
        value: Some(50_000),
        code_kind: Some(CodeKind::Unique),
        prefix: Some("DD-".into()),
        length: Some(8),
        ..ProgramInput::default()
    };
    let points_voucher = app
        .create_voucher_program(ctx, points_voucher)
        .await
        .map_err(anyhow_app)?;
    app.create_reward(
        ctx,
        RewardInput {
            name: Some("Phiếu giảm 50.000 ₫".into()),
            points_cost: Some(100),
            kind: Some("voucher".into()),
            voucher_program_id: Some(Some(points_voucher.id.to_string())),
            ..RewardInput::default()
        },
    )
    .await
    .map_err(anyhow_app)?;
    app.create_reward(
        ctx,
        RewardInput {
            name: Some("Ly sứ Cà Phê Sáng".into()),
            points_cost: Some(300),
            kind: Some("gift".into()),
            stock: Some(Some(50)),
            per_member_limit: Some(Some(1)),
            ..RewardInput::default()
        },
    )
    .await
    .map_err(anyhow_app)?;
    Ok(())
}

async fn rules(app: &App, ctx: &Ctx) -> anyhow::Result<()> {
    let rules = [
        (
            "Sinh nhật x2",
            json!({"field": "member.birthday", "op": "is_today"}),
            json!({"multiplier": 2}),
            json!({"per_member_per_day": 500}),
        ),
        (
            "Lì xì đầu năm",
            json!({"field": "order.lunar_date", "op": "between", "value": ["01-01", "01-05"]}),
            json!({"bonus_points": 20}),
            json!({"budget_points": 200000}),
        ),
        (
            "Cuối tuần vui vẻ",
            json!({"all": [{"field": "order.weekday", "op": "in", "value": [6, 7]}, {"field": "order.total", "op": ">=", "value": 100000}]}),
            json!({"bonus_points": 5}),
            json!({}),
        ),
        (
            "Thêm bánh thêm điểm",
            json!({"field": "line.category", "op": "=", "value": "bánh"}),
            json!({"points_per_item": 2}),
            json!({"per_order": 20}),
        ),
    ];
    for (name, conditions, effect, caps) in rules {
        let input = RuleInput {
            name: Some(name.to_string()),
            active: Some(true),
            starts_at: None,
            ends_at: None,
            conditions: Some(conditions),
            effect: Some(effect),
            caps: Some(serde_json::from_value(caps)?),
        };
        app.create_earn_rule(ctx, input).await.map_err(anyhow_app)?;
    }
    Ok(())
}
