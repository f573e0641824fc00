//! Record events: what the CRM tells Herald happened to a record.

use serde::{Deserialize, Serialize};

/// The kind of record event that triggers routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// A record was created.
    Create,
    /// A record was updated.
    Update,
}

impl EventKind {
    /// The lowercase name used in rule files, JSON and the log.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Create => "create",
            EventKind::Update => "update",
        }
    }

    /// Parses `create` or `update`.
    pub fn parse(s: &str) -> Option<EventKind> {
        match s {
            "create" => Some(EventKind::Create),
            "update" => Some(EventKind::Update),
            _ => None,
        }
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
