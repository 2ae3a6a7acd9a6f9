//! Program settings (chương trình khách hàng thân thiết): how points are earned, kept, spent,
//! and how members are activated and tiered. One document per tenant, `GET/PUT /api/v1/program`.

use serde::{Deserialize, Serialize};

use crate::error::Invalid;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Program {
    /// The currency of every amount; VND has no minor unit.
    #[serde(default = "default_currency")]
    pub currency: String,
    /// IANA time zone for days, birthdays, expiry dates and reports.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    #[serde(default)]
    pub earn: EarnSettings,
    #[serde(default)]
    pub expiry: ExpirySettings,
    #[serde(default)]
    pub redeem: RedeemSettings,
    #[serde(default)]
    pub activation: ActivationSettings,
    #[serde(default)]
    pub tiers: TierSettings,
    #[serde(default)]
    pub messaging: MessagingSettings,
    /// The member portal and the widget (API.md "Member portal and widget").
    #[serde(default)]
    pub portal: crate::portal::PortalSettings,
    /// Referral (API.md "Referral").
    #[serde(default)]
    pub referral: crate::referral::ReferralSettings,
}

fn default_currency() -> String {
    crate::tenancy::DEFAULT_CURRENCY.to_string()
}

fn default_timezone() -> String {
    crate::tenancy::DEFAULT_TIMEZONE.to_string()
}

impl Default for Program {
    fn default() -> Self {
        Program {
            currency: default_currency(),
            timezone: default_timezone(),
            earn: EarnSettings::default(),
            expiry: ExpirySettings::default(),
            redeem: RedeemSettings::default(),
            activation: ActivationSettings::default(),
            tiers: TierSettings::default(),
            messaging: MessagingSettings::default(),
            portal: crate::portal::PortalSettings::default(),
            referral: crate::referral::ReferralSettings::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, default)]
pub struct EarnSettings {
    /// Money spent for one point: 10,000 ₫ = 1 point.
    pub spend_per_point: i64,
    pub base: EarnBase,
    /// Orders whose base is below this earn nothing.
    pub min_order: i64,
    /// Earned points wait this many days before they can be spent (returns window).
    pub pending_days: i64,
}

impl Default for EarnSettings {
    fn default() -> Self {
        EarnSettings {
            spend_per_point: 10_000,
            base: EarnBase::PaidExcludingShipping,
            min_order: 0,
            pending_days: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EarnBase {
    /// What the customer paid, without shipping.
    PaidExcludingShipping,
    /// What the customer paid, shipping included.
    PaidTotal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ExpirySettings {
    pub policy: ExpiryPolicy,
    /// For `months_after_earn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub months: Option<i64>,
}

impl Default for ExpirySettings {
    fn default() -> Self {
        ExpirySettings {
            policy: ExpiryPolicy::MonthsAfterEarn,
            months: Some(12),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ExpiryPolicy {
    Never,
    /// Points expire `months` after they were earned.
    MonthsAfterEarn,
    /// Points expire at the end of the calendar year they were earned in (local time).
    EndOfYear,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, default)]
pub struct RedeemSettings {
    /// Money one point pays for when spent at the till: 1 point = 1,000 ₫.
    pub point_value: i64,
    /// At most this share of an invoice may be paid with points.
    pub max_invoice_percent: i64,
}

impl Default for RedeemSettings {
    fn default() -> Self {
        RedeemSettings {
            point_value: 1_000,
            max_invoice_percent: 50,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, default)]
pub struct ActivationSettings {
    /// A customer with a phone or e-mail becomes a member with their first paid order.
    pub auto_on_first_paid_order: bool,
}

impl Default for ActivationSettings {
    fn default() -> Self {
        ActivationSettings {
            auto_on_first_paid_order: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, default)]
pub struct TierSettings {
    pub metric: TierMetric,
    pub window: TierWindow,
    pub downgrade: Downgrade,
    pub review_every_months: i64,
    /// Reset cycles (as iPOS does): each review starts the count again, carrying only what
    /// exceeded the kept tier's threshold.
    pub reset_on_review: bool,
}

impl Default for TierSettings {
    fn default() -> Self {
        TierSettings {
            metric: TierMetric::Spend,
            window: TierWindow::default(),
            downgrade: Downgrade::AtReview,
            review_every_months: 12,
            reset_on_review: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TierMetric {
    Spend,
    PointsEarned,
    Orders,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TierWindow {
    pub kind: WindowKind,
    /// For `rolling_months`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub months: Option<i64>,
}

impl Default for TierWindow {
    fn default() -> Self {
        TierWindow {
            kind: WindowKind::RollingMonths,
            months: Some(12),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum WindowKind {
    Lifetime,
    RollingMonths,
    CalendarYear,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Downgrade {
    Never,
    AtReview,
}

/// How the shop messages its members (API.md "Channels and messages").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, default)]
pub struct MessagingSettings {
    /// Hours in the shop's time zone when nothing is sent (`{"from": "21:00", "to": "08:00"}`).
    pub quiet_hours: Option<QuietHoursSetting>,
    /// Advertising messages a member may get in a rolling week, campaigns and automations
    /// together.
    pub max_per_member_per_week: i64,
    pub sender_name: Option<String>,
}

impl Default for MessagingSettings {
    fn default() -> Self {
        MessagingSettings {
            quiet_hours: Some(QuietHoursSetting {
                from: "21:00".into(),
                to: "08:00".into(),
            }),
            max_per_member_per_week: 3,
            sender_name: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct QuietHoursSetting {
    pub from: String,
    pub to: String,
}

impl MessagingSettings {
    pub fn quiet_hours(&self) -> Option<crate::messaging::QuietHours> {
        self.quiet_hours
            .as_ref()
            .and_then(|q| crate::messaging::QuietHours::parse(&q.from, &q.to))
    }
}

impl Program {
    /// When points earned at `earned_at` become spendable: after the pending days, counted in
    /// the tenant's calendar.
    pub fn available_at(
        &self,
        earned_at: jiff::Timestamp,
        zone: &jiff::tz::TimeZone,
    ) -> jiff::Timestamp {
        if self.earn.pending_days == 0 {
            return earned_at;
        }
        earned_at
            .to_zoned_datetime(zone.clone())
            .checked_add(jiff::Span::new().days(self.earn.pending_days))
            .map(|z| z.timestamp())
            .unwrap_or(earned_at)
    }

    /// When points earned at `earned_at` expire, if ever: `months` later to the local minute,
    /// or at the first instant of the next local year.
    pub fn expires_at(
        &self,
        earned_at: jiff::Timestamp,
        zone: &jiff::tz::TimeZone,
    ) -> Option<jiff::Timestamp> {
        let local = earned_at.to_zoned_datetime(zone.clone());
        match self.expiry.policy {
            ExpiryPolicy::Never => None,
            ExpiryPolicy::MonthsAfterEarn => {
                let months = self.expiry.months.unwrap_or(12);
                local
                    .checked_add(jiff::Span::new().months(months))
                    .ok()
                    .map(|z| z.timestamp())
            }
            ExpiryPolicy::EndOfYear => jiff::civil::Date::new(local.year() + 1, 1, 1)
                .ok()
                .and_then(|d| d.to_zoned_datetime(zone.clone()).ok())
                .map(|z| z.timestamp()),
        }
    }

    /// Base points of an order: floor(base ÷ spend_per_point), nothing below the minimum.
    /// `redeemed_value` is the part paid with points, which earns nothing.
    pub fn base_points(&self, total: i64, shipping: i64, redeemed_value: i64) -> i64 {
        let base = match self.earn.base {
            EarnBase::PaidExcludingShipping => total - shipping,
            EarnBase::PaidTotal => total,
        } - redeemed_value;
        if base <= 0 || base < self.earn.min_order || self.earn.spend_per_point <= 0 {
            return 0;
        }
        base / self.earn.spend_per_point
    }

    /// Every rule the settings break, each naming its field (`earn.spend_per_point`…).
    pub fn validate(&self) -> Result<(), Invalid> {
        let mut e = Invalid::default();
        self.portal.check(&mut e);
        self.referral.check(&mut e);
        if self.currency != crate::tenancy::DEFAULT_CURRENCY {
            e.push_coded("currency", "currency.not_vnd", "only VND is supported");
        }
        if jiff::tz::TimeZone::get(&self.timezone).is_err() {
            e.push_coded(
                "timezone",
                "timezone.unknown",
                format!("{} is not an IANA time zone", self.timezone),
            );
        }
        let max = crate::limits::MAX_AMOUNT;
        crate::limits::within(
            &mut e,
            "earn.spend_per_point",
            self.earn.spend_per_point,
            1,
            max,
        );
        crate::limits::amount(&mut e, "earn.min_order", self.earn.min_order);
        if let Some(q) = &self.messaging.quiet_hours
            && crate::messaging::QuietHours::parse(&q.from, &q.to).is_none()
        {
            e.push_coded(
                "messaging.quiet_hours",
                "invalid",
                "two different times of day, such as 21:00 and 08:00",
            );
        }
        crate::limits::within(
            &mut e,
            "messaging.max_per_member_per_week",
            self.messaging.max_per_member_per_week,
            0,
            100,
        );
        if !(0..=365).contains(&self.earn.pending_days) {
            e.push_bounded(
                "earn.pending_days",
                "out_of_range",
                (0, 365),
                "must be between 0 and 365",
            );
        }
        match (self.expiry.policy, self.expiry.months) {
            (ExpiryPolicy::MonthsAfterEarn, Some(m)) if (1..=120).contains(&m) => {}
            (ExpiryPolicy::MonthsAfterEarn, _) => e.push_bounded(
                "expiry.months",
                "out_of_range",
                (1, 120),
                "months_after_earn needs months between 1 and 120",
            ),
            (_, Some(_)) => e.push_coded(
                "expiry.months",
                "expiry.months_not_applicable",
                "only months_after_earn takes months",
            ),
            (_, None) => {}
        }
        crate::limits::within(
            &mut e,
            "redeem.point_value",
            self.redeem.point_value,
            1,
            max,
        );
        if !(0..=100).contains(&self.redeem.max_invoice_percent) {
            e.push_bounded(
                "redeem.max_invoice_percent",
                "out_of_range",
                (0, 100),
                "must be between 0 and 100",
            );
        }
        match (self.tiers.window.kind, self.tiers.window.months) {
            (WindowKind::RollingMonths, Some(m)) if (1..=120).contains(&m) => {}
            (WindowKind::RollingMonths, _) => e.push_bounded(
                "tiers.window.months",
                "out_of_range",
                (1, 120),
                "rolling_months needs months between 1 and 120",
            ),
            (_, Some(_)) => e.push_coded(
                "tiers.window.months",
                "tier_window.months_not_applicable",
                "only rolling_months takes months",
            ),
            (_, None) => {}
        }
        if !(1..=120).contains(&self.tiers.review_every_months) {
            e.push_bounded(
                "tiers.review_every_months",
                "out_of_range",
                (1, 120),
                "must be between 1 and 120",
            );
        }
        e.into_result(|| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_example_parses_and_is_valid() {
        let json = r#"{
          "currency": "VND", "timezone": "Asia/Ho_Chi_Minh",
          "earn": {"spend_per_point": 10000, "base": "paid_excluding_shipping", "min_order": 0, "pending_days": 0},
          "expiry": {"policy": "months_after_earn", "months": 12},
          "redeem": {"point_value": 1000, "max_invoice_percent": 50},
          "activation": {"auto_on_first_paid_order": true},
          "tiers": {"metric": "spend", "window": {"kind": "rolling_months", "months": 12}, "downgrade": "at_review", "review_every_months": 12}
        }"#;
        let program: Program = serde_json::from_str(json).unwrap();
        assert_eq!(program, Program::default());
        program.validate().unwrap();
    }

    #[test]
    fn base_points_round_down_and_skip_shipping_and_points_paid() {
        let p = Program::default();
        assert_eq!(p.base_points(70_000, 0, 0), 7);
        assert_eq!(p.base_points(79_999, 0, 0), 7);
        assert_eq!(p.base_points(100_000, 30_000, 0), 7);
        assert_eq!(p.base_points(100_000, 0, 50_000), 5);
        let mut min = Program::default();
        min.earn.min_order = 50_000;
        assert_eq!(min.base_points(49_999, 0, 0), 0);
    }

    #[test]
    fn expiry_and_pending_follow_the_local_calendar() {
        use jiff::tz::TimeZone;
        let zone = TimeZone::get("Asia/Ho_Chi_Minh").unwrap();
        let earned: jiff::Timestamp = "2026-01-31T17:30:00Z".parse().unwrap(); // 00:30 on 1 Feb in Hà Nội
        let mut p = Program::default();
        assert_eq!(
            p.expires_at(earned, &zone),
            Some("2027-01-31T17:30:00Z".parse().unwrap())
        );
        p.expiry = ExpirySettings {
            policy: ExpiryPolicy::EndOfYear,
            months: None,
        };
        assert_eq!(
            p.expires_at(earned, &zone),
            Some("2026-12-31T17:00:00Z".parse().unwrap())
        );
        p.expiry = ExpirySettings {
            policy: ExpiryPolicy::Never,
            months: None,
        };
        assert_eq!(p.expires_at(earned, &zone), None);
        p.earn.pending_days = 7;
        assert_eq!(
            p.available_at(earned, &zone),
            "2026-02-07T17:30:00Z".parse().unwrap()
        );
    }

    #[test]
    fn broken_settings_name_their_fields() {
        let mut p = Program::default();
        p.earn.spend_per_point = 0;
        p.expiry = ExpirySettings {
            policy: ExpiryPolicy::MonthsAfterEarn,
            months: None,
        };
        p.redeem.max_invoice_percent = 101;
        p.timezone = "Mars/Olympus".into();
        let fields: Vec<String> = p
            .validate()
            .unwrap_err()
            .0
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "timezone",
                "earn.spend_per_point",
                "expiry.months",
                "redeem.max_invoice_percent"
            ]
        );
    }
}
