//! The checked rule set: schemas, portals with their typed conditions, and the authors' tests.
//! Produced by [`crate::check::rules`], consumed by the router, the test runner and the tools.

use crate::event::EventKind;
use crate::ir::{FieldId, FieldTable, Node};
use crate::schema::Schema;
use crate::span::{SourceId, Sources, Span};
use chrono::{DateTime, Utc};

/// A checked, ready-to-route rule set.
#[derive(Debug, Clone)]
pub struct RuleSet {
    /// The rule files (and schema files) it was built from.
    pub sources: Sources,
    /// Schemas by index.
    pub schemas: Vec<Schema>,
    /// Portals in rule-set order (file name order, then source order).
    pub portals: Vec<Portal>,
    /// The authors' tests.
    pub tests: Vec<TestCase>,
    /// Every field a condition or an identity reads.
    pub fields: FieldTable,
    /// A hash of the sources: recorded with every decision.
    pub version: String,
    /// The optimized, compiled conditions routing runs.
    pub compiled: Compiled,
}

/// The compiled form of a rule set's conditions: optimized programs over the rule set's field
/// slots, and the projection that keeps exactly the fields it reads.
#[derive(Debug, Clone, Default)]
pub struct Compiled {
    /// Field metadata by slot.
    pub fields: Vec<crate::record::FieldMeta>,
    /// The fields to keep when parsing records from JSON bytes.
    pub projection: crate::record::Projection,
    /// Per portal, in rule-set order.
    pub portals: Vec<PortalProgram>,
}

/// One portal's compiled conditions.
#[derive(Debug, Clone)]
pub struct PortalProgram {
    /// `require`.
    pub require: Option<crate::compile::Op>,
    /// One per `invite` branch, `None` for a branch without condition.
    pub branches: Vec<Option<crate::compile::Op>>,
    /// True when some condition reads the clock.
    pub uses_clock: bool,
    /// `require`, optimized (what `require` was compiled from; the analysis reads it).
    pub optimized_require: Option<crate::ir::Node>,
    /// The branches' conditions, optimized.
    pub optimized_branches: Vec<Option<crate::ir::Node>>,
}

impl Compiled {
    /// Optimizes and compiles every condition of the portals over the field table.
    pub fn of(portals: &[Portal], fields: &FieldTable) -> Compiled {
        let compile = |c: &Cond| {
            let opt = crate::opt::optimize(&c.node);
            let clock = crate::compile::uses_clock(&opt);
            ((crate::compile::compile(&opt), opt), clock)
        };
        let portals = portals
            .iter()
            .map(|p| {
                let mut uses_clock = false;
                let (require, optimized_require) = p
                    .require
                    .as_ref()
                    .map(|c| {
                        let (op, clock) = compile(c);
                        uses_clock |= clock;
                        op
                    })
                    .unzip();
                let (branches, optimized_branches) = p
                    .branches
                    .iter()
                    .map(|b| {
                        b.when
                            .as_ref()
                            .map(|c| {
                                let (op, clock) = compile(c);
                                uses_clock |= clock;
                                op
                            })
                            .unzip()
                    })
                    .unzip();
                PortalProgram {
                    require,
                    branches,
                    uses_clock,
                    optimized_require,
                    optimized_branches,
                }
            })
            .collect();
        Compiled {
            fields: crate::record::field_metas(fields),
            projection: crate::record::Projection::of(fields),
            portals,
        }
    }
}

/// Whether a portal sends invitations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Invitations go out.
    Active,
    /// The configuration is kept but nothing is sent.
    Paused,
}

/// A condition with the file it was written in.
#[derive(Debug, Clone)]
pub struct Cond {
    /// The typed IR.
    pub node: Node,
    /// The file.
    pub source: SourceId,
}

/// One `invite` line.
#[derive(Debug, Clone)]
pub struct Branch {
    /// The BCP 47 language tag.
    pub language: String,
    /// `None` for `invite "xx"` with no condition.
    pub when: Option<Cond>,
    /// The line.
    pub span: Span,
}

/// The fields naming a contact.
#[derive(Debug, Clone, Copy)]
pub struct Identity {
    /// The record id field.
    pub id: FieldId,
    /// The display-name field.
    pub name: FieldId,
    /// The email field.
    pub email: FieldId,
}

/// A portal configuration.
#[derive(Debug, Clone)]
pub struct Portal {
    /// The portal name (unique in the rule set).
    pub name: String,
    /// Where it is declared.
    pub source: SourceId,
    /// The `portal` block.
    pub span: Span,
    /// The schema its records follow.
    pub schema: Option<usize>,
    /// Id, display name and email fields.
    pub identity: Identity,
    /// The user group invitations are sent from.
    pub group: Option<String>,
    /// Active or paused.
    pub status: Status,
    /// Whether `create` events trigger it.
    pub on_create: bool,
    /// Whether `update` events trigger it.
    pub on_update: bool,
    /// The common condition.
    pub require: Option<Cond>,
    /// The `invite ... when` lines in order.
    pub branches: Vec<Branch>,
    /// The `invite ... otherwise` language.
    pub otherwise: Option<String>,
}

impl Portal {
    /// Whether this event kind triggers the portal.
    pub fn triggered_by(&self, kind: EventKind) -> bool {
        match kind {
            EventKind::Create => self.on_create,
            EventKind::Update => self.on_update,
        }
    }
}

/// What a test expects of one portal.
#[derive(Debug, Clone, PartialEq)]
pub enum Expected {
    /// Invited in this language.
    Invites(String),
    /// Not invited; optionally for this skip reason.
    DoesNotInvite(Option<String>),
    /// A failed invitation with this reason.
    Fails(String),
}

/// One expectation of a test.
#[derive(Debug, Clone)]
pub struct Expectation {
    /// The portal's name.
    pub portal: String,
    /// The expected outcome.
    pub expected: Expected,
    /// The `expect` line.
    pub span: Span,
}

/// A `test` block, checked.
#[derive(Debug, Clone)]
pub struct TestCase {
    /// The test's name.
    pub name: String,
    /// The file.
    pub source: SourceId,
    /// The block.
    pub span: Span,
    /// The record.
    pub record: serde_json::Value,
    /// The event kind (default create).
    pub event: EventKind,
    /// A pinned clock.
    pub now: Option<DateTime<Utc>>,
    /// The expectations in order.
    pub expectations: Vec<Expectation>,
}
