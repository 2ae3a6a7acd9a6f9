//! `/api/v1/api-keys`, `/api/v1/staff` and `/api/v1/tenant`: who may use the API and the admin.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use jiff::Timestamp;
use loyalty_app::App;
use loyalty_app::staff::NewStaff;
use loyalty_core::id::KeyId;
use loyalty_core::tenancy::{ApiKey, Role, Scope, StaffUser};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::catalog::ListQuery;
use crate::extract::{ApiJson, ApiQuery, Auth};
use crate::paging::{List, page};
use crate::problem::{ApiResult, Problem};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyIn {
    #[schema(example = "POS Hà Nội 01")]
    pub name: String,
    /// Any of `admin`, `pos`, `read`.
    #[schema(value_type = Vec<String>, example = json!(["pos"]))]
    pub scopes: Vec<Scope>,
    /// Requests per second this key may make (1 to 1,000,000); the server's default
    /// (`--rate-limit-per-key`, 20,000) when absent. Beyond it: 429 with `Retry-After`.
    pub rate_limit_per_s: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyOut {
    pub id: String,
    pub name: String,
    /// The public part of the key, to tell keys apart.
    pub prefix: String,
    #[schema(value_type = Vec<String>)]
    pub scopes: Vec<Scope>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<Timestamp>,
    pub rate_limit_per_s: Option<i64>,
}

impl From<ApiKey> for ApiKeyOut {
    fn from(k: ApiKey) -> Self {
        ApiKeyOut {
            id: k.id.to_string(),
            name: k.name,
            prefix: k.prefix,
            scopes: k.scopes,
            created_at: k.created_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
            rate_limit_per_s: k.rate_limit_per_s,
        }
    }
}

/// A new key with its secret, shown only in this response.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKeyOut {
    #[serde(flatten)]
    pub key: ApiKeyOut,
    /// The full key to send as `Authorization: Bearer …`. It cannot be shown again.
    pub secret: String,
}

#[utoipa::path(post, path = "/api/v1/api-keys", tag = "access", request_body = ApiKeyIn,
    responses((status = 201, body = CreatedApiKeyOut), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("api_key" = [])))]
pub async fn create_api_key(
    State(app): State<App>,
    Auth(ctx): Auth,
    ApiJson(input): ApiJson<ApiKeyIn>,
) -> ApiResult<impl IntoResponse> {
    let created = app
        .create_api_key(&ctx, input.name, input.scopes, input.rate_limit_per_s)
        .await?;
    let location = format!("/api/v1/api-keys/{}", created.key.id);
    let body = CreatedApiKeyOut {
        key: created.key.into(),
        secret: created.secret,
    };
    // The secret is shown once: a retry with the same Idempotency-Key is not shown it again.
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        axum::Extension(crate::idempotency::HoldsSecret),
        Json(body),
    ))
}

#[utoipa::path(get, path = "/api/v1/api-keys", tag = "access", params(ListQuery),
    responses((status = 200, body = List<ApiKeyOut>)), security(("api_key" = [])))]
pub async fn list_api_keys(
    State(app): State<App>,
    Auth(ctx): Auth,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<List<ApiKeyOut>>> {
    let page = page(query.limit, query.cursor.as_deref())?;
    Ok(Json(List::from_paged(
        app.api_keys(&ctx, page).await?,
        ApiKeyOut::from,
    )))
}

#[utoipa::path(delete, path = "/api/v1/api-keys/{id}", tag = "access", params(("id" = String, Path)),
    responses((status = 200, description = "Revoked (or already was)", body = ApiKeyOut), (status = 404, body = Problem)),
    security(("api_key" = [])))]
pub async fn revoke_api_key(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<KeyId>,
) -> ApiResult<Json<ApiKeyOut>> {
    Ok(Json(app.revoke_api_key(&ctx, id).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffIn {
    pub email: String,
    pub name: Option<String>,
    /// `owner`, `manager`, `marketer`, `cashier` or `viewer`.
    #[schema(value_type = String, example = "cashier")]
    pub role: Role,
    /// At least 8 characters; stored as an argon2id hash.
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StaffOut {
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    #[schema(value_type = String)]
    pub role: Role,
    pub active: bool,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_login_at: Option<Timestamp>,
}

impl From<StaffUser> for StaffOut {
    fn from(u: StaffUser) -> Self {
        StaffOut {
            id: u.id,
            email: u.email,
            name: u.name,
            role: u.role,
            active: u.active,
            created_at: u.created_at,
            last_login_at: u.last_login_at,
        }
    }
}

#[utoipa::path(post, path = "/api/v1/staff", tag = "access", request_body = StaffIn,
    responses((status = 201, body = StaffOut), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("api_key" = [])))]
pub async fn create_staff(
    State(app): State<App>,
    Auth(ctx): Auth,
    ApiJson(input): ApiJson<StaffIn>,
) -> ApiResult<impl IntoResponse> {
    let input = NewStaff {
        email: input.email,
        name: input.name,
        role: input.role,
        password: input.password,
    };
    let user = app.create_staff(&ctx, input).await?;
    Ok((StatusCode::CREATED, Json(StaffOut::from(user))))
}

#[utoipa::path(get, path = "/api/v1/staff", tag = "access", params(ListQuery),
    responses((status = 200, body = List<StaffOut>)), security(("api_key" = [])))]
pub async fn list_staff(
    State(app): State<App>,
    Auth(ctx): Auth,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<List<StaffOut>>> {
    let page = page(query.limit, query.cursor.as_deref())?;
    Ok(Json(List::from_paged(
        app.staff(&ctx, page).await?,
        StaffOut::from,
    )))
}

/// A change to a staff account: any of its fields; what is left out stays. Changing the role
/// or deactivating ends the account's sessions at once.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffPatchIn {
    /// `null` clears the name.
    #[serde(default, deserialize_with = "crate::extract::nullable")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    #[schema(value_type = Option<String>, example = "viewer")]
    pub role: Option<Role>,
    /// `false` stops the account from signing in (offboarding); `true` lets it in again.
    pub active: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetIn {
    /// The new password, at least 8 characters. Every session of the account ends.
    pub password: String,
}

#[utoipa::path(get, path = "/api/v1/staff/{id}", tag = "access", params(("id" = String, Path)),
    responses((status = 200, body = StaffOut), (status = 404, body = Problem)), security(("api_key" = [])))]
pub async fn get_staff(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<StaffOut>> {
    Ok(Json(app.staff_member(&ctx, id).await?.into()))
}

#[utoipa::path(patch, path = "/api/v1/staff/{id}", tag = "access", params(("id" = String, Path)),
    request_body = StaffPatchIn,
    responses(
        (status = 200, body = StaffOut),
        (status = 404, body = Problem),
        (status = 409, description = "`last_owner`: the last active owner cannot be demoted or deactivated", body = Problem),
        (status = 422, body = Problem),
    ),
    security(("api_key" = [])))]
pub async fn update_staff(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<StaffPatchIn>,
) -> ApiResult<Json<StaffOut>> {
    let change = loyalty_app::staff::StaffChange {
        name: input.name,
        role: input.role,
        active: input.active,
    };
    Ok(Json(app.update_staff(&ctx, id, change).await?.into()))
}

#[utoipa::path(post, path = "/api/v1/staff/{id}/password", tag = "access", params(("id" = String, Path)),
    request_body = PasswordResetIn,
    responses((status = 200, description = "Reset; the account's sessions ended", body = StaffOut),
        (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("api_key" = [])))]
pub async fn reset_staff_password(
    State(app): State<App>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<PasswordResetIn>,
) -> ApiResult<Json<StaffOut>> {
    Ok(Json(
        app.reset_staff_password(&ctx, id, input.password)
            .await?
            .into(),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantOut {
    pub id: String,
    pub name: String,
    pub timezone: String,
    pub currency: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

#[utoipa::path(get, path = "/api/v1/tenant", tag = "access",
    responses((status = 200, description = "The tenant the key belongs to", body = TenantOut)),
    security(("api_key" = [])))]
pub async fn get_tenant(State(app): State<App>, Auth(ctx): Auth) -> ApiResult<Json<TenantOut>> {
    ctx.require(loyalty_core::tenancy::Access::Read)?;
    let t = app.tenant(&ctx).await?.tenant.clone();
    Ok(Json(TenantOut {
        id: t.id.to_string(),
        name: t.name,
        timezone: t.timezone,
        currency: t.currency,
        created_at: t.created_at,
    }))
}
