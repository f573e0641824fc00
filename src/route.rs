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

/// [`decide_into`] into one event's result, which may hold the decisions (or the error) of an
/// earlier event: its decisions are reused when it has some.
pub fn decide_result_into<R: Access + ?Sized>(
    set: &RuleSet,
    kind: EventKind,
    record: &R,
    now: DateTime<Utc>,
    result: &mut Result<Vec<Decision>, EventError>,
) {
    if result.is_err() {
        *result = Ok(Vec::new());
    }
    if let Ok(decisions) = result {
        if let Err(e) = decide_into(set, kind, record, now, decisions) {
            *result = Err(e);
        }
    }
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
    if let Some(kind) = parse_fast(text, projection, record) {
        return Ok(kind);
    }
    parse_event_line_reference(text, projection, record)
}

/// The fast path of [`parse_event_line_into`] (see `jsonline`): the event kind when the line
/// is a valid event in the JSON shape it handles, `None` to parse it again with serde_json.
fn parse_fast(
    text: &str,
    projection: &crate::record::Projection,
    record: &mut crate::record::CompactRecord,
) -> Option<EventKind> {
    // `LineVisitor::visit_map` on the fast path: the same keys, read without serde's visitor
    // calls. Any `None` parses the line again with serde_json, which then reads it or words
    // the error.
    let mut de = crate::jsonline::Fast::new(text);
    if de.ws() != Some(b'{') {
        return None;
    }
    de.open().ok()?;
    let (mut kind, mut has_record) = (None, false);
    let mut first = true;
    while de.next_item(b'}', &mut first).ok()? {
        let key = de.string().ok()?;
        de.colon().ok()?;
        match key {
            "event" => {
                if de.ws() != Some(b'"') {
                    return None;
                }
                kind = Some(EventKind::parse(de.string().ok()?)?);
            }
            "record" => {
                record.parse_fast(&mut de, projection).ok()?;
                has_record = true;
            }
            _ => de.skip().ok()?,
        }
    }
    de.close(b'}').ok()?;
    de.end().ok()?;
    kind.filter(|_| has_record)
}

/// [`parse_event_line_into`] with serde_json alone, after the UTF-8 and depth checks: the
/// reference the fast path is tested against, and the path that words every error.
#[doc(hidden)]
pub fn parse_event_line_reference(
    text: &str,
    projection: &crate::record::Projection,
    record: &mut crate::record::CompactRecord,
) -> Result<EventKind, String> {
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
                .find(|(_, f)| f.path.len() == 1 && f.path.first().is_some_and(|s| &**s == name))
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

    /// The example rule set, loaded.
    fn example_set() -> RuleSet {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/monprofil/rules");
        let Ok(loaded) = crate::load::load(&dir) else {
            unreachable!("the example rules load")
        };
        let Some(set) = loaded.rule_set else {
            unreachable!("the example rules check")
        };
        set
    }

    /// What the reference path makes of a line: the kind and the record's debug text (which,
    /// unlike `==`, tells `-0.0` from `0.0`), or the error.
    fn reference(line: &[u8], projection: &crate::record::Projection) -> Result<String, String> {
        let text = std::str::from_utf8(line).map_err(|e| e.to_string())?;
        let mut record = crate::record::CompactRecord::default();
        parse_event_line_reference(text, projection, &mut record)
            .map(|k| format!("{k:?} {record:?}"))
    }

    #[test]
    fn the_fast_path_reads_every_example_event_as_serde_json_does() {
        let set = example_set();
        let projections = [set.compiled.projection.clone(), routing_projection(&set)];
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/monprofil/events.jsonl");
        let Ok(events) = std::fs::read_to_string(path) else {
            unreachable!("the example events are readable")
        };
        let mut lines = 0;
        for line in events.lines() {
            for projection in &projections {
                let mut record = crate::record::CompactRecord::default();
                let Some(kind) = parse_fast(line, projection, &mut record) else {
                    unreachable!("the fast path gave up on an example event: {line}")
                };
                assert_eq!(
                    Ok(format!("{kind:?} {record:?}")),
                    reference(line.as_bytes(), projection)
                );
            }
            lines += 1;
        }
        assert_eq!(lines, 1000);
    }

    /// A projection of every field kind, nested objects, and a field that is also a prefix.
    fn all_kinds_projection() -> crate::record::Projection {
        use crate::ir::{FieldKind as K, FieldTable};
        let mut fields = FieldTable::default();
        for (path, kind) in [
            ("a", K::Text),
            ("b", K::Integer),
            ("c", K::Decimal),
            ("d", K::Boolean),
            ("e", K::Date),
            ("f", K::DateTime),
            ("g", K::Multiselect),
            ("h", K::Dynamic),
            ("o", K::Object),
            ("o.a", K::Text),
            ("o.b.h", K::Dynamic),
            ("p.b", K::Integer),
        ] {
            fields.intern(None, path.split('.').map(String::from).collect(), kind);
        }
        crate::record::Projection::of(&fields)
    }

    #[test]
    fn the_fast_path_reads_valid_json_and_leaves_the_rest_to_serde_json() {
        let projection = all_kinds_projection();
        let accepted = [
            r#"{"event":"create","record":{"a":"Léa 😀, more than eight bytes","b":7}}"#,
            r#"{"event":"update","record":{"h":-0,"c":1e2,"b":9223372036854775808,"d":true}}"#,
            r#"{"event":"create","record":{"h":-9223372036854775809,"c":-0.0,"e":"2025-01-01"}}"#,
            r#"{"event":"create","record":{"o":{"a":"x","b":{"h":[1,{"k":null}]}},"p":{"b":5}}}"#,
            r#"{"event":"create","record":{"g":["a","b"],"x":[[],{},"s",1.5e-3,null,false]}}"#,
            "\t{ \"record\" :\r\n{ \"a\" : \"x\" } , \"event\" : \"update\" , \"n\" : 1 }\n ",
            r#"{"event":"create","record":{"a":1,"a":"second wins","f":"2025-01-01T00:00:00Z"}}"#,
            "{\"event\":\"create\",\"record\":{\"x\":1e400,\"h\":\"\u{7f}\"}}",
        ];
        let refused = [
            r#"{"event":"create","record":{"g":["a",]}}"#,
            r#"{"event":"create","record":{"x":[,1]}}"#,
            r#"{"event":"create","record":{"x":[1,]}}"#,
            r#"{"event":"create","record":{"x":{"k":1,}}}"#,
            r#"{"event":"create","record":{"x":{,"k":1}}}"#,
            "{\"event\":\"create\",\"record\":{\"a\":\"\u{1f}\"}}",
            "{\"event\":\"create\",\"record\":{\"a\":\"more than eight \u{1f} bytes\"}}",
            r#"{"event":"create","record":{"b":01}}"#,
            r#"{"event":"create","record":{"x":01}}"#,
            r#"{"event":"create","record":{"x":-01.5}}"#,
            r#"{"event":"create","record":{,"a":"x"}}"#,
            r#"{,"event":"create","record":{}}"#,
            r#"{"event":"create","record":{"x":{"k":1 "j":2}}}"#,
            r#"{"event":"create","record":{"x":[1 2]}}"#,
            r#"{"event":"create","record":{"a":"x" "b":1}}"#,
            r#"{"event":"create","record":{"g":["a" "b"]}}"#,
            r#"{"event":"create","record":{a":"x"}}"#,
            r#"{"event":"create","record":{"x":{k":1}}}"#,
            r#"{event":"create","record":{}}"#,
            r#"{"event":"create","record":{"b":1.}}"#,
            r#"{"event":"create","record":{"b":-}}"#,
            r#"{"event":"create","record":{"b":1e400}}"#,
            r#"{"event":"create","record":{"a":"x"},}"#,
            r#"{"event":"create","record":{"a":"x"}} {}"#,
            r#"{"event":"create","record":{"a":"\u00e9"}}"#,
            r#"{"event":"cr\u0065ate","record":{}}"#,
            r#"{"event":"delete","record":{}}"#,
            r#"{"event":"create"}"#,
            r#"{"event":"create","record":[]}"#,
            "{\"event\":\"create\",\"record\":{}}\u{b}",
            r#"{"event":"create","record":{"x":nul}}"#,
        ];
        for line in accepted {
            let mut record = crate::record::CompactRecord::default();
            let Some(kind) = parse_fast(line, &projection, &mut record) else {
                unreachable!("the fast path gave up on {line}")
            };
            assert_eq!(
                Ok(format!("{kind:?} {record:?}")),
                reference(line.as_bytes(), &projection),
                "{line}"
            );
        }
        for line in refused {
            let mut record = crate::record::CompactRecord::default();
            assert_eq!(parse_fast(line, &projection, &mut record), None, "{line}");
        }
    }

    mod differential {
        use super::*;
        use proptest::prelude::*;

        /// Number tokens serde_json accepts, including those it reads specially.
        const NUMBERS: &[&str] = &[
            "0",
            "-0",
            "7",
            "-12",
            "18",
            "1.5",
            "-0.0",
            "2.50",
            "1e5",
            "1E+2",
            "1e-2",
            "0.1e1",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "18446744073709551615",
            "18446744073709551616",
            "123456789012345678901234567890",
            "0.30000000000000004",
            "4.9e-324",
            "1.7976931348623157e308",
            "1e400",
        ];

        /// String contents: plain, dates, non-ASCII.
        const STRINGS: &[&str] = &[
            "",
            "FR",
            "paid",
            "vip",
            "2025-01-01",
            "2025-13-01",
            "2025-01-01T00:00:00Z",
            "2025-01-01T01:00:48+01:00",
            "Léa",
            "😀",
            "a@b.fr",
            "create",
            "a long string of more than eight bytes",
            "raw\u{7f}del",
        ];

        /// Valid escapes, which the fast path leaves to serde_json.
        const ESCAPED: &[&str] = &[r"\\", r#"\""#, r"x\ny", r"\u00e9", r"\ud83d\ude00", r"\/"];

        /// Tokens serde_json refuses (or reads only in some places).
        const INVALID: &[&str] = &[
            "01",
            "-",
            "1.",
            ".5",
            "2.5e",
            "+1",
            "0x10",
            "nul",
            "True",
            "-1e400",
            r#""\ud800""#,
            r#""\u12""#,
            "\"\u{1f}\"",
            r#""\q""#,
            "\"raw\u{1}ctl\"",
            "\"raw\ttab\"",
            "\"x",
            "'s'",
            "]",
            "}",
        ];

        const KEYS: &[&str] = &[
            "a", "b", "c", "d", "e", "f", "g", "h", "o", "p", "x", "event", "record", "",
        ];

        fn key() -> impl Strategy<Value = &'static str> + Clone {
            prop_oneof![40 => prop::sample::select(KEYS), 1 => prop::sample::select(&[r"\u0061", r"e\u0076ent"][..])]
        }

        fn ws() -> impl Strategy<Value = &'static str> + Clone {
            prop_oneof![
                1000 => prop::sample::select(&["", "", "", " ", "\n", "\t ", "\r\n"][..]),
                1 => prop::sample::select(&["\u{b}", "\u{a0}", "\u{c}"][..]),
            ]
        }

        fn string() -> impl Strategy<Value = String> + Clone {
            prop_oneof![40 => prop::sample::select(STRINGS), 1 => prop::sample::select(ESCAPED)]
                .prop_map(|s| format!("\"{s}\""))
        }

        fn value() -> impl Strategy<Value = String> + Clone {
            let leaf = prop_oneof![
                // Weighted so that most lines hold no invalid token, and the fast path reads them.
                30 => prop::sample::select(&["null", "true", "false"][..]).prop_map(String::from),
                60 => prop::sample::select(NUMBERS).prop_map(String::from),
                100 => string(),
                1 => prop::sample::select(INVALID).prop_map(String::from),
            ];
            leaf.prop_recursive(4, 24, 5, |inner| {
                prop_oneof![
                    (prop::collection::vec((inner.clone(), ws()), 0..4), 0..20u8).prop_map(
                        |(items, trailing)| {
                            let body: Vec<String> = items
                                .into_iter()
                                .map(|(v, w)| format!("{w}{v}{w}"))
                                .collect();
                            let comma = if trailing == 0 && !body.is_empty() {
                                ","
                            } else {
                                ""
                            };
                            format!("[{}{comma}]", body.join(","))
                        }
                    ),
                    object(inner),
                ]
            })
        }

        fn object(
            inner: impl Strategy<Value = String> + Clone,
        ) -> impl Strategy<Value = String> + Clone {
            (prop::collection::vec((key(), inner, ws()), 0..6), 0..20u8).prop_map(
                |(entries, trailing)| {
                    let body: Vec<String> = entries
                        .into_iter()
                        .map(|(k, v, w)| format!("{w}\"{k}\"{w}:{w}{v}{w}"))
                        .collect();
                    let comma = if trailing == 0 && !body.is_empty() {
                        ","
                    } else {
                        ""
                    };
                    format!("{{{}{comma}}}", body.join(","))
                },
            )
        }

        /// An event line: mostly well formed, sometimes not, sometimes cut short or with a
        /// stray byte.
        fn line() -> impl Strategy<Value = Vec<u8>> {
            let kind = prop::sample::select(
                &[
                    r#""create""#,
                    r#""update""#,
                    r#""create""#,
                    r#""update""#,
                    r#""delete""#,
                    r#""cr\u0065ate""#,
                    "1",
                ][..],
            );
            // Other top-level keys, now and then `event` or `record` again.
            let extra_key =
                prop_oneof![20 => prop::sample::select(&["x", "meta", "a"][..]), 1 => key()];
            let extra = (extra_key, value());
            let entries = (
                kind,
                object(value()),
                prop::collection::vec(extra, 0..3),
                any::<u8>(),
            );
            let well_formed =
                (entries, ws(), ws()).prop_map(|((kind, record, extra, order), w1, w2)| {
                    let mut parts = vec![
                        format!("\"event\":{w1}{kind}"),
                        format!("\"record\"{w2}:{record}"),
                    ];
                    parts.extend(extra.into_iter().map(|(k, v)| format!("\"{k}\":{v}")));
                    if order & 1 == 1 {
                        parts.reverse();
                    }
                    if order % 8 == 2 {
                        parts.truncate(1);
                    }
                    let trailer = if order % 16 == 4 { " x" } else { "" };
                    format!("{w1}{{{}}}{w2}{trailer}", parts.join(","))
                });
            damaged(well_formed)
        }

        /// The text's bytes, now and then cut short or with a stray byte.
        fn damaged(text: impl Strategy<Value = String>) -> impl Strategy<Value = Vec<u8>> {
            (text, any::<u16>(), any::<u8>(), 0..10u8).prop_map(|(text, at, byte, damage)| {
                let mut bytes = text.into_bytes();
                let at = usize::from(at) % (bytes.len() + 1);
                match damage {
                    0 => bytes.truncate(at),
                    1 => bytes.insert(at, byte),
                    _ => {}
                }
                bytes
            })
        }

        /// What `parse_into` (`reference`: `parse_into_reference`, serde_json alone) makes of
        /// a record's bytes: the record's debug text, or the error.
        fn record_read(bytes: &[u8], reference: bool) -> Result<String, String> {
            let projection = all_kinds_projection();
            let mut record = crate::record::CompactRecord::default();
            let parsed = if reference {
                record.parse_into_reference(bytes, &projection)
            } else {
                record.parse_into(bytes, &projection)
            };
            parsed
                .map(|()| format!("{record:?}"))
                .map_err(|e| e.to_string())
        }

        /// What the fast path alone makes of a record's bytes, when it does not give up.
        fn record_fast(bytes: &[u8]) -> Option<String> {
            let text = std::str::from_utf8(bytes).ok()?;
            let mut de = crate::jsonline::Fast::new(text);
            let mut record = crate::record::CompactRecord::default();
            record.parse_fast(&mut de, &all_kinds_projection()).ok()?;
            de.end().ok()?;
            Some(format!("{record:?}"))
        }

        #[test]
        fn plain_records_take_the_fast_path() {
            for text in [
                r#"{"h":true}"#,
                r#" {"a":"x","b":7,"o":{"a":"y"},"z":[1,{}]} "#,
            ] {
                let fast = record_fast(text.as_bytes());
                assert!(fast.is_some(), "{text}");
                assert_eq!(
                    fast.ok_or(()),
                    record_read(text.as_bytes(), true).map_err(|_| ())
                );
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(4000))]

            /// Whatever the line, routing reads it exactly as serde_json alone does (the same
            /// kind and record, or the same error), and the fast path never accepts a line that
            /// serde_json refuses or reads differently.
            #[test]
            fn the_fast_path_agrees_with_serde_json(line in line()) {
                let projection = all_kinds_projection();
                let expected = reference(&line, &projection);
                let mut record = crate::record::CompactRecord::default();
                let routed = parse_event_line_into(&line, &projection, &mut record)
                    .map(|k| format!("{k:?} {record:?}"));
                if let Ok(text) = std::str::from_utf8(&line) {
                    let mut fast = crate::record::CompactRecord::default();
                    if let Some(k) = parse_fast(text, &projection, &mut fast) {
                        prop_assert_eq!(Ok(format!("{k:?} {fast:?}")), expected.clone());
                    }
                    prop_assert_eq!(routed, expected);
                } else {
                    prop_assert!(routed.is_err());
                }
            }

            /// A record's bytes (`CompactRecord::parse_into`, which tries the same fast path
            /// first) are read exactly as serde_json alone reads them: the same record, or the
            /// same error.
            #[test]
            fn records_parse_as_serde_json_alone_reads_them(
                bytes in damaged(prop_oneof![20 => object(value()), 1 => value()])
            ) {
                let expected = record_read(&bytes, true);
                // The fast path alone, when it does not give up, reads what serde_json reads
                // (`plain_records_take_the_fast_path`: it does not always give up).
                if let Some(fast) = record_fast(&bytes) {
                    prop_assert_eq!(Ok(fast), expected.clone());
                }
                prop_assert_eq!(record_read(&bytes, false), expected);
            }
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
