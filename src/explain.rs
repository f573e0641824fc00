//! Explanations: per portal, the decision for one event and the value of every sub-condition,
//! with the reason each unknown is unknown. Backs `herald explain` and failing `herald test`s.

use crate::interp::{self, Env, Explained};
use crate::ir::Absence;
use crate::route::{self, Event, Reason};
use crate::rules::{Cond, Portal, RuleSet};
use crate::value::{Truth, Value};
use chrono::{DateTime, Utc};
use std::fmt::Write;

/// One condition of a portal, explained.
#[derive(Debug, Clone)]
pub struct ExplainedCond {
    /// `require`, `invite "fr"`.
    pub role: String,
    /// The condition's source text.
    pub text: String,
    /// The tree.
    pub tree: Explained,
    /// The source text of the file it is in (to show sub-conditions).
    source_text: String,
}

/// One portal's decision, explained.
#[derive(Debug, Clone)]
pub struct PortalExplanation {
    /// The portal's name.
    pub portal: String,
    /// The one-line decision.
    pub decision: String,
    /// The conditions that were evaluated, in routing order.
    pub conditions: Vec<ExplainedCond>,
}

fn explain_cond(
    set: &RuleSet,
    role: String,
    cond: &Cond,
    record: &serde_json::Value,
    now: DateTime<Utc>,
) -> ExplainedCond {
    let env = Env {
        record,
        fields: &set.fields,
        now,
    };
    let tree = interp::explain(&cond.node, &env);
    let source_text = set
        .sources
        .get(cond.source)
        .map(|f| f.text.clone())
        .unwrap_or_default();
    let text = source_text
        .get(cond.node.span.start..cond.node.span.end)
        .unwrap_or("")
        .to_string();
    ExplainedCond {
        role,
        text: squash(&text),
        tree,
        source_text,
    }
}

/// Collapses runs of whitespace (conditions may span lines) and drops comments: a condition's
/// span can reach over the comments that follow it.
fn squash(s: &str) -> String {
    strip_comments(s)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Removes every `#` comment (to the end of its line) outside string literals and back-quoted
/// field names.
fn strip_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == '\\' && q == '"' {
                    if let Some(escaped) = chars.next() {
                        out.push(escaped);
                    }
                } else if c == q {
                    quote = None;
                }
            }
            None if c == '#' => {
                for rest in chars.by_ref() {
                    if rest == '\n' || rest == '\r' {
                        out.push(rest);
                        break;
                    }
                }
            }
            None => {
                if c == '"' || c == '`' {
                    quote = Some(c);
                }
                out.push(c);
            }
        }
    }
    out
}

/// Explains every portal for an event. The log is not consulted, so `already-invited` is not
/// shown: this is what the rules decide.
pub fn explain_event(set: &RuleSet, event: &Event, now: DateTime<Utc>) -> Vec<PortalExplanation> {
    let decisions = route::decide(set, event, now);
    set.portals
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let decision = match &decisions {
                Err(e) => format!("cannot route: {e}"),
                Ok(ds) => match ds.get(i) {
                    Some(d) => match (d.outcome, d.reason) {
                        (route::Outcome::Invited, _) => format!(
                            "invite in \"{}\" to {}",
                            d.language.as_deref().unwrap_or(""),
                            d.email.as_deref().unwrap_or("")
                        ),
                        (route::Outcome::Failed, Some(r)) => format!(
                            "fail: {} ({})",
                            r.as_str(),
                            d.message.as_deref().unwrap_or("")
                        ),
                        (_, Some(r)) => format!("skip: {}", r.as_str()),
                        _ => String::from("skip"),
                    },
                    None => String::from("skip"),
                },
            };
            PortalExplanation {
                portal: p.name.clone(),
                decision,
                conditions: portal_conditions(set, i, p, event, now),
            }
        })
        .collect()
}

fn portal_conditions(
    set: &RuleSet,
    idx: usize,
    p: &Portal,
    event: &Event,
    now: DateTime<Utc>,
) -> Vec<ExplainedCond> {
    let mut out = Vec::new();
    let record = crate::record::JsonRecord(&event.record);
    if matches!(
        route::choose_language(set, idx, event.kind, &record, now),
        Err(Reason::Paused | Reason::EventNotSelected)
    ) {
        return out;
    }
    if let Some(req) = &p.require {
        let e = explain_cond(set, String::from("require"), req, &event.record, now);
        let stop = e.tree.value.truth() != Truth::True;
        out.push(e);
        if stop {
            return out;
        }
    }
    for b in &p.branches {
        match &b.when {
            None => return out,
            Some(c) => {
                let e = explain_cond(
                    set,
                    format!("invite \"{}\" when", b.language),
                    c,
                    &event.record,
                    now,
                );
                let hit = e.tree.value.truth() == Truth::True;
                out.push(e);
                if hit {
                    return out;
                }
            }
        }
    }
    out
}

fn why(field: &str, a: &Absence) -> String {
    match a {
        Absence::Missing => format!("`{field}` is missing"),
        Absence::Null => format!("`{field}` is null"),
        Absence::Mismatch { expected, found } => {
            format!("`{field}` is {found}, expected {expected}")
        }
        Absence::Unparsable { expected, raw } => format!("`{field}` is \"{raw}\", not {expected}"),
    }
}

/// The fields read under a node, with their values or why they are null.
fn field_notes(e: &Explained, out: &mut Vec<String>) {
    if let Some(f) = &e.field {
        let note = match &e.absence {
            Some((_, a)) => why(f, a),
            None => format!("`{f}` = {}", short(&e.value)),
        };
        if !out.contains(&note) {
            out.push(note);
        }
    }
    for c in &e.children {
        if !c.is_condition {
            field_notes(c, out);
        }
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(59).collect::<String>())
    } else {
        s
    }
}

fn render_tree(e: &Explained, src: &str, depth: usize, out: &mut String) {
    let text = squash(src.get(e.span.start..e.span.end).unwrap_or(""));
    let truth = e.value.truth();
    let mut notes = Vec::new();
    field_notes(e, &mut notes);
    let _ = write!(
        out,
        "    {:<8}{}{}",
        truth.as_str(),
        "  ".repeat(depth),
        text
    );
    if !notes.is_empty() {
        let _ = write!(out, "    ({})", notes.join(", "));
    }
    out.push('\n');
    for c in &e.children {
        if c.is_condition {
            render_tree(c, src, depth + 1, out);
        }
    }
}

/// Renders explanations as text.
pub fn render(explanations: &[PortalExplanation]) -> String {
    let mut out = String::new();
    for p in explanations {
        render_portal(p, &mut out);
    }
    out
}

/// Renders one portal's explanation.
pub fn render_portal(p: &PortalExplanation, out: &mut String) {
    let _ = writeln!(out, "portal \"{}\": {}", p.portal, p.decision);
    for c in &p.conditions {
        let _ = writeln!(out, "  {} {}  -> {}", c.role, c.text, c.tree.value.truth());
        render_tree(&c.tree, &c.source_text, 0, out);
    }
}
