//! Blocking and unblocking a member from their profile (the admin's: a blocked member earns
//! and spends nothing, and the till is told why). The reason goes to the activity log.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use loyalty_app::App;
use loyalty_core::id::MemberId;
use loyalty_core::tenancy::Permission;
use serde::Deserialize;

use super::session::Staff;
use super::{CsrfOnly, UiError, UiResult};

#[derive(Debug, Deserialize)]
pub struct BlockForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

pub async fn block(
    State(app): State<App>,
    staff: Staff,
    Path(id): Path<MemberId>,
    Form(form): Form<BlockForm>,
) -> UiResult {
    staff.require(Permission::EditProgram)?;
    staff.check_csrf(&form.csrf)?;
    app.block_member(&staff.session.ctx, id.clone(), &form.reason)
        .await
        .map_err(|e| UiError::App(staff.lang, e))?;
    Ok(Redirect::to(&format!("/members/{id}")).into_response())
}

pub async fn unblock(
    State(app): State<App>,
    staff: Staff,
    Path(id): Path<MemberId>,
    Form(form): Form<CsrfOnly>,
) -> UiResult {
    staff.require(Permission::EditProgram)?;
    staff.check_csrf(&form.csrf)?;
    app.unblock_member(&staff.session.ctx, id.clone())
        .await
        .map_err(|e| UiError::App(staff.lang, e))?;
    Ok(Redirect::to(&format!("/members/{id}")).into_response())
}
