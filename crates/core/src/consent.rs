//! The consent history (Decree 13/2023): every change of a member's marketing consent, per
//! channel, with where it came from and who made it. Campaigns send advertising only on a
//! channel whose latest entry grants it.

use jiff::Timestamp;
use serde::Serialize;

use crate::member::Consent;
use crate::tenancy::{Actor, ActorKind};

/// Where a consent change came from (API.md's sources).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConsentSource {
    Api,
    Ui,
    Portal,
    Unsubscribe,
    Import,
}

impl ConsentSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentSource::Api => "api",
            ConsentSource::Ui => "ui",
            ConsentSource::Portal => "portal",
            ConsentSource::Unsubscribe => "unsubscribe",
            ConsentSource::Import => "import",
        }
    }

    pub fn parse(text: &str) -> Option<ConsentSource> {
        [
            ConsentSource::Api,
            ConsentSource::Ui,
            ConsentSource::Portal,
            ConsentSource::Unsubscribe,
            ConsentSource::Import,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    /// A change made through a member's own form or API: staff work in the admin UI; keys,
    /// connectors and the command line come through the API.
    pub fn of(actor: &Actor) -> ConsentSource {
        match actor.kind {
            ActorKind::Staff => ConsentSource::Ui,
            ActorKind::ApiKey | ActorKind::System | ActorKind::Cli => ConsentSource::Api,
            ActorKind::Member => ConsentSource::Portal,
        }
    }
}

/// One entry of the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsentChange {
    #[serde(skip)]
    pub id: String,
    #[serde(skip)]
    pub member_id: String,
    /// `email`, `sms` or `zalo`.
    pub channel: String,
    pub granted: bool,
    pub source: ConsentSource,
    pub actor: Actor,
    pub at: Timestamp,
}

/// The channels whose consent differs between `before` (none for a new member: absent means
/// no) and `after`, with the new value, in a fixed order.
pub fn changes(before: Option<&Consent>, after: &Consent) -> Vec<(&'static str, bool)> {
    let before = before.copied().unwrap_or_default();
    [
        ("email", before.email, after.email),
        ("sms", before.sms, after.sms),
        ("zalo", before.zalo, after.zalo),
    ]
    .into_iter()
    .filter(|(_, was, is)| was != is)
    .map(|(channel, _, is)| (channel, is))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_member_records_what_it_grants_and_a_change_only_what_moved() {
        let granted = Consent {
            email: false,
            sms: true,
            zalo: true,
        };
        assert_eq!(changes(None, &granted), vec![("sms", true), ("zalo", true)]);
        assert_eq!(changes(None, &Consent::default()), vec![]);
        let after = Consent {
            email: true,
            sms: false,
            zalo: true,
        };
        assert_eq!(
            changes(Some(&granted), &after),
            vec![("email", true), ("sms", false)]
        );
        assert_eq!(changes(Some(&after), &after), vec![]);
    }

    #[test]
    fn sources_read_back_and_follow_the_actor() {
        for s in ["api", "ui", "portal", "unsubscribe", "import"] {
            assert_eq!(ConsentSource::parse(s).map(ConsentSource::as_str), Some(s));
        }
        let staff = Actor {
            kind: ActorKind::Staff,
            id: None,
            name: None,
        };
        assert_eq!(ConsentSource::of(&staff), ConsentSource::Ui);
    }
}
