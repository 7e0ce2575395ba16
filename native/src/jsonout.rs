//! `mediamon enrich`'s output line: `json.dumps(obj, ensure_ascii=False) + "\n"` encoded
//! as UTF-8, in one pass that reads each str's characters where CPython stores them. Python
//! escaped the ~4,000-character body into a new str (py_encode_basestring, ~320 M
//! instructions a corpus), joined the newline to it (one more copy) and encoded the line to
//! UTF-8 in the text layer (~380 M): ~0.1 s of ~2.9 s. Equal to Python's bytes on every
//! value it takes (tests/unit/test_json_line.py); None for any other, which Python then
//! writes as before: a type other than dict, list, tuple, str, int, float, bool and None
//! (or a subclass of one of them), a key other than a str, a lone surrogate (the text layer's error
//! handler decides what it becomes), nesting deeper than `MAX_DEPTH` (a cycle, or Python's
//! own recursion limit), an int whose repr raises.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyFloat, PyList, PyLong, PyString, PyTuple};

use crate::stored_chars;

/// Deeper than this Python answers: json's circular-reference check and recursion limit.
const MAX_DEPTH: usize = 64;

/// A value Python must serialise (see the module's documentation).
struct Unsupported;

type Written = Result<(), Unsupported>;

/// `json.dumps(obj, ensure_ascii=False) + "\n"` as UTF-8 bytes, or None where Python must
/// write it: the same separators (", " and ": "), escapes, float and int reprs (NaN and
/// Infinity as json writes them) and dict order.
#[pyfunction]
pub(crate) fn json_line<'py>(
    py: Python<'py>,
    obj: &Bound<'py, PyAny>,
) -> Option<Bound<'py, PyBytes>> {
    let mut out = Vec::with_capacity(16 * 1024);
    value(&mut out, obj, 0).ok()?;
    out.push(b'\n');
    Some(PyBytes::new_bound(py, &out))
}

fn value(out: &mut Vec<u8>, obj: &Bound<'_, PyAny>, depth: usize) -> Written {
    if let Ok(text) = obj.downcast_exact::<PyString>() {
        return string(out, text);
    }
    if obj.is_exact_instance_of::<PyLong>() {
        return int(out, obj);
    }
    if let Ok(dict) = obj.downcast_exact::<PyDict>() {
        return object(out, dict, depth);
    }
    if let Ok(list) = obj.downcast_exact::<PyList>() {
        return array(out, list.iter(), list.len(), depth);
    }
    if let Ok(number) = obj.downcast_exact::<PyFloat>() {
        return float(out, number);
    }
    if obj.is_none() {
        out.extend_from_slice(b"null");
        return Ok(());
    }
    // SAFETY: the two bools are immortal singletons; only their addresses are read
    let (yes, no) = unsafe { (pyo3::ffi::Py_True(), pyo3::ffi::Py_False()) };
    if obj.as_ptr() == yes {
        out.extend_from_slice(b"true");
        return Ok(());
    }
    if obj.as_ptr() == no {
        out.extend_from_slice(b"false");
        return Ok(());
    }
    if let Ok(tuple) = obj.downcast_exact::<PyTuple>() {
        return array(out, tuple.iter(), tuple.len(), depth);
    }
    Err(Unsupported)
}

fn object(out: &mut Vec<u8>, dict: &Bound<'_, PyDict>, depth: usize) -> Written {
    if dict.is_empty() {
        out.extend_from_slice(b"{}");
        return Ok(());
    }
    if depth >= MAX_DEPTH {
        return Err(Unsupported);
    }
    out.push(b'{');
    for (at, (key, item)) in dict.iter().enumerate() {
        if at > 0 {
            out.extend_from_slice(b", ");
        }
        // json also writes int, float, bool and None keys, as strings: Python does those
        string(
            out,
            key.downcast_exact::<PyString>().map_err(|_| Unsupported)?,
        )?;
        out.extend_from_slice(b": ");
        value(out, &item, depth + 1)?;
    }
    out.push(b'}');
    Ok(())
}

fn array<'py>(
    out: &mut Vec<u8>,
    items: impl Iterator<Item = Bound<'py, PyAny>>,
    len: usize,
    depth: usize,
) -> Written {
    if len == 0 {
        out.extend_from_slice(b"[]");
        return Ok(());
    }
    if depth >= MAX_DEPTH {
        return Err(Unsupported);
    }
    out.push(b'[');
    for (at, item) in items.enumerate() {
        if at > 0 {
            out.extend_from_slice(b", ");
        }
        value(out, &item, depth + 1)?;
    }
    out.push(b']');
    Ok(())
}

/// int.__repr__, as json writes an int: in decimal, natively where it fits 64 bits.
fn int(out: &mut Vec<u8>, obj: &Bound<'_, PyAny>) -> Written {
    let mut overflow = 0;
    // SAFETY: `obj` is an int (checked by the caller), alive while borrowed
    let small = unsafe { pyo3::ffi::PyLong_AsLongLongAndOverflow(obj.as_ptr(), &mut overflow) };
    if overflow == 0 {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        let mut rest = small.unsigned_abs();
        loop {
            at -= 1;
            digits[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        if small < 0 {
            out.push(b'-');
        }
        out.extend_from_slice(&digits[at..]);
        return Ok(());
    }
    // a repr past sys.get_int_max_str_digits raises: Python raises it again
    ascii_repr(out, obj)
}

/// float.__repr__ (the shortest repr that reads back), or NaN, Infinity, -Infinity as json
/// writes those.
fn float(out: &mut Vec<u8>, number: &Bound<'_, PyFloat>) -> Written {
    let x = number.value();
    if x.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if x.is_infinite() {
        out.extend_from_slice(if x > 0.0 { b"Infinity" } else { b"-Infinity" });
    } else {
        ascii_repr(out, number.as_any())?;
    }
    Ok(())
}

fn ascii_repr(out: &mut Vec<u8>, obj: &Bound<'_, PyAny>) -> Written {
    let repr = obj.repr().map_err(|_| Unsupported)?;
    match stored_chars(&repr) {
        Ok((0, chars)) if chars.is_ascii() => {
            out.extend_from_slice(chars);
            Ok(())
        }
        _ => Err(Unsupported),
    }
}

/// What json writes for each ASCII character: 0 itself, b'u' as \u00XX, else the letter
/// after a backslash.
static ESCAPES: [u8; 128] = {
    let mut table = [0u8; 128];
    let mut c = 0;
    while c < 0x20 {
        table[c] = b'u';
        c += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

fn string(out: &mut Vec<u8>, text: &Bound<'_, PyString>) -> Written {
    let (width, chars) = stored_chars(text).map_err(|_| Unsupported)?;
    out.push(b'"');
    // SAFETY: CPython stores 2- and 4-byte characters aligned to their width; a middle
    // other than the whole is refused below rather than read
    let written = match width {
        0 => utf8(out, chars),
        1 => match unsafe { chars.align_to::<u16>() } {
            ([], units, []) => utf8(out, units),
            _ => Err(Unsupported),
        },
        _ => match unsafe { chars.align_to::<u32>() } {
            ([], units, []) => utf8(out, units),
            _ => Err(Unsupported),
        },
    };
    written?;
    out.push(b'"');
    Ok(())
}

/// Characters stored 1, 2 or 4 bytes each, escaped and written as UTF-8: at most 6 bytes a
/// character (\u00XX), reserved once, then written without a capacity check each (the
/// checks and the per-character copies cost ~13 instructions a byte, this ~4).
#[inline]
fn utf8<U: Copy + Into<u32>>(out: &mut Vec<u8>, chars: &[U]) -> Written {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(chars.len() * 6);
    let begin = out.len();
    // SAFETY: every character writes at most 6 bytes, and 6 a character are reserved past
    // `begin`; `at` counts what was written, all of it initialised, before set_len
    unsafe {
        let base = out.as_mut_ptr().add(begin);
        let mut at = 0usize;
        let mut put = |byte: u8| {
            *base.add(at) = byte;
            at += 1;
        };
        for &unit in chars {
            let c: u32 = unit.into();
            if c < 0x80 {
                match ESCAPES[c as usize] {
                    0 => put(c as u8),
                    b'u' => {
                        for byte in [b'\\', b'u', b'0', b'0', HEX[(c >> 4) as usize], HEX[(c & 15) as usize]] {
                            put(byte);
                        }
                    }
                    how => {
                        put(b'\\');
                        put(how);
                    }
                }
            } else if c < 0x800 {
                put(0xc0 | (c >> 6) as u8);
                put(0x80 | (c & 0x3f) as u8);
            } else if c < 0x10000 {
                if (0xd800..0xe000).contains(&c) {
                    return Err(Unsupported);
                }
                put(0xe0 | (c >> 12) as u8);
                put(0x80 | (c >> 6 & 0x3f) as u8);
                put(0x80 | (c & 0x3f) as u8);
            } else {
                put(0xf0 | (c >> 18) as u8);
                put(0x80 | (c >> 12 & 0x3f) as u8);
                put(0x80 | (c >> 6 & 0x3f) as u8);
                put(0x80 | (c & 0x3f) as u8);
            }
        }
        out.set_len(begin + at);
    }
    Ok(())
}
