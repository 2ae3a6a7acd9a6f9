//! Brands (thương hiệu) and stores (cửa hàng / chi nhánh): the places orders come from.

use loyalty_core::Invalid;
use loyalty_core::geo::province_code;
use loyalty_core::id::new_id;
use loyalty_core::tenancy::{Access, Brand, Store, check_code};
use loyalty_store::repo::{brands, stores};
use loyalty_store::{Page, Paged, Sql};

use crate::activity::{Change, record, snapshot};
use crate::{App, AppError, AppResult, Ctx};

/// Fields of a brand; on update, `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct BrandInput {
    pub code: Option<String>,
    pub name: Option<String>,
}

/// Fields of a store; on update, `None` keeps the current value and `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct StoreInput {
    pub code: Option<String>,
    pub name: Option<String>,
    /// The brand's code.
    pub brand: Option<Option<String>>,
    pub province: Option<Option<String>>,
    pub district: Option<Option<String>>,
    pub address: Option<Option<String>>,
    pub active: Option<bool>,
}

fn optional_text(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

impl App {
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn create_brand(&self, ctx: &Ctx, input: BrandInput) -> AppResult<Brand> {
        ctx.require(Access::Admin)?;
        let mut errors = Invalid::default();
        let code = match input.code {
            Some(code) => errors.check("code", check_code(&code)),
            None => {
                errors.required("code");
                None
            }
        };
        let name = errors.label("name", input.name.as_deref().unwrap_or(""));
        let code = errors.into_result(|| code.expect("checked"))?;
        let now = self.now();
        let brand = Brand {
            id: new_id("brd"),
            code,
            name,
            created_at: now,
            updated_at: now,
        };
        let ctx2 = ctx.clone();
        self.db
            .write(move |sql| {
                ensure_brand_code_free(sql, &ctx2.tenant_id, &brand.code, None)?;
                brands::insert(sql, &ctx2.tenant_id, &brand)?;
                let change = Change {
                    entity: "brand",
                    id: &brand.id,
                    action: "create",
                };
                record(sql, &ctx2, now, change, None, snapshot(&brand))?;
                Ok(brand.clone())
            })
            .await
    }

    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, id = %id))]
    pub async fn update_brand(&self, ctx: &Ctx, id: String, input: BrandInput) -> AppResult<Brand> {
        ctx.require(Access::Admin)?;
        let mut errors = Invalid::default();
        let code = input
            .code
            .and_then(|c| errors.check("code", check_code(&c)));
        let name = input.name.map(|n| errors.label("name", &n));
        if !errors.is_empty() {
            return Err(errors.into());
        }
        let now = self.now();
        let ctx2 = ctx.clone();
        self.db
            .write(move |sql| {
                let before = brands::get(sql, &ctx2.tenant_id, &id)?
                    .ok_or(AppError::NotFound { entity: "brand" })?;
                let mut after = before.clone();
                if let Some(code) = &code {
                    after.code = code.clone();
                }
                if let Some(name) = &name {
                    after.name = name.clone();
                }
                if after == before {
                    return Ok(before);
                }
                ensure_brand_code_free(sql, &ctx2.tenant_id, &after.code, Some(&id))?;
                after.updated_at = now;
                brands::update(sql, &ctx2.tenant_id, &after)?;
                let change = Change {
                    entity: "brand",
                    id: &id,
                    action: "update",
                };
                record(sql, &ctx2, now, change, snapshot(&before), snapshot(&after))?;
                Ok(after)
            })
            .await
    }

    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, id = %id))]
    pub async fn brand(&self, ctx: &Ctx, id: String) -> AppResult<Brand> {
        ctx.require(Access::Read)?;
        let tenant_id = ctx.tenant_id.clone();
        self.db
            .read(move |sql| brands::get(sql, &tenant_id, &id))
            .await?
            .ok_or(AppError::NotFound { entity: "brand" })
    }

    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn brands(&self, ctx: &Ctx, page: Page) -> AppResult<Paged<Brand>> {
        ctx.require(Access::Read)?;
        let tenant_id = ctx.tenant_id.clone();
        Ok(self
            .db
            .read(move |sql| brands::list(sql, &tenant_id, &page))
            .await?)
    }

    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn create_store(&self, ctx: &Ctx, input: StoreInput) -> AppResult<Store> {
        ctx.require(Access::Admin)?;
        let now = self.now();
        let blank = Store {
            id: new_id("sto"),
            code: String::new(),
            name: String::new(),
            brand_id: None,
            brand: None,
            province: None,
            province_code: None,
            district: None,
            address: None,
            active: true,
            created_at: now,
            updated_at: now,
        };
        let mut errors = Invalid::default();
        if input.code.is_none() {
            errors.required("code");
        }
        if input.name.is_none() {
            errors.required("name");
        }
        let (store, brand_code) = apply_store_input(blank, input, &mut errors);
        if !errors.is_empty() {
            return Err(errors.into());
        }
        let ctx2 = ctx.clone();
        self.db
            .write(move |sql| {
                let mut store = store.clone();
                resolve_brand(sql, &ctx2.tenant_id, &mut store, brand_code.as_ref())?;
                ensure_store_code_free(sql, &ctx2.tenant_id, &store.code, None)?;
                stores::insert(sql, &ctx2.tenant_id, &store)?;
                let change = Change {
                    entity: "store",
                    id: &store.id,
                    action: "create",
                };
                record(sql, &ctx2, now, change, None, snapshot(&store))?;
                Ok(store)
            })
            .await
    }

    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, id = %id))]
    pub async fn update_store(&self, ctx: &Ctx, id: String, input: StoreInput) -> AppResult<Store> {
        ctx.require(Access::Admin)?;
        let now = self.now();
        let ctx2 = ctx.clone();
        self.db
            .write(move |sql| {
                let before = stores::get(sql, &ctx2.tenant_id, &id)?
                    .ok_or(AppError::NotFound { entity: "store" })?;
                let mut errors = Invalid::default();
                let (mut after, brand_code) =
                    apply_store_input(before.clone(), input.clone(), &mut errors);
                if !errors.is_empty() {
                    return Err(errors.into());
                }
                resolve_brand(sql, &ctx2.tenant_id, &mut after, brand_code.as_ref())?;
                if after == before {
                    return Ok(before);
                }
                ensure_store_code_free(sql, &ctx2.tenant_id, &after.code, Some(&id))?;
                after.updated_at = now;
                stores::update(sql, &ctx2.tenant_id, &after)?;
                let change = Change {
                    entity: "store",
                    id: &id,
                    action: "update",
                };
                record(sql, &ctx2, now, change, snapshot(&before), snapshot(&after))?;
                Ok(after)
            })
            .await
    }

    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, id = %id))]
    pub async fn store(&self, ctx: &Ctx, id: String) -> AppResult<Store> {
        ctx.require(Access::Read)?;
        let tenant_id = ctx.tenant_id.clone();
        self.db
            .read(move |sql| stores::get(sql, &tenant_id, &id))
            .await?
            .ok_or(AppError::NotFound { entity: "store" })
    }

    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn stores(&self, ctx: &Ctx, page: Page) -> AppResult<Paged<Store>> {
        ctx.require(Access::Read)?;
        let tenant_id = ctx.tenant_id.clone();
        Ok(self
            .db
            .read(move |sql| stores::list(sql, &tenant_id, &page))
            .await?)
    }
}

/// Applies the given fields; returns the store and the brand code to resolve (`Some(None)`
/// detaches the brand).
fn apply_store_input(
    mut store: Store,
    input: StoreInput,
    errors: &mut Invalid,
) -> (Store, Option<Option<String>>) {
    if let Some(code) = input.code
        && let Some(code) = errors.check("code", check_code(&code))
    {
        store.code = code;
    }
    if let Some(name) = input.name {
        store.name = errors.label("name", &name);
    }
    if let Some(province) = input.province {
        store.province = optional_text(province);
        store.province_code = store
            .province
            .as_deref()
            .and_then(province_code)
            .map(str::to_string);
    }
    if let Some(district) = input.district {
        store.district = optional_text(district);
    }
    if let Some(address) = input.address {
        store.address = optional_text(address);
    }
    if let Some(active) = input.active {
        store.active = active;
    }
    (store, input.brand)
}

fn resolve_brand(
    sql: &mut dyn Sql,
    tenant_id: &str,
    store: &mut Store,
    brand_code: Option<&Option<String>>,
) -> AppResult<()> {
    match brand_code {
        None => {}
        Some(None) => {
            store.brand_id = None;
            store.brand = None;
        }
        Some(Some(code)) => {
            let brand = brands::by_code(sql, tenant_id, code.trim())?
                .ok_or_else(|| AppError::invalid("brand", format!("no brand with code {code}")))?;
            store.brand_id = Some(brand.id);
            store.brand = Some(brand.code);
        }
    }
    Ok(())
}

fn ensure_brand_code_free(
    sql: &mut dyn Sql,
    tenant_id: &str,
    code: &str,
    except: Option<&str>,
) -> AppResult<()> {
    match brands::by_code(sql, tenant_id, code)? {
        Some(other) if Some(other.id.as_str()) != except => Err(AppError::conflict(
            "duplicate",
            "code",
            format!("a brand with code {code} exists"),
        )),
        _ => Ok(()),
    }
}

fn ensure_store_code_free(
    sql: &mut dyn Sql,
    tenant_id: &str,
    code: &str,
    except: Option<&str>,
) -> AppResult<()> {
    match stores::by_code(sql, tenant_id, code)? {
        Some(other) if Some(other.as_str()) != except => Err(AppError::conflict(
            "duplicate",
            "code",
            format!("a store with code {code} exists"),
        )),
        _ => Ok(()),
    }
}
