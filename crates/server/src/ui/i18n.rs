//! The admin UI's words, in Vietnamese (the default) and English. Each language is a plain
//! key file compiled into the binary (`i18n/vi.txt`, `i18n/en.txt`: `key = text` per line), so
//! a translator edits text, not templates. A test checks that both files have the same keys
//! and that every key the templates use exists.

use std::collections::HashMap;
use std::sync::LazyLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Vi,
    En,
}

impl Lang {
    pub fn parse(code: &str) -> Option<Lang> {
        match code {
            "vi" => Some(Lang::Vi),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }

    /// The other language, for the switch in the header.
    pub fn other(self) -> Lang {
        match self {
            Lang::Vi => Lang::En,
            Lang::En => Lang::Vi,
        }
    }
}

pub(crate) const VI: &str = include_str!("../../i18n/vi.txt");
pub(crate) const EN: &str = include_str!("../../i18n/en.txt");

pub(crate) fn parse_catalogue(text: &str) -> HashMap<&str, &str> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once(" = "))
        .map(|(key, value)| (key.trim(), value.trim()))
        .collect()
}

static CATALOGUES: LazyLock<[HashMap<&'static str, &'static str>; 2]> =
    LazyLock::new(|| [parse_catalogue(VI), parse_catalogue(EN)]);

/// The text for `key`, if the catalogue has it.
pub fn lookup(lang: Lang, key: &str) -> Option<&'static str> {
    CATALOGUES[lang as usize].get(key).copied()
}

/// The text for `key`, or the key itself when it is missing (visible, and caught by the test).
pub fn text(lang: Lang, key: &str) -> &str {
    let catalogue = &CATALOGUES[lang as usize];
    catalogue.get(key).copied().unwrap_or(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_have_the_same_keys() {
        let (vi, en) = (parse_catalogue(VI), parse_catalogue(EN));
        let mut missing: Vec<_> = vi.keys().filter(|k| !en.contains_key(*k)).collect();
        missing.extend(en.keys().filter(|k| !vi.contains_key(*k)));
        assert!(missing.is_empty(), "keys in one language only: {missing:?}");
    }

    #[test]
    fn every_key_the_templates_and_pages_use_exists() {
        let vi = parse_catalogue(VI);
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/");
        let mut unknown = Vec::new();
        for dir in ["templates", "src/ui"] {
            for entry in std::fs::read_dir(format!("{root}{dir}")).unwrap() {
                let path = entry.unwrap().path();
                if path.ends_with("i18n.rs") {
                    continue;
                }
                let text = std::fs::read_to_string(path).unwrap();
                // Templates call the catalogue as c.t(…), Rust as text(<a lang>, …).
                let calls = text.split("c.t(\"").skip(1);
                let rust = [
                    "text(lang, \"",
                    "text(staff.lang, \"",
                    "text(self.c.lang, \"",
                ]
                .into_iter()
                .flat_map(|call| text.split(call).skip(1));
                for piece in calls.chain(rust) {
                    let key = piece.split('"').next().unwrap_or_default();
                    if !vi.contains_key(key) {
                        unknown.push(key.to_string());
                    }
                }
            }
        }
        // Keys the pages build from a value: every value they can be built from.
        let built = [
            (
                "source.",
                &[
                    "pos", "web", "import", "haravan", "shopify", "sapo", "kiotviet",
                ][..],
            ),
            ("delivery.", &["pending", "delivered", "failed"][..]),
            ("inbound.", &["applied", "ignored", "error"][..]),
            (
                "integrations.guide_",
                &["haravan", "shopify", "sapo", "kiotviet"][..],
            ),
        ];
        for (prefix, values) in built {
            for value in values {
                let key = format!("{prefix}{value}");
                if !vi.contains_key(key.as_str()) {
                    unknown.push(key);
                }
            }
        }
        assert!(
            unknown.is_empty(),
            "keys missing from i18n/vi.txt: {unknown:?}"
        );
    }

    /// Every refusal the use-cases can give a page (a conflict's or a business rule's code) is
    /// said in both languages (`rule.{code}`), so no English sentence reaches a Vietnamese page.
    /// The codes are read from the sources: `AppError::conflict("…"`, `code: "…"` in the app,
    /// and the refusal enums' `code`/`as_str` in core.
    #[test]
    fn every_domain_refusal_is_said_in_both_languages() {
        let (vi, en) = (parse_catalogue(VI), parse_catalogue(EN));
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../");
        let quoted = |piece: &str| -> Option<String> {
            let rest = piece.trim_start().strip_prefix('"')?;
            Some(rest.split('"').next()?.to_string())
        };
        let mut codes = std::collections::BTreeSet::new();
        for entry in std::fs::read_dir(format!("{root}app/src")).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for marker in ["AppError::conflict(", "code: \""] {
                for piece in text.split(marker).skip(1) {
                    let piece = if marker.ends_with('"') {
                        format!("\"{piece}")
                    } else {
                        piece.to_string()
                    };
                    codes.extend(quoted(&piece));
                }
            }
        }
        for file in ["voucher", "reward", "referral", "order_change", "merge"] {
            let text = std::fs::read_to_string(format!("{root}core/src/{file}.rs")).unwrap();
            // Only the refusal enums' impls (`impl Refusal {`, `impl RewardRefusal {`…).
            let refusals = text
                .split("\nimpl ")
                .filter(|i| {
                    i.split_whitespace()
                        .next()
                        .is_some_and(|n| n.ends_with("Refusal"))
                })
                .collect::<Vec<_>>()
                .join("\n");
            for start in [
                "pub fn code(self)",
                "pub fn code(&self)",
                "pub fn as_str(self)",
            ] {
                for body in refusals.split(start).skip(1) {
                    let body = body.split("\n    }\n").next().unwrap_or_default();
                    for arm in body.split("=> ").skip(1) {
                        codes.extend(quoted(arm));
                    }
                }
            }
        }
        assert!(codes.len() > 30, "the scan found the codes: {codes:?}");
        let missing: Vec<&String> = codes
            .iter()
            .filter(|c| {
                let key = format!("rule.{c}");
                !vi.contains_key(key.as_str()) || !en.contains_key(key.as_str())
            })
            .collect();
        assert!(
            missing.is_empty(),
            "refusals without words (add rule.<code> to both catalogues): {missing:?}"
        );
    }

    #[test]
    fn a_missing_key_shows_itself() {
        assert_eq!(text(Lang::En, "no.such.key"), "no.such.key");
        assert_eq!(text(Lang::Vi, "nav.members"), "Thành viên");
        assert_eq!(text(Lang::En, "nav.members"), "Members");
    }
}
