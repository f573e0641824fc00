//! Perfect hashing of a fixed set of words (strings of up to seven bytes, `compile::word`), for
//! `in` lists and ORed equalities too large to scan (`compile::WordSet`).
//!
//! Hash and displace: each key's 64-bit hash picks a bucket (about four keys per bucket) and,
//! with the bucket's displacement, a slot of a table of a power-of-two size. Building tries
//! displacements for the largest buckets first until each bucket's keys land on free slots, so
//! that no two keys share a slot. A lookup is one hash, one read of the displacement, one of the
//! slot and one comparison with the key stored there: no probing, no second candidate.
//!
//! Building is bounded: a fixed number of displacements per bucket and of seeds (the table
//! doubles after every fourth seed); when that fails (it does not for distinct keys in
//! practice), the caller keeps its sorted or hashed set. Nothing here panics.

/// Keys per bucket, on average.
const PER_BUCKET: usize = 4;
/// Displacements tried for one bucket before the seed is changed.
const TRIES: u32 = 1 << 14;
/// Seeds tried before giving up.
const SEEDS: u32 = 16;

const K1: u64 = 0x9e37_79b9_7f4a_7c15;
const K2: u64 = 0xd6e8_feb8_6659_fd93;

/// A 64-bit mix of `v`: the folded 128-bit product with an odd constant.
#[inline(always)]
fn mix(v: u64) -> u64 {
    let x = u128::from(v) * u128::from(K1);
    (x as u64) ^ ((x >> 64) as u64)
}

/// Where keys go: the bucket of a hash, and the slot of a hash with its bucket's displacement.
#[derive(Debug, Clone)]
struct Layout {
    seed: u64,
    /// `64 - log2(table size)`.
    shift: u32,
    /// One displacement per bucket.
    disp: Box<[u32]>,
}

impl Layout {
    #[inline(always)]
    fn slot(&self, h: u64) -> Option<usize> {
        // The bucket: the hash's high half scaled to the bucket count (no division).
        let b = ((h >> 32) * self.disp.len() as u64) >> 32;
        let d = *self.disp.get(b as usize)?;
        Some(((h ^ u64::from(d)).wrapping_mul(K2) >> self.shift) as usize)
    }

    /// A layout for keys with these (seeded) hashes in a table of `1 << bits` slots, and each
    /// key's slot; `None` when some bucket finds no displacement.
    fn build(hashes: &[u64], seed: u64, bits: u32) -> Option<(Layout, Vec<usize>)> {
        let n = hashes.len();
        let buckets = n.div_ceil(PER_BUCKET).max(1);
        let mut layout = Layout {
            seed,
            shift: 64 - bits,
            disp: vec![0; buckets].into_boxed_slice(),
        };
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); buckets];
        for (i, &h) in hashes.iter().enumerate() {
            let b = ((h >> 32) * buckets as u64) >> 32;
            members.get_mut(b as usize)?.push(i);
        }
        let mut order: Vec<usize> = (0..buckets).collect();
        order.sort_by_key(|&b| std::cmp::Reverse(members[b].len()));
        let mut taken = vec![false; 1usize << bits];
        let mut slot_of = vec![0usize; n];
        let mut here: Vec<usize> = Vec::with_capacity(8);
        for b in order {
            let keys = &members[b];
            if keys.is_empty() {
                break;
            }
            let mut placed = false;
            for d in 0..TRIES {
                here.clear();
                let fits = keys.iter().all(|&k| {
                    let p = ((hashes[k] ^ u64::from(d)).wrapping_mul(K2) >> layout.shift) as usize;
                    let free = !taken[p] && !here.contains(&p);
                    here.push(p);
                    free
                });
                if fits {
                    for (&k, &p) in keys.iter().zip(&here) {
                        taken[p] = true;
                        slot_of[k] = p;
                    }
                    layout.disp[b] = d;
                    placed = true;
                    break;
                }
            }
            if !placed {
                return None;
            }
        }
        Some((layout, slot_of))
    }

    /// Tries seeds (and larger tables) until a layout is found for the keys hashed by `hash`
    /// (given a seed).
    fn search(n: usize, hash: impl Fn(u64) -> Vec<u64>) -> Option<(Layout, Vec<usize>)> {
        // A table at most 80% full to start with.
        let min_slots = (n + n / 4).max(2);
        let mut bits = usize::BITS - (min_slots - 1).leading_zeros();
        for attempt in 0..SEEDS {
            if attempt > 0 && attempt % 4 == 0 {
                bits += 1;
            }
            if bits >= 40 {
                return None;
            }
            let seed = mix(u64::from(attempt) + 1);
            if let Some(found) = Layout::build(&hash(seed), seed, bits) {
                return Some(found);
            }
        }
        None
    }
}

/// A perfect hash set of 64-bit words (strings of up to seven bytes, `compile::word`).
#[derive(Debug, Clone)]
pub struct PerfectWords {
    layout: Layout,
    /// The words by slot; a free slot holds [`FREE`], which no string's word is.
    slots: Box<[u64]>,
}

/// A free slot of [`PerfectWords`]: neither a short string's word (whose top byte is its length,
/// at most 7) nor `compile::NO_WORD` (`u64::MAX`).
pub const FREE: u64 = u64::MAX - 1;

impl PerfectWords {
    /// A perfect hash of distinct words, none of them [`FREE`]; `None` when none was found.
    pub fn new(words: &[u64]) -> Option<PerfectWords> {
        if words.contains(&FREE) {
            return None;
        }
        let (layout, slot_of) = Layout::search(words.len(), |seed| {
            words.iter().map(|&w| mix(w ^ seed)).collect()
        })?;
        let mut slots = vec![FREE; 1usize << (64 - layout.shift)].into_boxed_slice();
        for (&w, &p) in words.iter().zip(&slot_of) {
            *slots.get_mut(p)? = w;
        }
        Some(PerfectWords { layout, slots })
    }

    /// Membership of a word ([`FREE`] is never a member, though free slots hold it).
    #[inline(always)]
    pub fn contains(&self, w: u64) -> bool {
        let h = mix(w ^ self.layout.seed);
        self.layout
            .slot(h)
            .and_then(|p| self.slots.get(p))
            .is_some_and(|&x| x == w && w != FREE)
    }

    /// Slots in the table (for the docs' sizes and the tests).
    pub fn table_len(&self) -> usize {
        self.slots.len()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn words(n: u64) -> Vec<u64> {
        (0..n)
            .map(|i| crate::compile::word(format!("k{i}").as_bytes()))
            .collect()
    }

    #[test]
    fn every_word_is_found_and_no_other() {
        for n in [1, 2, 3, 17, 64, 100, 1000, 5000] {
            let ws = words(n);
            let set = PerfectWords::new(&ws).expect("a layout");
            assert!(ws.iter().all(|&w| set.contains(w)), "n = {n}");
            let others = (n..n + 2000).map(|i| crate::compile::word(format!("k{i}").as_bytes()));
            assert!(others.clone().all(|w| !set.contains(w)), "n = {n}");
            assert!(!set.contains(crate::compile::NO_WORD));
            assert!(set.table_len() < 4 * n as usize + 4);
        }
    }

    proptest::proptest! {
        #[test]
        fn membership_is_the_sets(
            keys in proptest::collection::btree_set(0u64..1 << 20, 0..300),
            probes in proptest::collection::vec(0u64..1 << 20, 50),
        ) {
            // Small keys (many share their high bits) and words of real strings alike.
            let keys: Vec<u64> = keys.into_iter().collect();
            let set = PerfectWords::new(&keys).expect("a layout");
            for &k in &keys {
                proptest::prop_assert!(set.contains(k));
            }
            for p in probes {
                proptest::prop_assert_eq!(set.contains(p), keys.binary_search(&p).is_ok());
            }
            proptest::prop_assert!(!set.contains(FREE));
        }

        #[test]
        fn word_sets_of_every_size_agree_with_the_words(n in 0usize..40, probe in 0usize..60) {
            let ws = words(n as u64);
            let set = crate::compile::WordSet::new(ws.clone());
            let w = crate::compile::word(format!("k{probe}").as_bytes());
            proptest::prop_assert_eq!(set.contains(w), ws.contains(&w));
        }
    }

    #[test]
    fn a_free_slot_word_is_refused() {
        assert!(PerfectWords::new(&[1, FREE]).is_none());
    }

    #[test]
    fn duplicates_find_no_layout_and_do_not_hang() {
        assert!(PerfectWords::new(&[7, 7]).is_none());
    }
}
