//! Routing: for one event and one rule set, the decision of every portal (RULES.md, "Routing one
//! event"). Pure: the already-invited check and the log belong to the engine.

use crate::compile::Op;
use crate::eval::Ctx;
use crate::event::EventKind;
use crate::ir::FieldId;
use crate::record::{Access, JsonRecord, Val};
use crate::rules::{Portal, RuleSet, Status};
use crate::value::Truth;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::borrow::Cow;

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
    #[error(
        "the record has no id: field `{field}` (identity of portal \"{portal}\") is missing or empty"
    )]
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

/// A text field of the record, without copying a string the record holds.
fn text_cow<'r, R: Access + ?Sized>(
    set: &RuleSet,
    record: &'r R,
    id: FieldId,
) -> Option<Cow<'r, str>> {
    let slot = id.0 as usize;
    let meta = set.compiled.fields.get(slot)?;
    match record.load(slot, meta) {
        Val::Str(s) => Some(s),
        Val::Int(i) => Some(Cow::Owned(i.to_string())),
        _ => None,
    }
}

/// The record's id for `portal`, written into `out` (whose memory is reused).
fn record_id_into<R: Access + ?Sized>(
    set: &RuleSet,
    portal: &Portal,
    record: &R,
    out: &mut String,
) -> Result<(), EventError> {
    let slot = portal.identity.id.0 as usize;
    // Only the error paths need the field's name: building it is not free.
    let field = || {
        set.fields
            .get(portal.identity.id)
            .map(|i| i.display())
            .unwrap_or_default()
    };
    let Some(meta) = set.compiled.fields.get(slot) else {
        return Err(EventError::MissingRecordId {
            portal: portal.name.clone(),
            field: field(),
        });
    };
    // `load_id`: an integer id is its decimal text, even under a field declared `text`.
    match record.load_id(slot, meta) {
        Val::Null => Err(EventError::MissingRecordId {
            portal: portal.name.clone(),
            field: field(),
        }),
        Val::Str(s) if s.trim().is_empty() => Err(EventError::MissingRecordId {
            portal: portal.name.clone(),
            field: field(),
        }),
        Val::Str(s) => {
            out.clear();
            out.push_str(&s);
            Ok(())
        }
        Val::Int(i) => {
            use std::fmt::Write as _;
            out.clear();
            // Writing to a `String` cannot fail.
            let _ = write!(out, "{i}");
            Ok(())
        }
        other => Err(EventError::BadRecordId {
            field: field(),
            found: match other {
                Val::Bool(_) => "a boolean".into(),
                Val::Dec(_) => "a decimal number".into(),
                Val::List(_) => "an array".into(),
                Val::Object => "an object".into(),
                _ => "a value of another type".into(),
            },
        }),
    }
}

/// Evaluates a compiled condition on a record.
fn truth<R: Access + ?Sized>(set: &RuleSet, op: &Op, record: &R, now: DateTime<Utc>) -> Truth {
    let ctx = Ctx {
        record,
        fields: &set.compiled.fields,
        now,
    };
    crate::eval::op(op, &ctx)
}

/// Decides every portal for an event, up to (not including) the already-invited check, which
/// needs the log. Email checks are done here: the engine applies already-invited before them.
pub fn decide(
    set: &RuleSet,
    event: &Event,
    now: DateTime<Utc>,
) -> Result<Vec<Decision>, EventError> {
    if !event.record.is_object() {
        return Err(EventError::NotAnObject);
    }
    decide_with(set, event.kind, &JsonRecord(&event.record), now)
}

/// [`decide`] over any record the evaluator can read (compact records on the `herald route`
/// path).
pub fn decide_with<R: Access + ?Sized>(
    set: &RuleSet,
    kind: EventKind,
    record: &R,
    now: DateTime<Utc>,
) -> Result<Vec<Decision>, EventError> {
    let mut out = Vec::with_capacity(set.portals.len());
    decide_into(set, kind, record, now, &mut out)?;
    Ok(out)
}

/// [`decide_with`] into `out`, reusing its decisions and the memory of their strings: `out`
/// ends up holding exactly what `decide_with` returns. On error its content is unspecified.
pub fn decide_into<R: Access + ?Sized>(
    set: &RuleSet,
    kind: EventKind,
    record: &R,
    now: DateTime<Utc>,
    out: &mut Vec<Decision>,
) -> Result<(), EventError> {
    out.truncate(set.portals.len());
    for (idx, portal) in set.portals.iter().enumerate() {
        if out.len() == idx {
            out.push(Decision {
                portal: String::new(),
                record_id: String::new(),
                record_name: None,
                email: None,
                outcome: Outcome::Skipped,
                language: None,
                reason: None,
                message: None,
                sender_group: None,
                event: kind,
                time: now,
                rule_set_version: String::new(),
            });
        }
        let Some(d) = out.get_mut(idx) else {
            continue;
        };
        record_id_into(set, portal, record, &mut d.record_id)?;
        d.portal.clone_from(&portal.name);
        set_text(&mut d.sender_group, portal.group.as_deref());
        d.rule_set_version.clone_from(&set.version);
        d.event = kind;
        d.time = now;
        d.outcome = Outcome::Skipped;
        d.reason = None;
        d.message = None;
        match choose_language_str(set, idx, kind, record, now) {
            Err(reason) => {
                d.reason = Some(reason);
                d.record_name = None;
                d.email = None;
                d.language = None;
            }
            Ok(language) => {
                set_text(
                    &mut d.record_name,
                    text_cow(set, record, portal.identity.name).as_deref(),
                );
                set_text(&mut d.language, Some(language));
                d.outcome = Outcome::Invited;
                // Borrowed: only the address kept in the decision is copied.
                let raw_email = text_cow(set, record, portal.identity.email);
                match raw_email.as_deref().map(crate::email::check) {
                    None => {
                        d.outcome = Outcome::Failed;
                        d.reason = Some(Reason::MissingEmail);
                        d.message = Some(String::from("the record has no email address"));
                        d.email = None;
                    }
                    Some(Ok(email)) => set_text(&mut d.email, Some(email)),
                    Some(Err(e)) => {
                        d.outcome = Outcome::Failed;
                        d.reason = Some(if e.reason() == "missing-email" {
                            Reason::MissingEmail
                        } else {
                            Reason::InvalidEmail
                        });
                        d.message = Some(e.to_string());
                        // Keep a mistyped address for the failure log; blanks are no address.
                        let kept = raw_email.filter(|_| d.reason == Some(Reason::InvalidEmail));
                        set_text(&mut d.email, kept.as_deref());
                    }
                }
            }
        }
    }
    Ok(())
}

/// Sets an optional string, reusing the memory of the one it replaces.
fn set_text(slot: &mut Option<String>, value: Option<&str>) {
    match (slot.as_mut(), value) {
        (Some(s), Some(v)) => {
            s.clear();
            s.push_str(v);
        }
        (None, Some(v)) => *slot = Some(v.to_string()),
        (_, None) => *slot = None,
    }
}

/// Steps 1 to 3 of routing for portal number `idx`: the language, or why the portal skips.
pub fn choose_language<R: Access + ?Sized>(
    set: &RuleSet,
    idx: usize,
    kind: EventKind,
    record: &R,
    now: DateTime<Utc>,
) -> Result<String, Reason> {
    choose_language_str(set, idx, kind, record, now).map(str::to_string)
}

/// [`choose_language`], borrowing the language from the rule set.
fn choose_language_str<'s, R: Access + ?Sized>(
    set: &'s RuleSet,
    idx: usize,
    kind: EventKind,
    record: &R,
    now: DateTime<Utc>,
) -> Result<&'s str, Reason> {
    let (Some(portal), Some(prog)) = (set.portals.get(idx), set.compiled.portals.get(idx)) else {
        return Err(Reason::NoLanguageMatched);
    };
    if portal.status == Status::Paused {
        return Err(Reason::Paused);
    }
    if !portal.triggered_by(kind) {
        return Err(Reason::EventNotSelected);
    }
    if let Some(req) = &prog.require {
        if truth(set, req, record, now) != Truth::True {
            return Err(Reason::CommonConditionNotMet);
        }
    }
    for (b, op) in portal.branches.iter().zip(&prog.branches) {
        let hit = match op {
            None => true,
            Some(op) => truth(set, op, record, now) == Truth::True,
        };
        if hit {
            return Ok(&b.language);
        }
    }
    portal.otherwise.as_deref().ok_or(Reason::NoLanguageMatched)
}

/// The projection `herald route` parses records with: the fields of every portal's identity
/// and of the conditions of the portals that are not paused. A paused portal's conditions are
/// never evaluated, so the fields only they read need not be built.
pub fn routing_projection(set: &RuleSet) -> crate::record::Projection {
    let mut keep = vec![false; set.fields.len()];
    let mut mark = |id: FieldId| {
        if let Some(k) = keep.get_mut(id.0 as usize) {
            *k = true;
        }
    };
    for (portal, prog) in set.portals.iter().zip(&set.compiled.portals) {
        mark(portal.identity.id);
        mark(portal.identity.name);
        mark(portal.identity.email);
        if portal.status == Status::Paused {
            continue;
        }
        let conditions = prog
            .optimized_require
            .iter()
            .chain(prog.optimized_branches.iter().flatten());
        for node in conditions {
            fields_read(node, &mut mark);
        }
    }
    // Portals without a compiled program (none today) read whatever they like: keep all.
    if set.compiled.portals.len() != set.portals.len() {
        return set.compiled.projection.clone();
    }
    crate::record::Projection::of_kept(&set.fields, |slot| keep.get(slot).copied().unwrap_or(true))
}

/// Calls `mark` on every field an optimized condition reads.
fn fields_read(node: &crate::ir::Node, mark: &mut impl FnMut(FieldId)) {
    use crate::ir::NodeKind as K;
    match &node.kind {
        K::Const(_) => {}
        K::Field(id) | K::FieldPred(id, _) => mark(*id),
        K::Not(a) | K::Test(_, a) | K::Offset(a, _) | K::Matches(a, _) => fields_read(a, mark),
        K::And(v) | K::Or(v) | K::Coalesce(v) | K::Call(_, v) => {
            for n in v {
                fields_read(n, mark);
            }
        }
        K::Cmp(_, a, b)
        | K::Contains(a, b)
        | K::ContainsAny(a, b)
        | K::ContainsAll(a, b)
        | K::StartsWith(a, b)
        | K::EndsWith(a, b)
        | K::In {
            lhs: a, list: b, ..
        } => {
            fields_read(a, mark);
            fields_read(b, mark);
        }
    }
}

/// Parses one JSON Lines event (`{"event": "create"|"update", "record": {...}}`) from bytes,
/// building only the record fields in `projection`. Errors say what is wrong with the line.
pub fn parse_event_line(
    bytes: &[u8],
    projection: &crate::record::Projection,
) -> Result<(EventKind, crate::record::CompactRecord), String> {
    let mut record = crate::record::CompactRecord::default();
    let kind = parse_event_line_into(bytes, projection, &mut record)?;
    Ok((kind, record))
}

/// [`parse_event_line`] into an existing record, reusing its storage: `herald route` keeps one
/// record per batch slot, so that parsing frees and allocates record by record instead of
/// freeing a whole batch at once (which makes glibc's allocator slow). On error the record's
/// content is unspecified.
pub fn parse_event_line_into(
    bytes: &[u8],
    projection: &crate::record::Projection,
    record: &mut crate::record::CompactRecord,
) -> Result<EventKind, String> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| format!("invalid UTF-8 at byte offset {}", e.valid_up_to()))?;
    if too_deep(bytes) {
        return Err(format!(
            "the line is nested deeper than {MAX_LINE_DEPTH} levels"
        ));
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = serde::Deserializer::deserialize_any(&mut de, LineVisitor { projection, record });
    let (kind, has_record) = match parsed {
        Ok(x) => x,
        Err(e) => return Err(line_error(&e)),
    };
    de.end().map_err(|e| format!("invalid JSON: {e}"))?;
    let kind = match kind {
        Some(Ok(k)) => k,
        Some(Err(s)) => {
            return Err(format!(
                "unknown event kind `{s}`; expected \"create\" or \"update\""
            ));
        }
        None => return Err(String::from("missing `event` (\"create\" or \"update\")")),
    };
    if !has_record {
        return Err(String::from("missing `record`"));
    }
    Ok(kind)
}

/// Deepest nesting of arrays and objects accepted in an event line, the line's own object
/// included. It is serde_json's recursion limit (which refuses the 128th level), applied to
/// the whole line: serde_json skips a value no rule reads without that limit, and a record
/// must not be accepted or refused depending on which of its fields the rules read.
pub const MAX_LINE_DEPTH: usize = 127;

/// True when the line nests arrays and objects deeper than [`MAX_LINE_DEPTH`], outside strings.
fn too_deep(bytes: &[u8]) -> bool {
    // Fast path: a line with few opening brackets cannot be too deep.
    if opening_brackets(bytes) <= MAX_LINE_DEPTH {
        return false;
    }
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_LINE_DEPTH {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// The number of `[` and `{` bytes. Counted in chunks of 255 bytes with a byte-wide counter, so
/// that the loop compiles to wide byte compares and adds (counting straight into a `usize`
/// widens every byte and costs several times more).
fn opening_brackets(bytes: &[u8]) -> usize {
    bytes
        .chunks(255)
        .map(|chunk| {
            // `[` is 0x5B and `{` is 0x7B: no other byte gives 0x7B once bit 0x20 is set.
            let n = chunk
                .iter()
                .fold(0u8, |n, &b| n.wrapping_add(u8::from((b | 0x20) == b'{')));
            usize::from(n)
        })
        .sum()
}

fn line_error(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    if msg.starts_with("invalid type") && msg.contains("expected a JSON event object") {
        String::from("expected a JSON object {\"event\": ..., \"record\": {...}}")
    } else if msg.contains("expected a record object") {
        String::from("`record` must be a JSON object")
    } else if msg.contains("expected an event kind") {
        String::from("`event` must be the string \"create\" or \"update\"")
    } else {
        format!("invalid JSON: {msg}")
    }
}

struct LineVisitor<'p, 'r> {
    projection: &'p crate::record::Projection,
    record: &'r mut crate::record::CompactRecord,
}

impl<'de> serde::de::Visitor<'de> for LineVisitor<'_, '_> {
    type Value = (Option<Result<EventKind, String>>, bool);

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON event object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut kind = None;
        let mut has_record = false;
        // `KindSeed` borrows the key from the line when it has no escapes (a plain
        // `Cow<str>` would always allocate).
        while let Some(key) = map.next_key_seed(KindSeed)? {
            match &*key {
                "event" => {
                    let s: std::borrow::Cow<'de, str> = map.next_value_seed(KindSeed)?;
                    kind = Some(EventKind::parse(&s).ok_or_else(|| s.into_owned()));
                }
                "record" => {
                    map.next_value_seed(RecordSeed {
                        projection: self.projection,
                        record: &mut *self.record,
                    })?;
                    has_record = true;
                }
                _ => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok((kind, has_record))
    }
}

struct KindSeed;

impl<'de> serde::de::DeserializeSeed<'de> for KindSeed {
    type Value = std::borrow::Cow<'de, str>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = std::borrow::Cow<'de, str>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an event kind")
            }
            fn visit_borrowed_str<E: serde::de::Error>(
                self,
                s: &'de str,
            ) -> Result<Self::Value, E> {
                Ok(std::borrow::Cow::Borrowed(s))
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Ok(std::borrow::Cow::Owned(s.to_string()))
            }
        }
        d.deserialize_str(V)
    }
}

struct RecordSeed<'p, 'r> {
    projection: &'p crate::record::Projection,
    record: &'r mut crate::record::CompactRecord,
}

impl<'de> serde::de::DeserializeSeed<'de> for RecordSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.record.deserialize_object(d, self.projection)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_routing_projection_skips_fields_only_paused_portals_read() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/monprofil/rules");
        let Ok(loaded) = crate::load::load(&dir) else {
            unreachable!("the example rules load")
        };
        let Some(set) = loaded.rule_set else {
            unreachable!("the example rules check")
        };
        let slot = |name: &str| {
            set.fields
                .iter()
                .find(|(_, f)| f.path == [name])
                .map(|(id, _)| id.0 as usize)
        };
        let line = br#"{"event":"create","record":{"id":"c1","Email":"a@b.fr","Phone":"+33 6","Mailing_City":"Paris","Mailing_Country":"FR"}}"#;
        let full = parse_event_line(line, &set.compiled.projection).map(|(_, r)| r);
        let routing = parse_event_line(line, &routing_projection(&set)).map(|(_, r)| r);
        let (Ok(full), Ok(routing)) = (full, routing) else {
            unreachable!("the line parses")
        };
        // `Phone` and `Mailing_City` are read only by the paused "MonProfil Beta".
        for (name, kept) in [
            ("Phone", false),
            ("Mailing_City", false),
            ("Mailing_Country", true),
            ("Email", true),
            ("id", true),
        ] {
            let Some(slot) = slot(name) else {
                unreachable!("{name} is a field of the rule set")
            };
            assert!(!full.get(slot).view().is_null(), "{name}");
            assert_eq!(!routing.get(slot).view().is_null(), kept, "{name}");
        }
    }

    #[test]
    fn opening_brackets_counts_both_kinds_across_chunks() {
        let line = "{\"a\": [1, {\"b\": [[]]}], \"s\": \"[{\"}".repeat(100);
        let expected = line.bytes().filter(|b| matches!(b, b'[' | b'{')).count();
        assert_eq!(opening_brackets(line.as_bytes()), expected);
        assert_eq!(opening_brackets(&[b'['; 1000]), 1000);
        assert_eq!(opening_brackets(b"\x5b\x7b\xdb\xfb;"), 2);
    }
}
