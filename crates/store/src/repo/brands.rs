use loyalty_core::tenancy::Brand;

use super::{ms, ts};
use crate::params;
use crate::sql::{DbError, Row, Sql};
use crate::{Page, Paged};

pub fn insert(sql: &mut dyn Sql, tenant_id: &str, brand: &Brand) -> Result<(), DbError> {
    sql.execute(
        "insert into brands (tenant_id, id, code, name, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6)",
        params![
            tenant_id,
            &brand.id,
            &brand.code,
            &brand.name,
            ms(brand.created_at),
            ms(brand.updated_at)
        ],
    )?;
    Ok(())
}

pub fn update(sql: &mut dyn Sql, tenant_id: &str, brand: &Brand) -> Result<(), DbError> {
    sql.execute(
        "update brands set code = $3, name = $4, updated_at = $5 where tenant_id = $1 and id = $2",
        params![
            tenant_id,
            &brand.id,
            &brand.code,
            &brand.name,
            ms(brand.updated_at)
        ],
    )?;
    Ok(())
}

pub fn get(sql: &mut dyn Sql, tenant_id: &str, id: &str) -> Result<Option<Brand>, DbError> {
    sql.query_opt(
        "select id, code, name, created_at, updated_at
         from brands
         where tenant_id = $1 and id = $2",
        params![tenant_id, id],
    )?
    .map(|row| from_row(&row))
    .transpose()
}

pub fn by_code(sql: &mut dyn Sql, tenant_id: &str, code: &str) -> Result<Option<Brand>, DbError> {
    sql.query_opt(
        "select id, code, name, created_at, updated_at
         from brands
         where tenant_id = $1 and code = $2",
        params![tenant_id, code],
    )?
    .map(|row| from_row(&row))
    .transpose()
}

pub fn list(sql: &mut dyn Sql, tenant_id: &str, page: &Page) -> Result<Paged<Brand>, DbError> {
    let rows = sql.query(
        "select id, code, name, created_at, updated_at
         from brands
         where tenant_id = $1 and id > $2
         order by id
         limit $3",
        params![
            tenant_id,
            page.after.as_deref().unwrap_or(""),
            page.limit + 1
        ],
    )?;
    let brands = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    Ok(Paged::from_rows(brands, page.limit, |b| &b.id))
}

fn from_row(row: &Row) -> Result<Brand, DbError> {
    Ok(Brand {
        id: row.get("id")?,
        code: row.get("code")?,
        name: row.get("name")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
    })
}
