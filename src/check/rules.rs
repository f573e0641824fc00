//! Rule-set checking: schemas, portals and tests across all files of a rule set, collecting every
//! error in one run. Pure: schema files are read through the resolver the caller passes.

use super::expr::ExprChecker;
use super::lang;
use crate::ast::{
    self, ExpectedOutcome, InviteWhen, Item, PortalItem, SchemaBody, TestItem, TypeExpr,
};
use crate::diagnostics::{Code, Diagnostic};
use crate::event::EventKind;
use crate::ir::{FieldKind, FieldTable};
use crate::rules::*;
use crate::schema::{self, Field, FieldType, Schema};
use crate::span::{SourceId, Sources, Span};
use std::collections::HashMap;

/// Skip reasons a test may name after `does not invite because`.
pub const SKIP_REASONS: &[&str] = &[
    "paused",
    "event-not-selected",
    "common-condition-not-met",
    "no-language-matched",
    "already-invited",
];
/// Failure reasons a test may name after `fails`.
pub const FAIL_REASONS: &[&str] = &["missing-email", "invalid-email"];

/// Reads a schema file named in `schema X from "path"`: given the rule file and the path as
/// written, returns the resolved name and the text, or an error message.
pub type SchemaResolver<'a> = dyn FnMut(&str, &str) -> Result<(String, String), String> + 'a;

struct Ctx<'a> {
    sources: &'a mut Sources,
    diags: Vec<Diagnostic>,
    /// Fields declared with an unknown type: not reported again as unknown fields.
    poisoned: Vec<String>,
    partial: &'a Partial,
}

impl Ctx<'_> {
    fn err(&mut self, source: SourceId, d: Diagnostic) {
        self.diags.push(d.in_source(source));
    }
}

/// What the checker must know about the files of a rule set that did not parse completely, so
/// that it does not report consequences of a syntax error as errors of their own.
#[derive(Debug, Clone, Default)]
pub struct Partial {
    /// Files whose lowering reported errors: their AST may lack the lines that failed, so a
    /// portal there is not reported for a missing `invite` or a default identity.
    pub incomplete: Vec<SourceId>,
    /// Schema names declared in files that did not parse at all: `records` may name them.
    pub schemas: Vec<String>,
    /// Portal names declared in files that did not parse at all: tests may name them.
    pub portals: Vec<String>,
}

/// Checks parsed rule files as one rule set. Returns the rule set when there is no error, and
/// every diagnostic (errors and warnings) either way.
pub fn check(
    sources: Sources,
    files: &[(SourceId, ast::RuleFile)],
    resolve: &mut SchemaResolver<'_>,
) -> (Option<RuleSet>, Vec<Diagnostic>, Sources) {
    check_partial(sources, files, &Partial::default(), resolve)
}

/// [`check`] for a rule set some of whose files did not parse completely (see [`Partial`]).
pub fn check_partial(
    mut sources: Sources,
    files: &[(SourceId, ast::RuleFile)],
    partial: &Partial,
    resolve: &mut SchemaResolver<'_>,
) -> (Option<RuleSet>, Vec<Diagnostic>, Sources) {
    let mut cx = Ctx {
        sources: &mut sources,
        diags: Vec::new(),
        poisoned: Vec::new(),
        partial,
    };
    let mut schemas: Vec<Schema> = Vec::new();
    // Schemas whose fields are not known (their metadata file failed): conditions on them are
    // checked as if there were no schema, rather than reporting every field as unknown.
    let mut broken: Vec<bool> = Vec::new();
    let mut schema_names: HashMap<String, (SourceId, Span)> = HashMap::new();
    // Schemas first: portals may name a schema declared in another file.
    for (src, file) in files {
        for item in &file.items {
            if let Item::Schema(decl) = item {
                if let Some((first_src, first_span)) = schema_names.get(&decl.name.name) {
                    let d = duplicate(
                        "schema",
                        &decl.name.name,
                        (*src, decl.name.span),
                        *first_src,
                        *first_span,
                    );
                    cx.err(*src, d);
                    continue;
                }
                schema_names.insert(decl.name.name.clone(), (*src, decl.name.span));
                let fields = match &decl.body {
                    SchemaBody::Fields(fields) => Some(field_decls(&mut cx, *src, fields)),
                    SchemaBody::File(path) => {
                        schema_file(&mut cx, *src, &decl.name.name, path, resolve)
                    }
                };
                broken.push(fields.is_none());
                schemas.push(Schema::new(
                    decl.name.name.clone(),
                    fields.unwrap_or_default(),
                ));
            }
        }
    }
    let mut fields = FieldTable::default();
    let mut portals = Vec::new();
    let mut portal_names: HashMap<String, (SourceId, Span)> = HashMap::new();
    for (src, file) in files {
        for item in &file.items {
            if let Item::Portal(decl) = item {
                if let Some((first_src, first_span)) = portal_names.get(&decl.name.value) {
                    let d = duplicate(
                        "portal",
                        &decl.name.value,
                        (*src, decl.name.span),
                        *first_src,
                        *first_span,
                    );
                    cx.err(*src, d);
                    continue;
                }
                portal_names.insert(decl.name.value.clone(), (*src, decl.name.span));
                if let Some(p) = portal(&mut cx, *src, decl, &schemas, &broken, &mut fields) {
                    portals.push(p);
                }
            }
        }
    }
    let mut tests = Vec::new();
    let mut test_names: HashMap<String, (SourceId, Span)> = HashMap::new();
    for (src, file) in files {
        for item in &file.items {
            if let Item::Test(decl) = item {
                if let Some((first_src, first_span)) = test_names.get(&decl.name.value) {
                    let d = duplicate(
                        "test",
                        &decl.name.value,
                        (*src, decl.name.span),
                        *first_src,
                        *first_span,
                    );
                    cx.err(*src, d);
                    continue;
                }
                test_names.insert(decl.name.value.clone(), (*src, decl.name.span));
                if let Some(t) = test_case(&mut cx, *src, decl, &portals, &portal_names) {
                    tests.push(t);
                }
            }
        }
    }
    let mut diags = cx.diags;
    let version = version_of(&sources);
    if diags.iter().any(Diagnostic::is_error) {
        return (None, diags, sources);
    }
    let compiled = Compiled::of(&portals, &fields);
    let set = RuleSet {
        sources: sources.clone(),
        schemas,
        portals,
        tests,
        fields,
        version,
        compiled,
    };
    // Static analysis (warnings only): branches that never fire, overlaps, ... (`docs/analysis.md`).
    diags.extend(crate::analysis::lint_rule_set(&set));
    (Some(set), diags, sources)
}

/// The rule set version: a SHA-256 of every source's name and text, first 16 hex digits.
pub fn version_of(sources: &Sources) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let mut files: Vec<_> = sources.iter().map(|(_, f)| f).collect();
    files.sort_by(|a, b| a.name.cmp(&b.name));
    for f in files {
        let name = std::path::Path::new(&f.name)
            .file_name()
            .map_or_else(|| f.name.clone(), |n| n.to_string_lossy().into_owned());
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update((f.text.len() as u64).to_le_bytes());
        h.update(f.text.as_bytes());
    }
    let digest = h.finalize();
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn duplicate(
    kind: &str,
    name: &str,
    (src, span): (SourceId, Span),
    first_src: SourceId,
    first_span: Span,
) -> Diagnostic {
    // Placed in its file before the secondary label is added: `in_source` would otherwise move a
    // label in another file along with it.
    let mut d = Diagnostic::error(
        Code::DuplicateName,
        span,
        format!("there is already a {kind} named `{name}` in this rule set"),
    )
    .with_label(format!("second {kind} `{name}`"))
    .with_help(format!(
        "rename one of them; {kind} names are unique across all files of a rule set"
    ))
    .in_source(src);
    d.secondary.push(crate::diagnostics::Label {
        source: first_src,
        span: first_span,
        message: String::from("first defined here"),
    });
    d
}

fn field_decls(cx: &mut Ctx<'_>, src: SourceId, decls: &[ast::FieldDecl]) -> Vec<Field> {
    let mut out: Vec<Field> = Vec::new();
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for decl in decls {
        if let Some(first) = seen.get(decl.name.name.as_str()) {
            let d = Diagnostic::error(
                Code::DuplicateField,
                decl.name.span,
                format!("the field `{}` is declared twice", decl.name.name),
            )
            .with_secondary(*first, "first declared here")
            .with_help("remove one of the declarations");
            cx.err(src, d);
            continue;
        }
        seen.insert(&decl.name.name, decl.name.span);
        let ty = match &decl.ty {
            TypeExpr::Named(ident) => match FieldType::from_name(&ident.name) {
                Some(t) => t,
                None => {
                    let mut d = Diagnostic::error(
                        Code::UnknownType,
                        ident.span,
                        format!("unknown field type `{}`", ident.name),
                    )
                    .with_label("not a field type");
                    cx.poisoned.push(decl.name.name.to_string());
                    let all = FieldType::SIMPLE_NAMES.iter().copied().chain([
                        "picklist",
                        "multiselect",
                        "object",
                    ]);
                    let alias = match ident.name.to_ascii_lowercase().as_str() {
                        "string" | "str" | "varchar" | "textarea" => Some("text"),
                        "int" | "bigint" | "long" => Some("integer"),
                        "number" | "numeric" => Some("integer` or `decimal"),
                        "float" | "double" | "percent" | "real" => Some("decimal"),
                        "money" => Some("currency"),
                        "bool" => Some("boolean"),
                        "timestamp" | "date_time" | "date-time" => Some("datetime"),
                        "multiselectpicklist" | "multipicklist" => Some("multiselect"),
                        _ => None,
                    };
                    d = match alias.or_else(|| schema::did_you_mean(&ident.name, all)) {
                        Some(s) => d.with_help(format!("did you mean `{s}`?")),
                        None => d.with_help(format!(
                            "the types are {}, picklist [...], multiselect [...] and object {{ ... }}",
                            FieldType::SIMPLE_NAMES.join(", ")
                        )),
                    };
                    cx.err(src, d);
                    continue;
                }
            },
            TypeExpr::Picklist(values, _) | TypeExpr::Multiselect(values, _) => {
                let mut vs: Vec<String> = Vec::new();
                for v in values {
                    if vs.contains(&v.value) {
                        cx.err(
                            src,
                            Diagnostic::warning(
                                Code::DuplicateField,
                                v.span,
                                format!("the value \"{}\" is listed twice", v.value),
                            )
                            .with_help("remove the second one"),
                        );
                        continue;
                    }
                    vs.push(v.value.clone());
                }
                if matches!(decl.ty, TypeExpr::Picklist(..)) {
                    FieldType::Picklist(vs)
                } else {
                    FieldType::Multiselect(vs)
                }
            }
            TypeExpr::Object(inner) => FieldType::Object(field_decls(cx, src, inner)),
        };
        out.push(Field {
            name: decl.name.name.to_string(),
            ty,
        });
    }
    out
}

fn schema_file(
    cx: &mut Ctx<'_>,
    src: SourceId,
    name: &str,
    path: &ast::StrLit,
    resolve: &mut SchemaResolver<'_>,
) -> Option<Vec<Field>> {
    let from = cx
        .sources
        .get(src)
        .map(|f| f.name.clone())
        .unwrap_or_default();
    match resolve(&from, &path.value) {
        Ok((resolved, text)) => match Schema::from_field_metadata(name, &text) {
            Ok(s) => {
                cx.sources.add(resolved, text);
                Some(s.fields)
            }
            Err(e) => {
                let help = if e.message.starts_with(schema::UNKNOWN_DATA_TYPE) {
                    format!(
                        "the data types Herald reads are {}; see docs/schemas.md",
                        schema::DATA_TYPES.join(", ")
                    )
                } else {
                    String::from(
                        "the file must be a JSON object {\"fields\": [{\"api_name\": ..., \"data_type\": ...}, ...]}; see docs/schemas.md",
                    )
                };
                let message = format!("invalid field metadata in `{}`: {}", path.value, e.message);
                if e.line > 0 {
                    // Point at the place in the JSON file, and show where the rule file names it.
                    let json = cx.sources.add(resolved, text);
                    let at = cx
                        .sources
                        .get(json)
                        .map_or(0, |f| offset_of(&f.text, e.line, e.column));
                    let len = cx
                        .sources
                        .get(json)
                        .and_then(|f| f.text.get(at..))
                        .and_then(|rest| rest.chars().next())
                        .map_or(0, char::len_utf8);
                    let mut d = Diagnostic::error(
                        Code::InvalidSchemaFile,
                        Span::new(at, at + len),
                        message,
                    )
                    .with_label("here")
                    .with_help(help)
                    .in_source(json);
                    d.secondary.push(crate::diagnostics::Label {
                        source: src,
                        span: path.span,
                        message: format!("schema `{name}` is read from this file"),
                    });
                    cx.diags.push(d);
                } else {
                    cx.err(
                        src,
                        Diagnostic::error(Code::InvalidSchemaFile, path.span, message)
                            .with_label("this file")
                            .with_help(help),
                    );
                }
                None
            }
        },
        Err(message) => {
            cx.err(
                src,
                Diagnostic::error(
                    Code::InvalidSchemaFile,
                    path.span,
                    format!("cannot read `{}`: {message}", path.value),
                )
                .with_label("this file")
                .with_help("the path is relative to the directory of the rule file that names it"),
            );
            None
        }
    }
}

const PORTAL_KEYS: &[&str] = &[
    "records", "identity", "from", "status", "on", "require", "invite",
];

fn portal(
    cx: &mut Ctx<'_>,
    src: SourceId,
    decl: &ast::PortalDecl,
    schemas: &[Schema],
    broken: &[bool],
    fields: &mut FieldTable,
) -> Option<Portal> {
    let mut ok = true;
    let incomplete = cx.partial.incomplete.contains(&src);
    let mut seen: HashMap<&'static str, Span> = HashMap::new();
    let mut once = |cx: &mut Ctx<'_>, key: &'static str, span: Span| -> bool {
        if let Some(first) = seen.get(key) {
            cx.err(
                src,
                Diagnostic::error(
                    Code::DuplicateKey,
                    span,
                    format!("`{key}` is given twice in this portal"),
                )
                .with_secondary(*first, "first given here")
                .with_help(match key {
                    "require" => "join the conditions with `and` in one `require` line",
                    _ => "keep one of them",
                }),
            );
            false
        } else {
            seen.insert(key, span);
            true
        }
    };
    // Resolve `records` first: every condition depends on it.
    let mut schema_idx = None;
    for item in &decl.items {
        if let PortalItem::Records(ident, span) = item {
            if !once(cx, "records", *span) {
                continue;
            }
            match schemas.iter().position(|s| s.name == ident.name) {
                Some(i) => schema_idx = Some(i),
                // Declared in a file with a syntax error: already reported there.
                None if cx.partial.schemas.contains(&ident.name) => ok = false,
                None => {
                    ok = false;
                    let mut d = Diagnostic::error(
                        Code::UnknownSchema,
                        ident.span,
                        format!("there is no schema named `{}`", ident.name),
                    )
                    .with_label("unknown schema");
                    d = match schema::did_you_mean(
                        &ident.name,
                        schemas.iter().map(|s| s.name.as_str()),
                    ) {
                        Some(s) => d.with_help(format!("did you mean `{s}`?")),
                        None if schemas.is_empty() => d.with_help(format!(
                            "declare it in a rule file of this directory: `schema {} {{ ... }}`",
                            ident.name
                        )),
                        None => d.with_help(format!(
                            "the schemas are {}",
                            schemas
                                .iter()
                                .map(|s| format!("`{}`", s.name))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )),
                    };
                    cx.err(src, d);
                }
            }
        }
    }
    let schema = schema_idx
        .filter(|i| !broken.get(*i).copied().unwrap_or(false))
        .and_then(|i| schemas.get(i).map(|s| (i, s)));
    let mut identity_paths: Option<(Vec<ast::Path>, Span)> = None;
    let mut group = None;
    let mut status = Status::Active;
    let (mut on_create, mut on_update) = (true, true);
    let mut require = None;
    let mut branches: Vec<Branch> = Vec::new();
    let mut otherwise: Option<(String, Span)> = None;
    let mut always: Option<Span> = None;
    let mut languages: HashMap<String, Span> = HashMap::new();
    let mut n_invites = 0;
    for item in &decl.items {
        match item {
            PortalItem::Records(..) => {}
            PortalItem::Identity(paths, span) => {
                if once(cx, "identity", *span) {
                    identity_paths = Some((paths.clone(), *span));
                }
            }
            PortalItem::FromGroup(g, span) => {
                if once(cx, "from", *span) {
                    group = Some(g.value.clone());
                }
            }
            PortalItem::Status(ident, span) => {
                if !once(cx, "status", *span) {
                    continue;
                }
                match ident.name.as_str() {
                    "active" => status = Status::Active,
                    "paused" => status = Status::Paused,
                    other => {
                        ok = false;
                        cx.err(
                            src,
                            Diagnostic::error(
                                Code::InvalidValue,
                                ident.span,
                                format!("`{other}` is not a portal status"),
                            )
                            .with_help("write `status active` or `status paused`"),
                        );
                    }
                }
            }
            PortalItem::On(events, span) => {
                if !once(cx, "on", *span) {
                    continue;
                }
                on_create = false;
                on_update = false;
                for ev in events {
                    match EventKind::parse(&ev.name) {
                        Some(EventKind::Create) => on_create = true,
                        Some(EventKind::Update) => on_update = true,
                        None => {
                            ok = false;
                            cx.err(
                                src,
                                Diagnostic::error(Code::InvalidValue, ev.span, format!("`{}` is not an event", ev.name))
                                    .with_help("the events are `create` and `update`: write `on create, update`"),
                            );
                        }
                    }
                }
            }
            PortalItem::Require(expr, span) => {
                if !once(cx, "require", *span) {
                    continue;
                }
                match condition(cx, src, expr, schema, fields) {
                    Some(c) => require = Some(c),
                    None => ok = false,
                }
            }
            PortalItem::Invite(inv) => {
                n_invites += 1;
                let tag = &inv.language.value;
                if let Err((message, help)) = lang::check_tag(tag) {
                    ok = false;
                    cx.err(
                        src,
                        Diagnostic::error(Code::InvalidLanguageTag, inv.language.span, message)
                            .with_label("not a language tag")
                            .with_help(help),
                    );
                }
                let key = tag.to_ascii_lowercase();
                if let Some(first) = languages.get(&key) {
                    ok = false;
                    cx.err(
                        src,
                        Diagnostic::error(
                            Code::DuplicateLanguage,
                            inv.language.span,
                            format!("the language \"{tag}\" is given twice in this portal"),
                        )
                        .with_secondary(*first, "first given here")
                        .with_help("join the two conditions with `or` in one `invite` line"),
                    );
                } else {
                    languages.insert(key, inv.language.span);
                }
                if let Some((_, last)) = &otherwise {
                    ok = false;
                    cx.err(
                        src,
                        Diagnostic::error(
                            Code::OtherwiseNotLast,
                            *last,
                            "`otherwise` must be the last `invite` line",
                        )
                        .with_label("the fallback")
                        .with_secondary(inv.span, "this line comes after it")
                        .with_help("move the `invite ... otherwise` line to the end of the portal"),
                    );
                }
                if let Some(a) = always {
                    ok = false;
                    cx.err(
                        src,
                        Diagnostic::error(
                            Code::OtherwiseNotLast,
                            a,
                            "an `invite` line without a condition takes every record, so it must be the last one",
                        )
                        .with_label("takes every record")
                        .with_secondary(inv.span, "this line can never be used")
                        .with_help("give it a condition with `when`, or write it last as `invite \"..\" otherwise`"),
                    );
                    always = None;
                }
                match &inv.when {
                    InviteWhen::Always => {
                        always = Some(inv.span);
                        branches.push(Branch {
                            language: tag.clone(),
                            when: None,
                            span: inv.span,
                        });
                    }
                    InviteWhen::Otherwise(_) => {
                        if otherwise.is_none() {
                            otherwise = Some((tag.clone(), inv.span));
                        }
                    }
                    InviteWhen::When(expr) => match condition(cx, src, expr, schema, fields) {
                        Some(c) => branches.push(Branch {
                            language: tag.clone(),
                            when: Some(c),
                            span: inv.span,
                        }),
                        None => ok = false,
                    },
                }
            }
            PortalItem::Unknown(key, line) => {
                ok = false;
                let mut d = Diagnostic::error(
                    Code::UnknownKey,
                    key.span,
                    format!("unknown key `{}` in a portal", key.name),
                )
                .with_label("not a portal key");
                // `Subscription == "paid"` on a line of its own: the rest of a condition.
                let rest = cx
                    .sources
                    .get(src)
                    .map(|f| f.slice(Span::new(key.span.end, line.end)).trim_start())
                    .unwrap_or("");
                let looks_like_condition = [
                    "==", "!=", "<", ">", "in ", "not ", "contains", "starts ", "ends ", "matches",
                    "is ",
                ]
                .iter()
                .any(|op| rest.starts_with(op));
                d = match schema::did_you_mean(&key.name, PORTAL_KEYS.iter().copied()) {
                    Some(s) => d.with_help(format!("did you mean `{s}`? the keys are {}", PORTAL_KEYS.join(", "))),
                    None if looks_like_condition => d.with_help(
                        "this line looks like a condition: join it to the `require` or `invite ... when` line above with `and` or `or`",
                    ),
                    None => d.with_help(format!("the keys are {}", PORTAL_KEYS.join(", "))),
                };
                cx.err(src, d);
            }
        }
    }
    if n_invites == 0 && incomplete {
        // A line that failed to parse may be the `invite` line.
        ok = false;
    } else if n_invites == 0 {
        ok = false;
        cx.err(
            src,
            Diagnostic::error(Code::NoInvite, decl.name.span, format!("the portal `{}` has no `invite` line", decl.name.value))
                .with_label("invites nobody")
                .with_help("add a line such as `invite \"fr\" when Mailing_Country == \"FR\"`, or `invite \"fr\"` for everyone who meets `require`"),
        );
    }
    let identity = if incomplete && identity_paths.is_none() {
        // The `identity` line may be the one that failed to parse: check nothing.
        identity(cx, src, decl, None, None, fields)
    } else {
        identity(cx, src, decl, identity_paths, schema, fields)
    };
    if !ok {
        return None;
    }
    Some(Portal {
        name: decl.name.value.clone(),
        source: src,
        span: decl.span,
        schema: schema_idx,
        identity: identity?,
        group,
        status,
        on_create,
        on_update,
        require,
        branches,
        otherwise: otherwise.map(|(l, _)| l),
    })
}

fn condition(
    cx: &mut Ctx<'_>,
    src: SourceId,
    expr: &ast::Expr,
    schema: Option<(usize, &Schema)>,
    fields: &mut FieldTable,
) -> Option<Cond> {
    let mut checker = ExprChecker::new(schema, fields);
    let node = checker.condition(expr);
    let mut diags = std::mem::take(&mut checker.diags);
    let failed = diags.iter().any(Diagnostic::is_error);
    if !cx.poisoned.is_empty() {
        // A field declared with an unknown type is left out of the schema; that was reported.
        let text = cx.sources.get(src).map(|f| f.text.as_str()).unwrap_or("");
        diags.retain(|d| {
            let name = text
                .get(d.span.start..d.span.end)
                .unwrap_or("")
                .trim_matches('`');
            !(d.code == Code::UnknownField && cx.poisoned.iter().any(|p| p == name))
        });
    }
    for d in diags {
        cx.err(src, d);
    }
    if failed {
        return None;
    }
    node.map(|node| Cond { node, source: src })
}

const DEFAULT_IDENTITY: [&str; 3] = ["id", "Full_Name", "Email"];

fn identity(
    cx: &mut Ctx<'_>,
    src: SourceId,
    decl: &ast::PortalDecl,
    given: Option<(Vec<ast::Path>, Span)>,
    schema: Option<(usize, &Schema)>,
    fields: &mut FieldTable,
) -> Option<Identity> {
    let (paths, span, written): (Vec<(Vec<String>, Span)>, Span, bool) = match &given {
        Some((paths, span)) => {
            if paths.len() != 3 {
                cx.err(
                    src,
                    Diagnostic::error(
                        Code::InvalidIdentity,
                        *span,
                        format!("`identity` names {} field{}, it needs three", paths.len(), if paths.len() == 1 { "" } else { "s" }),
                    )
                    .with_help("write the id, display name and email fields: `identity id, Full_Name, Email`"),
                );
                return None;
            }
            (
                paths
                    .iter()
                    .map(|p| {
                        (
                            p.segments.iter().map(|s| s.name.to_string()).collect(),
                            p.span(),
                        )
                    })
                    .collect(),
                *span,
                true,
            )
        }
        None => (
            DEFAULT_IDENTITY
                .iter()
                .map(|n| (vec![(*n).to_string()], decl.name.span))
                .collect(),
            decl.name.span,
            false,
        ),
    };
    let roles = ["id", "display name", "email"];
    let mut ids = Vec::new();
    let mut ok = true;
    for (i, (path, pspan)) in paths.iter().enumerate() {
        let role = roles.get(i).copied().unwrap_or("");
        let kind = match schema {
            None => FieldKind::Dynamic,
            Some((_, s)) => match s.lookup(path) {
                None => {
                    ok = false;
                    let shown = path.join(".");
                    let mut d = Diagnostic::error(
                        Code::InvalidIdentity,
                        *pspan,
                        if written {
                            format!("the {role} field `{shown}` is not in schema `{}`", s.name)
                        } else {
                            format!(
                                "the default {role} field `{shown}` is not in schema `{}`",
                                s.name
                            )
                        },
                    );
                    let suggestion =
                        schema::did_you_mean(&shown, s.fields.iter().map(|f| f.name.as_str()));
                    d = match (suggestion, written) {
                        (Some(x), true) => d.with_help(format!("did you mean `{x}`?")),
                        (None, true) => d.with_help(format!(
                            "the fields of `{}` are: {}",
                            s.name,
                            field_list(&s.fields)
                        )),
                        _ => d.with_help(format!(
                            "name the fields with a line such as `identity id, Full_Name, Email` (id, display name, email){}",
                            suggestion.map(|x| format!("; did you mean `{x}` for the {role}?")).unwrap_or_default()
                        )),
                    };
                    cx.err(src, d);
                    continue;
                }
                Some(f) => {
                    let fits = match i {
                        0 => matches!(
                            f.ty,
                            FieldType::Text
                                | FieldType::Integer
                                | FieldType::Email
                                | FieldType::Phone
                        ),
                        1 => matches!(
                            f.ty,
                            FieldType::Text
                                | FieldType::Email
                                | FieldType::Phone
                                | FieldType::Picklist(_)
                        ),
                        _ => matches!(f.ty, FieldType::Email | FieldType::Text),
                    };
                    if !fits {
                        ok = false;
                        let (want, a_want) = match i {
                            0 => ("text or integer", "a text or integer"),
                            1 => ("text", "a text"),
                            _ => ("email or text", "an email or text"),
                        };
                        cx.err(
                            src,
                            Diagnostic::error(
                                Code::InvalidIdentity,
                                *pspan,
                                format!(
                                    "the {role} field `{}` is {}, it must be {want}",
                                    path.join("."),
                                    f.ty.name()
                                ),
                            )
                            .with_help(format!("name {a_want} field as the {role}")),
                        );
                        continue;
                    }
                    match f.ty {
                        FieldType::Integer => FieldKind::Integer,
                        _ => FieldKind::Text,
                    }
                }
            },
        };
        ids.push(fields.intern(schema.map(|(i, _)| i), path.clone(), kind));
    }
    let _ = span;
    if !ok {
        return None;
    }
    match ids.as_slice() {
        [id, name, email] => Some(Identity {
            id: *id,
            name: *name,
            email: *email,
        }),
        _ => None,
    }
}

fn test_case(
    cx: &mut Ctx<'_>,
    src: SourceId,
    decl: &ast::TestDecl,
    portals: &[Portal],
    declared: &HashMap<String, (SourceId, Span)>,
) -> Option<TestCase> {
    let mut ok = true;
    let mut n_expect = 0;
    let mut record = None;
    let mut event = EventKind::Create;
    let mut now = None;
    let mut expectations = Vec::new();
    for item in &decl.items {
        match item {
            TestItem::Record(text, span) => {
                if record.is_some() {
                    ok = false;
                    cx.err(
                        src,
                        Diagnostic::error(Code::InvalidTest, *span, "a test has one `record`")
                            .with_help("write one test per record"),
                    );
                    continue;
                }
                match serde_json::from_str::<serde_json::Value>(text) {
                    Ok(v) => record = Some(v),
                    Err(e) => {
                        ok = false;
                        let offset = offset_of(text, e.line(), e.column());
                        let at = span.start + offset;
                        let len = text
                            .get(offset..)
                            .and_then(|r| r.chars().next())
                            .map_or(1, char::len_utf8);
                        // serde_json's message ends with a position relative to the record;
                        // the span gives the position in the file instead.
                        let full = e.to_string();
                        let what = full
                            .rfind(" at line ")
                            .and_then(|i| full.get(..i))
                            .unwrap_or(&full);
                        cx.err(
                            src,
                            Diagnostic::error(
                                Code::InvalidTest,
                                Span::new(at, (at + len).min(span.end)),
                                format!("the record is not valid JSON: {what}"),
                            )
                            .with_label("here")
                            .with_help("write the record as a JSON object: keys and strings in double quotes, no trailing commas"),
                        );
                    }
                }
            }
            TestItem::Event(ident, _) => match EventKind::parse(&ident.name) {
                Some(k) => event = k,
                None => {
                    ok = false;
                    cx.err(
                        src,
                        Diagnostic::error(
                            Code::InvalidTest,
                            ident.span,
                            format!("`{}` is not an event", ident.name),
                        )
                        .with_help("write `event create` or `event update`"),
                    );
                }
            },
            TestItem::Now(text, span) => {
                let body = text.trim_start_matches('@');
                match chrono::DateTime::parse_from_rfc3339(body) {
                    Ok(t) => now = Some(t.with_timezone(&chrono::Utc)),
                    Err(_) => {
                        ok = false;
                        cx.err(
                            src,
                            Diagnostic::error(
                                Code::InvalidTest,
                                *span,
                                format!("`{text}` is not a date-time"),
                            )
                            .with_help("write `now @2026-01-31T09:30:00Z`"),
                        );
                    }
                }
            }
            TestItem::Expect(exp, span) => {
                n_expect += 1;
                let name = &exp.portal.value;
                // A portal that is declared but has errors of its own is not reported again here.
                if !declared.contains_key(name) && !cx.partial.portals.contains(name) {
                    ok = false;
                    let mut names: Vec<&str> = declared.keys().map(String::as_str).collect();
                    names.sort_unstable();
                    let mut d = Diagnostic::error(
                        Code::InvalidTest,
                        exp.portal.span,
                        format!("there is no portal named \"{name}\""),
                    )
                    .with_label("unknown portal");
                    d = match schema::did_you_mean(name, names.iter().copied()) {
                        Some(s) => d.with_help(format!(
                            "did you mean \"{s}\"? portal names are exact, case included"
                        )),
                        None if names.is_empty() => d.with_help("this rule set declares no portal"),
                        None => d.with_help(format!(
                            "the portals are {}",
                            names
                                .iter()
                                .map(|n| format!("\"{n}\""))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )),
                    };
                    cx.err(src, d);
                    continue;
                }
                let expected = match &exp.outcome {
                    ExpectedOutcome::Invites(l) => {
                        // The test can only pass if the portal has an `invite` line in that language.
                        if let Some(p) = portals.iter().find(|p| &p.name == name) {
                            let langs: Vec<&str> = p
                                .branches
                                .iter()
                                .map(|b| b.language.as_str())
                                .chain(p.otherwise.as_deref())
                                .collect();
                            if !langs.iter().any(|x| x.eq_ignore_ascii_case(&l.value)) {
                                ok = false;
                                cx.err(
                                    src,
                                    Diagnostic::error(
                                        Code::InvalidTest,
                                        l.span,
                                        format!(
                                            "the portal \"{name}\" never invites in \"{}\"",
                                            l.value
                                        ),
                                    )
                                    .with_label("no `invite` line in this language")
                                    .with_help(format!(
                                        "its languages are {}",
                                        langs
                                            .iter()
                                            .map(|x| format!("\"{x}\""))
                                            .collect::<Vec<_>>()
                                            .join(", ")
                                    )),
                                );
                                continue;
                            }
                        }
                        Expected::Invites(l.value.clone())
                    }
                    ExpectedOutcome::DoesNotInvite(reason) => {
                        if let Some(r) = reason {
                            if !SKIP_REASONS.contains(&r.name.as_str()) {
                                ok = false;
                                cx.err(src, unknown_reason(r, false));
                                continue;
                            }
                        }
                        Expected::DoesNotInvite(reason.as_ref().map(|r| r.name.clone()))
                    }
                    ExpectedOutcome::Fails(r) => {
                        if !FAIL_REASONS.contains(&r.name.as_str()) {
                            ok = false;
                            cx.err(src, unknown_reason(r, true));
                            continue;
                        }
                        Expected::Fails(r.name.clone())
                    }
                };
                expectations.push(Expectation {
                    portal: exp.portal.value.clone(),
                    expected,
                    span: *span,
                });
            }
        }
    }
    if record.is_none() && !decl.items.iter().any(|i| matches!(i, TestItem::Record(..))) {
        ok = false;
        cx.err(
            src,
            Diagnostic::error(
                Code::InvalidTest,
                decl.name.span,
                "this test has no `record`",
            )
            .with_help("add `record { \"id\": \"c1\", ... }`"),
        );
    }
    if n_expect == 0 {
        ok = false;
        cx.err(
            src,
            Diagnostic::error(
                Code::InvalidTest,
                decl.name.span,
                "this test expects nothing",
            )
            .with_help("add a line such as `expect \"Portal\" invites \"fr\"`"),
        );
    }
    if !ok {
        return None;
    }
    Some(TestCase {
        name: decl.name.value.clone(),
        source: src,
        span: decl.span,
        record: record?,
        event,
        now,
        expectations,
    })
}

/// An unknown reason after `fails` (`failure` true) or `does not invite because`.
fn unknown_reason(r: &ast::Ident, failure: bool) -> Diagnostic {
    let name = r.name.as_str();
    let (known, other) = if failure {
        (FAIL_REASONS, SKIP_REASONS)
    } else {
        (SKIP_REASONS, FAIL_REASONS)
    };
    if other.contains(&name) {
        // The right reason after the wrong words.
        return if failure {
            Diagnostic::error(
                Code::InvalidTest,
                r.span,
                format!("`{name}` is a reason to skip a portal, not a failure"),
            )
            .with_label("a skip reason")
            .with_help(format!("write `does not invite because {name}`"))
        } else {
            Diagnostic::error(
                Code::InvalidTest,
                r.span,
                format!("`{name}` is a failure, not a reason to skip a portal"),
            )
            .with_label("a failure reason")
            .with_help(format!("write `fails {name}`"))
        };
    }
    let what = if failure {
        "failure reason"
    } else {
        "skip reason"
    };
    let d = Diagnostic::error(
        Code::InvalidTest,
        r.span,
        format!("`{name}` is not a {what}"),
    )
    .with_label(format!("unknown {what}"));
    match schema::did_you_mean(name, known.iter().copied()) {
        Some(s) => d.with_help(format!(
            "did you mean `{s}`? the {what}s are {}",
            known.join(", ")
        )),
        None => d.with_help(format!("the {what}s are {}", known.join(", "))),
    }
}

/// The field names of a schema level, for help lines (at most 12).
fn field_list(fields: &[Field]) -> String {
    let mut names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).take(12).collect();
    if fields.len() > 12 {
        names.push("...");
    }
    names.join(", ")
}

/// The byte offset of a 1-based line and column in `text`.
fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            return offset
                + l.char_indices()
                    .nth(column.saturating_sub(1))
                    .map_or(l.len(), |(b, _)| b);
        }
        offset += l.len();
    }
    text.len().saturating_sub(1)
}
