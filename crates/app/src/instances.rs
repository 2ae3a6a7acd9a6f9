//! Several `loyalty serve` instances on one PostgreSQL database: each keeps a few caches of
//! what the order path reads on every request (a tenant's settings, earning rules, tier ladder,
//! API keys), and hears from the others when one of them changes it.
//!
//! A change publishes its topic in its own transaction (`changed`, called by the activity log
//! for the entities cached here), so another instance drops its copy just after the commit and
//! reads the new one at its next request. The caches' own time limits stay as the last resort
//! for a listener that could not connect.

use loyalty_store::notify::{Heard, publish};
use loyalty_store::{DbError, Sql};

use crate::App;

/// What an instance caches of an entity, by the activity log's entity name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cached {
    Settings,
    Rules,
    Tiers,
    Keys,
}

impl Cached {
    fn of_entity(entity: &str) -> Option<Cached> {
        match entity {
            "program" | "tenant" => Some(Cached::Settings),
            "earn_rule" => Some(Cached::Rules),
            "tier" => Some(Cached::Tiers),
            "api_key" => Some(Cached::Keys),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Cached::Settings => "settings",
            Cached::Rules => "rules",
            Cached::Tiers => "tiers",
            Cached::Keys => "keys",
        }
    }

    fn parse(name: &str) -> Option<Cached> {
        [Cached::Settings, Cached::Rules, Cached::Tiers, Cached::Keys]
            .into_iter()
            .find(|c| c.name() == name)
    }
}

/// Tells the other instances, when this transaction commits, that the tenant's `entity`
/// changed, if instances cache it.
pub(crate) fn changed(sql: &mut dyn Sql, tenant_id: &str, entity: &str) -> Result<(), DbError> {
    match Cached::of_entity(entity) {
        Some(cached) => publish(sql, &format!("{}:{tenant_id}", cached.name())),
        None => Ok(()),
    }
}

impl App {
    /// Starts hearing other instances' changes (PostgreSQL; nothing to hear on SQLite).
    pub fn listen_for_changes(&self) {
        let Some(mut heard) = self.db().listen() else {
            return;
        };
        let app = self.clone();
        tokio::spawn(async move {
            while let Some(word) = heard.recv().await {
                app.hear(&word);
            }
        });
    }

    fn hear(&self, word: &Heard) {
        match word {
            Heard::Reconnected => {
                self.forget_all_tenants();
                self.rules.forget_all();
                self.ladders.forget_all();
                self.keys.forget_all();
            }
            Heard::Topic(topic) => {
                let Some((cached, tenant_id)) = topic
                    .split_once(':')
                    .and_then(|(name, tenant)| Some((Cached::parse(name)?, tenant)))
                else {
                    tracing::warn!(
                        topic,
                        "an instance published a topic this one does not know"
                    );
                    return;
                };
                match cached {
                    Cached::Settings => self.forget_tenant(tenant_id),
                    Cached::Rules => self.rules.forget(tenant_id),
                    Cached::Tiers => self.ladders.forget(tenant_id),
                    // Keys are cached by prefix; revocations are rare, so all go.
                    Cached::Keys => self.keys.forget_all(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cached_entity_has_a_topic_that_reads_back() {
        for entity in ["program", "tenant", "earn_rule", "tier", "api_key"] {
            let cached = Cached::of_entity(entity).expect(entity);
            assert_eq!(Cached::parse(cached.name()), Some(cached));
        }
        assert_eq!(Cached::of_entity("member"), None);
    }
}
