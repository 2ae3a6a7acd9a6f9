//! The product catalogue (sku, name, category, brand, price), as imported from the shop's
//! system: names and categories for reports and rule previews.

use jiff::Timestamp;
use loyalty_core::history::ProductRow;

use super::ms;
use crate::sql::{DbError, Sql, Value};

/// Inserts or updates products; a blank category or brand keeps the stored one, and a row
/// equal to the stored product writes nothing (so importing the same file again changes
/// nothing, not even `updated_at`).
pub fn upsert_many(
    sql: &mut dyn Sql,
    tenant_id: &str,
    products: &[ProductRow],
    now: Timestamp,
) -> Result<(), DbError> {
    for chunk in products.chunks(200) {
        let mut query = String::from(
            "insert into products (tenant_id, sku, name, category, brand, price, created_at, updated_at) values ",
        );
        let mut values: Vec<Value<'_>> = Vec::with_capacity(chunk.len() * 8);
        for (i, p) in chunk.iter().enumerate() {
            if i > 0 {
                query.push_str(", ");
            }
            query.push_str(&crate::sql::row_placeholders(i, 8, 1));
            values.extend([
                tenant_id.into(),
                p.sku.as_str().into(),
                p.name.as_str().into(),
                p.category.as_deref().into(),
                p.brand.as_deref().into(),
                p.price.into(),
                ms(now).into(),
                ms(now).into(),
            ]);
        }
        query.push_str(
            " on conflict (tenant_id, sku) do update
              set name = excluded.name,
                  category = coalesce(excluded.category, products.category),
                  brand = coalesce(excluded.brand, products.brand),
                  price = excluded.price, updated_at = excluded.updated_at
              where products.name <> excluded.name
                 or products.category is distinct from coalesce(excluded.category, products.category)
                 or products.brand is distinct from coalesce(excluded.brand, products.brand)
                 or products.price <> excluded.price",
        );
        sql.execute(&query, &values)?;
    }
    Ok(())
}

/// A product's stored fields, with its last change (for tests and the admin UI).
pub fn get(
    sql: &mut dyn Sql,
    tenant_id: &str,
    sku: &str,
) -> Result<Option<(ProductRow, Timestamp)>, DbError> {
    sql.query_opt(
        "select sku, name, category, brand, price, updated_at from products
         where tenant_id = $1 and sku = $2",
        &[tenant_id.into(), sku.into()],
    )?
    .map(|row| from_row(&row))
    .transpose()
}

/// The category of each of `skus` that is a product with one (an order line that names only
/// its SKU takes it).
pub fn categories(
    sql: &mut dyn Sql,
    tenant_id: &str,
    skus: &[String],
) -> Result<std::collections::HashMap<String, String>, DbError> {
    let mut found = std::collections::HashMap::new();
    for chunk in skus.chunks(400) {
        let placeholders: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
        let query = format!(
            "select sku, category from products
             where tenant_id = $1 and category is not null and sku in ({})",
            placeholders.join(", ")
        );
        let mut values: Vec<crate::sql::Value<'_>> = vec![tenant_id.into()];
        values.extend(chunk.iter().map(|s| s.as_str().into()));
        for row in sql.query(&query, &values)? {
            found.insert(row.get("sku")?, row.get("category")?);
        }
    }
    Ok(found)
}

/// A page of the catalogue in SKU order, after `after`; `q` (folded to lower case) matches
/// inside the SKU or the name.
pub fn list(
    sql: &mut dyn Sql,
    tenant_id: &str,
    q: Option<&str>,
    after: &str,
    limit: i64,
) -> Result<Vec<(ProductRow, Timestamp)>, DbError> {
    let mut query = String::from(
        "select sku, name, category, brand, price, updated_at from products
         where tenant_id = $1 and sku > $2",
    );
    let mut values: Vec<Value<'_>> = vec![tenant_id.into(), after.into()];
    if let Some(q) = q {
        values.push(super::like_contains(&q.to_lowercase()).into());
        let n = values.len();
        query.push_str(&format!(
            " and (lower(sku) like ${n} escape '\\' or lower(name) like ${n} escape '\\')"
        ));
    }
    values.push(limit.into());
    query.push_str(&format!(" order by sku limit ${}", values.len()));
    sql.query(&query, &values)?.iter().map(from_row).collect()
}

/// Writes a product's name, category, brand and price; false when there is no such SKU.
pub fn update(
    sql: &mut dyn Sql,
    tenant_id: &str,
    p: &ProductRow,
    now: Timestamp,
) -> Result<bool, DbError> {
    let changed = sql.execute(
        "update products set name = $3, category = $4, brand = $5, price = $6, updated_at = $7
         where tenant_id = $1 and sku = $2",
        &[
            tenant_id.into(),
            p.sku.as_str().into(),
            p.name.as_str().into(),
            p.category.as_deref().into(),
            p.brand.as_deref().into(),
            p.price.into(),
            ms(now).into(),
        ],
    )?;
    Ok(changed > 0)
}

/// A product row with its last change, as `get` and `list` select it.
fn from_row(row: &crate::sql::Row) -> Result<(ProductRow, Timestamp), DbError> {
    Ok((
        ProductRow {
            sku: row.get("sku")?,
            name: row.get("name")?,
            category: row.get("category")?,
            brand: row.get("brand")?,
            price: row.get("price")?,
        },
        super::ts(row, "updated_at")?,
    ))
}
