//! Looking keys up in serde_json maps, guided by where the key was in earlier records.
//!
//! Records from one source share their shape: the same keys, so in a `serde_json::Map` (a
//! B-tree sorted by key, or insertion order with serde_json's `preserve_order`) a given key sits
//! at the same position, give or take a few optional keys. `Map::get` searches the tree from
//! its root, comparing the key with the keys on its way; each of those keys is a `String` of
//! its own on the heap, so each comparison may be a cache miss. A hinted lookup walks the
//! map's entries to the position where the key was last found, from the nearer end (the walk
//! reads the tree's nodes, not the keys' bytes), and compares the key there, then the keys of
//! the same length around there.
//!
//! Invariant: [`find`] gives exactly what `Map::get` gives, whatever the hint holds. The hint
//! only decides where to look first; every key is compared in full before its value is
//! returned, and a key is declared absent only when the keys around its place bracket it
//! (the map is sorted) or `Map::get` says so. Tested against `Map::get` with hints of every
//! value (`tests` below).

use serde_json::{Map, Value};
use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};

/// Entries on each side of the hinted position that are compared (by length first) before
/// falling back to `Map::get`: optional keys shift a key by as many positions.
const WINDOW: usize = 2;

/// Entries read around the hinted position.
const SPAN: usize = 2 * WINDOW + 1;

/// Maps with more entries are searched with `Map::get` alone: walking to a position costs an
/// iterator step per entry, where the tree search is logarithmic.
const MAX_WALK: usize = 48;

/// Where a key was last found in a record's map (or where its place was, had it been there);
/// shared by every evaluation of a program, across threads.
///
/// The position is counted from the nearer end of the map: from the start in the first half,
/// from the end in the second, so that the walk is short and optional keys at the other end do
/// not move it. Once learned, it is stored only when the key is not within [`WINDOW`] entries
/// of it (and when a near hit takes it off probation): records whose shapes differ by a few
/// optional keys write nothing (no cache line bouncing
/// between threads that evaluate one program), and finding a key a few entries from the hint
/// costs a few length comparisons.
///
/// Records of irregular shapes would have every lookup miss the window and search twice. A
/// miss outside the window puts the hint on probation, and the next lookup that finds the key
/// near the hint takes it off; a second such miss while on probation retires the hint, and
/// lookups go to `Map::get` alone from then on.
///
/// A hint is learned at its second lookup, not its first: a program's field table evaluated once
/// (`CompactRecord::from_json` builds one per record) costs `Map::get` and nothing more.
///
/// One byte: 255 not used yet, 254 used once (learns at the next lookup), 253 retired;
/// otherwise bit 7 is the probation and bits 0–6 the position, `0..64` from the start,
/// `64 + k` for `len - k` (`k <= MAX_WALK`, so a position never reads as 253–255).
pub struct KeyHint(AtomicU8);

const UNKNOWN: u8 = u8::MAX;
const SEEN: u8 = u8::MAX - 1;
const RETIRED: u8 = u8::MAX - 2;
const PROBATION: u8 = 0x80;
const FROM_END: u8 = 64;

/// Not learned yet: the first lookup learns it.
impl Default for KeyHint {
    fn default() -> Self {
        KeyHint(AtomicU8::new(UNKNOWN))
    }
}

impl KeyHint {
    /// The hinted position in a map of `len` entries (`None`: past its end).
    #[inline(always)]
    fn at(raw: u8, len: usize) -> Option<usize> {
        match raw & !PROBATION {
            v @ FROM_END.. => len.checked_sub(usize::from(v - FROM_END)),
            v => Some(usize::from(v)),
        }
    }

    /// The byte for position `at` of a map of `len <= MAX_WALK` entries.
    fn encode(at: usize, len: usize) -> u8 {
        let v = if 2 * at < len {
            u8::try_from(at).ok()
        } else {
            len.checked_sub(at)
                .and_then(|k| u8::try_from(k).ok())
                .map(|k| k.saturating_add(FROM_END))
        };
        v.filter(|v| usize::from(*v) <= usize::from(FROM_END) + MAX_WALK)
            .unwrap_or(UNKNOWN)
    }

    /// The key was found near the hint (byte `raw`): off probation, unless another thread
    /// changed the hint since it was read.
    #[inline(always)]
    fn found(&self, raw: u8) {
        if raw & PROBATION != 0 {
            let _ = self
                .0
                .compare_exchange(raw, raw & !PROBATION, Relaxed, Relaxed);
        }
    }

    /// The key was not near the hint (byte `raw`); it is at (or its place is) position `at`
    /// of `len`, when that is known.
    fn missed(&self, raw: u8, at: Option<usize>, len: usize) {
        let learned = at.map_or(UNKNOWN, |at| KeyHint::encode(at, len));
        let next = match raw {
            // Nothing to learn (absent from a map in insertion order): retired, not noted
            // again at every lookup.
            UNKNOWN | SEEN if learned == UNKNOWN => RETIRED,
            UNKNOWN | SEEN => learned,
            RETIRED => RETIRED,
            _ if raw & PROBATION != 0 => RETIRED,
            // Absent from a map in insertion order: no place to learn, keep the position.
            _ if learned == UNKNOWN => raw | PROBATION,
            _ => learned | PROBATION,
        };
        if next != raw {
            self.0.store(next, Relaxed);
        }
    }
}

impl Clone for KeyHint {
    fn clone(&self) -> Self {
        KeyHint(AtomicU8::new(self.0.load(Relaxed)))
    }
}

impl fmt::Debug for KeyHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.load(Relaxed) {
            UNKNOWN => write!(f, "KeyHint(?)"),
            SEEN => write!(f, "KeyHint(seen)"),
            RETIRED => write!(f, "KeyHint(retired)"),
            raw => {
                let p = if raw & PROBATION != 0 {
                    ", probation"
                } else {
                    ""
                };
                match raw & !PROBATION {
                    v @ FROM_END.. => write!(f, "KeyHint(len - {}{p})", v - FROM_END),
                    v => write!(f, "KeyHint({v}{p})"),
                }
            }
        }
    }
}

type Entry<'m> = (&'m String, &'m Value);

/// The entry at position `at`, walked to from the nearer end.
#[inline(always)]
fn nth<'m>(m: &'m Map<String, Value>, at: usize) -> Option<Entry<'m>> {
    let len = m.len();
    if 2 * at < len {
        m.iter().nth(at)
    } else {
        m.iter().nth_back(len.checked_sub(at + 1)?)
    }
}

#[inline(always)]
fn is_key(k: &str, key: &str) -> bool {
    k.len() == key.len() && k.as_bytes() == key.as_bytes()
}

/// `m.get(key)`, looking first at the hinted position, then at the keys of the same length
/// around it.
#[inline(always)]
pub fn find<'m>(m: &'m Map<String, Value>, key: &str, hint: &KeyHint) -> Option<&'m Value> {
    find_in::<false>(m, key, hint)
}

/// [`find`]; with `UNORDERED`, as if the map were in insertion order (the tests check that
/// logic on sorted maps).
#[inline(always)]
fn find_in<'m, const UNORDERED: bool>(
    m: &'m Map<String, Value>,
    key: &str,
    hint: &KeyHint,
) -> Option<&'m Value> {
    let len = m.len();
    let raw = hint.0.load(Relaxed);
    if len > MAX_WALK || raw >= RETIRED {
        return find_cold::<UNORDERED>(m, key, raw, hint);
    }
    match KeyHint::at(raw, len) {
        Some(at) => match nth(m, at) {
            Some((k, v)) if is_key(k, key) => {
                hint.found(raw);
                Some(v)
            }
            _ => find_near::<UNORDERED>(m, key, raw, at, hint),
        },
        None => find_far::<UNORDERED>(m, key, raw, 0, &[], hint),
    }
}

/// A map too large to walk, or a hint retired, not used yet (noted, for the next lookup to
/// learn), or used once (learned now).
#[inline(never)]
fn find_cold<'m, const UNORDERED: bool>(
    m: &'m Map<String, Value>,
    key: &str,
    raw: u8,
    hint: &KeyHint,
) -> Option<&'m Value> {
    match raw {
        SEEN if m.len() <= MAX_WALK => find_far::<UNORDERED>(m, key, raw, 0, &[], hint),
        UNKNOWN => {
            hint.0.store(SEEN, Relaxed);
            m.get(key)
        }
        _ => m.get(key),
    }
}

/// The key is not at the hinted position `h`: the entries around it, nearest first; a key's
/// bytes are read only when its length is the key's.
#[inline(never)]
fn find_near<'m, const UNORDERED: bool>(
    m: &'m Map<String, Value>,
    key: &str,
    raw: u8,
    h: usize,
    hint: &KeyHint,
) -> Option<&'m Value> {
    let len = m.len();
    let lo = h.saturating_sub(WINDOW).min(len);
    let count = (len - lo).min(SPAN);
    let mut near: [Option<Entry<'m>>; SPAN] = [None; SPAN];
    if 2 * lo < len {
        let mut it = m.iter();
        if lo > 0 {
            it.nth(lo - 1);
        }
        for (slot, e) in near.iter_mut().zip(it) {
            *slot = Some(e);
        }
    } else {
        let mut it = m.iter().rev();
        let after = len - lo - count;
        if after > 0 {
            it.nth(after - 1);
        }
        for (slot, e) in near[..count].iter_mut().rev().zip(it) {
            *slot = Some(e);
        }
    }
    for d in 1..SPAN {
        for at in [h.checked_sub(d), Some(h + d)].into_iter().flatten() {
            match at.checked_sub(lo).and_then(|i| near.get(i)) {
                Some(Some((k, v))) if is_key(k, key) => {
                    hint.found(raw);
                    return Some(v);
                }
                _ => {}
            }
        }
    }
    find_far::<UNORDERED>(m, key, raw, lo, &near[..count], hint)
}

/// The key is not among the entries `near` (read from position `lo`). In a sorted map, it is
/// absent if the first of them is before it (or starts the map) and the last after it (or
/// ends the map). Otherwise, search the tree, and remember where the key is (in a sorted map,
/// where its place is: the number of keys before it).
#[inline(never)]
fn find_far<'m, const UNORDERED: bool>(
    m: &'m Map<String, Value>,
    key: &str,
    raw: u8,
    lo: usize,
    near: &[Option<Entry<'m>>],
    hint: &KeyHint,
) -> Option<&'m Value> {
    let sorted = !UNORDERED && sorted();
    if let (true, Some(Some((first, _))), Some(Some((last, _)))) =
        (sorted, near.first(), near.last())
    {
        if (lo == 0 || first.as_str() < key) && (lo + near.len() == m.len() || last.as_str() > key)
        {
            hint.found(raw);
            return None;
        }
    }
    let v = m.get(key);
    let at = match (v, sorted) {
        (Some(_), _) => m.keys().position(|k| is_key(k, key)),
        (None, true) => Some(m.keys().take_while(|k| k.as_str() < key).count()),
        (None, false) => None,
    };
    hint.missed(raw, at, m.len());
    v
}

/// Whether `serde_json::Map` iterates in key order (a B-tree), or in insertion order (when a
/// crate in the build enables serde_json's `preserve_order` feature).
fn sorted() -> bool {
    static SORTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SORTED.get_or_init(|| {
        let mut m = Map::new();
        m.insert("b".to_owned(), Value::Null);
        m.insert("a".to_owned(), Value::Null);
        m.keys().next().is_some_and(|k| k == "a")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn map_of(keys: &[String]) -> Map<String, Value> {
        keys.iter()
            .enumerate()
            .map(|(i, k)| (k.clone(), Value::from(i)))
            .collect()
    }

    /// The hinted position in a map of `len`, and whether the hint is on probation (`None`:
    /// not learned, or retired).
    fn state(hint: &KeyHint, len: usize) -> Option<(usize, bool)> {
        match hint.0.load(Relaxed) {
            UNKNOWN | SEEN | RETIRED => None,
            raw => KeyHint::at(raw, len).map(|at| (at, raw & PROBATION != 0)),
        }
    }

    proptest! {
        /// Whatever the hint holds (every byte: learned from either end, on probation,
        /// retired, not learned), the lookup gives what `Map::get` gives, and again with the
        /// hint it left.
        #[test]
        fn finds_what_get_finds(
            keys in proptest::collection::vec("[a-e]{0,3}", 0..60),
            key in "[a-e]{0,3}",
            raw in 0u8..=255,
        ) {
            let m = map_of(&keys);
            let hint = KeyHint(AtomicU8::new(raw));
            prop_assert_eq!(find(&m, &key, &hint), m.get(&key));
            prop_assert_eq!(find(&m, &key, &hint), m.get(&key));
            let hint = KeyHint(AtomicU8::new(raw));
            prop_assert_eq!(find_in::<true>(&m, &key, &hint), m.get(&key));
            prop_assert_eq!(find_in::<true>(&m, &key, &hint), m.get(&key));
        }
    }

    /// `find` three times in a row from hint byte `raw`, in both logics, against `Map::get`.
    fn check_all_hints(m: &Map<String, Value>, key: &str) {
        let want = m.get(key);
        for raw in 0..=u8::MAX {
            let hint = KeyHint(AtomicU8::new(raw));
            for _ in 0..3 {
                assert_eq!(find(m, key, &hint), want, "{key:?} from {raw} in {m:?}");
            }
            let hint = KeyHint(AtomicU8::new(raw));
            for _ in 0..3 {
                assert_eq!(
                    find_in::<true>(m, key, &hint),
                    want,
                    "{key:?} from {raw} (unordered)"
                );
            }
        }
    }

    /// Every map over 8 keys (each present or not), every one of them looked up and keys
    /// before, between and after them, from every hint byte.
    #[test]
    fn every_small_map_every_hint() {
        let pool = ["", "a", "aa", "ab", "b", "ba", "bb", "c"];
        let probes = ["", "a", "a0", "aa", "ab", "abc", "b", "ba", "bb", "c", "d"];
        for subset in 0u32..(1 << pool.len()) {
            let keys: Vec<String> = pool
                .iter()
                .enumerate()
                .filter(|(i, _)| subset >> i & 1 == 1)
                .map(|(_, k)| k.to_string())
                .collect();
            let m = map_of(&keys);
            for key in probes {
                check_all_hints(&m, key);
            }
        }
    }

    /// Maps of 0 to `MAX_WALK + 4` keys, every key and every gap between two keys looked up,
    /// from every hint byte: positions at both ends, counted from both ends, past the end.
    #[test]
    fn every_length_every_position_every_hint() {
        for len in 0..=MAX_WALK + 4 {
            let keys: Vec<String> = (0..len).map(|i| format!("k{:03}", 2 * i)).collect();
            let m = map_of(&keys);
            for probe in 0..=2 * len + 1 {
                check_all_hints(&m, &format!("k{probe:03}"));
            }
        }
    }

    #[test]
    fn hints_are_learned_kept_near_and_retired_when_they_keep_missing() {
        let keys: Vec<String> = (0..20).map(|i| format!("k{i:02}")).collect();
        let m = map_of(&keys);
        let hint = KeyHint::default();
        assert_eq!(state(&hint, 20), None);
        assert_eq!(find(&m, "k10", &hint), Some(&Value::from(10)));
        assert_eq!(
            hint.0.load(Relaxed),
            SEEN,
            "not learned on the first lookup"
        );
        assert_eq!(find(&m, "k10", &hint), Some(&Value::from(10)));
        assert_eq!(state(&hint, 20), Some((10, false)), "learned on the second");
        for (key, want) in [("k08", 8), ("k12", 12), ("k11", 11)] {
            assert_eq!(find(&m, key, &hint), Some(&Value::from(want)));
            assert_eq!(
                state(&hint, 20),
                Some((10, false)),
                "found near: not stored"
            );
        }
        assert_eq!(
            find(&m, "k10x", &hint),
            None,
            "bracketed by k10 and k11: absent"
        );
        assert_eq!(state(&hint, 20), Some((10, false)));
        assert_eq!(find(&m, "k18", &hint), Some(&Value::from(18)));
        assert_eq!(
            state(&hint, 20),
            Some((18, true)),
            "far: learned, on probation"
        );
        assert_eq!(state(&hint, 21), Some((19, true)), "counted from the end");
        assert_eq!(find(&m, "k17", &hint), Some(&Value::from(17)));
        assert_eq!(
            state(&hint, 20),
            Some((18, false)),
            "found near: off probation"
        );
        assert_eq!(find(&m, "a", &hint), None);
        assert_eq!(
            state(&hint, 20),
            Some((0, true)),
            "absent: where its place is"
        );
        assert_eq!(find(&m, "k19", &hint), Some(&Value::from(19)));
        assert_eq!(
            hint.0.load(Relaxed),
            RETIRED,
            "a second far miss on probation"
        );
        assert_eq!(find(&m, "k05", &hint), Some(&Value::from(5)));
        assert_eq!(find(&m, "k05x", &hint), None);
        assert_eq!(hint.0.load(Relaxed), RETIRED, "retired for good");
    }

    #[test]
    fn large_maps_use_the_tree_alone() {
        let keys: Vec<String> = (0..200).map(|i| format!("k{i:03}")).collect();
        let m = map_of(&keys);
        let hint = KeyHint::default();
        assert_eq!(find(&m, "k150", &hint), Some(&Value::from(150)));
        assert_eq!(find(&m, "k150", &hint), Some(&Value::from(150)));
        assert_eq!(hint.0.load(Relaxed), SEEN, "not learned");
    }

    #[test]
    fn no_position_reads_as_a_state() {
        for len in 0..=MAX_WALK {
            for at in 0..=len {
                let raw = KeyHint::encode(at, len);
                assert!(raw | PROBATION < RETIRED, "{at} of {len}: {raw}");
                assert_eq!(KeyHint::at(raw, len), Some(at));
                assert_eq!(KeyHint::at(raw | PROBATION, len), Some(at));
            }
        }
    }
}
