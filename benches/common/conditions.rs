//! The issue's three conditions, shared by `benches/eval.rs` and `tests/codegen.rs` (which
//! checks that `benches/generated/eval.rs` is their generated code).
#![allow(dead_code)]

/// C1.
pub const C1: &str = r#"country == "FR" and subscription == "paid""#;
/// C2.
pub const C2: &str = r#"subscription == "paid" and (country in ["FR","BE","CH","LU","MC"] or language == "fr") and not opted_out and age >= 18"#;
/// C3.
pub const C3: &str = r#"(country == "FR" or country == "BE" or country == "CH" or country == "LU" or country == "MC" or country == "DE" or country == "AT" or country == "ES" or country == "IT" or country == "PT" or country == "GB" or country == "IE") and lifetime_value > 1000.5 and tags contains "vip" and address.city != """#;
