//! pymorphy3's dictionaries (dawgdic DAWGs with completion guides, the files the `dawg`
//! package reads) looked up in place, in a buffer (a read-only memory-mapped file). The
//! `dawg` package's `load` zero-fills a vector and reads each whole file into it: Russian
//! and Ukrainian's ~28 MB, ~6,000 page faults of fresh memory per process, of which a
//! process's lookups touch a few pages. A mapping shares the page cache's pages and faults
//! them in 16 at a time, as they are read.
//!
//! The walks are dawgdic's (`Dictionary::Follow`, `Completer`, the Python `dawg_python`
//! port's reading of them) and the lookups those of `dawg` 0.13's `RecordDAWG` and
//! `IntCompletionDAWG` that pymorphy3 2.0.6 makes: `similar_items`, `similar_item_values`
//! and `get` (tests/unit/test_mapped_dawg.py compares them with `dawg`'s on every word of
//! many texts).

use pyo3::buffer::PyBuffer;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

/// What separates a `BytesDAWG` key from its base64 payloads.
const SEPARATOR: u8 = 1;
const ROOT: u32 = 0;

#[derive(Clone, Copy, PartialEq)]
enum Payload {
    Int,        // IntCompletionDAWG: the value in the unit
    Pairs,      // RecordDAWG(">HH")
    CountPairs, // RecordDAWG(">IHH")
}

#[pyclass(frozen, subclass, module = "pipeline._native")]
pub(crate) struct MappedDawg {
    // held, and so kept alive and in place, as long as self
    data: PyBuffer<u8>,
    units: usize, // how many u32 units follow the first 4 bytes
    guide: usize, // where the guide's (child, sibling) byte pairs begin
    guide_len: usize,
    payload: Payload,
}

/// The dictionary's units and the guide, borrowed from the buffer for one lookup.
struct Dawg<'a> {
    units: &'a [u32],
    guide: &'a [u8],
}

fn offset(base: u32) -> u32 {
    (base >> 10) << ((base & (1 << 9)) >> 6)
}

impl Dawg<'_> {
    /// dawgdic's Dictionary::Follow (an index outside the units fails, where C++ reads on).
    fn follow(&self, label: u8, index: u32) -> Option<u32> {
        let base = *self.units.get(index as usize)?;
        let next = index ^ offset(base) ^ u32::from(label);
        let unit = *self.units.get(next as usize)?;
        (unit & ((1 << 31) | 0xFF) == u32::from(label)).then_some(next)
    }

    fn follow_bytes(&self, bytes: &[u8], mut index: u32) -> Option<u32> {
        for &byte in bytes {
            index = self.follow(byte, index)?;
        }
        Some(index)
    }

    fn has_value(&self, index: u32) -> bool {
        self.units
            .get(index as usize)
            .is_some_and(|unit| unit >> 8 & 1 == 1)
    }

    fn value(&self, index: u32) -> Option<u32> {
        let base = *self.units.get(index as usize)?;
        Some(*self.units.get((index ^ offset(base)) as usize)? & !(1 << 31))
    }

    fn child(&self, index: u32) -> u8 {
        self.guide.get(index as usize * 2).copied().unwrap_or(0)
    }

    fn sibling(&self, index: u32) -> u8 {
        self.guide.get(index as usize * 2 + 1).copied().unwrap_or(0)
    }

    /// Every key that completes the one ending at `index`, in dawgdic's Completer order,
    /// each handed to `found` (the keys after a separator are a key's payloads).
    fn complete(&self, index: u32, mut found: impl FnMut(&[u8]) -> PyResult<()>) -> PyResult<()> {
        if self.guide.is_empty() {
            return Ok(());
        }
        let mut stack = Vec::with_capacity(32);
        stack.push(index);
        let mut key: Vec<u8> = Vec::with_capacity(32);
        let mut last = ROOT;
        while let Some(&top) = stack.last() {
            let mut index = top;
            if last != ROOT {
                let child = self.child(index);
                if child != 0 {
                    let Some(next) = self.follow(child, index) else {
                        return Ok(());
                    };
                    key.push(child);
                    stack.push(next);
                    index = next;
                } else {
                    loop {
                        let sibling = self.sibling(index);
                        key.pop();
                        stack.pop();
                        let Some(&up) = stack.last() else {
                            return Ok(());
                        };
                        index = up;
                        if sibling != 0 {
                            let Some(next) = self.follow(sibling, index) else {
                                return Ok(());
                            };
                            key.push(sibling);
                            stack.push(next);
                            index = next;
                            break;
                        }
                    }
                }
            }
            while !self.has_value(index) {
                let label = self.child(index);
                let Some(next) = self.follow(label, index) else {
                    return Ok(());
                };
                key.push(label);
                stack.push(next);
                index = next;
            }
            last = index;
            found(&key)?;
        }
        Ok(())
    }
}

/// libb64's decoding, as `dawg` reads payloads: characters outside the alphabet (the
/// padding, b2a_base64's newline) are skipped. None where it would not fit `out`.
fn base64(text: &[u8], out: &mut [u8]) -> Option<usize> {
    let mut bits = 0u32;
    let mut held = 0;
    let mut len = 0;
    for &c in text {
        let sextet = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => continue,
        };
        bits = bits << 6 | u32::from(sextet);
        held += 6;
        if held >= 8 {
            held -= 8;
            *out.get_mut(len)? = (bits >> held) as u8;
            len += 1;
        }
    }
    Some(len)
}

/// One payload, as struct.unpack(">HH") or (">IHH") gives it.
fn record<'py>(py: Python<'py>, payload: Payload, bytes: &[u8]) -> PyResult<Bound<'py, PyTuple>> {
    let u16_at = |at: usize| u16::from_be_bytes([bytes[at], bytes[at + 1]]).into_py(py);
    match (payload, bytes.len()) {
        (Payload::Pairs, 4) => Ok(PyTuple::new_bound(py, [u16_at(0), u16_at(2)])),
        (Payload::CountPairs, 8) => {
            let count = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
            Ok(PyTuple::new_bound(
                py,
                [count.into_py(py), u16_at(4), u16_at(6)],
            ))
        }
        _ => Err(PyValueError::new_err(
            "a payload of another size than the format's",
        )),
    }
}

/// A compiled `replaces` (DAWG.compile_replaces: {utf-8 char: [(utf-8 char, char), ...]}):
/// the characters replaced, with their lists of replacements.
type Replaces<'py> = Vec<(char, Bound<'py, PyAny>)>;

fn replaces<'py>(compiled: &Bound<'py, PyDict>) -> PyResult<Replaces<'py>> {
    let mut found = Vec::with_capacity(compiled.len());
    for (key, value) in compiled.iter() {
        let key = key.downcast::<PyBytes>()?.as_bytes();
        let Some(c) = std::str::from_utf8(key).ok().and_then(|s| s.chars().next()) else {
            continue; // never equal to a character's UTF-8
        };
        if c.len_utf8() == key.len() {
            found.push((c, value));
        }
    }
    Ok(found)
}

impl MappedDawg {
    fn dawg(&self) -> Dawg<'_> {
        // SAFETY: the buffer is C-contiguous and held (see `data`); `new` checked that the
        // units (4-byte aligned) and the guide lie inside it
        let start = self.data.buf_ptr() as *const u8;
        unsafe {
            Dawg {
                units: std::slice::from_raw_parts(start.add(4) as *const u32, self.units),
                guide: std::slice::from_raw_parts(start.add(self.guide), self.guide_len * 2),
            }
        }
    }

    fn values<'py>(
        &self,
        py: Python<'py>,
        dawg: &Dawg<'_>,
        index: u32,
    ) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty_bound(py);
        let mut decoded = [0u8; 16]; // a payload is 4 or 8 bytes
        dawg.complete(index, |key| {
            let len = base64(key, &mut decoded)
                .ok_or_else(|| PyValueError::new_err("a payload longer than the format's"))?;
            list.append(record(py, self.payload, &decoded[..len])?)
        })?;
        Ok(list)
    }

    /// BytesDAWG._similar_items (with `items`) or _similar_item_values: the variants of
    /// `text` (the str `key`) from byte `start` on, reached at `index`, each appended to
    /// `found` (a variant without a replaced character first, as `dawg` inserts it);
    /// `prefix`, what a variant holds before `start`, is None where that is `text`'s own.
    #[allow(clippy::too_many_arguments)]
    fn similar<'py>(
        &self,
        py: Python<'py>,
        dawg: &Dawg<'_>,
        key: &Bound<'py, PyString>,
        text: &str,
        start: usize,
        prefix: Option<&str>,
        mut index: u32,
        replaces: &Replaces<'py>,
        items: bool,
        found: &mut Vec<Bound<'py, PyAny>>,
    ) -> PyResult<()> {
        let first = found.len();
        for (offset, c) in text[start..].char_indices() {
            let at = start + offset;
            let end = at + c.len_utf8();
            if let Some((_, choices)) = replaces.iter().find(|(replaced, _)| *replaced == c) {
                for choice in choices.iter()? {
                    let (bytes, other): (Bound<'py, PyBytes>, Bound<'py, PyString>) =
                        choice?.extract()?;
                    let other = other.to_str()?;
                    if other.chars().count() != 1 {
                        return Err(PyValueError::new_err("a replacement of one character"));
                    }
                    if let Some(next) = dawg.follow_bytes(bytes.as_bytes(), index) {
                        let mut variant = String::from(prefix.unwrap_or(""));
                        variant.push_str(&text[start..at]);
                        variant.push_str(other);
                        self.similar(
                            py,
                            dawg,
                            key,
                            text,
                            end,
                            Some(&variant),
                            next,
                            replaces,
                            items,
                            found,
                        )?;
                    }
                }
            }
            match dawg.follow_bytes(&text.as_bytes()[at..end], index) {
                Some(next) => index = next,
                None => return Ok(()),
            }
        }
        if let Some(index) = dawg.follow(SEPARATOR, index) {
            let values = self.values(py, dawg, index)?.into_any();
            let item = if items {
                // `dawg` makes "" + key[0:]: the key itself, where nothing was replaced
                let variant = match prefix {
                    None => key.clone().into_any(),
                    Some(prefix) => {
                        PyString::new_bound(py, &format!("{prefix}{}", &text[start..])).into_any()
                    }
                };
                PyTuple::new_bound(py, [variant, values]).into_any()
            } else {
                values
            };
            found.insert(first, item);
        }
        Ok(())
    }
}

#[pymethods]
impl MappedDawg {
    /// `data`: a CompletionDAWG's file (a buffer); `payload`: ">HH" or ">IHH" for a
    /// RecordDAWG of that format, "" for an IntCompletionDAWG.
    #[new]
    fn new(data: &Bound<'_, PyAny>, payload: &str) -> PyResult<Self> {
        let payload = match payload {
            ">HH" => Payload::Pairs,
            ">IHH" => Payload::CountPairs,
            "" => Payload::Int,
            _ => {
                return Err(PyValueError::new_err(format!(
                    "no such payload: {payload:?}"
                )))
            }
        };
        let data = PyBuffer::<u8>::get_bound(data)?;
        let bad = |why: &str| Err(PyValueError::new_err(format!("not a DAWG file: {why}")));
        if !data.is_c_contiguous() {
            return bad("not contiguous");
        }
        // a mask, not `is_multiple_of`: the container image builds with Debian's rustc, older
        // than that method (Rust 1.87)
        if (data.buf_ptr() as usize) & 3 != 0 {
            return bad("not aligned to 4 bytes");
        }
        // SAFETY: C-contiguous, len_bytes long, held for this call
        let bytes =
            unsafe { std::slice::from_raw_parts(data.buf_ptr() as *const u8, data.len_bytes()) };
        let word = |at: usize| -> Option<usize> {
            Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?) as usize)
        };
        let Some(units) = word(0) else {
            return bad("no size");
        };
        let guide_size_at = 4 + units * 4;
        let Some(guide_len) = word(guide_size_at) else {
            return bad("no guide");
        };
        let guide = guide_size_at + 4;
        if bytes.len() < guide + guide_len * 2 || units == 0 {
            return bad("shorter than its sizes");
        }
        Ok(MappedDawg {
            data,
            units,
            guide,
            guide_len,
            payload,
        })
    }

    /// RecordDAWG.similar_items: [(variant of key, [record, ...]), ...].
    fn similar_items<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyString>,
        replaces: &Bound<'py, PyDict>,
    ) -> PyResult<Vec<Bound<'py, PyAny>>> {
        self.similar_from_root(py, key, replaces, true)
    }

    /// RecordDAWG.similar_item_values: [[record, ...], ...].
    fn similar_item_values<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyString>,
        replaces: &Bound<'py, PyDict>,
    ) -> PyResult<Vec<Bound<'py, PyAny>>> {
        self.similar_from_root(py, key, replaces, false)
    }

    /// IntCompletionDAWG.get's value for `key`, None where it has none (dawgdic's Find,
    /// which reads the key up to a NUL).
    fn int_value(&self, key: &str) -> PyResult<Option<u32>> {
        if self.payload != Payload::Int {
            return Err(PyValueError::new_err("not an IntCompletionDAWG"));
        }
        let bytes = key.as_bytes();
        let bytes = &bytes[..bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len())];
        let dawg = self.dawg();
        Ok(dawg
            .follow_bytes(bytes, ROOT)
            .filter(|&index| dawg.has_value(index))
            .and_then(|index| dawg.value(index)))
    }
}

impl MappedDawg {
    fn check_records(&self) -> PyResult<()> {
        if self.payload == Payload::Int {
            return Err(PyValueError::new_err("not a RecordDAWG"));
        }
        Ok(())
    }

    /// `similar_items` (`items`: each variant with its records) or `similar_item_values`
    /// (the records alone), walked from the root.
    fn similar_from_root<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyString>,
        replaces: &Bound<'py, PyDict>,
        items: bool,
    ) -> PyResult<Vec<Bound<'py, PyAny>>> {
        self.check_records()?;
        let compiled = self::replaces(replaces)?;
        let mut found = Vec::new();
        let text = key.to_str()?;
        let dawg = self.dawg();
        self.similar(
            py, &dawg, key, text, 0, None, ROOT, &compiled, items, &mut found,
        )?;
        Ok(found)
    }
}
