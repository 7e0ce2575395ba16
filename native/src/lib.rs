//! Native versions of three hot paths of `pipeline.stages`, each equal to its Python
//! fallback on every input (tests/unit/test_native.py): `split` (tokens.py), the hashing part
//! of `simhash` and the nearest-fingerprint search (dedupe.py). Python keeps the logic that
//! needs its own Unicode tables (folding); this module only does the loops.

use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};
use std::sync::OnceLock;

mod alnum;

/// One bit per code point of the Basic Multilingual Plane: str.isalnum() there.
fn bmp_table() -> &'static [u64] {
    static TABLE: OnceLock<Vec<u64>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut bits = vec![0u64; 0x10000 / 64];
        for &(start, end) in alnum::ALNUM.iter() {
            for cp in start..=end.min(0xFFFF) {
                bits[(cp / 64) as usize] |= 1 << (cp % 64);
            }
        }
        bits
    })
}

#[inline]
fn is_alnum(c: char, bmp: &[u64]) -> bool {
    let cp = c as u32;
    if cp < 0x80 {
        return c.is_ascii_alphanumeric();
    }
    if cp <= 0xFFFF {
        return bmp[(cp / 64) as usize] & (1 << (cp % 64)) != 0;
    }
    alnum::ALNUM
        .binary_search_by(|&(start, end)| {
            if end < cp {
                std::cmp::Ordering::Less
            } else if start > cp {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

#[inline]
fn is_hebrew_letter(c: Option<char>) -> bool {
    matches!(c, Some('\u{05d0}'..='\u{05ea}'))
}

/// `text` as [gap, word, gap, ..., word, gap], as `re.split` with tokens.py's pattern gives
/// it: words are runs of str.isalnum() characters, and a Hebrew abbreviation's quote
/// (", ״, ׳ or ') between two Hebrew letters belongs to its word.
#[pyfunction]
fn split<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyList>> {
    let bmp = bmp_table();
    let mut parts: Vec<Bound<'py, PyString>> = Vec::with_capacity(text.len() / 3 + 2);
    let mut gap_start = 0usize;
    let mut word_start: Option<usize> = None;
    let mut prev: Option<char> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let word = is_alnum(c, bmp)
            || (matches!(c, '"' | '\'' | '\u{05f3}' | '\u{05f4}')
                && is_hebrew_letter(prev)
                && is_hebrew_letter(chars.peek().map(|&(_, n)| n)));
        match (word, word_start) {
            (true, None) => {
                parts.push(PyString::new_bound(py, &text[gap_start..at]));
                word_start = Some(at);
            }
            (false, Some(start)) => {
                parts.push(PyString::new_bound(py, &text[start..at]));
                word_start = None;
                gap_start = at;
            }
            _ => {}
        }
        prev = Some(c);
    }
    if let Some(start) = word_start {
        parts.push(PyString::new_bound(py, &text[start..]));
        gap_start = text.len();
    }
    parts.push(PyString::new_bound(py, &text[gap_start..]));
    Ok(PyList::new_bound(py, parts))
}

const M1: u64 = 0xFF51AFD7ED558CCD;
const M2: u64 = 0xC4CEB9FE1A85EC53;
const K: u64 = 0x9E3779B97F4A7C15;
const P: u64 = 0x100000001B3;

#[inline]
fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(M1);
    x ^= x >> 33;
    x = x.wrapping_mul(M2);
    x ^ (x >> 33)
}

/// SimHash of the word bigrams of `folded`, the words' folded forms joined by \0: each word
/// hashes to mix(sum of byte * P**i over its UTF-8 bytes), each bigram to mix(a * K + b), and
/// the result's bytes are in the order dedupe.py's numpy version packs them.
#[pyfunction]
fn simhash_folded(folded: &str) -> u64 {
    let hashes: Vec<u64> = folded
        .as_bytes()
        .split(|&b| b == 0)
        .map(|word| {
            let mut sum = 0u64;
            let mut power = 1u64;
            for &b in word {
                sum = sum.wrapping_add((b as u64).wrapping_mul(power));
                power = power.wrapping_mul(P);
            }
            mix(sum)
        })
        .collect();
    let mut counts = [0u32; 64];
    let pairs = hashes.len().saturating_sub(1);
    for pair in hashes.windows(2) {
        let bigram = mix(pair[0].wrapping_mul(K).wrapping_add(pair[1]));
        for (bit, count) in counts.iter_mut().enumerate() {
            *count += ((bigram >> bit) & 1) as u32;
        }
    }
    let mut majority = 0u64;
    for (bit, &count) in counts.iter().enumerate() {
        if count as usize * 2 > pairs {
            majority |= 1 << bit;
        }
    }
    majority.swap_bytes()
}

/// A ring of recent fingerprints and the nearest one to a new fingerprint (dedupe.StoryIndex).
#[pyclass]
struct Fingerprints {
    fps: Vec<u64>,
}

#[pymethods]
impl Fingerprints {
    #[new]
    fn new(capacity: usize) -> Self {
        Fingerprints { fps: vec![0; capacity] }
    }

    fn set(&mut self, slot: usize, fingerprint: u64) -> PyResult<()> {
        match self.fps.get_mut(slot) {
            Some(cell) => {
                *cell = fingerprint;
                Ok(())
            }
            None => Err(pyo3::exceptions::PyIndexError::new_err("slot out of range")),
        }
    }

    /// (slot, Hamming distance) of the nearest of the first `size` fingerprints, the first
    /// such slot on a tie (numpy's argmin); None when `size` is 0.
    fn nearest(&self, fingerprint: u64, size: usize) -> Option<(usize, u32)> {
        let mut best: Option<(usize, u32)> = None;
        for (slot, &fp) in self.fps[..size.min(self.fps.len())].iter().enumerate() {
            let distance = (fp ^ fingerprint).count_ones();
            if best.map_or(true, |(_, d)| distance < d) {
                best = Some((slot, distance));
                if distance == 0 {
                    break;
                }
            }
        }
        best
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(split, m)?)?;
    m.add_function(wrap_pyfunction!(simhash_folded, m)?)?;
    m.add_class::<Fingerprints>()?;
    Ok(())
}
