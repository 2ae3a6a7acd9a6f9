//! The product catalogue (Sản phẩm): imported products listed and searched, each edited from
//! its row — name, category, brand, price; the SKU stays, as tills and orders name it.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect};
use loyalty_app::{App, AppError};
use loyalty_core::history::ProductRow;
use loyalty_core::input::catalog::ProductInput;
use loyalty_core::tenancy::Permission;
use serde::Deserialize;

use super::session::Staff;
use super::{Chrome, UiError, UiResult, field_errors, render};

#[derive(Template)]
#[template(path = "products.html")]
struct ProductsPage {
    c: Chrome,
    q: String,
    products: Vec<(ProductRow, jiff::Timestamp)>,
    /// The SKU the next page starts after, when there is one.
    next: Option<String>,
    can_edit: bool,
    /// The SKU whose edit was refused, with why.
    refused: Option<(String, Vec<(String, String)>)>,
}

impl ProductsPage {
    fn refusal(&self, sku: &str) -> Vec<String> {
        match &self.refused {
            Some((s, errors)) if s == sku => {
                errors.iter().map(|(f, m)| format!("{f}: {m}")).collect()
            }
            _ => Vec::new(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    after: String,
}

pub async fn list(
    State(app): State<App>,
    staff: Staff,
    Query(query): Query<ListQuery>,
) -> UiResult {
    page(&app, &staff, query, None).await
}

async fn page(
    app: &App,
    staff: &Staff,
    query: ListQuery,
    refused: Option<(String, Vec<(String, String)>)>,
) -> UiResult {
    staff.require(Permission::ViewMembers)?;
    let q = query.q.trim().to_string();
    let products = app
        .products(
            &staff.session.ctx,
            Some(q.clone()).filter(|q| !q.is_empty()),
            query.after,
        )
        .await
        .map_err(|e| UiError::App(staff.lang, e))?;
    let next = (products.len() as i64 == loyalty_app::products::PRODUCTS_PAGE)
        .then(|| products.last().map(|(p, _)| p.sku.clone()))
        .flatten();
    let status = super::form_status(&refused.as_ref().map(|r| r.1.clone()).unwrap_or_default());
    let page = ProductsPage {
        c: Chrome::for_staff(app, staff, "products.title", "products", "/products").await,
        q,
        products,
        next,
        can_edit: staff.may(Permission::EditProgram),
        refused,
    };
    Ok((status, render(&page)).into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct ProductForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    sku: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    brand: String,
    #[serde(default)]
    price: String,
}

pub async fn update(
    State(app): State<App>,
    staff: Staff,
    Form(form): Form<ProductForm>,
) -> UiResult {
    staff.require(Permission::EditProgram)?;
    staff.check_csrf(&form.csrf)?;
    let mut errors = Vec::new();
    let price = super::parse_whole("price", &form.price, &mut errors, staff.lang);
    let back = ListQuery {
        q: form.sku.clone(),
        after: String::new(),
    };
    if !errors.is_empty() {
        return page(&app, &staff, back, Some((form.sku, errors))).await;
    }
    let input = ProductInput {
        name: form.name,
        category: Some(form.category),
        brand: Some(form.brand),
        price: price.unwrap_or_default(),
    };
    match app
        .update_product(&staff.session.ctx, form.sku.clone(), input)
        .await
    {
        Ok(_) => Ok(Redirect::to("/products").into_response()),
        Err(error @ AppError::Invalid(_)) => {
            let errors = field_errors(&error, staff.lang);
            page(&app, &staff, back, Some((form.sku, errors))).await
        }
        Err(error) => Err(UiError::App(staff.lang, error)),
    }
}
