//! Order lines completed from the product catalogue: a line that names its SKU but no
//! category takes its product's, so bonus rules and segments by category work for tills and
//! stores that send SKUs only. Read before the order's transaction (one query for the order's
//! SKUs), as the catalogue is reference data.

use loyalty_core::order::NewOrder;
use loyalty_store::repo::products;

use crate::{App, AppResult};

impl App {
    pub(crate) async fn with_catalogue_categories(
        &self,
        tenant_id: &str,
        mut order: NewOrder,
    ) -> AppResult<NewOrder> {
        let mut skus: Vec<String> = order
            .lines
            .iter()
            .filter(|l| l.category.is_none())
            .filter_map(|l| l.sku.clone())
            .collect();
        if skus.is_empty() {
            return Ok(order);
        }
        skus.sort_unstable();
        skus.dedup();
        let tenant_id = tenant_id.to_string();
        let found = self
            .db
            .read(move |sql| products::categories(sql, &tenant_id, &skus))
            .await?;
        for line in order.lines.iter_mut().filter(|l| l.category.is_none()) {
            line.category = line.sku.as_ref().and_then(|sku| found.get(sku).cloned());
        }
        Ok(order)
    }
}
