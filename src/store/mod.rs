//! The invitation and failure log.
