//! Realistic Vietnamese retail and F&B data, generated from a seed, and the demo tenant.
//!
//! - [`words`]: names, provinces, shops and products.
//! - [`generate`]: people and a year of orders with a realistic shape, deterministic per seed.
//! - [`seed`]: `loyalty demo` — a tenant built from them through the real use-cases.

pub mod generate;
pub mod seed;
pub mod words;
