//! Identifiers. IDs are opaque strings to API clients; inside they are a short type prefix
//! (so a log line or a support ticket says what an id is) and a UUID v7 (time-ordered, so new
//! rows append to indexes and cursor paging follows creation order).

/// A new identifier such as `mem_0193a0f4c1d27b3e8a4f5c6d7e8f9a0b`.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_carry_their_prefix_and_sort_by_creation() {
        let a = super::new_id("mem");
        let b = super::new_id("mem");
        assert!(a.starts_with("mem_") && a.len() == 36);
        assert!(a < b);
    }
}
