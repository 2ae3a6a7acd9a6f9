//! The product catalogue in the back office: listed and searched, and edited (name, category,
//! brand, price; the SKU stays, as orders name it). An order line with only a SKU takes the
//! category kept here (`order_lines`), so rules and segments by category see it.

use loyalty_core::history::ProductRow;
use loyalty_core::input::catalog::ProductInput;
use loyalty_core::tenancy::Access;
use loyalty_store::repo::products;

use crate::activity::{Change, record};
use crate::{App, AppError, AppResult, Ctx};

/// Products per page of the list.
pub const PRODUCTS_PAGE: i64 = 100;

impl App {
    /// A page of the catalogue in SKU order after `after`, matching `q` in the SKU or name.
    pub async fn products(
        &self,
        ctx: &Ctx,
        q: Option<String>,
        after: String,
    ) -> AppResult<Vec<(ProductRow, jiff::Timestamp)>> {
        ctx.require(Access::Read)?;
        let tenant = ctx.tenant_id.clone();
        Ok(self
            .db
            .read(move |sql| products::list(sql, &tenant, q.as_deref(), &after, PRODUCTS_PAGE))
            .await?)
    }

    /// Changes a product, with its activity entry.
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, sku = %sku))]
    pub async fn update_product(
        &self,
        ctx: &Ctx,
        sku: String,
        input: ProductInput,
    ) -> AppResult<ProductRow> {
        ctx.require(Access::Admin)?;
        let after = input.validate(&sku)?;
        let now = self.now();
        let ctx2 = ctx.clone();
        self.db
            .write(move |sql| {
                let before = products::get(sql, &ctx2.tenant_id, &sku)?
                    .ok_or(AppError::NotFound { entity: "product" })?
                    .0;
                if before == after {
                    return Ok(after.clone());
                }
                products::update(sql, &ctx2.tenant_id, &after, now)?;
                let change = Change {
                    entity: "product",
                    id: &sku,
                    action: "update",
                };
                let json = |p: &ProductRow| {
                    serde_json::json!({"name": p.name, "category": p.category, "brand": p.brand, "price": p.price})
                };
                record(sql, &ctx2, now, change, Some(json(&before)), Some(json(&after)))?;
                Ok::<_, AppError>(after.clone())
            })
            .await
    }
}
