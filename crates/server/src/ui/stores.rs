//! Brands and stores (thương hiệu, cửa hàng): the codes tills send with orders, so rules,
//! vouchers and reports can tell a café in Hà Nội from a fashion shop in Đà Nẵng.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use loyalty_app::catalog::{BrandInput, StoreInput};
use loyalty_app::{App, AppError};
use loyalty_core::tenancy::{Brand, Permission, Store};
use serde::Deserialize;

use super::session::Staff;
use super::{Chrome, UiError, UiResult, error_for, field_errors, render};

#[derive(Debug, Default, Deserialize)]
pub struct PlaceForm {
    #[serde(default)]
    csrf: String,
    /// `brand` or `store`: which of the two forms was sent.
    #[serde(default)]
    what: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    brand: String,
    #[serde(default)]
    province: String,
    #[serde(default)]
    address: String,
}

#[derive(Template)]
#[template(path = "stores.html")]
struct StoresPage {
    c: Chrome,
    brands: Vec<Brand>,
    stores: Vec<Store>,
    can_edit: bool,
    form: PlaceForm,
    errors: Vec<(String, String)>,
}

impl StoresPage {
    /// The error for a field of the form that was sent (`brand` or `store`).
    fn error(&self, what: &str, field: &str) -> &str {
        if self.form.what == what {
            error_for(&self.errors, field)
        } else {
            ""
        }
    }
}

async fn page(
    app: &App,
    staff: &Staff,
    form: PlaceForm,
    errors: Vec<(String, String)>,
) -> UiResult {
    staff.require(Permission::ViewReports)?;
    let lang = staff.lang;
    let fail = |e| UiError::App(lang, e);
    let ctx = &staff.session.ctx;
    let all = super::whole_list();
    let brands = app.brands(ctx, all.clone()).await.map_err(fail)?.items;
    let stores = app.stores(ctx, all).await.map_err(fail)?.items;
    let status = super::form_status(&errors);
    let page = StoresPage {
        c: Chrome::for_staff(app, staff, "stores.title", "stores", "/stores").await,
        brands,
        stores,
        can_edit: staff.may(Permission::EditProgram),
        form,
        errors,
    };
    Ok((status, render(&page)).into_response())
}

pub async fn list(State(app): State<App>, staff: Staff) -> UiResult {
    page(&app, &staff, PlaceForm::default(), vec![]).await
}

pub async fn create(State(app): State<App>, staff: Staff, Form(form): Form<PlaceForm>) -> UiResult {
    staff.require(Permission::EditProgram)?;
    staff.check_csrf(&form.csrf)?;
    let ctx = &staff.session.ctx;
    let given = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let result = if form.what == "brand" {
        let input = BrandInput {
            code: Some(form.code.clone()),
            name: Some(form.name.clone()),
        };
        app.create_brand(ctx, input).await.map(|_| ())
    } else {
        let input = StoreInput {
            code: Some(form.code.clone()),
            name: Some(form.name.clone()),
            brand: Some(given(&form.brand)),
            province: Some(given(&form.province)),
            district: None,
            address: Some(given(&form.address)),
            active: Some(true),
        };
        app.create_store(ctx, input).await.map(|_| ())
    };
    match result {
        Ok(()) => Ok(Redirect::to("/stores").into_response()),
        Err(error @ (AppError::Invalid(_) | AppError::Conflict { .. })) => {
            let errors = field_errors(&error, staff.lang);
            page(&app, &staff, form, errors).await
        }
        Err(error) => Err(UiError::App(staff.lang, error)),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct BrandEditForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

/// Renames a brand from its row (its code stays: stores, orders and rules name it).
pub async fn update_brand(
    State(app): State<App>,
    staff: Staff,
    Path(id): Path<String>,
    Form(form): Form<BrandEditForm>,
) -> UiResult {
    staff.require(Permission::EditProgram)?;
    staff.check_csrf(&form.csrf)?;
    let input = BrandInput {
        code: None,
        name: Some(form.name.clone()),
    };
    match app.update_brand(&staff.session.ctx, id, input).await {
        Ok(_) => Ok(Redirect::to("/stores").into_response()),
        Err(error @ (AppError::Invalid(_) | AppError::Conflict { .. })) => {
            let errors = field_errors(&error, staff.lang);
            let form = PlaceForm {
                what: "brand".into(),
                ..PlaceForm::default()
            };
            page(&app, &staff, form, errors).await
        }
        Err(error) => Err(UiError::App(staff.lang, error)),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct StoreEditForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    brand: String,
    #[serde(default)]
    province: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    active: Option<String>,
}

/// Saves a listed store (its code stays: orders and vouchers name it); a store that closed is
/// marked so rather than deleted, as its orders stay in the reports.
pub async fn update(
    State(app): State<App>,
    staff: Staff,
    Path(id): Path<String>,
    Form(form): Form<StoreEditForm>,
) -> UiResult {
    staff.require(Permission::EditProgram)?;
    staff.check_csrf(&form.csrf)?;
    let given = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let input = StoreInput {
        code: None,
        name: Some(form.name.clone()),
        brand: Some(given(&form.brand)),
        province: Some(given(&form.province)),
        district: None,
        address: Some(given(&form.address)),
        active: Some(form.active.is_some()),
    };
    match app.update_store(&staff.session.ctx, id, input).await {
        Ok(_) => Ok(Redirect::to("/stores").into_response()),
        Err(error @ (AppError::Invalid(_) | AppError::Conflict { .. })) => {
            let errors = field_errors(&error, staff.lang);
            let form = PlaceForm {
                what: "store".into(),
                ..PlaceForm::default()
            };
            page(&app, &staff, form, errors).await
        }
        Err(error) => Err(UiError::App(staff.lang, error)),
    }
}
