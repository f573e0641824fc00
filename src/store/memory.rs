//! An in-memory log with the same semantics as the SQLite one, for tests and `herald test`.

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};

use super::{
    Failure, FailureQuery, Invitation, InvitationQuery, LogEntry, Store, StoreError, check_times,
    storable_time,
};

/// The log kept in memory; lost when dropped. Never fails except on times outside the years
/// 0000–9999, exactly like [`super::SqliteStore`]; times are kept at microsecond precision
/// like there too.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    /// Every invitation in append order, with its `active` flag.
    invitations: Vec<(Invitation, bool)>,
    /// Indexes into `invitations` of the active ones, per (portal, record_id).
    active: HashMap<(String, String), Vec<usize>>,
    /// Every failure in append order.
    failures: Vec<Failure>,
}

impl MemoryStore {
    /// An empty log.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }
}

impl Store for MemoryStore {
    fn invited_keys(&mut self) -> Result<Vec<(String, String)>, StoreError> {
        // Ordered by record id, then portal, as the SQLite store's index gives them.
        let keys: BTreeSet<(&str, &str)> = self
            .active
            .iter()
            .filter(|(_, ids)| !ids.is_empty())
            .map(|((portal, id), _)| (id.as_str(), portal.as_str()))
            .collect();
        Ok(keys
            .into_iter()
            .map(|(id, portal)| (portal.to_string(), id.to_string()))
            .collect())
    }

    fn append(&mut self, entries: &[LogEntry]) -> Result<(), StoreError> {
        // Validate the whole batch first so it is applied entirely or not at all.
        check_times(entries)?;
        for entry in entries {
            match entry {
                LogEntry::Invited(i) => {
                    let mut i = i.clone();
                    i.time = storable_time(i.time)?;
                    let key = (i.portal.clone(), i.record_id.clone());
                    self.active
                        .entry(key)
                        .or_default()
                        .push(self.invitations.len());
                    self.invitations.push((i, true));
                }
                LogEntry::Failed(f) | LogEntry::DeliveryFailed(f) => {
                    let mut f = f.clone();
                    f.time = storable_time(f.time)?;
                    if matches!(entry, LogEntry::DeliveryFailed(_)) {
                        let key = (f.portal.clone(), f.record_id.clone());
                        if let Some(ids) = self.active.remove(&key) {
                            for id in ids {
                                if let Some(slot) = self.invitations.get_mut(id) {
                                    slot.1 = false;
                                }
                            }
                        }
                    }
                    self.failures.push(f);
                }
            }
        }
        Ok(())
    }

    fn failures(&mut self, query: &FailureQuery) -> Result<Vec<Failure>, StoreError> {
        let since = bound(query.since);
        let until = bound(query.until);
        // Reverse append order, then a stable sort by time: ties stay latest-appended first.
        let mut out: Vec<Failure> = self
            .failures
            .iter()
            .rev()
            .filter(|f| query.portal.as_ref().is_none_or(|p| &f.portal == p))
            .filter(|f| query.reason.as_ref().is_none_or(|r| &f.reason == r))
            .filter(|f| since.is_none_or(|s| f.time >= s))
            .filter(|f| until.is_none_or(|u| f.time < u))
            .cloned()
            .collect();
        out.sort_by_key(|x| Reverse(x.time));
        if let Some(limit) = query.limit {
            out.truncate(limit);
        }
        Ok(out)
    }

    fn invitations(&mut self, query: &InvitationQuery) -> Result<Vec<Invitation>, StoreError> {
        let since = bound(query.since);
        let mut out: Vec<Invitation> = self
            .invitations
            .iter()
            .rev()
            .filter(|(_, active)| *active)
            .map(|(i, _)| i)
            .filter(|i| query.portal.as_ref().is_none_or(|p| &i.portal == p))
            .filter(|i| query.record_id.as_ref().is_none_or(|r| &i.record_id == r))
            .filter(|i| since.is_none_or(|s| i.time >= s))
            .cloned()
            .collect();
        out.sort_by_key(|x| Reverse(x.time));
        if let Some(limit) = query.limit {
            out.truncate(limit);
        }
        Ok(out)
    }
}

/// A query bound at the precision the log keeps (microseconds), as the SQLite store compares.
/// Bounds outside the storable years compare correctly as they are.
fn bound(t: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    t.map(|t| storable_time(t).unwrap_or(t))
}
