//! `/api/v1/brands` and `/api/v1/stores`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use jiff::Timestamp;
use loyalty_app::App;
use loyalty_app::catalog::{BrandInput, StoreInput};
use loyalty_core::tenancy::{Brand, Store};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::extract::{ApiJson, ApiQuery, Auth, nullable};
use crate::paging::{List, page};
use crate::problem::{ApiResult, Problem};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BrandIn {
    /// Short code the POS sends with each order, e.g. `cafe`.
    #[schema(example = "cafe")]
    pub code: Option<String>,
    #[schema(example = "Cà Phê Sáng")]
    pub name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BrandOut {
    pub id: String,
    pub code: String,
    pub name: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

impl From<Brand> for BrandOut {
    fn from(b: Brand) -> Self {
        BrandOut {
            id: b.id,
            code: b.code,
            name: b.name,
            created_at: b.created_at,
            updated_at: b.updated_at,
        }
    }
}

impl From<BrandIn> for BrandInput {
    fn from(b: BrandIn) -> Self {
        BrandInput {
            code: b.code,
            name: b.name,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StoreIn {
    #[schema(example = "HN01")]
    pub code: Option<String>,
    #[schema(example = "Chi nhánh Cầu Giấy")]
    pub name: Option<String>,
    /// The brand's code; `null` detaches the store from its brand.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, example = "cafe")]
    pub brand: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, example = "Hà Nội")]
    pub province: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, example = "Cầu Giấy")]
    pub district: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub address: Option<Option<String>>,
    pub active: Option<bool>,
}

impl From<StoreIn> for StoreInput {
    fn from(s: StoreIn) -> Self {
        StoreInput {
            code: s.code,
            name: s.name,
            brand: s.brand,
            province: s.province,
            district: s.district,
            address: s.address,
            active: s.active,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StoreOut {
    pub id: String,
    pub code: String,
    pub name: String,
    pub brand_id: Option<String>,
    /// The brand's code.
    pub brand: Option<String>,
    pub province: Option<String>,
    /// The 2025 province code (GSO) of `province`, old names included.
    pub province_code: Option<String>,
    pub district: Option<String>,
    pub address: Option<String>,
    pub active: bool,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

impl From<Store> for StoreOut {
    fn from(s: Store) -> Self {
        StoreOut {
            id: s.id,
            code: s.code,
            name: s.name,
            brand_id: s.brand_id,
            brand: s.brand,
            province: s.province,
            province_code: s.province_code,
            district: s.district,
            address: s.address,
            active: s.active,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

#[utoipa::path(post, path = "/api/v1/brands", tag = "tenancy", request_body = BrandIn,
    responses((status = 201, body = BrandOut), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("api_key" = [])))]
pub async fn create_brand(
    State(app): State<App>,
    Auth(ctx): Auth,
    ApiJson(input): ApiJson<BrandIn>,
) -> ApiResult<impl IntoResponse> {
    let brand = app.create_brand(&ctx, input.into()).await?;
    let location = format!("/api/v1/brands/{}", brand.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(BrandOut::from(brand)),
    ))
}

#[utoipa::path(get, path = "/api/v1/brands", tag = "tenancy", params(ListQuery),
    responses((status = 200, body = List<BrandOut>)), security(("api_key" = [])))]
pub async fn list_brands(
    State(app): State<App>,
    Auth(ctx): Auth,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<List<BrandOut>>> {
    let page = page(query.limit, query.cursor.as_deref())?;
    Ok(Json(List::from_paged(
        app.brands(&ctx, page).await?,
        BrandOut::from,
    )))
}

#[utoipa::path(get, path = "/api/v1/brands/{id}", tag = "tenancy", params(("id" = String, Path)),
    responses((status = 200, body = BrandOut), (status = 404, body = Problem)), security(("api_key" = [])))]
pub async fn get_brand(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<BrandOut>> {
    Ok(Json(app.brand(&ctx, id).await?.into()))
}

#[utoipa::path(patch, path = "/api/v1/brands/{id}", tag = "tenancy", params(("id" = String, Path)),
    request_body = BrandIn,
    responses((status = 200, body = BrandOut), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("api_key" = [])))]
pub async fn update_brand(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<BrandIn>,
) -> ApiResult<Json<BrandOut>> {
    Ok(Json(app.update_brand(&ctx, id, input.into()).await?.into()))
}

#[utoipa::path(post, path = "/api/v1/stores", tag = "tenancy", request_body = StoreIn,
    responses((status = 201, body = StoreOut), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("api_key" = [])))]
pub async fn create_store(
    State(app): State<App>,
    Auth(ctx): Auth,
    ApiJson(input): ApiJson<StoreIn>,
) -> ApiResult<impl IntoResponse> {
    let store = app.create_store(&ctx, input.into()).await?;
    let location = format!("/api/v1/stores/{}", store.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(StoreOut::from(store)),
    ))
}

#[utoipa::path(get, path = "/api/v1/stores", tag = "tenancy", params(ListQuery),
    responses((status = 200, body = List<StoreOut>)), security(("api_key" = [])))]
pub async fn list_stores(
    State(app): State<App>,
    Auth(ctx): Auth,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<List<StoreOut>>> {
    let page = page(query.limit, query.cursor.as_deref())?;
    Ok(Json(List::from_paged(
        app.stores(&ctx, page).await?,
        StoreOut::from,
    )))
}

#[utoipa::path(get, path = "/api/v1/stores/{id}", tag = "tenancy", params(("id" = String, Path)),
    responses((status = 200, body = StoreOut), (status = 404, body = Problem)), security(("api_key" = [])))]
pub async fn get_store(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<StoreOut>> {
    Ok(Json(app.store(&ctx, id).await?.into()))
}

#[utoipa::path(patch, path = "/api/v1/stores/{id}", tag = "tenancy", params(("id" = String, Path)),
    request_body = StoreIn,
    responses((status = 200, body = StoreOut), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("api_key" = [])))]
pub async fn update_store(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<StoreIn>,
) -> ApiResult<Json<StoreOut>> {
    Ok(Json(app.update_store(&ctx, id, input.into()).await?.into()))
}
