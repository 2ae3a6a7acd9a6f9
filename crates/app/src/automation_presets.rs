//! Ready-made journeys a merchant starts from (issue 16): "Chúc mừng sinh nhật", "Cảm ơn sau
//! mua hàng", "Nhớ bạn", "Điểm sắp hết hạn", "Chúc mừng lên hạng" — in Vietnamese or English,
//! sent through the channel the merchant picks (and, for the birthday, with a voucher of the
//! program they pick). Saved switched off, to be read before they run.

use loyalty_core::automation::{Direction, Step, Trigger};
use loyalty_core::campaign::CampaignChannel;
use serde_json::json;

use crate::automations::AutomationIn;

/// The journeys, by key, in the order a shop sets them up.
pub const PRESETS: [&str; 5] = [
    "birthday",
    "thank_you",
    "win_back",
    "points_expiring",
    "tier_up",
];

/// The journey `key` in `lang` (`vi` or `en`), sending through `channel_id`; `None` for an
/// unknown key, or a birthday without a voucher program.
pub fn preset(
    key: &str,
    lang: &str,
    channel_id: &str,
    voucher_program_id: Option<&str>,
) -> Option<AutomationIn> {
    let vi = lang != "en";
    let text = |vi_text: &str, en_text: &str| if vi { vi_text } else { en_text }.to_string();
    let send = |purpose: &str, body: String| Step::Send {
        channels: vec![CampaignChannel {
            channel_id: channel_id.to_string(),
            template: json!({"text": body}),
        }],
        purpose: Some(purpose.to_string()),
    };
    let (name, trigger, steps) = match key {
        "birthday" => (
            text("Chúc mừng sinh nhật", "Happy birthday"),
            Trigger::Birthday { days_before: 7 },
            vec![
                Step::IssueVoucher {
                    voucher_program_id: voucher_program_id?.to_string(),
                },
                send(
                    "advertising",
                    text(
                        "{{ shop.name }} chúc mừng sinh nhật {{ member.first_name }}! Quà của bạn: mã {{ voucher.code }}, dùng trong tháng sinh nhật.",
                        "Happy birthday from {{ shop.name }}, {{ member.first_name }}! Your gift: code {{ voucher.code }}, for your birthday month.",
                    ),
                ),
                Step::Wait {
                    duration: "P7D".into(),
                },
                send(
                    "advertising",
                    text(
                        "Hôm nay là sinh nhật bạn, {{ member.first_name }}! Đừng quên mã quà {{ voucher.code }} tại {{ shop.name }}.",
                        "It's your birthday today, {{ member.first_name }}! Don't forget your gift code {{ voucher.code }} at {{ shop.name }}.",
                    ),
                ),
            ],
        ),
        "thank_you" => (
            text("Cảm ơn sau mua hàng", "Thank you for your order"),
            Trigger::OrderPaid {
                min_total: None,
                index: None,
            },
            vec![
                Step::Wait {
                    duration: "PT2H".into(),
                },
                send(
                    "customer_care",
                    text(
                        "{{ shop.name }} cảm ơn {{ member.first_name }} đã mua hàng! Bạn đang có {{ member.points }} điểm.",
                        "Thank you for your order, {{ member.first_name }}! You have {{ member.points }} points at {{ shop.name }}.",
                    ),
                ),
            ],
        ),
        "win_back" => (
            text("Nhớ bạn", "We miss you"),
            Trigger::NoPurchase { days: 60 },
            vec![send(
                "advertising",
                text(
                    "{{ shop.name }} nhớ bạn, {{ member.first_name }}! Ghé lại nhé, bạn đang có {{ member.points }} điểm.",
                    "We miss you at {{ shop.name }}, {{ member.first_name }}! Come back: you have {{ member.points }} points.",
                ),
            )],
        ),
        "points_expiring" => (
            text("Điểm sắp hết hạn", "Points about to expire"),
            Trigger::PointsExpiring { days_before: 7 },
            vec![send(
                "customer_care",
                text(
                    "{{ member.first_name }} ơi, {{ member.points_expiring }} điểm của bạn tại {{ shop.name }} sắp hết hạn. Dùng ngay nhé!",
                    "{{ member.first_name }}, {{ member.points_expiring }} of your points at {{ shop.name }} expire soon. Use them now!",
                ),
            )],
        ),
        "tier_up" => (
            text("Chúc mừng lên hạng", "Congratulations on your new tier"),
            Trigger::TierChanged {
                direction: Direction::Up,
                tier_id: None,
            },
            vec![send(
                "customer_care",
                text(
                    "Chúc mừng {{ member.first_name }} đã lên hạng {{ member.tier }} tại {{ shop.name }}!",
                    "Congratulations, {{ member.first_name }}: you are now {{ member.tier }} at {{ shop.name }}!",
                ),
            )],
        ),
        _ => return None,
    };
    Some(AutomationIn {
        name,
        active: Some(false),
        trigger,
        steps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_is_a_valid_journey_in_both_languages() {
        for key in PRESETS {
            for lang in ["vi", "en"] {
                let journey = preset(key, lang, "chn_1", Some("vpr_1")).unwrap();
                assert_eq!(journey.active, Some(false), "saved off, to be read first");
                loyalty_core::automation::check(&journey.trigger, &journey.steps)
                    .unwrap_or_else(|e| panic!("{key} {lang}: {e:?}"));
            }
        }
        assert!(
            preset("birthday", "vi", "chn_1", None).is_none(),
            "a birthday gift needs a program"
        );
        assert!(preset("full_moon", "vi", "chn_1", None).is_none());
    }
}
