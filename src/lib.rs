//! Herald: a condition-rule engine that routes CRM record events to customer-portal invitations.

pub mod email;
pub mod event;
pub mod store;
