//! The checker: name resolution, type checking and rule-set validation, from AST to typed IR.

pub mod expr;
pub mod lang;
pub mod rules;
