//! The loyalty platform's domain: types that are valid by construction and the pure rules that
//! decide things (phone numbers, member identity, later points, tiers and segments).
//!
//! Nothing here does I/O or knows about HTTP or SQL; the `store` crate remembers, `app` sequences,
//! `server` speaks HTTP. Most unit and property tests of the product live here.

pub mod adjustment;
pub mod amount;
pub mod automation;
pub mod backoff;
pub mod birthday;
pub mod book;
pub mod campaign;
pub mod clock;
pub mod code;
pub mod consent;
pub mod earning;
pub mod email;
pub mod error;
pub mod event;
pub mod geo;
pub mod history;
pub mod id;
pub mod import;
pub mod input;
pub mod ledger;
pub mod limits;
pub mod lunar;
pub mod member;
pub mod merge;
pub mod messaging;
pub mod opening;
pub mod order;
pub mod order_change;
pub mod order_view;
pub mod phone;
pub mod portal;
pub mod program;
pub mod quote;
pub mod records;
pub mod referral;
pub mod reward;
pub mod rfm;
pub mod rules;
pub mod segment;
pub mod tenancy;
pub mod text;
pub mod tier;
pub mod tier_moves;
pub mod voucher;
pub mod webhook;

pub use error::{FieldError, Invalid};
