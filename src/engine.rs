//! The engine a host embeds: a compiled rule set behind an atomic swap, the log behind a lock,
//! and the already-invited set in memory. Routing is safe from many threads at once.

use crate::load::{self, LoadError, Loaded};
use crate::record::CompactStr;
use crate::route::{self, Decision, Event, EventError, Outcome, Reason};
use crate::rules::RuleSet;
use crate::store::{
    Failure, FailureQuery, Invitation, InvitationQuery, LogEntry, Store, StoreError,
};
use crate::value::{Clock, SystemClock};
use rustc_hash::{FxHashMap, FxHashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

/// Errors of the engine API.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The rule set has errors; the diagnostics say which.
    #[error("the rule set has {} error(s)", count_errors(&.0.diagnostics))]
    Rules(Box<Loaded>),
    /// The rule set path cannot be read.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The log failed; nothing of the failed call was logged.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The event cannot be routed.
    #[error(transparent)]
    Event(#[from] EventError),
    /// A lock was poisoned by a panic in another thread.
    #[error("internal lock poisoned")]
    Poisoned,
    /// The rule set was built from sources, not a path, so `reload()` has nothing to read.
    #[error("this engine was not loaded from a path; use `reload_from`")]
    NoPath,
    /// An earlier step of this [`Batch`] failed, so nothing of the batch was logged.
    #[error("an earlier step of this batch failed; nothing of the batch was logged")]
    BatchAborted,
}

fn count_errors(d: &[crate::diagnostics::Diagnostic]) -> usize {
    d.iter().filter(|d| d.is_error()).count()
}

/// A delivery failure the host reports after an invitation was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryFailure {
    /// The email bounced.
    Bounce,
    /// The portal has no user licence left.
    PortalUserLimit,
    /// The CRM contact is disabled.
    ContactDisabled,
    /// Anything else, in the host's words.
    Other(String),
}

impl DeliveryFailure {
    /// The reason code stored in the log.
    pub fn code(&self) -> &'static str {
        match self {
            DeliveryFailure::Bounce => "bounce",
            DeliveryFailure::PortalUserLimit => "portal-user-limit",
            DeliveryFailure::ContactDisabled => "contact-disabled",
            DeliveryFailure::Other(_) => "other",
        }
    }

    fn message(&self) -> String {
        match self {
            DeliveryFailure::Bounce => String::from("the invitation email bounced"),
            DeliveryFailure::PortalUserLimit => {
                String::from("the portal has reached its user limit")
            }
            DeliveryFailure::ContactDisabled => String::from("the contact is disabled in the CRM"),
            DeliveryFailure::Other(m) => m.clone(),
        }
    }
}

struct State {
    store: Box<dyn Store>,
    /// The already-invited set, per portal: a lookup by `&str` needs no allocation. Fx hashing:
    /// the keys are the log's own portal names and record ids, and SipHash was a visible share
    /// of `herald route`'s commit step.
    /// Record ids are kept as compact strings: a short id (most are) sits in the set's own
    /// table, so a lookup reads one cache line instead of two.
    invited: FxHashMap<String, FxHashSet<CompactStr>>,
}

impl State {
    fn is_invited(&self, portal: &str, record_id: &str) -> bool {
        self.invited
            .get(portal)
            .is_some_and(|ids| ids.contains(record_id))
    }

    fn mark_invited(&mut self, portal: &str, record_id: &str) {
        match self.invited.get_mut(portal) {
            Some(ids) => {
                ids.insert(CompactStr::new(record_id));
            }
            None => {
                let mut ids = FxHashSet::default();
                ids.insert(CompactStr::new(record_id));
                self.invited.insert(portal.to_string(), ids);
            }
        }
    }

    fn unmark_invited(&mut self, portal: &str, record_id: &str) {
        if let Some(ids) = self.invited.get_mut(portal) {
            ids.remove(record_id);
        }
    }
}

/// Compile once, route many, reload atomically.
pub struct Engine {
    rules: RwLock<Arc<RuleSet>>,
    state: Mutex<State>,
    clock: Box<dyn Clock>,
    path: Option<PathBuf>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn checked(loaded: Loaded) -> Result<RuleSet, EngineError> {
    match loaded.rule_set.clone() {
        Some(set) => Ok(set),
        None => Err(EngineError::Rules(Box::new(loaded))),
    }
}

impl Engine {
    /// Loads the rule set at `path` (a directory or a file) and opens the engine on `store`.
    pub fn open(path: &Path, store: Box<dyn Store>) -> Result<Engine, EngineError> {
        let set = checked(load::load(path)?)?;
        let mut engine = Engine::new(set, store)?;
        engine.path = Some(path.to_path_buf());
        Ok(engine)
    }

    /// An engine over an already-checked rule set.
    pub fn new(rules: RuleSet, mut store: Box<dyn Store>) -> Result<Engine, EngineError> {
        let mut invited: FxHashMap<String, FxHashSet<CompactStr>> = FxHashMap::default();
        for (portal, record_id) in store.invited_keys()? {
            invited
                .entry(portal)
                .or_default()
                .insert(CompactStr::from(record_id));
        }
        Ok(Engine {
            rules: RwLock::new(Arc::new(rules)),
            state: Mutex::new(State { store, invited }),
            clock: Box::new(SystemClock),
            path: None,
        })
    }

    /// Replaces the clock behind `today()`, `now()` and decision times.
    pub fn with_clock(mut self, clock: Box<dyn Clock>) -> Engine {
        self.clock = clock;
        self
    }

    /// The rule set routing uses now.
    pub fn rules(&self) -> Result<Arc<RuleSet>, EngineError> {
        self.rules
            .read()
            .map(|r| Arc::clone(&r))
            .map_err(|_| EngineError::Poisoned)
    }

    /// The live rule set's version.
    pub fn version(&self) -> Result<String, EngineError> {
        Ok(self.rules()?.version.clone())
    }

    /// Re-reads the rule set from the path the engine was opened with and swaps it in
    /// atomically. A rule set with errors is refused and the old one keeps running.
    pub fn reload(&self) -> Result<String, EngineError> {
        let path = self.path.as_ref().ok_or(EngineError::NoPath)?;
        let set = checked(load::load(path)?)?;
        self.reload_from(set)
    }

    /// Swaps in a checked rule set; every event is routed entirely by the old or the new one.
    pub fn reload_from(&self, set: RuleSet) -> Result<String, EngineError> {
        let version = set.version.clone();
        let mut guard = self.rules.write().map_err(|_| EngineError::Poisoned)?;
        *guard = Arc::new(set);
        Ok(version)
    }

    /// Routes one event: every portal's decision, logged durably before it is returned.
    pub fn route(&self, event: &Event) -> Result<Vec<Decision>, EngineError> {
        let mut out = self.route_batch(std::slice::from_ref(event))?;
        match out.pop() {
            Some(Ok(d)) => Ok(d),
            Some(Err(e)) => Err(EngineError::Event(e)),
            None => Ok(Vec::new()),
        }
    }

    /// Routes many events with one rule set snapshot and one log transaction. Events that
    /// cannot be routed get their error in place; the others are decided and logged, in order,
    /// so two events of the same record in one batch invite it once.
    pub fn route_batch(
        &self,
        events: &[Event],
    ) -> Result<Vec<Result<Vec<Decision>, EventError>>, EngineError> {
        let set = self.rules()?;
        let now = self.clock.now();
        // Conditions are pure: evaluate them before taking the log lock.
        let results = events.iter().map(|e| route::decide(&set, e, now)).collect();
        self.commit(results)
    }

    /// Routes records already parsed with `set.compiled.projection` (see
    /// [`crate::record::CompactRecord`]), with the rule set snapshot they were parsed for. This
    /// is the `herald route` path: only the fields the rules read are ever built.
    pub fn route_parsed<R: crate::record::Access>(
        &self,
        set: &RuleSet,
        events: &[(crate::event::EventKind, R)],
    ) -> Result<Vec<Result<Vec<Decision>, EventError>>, EngineError> {
        let now = self.clock.now();
        let results = events
            .iter()
            .map(|(kind, record)| route::decide_with(set, *kind, record, now))
            .collect();
        self.commit(results)
    }

    /// [`Engine::route_parsed`] into `results`, which ends up holding what `route_parsed`
    /// returns: the decisions of a previous batch are reused, and the memory of their strings,
    /// instead of being freed and allocated again (`herald route` routes batch after batch
    /// this way). On error the content of `results` is unspecified.
    pub fn route_parsed_into<R: crate::record::Access>(
        &self,
        set: &RuleSet,
        events: &[(crate::event::EventKind, R)],
        results: &mut Vec<Result<Vec<Decision>, EventError>>,
    ) -> Result<(), EngineError> {
        let now = self.clock.now();
        results.truncate(events.len());
        for (i, (kind, record)) in events.iter().enumerate() {
            if results.len() == i {
                results.push(Ok(Vec::new()));
            }
            if let Some(result) = results.get_mut(i) {
                route::decide_result_into(set, *kind, record, now, result);
            }
        }
        self.commit_in_place(results)
    }

    /// The time of the engine's clock: the `now` events are decided at.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// Logs events decided by the caller (with [`route::decide_result_into`], against a rule
    /// set of [`Engine::rules`], at [`Engine::now`]): the second half of
    /// [`Engine::route_parsed_into`]. It applies the already-invited check, logs the
    /// invitations and failures in one transaction, and leaves the final decisions in
    /// `results` once they are durable. `herald route` decides each event as soon as it is
    /// parsed, while its record is in the CPU's cache, and logs them batch by batch. On error
    /// nothing was logged and the decisions are unspecified.
    pub fn commit_decided(
        &self,
        results: &mut [Result<Vec<Decision>, EventError>],
    ) -> Result<(), EngineError> {
        self.commit_in_place(results)
    }

    /// Applies the already-invited check to decided events, logs invitations and failures in
    /// one transaction, and returns the final decisions once they are durable.
    fn commit(
        &self,
        mut results: Vec<Result<Vec<Decision>, EventError>>,
    ) -> Result<Vec<Result<Vec<Decision>, EventError>>, EngineError> {
        self.commit_in_place(&mut results)?;
        Ok(results)
    }

    /// [`Engine::commit`] on decisions in place. On error nothing was logged and the decisions
    /// are unspecified.
    fn commit_in_place(
        &self,
        results: &mut [Result<Vec<Decision>, EventError>],
    ) -> Result<(), EngineError> {
        let mut state = self.state.lock().map_err(|_| EngineError::Poisoned)?;
        let mut entries = Vec::new();
        let mut origins = Vec::new();
        check_and_take(&mut state, results, &mut entries, &mut origins, None);
        if !entries.is_empty() {
            if let Err(e) = state.store.append(&entries) {
                // Nothing was logged: forget the keys this batch added (none of them was
                // invited before, or its decision would have been `already-invited`).
                for entry in &entries {
                    if let LogEntry::Invited(inv) = entry {
                        state.unmark_invited(&inv.portal, &inv.record_id);
                    }
                }
                return Err(EngineError::Store(e));
            }
        }
        drop(state);
        give_back_all(results, &mut entries, &mut origins);
        Ok(())
    }

    /// Opens a batch: events decided by the caller are logged part by part with
    /// [`Batch::log`], and all of them become durable at once with [`Batch::commit`], with one
    /// transaction and one `fsync`. Unlike [`Engine::commit_decided`], a part's decisions
    /// need not be kept until the end, so a large batch is routed through a few hundred
    /// decisions' worth of memory (`herald route` logs 256 events at a time, and commits every
    /// 4,096). The batch holds the log's lock until it is committed or dropped: other threads
    /// routing through this engine wait. Dropping it without a commit logs nothing of it.
    pub fn batch(&self) -> Result<Batch<'_>, EngineError> {
        let mut state = self.state.lock().map_err(|_| EngineError::Poisoned)?;
        let native = state.store.begin_batch()?;
        Ok(Batch {
            state,
            native,
            gathered: Vec::new(),
            marked: Marked::default(),
            entries: Vec::new(),
            origins: Vec::new(),
            open: true,
        })
    }

    /// Records a delivery failure reported by the host: it enters the failure log and the
    /// record is no longer counted as invited, so a later update tries again.
    pub fn report_delivery_failure(
        &self,
        portal: &str,
        record_id: &str,
        failure: DeliveryFailure,
    ) -> Result<(), EngineError> {
        let mut state = self.state.lock().map_err(|_| EngineError::Poisoned)?;
        let last = state
            .store
            .invitations(&InvitationQuery {
                portal: Some(portal.to_string()),
                record_id: Some(record_id.to_string()),
                since: None,
                limit: Some(1),
            })?
            .into_iter()
            .next();
        let entry = LogEntry::DeliveryFailed(Failure {
            portal: portal.to_string(),
            record_id: record_id.to_string(),
            record_name: last.as_ref().and_then(|i| i.record_name.clone()),
            email: last.as_ref().map(|i| i.email.clone()),
            language: last.as_ref().map(|i| i.language.clone()),
            reason: failure.code().to_string(),
            message: failure.message(),
            time: self.clock.now(),
            rule_set_version: last.map(|i| i.rule_set_version),
        });
        state.store.append(std::slice::from_ref(&entry))?;
        state.unmark_invited(portal, record_id);
        Ok(())
    }

    /// Failures, newest first.
    pub fn failures(&self, query: &FailureQuery) -> Result<Vec<Failure>, EngineError> {
        let mut state = self.state.lock().map_err(|_| EngineError::Poisoned)?;
        Ok(state.store.failures(query)?)
    }

    /// Active invitations, newest first.
    pub fn invitations(&self, query: &InvitationQuery) -> Result<Vec<Invitation>, EngineError> {
        let mut state = self.state.lock().map_err(|_| EngineError::Poisoned)?;
        Ok(state.store.invitations(query)?)
    }
}

/// The invitation of an invited decision, taking its strings (see [`give_back`]).
fn take_invitation(d: &mut Decision) -> Invitation {
    Invitation {
        portal: std::mem::take(&mut d.portal),
        record_id: std::mem::take(&mut d.record_id),
        record_name: d.record_name.take(),
        language: d.language.take().unwrap_or_default(),
        sender_group: d.sender_group.take(),
        email: d.email.take().unwrap_or_default(),
        event: d.event,
        time: d.time,
        rule_set_version: std::mem::take(&mut d.rule_set_version),
    }
}

/// The failure of a failed decision, taking its strings (see [`give_back`]).
fn take_failure(d: &mut Decision) -> Failure {
    Failure {
        portal: std::mem::take(&mut d.portal),
        record_id: std::mem::take(&mut d.record_id),
        record_name: d.record_name.take(),
        email: d.email.take(),
        language: d.language.take(),
        reason: d.reason.map_or("other", Reason::as_str).to_string(),
        message: d.message.take().unwrap_or_default(),
        time: d.time,
        rule_set_version: Some(std::mem::take(&mut d.rule_set_version)),
    }
}

/// Puts back the strings [`take_invitation`] or [`take_failure`] took from a decision.
/// (An invited decision always has a language and an email, a failed one a message.)
fn give_back(d: &mut Decision, entry: LogEntry) {
    match entry {
        LogEntry::Invited(i) => {
            d.portal = i.portal;
            d.record_id = i.record_id;
            d.record_name = i.record_name;
            d.language = Some(i.language);
            d.sender_group = i.sender_group;
            d.email = Some(i.email);
            d.rule_set_version = i.rule_set_version;
        }
        LogEntry::Failed(f) | LogEntry::DeliveryFailed(f) => {
            d.portal = f.portal;
            d.record_id = f.record_id;
            d.record_name = f.record_name;
            d.email = f.email;
            d.language = f.language;
            d.message = Some(f.message);
            d.rule_set_version = f.rule_set_version.unwrap_or_default();
        }
    }
}

/// Events logged in one transaction, part by part (see [`Engine::batch`]).
pub struct Batch<'e> {
    state: MutexGuard<'e, State>,
    /// The store logs the batch itself ([`Store::begin_batch`] said so); otherwise the
    /// entries wait in `gathered` and are appended at the commit.
    native: bool,
    gathered: Vec<LogEntry>,
    /// The keys this batch marked invited: unmarked when the batch is not committed.
    marked: Marked,
    /// The entries of one [`Batch::log`], and the (event, decision) each was taken from
    /// (kept between calls for their memory).
    entries: Vec<LogEntry>,
    origins: Vec<(usize, usize)>,
    /// False once committed or failed.
    open: bool,
}

impl std::fmt::Debug for Batch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch")
            .field("native", &self.native)
            .field("marked", &self.marked.keys.len())
            .field("open", &self.open)
            .finish_non_exhaustive()
    }
}

impl Batch<'_> {
    /// Applies the already-invited check to events decided by the caller (with
    /// [`route::decide_result_into`], against a rule set of [`Engine::rules`], at
    /// [`Engine::now`]) and adds their invitations and failures to the batch, in order: an
    /// event sees the invitations of the events before it, in this call and in earlier ones.
    /// The decisions in `results` are final, but nothing is durable before
    /// [`Batch::commit`] returns `Ok`: do not act on them (print, send) before. On error
    /// nothing of the batch is logged, and every later call fails with
    /// [`EngineError::BatchAborted`].
    pub fn log(
        &mut self,
        results: &mut [Result<Vec<Decision>, EventError>],
    ) -> Result<(), EngineError> {
        if !self.open {
            return Err(EngineError::BatchAborted);
        }
        let mut entries = std::mem::take(&mut self.entries);
        let mut origins = std::mem::take(&mut self.origins);
        entries.clear();
        origins.clear();
        let state = &mut *self.state;
        check_and_take(
            state,
            results,
            &mut entries,
            &mut origins,
            Some(&mut self.marked),
        );
        let logged = if entries.is_empty() {
            Ok(())
        } else if self.native {
            state.store.append_to_batch(&entries)
        } else {
            self.gathered.extend(entries.iter().cloned());
            Ok(())
        };
        give_back_all(results, &mut entries, &mut origins);
        self.entries = entries;
        self.origins = origins;
        if let Err(e) = logged {
            self.abort();
            return Err(EngineError::Store(e));
        }
        Ok(())
    }

    /// Makes every event of the batch durable, with one transaction. On error nothing of the
    /// batch is logged.
    pub fn commit(mut self) -> Result<(), EngineError> {
        if !self.open {
            return Err(EngineError::BatchAborted);
        }
        let committed = if self.native {
            self.state.store.commit_batch()
        } else {
            let gathered = std::mem::take(&mut self.gathered);
            if gathered.is_empty() {
                Ok(())
            } else {
                self.state.store.append(&gathered)
            }
        };
        match committed {
            Ok(()) => {
                self.open = false;
                Ok(())
            }
            Err(e) => {
                self.abort();
                Err(EngineError::Store(e))
            }
        }
    }

    /// Drops the batch from the log and forgets the keys it marked invited.
    fn abort(&mut self) {
        if !self.open {
            return;
        }
        self.open = false;
        if self.native {
            self.state.store.abort_batch();
        }
        self.gathered.clear();
        for (portal, id) in self.marked.keys.drain(..) {
            if let Some(portal) = self.marked.portals.get(portal) {
                self.state.unmark_invited(portal, &id);
            }
        }
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        self.abort();
    }
}

/// Keys marked invited, each as (index in `portals`, record id).
#[derive(Default)]
struct Marked {
    keys: Vec<(usize, CompactStr)>,
    portals: Vec<String>,
}

impl Marked {
    fn push(&mut self, portal: &str, record_id: &str) {
        let p = match self.portals.iter().position(|p| p == portal) {
            Some(p) => p,
            None => {
                self.portals.push(portal.to_string());
                self.portals.len() - 1
            }
        };
        self.keys.push((p, CompactStr::new(record_id)));
    }
}

/// Applies the already-invited check to decided events, marks the new invitations, and moves
/// each invitation or failure to be logged into `entries`, with its (event, decision) in
/// `origins` (see [`give_back_all`]). With `marked`, each key marked invited is also recorded
/// there.
fn check_and_take(
    state: &mut State,
    results: &mut [Result<Vec<Decision>, EventError>],
    entries: &mut Vec<LogEntry>,
    origins: &mut Vec<(usize, usize)>,
    mut marked: Option<&mut Marked>,
) {
    // Sized up front: growing a vector of a few thousand entries copies it several times.
    let decided = results.iter().map(|r| r.as_ref().map_or(0, Vec::len)).sum();
    entries.reserve(decided);
    origins.reserve(decided);
    for (i, result) in results.iter_mut().enumerate() {
        let Ok(decisions) = result else { continue };
        for (j, d) in decisions.iter_mut().enumerate() {
            if d.outcome == Outcome::Skipped {
                continue;
            }
            if state.is_invited(&d.portal, &d.record_id) {
                d.outcome = Outcome::Skipped;
                d.reason = Some(Reason::AlreadyInvited);
                d.message = None;
                continue;
            }
            if d.outcome == Outcome::Invited {
                // Marked now, so a later event of the same record sees it.
                state.mark_invited(&d.portal, &d.record_id);
                if let Some(marked) = marked.as_mut() {
                    marked.push(&d.portal, &d.record_id);
                }
                entries.push(LogEntry::Invited(take_invitation(d)));
            } else {
                entries.push(LogEntry::Failed(take_failure(d)));
            }
            origins.push((i, j));
        }
    }
}

/// Gives each entry's strings back to the decision it was taken from, emptying both lists.
fn give_back_all(
    results: &mut [Result<Vec<Decision>, EventError>],
    entries: &mut Vec<LogEntry>,
    origins: &mut Vec<(usize, usize)>,
) {
    for (entry, (i, j)) in entries.drain(..).zip(origins.drain(..)) {
        if let Some(Ok(decisions)) = results.get_mut(i) {
            if let Some(d) = decisions.get_mut(j) {
                give_back(d, entry);
            }
        }
    }
}
