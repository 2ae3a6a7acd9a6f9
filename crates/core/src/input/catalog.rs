//! Brands (thương hiệu) and stores (cửa hàng / chi nhánh) as a client sends them, and their
//! checks. Whether a code is already taken, or a store's brand exists, the use-case asks the
//! database afterwards.

use crate::error::Invalid;
use crate::geo::province_code;
use crate::tenancy::{Store, check_code};

/// Fields of a brand; on update, `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct BrandInput {
    pub code: Option<String>,
    pub name: Option<String>,
}

/// Fields of a store; on update, `None` keeps the current value and `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct StoreInput {
    pub code: Option<String>,
    pub name: Option<String>,
    /// The brand's code.
    pub brand: Option<Option<String>>,
    pub province: Option<Option<String>>,
    pub district: Option<Option<String>>,
    pub address: Option<Option<String>>,
    pub active: Option<bool>,
}

/// A brand's checked fields: a normalised code and a label; `None` where nothing was given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrandFields {
    pub code: Option<String>,
    pub name: Option<String>,
}

impl BrandInput {
    /// A new brand needs both its code and its name.
    pub fn validate_new(self) -> Result<(String, String), Invalid> {
        let mut errors = Invalid::default();
        if self.code.is_none() {
            errors.required("code");
        }
        if self.name.is_none() {
            errors.required("name");
        }
        let fields = self.check(&mut errors);
        errors.into_result(|| {
            let (code, name) = (fields.code, fields.name);
            (code.unwrap_or_default(), name.unwrap_or_default())
        })
    }

    /// A change: only what was given is checked.
    pub fn validate_change(self) -> Result<BrandFields, Invalid> {
        let mut errors = Invalid::default();
        let fields = self.check(&mut errors);
        errors.into_result(|| fields)
    }

    fn check(self, errors: &mut Invalid) -> BrandFields {
        BrandFields {
            code: self.code.and_then(|c| errors.check("code", check_code(&c))),
            name: self.name.map(|n| errors.label("name", &n)),
        }
    }
}

fn optional_text(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

impl StoreInput {
    /// A new store needs its code and its name; the rest is optional.
    pub fn validate_new(self, blank: Store) -> Result<(Store, Option<Option<String>>), Invalid> {
        let mut errors = Invalid::default();
        if self.code.is_none() {
            errors.required("code");
        }
        if self.name.is_none() {
            errors.required("name");
        }
        let applied = self.apply(blank, &mut errors);
        errors.into_result(|| applied)
    }

    /// `store` with the given fields applied, and the brand code to look up (`Some(None)`
    /// detaches the brand).
    pub fn validate_change(self, store: Store) -> Result<(Store, Option<Option<String>>), Invalid> {
        let mut errors = Invalid::default();
        let applied = self.apply(store, &mut errors);
        errors.into_result(|| applied)
    }

    fn apply(self, mut store: Store, errors: &mut Invalid) -> (Store, Option<Option<String>>) {
        if let Some(code) = self.code
            && let Some(code) = errors.check("code", check_code(&code))
        {
            store.code = code;
        }
        if let Some(name) = self.name {
            store.name = errors.label("name", &name);
        }
        if let Some(province) = self.province {
            store.province = optional_text(province);
            store.province_code = store
                .province
                .as_deref()
                .and_then(province_code)
                .map(str::to_string);
        }
        if let Some(district) = self.district {
            store.district = optional_text(district);
        }
        if let Some(address) = self.address {
            store.address = optional_text(address);
        }
        if let Some(active) = self.active {
            store.active = active;
        }
        (store, self.brand)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_brand_names_every_missing_field() {
        let invalid = BrandInput::default().validate_new().unwrap_err();
        let codes: Vec<_> = invalid
            .0
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect();
        assert!(codes.contains(&("code", "required")));
        assert!(codes.contains(&("name", "required")));
    }

    #[test]
    fn a_brand_change_checks_only_what_is_given() {
        let change = BrandInput {
            name: Some("  Phở Việt  ".into()),
            ..BrandInput::default()
        };
        let fields = change.validate_change().unwrap();
        assert_eq!(fields.name.as_deref(), Some("Phở Việt"));
        assert_eq!(fields.code, None);
    }
}

/// A product's fields as the back office edits them (the SKU stays: orders name it).
#[derive(Debug, Clone, Default)]
pub struct ProductInput {
    pub name: String,
    pub category: Option<String>,
    pub brand: Option<String>,
    pub price: i64,
}

impl ProductInput {
    /// The checked row for `sku`: a name of 1 to 200 characters, a category and a brand of at
    /// most 100 (blank: none), a price from 0 to the largest amount.
    pub fn validate(self, sku: &str) -> Result<crate::history::ProductRow, Invalid> {
        let mut errors = Invalid::default();
        let name = errors.label("name", &self.name);
        let mut short = |field: &str, value: Option<String>| {
            let value = optional_text(value);
            if value.as_ref().is_some_and(|v| v.chars().count() > 100) {
                errors.push_bounded(
                    field,
                    "length",
                    (0, 100),
                    "must have at most 100 characters",
                );
            }
            value
        };
        let (category, brand) = (short("category", self.category), short("brand", self.brand));
        if !(0..=crate::limits::MAX_AMOUNT).contains(&self.price) {
            errors.push_bounded(
                "price",
                "range",
                (0, crate::limits::MAX_AMOUNT),
                "must be a whole amount from 0",
            );
        }
        errors.into_result(|| crate::history::ProductRow {
            sku: sku.to_string(),
            name,
            category,
            brand,
            price: self.price,
        })
    }
}
