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
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

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

/// A character width as CPython stores it, and (x86-64) 16 characters at a time as bytes:
/// each plain ASCII character as itself, any other as a byte the test in `utf8` flags
/// (below 0x20 or above 0x7f, saturated by the packs).
trait Stored: Copy + Into<u32> {
    /// SAFETY: 16 characters must be readable from `chars`
    #[cfg(target_arch = "x86_64")]
    unsafe fn sixteen(chars: *const Self) -> __m128i;
}

impl Stored for u8 {
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn sixteen(chars: *const Self) -> __m128i {
        _mm_loadu_si128(chars as *const __m128i)
    }
}

impl Stored for u16 {
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn sixteen(chars: *const Self) -> __m128i {
        // 0x100 and up saturate to 0xff; 0x8000 and up, negative as i16, to 0
        let low = _mm_loadu_si128(chars as *const __m128i);
        let high = _mm_loadu_si128(chars.add(8) as *const __m128i);
        _mm_packus_epi16(low, high)
    }
}

impl Stored for u32 {
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn sixteen(chars: *const Self) -> __m128i {
        // code points are below 2^31: the first pack saturates 0x8000 and up to 0x7fff
        let part = |at: usize| _mm_loadu_si128(chars.add(at) as *const __m128i);
        let low = _mm_packs_epi32(part(0), part(4));
        let high = _mm_packs_epi32(part(8), part(12));
        _mm_packus_epi16(low, high)
    }
}

/// Characters stored 1, 2 or 4 bytes each, escaped and written as UTF-8. At most 6 bytes a
/// character (\u00XX) are reserved once, then written without a capacity check each; on
/// x86-64 runs of plain ASCII go 16 characters at a time (SSE2, in every x86-64), other
/// characters one by one until the next ASCII one. The corpus's output strings (10.4 M
/// characters, half of them stored 2 bytes each): Python's escape and encode ~700 M
/// instructions, one by one with a capacity check each ~200 M, this ~150 M (most of it
/// the characters outside ASCII, one by one).
fn utf8<U: Stored>(out: &mut Vec<u8>, chars: &[U]) -> Written {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let n = chars.len();
    out.reserve(n * 6);
    let begin = out.len();
    // SAFETY: every character writes at most 6 bytes, and 6 a character are reserved past
    // `begin`: at most 6 * i written before character i, so a 16-byte store at `at` with
    // 16 characters left stays inside; `at` counts what was written, all of it
    // initialised, before set_len
    unsafe {
        let base = out.as_mut_ptr().add(begin);
        let mut at = 0usize;
        let mut i = 0usize;
        while i < n {
            #[cfg(target_arch = "x86_64")]
            while i + 16 <= n {
                let bytes = U::sixteen(chars.as_ptr().add(i));
                let special = _mm_or_si128(
                    _mm_cmplt_epi8(bytes, _mm_set1_epi8(0x20)), // and 0x80 up, as i8
                    _mm_or_si128(
                        _mm_cmpeq_epi8(bytes, _mm_set1_epi8(b'"' as i8)),
                        _mm_cmpeq_epi8(bytes, _mm_set1_epi8(b'\\' as i8)),
                    ),
                );
                _mm_storeu_si128(base.add(at) as *mut __m128i, bytes);
                let mask = _mm_movemask_epi8(special) as u32;
                if mask == 0 {
                    i += 16;
                    at += 16;
                    continue;
                }
                let plain = mask.trailing_zeros() as usize;
                i += plain;
                at += plain;
                break;
            }
            if i >= n {
                break;
            }
            // one character, then on while they are not ASCII (or too few for a block)
            loop {
                let c: u32 = chars[i].into();
                i += 1;
                if c < 0x80 {
                    match ESCAPES[c as usize] {
                        0 => {
                            *base.add(at) = c as u8;
                            at += 1;
                        }
                        b'u' => {
                            let hex = [HEX[(c >> 4) as usize], HEX[(c & 15) as usize]];
                            let seq = [b'\\', b'u', b'0', b'0', hex[0], hex[1]];
                            std::ptr::copy_nonoverlapping(seq.as_ptr(), base.add(at), 6);
                            at += 6;
                        }
                        how => {
                            *base.add(at) = b'\\';
                            *base.add(at + 1) = how;
                            at += 2;
                        }
                    }
                } else if c < 0x800 {
                    *base.add(at) = 0xc0 | (c >> 6) as u8;
                    *base.add(at + 1) = 0x80 | (c & 0x3f) as u8;
                    at += 2;
                } else if c < 0x10000 {
                    if (0xd800..0xe000).contains(&c) {
                        return Err(Unsupported);
                    }
                    *base.add(at) = 0xe0 | (c >> 12) as u8;
                    *base.add(at + 1) = 0x80 | (c >> 6 & 0x3f) as u8;
                    *base.add(at + 2) = 0x80 | (c & 0x3f) as u8;
                    at += 3;
                } else {
                    *base.add(at) = 0xf0 | (c >> 18) as u8;
                    *base.add(at + 1) = 0x80 | (c >> 12 & 0x3f) as u8;
                    *base.add(at + 2) = 0x80 | (c >> 6 & 0x3f) as u8;
                    *base.add(at + 3) = 0x80 | (c & 0x3f) as u8;
                    at += 4;
                }
                if i >= n || (chars[i].into() < 0x80 && i + 16 <= n) {
                    break;
                }
            }
        }
        out.set_len(begin + at);
    }
    Ok(())
}
