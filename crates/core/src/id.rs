//! Identifiers. IDs are opaque strings to API clients; inside they are a short type prefix
//! (so a log line or a support ticket says what an id is) and a UUID v7 (time-ordered, so new
//! rows append to indexes and cursor paging follows creation order).
//!
//! The ids that travel furthest through the code (tenant, member, order, voucher program, API
//! key) have a type each, so a member id cannot be passed where an order id is expected. They
//! read as `&str` (`Deref`), which is what the store binds; an id from a request is taken as it
//! comes (`From<String>`): an id of the wrong shape is simply not found.

use std::fmt;
use std::ops::Deref;

/// A new identifier such as `mem_0193a0f4c1d27b3e8a4f5c6d7e8f9a0b`.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

macro_rules! id_types {
    ($($(#[$doc:meta])* $name:ident = $prefix:literal;)*) => {$(
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A fresh id with this type's prefix.
            #[allow(clippy::new_without_default)] // a default id would be a fresh one: say so
            pub fn new() -> Self {
                Self(new_id($prefix))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_string())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }
    )*};
}

id_types! {
    /// A merchant: every row and every query is scoped by one.
    TenantId = "ten";
    /// A customer enrolled in a tenant's program.
    MemberId = "mem";
    /// An order as we store it (not the platform's `external_id`).
    OrderId = "ord";
    /// A voucher program (the codes belong to it).
    ProgramId = "vpr";
    /// An API key (its id, never its secret).
    KeyId = "key";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_prefix_and_sort_by_creation() {
        let a = super::new_id("mem");
        let b = super::new_id("mem");
        assert!(a.starts_with("mem_") && a.len() == 36);
        assert!(a < b);
    }

    #[test]
    fn typed_ids_read_as_text_and_serialize_as_plain_strings() {
        let member = MemberId::new();
        assert!(member.starts_with("mem_"));
        assert_eq!(member.as_str().len(), 36);
        let json = serde_json::to_string(&member).unwrap();
        assert_eq!(json, format!("\"{member}\""));
        let back: MemberId = serde_json::from_str(&json).unwrap();
        assert_eq!(back, member);
        assert_eq!(OrderId::from("ord_x"), "ord_x");
    }
}
