//! Empty: this crate only holds `benches/engines.rs` (run `cargo bench -p bench-compare`).
