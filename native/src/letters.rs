//! language_scripts.settle's one pass over a text: which of the letters its rules look for
//! occur, and whether any character of one block (Cyrillic) does, equal to
//! `frozenset(re.findall("[<letters>]", text))` and `re.search("[<first>-<last>]", text)`.
//! A regex pass costs 5-15 µs per 2,000 characters and settle needed two or more; this one
//! reads the str's stored characters in place, ~1-2 µs.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::stored_chars;

#[pyclass(frozen)]
pub(crate) struct LetterScan {
    index: Vec<u8>, // per code point of the Basic Multilingual Plane: 1 + its letter's index
    letters: Vec<char>, // the letters looked for, sorted
    block: (u32, u32), // the block asked about as a whole, first and last code point
}

#[pymethods]
impl LetterScan {
    #[new]
    fn new(letters: &str, first: u32, last: u32) -> PyResult<Self> {
        let mut sorted: Vec<char> = letters.chars().collect();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() > 255 || sorted.iter().any(|&c| c as u32 > 0xFFFF) {
            return Err(PyValueError::new_err(
                "at most 255 letters, all of the Basic Multilingual Plane",
            ));
        }
        let mut index = vec![0u8; 0x10000];
        for (at, &c) in sorted.iter().enumerate() {
            index[c as usize] = at as u8 + 1;
        }
        Ok(LetterScan {
            index,
            letters: sorted,
            block: (first, last),
        })
    }

    /// The letters of the scan that `text` holds, each once and in code point order, and
    /// whether it holds a character of the block. Code points are read as stored: a lone
    /// surrogate is neither a letter looked for nor in the block, as for `re`.
    fn scan(&self, text: &Bound<'_, PyString>) -> PyResult<(String, bool)> {
        let (width, data) = stored_chars(text)?;
        let mut found = [0u64; 4]; // indexes into self.letters
        let mut in_block = false;
        let mut visit = |cp: u32| {
            in_block |= (self.block.0..=self.block.1).contains(&cp);
            if let Some(&at @ 1..) = self.index.get(cp as usize) {
                let at = at as usize - 1;
                found[at / 64] |= 1 << (at % 64);
            }
        };
        match width {
            0 => data.iter().for_each(|&b| visit(b as u32)),
            1 => data
                .chunks_exact(2)
                .for_each(|u| visit(u16::from_ne_bytes([u[0], u[1]]) as u32)),
            _ => data
                .chunks_exact(4)
                .for_each(|u| visit(u32::from_ne_bytes([u[0], u[1], u[2], u[3]]))),
        }
        let letters = (0..self.letters.len())
            .filter(|&at| found[at / 64] & (1 << (at % 64)) != 0)
            .map(|at| self.letters[at])
            .collect();
        Ok((letters, in_block))
    }
}

/// Whether a str holds a surrogate code point (U+D800..U+DFFF): exactly the strs whose
/// `encode("utf-8")` fails, told from the stored characters without making the UTF-8 copy
/// (clean.scrub asked the encoder, for every field of every input line: ~1.6 % of the
/// enrich benchmark's instructions). A Latin-1 str holds none.
#[pyfunction]
pub(crate) fn has_surrogates(text: &Bound<'_, PyString>) -> PyResult<bool> {
    let (width, data) = stored_chars(text)?;
    // SAFETY: every bit pattern is a u16 and a u32; align_to leaves what is not aligned to
    // the head and tail (never, for a str's characters: they are allocated aligned), and
    // then the units are read byte by byte instead
    Ok(match width {
        0 => false,
        1 => match unsafe { data.align_to::<u16>() } {
            ([], units, []) => any_surrogate(units),
            _ => data
                .chunks_exact(2)
                .any(|u| is_surrogate(u16::from_ne_bytes([u[0], u[1]]))),
        },
        _ => match unsafe { data.align_to::<u32>() } {
            ([], units, []) => any_surrogate(units),
            _ => data
                .chunks_exact(4)
                .any(|u| is_surrogate(u32::from_ne_bytes([u[0], u[1], u[2], u[3]]))),
        },
    })
}

#[inline]
fn is_surrogate(unit: impl Into<u32>) -> bool {
    unit.into() & 0xFFFF_F800 == 0xD800
}

/// Whether any code unit is a surrogate: blocks of 32 units tested without a branch per
/// unit (vector compares), stopping at the first block with one (~12x fewer instructions
/// than a test and branch per unit).
fn any_surrogate<T: Copy + Into<u32>>(units: &[T]) -> bool {
    units.chunks(32).any(|block| {
        block
            .iter()
            .fold(false, |found, &u| found | is_surrogate(u))
    })
}
