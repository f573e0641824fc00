//! Perfect hashing of a fixed set of words (strings of up to seven bytes, `compile::word`), for
//! `in` lists and ORed equalities too large to scan (`compile::WordSet`).
//!
//! Hash and displace: each word's 64-bit hash picks a bucket (about four words per bucket) and,
//! with the bucket's displacement, a slot of a table of a power-of-two size. Building tries
//! displacements for the largest buckets first until each bucket's words land on free slots,
//! so that no two words share a slot. A lookup is three multiplications (the hash, the bucket,
//! the slot), one read of the displacement, one of the slot and one comparison with the word
//! stored there: no probing, no second candidate.
//!
//! Building is bounded: a fixed number of displacements per bucket and of seeds (the table
//! doubles after every fourth seed); when that fails (it does not for distinct words in
//! practice), the caller keeps a sorted set. Nothing here panics.

/// Words per bucket, on average.
const PER_BUCKET: usize = 4;
/// Displacements tried for one bucket before the seed is changed.
const TRIES: u32 = 1 << 14;
/// Seeds tried before giving up.
const SEEDS: u32 = 16;
/// Largest table, in bits of its size (2^30 slots of 8 bytes is already far past any list a
/// rule file holds).
const MAX_BITS: u32 = 30;

const K1: u64 = 0x9e37_79b9_7f4a_7c15;
const K2: u64 = 0xd6e8_feb8_6659_fd93;

/// A 64-bit mix of `v`: the folded 128-bit product with an odd constant.
#[inline(always)]
fn mix(v: u64) -> u64 {
    let x = u128::from(v) * u128::from(K1);
    (x as u64) ^ ((x >> 64) as u64)
}

/// A perfect hash set of 64-bit words.
#[derive(Debug, Clone)]
pub struct PerfectWords {
    seed: u64,
    /// `64 - log2(table size)`.
    shift: u32,
    /// One displacement per bucket.
    disp: Box<[u32]>,
    /// The words by slot; a free slot holds [`FREE`], which no string's word is.
    slots: Box<[u64]>,
}

/// A free slot of [`PerfectWords`]: neither a short string's word (whose top byte is its length,
/// at most 7) nor `compile::NO_WORD` (`u64::MAX`).
pub const FREE: u64 = u64::MAX - 1;

/// The bucket of a hash among `buckets`: its high half scaled (no division).
#[inline(always)]
fn bucket(h: u64, buckets: usize) -> usize {
    (((h >> 32) * buckets as u64) >> 32) as usize
}

/// The slot of a hash displaced by `d`, in a table of `2^(64 - shift)` slots.
#[inline(always)]
fn slot(h: u64, d: u32, shift: u32) -> usize {
    ((h ^ u64::from(d)).wrapping_mul(K2) >> shift) as usize
}

impl PerfectWords {
    /// A perfect hash of distinct words, none of them [`FREE`]; `None` when the words repeat or
    /// no layout was found.
    pub fn new(words: &[u64]) -> Option<PerfectWords> {
        let mut sorted = words.to_vec();
        sorted.sort_unstable();
        if sorted.windows(2).any(|w| w[0] == w[1]) || sorted.contains(&FREE) {
            return None;
        }
        // A table at most 80% full to start with.
        let n = words.len();
        let min_slots = (n + n / 4).max(2);
        let mut bits = usize::BITS - (min_slots - 1).leading_zeros();
        for attempt in 0..SEEDS {
            if attempt > 0 && attempt % 4 == 0 {
                bits += 1;
            }
            if bits > MAX_BITS {
                return None;
            }
            let seed = mix(u64::from(attempt) + 1);
            if let Some(set) = PerfectWords::build(words, seed, bits) {
                return Some(set);
            }
        }
        None
    }

    /// The set with this seed and a table of `2^bits` slots (`1 <= bits <= MAX_BITS`), or
    /// `None` when some bucket finds no displacement.
    fn build(words: &[u64], seed: u64, bits: u32) -> Option<PerfectWords> {
        let shift = 64 - bits;
        let buckets = words.len().div_ceil(PER_BUCKET).max(1);
        let hashes: Vec<u64> = words.iter().map(|&w| mix(w ^ seed)).collect();
        // Word indices grouped by bucket, the largest buckets first.
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); buckets];
        for (i, &h) in hashes.iter().enumerate() {
            members.get_mut(bucket(h, buckets))?.push(i);
        }
        let mut order: Vec<(usize, &Vec<usize>)> = members.iter().enumerate().collect();
        order.sort_by_key(|(_, keys)| std::cmp::Reverse(keys.len()));
        let mut disp = vec![0u32; buckets].into_boxed_slice();
        let mut slots = vec![FREE; 1usize.checked_shl(bits)?].into_boxed_slice();
        let mut here: Vec<usize> = Vec::with_capacity(8);
        for (b, keys) in order {
            if keys.is_empty() {
                break;
            }
            let placed = (0..TRIES).find(|&d| {
                here.clear();
                keys.iter().all(|&k| {
                    let p = hashes.get(k).map_or(usize::MAX, |&h| slot(h, d, shift));
                    let free = slots.get(p) == Some(&FREE) && !here.contains(&p);
                    here.push(p);
                    free
                })
            })?;
            for (&k, &p) in keys.iter().zip(&here) {
                *slots.get_mut(p)? = *words.get(k)?;
            }
            *disp.get_mut(b)? = placed;
        }
        Some(PerfectWords {
            seed,
            shift,
            disp,
            slots,
        })
    }

    /// Membership of a word ([`FREE`] is never a member, though free slots hold it).
    #[inline(always)]
    pub fn contains(&self, w: u64) -> bool {
        let h = mix(w ^ self.seed);
        self.disp
            .get(bucket(h, self.disp.len()))
            .and_then(|&d| self.slots.get(slot(h, d, self.shift)))
            .is_some_and(|&x| x == w && w != FREE)
    }

    /// The words of the set, in slot order.
    pub fn members(&self) -> impl Iterator<Item = u64> + '_ {
        self.slots.iter().copied().filter(|&w| w != FREE)
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
