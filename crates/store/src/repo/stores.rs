use loyalty_core::tenancy::Store;

use super::{ms, ts};
use crate::params;
use crate::sql::{DbError, Row, Sql};
use crate::{Page, Paged};

pub fn insert(sql: &mut dyn Sql, tenant_id: &str, store: &Store) -> Result<(), DbError> {
    sql.execute(
        "insert into stores (tenant_id, id, code, name, brand_id, province, province_code, district, address, active, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        params![
            tenant_id,
            &store.id,
            &store.code,
            &store.name,
            &store.brand_id,
            &store.province,
            &store.province_code,
            &store.district,
            &store.address,
            store.active,
            ms(store.created_at),
            ms(store.updated_at)
        ],
    )?;
    Ok(())
}

pub fn update(sql: &mut dyn Sql, tenant_id: &str, store: &Store) -> Result<(), DbError> {
    sql.execute(
        "update stores
         set code = $3, name = $4, brand_id = $5, province = $6, province_code = $7,
             district = $8, address = $9, active = $10, updated_at = $11
         where tenant_id = $1 and id = $2",
        params![
            tenant_id,
            &store.id,
            &store.code,
            &store.name,
            &store.brand_id,
            &store.province,
            &store.province_code,
            &store.district,
            &store.address,
            store.active,
            ms(store.updated_at)
        ],
    )?;
    Ok(())
}

pub fn by_code(sql: &mut dyn Sql, tenant_id: &str, code: &str) -> Result<Option<String>, DbError> {
    sql.query_opt(
        "select id from stores where tenant_id = $1 and code = $2",
        params![tenant_id, code],
    )?
    .map(|row| row.at(0))
    .transpose()
}

pub fn get(sql: &mut dyn Sql, tenant_id: &str, id: &str) -> Result<Option<Store>, DbError> {
    sql.query_opt(
        "select s.id, s.code, s.name, s.brand_id, b.code as brand, s.province, s.province_code,
                s.district, s.address, s.active, s.created_at, s.updated_at
         from stores s
         left join brands b on b.tenant_id = s.tenant_id and b.id = s.brand_id
         where s.tenant_id = $1 and s.id = $2",
        params![tenant_id, id],
    )?
    .map(|row| from_row(&row))
    .transpose()
}

pub fn list(sql: &mut dyn Sql, tenant_id: &str, page: &Page) -> Result<Paged<Store>, DbError> {
    let rows = sql.query(
        "select s.id, s.code, s.name, s.brand_id, b.code as brand, s.province, s.province_code,
                s.district, s.address, s.active, s.created_at, s.updated_at
         from stores s
         left join brands b on b.tenant_id = s.tenant_id and b.id = s.brand_id
         where s.tenant_id = $1 and s.id > $2
         order by s.id
         limit $3",
        params![
            tenant_id,
            page.after.as_deref().unwrap_or(""),
            page.limit + 1
        ],
    )?;
    let stores = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    Ok(Paged::from_rows(stores, page.limit, |s| &s.id))
}

fn from_row(row: &Row) -> Result<Store, DbError> {
    Ok(Store {
        id: row.get("id")?,
        code: row.get("code")?,
        name: row.get("name")?,
        brand_id: row.get("brand_id")?,
        brand: row.get("brand")?,
        province: row.get("province")?,
        province_code: row.get("province_code")?,
        district: row.get("district")?,
        address: row.get("address")?,
        active: row.get("active")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
    })
}
