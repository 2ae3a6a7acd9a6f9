//! The REST API under `/api/v1`. Every route is declared once here, through utoipa-axum, so the
//! router and the OpenAPI document cannot disagree.

pub mod access;
pub mod activity;
pub mod automations;
pub mod catalog;
pub mod connections;
pub mod events;
pub mod gifts;
pub mod imports;
pub mod members;
pub mod messaging;
pub mod orders;
pub mod points;
pub mod referrals;
pub mod rules;
pub mod scopes;
pub mod segments;
pub mod tiers;
pub mod vouchers;
pub mod webhooks;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use loyalty_app::App;
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Loyalty API",
        description = "Members, points, tiers, rewards and vouchers for retail and F&B chains. \
                       Errors are RFC 9457 problem documents; lists page with `limit` and `cursor`.",
        version = "1"
    ),
    modifiers(&BearerKey),
    tags(
        (name = "members", description = "Members and customers (thành viên, khách hàng)"),
        (name = "orders", description = "Orders: the earning path, cancel, refunds"),
        (name = "messaging", description = "Channels (Zalo ZNS, SMS, e-mail), campaigns and their messages"),
        (name = "automations", description = "Journeys that run by themselves: birthday, thank-you, win-back, tier-up, points expiring"),
        (name = "webhooks", description = "Outbound webhooks: endpoints, deliveries, replay, test"),
        (name = "connections", description = "Web-store and POS connections (Haravan, Shopify, Sapo, KiotViet) and what came in on them"),
        (name = "points", description = "A member's points: balance, ledger, adjustments"),
        (name = "program", description = "Program settings: earning, expiry, redemption, tiers"),
        (name = "earn rules", description = "Bonus earning rules and their preview"),
        (name = "tiers", description = "Membership tiers (hạng thành viên), history, overrides"),
        (name = "vouchers", description = "Voucher programs, codes, validate, redeem, release"),
        (name = "portal", description = "The member portal's JSON under /portal/v1/{slug}, for the portal and a shop's own app: a sign-in code, a member token (not an API key), the member's own data"),
        (name = "referral", description = "Referral (khách cũ giới thiệu khách mới): referrals, their report"),
        (name = "rewards", description = "The rewards catalogue and spending points on it"),
        (name = "segments", description = "Customer segments (nhóm khách hàng): condition trees, counts, export, report"),
        (name = "imports", description = "Imports from CSV files: members, past orders, products"),
        (name = "tenancy", description = "Brands and stores"),
        (name = "access", description = "API keys, staff accounts, the tenant"),
        (name = "activity", description = "The activity log (nhật ký hoạt động)"),
        (name = "events", description = "The tenant's events, oldest first: a feed to poll"),
        (name = "operations", description = "Health"),
    )
)]
struct ApiDoc;

struct BearerKey;

impl Modify for BearerKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The API routes and their OpenAPI description.
pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health))
        .routes(routes!(members::create_member, members::list_members))
        .routes(routes!(segments::export_members))
        .routes(routes!(members::get_member, members::update_member))
        .routes(routes!(members::activate_member))
        .routes(routes!(members::block_member))
        .routes(routes!(members::unblock_member))
        .routes(routes!(members::merge_members))
        .routes(routes!(members::duplicate_members))
        .routes(routes!(points::get_points))
        .routes(routes!(points::get_ledger))
        .routes(routes!(members::get_consent_history))
        .routes(routes!(points::adjust_points))
        .routes(routes!(points::get_program, points::put_program))
        .routes(routes!(orders::post_order, orders::list_orders))
        .routes(routes!(orders::export_orders))
        .routes(routes!(messaging::create_channel, messaging::list_channels))
        .routes(routes!(
            messaging::get_channel,
            messaging::update_channel,
            messaging::delete_channel
        ))
        .routes(routes!(messaging::test_channel))
        .routes(routes!(
            messaging::create_campaign,
            messaging::list_campaigns
        ))
        .routes(routes!(messaging::get_campaign, messaging::update_campaign))
        .routes(routes!(messaging::launch_campaign))
        .routes(routes!(messaging::cancel_campaign))
        .routes(routes!(messaging::test_campaign))
        .routes(routes!(messaging::campaign_report))
        .routes(routes!(messaging::export_campaign))
        .routes(routes!(messaging::list_messages))
        .routes(routes!(
            automations::create_automation,
            automations::list_automations
        ))
        .routes(routes!(
            automations::get_automation,
            automations::update_automation
        ))
        .routes(routes!(automations::automation_runs))
        .routes(routes!(automations::automation_report))
        .routes(routes!(webhooks::create_webhook, webhooks::list_webhooks))
        .routes(routes!(
            webhooks::get_webhook,
            webhooks::update_webhook,
            webhooks::delete_webhook
        ))
        .routes(routes!(webhooks::test_webhook))
        .routes(routes!(webhooks::list_deliveries))
        .routes(routes!(webhooks::replay_delivery))
        .routes(routes!(
            connections::create_connection,
            connections::list_connections
        ))
        .routes(routes!(
            connections::get_connection,
            connections::update_connection,
            connections::delete_connection
        ))
        .routes(routes!(connections::list_inbound))
        .routes(routes!(
            referrals::create_referral,
            referrals::list_referrals
        ))
        .routes(routes!(referrals::referral_report))
        .routes(routes!(referrals::member_referral_code))
        .routes(routes!(orders::quote_order))
        .routes(routes!(orders::get_order))
        .routes(routes!(orders::cancel_order))
        .routes(routes!(orders::refund_order))
        .routes(routes!(rules::list_rules, rules::create_rule))
        .routes(routes!(rules::preview_rule))
        .routes(routes!(
            rules::get_rule,
            rules::update_rule,
            rules::delete_rule
        ))
        .routes(routes!(tiers::list_tiers, tiers::create_tier))
        .routes(routes!(tiers::update_tier, tiers::delete_tier))
        .routes(routes!(tiers::tier_history))
        .routes(routes!(tiers::override_tier))
        .routes(routes!(vouchers::create_program, vouchers::list_programs))
        .routes(routes!(vouchers::get_program, vouchers::update_program))
        .routes(routes!(vouchers::create_codes))
        .routes(routes!(vouchers::program_report))
        .routes(routes!(vouchers::validate))
        .routes(routes!(vouchers::redeem))
        .routes(routes!(vouchers::release))
        .routes(routes!(vouchers::member_vouchers))
        .routes(routes!(vouchers::list_rewards, vouchers::create_reward))
        .routes(routes!(vouchers::get_reward, vouchers::update_reward))
        .routes(routes!(vouchers::reward_report))
        .routes(routes!(vouchers::redeem_reward))
        .routes(routes!(gifts::list_gifts))
        .routes(routes!(gifts::hand_over))
        .routes(routes!(gifts::cancel))
        .routes(routes!(catalog::create_brand, catalog::list_brands))
        .routes(routes!(catalog::get_brand, catalog::update_brand))
        .routes(routes!(catalog::create_store, catalog::list_stores))
        .routes(routes!(catalog::get_store, catalog::update_store))
        .routes(routes!(access::create_api_key, access::list_api_keys))
        .routes(routes!(access::revoke_api_key))
        .routes(routes!(access::create_staff, access::list_staff))
        .routes(routes!(access::get_staff, access::update_staff))
        .routes(routes!(access::reset_staff_password))
        .routes(routes!(access::get_tenant))
        .routes(routes!(activity::list_activity))
        .routes(routes!(events::list_events))
        .routes(routes!(segments::preview_segment))
        .routes(routes!(segments::list_segments, segments::create_segment))
        .routes(routes!(
            segments::get_segment,
            segments::update_segment,
            segments::delete_segment
        ))
        .routes(routes!(segments::segment_members))
        .routes(routes!(segments::segment_report))
        .routes(routes!(segments::export_segment))
        .routes(routes!(imports::import_members))
        .routes(routes!(imports::import_orders))
        .routes(routes!(imports::import_products))
        .routes(routes!(imports::get_import))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` when the database does not answer.
    pub status: &'static str,
    /// `sqlite` or `postgres`.
    pub database: &'static str,
}

#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn health(State(app): State<App>) -> (StatusCode, Json<Health>) {
    let database = app.db().backend().name();
    match app.db().ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(Health {
                status: "ok",
                database,
            }),
        ),
        Err(error) => {
            tracing::warn!(%error, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Health {
                    status: "unavailable",
                    database,
                }),
            )
        }
    }
}
