//! Native versions of hot paths of `pipeline.stages`, each equal to its Python fallback on
//! every input (tests/unit/test_native.py): `split` and the common case of `fold`
//! (tokens.py), the hashing part of `simhash` and the nearest-fingerprint search (dedupe.py),
//! the tagger's word table, new-word prefilter and token offsets (tagging.py), and the letter
//! scan of the language rules (language_scripts.py; tests/unit/test_language_scan.py) and
//! py3langid's n-gram walk and scores (language.py).
//! Python's Unicode data comes in generated tables (tables.rs); where they cannot promise
//! Python's answer (Greek, whose accents come off through NFD, or text NFC may change) the
//! caller folds in Python.

// PyO3 0.22's macros convert PyErr into itself in every PyResult function
#![allow(clippy::useless_conversion)]

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString};
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

mod charclass;
mod clean;
mod dawg;
mod jsonout;
mod letters;
mod log1p_table;
mod nbscore;
mod ngrams;
mod rules;
mod tables;

#[inline(always)] // per character of every text split or hashed
fn is_alnum(c: char, bmp: &Bmp) -> bool {
    let cp = c as u32;
    if cp < 0x80 {
        return c.is_ascii_alphanumeric();
    }
    if cp <= 0xFFFF {
        return bmp.alnum[(cp / 64) as usize] & (1 << (cp % 64)) != 0;
    }
    in_ranges(&tables::ALNUM, cp)
}

pub(crate) fn in_ranges(ranges: &[(u32, u32)], cp: u32) -> bool {
    ranges
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
fn greek(c: char) -> bool {
    matches!(c, '\u{0370}'..='\u{03ff}' | '\u{1f00}'..='\u{1fff}')
}

#[inline]
fn hebrew_script(c: char) -> bool {
    matches!(c, '\u{0590}'..='\u{05ff}')
}

/// tokens.fold: str.lower(), ё as е, i + combining dot (Turkish İ lowered) as i; Arabic marks
/// dropped and letter variants unified; with any Greek letter, every acute and diaeresis
/// dropped (Python's NFD and NFC, read from a table); with any Hebrew letter, Hebrew points
/// and quotes dropped; then NFC, which is the identity when no character NFC may change
/// remains. None where Python must fold: polytonic Greek, or such a character.
///
/// Read from the str's stored characters and written into a new str (`new_part`), where a
/// &str argument made CPython encode every text outside ASCII to UTF-8 and the String
/// returned was decoded again; an ASCII text is only lowered (no Hebrew letter, so no quote
/// drops; no dot to join). A lone surrogate: None, as the UnicodeEncodeError of the UTF-8
/// argument gave before.
#[pyfunction]
fn fold_plain<'py>(text: &Bound<'py, PyString>) -> PyResult<Option<Bound<'py, PyString>>> {
    let py = text.py();
    let (width, data) = stored_chars(text)?;
    // SAFETY: `text` is a ready str (stored_chars)
    if width == 0 && unsafe { pyo3::ffi::PyUnicode_IS_ASCII(text.as_ptr()) } != 0 {
        let low: Vec<u8> = data.iter().map(u8::to_ascii_lowercase).collect();
        return new_part::<u8>(py, &low, 0).map(Some);
    }
    let mut chars = Vec::with_capacity(data.len() >> width);
    let whole = match width {
        0 => decode_units::<u8>(units_of(data)?, &mut chars),
        1 => decode_units::<u16>(units_of(data)?, &mut chars),
        _ => decode_units::<u32>(units_of(data)?, &mut chars),
    };
    if !whole {
        return Ok(None);
    }
    let (hebrew, greek_text) = scripts(chars.iter().copied());
    let mut folder = Folder::new(hebrew, greek_text);
    let mut out: Vec<u32> = Vec::with_capacity(chars.len());
    let mut bits = 0u32;
    let mut prev = None;
    for (at, &c) in chars.iter().enumerate() {
        let next = if c == 'Σ' {
            chars.get(at + 1).copied()
        } else {
            None
        };
        let fold = &mut |low: char| {
            bits |= low as u32;
            out.push(low as u32);
        };
        if !folder.fold(c, prev, next, fold) {
            return Ok(None);
        }
        prev = Some(c);
    }
    new_part::<u32>(py, &out, bits).map(Some)
}

/// A str's code units as chars into `chars`; false where one is a lone surrogate.
fn decode_units<U: Unit>(units: &[U], chars: &mut Vec<char>) -> bool {
    for &unit in units {
        match char::from_u32(unit.code()) {
            Some(c) => chars.push(c),
            None => return false,
        }
    }
    true
}

/// Whether a text has a Hebrew letter, and a Greek one once lowered: Python drops quotes
/// only from a text with a Hebrew letter in it, and accents only from one with a Greek
/// letter (the ohm sign, the one other character that lowers to Greek, becomes ω:
/// tests/unit/test_native.py checks that it is the one).
fn scripts(chars: impl Iterator<Item = char>) -> (bool, bool) {
    let (mut hebrew, mut greek_text) = (false, false);
    for c in chars {
        hebrew |= hebrew_script(c);
        greek_text |= greek(c) || c == '\u{2126}';
    }
    (hebrew, greek_text)
}

/// One `fold_plain` pass, character by character: what the whole text decides (`scripts`)
/// and whether the last character given out is an i no dot has joined yet.
struct Folder {
    bmp: &'static Bmp,
    hebrew: bool,
    greek_text: bool,
    after_i: bool,
}

impl Folder {
    fn new(hebrew: bool, greek_text: bool) -> Self {
        let bmp = bmp_tables();
        Folder {
            bmp,
            hebrew,
            greek_text,
            after_i: false,
        }
    }

    /// Gives `out` what `c` folds to; false where Python must fold the text. `prev` is the
    /// character before `c` in the text and `next` the one after (read for Σ only).
    #[inline]
    fn fold(
        &mut self,
        c: char,
        prev: Option<char>,
        next: Option<char>,
        out: &mut impl FnMut(char),
    ) -> bool {
        if c.is_ascii() {
            if self.hebrew && (c == '"' || c == '\'') {
                self.after_i = false; // as for the points below
                return true;
            }
            let low = c.to_ascii_lowercase();
            out(low);
            self.after_i = low == 'i';
            return true;
        }
        if c == 'Σ' && !medial_sigma(prev, next) {
            return false; // str.lower() may write it final (ς): Python tells
        }
        let mut one = [0u8; 4];
        let lowered: &str = match lower_of(c, self.bmp) {
            Some(low) => low,
            None => c.encode_utf8(&mut one),
        };
        for low in lowered.chars() {
            if low == '\u{0307}' && self.after_i {
                self.after_i = false; // "i\u0307" -> "i", once per i, as str.replace does
                continue;
            }
            // Python unifies Arabic and drops Hebrew points after it joined i and dot: a
            // dropped character between them leaves the dot, which NFC then refuses below
            let low = match low {
                'ё' => 'е',
                '\u{064b}'..='\u{065f}' | '\u{0670}' | '\u{0640}' => {
                    self.after_i = false;
                    continue;
                }
                '\u{0591}'..='\u{05c7}' | '\u{05f3}' | '\u{05f4}' if self.hebrew => {
                    self.after_i = false;
                    continue;
                }
                'ي' | 'ى' => 'ی',
                'ك' => 'ک',
                'أ' | 'إ' | 'آ' => 'ا',
                'ة' => 'ه',
                other => other,
            };
            if matches!(low, '\u{1f00}'..='\u{1fff}') {
                return false; // polytonic: its breathings and iota subscripts stay for Python
            }
            if self.greek_text {
                if let Some(bare) = accent_free(low) {
                    // an i from ï does not take a dot after it: Python joined i and dot
                    // before it dropped the diaeresis
                    bare.chars().for_each(&mut *out);
                    self.after_i = false;
                    continue;
                }
            }
            if nfc_unsafe(low, self.bmp) {
                return false;
            }
            out(low);
            self.after_i = low == 'i';
        }
        true
    }
}

/// The Basic Multilingual Plane's share of the tables, indexed by code point: built once.
struct Bmp {
    alnum: Vec<u64>,      // one bit per code point
    nfc_unsafe: Vec<u64>, // one bit per code point
    lower: Vec<u16>,      // 1 + the index in tables::LOWER, or 0
}

fn bmp_tables() -> &'static Bmp {
    static TABLES: OnceLock<Bmp> = OnceLock::new();
    TABLES.get_or_init(|| {
        let bits = |ranges: &[(u32, u32)]| {
            let mut bits = vec![0u64; 0x10000 / 64];
            for &(start, end) in ranges {
                for cp in start..=end.min(0xFFFF) {
                    bits[(cp / 64) as usize] |= 1 << (cp % 64);
                }
            }
            bits
        };
        let mut lower = vec![0u16; 0x10000];
        for (at, &(cp, _)) in tables::LOWER.iter().enumerate() {
            if cp <= 0xFFFF {
                lower[cp as usize] = (at + 1) as u16;
            }
        }
        Bmp {
            alnum: bits(&tables::ALNUM),
            nfc_unsafe: bits(&tables::NFC_UNSAFE),
            lower,
        }
    })
}

#[inline]
fn lower_of(c: char, bmp: &Bmp) -> Option<&'static str> {
    let cp = c as u32;
    if cp <= 0xFFFF {
        let at = bmp.lower[cp as usize];
        return (at != 0).then(|| tables::LOWER[at as usize - 1].1);
    }
    tables::LOWER
        .binary_search_by_key(&cp, |&(k, _)| k)
        .ok()
        .map(|at| tables::LOWER[at].1)
}

/// Whether str.lower() surely makes σ (not the final ς) of a capital sigma between these
/// characters: nothing cased before it (the text's start or a space), or a letter, which is
/// cased and not case-ignorable, right after it. Other places are left to Python.
fn medial_sigma(before: Option<char>, after: Option<char>) -> bool {
    let starts_word = before.is_none_or(|c| c.is_ascii_whitespace());
    starts_word
        || after.is_some_and(|c| {
            c.is_ascii_alphabetic()
                || matches!(c, '\u{0386}' | '\u{0388}'..='\u{038a}' | '\u{038c}'
                    | '\u{038e}'..='\u{03a1}' | '\u{03a3}'..='\u{03ce}')
        })
}

/// What tokens.fold leaves of a character with an acute or a diaeresis in a Greek text.
fn accent_free(c: char) -> Option<&'static str> {
    tables::ACCENTED
        .binary_search_by_key(&(c as u32), |&(k, _)| k)
        .ok()
        .map(|at| tables::ACCENTED[at].1)
}

#[inline]
fn nfc_unsafe(c: char, bmp: &Bmp) -> bool {
    let cp = c as u32;
    if cp <= 0xFFFF {
        return bmp.nfc_unsafe[(cp / 64) as usize] & (1 << (cp % 64)) != 0;
    }
    in_ranges(&tables::NFC_UNSAFE, cp)
}

/// `text` as [gap, word, gap, ..., word, gap], as `re.split` with tokens.py's pattern gives
/// it: words are runs of str.isalnum() characters, and a Hebrew abbreviation's quote
/// (", ״, ׳ or ') between two Hebrew letters belongs to its word. The text's characters are
/// read where CPython stores them and each part is cut from them (PyUnicode_Substring): a
/// UTF-8 copy of the text and a decoding per part cost more than the scan itself (and a
/// lone surrogate is a gap's character here, as in Python).
#[pyfunction]
fn split<'py>(text: &Bound<'py, PyString>) -> PyResult<Bound<'py, PyList>> {
    Ok(split_parts(text, false)?.0)
}

/// `split(text)` and `part_offsets` of its parts, from the same scan: the offsets are where
/// the scan cut the parts (part_offsets read every part's length again through len():
/// ~150 M instructions over the benchmark corpus, ~30 M in the scan instead).
#[pyfunction]
fn split_offsets<'py>(
    text: &Bound<'py, PyString>,
) -> PyResult<(Bound<'py, PyList>, Bound<'py, PyBytes>)> {
    let (parts, offsets) = split_parts(text, true)?;
    // SAFETY: any u64's bytes are u8s, read in place: the bytes `to_ne_bytes` gives each,
    // in order, copied once into the bytes object (not first into a Vec<u8> of their own)
    let bytes =
        unsafe { std::slice::from_raw_parts(offsets.as_ptr().cast::<u8>(), 8 * offsets.len()) };
    Ok((parts, PyBytes::new_bound(text.py(), bytes)))
}

/// `split`'s parts, and with `offsets` their `part_offsets` (else none): where each part
/// begins, then the text's end.
fn split_parts<'py>(
    text: &Bound<'py, PyString>,
    offsets: bool,
) -> PyResult<(Bound<'py, PyList>, Vec<u64>)> {
    let py = text.py();
    let (width, data) = stored_chars(text)?;
    match width {
        0 => split_units::<u8>(py, units_of(data)?, offsets),
        1 => split_units::<u16>(py, units_of(data)?, offsets),
        _ => split_units::<u32>(py, units_of(data)?, offsets),
    }
}

/// One of CPython's three widths of stored characters (PEP 393): a code unit is a code
/// point.
trait Unit: Copy {
    fn code(self) -> u32;
    /// A code point this width holds (the caller knows it does).
    fn of_code(cp: u32) -> Self;
}

impl Unit for u8 {
    #[inline(always)]
    fn code(self) -> u32 {
        u32::from(self)
    }
    #[inline(always)]
    fn of_code(cp: u32) -> Self {
        cp as u8
    }
}

impl Unit for u16 {
    #[inline(always)]
    fn code(self) -> u32 {
        u32::from(self)
    }
    #[inline(always)]
    fn of_code(cp: u32) -> Self {
        cp as u16
    }
}

impl Unit for u32 {
    #[inline(always)]
    fn code(self) -> u32 {
        self
    }
    #[inline(always)]
    fn of_code(cp: u32) -> Self {
        cp
    }
}

/// `stored_chars`' data as code units of its width.
fn units_of<U: Unit>(data: &[u8]) -> PyResult<&[U]> {
    // SAFETY: every bit pattern is a u8, u16 or u32; CPython aligns a str's characters
    let (head, units, tail) = unsafe { data.align_to::<U>() };
    if head.is_empty() && tail.is_empty() {
        Ok(units)
    } else {
        Err(pyo3::exceptions::PyRuntimeError::new_err(
            "a str's characters out of line",
        ))
    }
}

/// `split_parts` in one width: `word_spans_of`' gaps and words (the same `in_word_code`), each
/// part made from the units just read (`new_part`). The scan ORs each part's code points
/// together on the way: the highest bit of the OR is the highest of the part's largest code
/// point, so it tells which of the widths 0x80, 0x100 and 0x10000 bound that point, as
/// PyUnicode_Substring learnt by reading the part again (its find_max_char and the calls
/// around it were ~160 instructions a part; 3 million parts over the benchmark corpus).
fn split_units<'py, U: Unit>(
    py: Python<'py>,
    units: &[U],
    offsets: bool,
) -> PyResult<(Bound<'py, PyList>, Vec<u64>)> {
    let alnum: &[u64; 0x10000 / 64] = bmp_tables()
        .alnum
        .as_slice()
        .try_into()
        .map_err(|_| bad_table())?;
    let length = units.len();
    // a part per word and gap: at most length + 1 of them, and a half of it held every text
    // of the benchmark corpus and eval sets (a third, as before, fell short in half of them)
    let mut parts: Vec<Bound<'py, PyString>> = Vec::with_capacity(length / 2 + 2);
    // where each part begins, in order, then the text's end
    let mut starts: Vec<u64> = Vec::with_capacity(if offsets { length / 2 + 3 } else { 0 });
    let mut at = 0usize;
    loop {
        let gap_start = at;
        let mut bits = 0u32;
        while at < length {
            let cp = units[at].code();
            if in_word_unit(units, at, cp, alnum) {
                break;
            }
            bits |= cp;
            at += 1;
        }
        parts.push(new_part(py, &units[gap_start..at], bits)?);
        if offsets {
            starts.push(gap_start as u64);
        }
        if at == length {
            break;
        }
        let start = at;
        bits = units[at].code();
        at += 1;
        while at < length {
            let cp = units[at].code();
            if !in_word_unit(units, at, cp, alnum) {
                break;
            }
            bits |= cp;
            at += 1;
        }
        parts.push(new_part(py, &units[start..at], bits)?);
        if offsets {
            starts.push(start as u64);
        }
    }
    if offsets {
        starts.push(length as u64);
    }
    Ok((into_list(py, parts)?, starts))
}

/// `in_word` on code units, `cp` the one at `at`.
#[inline(always)]
fn in_word_unit<U: Unit>(units: &[U], at: usize, cp: u32, alnum: &[u64; 0x10000 / 64]) -> bool {
    in_word_code(cp, at, units.len(), |n| units[n].code(), alnum)
}

/// A str of these code units, as PyUnicode_Substring would cut it from the text: stored in
/// the narrowest width that holds its largest code point (PEP 393's one form of each
/// string, which str == compares), which `bits` (its code points ORed) tells; no part and
/// one character of Latin-1 are CPython's shared strings, as there.
#[inline(always)]
fn new_part<'py, U: Unit>(
    py: Python<'py>,
    units: &[U],
    bits: u32,
) -> PyResult<Bound<'py, PyString>> {
    // SAFETY: PyUnicode_New gives a new str of units.len() characters of at most `max`, or
    // NULL with an exception set; its characters are written here before anything reads
    // them, each in its width (`max` bounds every code point, as `bits` does)
    unsafe {
        let ptr = match units {
            [] => pyo3::ffi::PyUnicode_New(0, 0),
            [one] if one.code() < 0x100 => {
                let ptr = latin1_strings()[one.code() as usize] as *mut pyo3::ffi::PyObject;
                pyo3::ffi::Py_INCREF(ptr);
                ptr
            }
            [one] => pyo3::ffi::PyUnicode_FromOrdinal(one.code() as std::os::raw::c_int),
            _ => {
                let max: u32 = match bits {
                    0..=0x7F => 0x7F,
                    0x80..=0xFF => 0xFF,
                    0x100..=0xFFFF => 0xFFFF,
                    _ => 0x10_FFFF,
                };
                let ptr = pyo3::ffi::PyUnicode_New(units.len() as pyo3::ffi::Py_ssize_t, max);
                if !ptr.is_null() {
                    let data = pyo3::ffi::PyUnicode_DATA(ptr);
                    match max {
                        0x7F | 0xFF => copy_units::<U, u8>(units, data.cast()),
                        0xFFFF => copy_units::<U, u16>(units, data.cast()),
                        _ => copy_units::<U, u32>(units, data.cast()),
                    }
                }
                ptr
            }
        };
        Ok(Bound::from_owned_ptr_or_err(py, ptr)?.downcast_into_unchecked())
    }
}

/// CPython's str of each Latin-1 character, the one PyUnicode_Substring gives for a part of
/// one such character (a third of all parts, most of them one space), asked for once: each
/// reference is kept for good, as CPython keeps these strings.
fn latin1_strings() -> &'static [usize; 0x100] {
    static STRINGS: OnceLock<[usize; 0x100]> = OnceLock::new();
    STRINGS.get_or_init(|| {
        // SAFETY: called with the GIL held (from `split_parts`); PyUnicode_FromOrdinal never
        // fails below 0x110000
        std::array::from_fn(|cp| unsafe { pyo3::ffi::PyUnicode_FromOrdinal(cp as i32) as usize })
    })
}

/// Writes `units` to `to` in another width (or the same) that holds each of them.
///
/// # Safety
/// `to` must have room for units.len() units of `V`.
#[inline(always)]
unsafe fn copy_units<U: Unit, V: Unit>(units: &[U], to: *mut V) {
    if std::mem::size_of::<U>() == std::mem::size_of::<V>() {
        std::ptr::copy_nonoverlapping(units.as_ptr().cast::<V>(), to, units.len());
    } else {
        for (n, &unit) in units.iter().enumerate() {
            to.add(n).write(V::of_code(unit.code()));
        }
    }
}

/// A list of `items`, which takes over their references (PyList::new_bound adds one to each
/// item and drops ours).
fn into_list<'py>(
    py: Python<'py>,
    items: Vec<Bound<'py, PyString>>,
) -> PyResult<Bound<'py, PyList>> {
    // SAFETY: PyList_New gives a new list of len(items) empty slots, or NULL with an exception
    // set; PyList_SET_ITEM fills each slot once, with a reference the list takes over
    unsafe {
        let list = pyo3::ffi::PyList_New(items.len() as pyo3::ffi::Py_ssize_t);
        let list: Bound<'py, PyList> =
            Bound::from_owned_ptr_or_err(py, list)?.downcast_into_unchecked();
        for (n, item) in items.into_iter().enumerate() {
            pyo3::ffi::PyList_SET_ITEM(list.as_ptr(), n as pyo3::ffi::Py_ssize_t, item.into_ptr());
        }
        Ok(list)
    }
}

/// The character at `at` of a str's stored characters (`stored_chars`' data), `W` bytes each:
/// a constant, so each width's loops read their units without a branch.
#[inline]
fn code_at<const W: usize>(data: &[u8], at: usize) -> u32 {
    match W {
        1 => u32::from(data[at]),
        2 => u32::from(u16::from_ne_bytes([data[2 * at], data[2 * at + 1]])),
        _ => {
            let b = &data[4 * at..4 * at + 4];
            u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
        }
    }
}

/// Each word of a str's stored characters (`stored_chars`' data, `W` bytes a character), as
/// [start, end) in characters, in order: `split`'s words (runs of str.isalnum() characters,
/// with a Hebrew abbreviation's quote between two Hebrew letters), for `simhash_text`
/// (`simhash_plain` finds them in its own loop, in texts where they are runs of letters).
/// `split_units` finds them by the same test (`in_word_code`), so the two cannot disagree.
/// Each width is its own loop: `split` read the width for every character before (split's
/// instructions over 300 corpus articles: 71 -> 58 million).
fn word_spans_of<const W: usize>(
    data: &[u8],
    mut span: impl FnMut(usize, usize) -> PyResult<()>,
) -> PyResult<()> {
    // the alnum bits as an array: indexed by a BMP code point's / 64, without a bounds check
    let alnum: &[u64; 0x10000 / 64] = bmp_tables()
        .alnum
        .as_slice()
        .try_into()
        .map_err(|_| bad_table())?;
    let length = data.len() / W;
    let mut at = 0usize;
    while at < length {
        // a gap, then a word, each a tight run over the code units; a quote's neighbours
        // are read only for a quote (the state machine that carried every character's
        // neighbours: split's own instructions over 300 corpus articles 51.5 -> 32.7 M)
        while at < length && !in_word::<W>(data, at, length, alnum) {
            at += 1;
        }
        if at == length {
            break;
        }
        let start = at;
        at += 1;
        while at < length && in_word::<W>(data, at, length, alnum) {
            at += 1;
        }
        span(start, at)?;
    }
    Ok(())
}

/// Whether the character at `at` belongs to a word (`in_word_code`).
#[inline(always)]
fn in_word<const W: usize>(
    data: &[u8],
    at: usize,
    length: usize,
    alnum: &[u64; 0x10000 / 64],
) -> bool {
    let cp = code_at::<W>(data, at);
    in_word_code(cp, at, length, |n| code_at::<W>(data, n), alnum)
}

/// Whether the character `cp` at `at` of a text of `length` belongs to a word: str.isalnum(),
/// or a Hebrew abbreviation's quote between two Hebrew letters (`code` reads its
/// neighbours). A lone surrogate is neither (its code has no bit in the alnum table).
#[inline(always)]
fn in_word_code(
    cp: u32,
    at: usize,
    length: usize,
    code: impl Fn(usize) -> u32,
    alnum: &[u64; 0x10000 / 64],
) -> bool {
    if cp <= 0xFFFF {
        if alnum[(cp / 64) as usize] & (1 << (cp % 64)) != 0 {
            return true;
        }
    } else {
        return in_ranges(&tables::ALNUM, cp);
    }
    matches!(cp, 0x22 | 0x27 | 0x05f3 | 0x05f4)
        && at > 0
        && at + 1 < length
        && is_hebrew_code(code(at - 1))
        && is_hebrew_code(code(at + 1))
}

fn bad_table() -> PyErr {
    pyo3::exceptions::PyRuntimeError::new_err("the alnum table is not one bit per BMP code point")
}

#[inline]
fn is_hebrew_code(cp: u32) -> bool {
    (0x05d0..=0x05ea).contains(&cp)
}

/// Where each of `parts` begins, in characters, when they are joined (0 first), and after
/// the last one, as native-endian u64s: `split`'s parts give the offsets of every token.
#[pyfunction]
fn part_offsets<'py>(parts: &Bound<'py, PyList>) -> PyResult<Bound<'py, PyBytes>> {
    let mut offsets = Vec::with_capacity(8 * (parts.len() + 1));
    let mut at = 0u64;
    offsets.extend_from_slice(&at.to_ne_bytes());
    for part in parts.iter() {
        at += part.downcast::<PyString>()?.len()? as u64;
        offsets.extend_from_slice(&at.to_ne_bytes());
    }
    Ok(PyBytes::new_bound(parts.py(), &offsets))
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
    let mut words = WordHashes::default();
    folded.chars().for_each(|c| words.push(c));
    words.done()
}

/// The words of \0-joined folded text, given a character at a time, hashed into `Bigrams`:
/// each word's hash is mix(sum of byte * P**i over its UTF-8 bytes).
struct WordHashes {
    bigrams: Bigrams,
    sum: u64,
    power: u64,
}

impl Default for WordHashes {
    fn default() -> Self {
        WordHashes {
            bigrams: Bigrams::default(),
            sum: 0,
            power: 1,
        }
    }
}

impl WordHashes {
    #[inline(always)] // per character hashed
    fn push(&mut self, c: char) {
        if c == '\0' {
            self.bigrams.word(mix(self.sum));
            (self.sum, self.power) = (0, 1);
            return;
        }
        hash_char(&mut self.sum, &mut self.power, c);
    }

    fn done(mut self) -> u64 {
        self.bigrams.word(mix(self.sum));
        self.bigrams.done()
    }
}

/// A word's running hash (`sum`, and `power`: P to the number of bytes hashed so far) after
/// one more character: each of its UTF-8 bytes times the power it stands at.
#[inline(always)]
fn hash_char(sum: &mut u64, power: &mut u64, c: char) {
    if c.is_ascii() {
        *sum = sum.wrapping_add((c as u64).wrapping_mul(*power));
        *power = power.wrapping_mul(P);
        return;
    }
    let mut buf = [0u8; 4];
    for &b in c.encode_utf8(&mut buf).as_bytes() {
        *sum = sum.wrapping_add((b as u64).wrapping_mul(*power));
        *power = power.wrapping_mul(P);
    }
}

/// Each bit's count over the bigrams of the words' hashes, given a word's hash at a time,
/// and the SimHash of them (`done`): the majority of each bit, its bytes in the order
/// dedupe.py's numpy version packs them. The counts are kept in 4-bit counters, 16 to a
/// u64 (`nibbles[j]`'s nibble m counts bit 4m + j: four shifts, masks and adds a bigram),
/// moved into 8-bit counters every 15 bigrams, before one can overflow (`bytes[j]`'s byte
/// q counts bit 8q + j), and those into `counts` every 255 (17 x 15): one table lookup
/// and add for each of a bigram's eight bytes before.
struct Bigrams {
    last: Option<u64>,
    pairs: usize,
    nibbles: [u64; 4],
    in_nibbles: u32, // bigrams in `nibbles`: < 15
    bytes: [u64; 8],
    in_bytes: u32, // flushes of `nibbles` into `bytes`: < 17
    counts: [u32; 64],
}

impl Default for Bigrams {
    fn default() -> Self {
        Bigrams {
            last: None,
            pairs: 0,
            nibbles: [0; 4],
            in_nibbles: 0,
            bytes: [0; 8],
            in_bytes: 0,
            counts: [0; 64],
        }
    }
}

const NIBBLE_ONES: u64 = 0x1111_1111_1111_1111;
const LOW_NIBBLES: u64 = 0x0F0F_0F0F_0F0F_0F0F;

impl Bigrams {
    #[inline(always)] // per word hashed
    fn word(&mut self, hash: u64) {
        if let Some(last) = self.last {
            self.pair(mix(last.wrapping_mul(K).wrapping_add(hash)));
        }
        self.last = Some(hash);
    }

    #[inline(always)]
    fn pair(&mut self, bigram: u64) {
        for (j, nibbles) in self.nibbles.iter_mut().enumerate() {
            *nibbles += (bigram >> j) & NIBBLE_ONES;
        }
        self.pairs += 1;
        self.in_nibbles += 1;
        if self.in_nibbles == 15 {
            self.flush_nibbles();
            self.in_bytes += 1;
            if self.in_bytes == 17 {
                self.flush_bytes();
            }
        }
    }

    /// Adds each 4-bit counter (<= 15) to its 8-bit one: nibble 2q of `nibbles[j]` to byte
    /// q of `bytes[j]`, nibble 2q + 1 to byte q of `bytes[4 + j]`.
    fn flush_nibbles(&mut self) {
        for j in 0..4 {
            let nibbles = std::mem::take(&mut self.nibbles[j]);
            self.bytes[j] += nibbles & LOW_NIBBLES;
            self.bytes[4 + j] += (nibbles >> 4) & LOW_NIBBLES;
        }
        self.in_nibbles = 0;
    }

    fn flush_bytes(&mut self) {
        for (j, bytes) in self.bytes.iter_mut().enumerate() {
            for q in 0..8 {
                self.counts[8 * q + j] += ((*bytes >> (8 * q)) & 0xFF) as u32;
            }
            *bytes = 0;
        }
        self.in_bytes = 0;
    }

    fn done(mut self) -> u64 {
        // the bytes hold at most 16 x 15 here, and the nibbles fewer than 15 more
        self.flush_nibbles();
        self.flush_bytes();
        let mut majority = 0u64;
        for (bit, &count) in self.counts.iter().enumerate() {
            if count as usize * 2 > self.pairs {
                majority |= 1 << bit;
            }
        }
        majority.swap_bytes()
    }
}

/// dedupe.simhash of a text in one call: its words, as `split` finds them, joined by \0,
/// folded as `fold_plain` folds them and hashed as `simhash_folded` hashes them, read from
/// the str's stored characters (no parts, no joined or folded str, no UTF-8 copies), in one
/// pass for most texts (`simhash_plain`): 0.124 s over the corpus's 2,400 bodies reading
/// `split`'s ~600 parts a body, 0.084 s from the text. None where Python must fold:
/// `fold_plain` declines.
#[pyfunction]
fn simhash_text(text: &Bound<'_, PyString>) -> PyResult<Option<u64>> {
    let (width, data) = stored_chars(text)?;
    Ok(match width {
        0 => simhash_of::<1>(data),
        1 => simhash_of::<2>(data),
        _ => simhash_of::<4>(data),
    })
}

fn simhash_of<const W: usize>(data: &[u8]) -> Option<u64> {
    match simhash_plain::<W>(data) {
        Some(plain) => plain,
        None => simhash_special::<W>(data),
    }
}

/// `simhash_of` a text with a `special_script` character: its words as `split` finds them
/// (a Hebrew abbreviation's quote joins two), each folded as `fold_plain` folds the words
/// joined by \0 and hashed as they are found, most characters through one entry of a
/// `special_steps` table made for what the text has (folding a joined copy of the words
/// through Folder, a binary search for a Greek accent among its steps, took ~190
/// instructions a character).
fn simhash_special<const W: usize>(data: &[u8]) -> Option<u64> {
    // `scripts` of the joined words, from the text's letters: a word's Greek or Hebrew
    // character is a letter, or a Hebrew quote, which stands in a word only between two
    // Hebrew letters
    let bmp = bmp_tables();
    // (a special_script code point is in the BMP)
    let letter = |cp: u32| bmp.alnum[(cp / 64) as usize] & (1 << (cp % 64)) != 0;
    let in_hebrew = |cp: u32| (0x0590..=0x05ff).contains(&cp);
    let mut codes = data.chunks_exact(W).map(|unit| code_at::<W>(unit, 0));
    // after the first such letter, only a letter of the other kind can tell more (a Greek
    // text read every character's ranges and letter bit to its end: ~30 M instructions
    // over the corpus)
    let (hebrew, greek_text) = match codes.find(|&cp| special_script(cp) && letter(cp)) {
        None => (false, false),
        Some(cp) if in_hebrew(cp) => {
            let greek = codes.any(|cp| special_script(cp) && !in_hebrew(cp) && letter(cp));
            (true, greek)
        }
        // Greek, or the ohm sign
        Some(_) => (codes.any(|cp| in_hebrew(cp) && letter(cp)), true),
    };
    let table = special_steps(hebrew, greek_text);
    let mut folder = Folder::new(hebrew, greek_text);
    let mut bigrams = Bigrams::default();
    let mut declined = false;
    let spans = word_spans_of::<W>(data, |start, end| {
        if declined {
            return Ok(());
        }
        let first_word = bigrams.last.is_none();
        // as in simhash_plain: the word's hash so far, and its last character's `add`
        let (mut sum, mut power, mut last) = (0u64, 1u64, 0u64);
        for (at, unit) in (start..end).zip(data[W * start..W * end].chunks_exact(W)) {
            let cp = code_at::<W>(unit, 0);
            let step = table.get(cp as usize).copied().unwrap_or(SLOW);
            if step.power != 0 {
                sum = sum.wrapping_add(step.add.wrapping_mul(power));
                power = power.wrapping_mul(step.power);
                last = step.add;
                continue;
            }
            // Folder folds it, with the characters around it in the joined text (read for
            // Σ): the word's, the \0 before a word after the first, and after the word the
            // \0 or the text's end, which is None here: neither is a letter
            let char_at = |at: usize| char::from_u32(code_at::<W>(data, at));
            let prev = if at > start {
                char_at(at - 1)
            } else if first_word {
                None
            } else {
                Some('\0')
            };
            let next = if at + 1 < end { char_at(at + 1) } else { None };
            folder.after_i = last == u64::from(b'i');
            let folded = match char_at(at) {
                // a word's characters are letters or quotes: never None
                Some(c) => folder.fold(c, prev, next, &mut |low| {
                    hash_char(&mut sum, &mut power, low)
                }),
                None => false,
            };
            if !folded {
                declined = true;
                return Ok(());
            }
            last = if folder.after_i { u64::from(b'i') } else { 0 };
        }
        // (the \0 between two words adds nothing to either's hash, and sets no after_i)
        bigrams.word(mix(sum));
        Ok(())
    });
    if spans.is_err() || declined {
        return None; // the spans' callback never fails
    }
    if bigrams.last.is_none() {
        bigrams.word(mix(0)); // no word: the joined text's one empty word, as WordHashes
    }
    Some(bigrams.done())
}

/// Code points below this have their own `special_steps` entry, Folder's for the scripts
/// (Greek's own, polytonic, Hebrew, and every character Folder treats otherwise in a Greek
/// or Hebrew text: `flags_stop_below`); the others' fold is the one without them.
const SPECIAL_TABLE: u32 = 0x2100;

/// Each BMP character's `PlainStep` in the words of a text with Greek or Hebrew letters
/// (`scripts`: hebrew, greek_text), built once for each (~2 ms): SLOW where Folder's fold
/// reads the characters around (Σ), the after_i it is given, or gives out an after_i its
/// `add` does not tell, or declines. Found below SPECIAL_TABLE by folding each character
/// itself, from either after_i: the table is Folder's word for it. Above, where the scripts
/// change no fold (`flags_stop_below`), a letter's `plain_steps` entry (the Japanese and
/// Chinese of a text with one Greek letter went to Folder one by one).
fn special_steps(hebrew: bool, greek_text: bool) -> &'static [PlainStep; 0x10000] {
    type Table = OnceLock<Box<[PlainStep; 0x10000]>>;
    static TABLES: [Table; 4] = [
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
    ];
    TABLES[2 * usize::from(hebrew) + usize::from(greek_text)].get_or_init(|| {
        let plain = plain_steps();
        let above = flags_stop_below(SPECIAL_TABLE);
        let steps: Vec<PlainStep> = (0..=0xffff)
            .map(|cp| match char::from_u32(cp) {
                Some(c) if cp < SPECIAL_TABLE => {
                    folded_step(c, &mut Folder::new(hebrew, greek_text))
                }
                // a `plain_steps` GAP or SPECIAL (the ohm sign) has no step: Folder's
                _ if above && plain[cp as usize].power != 0 => plain[cp as usize],
                _ => SLOW,
            })
            .collect();
        steps
            .into_boxed_slice()
            .try_into()
            .unwrap_or_else(|_| unreachable!("0x10000 code points"))
    })
}

/// Whether Folder folds every character from `bound` up as it does in a text without
/// Greek or Hebrew letters: what the scripts change is a Hebrew text's quotes and points
/// (U+0591 to U+05C7, U+05F3, U+05F4, and ASCII quotes) and a Greek text's accented
/// characters (tables::ACCENTED), each met as the character or in its lowercase.
fn flags_stop_below(bound: u32) -> bool {
    let touched = |c: char| {
        matches!(
            c,
            '\u{0591}'..='\u{05c7}' | '\u{05f3}' | '\u{05f4}' | '"' | '\''
        ) || accent_free(c).is_some()
    };
    tables::ACCENTED.iter().all(|&(cp, _)| cp < bound)
        && tables::LOWER
            .iter()
            .filter(|&&(cp, _)| cp >= bound)
            .all(|&(_, lower)| !lower.chars().any(touched))
}

/// The `PlainStep` of `c` as `folder` folds it, where the fold needs nothing but `c`.
fn folded_step(c: char, folder: &mut Folder) -> PlainStep {
    if c == 'Σ' {
        return SLOW; // its neighbours tell σ from ς
    }
    let mut outcomes = [(false, 0u64, 1u64, false); 2];
    for (outcome, after_i) in outcomes.iter_mut().zip([false, true]) {
        let (mut add, mut power) = (0u64, 1u64);
        folder.after_i = after_i;
        let folded = folder.fold(c, None, None, &mut |low| {
            hash_char(&mut add, &mut power, low)
        });
        *outcome = (folded, add, power, folder.after_i);
    }
    let (folded, add, power, after_i) = outcomes[0];
    if !folded || outcomes[1] != outcomes[0] || after_i != (add == u64::from(b'i')) {
        return SLOW;
    }
    PlainStep { add, power }
}

/// Whether a character is one that makes `fold_plain` read a text differently: a Hebrew
/// one (quotes join words, points drop) or a Greek one, or the ohm sign (accents drop).
#[inline]
fn special_script(cp: u32) -> bool {
    matches!(cp, 0x0370..=0x03ff | 0x0590..=0x05ff | 0x1f00..=0x1fff | 0x2126)
}

/// `simhash_of` a text without a `special_script` character, in one pass: its words are
/// runs of letters (no quote joins them without a Hebrew letter), folded and hashed as they
/// are found, each BMP character through one `plain_steps` entry (its folded form's whole
/// share of the word's hash: one multiply-add and one multiply a character) unless Folder
/// must fold it. None at the first `special_script` character: the text is
/// simhash_special's (that check was a pass of its own before; simhash_text over the
/// corpus's 2,400 bodies, bigrams included: 742 -> 293 M instructions).
fn simhash_plain<const W: usize>(data: &[u8]) -> Option<Option<u64>> {
    // the code points in order: an iterator over the bytes or exact chunks reads each with
    // one load and no bounds check (indexing `data` checked two bytes' bounds a character)
    if W == 1 {
        simhash_plain_codes(data.iter().map(|&unit| u32::from(unit)))
    } else {
        simhash_plain_codes(data.chunks_exact(W).map(|unit| code_at::<W>(unit, 0)))
    }
}

/// `simhash_plain` of a text's code points.
#[inline(always)]
fn simhash_plain_codes(mut codes: impl Iterator<Item = u32>) -> Option<Option<u64>> {
    let table = plain_steps();
    let step_of = |cp: u32| match table.get(cp as usize) {
        Some(&step) => step,
        None => astral_step(cp),
    };
    let mut folder = Folder::new(false, false);
    let mut bigrams = Bigrams::default();
    'text: loop {
        let (mut cp, mut step) = loop {
            let Some(cp) = codes.next() else {
                break 'text;
            };
            let step = step_of(cp);
            if step != GAP {
                break (cp, step);
            }
        };
        // a word, from its first letter: its hash as WordHashes takes it, and whether the
        // last character it gave out is an i (Folder's after_i: that character's `add`)
        let (mut sum, mut power, mut last) = (0u64, 1u64, 0u64);
        loop {
            if step.power != 0 {
                sum = sum.wrapping_add(step.add.wrapping_mul(power));
                power = power.wrapping_mul(step.power);
                last = step.add;
            } else if step == GAP {
                break;
            } else if step == SPECIAL {
                return None;
            } else {
                // SLOW: Folder folds it, and may decline
                let c = char::from_u32(cp)?; // a letter: never None
                folder.after_i = last == u64::from(b'i');
                if !folder.fold(c, None, None, &mut |low| {
                    hash_char(&mut sum, &mut power, low)
                }) {
                    return Some(None);
                }
                last = if folder.after_i { u64::from(b'i') } else { 0 };
            }
            match codes.next() {
                Some(next) => (cp, step) = (next, step_of(next)),
                None => break,
            }
        }
        // (the \0 between two words adds nothing to either's hash)
        bigrams.word(mix(sum));
    }
    if bigrams.last.is_none() {
        bigrams.word(mix(0)); // no word: the joined text's one empty word, as WordHashes
    }
    Some(Some(bigrams.done()))
}

/// What one character of a text without a `special_script` character adds to its word's
/// hash in `simhash_plain`, where it is one character that folds without a look at its
/// neighbours: its folded form's UTF-8 bytes b0, b1, ... make the word's sum gain
/// power * (b0 + b1 * P + ...) = b0 * power + b1 * power * P + ..., and the power gain P to
/// the number of those bytes, the very (wrapping) sums WordHashes makes byte by byte. A
/// dropped character (an Arabic mark) adds 0 and steps by 1. `power` 0 marks the others:
/// GAP (not a word's character), SLOW (Folder folds it: it may decline, or lower to more
/// than one character), SPECIAL (the text goes to simhash_joined).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct PlainStep {
    add: u64,
    power: u64,
}

const GAP: PlainStep = PlainStep { add: 0, power: 0 };
const SLOW: PlainStep = PlainStep { add: 1, power: 0 };
const SPECIAL: PlainStep = PlainStep { add: 2, power: 0 };

/// `PlainStep` of an astral character (above the table): a letter is Folder's.
#[cold]
fn astral_step(cp: u32) -> PlainStep {
    if in_ranges(&tables::ALNUM, cp) {
        SLOW
    } else {
        GAP
    }
}

/// The `PlainStep` of every BMP code point, built once (~2 ms, 1 MB): a lone surrogate is a
/// gap's character, as in `split`.
fn plain_steps() -> &'static [PlainStep; 0x10000] {
    static TABLE: OnceLock<Box<[PlainStep; 0x10000]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let bmp = bmp_tables();
        let steps: Vec<PlainStep> = (0u32..=0xffff)
            .map(|cp| match char::from_u32(cp) {
                _ if special_script(cp) => SPECIAL, // a letter or not, as `split` has it
                Some(c) if is_alnum(c, bmp) => plain_step(c, bmp),
                _ => GAP,
            })
            .collect();
        steps
            .into_boxed_slice()
            .try_into()
            .unwrap_or_else(|_| unreachable!("0x10000 code points"))
    })
}

/// The `PlainStep` of a letter, not a `special_script` one.
fn plain_step(c: char, bmp: &Bmp) -> PlainStep {
    let low = if c.is_ascii() {
        c.to_ascii_lowercase()
    } else {
        match plain_fold(c, bmp) {
            PLAIN_SLOW => return SLOW,
            PLAIN_DROP => return PlainStep { add: 0, power: 1 },
            // a BMP character other than a surrogate or U+FFFF: never None
            low => char::from_u32(u32::from(low)).unwrap_or('\0'),
        }
    };
    let (mut add, mut power) = (0u64, 1u64);
    hash_char(&mut add, &mut power, low);
    if add == u64::from(b'i') && low != 'i' {
        return SLOW; // never: its `add` would pass for an i's (Folder's after_i)
    }
    PlainStep { add, power }
}

const PLAIN_SLOW: u16 = 0;
const PLAIN_DROP: u16 = 0xffff;

/// What Folder (without Hebrew or Greek in the text) makes of a non-ASCII BMP character,
/// where that is one character other than i (which a combining dot may follow) and needs no
/// look at its neighbours: that character, PLAIN_DROP (an Arabic mark), else PLAIN_SLOW
/// (Folder folds it, or declines: NFC may change it, polytonic Greek).
fn plain_fold(c: char, bmp: &Bmp) -> u16 {
    let mut one = [0u8; 4];
    let lowered: &str = match lower_of(c, bmp) {
        Some(low) => low,
        None => c.encode_utf8(&mut one),
    };
    let mut chars = lowered.chars();
    let (Some(low), None) = (chars.next(), chars.next()) else {
        return PLAIN_SLOW; // more than one character (İ: i and a combining dot)
    };
    // Folder::fold's steps for one character, in its order
    let low = match low {
        '\u{0307}' => return PLAIN_SLOW,
        'ё' => 'е',
        '\u{064b}'..='\u{065f}' | '\u{0670}' | '\u{0640}' => return PLAIN_DROP,
        'ي' | 'ى' => 'ی',
        'ك' => 'ک',
        'أ' | 'إ' | 'آ' => 'ا',
        'ة' => 'ه',
        other => other,
    };
    let code = u32::from(low);
    if matches!(low, '\u{1f00}'..='\u{1fff}' | 'i') || nfc_unsafe(low, bmp) || code >= 0xffff {
        return PLAIN_SLOW;
    }
    code as u16
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
        Fingerprints {
            fps: vec![0; capacity],
        }
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
        let fps = &self.fps[..size.min(self.fps.len())];
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("popcnt") {
            // SAFETY: this CPU has the popcnt instruction
            return unsafe { nearest_popcnt(fps, fingerprint) };
        }
        nearest_of(fps, fingerprint)
    }
}

/// Fingerprints::nearest: each block's least distance without a branch per fingerprint,
/// then the first fingerprint at it in a block that beats the best so far; the first 0 ends
/// the search (as the first slot at distance 0 is the answer). The default x86-64 target
/// counts bits without popcnt (~12 instructions): `nearest_popcnt` has it where the CPU does
/// (over the enrich benchmark's 2,400 articles: 66 M instructions before, a test and branch
/// per fingerprint).
#[inline(always)]
fn nearest_of(fps: &[u64], fingerprint: u64) -> Option<(usize, u32)> {
    let mut best: Option<(usize, u32)> = None;
    for (n, block) in fps.chunks(64).enumerate() {
        let distance = |fp: &u64| (fp ^ fingerprint).count_ones();
        let least = block.iter().map(distance).min()?; // chunks are never empty
        if matches!(best, Some((_, nearest)) if least >= nearest) {
            continue;
        }
        let at = block.iter().position(|fp| distance(fp) == least)?;
        best = Some((64 * n + at, least));
        if least == 0 {
            break;
        }
    }
    best
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
unsafe fn nearest_popcnt(fps: &[u64], fingerprint: u64) -> Option<(usize, u32)> {
    nearest_of(fps, fingerprint)
}

/// FxHash (rustc's): a word's few bytes hash in a handful of multiplications, where std's
/// SipHash guards against hash flooding that the tagger's own cache does not need to fear
/// (it is cleared at MAX_CACHED_WORDS words whatever they are).
#[derive(Default, Clone, Copy)]
struct Fx(u64);

impl Hasher for Fx {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        for &b in chunks.remainder() {
            self.add(b as u64);
        }
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.add(n as u64);
    }

    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.add(n as u64); // a char
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    #[inline]
    fn write_u128(&mut self, n: u128) {
        self.add(n as u64);
        self.add((n >> 64) as u64);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

impl Fx {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<Fx>>;

/// A str's characters as CPython stores them, and which of the three widths (1, 2 or 4 bytes
/// a character) that is: PEP 393 stores each string in the narrowest width that holds its
/// characters, so equal strings have equal bytes and width. Read in place, where `to_str`
/// would make and keep a UTF-8 copy of every word outside ASCII (it cost 0.2 s a corpus).
fn stored_chars<'a>(word: &'a Bound<'_, PyString>) -> PyResult<(usize, &'a [u8])> {
    let ptr = word.as_ptr();
    // SAFETY: `word` is a str, alive for 'a; once ready (always, since Python 3.12) its
    // kind, length and data describe its characters, and they never change.
    unsafe {
        if pyo3::ffi::PyUnicode_READY(ptr) != 0 {
            return Err(PyErr::fetch(word.py()));
        }
        let kind = pyo3::ffi::PyUnicode_KIND(ptr) as usize;
        let length = pyo3::ffi::PyUnicode_GET_LENGTH(ptr) as usize;
        let data = pyo3::ffi::PyUnicode_DATA(ptr) as *const u8;
        Ok((kind / 2, std::slice::from_raw_parts(data, length * kind)))
    }
}

/// The bytes each character of `text` is stored in: 1, 2 or 4 (PEP 393's kind). Read from the
/// str's header, O(1): a str stored 1 byte a character holds none above U+00FF, so a search
/// for such characters in it can be skipped (pipeline/stages/tokens.py, `AboveLatin1`).
#[pyfunction]
fn char_width(text: &Bound<'_, PyString>) -> PyResult<usize> {
    let (width, _) = stored_chars(text)?;
    Ok(1 << width)
}

/// `stored_chars` of an object a borrowed reference points to, which must be a str.
///
/// # Safety
/// `word` must be a live object for 'a.
#[inline]
unsafe fn str_chars<'a>(
    py: Python<'_>,
    word: *mut pyo3::ffi::PyObject,
) -> PyResult<(usize, &'a [u8])> {
    if pyo3::ffi::PyUnicode_Check(word) == 0 {
        return Err(pyo3::exceptions::PyTypeError::new_err(
            "a token that is not a str",
        ));
    }
    if pyo3::ffi::PyUnicode_READY(word) != 0 {
        return Err(PyErr::fetch(py));
    }
    let kind = pyo3::ffi::PyUnicode_KIND(word) as usize;
    let length = pyo3::ffi::PyUnicode_GET_LENGTH(word) as usize;
    let data = pyo3::ffi::PyUnicode_DATA(word) as *const u8;
    Ok((kind / 2, std::slice::from_raw_parts(data, length * kind)))
}

/// A word's stored characters, inline up to 30 bytes (most words): a lookup that meets its
/// key compares it there, without one more cache miss for characters on the heap.
enum Key {
    Short(u8, [u8; 30]),
    Long(Box<[u8]>),
}

impl Key {
    fn new(chars: &[u8]) -> Self {
        let mut inline = [0u8; 30];
        match inline.get_mut(..chars.len()) {
            Some(head) => {
                head.copy_from_slice(chars);
                Key::Short(chars.len() as u8, inline)
            }
            None => Key::Long(chars.into()),
        }
    }

    #[inline]
    fn chars(&self) -> &[u8] {
        match self {
            Key::Short(length, inline) => &inline[..*length as usize],
            Key::Long(chars) => chars,
        }
    }
}

/// Word ids by their stored characters and width, for `WordTable::scan`'s one lookup per
/// token: open addressing over a power-of-two array of packed slots (8 bytes each, at most
/// half full), the characters apart in `keys`. Small slots that `scan` fetches ahead of
/// time: in hashbrown's map of 40-byte entries, the cache miss on a cold word's entry was
/// 4 % of the whole process (perf, 68 % of that map's samples on the entry's first byte).
#[derive(Default)]
struct WordIds {
    // 0: empty; else the hash's top 30 bits, the width (bits 32-33) and the id + 1
    slots: Vec<u64>,
    keys: Vec<Key>, // per id
}

const TAG: u64 = !0x3_FFFF_FFFF;

impl WordIds {
    #[inline]
    fn tag(hash: u64, width: usize) -> u64 {
        (hash & TAG) | ((width as u64) << 32)
    }

    /// The first slot a word with this hash is looked for in (none while the index is empty).
    #[inline]
    fn first_slot(&self, hash: u64) -> Option<&u64> {
        self.slots
            .get(hash as usize & self.slots.len().wrapping_sub(1))
    }

    /// Asks the processor for the first slot a word with this hash is looked for in.
    #[inline]
    fn prefetch_slot(&self, hash: u64) {
        if let Some(slot) = self.first_slot(hash) {
            prefetch(slot);
        }
    }

    /// Asks for the characters of the word in the first slot a word is looked for in, when
    /// its tag is that word's (most often the word itself).
    #[inline]
    fn prefetch_key(&self, hash: u64, width: usize) {
        if let Some(&slot) = self.first_slot(hash) {
            if slot != 0 && slot & !0xFFFF_FFFF == Self::tag(hash, width) {
                if let Some(key) = self.keys.get((slot as u32 - 1) as usize) {
                    prefetch(key);
                }
            }
        }
    }

    #[inline(always)] // once per token: the call itself was a fifth of its instructions
    fn get(&self, chars: &[u8], width: usize, hash: u64) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let want = Self::tag(hash, width);
        let mut at = hash as usize & mask;
        loop {
            let slot = self.slots[at];
            if slot == 0 {
                return None;
            }
            if slot & !0xFFFF_FFFF == want {
                let id = slot as u32 - 1;
                if self.keys[id as usize].chars() == chars {
                    return Some(id);
                }
            }
            at = (at + 1) & mask;
        }
    }

    /// A new id for a word `get` did not find.
    fn insert(&mut self, chars: &[u8], width: usize, hash: u64) -> u32 {
        if 2 * (self.keys.len() + 1) > self.slots.len() {
            self.grow();
        }
        let id = self.keys.len() as u32;
        self.keys.push(Key::new(chars));
        self.place(Self::tag(hash, width) | u64::from(id + 1), hash);
        id
    }

    fn place(&mut self, slot: u64, hash: u64) {
        let mask = self.slots.len() - 1;
        let mut at = hash as usize & mask;
        while self.slots[at] != 0 {
            at = (at + 1) & mask;
        }
        self.slots[at] = slot;
    }

    fn grow(&mut self) {
        let size = (2 * self.slots.len()).max(1024);
        let old = std::mem::replace(&mut self.slots, vec![0; size]);
        for slot in old.into_iter().filter(|&s| s != 0) {
            // the slot keeps only the hash's top bits: the rest comes from the characters
            let width = ((slot >> 32) & 3) as usize;
            let hash = word_hash(self.keys[(slot as u32 - 1) as usize].chars(), width);
            self.place(slot, hash);
        }
    }
}

/// A word's hash from its stored characters and their width: FxHash's steps on 8 bytes at
/// a time (the length mixed in first), then `mix` for the index's low bits and the tag's
/// high ones. The bytes the chunks leave are read as the last 8 of the word (overlapping
/// the chunk before), as its first and last 4, or as its first, middle and last byte:
/// with the length, each covers every byte, and none copies a byte (the zero-padded copy
/// of the rest was a memcpy call per token).
#[inline]
fn word_hash(chars: &[u8], width: usize) -> u64 {
    let n = chars.len();
    let mut hash = Fx(((n as u64) << 2) | width as u64);
    if n >= 8 {
        let mut at = 0;
        while n - at > 8 {
            hash.add(u64_at(chars, at));
            at += 8;
        }
        hash.add(u64_at(chars, n - 8));
    } else if n >= 4 {
        hash.add((u64::from(u32_at(chars, 0)) << 32) | u64::from(u32_at(chars, n - 4)));
    } else if n > 0 {
        let (first, middle, last) = (chars[0], chars[n / 2], chars[n - 1]);
        hash.add((u64::from(first) << 16) | (u64::from(middle) << 8) | u64::from(last));
    }
    mix(hash.0)
}

#[inline(always)]
fn u64_at(chars: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&chars[at..at + 8]);
    u64::from_le_bytes(word)
}

#[inline(always)]
fn u32_at(chars: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&chars[at..at + 4]);
    u32::from_le_bytes(word)
}

/// A hint that `value` is read soon (nothing on other processors).
#[inline]
fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults, and the address is a live reference's
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>((value as *const T).cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// How many tokens ahead `scan` asks for the characters of a token's word.
const AHEAD: usize = 8;

/// The next token's id where the text ends (tagging.py's None).
const END: u32 = u32::MAX;

/// tagging._Vocabulary's memory of words, for `find`'s pass over every token of a text: each
/// word so written once met gets an id and whether some phrase can start at it ("live"),
/// and each (live word, next word) pair a slot in the caller's list of the phrases that
/// start there and go on with that next word. Python decides all of that (morphology
/// stays there); this only looks tokens up, which Python did with set operations and a
/// dict lookup per token.
#[pyclass]
#[derive(Default)]
struct WordTable {
    ids: WordIds,
    live: Vec<bool>,               // per word id
    pairs: FxMap<(u32, u32), u32>, // (word id, next word id or END) -> slot
    full: Vec<bool>,               // per slot: whether any phrase starts there
    tokens: Vec<u32>,              // the last scanned text's word ids
    fresh: usize,                  // slots from here on were made by the last `live_pairs`
    found: Vec<(usize, u32)>,      // (position, slot) of each live token of that text
}

#[pymethods]
impl WordTable {
    #[new]
    fn new() -> Self {
        WordTable::default()
    }

    /// The number of words remembered (tagging's len(_starting)).
    fn __len__(&self) -> usize {
        self.live.len()
    }

    /// The number of pairs remembered (tagging's len(_pairs)).
    fn pair_count(&self) -> usize {
        self.pairs.len()
    }

    /// Forget every word and pair.
    fn clear(&mut self) {
        *self = WordTable::default();
    }

    /// Forget every pair (their slots are the caller's to clear too).
    fn clear_pairs(&mut self) {
        self.pairs.clear();
        self.full.clear();
    }

    /// Remember the tokens' words, the new ones as starting nothing, and return the words
    /// met for the first time, once each, in text order: the caller tells which are live.
    fn scan<'py>(&mut self, tokens: &Bound<'py, PyList>) -> PyResult<Bound<'py, PyList>> {
        // made first: nothing below allocates a Python object (appending to this list only
        // grows its array), so no collection can run a finaliser that changes `tokens`
        // while its items are read as borrowed references (a new reference to each, and
        // its release, cost ~25 instructions a token)
        let new = PyList::empty_bound(tokens.py());
        let count = tokens.len();
        // every token's characters and hash first, their first slots asked for meanwhile:
        // the lookups below then find most slots in the cache
        let mut read = Vec::with_capacity(count);
        for at in 0..count {
            // SAFETY: at < len(tokens), which nothing changes during this call (above): a
            // borrowed reference, alive while `tokens` holds it
            let word = unsafe { pyo3::ffi::PyList_GET_ITEM(tokens.as_ptr(), at as isize) };
            // SAFETY: as above; a str's characters live as long as it does
            let (width, chars) = unsafe { str_chars(tokens.py(), word)? };
            let hash = word_hash(chars, width);
            self.ids.prefetch_slot(hash);
            read.push((width, chars, hash));
        }
        self.tokens.clear();
        self.tokens.reserve(read.len());
        for (at, &(width, chars, hash)) in read.iter().enumerate() {
            if let Some(&(width, _, hash)) = read.get(at + AHEAD) {
                self.ids.prefetch_key(hash, width);
            }
            let id = match self.ids.get(chars, width, hash) {
                Some(id) => id,
                None => {
                    let id = self.ids.insert(chars, width, hash);
                    self.live.push(false);
                    // SAFETY: as above; PyList_Append takes its own reference
                    let word = unsafe { pyo3::ffi::PyList_GET_ITEM(tokens.as_ptr(), at as isize) };
                    if unsafe { pyo3::ffi::PyList_Append(new.as_ptr(), word) } != 0 {
                        return Err(PyErr::fetch(tokens.py()));
                    }
                    id
                }
            };
            self.tokens.push(id);
        }
        Ok(new)
    }

    /// Mark these remembered words live: some phrase can start at each.
    fn learn(&mut self, words: &Bound<'_, PyList>) -> PyResult<()> {
        for word in words.iter() {
            let (width, chars) = stored_chars(word.downcast::<PyString>()?)?;
            match self.ids.get(chars, width, word_hash(chars, width)) {
                Some(id) => self.live[id as usize] = true,
                None => {
                    return Err(pyo3::exceptions::PyKeyError::new_err(
                        "a word never scanned",
                    ))
                }
            }
        }
        Ok(())
    }

    /// The live tokens of the last scanned text get the slots of their (word, next word)
    /// pairs; returns the positions where a pair is met for the first time, in the order of
    /// their new slots (numbered on from the slots made before), for the caller to fill.
    fn live_pairs(&mut self) -> Vec<usize> {
        self.fresh = self.full.len();
        self.found.clear();
        let mut first = Vec::new();
        for (at, &id) in self.tokens.iter().enumerate() {
            if !self.live[id as usize] {
                continue;
            }
            let next = self.tokens.get(at + 1).copied().unwrap_or(END);
            let slots = self.full.len() as u32;
            let slot = *self.pairs.entry((id, next)).or_insert_with(|| {
                first.push(at);
                slots
            });
            if slot == slots {
                self.full.push(false);
            }
            self.found.push((at, slot));
        }
        first
    }

    /// Whether each new slot of the last `live_pairs` starts any phrase (in slot order);
    /// returns (position, slot) of every live token whose slot does, as one flat list.
    fn matched(&mut self, full: Vec<bool>) -> PyResult<Vec<usize>> {
        if full.len() != self.full.len() - self.fresh {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "one flag per new slot",
            ));
        }
        self.full[self.fresh..].copy_from_slice(&full);
        let mut flat = Vec::new();
        for &(at, slot) in &self.found {
            if self.full[slot as usize] {
                flat.push(at);
                flat.push(slot as usize);
            }
        }
        Ok(flat)
    }
}

/// Characters that make tagging's `_quick_misses` test a word apart (`_slow_word`): letters
/// folding changes at a word's start (ё, İ and its dot, Greek) and Hebrew and Arabic.
#[inline]
fn slow_letter(c: char) -> bool {
    matches!(c, 'ё' | 'Ё' | 'İ' | '\u{0307}' | '\u{0370}'..='\u{03ff}' | '\u{1f00}'..='\u{1fff}'
        | '\u{0590}'..='\u{06ff}')
}

/// Short strings (at most `SHORTEST` characters) of several lengths, each packed into one
/// number, and whether a text's beginning of one of those lengths is one of them: one
/// hash of a number per length, where a set of strings cost 420 ns a word.
struct Beginnings {
    packed: HashSet<u128, BuildHasherDefault<Fx>>,
    lengths: u8, // bit n: some string has n characters
    // a bit per hash of each string's first two characters (a Bloom filter): most places of
    // a word begin none of them, told without a look at the set
    pairs: Vec<u64>,
}

impl Default for Beginnings {
    fn default() -> Self {
        Beginnings {
            packed: HashSet::default(),
            lengths: 0,
            pairs: vec![0; PAIR_BITS / 64],
        }
    }
}

const PAIR_BITS: usize = 1 << 16;

#[inline]
fn pair_bit(first: char, second: char) -> usize {
    (first as usize)
        .wrapping_mul(0x9E37)
        .wrapping_add(second as usize)
        % PAIR_BITS
}

const SHORTEST: usize = 5;

/// The first characters of `chars`, 21 bits each, with their count above them.
#[inline]
fn pack(chars: &[char]) -> u128 {
    let mut key = (chars.len() as u128) << 124;
    for (n, &c) in chars.iter().enumerate() {
        key |= (c as u128) << (21 * n);
    }
    key
}

impl Beginnings {
    fn new(texts: &[String]) -> PyResult<Self> {
        let mut found = Beginnings::default();
        for text in texts {
            let chars: Vec<char> = text.chars().collect();
            if chars.len() > SHORTEST {
                return Err(pyo3::exceptions::PyValueError::new_err(
                    "a head of 6+ letters",
                ));
            }
            if !chars.is_empty() {
                // an empty head begins nothing (tagging skips it)
                found.lengths |= 1 << chars.len();
                found.packed.insert(pack(&chars));
            }
            if let [first, second, ..] = chars[..] {
                let bit = pair_bit(first, second);
                found.pairs[bit / 64] |= 1 << (bit % 64);
            }
        }
        Ok(found)
    }

    /// Whether one of the strings begins `text`. Inlined: `inside` asks at every letter of
    /// every new word, where the call itself cost as much as the filter (43 of 134 M
    /// instructions over the benchmark corpus on entering and leaving it).
    #[inline(always)]
    fn begin(&self, text: &[char]) -> bool {
        if let [first, second, ..] = text[..] {
            let bit = pair_bit(first, second);
            if self.lengths & 0b11 == 0 && self.pairs[bit / 64] & (1 << (bit % 64)) == 0 {
                return false; // no string of one character, and none begins so
            }
        }
        (1..=SHORTEST.min(text.len()))
            .any(|n| self.lengths & (1 << n) != 0 && self.packed.contains(&pack(&text[..n])))
    }

    /// Whether one of the strings begins `text` at any character: a superset of "one of
    /// them, or of the longer names they begin, occurs in `text`".
    fn inside(&self, text: &[char]) -> bool {
        self.lengths != 0 && (0..text.len()).any(|at| self.begin(&text[at..]))
    }
}

/// The part of tagging's `_quick_misses` that rules out a new word at once: a word that no
/// head begins, as written or in lower case, that is no short form, and in which no prefix
/// or infix name's first three letters occur cannot start a phrase. Python's test gives
/// each such word the same answer, one by one. Greek and Hebrew words are tested by their
/// folds, and in Hebrew, Yiddish, Arabic and Urdu texts by their beginnings as well
/// (`rules_out_folded`); words this cannot tell (ё, İ, two scripts, what NFC may change,
/// Arabic outside those texts, other words of SLOW_START languages) are left to Python.
#[pyclass]
struct StartFilter {
    lower: Beginnings, // _Heads.prefixes | short, tested on the lower-case word
    whole: HashSet<Vec<char>, BuildHasherDefault<Fx>>, // _Heads.whole
    whole_inside: Beginnings, // the same, to find them inside a word
    exact: Beginnings, // _Heads.exact, tested on the word as written
    names: Beginnings, // the first 3 letters of the prefix and infix names
}

#[pymethods]
impl StartFilter {
    #[new]
    fn new(
        lower: Vec<String>,
        whole: Vec<String>,
        exact: Vec<String>,
        names: Vec<String>,
    ) -> PyResult<Self> {
        let names: Vec<String> = names.iter().map(|n| n.chars().take(3).collect()).collect();
        Ok(StartFilter {
            lower: Beginnings::new(&lower)?,
            whole: whole.iter().map(|w| w.chars().collect()).collect(),
            whole_inside: Beginnings::new(&whole)?,
            exact: Beginnings::new(&exact)?,
            names: Beginnings::new(&names)?,
        })
    }

    /// The words that may start a phrase, or that only Python can tell, in their order.
    /// `clitics`: "hebrew", "arabic" or "persian" for the words of a text in a SLOW_START
    /// language that `_quick_misses_folded` tests by their beginnings (Python tells all but
    /// ASCII, Greek and those of the language's script).
    #[pyo3(signature = (words, clitics = ""))]
    fn maybe<'py>(
        &self,
        words: &Bound<'py, PyList>,
        clitics: &str,
    ) -> PyResult<Bound<'py, PyList>> {
        let clitics = match clitics {
            "" => Clitics::None,
            "hebrew" => Clitics::Hebrew,
            "arabic" => Clitics::Arabic,
            "persian" => Clitics::Persian,
            _ => return Err(pyo3::exceptions::PyValueError::new_err("unknown clitics")),
        };
        let bmp = bmp_tables();
        let kept = PyList::empty_bound(words.py());
        let (mut chars, mut low) = (Vec::new(), Vec::new());
        for word in words.iter() {
            // read in place (no UTF-8 copy); a lone surrogate is no char: Python's word
            if !stored_text(word.downcast::<PyString>()?, &mut chars)?
                || !self.rules_out(&chars, &mut low, bmp, clitics)
            {
                kept.append(word)?;
            }
        }
        Ok(kept)
    }
}

/// A str's characters into `chars`; false where one is a lone surrogate.
fn stored_text(word: &Bound<'_, PyString>, chars: &mut Vec<char>) -> PyResult<bool> {
    let (width, data) = stored_chars(word)?;
    chars.clear();
    match width {
        0 => chars.extend(data.iter().map(|&b| b as char)),
        _ => {
            let size = if width == 1 { 2 } else { 4 };
            for unit in data.chunks_exact(size) {
                let mut code = [0u8; 4];
                code[..size].copy_from_slice(unit);
                let cp = if width == 1 {
                    u16::from_ne_bytes([code[0], code[1]]) as u32
                } else {
                    u32::from_ne_bytes(code)
                };
                match char::from_u32(cp) {
                    Some(c) => chars.push(c),
                    None => return Ok(false),
                }
            }
        }
    }
    Ok(true)
}

/// Which beginnings `_quick_misses_folded` makes of a SLOW_START language's words (see
/// `StartFilter::maybe`).
#[derive(Clone, Copy, PartialEq)]
enum Clitics {
    None,
    Hebrew,  // he, yi: the _HEBREW_PREFIX cut and the first letter dropped; no stems
    Arabic,  // ar (Snowball stems), ur (none): the _ARABIC_PREFIX cut and the stems
    Persian, // fa: the _ARABIC_PREFIX cut and Snowball's Persian stems
}

impl StartFilter {
    /// Whether a word surely starts nothing (`low` is room for its lower case).
    fn rules_out(&self, chars: &[char], low: &mut Vec<char>, bmp: &Bmp, clitics: Clitics) -> bool {
        low.clear();
        let (mut cyrillic, mut latin) = (false, false);
        for &c in chars {
            if c.is_ascii() {
                latin |= c.is_ascii_alphabetic();
                low.push(c.to_ascii_lowercase());
                continue;
            }
            if clitics != Clitics::None || slow_letter(c) {
                // Greek, Hebrew, Arabic: told from their folds (in a SLOW_START language,
                // all but ASCII words)
                return self.rules_out_folded(chars, low, clitics);
            }
            if nfc_unsafe(c, bmp) {
                return false;
            }
            cyrillic |= matches!(c, '\u{0400}'..='\u{04ff}');
            match lower_of(c, bmp) {
                Some(lowered) => low.extend(lowered.chars()),
                None => low.push(c),
            }
        }
        !(cyrillic && latin
            || self.whole.contains(low.as_slice())
            || self.lower.begin(low)
            || self.exact.begin(chars)
            || self.names.inside(low))
    }

    /// `rules_out` for a word all Greek, all Hebrew or (with Arabic clitics) all Arabic, as
    /// `_quick_misses_folded` tests it: its fold (Greek accents dropped, Hebrew quotes,
    /// Arabic marks and letter variants) and its beginnings (`all_beginnings`) must begin
    /// like no head. Other words are Python's. No stemmer changes a Greek or Hebrew word in
    /// these languages (Snowball's Arabic one knows only Arabic letters).
    fn rules_out_folded(&self, chars: &[char], folded: &mut Vec<char>, clitics: Clitics) -> bool {
        let Some(script) = fold_special(chars, folded, clitics) else {
            return false;
        };
        if self.exact.begin(chars) || self.names.inside(folded) || self.starts(folded) {
            return false;
        }
        match (clitics, script) {
            (Clitics::Hebrew, Clitics::Hebrew) => !self.hebrew_starts(folded),
            (Clitics::Arabic, Clitics::Arabic) => !self.arabic_starts(folded),
            (Clitics::Persian, Clitics::Arabic) => !self.persian_starts(folded),
            _ => true,
        }
    }

    /// Whether a folded beginning is a short form or begins with a head (`lower_batch`).
    fn starts(&self, folded: &[char]) -> bool {
        self.whole.contains(folded) || self.lower.begin(folded)
    }

    /// `starts` on a Hebrew word's other beginnings: the _HEBREW_PREFIX cut (if it leaves
    /// three letters or more) and the word without its first letter (if that may be one).
    fn hebrew_starts(&self, folded: &[char]) -> bool {
        let cut = hebrew_clitics(folded);
        (cut > 0 && folded.len() - cut >= 3 && self.starts(&folded[cut..]))
            || (folded.len() >= 4 && "והבלמשכ".contains(folded[0]) && self.starts(&folded[1..]))
    }

    /// A superset of `starts` on an Arabic word's other beginnings: its _ARABIC_PREFIX cut
    /// and the Snowball stems of both. Snowball's Arabic stemmer, on a folded word without
    /// ؤ and ئ (which its Normalize_post rewrites): the prefix steps delete letters at the
    /// start (those of Prefix_Step1 and the ي, ك, أ of others never occur in a folded word),
    /// the suffix steps delete letters at the end (alef maqsura never occurs) but for
    /// Prefix_Step4_Verb, which reads a ن or ت before ست as ا: every stem is a run of the
    /// word's letters, or one with such a letter read as ا. A head or a short form that
    /// begins a stem occurs in the word, or in it so read.
    fn arabic_starts(&self, folded: &[char]) -> bool {
        if self.occurs(folded) {
            return true;
        }
        let mut read = folded.to_vec();
        for at in 0..folded.len() {
            if matches!(folded[at], 'ن' | 'ت') && folded[at + 1..].starts_with(&['س', 'ت']) {
                read[at] = 'ا';
                if self.occurs(&read) {
                    return true;
                }
                read[at] = folded[at];
            }
        }
        false
    }

    /// A superset of `starts` on a Persian word's other beginnings: its _ARABIC_PREFIX cut
    /// (if it leaves three letters or more) and the Snowball stems of both. PyStemmer
    /// 3.1.0's persian.sbl, on a folded word (no space, ZWJ or ZWNJ, so no prefix step):
    /// it reads ئ as ی, ؤ as و and ہ as ه (`persian_read`; the other letters it rewrites
    /// never occur folded), then only deletes letters at the end but for N_Hash, which
    /// rewrites a word ending in اخبار, خواس or اساتید. So every stem of a word that holds
    /// none of these begins its reading, and a head or a short form that begins a stem
    /// begins that reading (checked on 700,000 random words and every Persian word of the
    /// corpus and eval sets: tests/unit/test_native.py).
    fn persian_starts(&self, folded: &[char]) -> bool {
        let read: Vec<char> = folded.iter().map(|&c| persian_read(c)).collect();
        let cut = arabic_clitics(folded);
        let stems_of =
            |from: usize| self.lower.begin(&read[from..]) || self.whole_inside.begin(&read[from..]);
        stems_of(0)
            || (cut > 0
                && folded.len() - cut >= 3
                && (self.starts(&folded[cut..]) || stems_of(cut)))
            || PERSIAN_REWRITTEN.iter().any(|key| {
                let size = key.chars().count();
                read.windows(size)
                    .any(|w| w.iter().copied().eq(key.chars()))
            })
    }

    /// Whether a head or a short form begins `text` at any letter.
    fn occurs(&self, text: &[char]) -> bool {
        self.lower.inside(text) || self.whole_inside.inside(text)
    }
}

/// The endings Snowball's Persian stemmer rewrites into other letters (N_Hash; its
/// 3.1.0 leaves خواس as it is, a later one may not).
const PERSIAN_REWRITTEN: [&str; 3] = ["اخبار", "خواس", "اساتید"];

/// A folded letter as Snowball's Persian stemmer reads it (its Normalize_Characters).
fn persian_read(c: char) -> char {
    match c {
        'ئ' => 'ی',
        'ؤ' => 'و',
        'ہ' => 'ه',
        _ => c,
    }
}

/// How many letters `_ARABIC_PREFIX` cuts from a folded word's start: و or ف, then ب or ل
/// (its ك never occurs folded), then ال or لل, each where present (the pattern's greedy
/// first choice, which nothing after it can undo).
fn arabic_clitics(folded: &[char]) -> usize {
    let mut at = 0;
    if matches!(folded.first(), Some('و' | 'ف')) {
        at += 1;
    }
    if matches!(folded.get(at), Some('ب' | 'ل')) {
        at += 1;
    }
    if folded[at..].starts_with(&['ا', 'ل']) || folded[at..].starts_with(&['ل', 'ل']) {
        at += 2;
    }
    at
}

/// How many letters `_HEBREW_PREFIX` cuts from a folded word's start: ו, ש, then כש or one
/// of בלכמ, then ה, each where present (the pattern's greedy first choice, which nothing
/// after it can undo).
fn hebrew_clitics(folded: &[char]) -> usize {
    let mut at = 0;
    for step in 0..4 {
        let c = folded.get(at).copied();
        let next = folded.get(at + 1).copied();
        at += match (step, c) {
            (0, Some('ו')) | (1, Some('ש')) | (3, Some('ה')) => 1,
            (2, Some('כ')) if next == Some('ש') => 2,
            (2, Some('ב' | 'ל' | 'כ' | 'מ')) => 1,
            _ => 0,
        };
    }
    at
}

/// fold() of a word of Greek letters of the basic block, of Hebrew letters and quotes or
/// (with Arabic or Persian clitics) of Arabic and Persian letters and marks (but ؤ and ئ,
/// which Arabic's stemmer rewrites, with Arabic ones) into `folded`, and its script (as a
/// Clitics: Arabic for both; None: Greek); None for any other word (Python's to fold).
fn fold_special(chars: &[char], folded: &mut Vec<char>, clitics: Clitics) -> Option<Clitics> {
    folded.clear();
    let first = *chars.first()?;
    if is_hebrew_code(u32::from(first)) {
        for &c in chars {
            match c {
                '\u{05d0}'..='\u{05ea}' => folded.push(c),
                '"' | '\'' | '\u{05f3}' | '\u{05f4}' => {} // _HEBREW_MARKS
                _ => return None,
            }
        }
        return Some(Clitics::Hebrew);
    }
    let arabic = matches!(clitics, Clitics::Arabic | Clitics::Persian);
    if arabic && matches!(first, '\u{0600}'..='\u{06ff}') {
        for &c in chars {
            folded.push(match c {
                '\u{064b}'..='\u{065f}' | '\u{0670}' | '\u{0640}' => continue, // _ARABIC_MARKS
                'ي' | 'ى' => 'ی',
                'ك' => 'ک',
                'أ' | 'إ' | 'آ' => 'ا',
                'ة' => 'ه',
                'ؤ' | 'ئ' if clitics == Clitics::Persian => c,
                'ؤ' | 'ئ' => return None,
                '\u{0621}'..='\u{063a}' | '\u{0641}'..='\u{064a}' => c,
                'پ' | 'چ' | 'ژ' | 'ک' | 'گ' | 'ی' => c,
                'ٹ' | 'ڈ' | 'ڑ' | 'ں' | 'ھ' | 'ہ' | 'ے' => c, // Urdu
                _ => return None,
            });
        }
        return Some(Clitics::Arabic);
    }
    for (n, &c) in chars.iter().enumerate() {
        // str.lower()'s Final_Sigma: a capital sigma after a letter and before none
        let last = n > 0 && n + 1 == chars.len();
        folded.push(greek_folded(c, last)?);
    }
    Some(Clitics::None)
}

/// A Greek letter of the basic block lower-cased, its tonos and dialytika dropped (as
/// fold() does by NFD); None for any other character. `last`: the word's last letter,
/// after another one.
fn greek_folded(c: char, last: bool) -> Option<char> {
    Some(match c {
        'Σ' if last => 'ς',
        'Σ' => 'σ',
        'Α'..='Ρ' | 'Τ'..='Ω' => char::from_u32(c as u32 + 0x20)?,
        'α'..='ω' => c,
        'Ά' | 'ά' => 'α',
        'Έ' | 'έ' => 'ε',
        'Ή' | 'ή' => 'η',
        'Ί' | 'ί' | 'Ϊ' | 'ϊ' | 'ΐ' => 'ι',
        'Ό' | 'ό' => 'ο',
        'Ύ' | 'ύ' | 'Ϋ' | 'ϋ' | 'ΰ' => 'υ',
        'Ώ' | 'ώ' => 'ω',
        _ => return None,
    })
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    clean::register(m)?;
    m.add_function(wrap_pyfunction!(split, m)?)?;
    m.add_function(wrap_pyfunction!(split_offsets, m)?)?;
    m.add_function(wrap_pyfunction!(simhash_folded, m)?)?;
    m.add_function(wrap_pyfunction!(simhash_text, m)?)?;
    m.add_function(wrap_pyfunction!(fold_plain, m)?)?;
    m.add_function(wrap_pyfunction!(part_offsets, m)?)?;
    m.add_function(wrap_pyfunction!(char_width, m)?)?;
    m.add_function(wrap_pyfunction!(jsonout::json_line, m)?)?;
    m.add_function(wrap_pyfunction!(letters::has_surrogates, m)?)?;
    m.add_class::<Fingerprints>()?;
    m.add_class::<WordTable>()?;
    m.add_class::<StartFilter>()?;
    m.add_class::<letters::LetterScan>()?;
    m.add_class::<charclass::CharClass>()?;
    m.add_class::<ngrams::NgramWalk>()?;
    m.add_class::<nbscore::NaiveBayes>()?;
    m.add_function(wrap_pyfunction!(nbscore::float_sum, m)?)?;
    m.add_class::<dawg::MappedDawg>()?;
    m.add_class::<rules::RuleSet>()?;
    m.add_class::<rules::FieldMatches>()?;
    Ok(())
}
