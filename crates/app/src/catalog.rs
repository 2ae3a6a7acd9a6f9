//! Brands (thương hiệu) and stores (cửa hàng / chi nhánh): the places orders come from.

use loyalty_core::id::new_id;
use loyalty_core::input::catalog::BrandFields;
use loyalty_core::tenancy::{Access, Brand, Store};
use loyalty_store::repo::{brands, stores};
use loyalty_store::{Page, Paged, Sql};

use crate::activity::{Change, record, snapshot};
use crate::{App, AppError, AppResult, Ctx};

pub use loyalty_core::input::catalog::{BrandInput, StoreInput};

impl App {
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn create_brand(&self, ctx: &Ctx, input: BrandInput) -> AppResult<Brand> {
        ctx.require(Access::Admin)?;
        let (code, name) = input.validate_new()?;
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
        let BrandFields { code, name } = input.validate_change()?;
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
        let (store, brand_code) = input.validate_new(blank)?;
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
                let (mut after, brand_code) = input.clone().validate_change(before.clone())?;
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
            let brand = brands::by_code(sql, tenant_id, code.trim())?.ok_or_else(|| {
                AppError::invalid(
                    "brand",
                    "brand.not_found",
                    format!("no brand with code {code}"),
                )
            })?;
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
