//! Herald: a condition-rule engine that routes CRM record events to customer-portal invitations.

pub mod analysis;
pub mod ast;
pub mod check;
pub mod compile;
pub mod condition;
pub mod diagnostics;
pub mod email;
pub mod engine;
pub mod eval;
pub mod event;
pub mod explain;
pub mod fmt;
pub mod interop;
pub mod interp;
pub mod ir;
mod jsonline;
pub mod load;
pub mod opt;
pub mod print;
pub mod record;
pub mod route;
pub mod rules;
pub mod schema;
pub mod span;
pub mod store;
pub mod syntax;
pub mod value;
