//! tokens.CharClass: whether a str holds any character of one class, equal to
//! `re.search("[<class>]", text) is not None` for a class of single characters and ranges.
//! The tokenizer and tagger ask this of every new word and of their "\x00"-joined words
//! (Cyrillic and Latin together, Greek, Arabic, Hangul): a regex pass costs ~40-90
//! instructions a character outside ASCII; this one reads the str's stored characters in
//! place, a few a character, and a str stored one byte a character without a look at them
//! when the class holds nothing below U+0100.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::stored_chars;

#[pyclass(frozen)]
pub(crate) struct CharClass {
    ranges: Vec<(u32, u32)>, // first and last code point of each range
    lowest: u32,             // the lowest first code point
}

#[pymethods]
impl CharClass {
    #[new]
    fn new(ranges: Vec<(u32, u32)>) -> PyResult<Self> {
        if ranges.is_empty() || ranges.iter().any(|&(lo, hi)| lo > hi || hi > 0x10FFFF) {
            return Err(PyValueError::new_err(
                "ranges of code points (first <= last <= 0x10FFFF), at least one",
            ));
        }
        let lowest = ranges.iter().map(|&(lo, _)| lo).min().unwrap_or(0);
        Ok(CharClass { ranges, lowest })
    }

    /// Whether `text` holds a character of the class. Code points are read as stored: a
    /// lone surrogate is in the class when a range holds its code point, as for `re`.
    fn holds(&self, text: &Bound<'_, PyString>) -> PyResult<bool> {
        let (width, data) = stored_chars(text)?;
        // the widest code point each width stores (PEP 393 stores a str in the narrowest)
        if self.lowest > [0xFF, 0xFFFF, 0x10FFFF][width.min(2)] {
            return Ok(false);
        }
        let ranges = &self.ranges[..];
        // SAFETY: every bit pattern is a u16 and a u32; align_to leaves what is not aligned
        // to the head and tail (never, for a str's characters: they are allocated aligned),
        // and then the units are read byte by byte instead
        Ok(match width {
            0 => any_in(data, ranges),
            1 => match unsafe { data.align_to::<u16>() } {
                ([], units, []) => any_in(units, ranges),
                _ => any_in(
                    &data
                        .chunks_exact(2)
                        .map(|u| u16::from_ne_bytes([u[0], u[1]]))
                        .collect::<Vec<u16>>(),
                    ranges,
                ),
            },
            _ => match unsafe { data.align_to::<u32>() } {
                ([], units, []) => any_in(units, ranges),
                _ => any_in(
                    &data
                        .chunks_exact(4)
                        .map(|u| u32::from_ne_bytes([u[0], u[1], u[2], u[3]]))
                        .collect::<Vec<u32>>(),
                    ranges,
                ),
            },
        })
    }
}

/// Whether any unit is in one of the ranges: blocks of 64 units tested one range at a time
/// without a branch per unit (vector compares), stopping at the first block with one (a
/// loop that stops at the first unit in a range cost more, even on words of a few units).
fn any_in<T: Copy + Into<u32>>(units: &[T], ranges: &[(u32, u32)]) -> bool {
    units.chunks(64).any(|block| {
        ranges.iter().any(|&(lo, hi)| {
            let span = hi - lo;
            block.iter().fold(false, |found, &u| {
                found | (u.into().wrapping_sub(lo) <= span)
            })
        })
    })
}
