//! Routing: for one event and one rule set, the decision of every portal (RULES.md, "Routing one
//! event"). Pure: the already-invited check and the log belong to the engine.

use crate::event::EventKind;
use crate::interp::{self, Env};
use crate::ir::{FieldId, FieldTable, read_field};
use crate::rules::{Portal, RuleSet, Status};
use crate::value::{Truth, Value};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One record event.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, Serialize)]
pub struct Event {
    /// Create or update.
    #[serde(rename = "event")]
    pub kind: EventKind,
    /// The record (a JSON object).
    pub record: serde_json::Value,
}

/// What happened for one portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// An invitation goes out.
    Invited,
    /// The invitation could not be sent; logged as a failure.
    Failed,
    /// The portal does not apply to this event; not logged.
    Skipped,
}

/// Why a portal skipped or failed an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// The portal is paused.
    Paused,
    /// The event kind is not in the portal's `on` line.
    EventNotSelected,
    /// `require` is false or unknown.
    CommonConditionNotMet,
    /// No `invite` branch is true and there is no `otherwise`.
    NoLanguageMatched,
    /// The record was invited to this portal before.
    AlreadyInvited,
    /// The email field is missing, null or empty.
    MissingEmail,
    /// The email field is not a deliverable address.
    InvalidEmail,
}

impl Reason {
    /// The kebab-case code.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Paused => "paused",
            Reason::EventNotSelected => "event-not-selected",
            Reason::CommonConditionNotMet => "common-condition-not-met",
            Reason::NoLanguageMatched => "no-language-matched",
            Reason::AlreadyInvited => "already-invited",
            Reason::MissingEmail => "missing-email",
            Reason::InvalidEmail => "invalid-email",
        }
    }
}

/// The decision for one portal and one event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// The portal's name.
    pub portal: String,
    /// The record's id.
    pub record_id: String,
    /// The record's display name.
    pub record_name: Option<String>,
    /// The email as it will be used (trimmed), when present.
    pub email: Option<String>,
    /// Invited, failed or skipped.
    pub outcome: Outcome,
    /// The language, for invitations and failures after a language was chosen.
    pub language: Option<String>,
    /// Why it was skipped or failed.
    pub reason: Option<Reason>,
    /// A human explanation of a failure.
    pub message: Option<String>,
    /// The group the invitation is sent from.
    pub sender_group: Option<String>,
    /// The event kind.
    pub event: EventKind,
    /// When it was decided.
    pub time: DateTime<Utc>,
    /// The rule set version that decided it.
    pub rule_set_version: String,
}

/// Why an event cannot be routed at all.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EventError {
    /// The record is not a JSON object.
    #[error("the record is not a JSON object")]
    NotAnObject,
    /// A portal's id field is missing, null or empty.
    #[error("the record has no id: field `{field}` (identity of portal \"{portal}\") is missing or empty")]
    MissingRecordId {
        /// The portal.
        portal: String,
        /// The id field.
        field: String,
    },
    /// A portal's id field is not a string or an integer.
    #[error("the record id field `{field}` must be a string or an integer, found {found}")]
    BadRecordId {
        /// The id field.
        field: String,
        /// What was found.
        found: String,
    },
}

fn text(fields: &FieldTable, record: &serde_json::Value, id: FieldId) -> Option<String> {
    let info = fields.get(id)?;
    match read_field(record, info).value {
        Value::Str(s) => Some(s),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

fn record_id(set: &RuleSet, portal: &Portal, record: &serde_json::Value) -> Result<String, EventError> {
    let info = set.fields.get(portal.identity.id);
    let field = info.map(|i| i.display()).unwrap_or_default();
    let raw = info.and_then(|i| crate::ir::lookup_json(record, &i.path));
    match raw {
        None | Some(serde_json::Value::Null) => Err(EventError::MissingRecordId {
            portal: portal.name.clone(),
            field,
        }),
        Some(serde_json::Value::String(s)) if s.trim().is_empty() => Err(EventError::MissingRecordId {
            portal: portal.name.clone(),
            field,
        }),
        Some(serde_json::Value::String(s)) => Ok(s.clone()),
        Some(serde_json::Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
        Some(other) => Err(EventError::BadRecordId {
            field,
            found: match other {
                serde_json::Value::Bool(_) => "a boolean".into(),
                serde_json::Value::Number(_) => "a decimal number".into(),
                serde_json::Value::Array(_) => "an array".into(),
                _ => "an object".into(),
            },
        }),
    }
}

/// Evaluates a condition with the reference semantics.
pub fn eval(set: &RuleSet, node: &crate::ir::Node, record: &serde_json::Value, now: DateTime<Utc>) -> Truth {
    let env = Env {
        record,
        fields: &set.fields,
        now,
    };
    interp::truth(node, &env)
}

/// Decides every portal for an event, up to (not including) the already-invited check, which
/// needs the log. Email checks are done here: the engine applies already-invited before them.
pub fn decide(set: &RuleSet, event: &Event, now: DateTime<Utc>) -> Result<Vec<Decision>, EventError> {
    if !event.record.is_object() {
        return Err(EventError::NotAnObject);
    }
    let mut out = Vec::with_capacity(set.portals.len());
    for portal in &set.portals {
        let record_id = record_id(set, portal, &event.record)?;
        let mut d = Decision {
            portal: portal.name.clone(),
            record_id,
            record_name: text(&set.fields, &event.record, portal.identity.name),
            email: None,
            outcome: Outcome::Skipped,
            language: None,
            reason: None,
            message: None,
            sender_group: portal.group.clone(),
            event: event.kind,
            time: now,
            rule_set_version: set.version.clone(),
        };
        match choose_language(set, portal, event, now) {
            Err(reason) => d.reason = Some(reason),
            Ok(language) => {
                d.language = Some(language);
                d.outcome = Outcome::Invited;
                let raw_email = text(&set.fields, &event.record, portal.identity.email);
                match raw_email.as_deref().map(crate::email::check) {
                    None => {
                        d.outcome = Outcome::Failed;
                        d.reason = Some(Reason::MissingEmail);
                        d.message = Some(String::from("the record has no email address"));
                    }
                    Some(Ok(email)) => d.email = Some(email.to_string()),
                    Some(Err(e)) => {
                        d.outcome = Outcome::Failed;
                        d.reason = Some(if e.reason() == "missing-email" {
                            Reason::MissingEmail
                        } else {
                            Reason::InvalidEmail
                        });
                        d.message = Some(e.to_string());
                        d.email = raw_email;
                    }
                }
            }
        }
        out.push(d);
    }
    Ok(out)
}

/// Steps 1 to 3 of routing: the language, or why the portal skips the event.
pub fn choose_language(set: &RuleSet, portal: &Portal, event: &Event, now: DateTime<Utc>) -> Result<String, Reason> {
    if portal.status == Status::Paused {
        return Err(Reason::Paused);
    }
    if !portal.triggered_by(event.kind) {
        return Err(Reason::EventNotSelected);
    }
    if let Some(req) = &portal.require {
        if eval(set, &req.node, &event.record, now) != Truth::True {
            return Err(Reason::CommonConditionNotMet);
        }
    }
    for b in &portal.branches {
        let hit = match &b.when {
            None => true,
            Some(c) => eval(set, &c.node, &event.record, now) == Truth::True,
        };
        if hit {
            return Ok(b.language.clone());
        }
    }
    portal.otherwise.clone().ok_or(Reason::NoLanguageMatched)
}
