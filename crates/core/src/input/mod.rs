//! What clients send, and the checks that turn it into domain values: the one layer where
//! request bodies are validated, the same way for every entity.
//!
//! Each body is a plain type (`MemberIn`, `BrandInput`, `NewStaff`…; an order's is
//! [`crate::order::OrderInput`]) with a pure check that returns the checked values or every
//! broken rule at once ([`crate::Invalid`], one coded error per field). The edge — an API
//! handler, an admin form, the command line — only reads its wire format into these types
//! (JSON shapes, RFC 3339 stamps, numbers typed into a form); the use-case in `app` runs the
//! check first, so no way in can skip it. Rules that need the database (a code already taken,
//! a brand that does not exist) are the use-case's, after the check.

use serde::{Deserialize, Deserializer};

pub mod catalog;
pub mod changes;
pub mod member;
pub mod points;
pub mod staff;

/// For `Option<Option<T>>` fields of partial updates: tells "absent" (outer `None`, with
/// `#[serde(default)]`) from `null` (`Some(None)`).
pub fn nullable<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}
