//! `html_to_text` and `normalize_text` of pipeline/stages/clean.py, equal to them on every
//! input they accept and declining (None: the caller runs Python's) every other.
//!
//! Python parses with lexbor (an HTML5 parser), walks the tree, drops executable and chrome
//! elements, marks blocks with blank lines and takes the body's text. Here the HTML5
//! tokenizer runs in full and the tree builder's "in body" rules for the elements articles
//! are made of, emitting the text as the walk would have found it: a block's "\n\n" when it
//! opens and when it closes, " " for a removed element, "\n" for a <br>. Whatever would
//! make the tree differ from a plain stack of open elements (tables, forms, foreign content,
//! a formatting element closed out of order and reconstructed later, a DOCTYPE, <title>,
//! a NUL) makes it decline. Then the text is normalised as `_normalize` does; where NFC may
//! change it, `unicodedata.normalize` does that step; where ftfy might, the whole call
//! declines. Work is linear in the input (scope searches share a budget that declines when
//! spent); a panic is caught and declines too.

use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::{PyString, PyTuple};
use std::borrow::Cow;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

mod tables;

/// What this file hardcodes of clean.py, which compares it with its own before using it.
const DROP: [&str; 17] = [
    "script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "math",
    "canvas", "form", "button", "select", "textarea", "nav", "aside", "head",
];
const BLOCKS: [&str; 24] = [
    "p",
    "div",
    "li",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "tr",
    "table",
    "section",
    "article",
    "header",
    "footer",
    "figure",
    "figcaption",
    "hr",
    "dd",
    "dt",
];
const PAGE_TAGS: [&str; 4] = ["article", "body", "html", "main"];
const CHROME_PATTERN: &str = concat!(
    r"(?:^|[\s_-])(?:share|sharing|social|subscribe|subscription|newsletter|related|read-?also|",
    r"see-?also|recommend\w*|promo|advert\w*|ads?|banner|cookie\w*|comments?|breadcrumbs?|",
    r"tags|author-bio|print|footer|sidebar)(?:$|[\s_-])",
);
/// The alternatives of CHROME_PATTERN; a trailing "*" stands for \w*.
const CHROME_WORDS: [&str; 27] = [
    "share",
    "sharing",
    "social",
    "subscribe",
    "subscription",
    "newsletter",
    "related",
    "readalso",
    "read-also",
    "seealso",
    "see-also",
    "recommend*",
    "promo",
    "advert*",
    "ad",
    "ads",
    "banner",
    "cookie*",
    "comment",
    "comments",
    "breadcrumb",
    "breadcrumbs",
    "tags",
    "author-bio",
    "print",
    "footer",
    "sidebar",
];
const BOILERPLATE_PATTERN: &str = concat!(
    r"^\s*(?:read (?:also|more)|see also|related(?: articles)?|share(?: this)?|subscribe|",
    r"follow us|читайте (?:также|тоже|нас)|также читайте|смотрите также|поделиться|",
    r"подписывайтесь|подпишитесь|читайте також|дивіться також|поділитися|lire aussi|",
    r"à lire aussi|voir aussi|partager|lesen sie auch|mehr zum thema|teilen|",
    r"ayrıca (?:okuyun|bakınız)|ilgili haberler|paylaş|оқи отырыңыз|сондай-ақ оқыңыз|",
    r"اقرأ أيضا|اقرأ أيضاً|شارك|بیشتر بخوانید|همچنین بخوانید)\b",
);
/// re.IGNORECASE | re.UNICODE: both patterns' flags
const RE_FLAGS: u32 = 34;
const MAX_BOILERPLATE_LINE: usize = 160;
const CONTINUATION: &str = concat!(
    "[\u{0080}-\u{00bf}\u{0152}\u{0153}\u{0160}\u{0161}\u{0178}\u{017d}\u{017e}\u{0192}",
    "\u{02c6}\u{02dc}\u{2013}\u{2014}\u{2018}-\u{201e}\u{2020}-\u{2022}\u{2026}\u{2030}",
    "\u{2039}\u{203a}\u{20ac}\u{2122}]",
);
const INVISIBLE_CHARS: &str = r"\u200b-\u200d\u2060\ufeff\x00-\x08\x0b\x0c\x0e-\x1f\x7f";
const ODD_SPACES: [char; 18] = [
    '\t', '\u{c}', '\u{b}', '\u{a0}', '\u{2000}', '\u{2001}', '\u{2002}', '\u{2003}', '\u{2004}',
    '\u{2005}', '\u{2006}', '\u{2007}', '\u{2008}', '\u{2009}', '\u{200a}', '\u{202f}', '\u{205f}',
    '\u{3000}',
];
const QUOTES: [(char, char); 10] = [
    ('\u{201c}', '"'),
    ('\u{201d}', '"'),
    ('\u{201e}', '"'),
    ('\u{201f}', '"'),
    ('\u{2033}', '"'),
    ('\u{2018}', '\''),
    ('\u{2019}', '\''),
    ('\u{201a}', '\''),
    ('\u{201b}', '\''),
    ('\u{2032}', '\''),
];

/// The constants above, for clean.py to compare with its own (and use this module only
/// when they agree).
#[pyfunction]
fn clean_config(py: Python<'_>) -> PyResult<Bound<'_, PyTuple>> {
    let mojibake = format!(
        "[\u{00c2}-\u{00f4}](?:(?<=[\u{00c2}-\u{00df}]){c}|(?<=[\u{00e0}-\u{00ef}]){c}{{2}}\
         |(?<=[\u{00f0}-\u{00f4}]){c}{{3}})",
        c = CONTINUATION
    );
    let items: Vec<PyObject> = vec![
        PyTuple::new_bound(py, DROP).into_any().unbind(),
        PyTuple::new_bound(py, BLOCKS).into_any().unbind(),
        PyTuple::new_bound(py, PAGE_TAGS).into_any().unbind(),
        CHROME_PATTERN.into_py(py),
        RE_FLAGS.into_py(py),
        BOILERPLATE_PATTERN.into_py(py),
        RE_FLAGS.into_py(py),
        MAX_BOILERPLATE_LINE.into_py(py),
        mojibake.into_py(py),
        INVISIBLE_CHARS.into_py(py),
        PyTuple::new_bound(py, ODD_SPACES.iter().map(|c| c.to_string()))
            .into_any()
            .unbind(),
        PyTuple::new_bound(
            py,
            QUOTES
                .iter()
                .map(|&(from, to)| -> PyObject { (from as u32, to as u32).into_py(py) }),
        )
        .into_any()
        .unbind(),
    ];
    Ok(PyTuple::new_bound(py, items))
}

/// `html_to_text(html, max_chars)`, or None where Python must answer (see the module).
/// The caller has returned "" for empty or blank `html` already.
#[pyfunction]
fn html_to_text(
    py: Python<'_>,
    html: &Bound<'_, PyString>,
    max_chars: usize,
) -> PyResult<Option<PyObject>> {
    let Ok(html) = html.to_str() else {
        return Ok(None); // lone surrogates: Python's
    };
    let parsed = if markup_at(html.as_bytes(), 0) < html.len() {
        match guarded(|| body_text(html)) {
            Some(text) => Cow::Owned(text),
            None => return Ok(None),
        }
    } else {
        Cow::Borrowed(html)
    };
    finish(py, &parsed, Some(max_chars))
}

/// `normalize_text(text)`, or None where Python must answer.
#[pyfunction]
fn normalize_text(py: Python<'_>, text: &Bound<'_, PyString>) -> PyResult<Option<PyObject>> {
    let Ok(text) = text.to_str() else {
        return Ok(None); // lone surrogates: scrub() is Python's
    };
    finish(py, text, None)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(clean_config, m)?)?;
    m.add_function(wrap_pyfunction!(html_to_text, m)?)?;
    m.add_function(wrap_pyfunction!(normalize_text, m)?)?;
    Ok(())
}

/// `f`'s answer; None if it declined or panicked (nothing unwinds into Python).
fn guarded<T>(f: impl FnOnce() -> Result<T, Decline>) -> Option<T> {
    catch_unwind(AssertUnwindSafe(f)).ok()?.ok()
}

/// `_normalize(text)[:max_chars]` as a Python str; None when ftfy might change the text.
fn finish(py: Python<'_>, text: &str, max_chars: Option<usize>) -> PyResult<Option<PyObject>> {
    let Some(regions) = guarded(|| nfc_regions(text)) else {
        return Ok(None);
    };
    let normalized: Cow<str> = if regions.is_empty() {
        Cow::Borrowed(text)
    } else {
        // NFC of the stretches that hold a character it may change, by Python (the
        // text is cut only before characters NFC leaves alone, where it may be cut)
        static NORMALIZE: GILOnceCell<PyObject> = GILOnceCell::new();
        let normalize = NORMALIZE.get_or_try_init(py, || {
            Ok::<_, PyErr>(
                py.import_bound("unicodedata")?
                    .getattr("normalize")?
                    .unbind(),
            )
        })?;
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (start, end) in regions {
            out.push_str(&text[at..start]);
            let bound = normalize.bind(py).call1(("NFC", &text[start..end]))?;
            out.push_str(bound.downcast::<PyString>()?.to_str()?);
            at = end;
        }
        out.push_str(&text[at..]);
        Cow::Owned(out)
    };
    let Some(mut out) = guarded(|| Ok(tidy(&normalized))) else {
        return Ok(None);
    };
    if let Some(limit) = max_chars {
        // a str of at most `limit` bytes has at most `limit` characters
        if out.len() > limit {
            if let Some((at, _)) = out.char_indices().nth(limit) {
                out.truncate(at);
            }
        }
    }
    Ok(Some(PyString::new_bound(py, &out).into_any().unbind()))
}

/// Python's answer is wanted.
#[derive(Debug)]
struct Decline;

// ---------------------------------------------------------------------------------------
// Byte scans, 16 bytes at a time on x86-64 (SSE2, in every x86-64 CPU). Each ends with the
// byte-at-a-time loop that is the whole scan elsewhere and the last 15 bytes here, so every
// short text in the tests runs the portable loop and every long one the SSE2 one.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::{
    __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
    _mm_set1_epi8,
};

/// 16 bytes of `b` from `at`.
/// SAFETY: `at + 16 <= b.len()`
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn sixteen(b: &[u8], at: usize) -> __m128i {
    _mm_loadu_si128(b.as_ptr().add(at).cast())
}

/// Where the first `x` or `y` at or after `at` is, or `b.len()`.
fn find2(b: &[u8], mut at: usize, x: u8, y: u8) -> usize {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE2 is part of x86-64; every load is inside `b` (at + 16 <= len)
    unsafe {
        let (xs, ys) = (_mm_set1_epi8(x as i8), _mm_set1_epi8(y as i8));
        while at + 16 <= b.len() {
            let v = sixteen(b, at);
            let hit = _mm_or_si128(_mm_cmpeq_epi8(v, xs), _mm_cmpeq_epi8(v, ys));
            let mask = _mm_movemask_epi8(hit) as u32;
            if mask != 0 {
                return at + mask.trailing_zeros() as usize;
            }
            at += 16;
        }
    }
    // (a loop that moves `at`: elsewhere only it does)
    while let Some(&c) = b.get(at) {
        if c == x || c == y {
            break;
        }
        at += 1;
    }
    at
}

/// Where the first "<" or "&" at or after `at` is (where markup or a character reference
/// begins), or `b.len()`.
fn markup_at(b: &[u8], at: usize) -> usize {
    find2(b, at, b'<', b'&')
}

/// Where tidy's first pass must stop copying, from `at`: the first byte of class 2 or 3 in
/// TIDY_BYTES, or a " " right after a " " (`space`: the byte before `at` counts as one);
/// `b.len()` if none. The bytes before it are copied as they are.
fn tidy_stop(b: &[u8], mut at: usize, space: bool) -> usize {
    let mut space = space;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE2 is part of x86-64; every load is inside `b` (at + 16 <= len)
    unsafe {
        let eq = |v: __m128i, c: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8));
        while at + 16 <= b.len() {
            let v = sixteen(b, at);
            // class 2: below 0x20 but "\n" (min(v, 0x1f) == v), and DEL; class 3: the leads
            let control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
            let lines = _mm_movemask_epi8(eq(v, b'\n')) as u32;
            let classed = _mm_or_si128(
                _mm_or_si128(control, eq(v, 0x7f)),
                _mm_or_si128(
                    _mm_or_si128(eq(v, 0xc2), eq(v, 0xe2)),
                    _mm_or_si128(eq(v, 0xe3), eq(v, 0xef)),
                ),
            );
            let spaces = _mm_movemask_epi8(eq(v, b' ')) as u32;
            // a space whose previous byte (the one before the 16 for the first) is one too
            let second = spaces & ((spaces << 1) | u32::from(space));
            let mask = ((_mm_movemask_epi8(classed) as u32) & !lines) | second;
            if mask != 0 {
                return at + mask.trailing_zeros() as usize;
            }
            space = spaces & 0x8000 != 0;
            at += 16;
        }
    }
    while let Some(&c) = b.get(at) {
        match TIDY_BYTES[c as usize] {
            0 => space = false,
            1 if !space => space = true,
            _ => break,
        }
        at += 1;
    }
    at
}

/// Lead bytes of the characters nfc_regions must look at: those of a block of 64 code
/// points (a lead byte and its first continuation's range) that holds an NFC-unsafe one or
/// a _MOJIBAKE lead (U+00C2-U+00F4: lead 0xC3), and every 4-byte lead. ASCII and
/// continuation bytes are never: nothing starts at them that needs a look.
fn hot_leads() -> &'static [u8; 256] {
    static HOT: OnceLock<[u8; 256]> = OnceLock::new();
    HOT.get_or_init(|| {
        // UTF-8 lead bytes rise with the code point, so a range's are its ends' and between
        let lead = |cp: u32| -> usize {
            (match cp {
                0..=0x7f => cp,
                0x80..=0x7ff => 0xc0 | (cp >> 6),
                0x800..=0xffff => 0xe0 | (cp >> 12),
                _ => 0xf0 | (cp >> 18),
            }) as usize
        };
        let mut hot = [0u8; 256];
        for &(start, end) in crate::tables::NFC_UNSAFE.iter() {
            for slot in &mut hot[lead(start)..=lead(end)] {
                *slot = 1;
            }
        }
        for slot in &mut hot[lead(0xc2)..=lead(0xf4)] {
            *slot = 1;
        }
        for slot in &mut hot[0xf0..] {
            *slot = 1;
        }
        hot
    })
}

/// From `at` (a character's start), the start of the first character nfc_regions must
/// look at: an NFC-unsafe one (`bits`), a _MOJIBAKE lead (U+00C2-U+00F4) or any of 4
/// bytes; `b.len()` if none. 16 bytes at a time while they hold no hot lead byte (see
/// hot_leads), else character by character for the next 64 bytes.
fn nfc_plain(b: &[u8], mut at: usize, hot: &[u8; 256], bits: &[u64]) -> usize {
    loop {
        while at + 16 <= b.len() {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: SSE2 is part of x86-64; the load is inside `b` (at + 16 <= len)
            if unsafe { _mm_movemask_epi8(sixteen(b, at)) } == 0 {
                at += 16; // ASCII
                continue;
            }
            if b[at..at + 16]
                .iter()
                .fold(0, |any, &c| any | hot[c as usize])
                != 0
            {
                break;
            }
            at += 16;
        }
        // (the 16 bytes stepped over may end inside a character: its continuation bytes
        // are never hot, so the loop below steps over them one at a time)
        let stop = (at + 64).min(b.len());
        while at < stop {
            let lead = b[at];
            if hot[lead as usize] == 0 {
                at += 1;
                continue;
            }
            let (cp, len) = match lead {
                0xC0..=0xDF => (
                    (u32::from(lead & 0x1F) << 6) | u32::from(b[at + 1] & 0x3F),
                    2,
                ),
                0xE0..=0xEF => (
                    (u32::from(lead & 0x0F) << 12)
                        | (u32::from(b[at + 1] & 0x3F) << 6)
                        | u32::from(b[at + 2] & 0x3F),
                    3,
                ),
                _ => return at,
            };
            if (0xC2..=0xF4).contains(&cp) || bits[(cp / 64) as usize] & (1 << (cp % 64)) != 0 {
                return at;
            }
            at += len;
        }
        if at >= b.len() {
            return b.len();
        }
    }
}

type Step<T = ()> = Result<T, Decline>;

// ---------------------------------------------------------------------------------------
// Normalisation: _normalize of clean.py

fn nfc_unsafe_bits() -> &'static [u64] {
    static BITS: OnceLock<Vec<u64>> = OnceLock::new();
    BITS.get_or_init(|| {
        let mut bits = vec![0u64; 0x10000 / 64];
        for &(start, end) in crate::tables::NFC_UNSAFE.iter() {
            for cp in start..=end.min(0xFFFF) {
                bits[(cp / 64) as usize] |= 1 << (cp % 64);
            }
        }
        bits
    })
}

/// _CONTINUATION of clean.py.
fn continuation(c: char) -> bool {
    matches!(c,
        '\u{0080}'..='\u{00bf}' | '\u{0152}' | '\u{0153}' | '\u{0160}' | '\u{0161}'
        | '\u{0178}' | '\u{017d}' | '\u{017e}' | '\u{0192}' | '\u{02c6}' | '\u{02dc}'
        | '\u{2013}' | '\u{2014}' | '\u{2018}'..='\u{201e}' | '\u{2020}'..='\u{2022}'
        | '\u{2026}' | '\u{2030}' | '\u{2039}' | '\u{203a}' | '\u{20ac}' | '\u{2122}')
}

/// Where NFC may change `text`: byte ranges, each from the last character before a
/// stretch of NFC-unsafe ones (which they may combine with) to the next safe one, close
/// ones merged. Declines where _MOJIBAKE matches (ftfy's turn, before NFC).
///
/// Outside a stretch, nfc_plain steps over the characters that are neither unsafe nor a
/// mojibake lead (most): all they would do here is be the "last safe character", which is
/// found when needed by stepping back from the unsafe one (the character before it is
/// safe, or a stretch would be open).
fn nfc_regions(text: &str) -> Step<Vec<(usize, usize)>> {
    let bits = nfc_unsafe_bits();
    let hot = hot_leads();
    let b = text.as_bytes();
    let mut regions: Vec<(usize, usize)> = Vec::new();
    let mut close = |start: usize, end: usize| match regions.last_mut() {
        Some(last) if start <= last.1 + 256 => last.1 = end,
        _ => regions.push((start, end)),
    };
    let mut open: Option<usize> = None; // the start of the stretch being read
    let mut at = 0;
    while at < b.len() {
        if open.is_none() {
            at = nfc_plain(b, at, hot, bits);
            if at == b.len() {
                break;
            }
        }
        let lead = b[at];
        if lead < 0x80 {
            // (only with a stretch open: nfc_plain passes ASCII) ASCII is neither a
            // mojibake lead nor NFC-unsafe
            if let Some(start) = open.take() {
                close(start, at);
            }
            at += 1;
            continue;
        }
        // UTF-8 (valid: a str) decoded by hand
        let (cp, len) = match lead {
            0x80..=0xDF => (
                (u32::from(lead & 0x1F) << 6) | u32::from(b[at + 1] & 0x3F),
                2,
            ),
            0xE0..=0xEF => (
                (u32::from(lead & 0x0F) << 12)
                    | (u32::from(b[at + 1] & 0x3F) << 6)
                    | u32::from(b[at + 2] & 0x3F),
                3,
            ),
            _ => (
                (u32::from(lead & 0x07) << 18)
                    | (u32::from(b[at + 1] & 0x3F) << 12)
                    | (u32::from(b[at + 2] & 0x3F) << 6)
                    | u32::from(b[at + 3] & 0x3F),
                4,
            ),
        };
        if (0xC2..=0xF4).contains(&cp) {
            let follow = match cp {
                0xC2..=0xDF => 1,
                0xE0..=0xEF => 2,
                _ => 3,
            };
            let mut chars = text[at + len..].chars();
            if chars
                .by_ref()
                .take(follow)
                .filter(|&n| continuation(n))
                .count()
                == follow
            {
                return Err(Decline);
            }
        }
        let unsafe_ = if cp <= 0xFFFF {
            bits[(cp / 64) as usize] & (1 << (cp % 64)) != 0
        } else {
            crate::in_ranges(&crate::tables::NFC_UNSAFE, cp)
        };
        if unsafe_ {
            if open.is_none() {
                // the start of the character before (safe), or 0 at the start
                let mut safe = at.saturating_sub(1);
                while b[safe] & 0xC0 == 0x80 {
                    safe -= 1;
                }
                open = Some(safe);
            }
        } else if let Some(start) = open.take() {
            close(start, at);
        }
        at += len;
    }
    if let Some(start) = open {
        close(start, b.len());
    }
    Ok(regions)
}

/// str.isspace().
fn py_space(c: char) -> bool {
    matches!(c,
        '\t'..='\r' | '\u{1c}'..='\u{20}' | '\u{85}' | '\u{a0}' | '\u{1680}'
        | '\u{2000}'..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}')
}

/// The bytes tidy's first pass looks at: 1 for " ", 2 for the ASCII controls but "\n" and
/// DEL, 3 for the lead bytes of the other characters it removes or replaces (U+00A0,
/// U+2000-U+207F, U+3000, U+FEFF; `replaced` tells); 0 for the rest, copied as they come.
const TIDY_BYTES: [u8; 256] = {
    let mut class = [0u8; 256];
    let mut at = 0;
    while at < 0x20 {
        class[at] = 2;
        at += 1;
    }
    class[b'\n' as usize] = 0;
    class[0x20] = 1;
    class[0x7f] = 2;
    class[0xc2] = 3;
    class[0xe2] = 3;
    class[0xe3] = 3;
    class[0xef] = 3;
    class
};

/// Whether the character whose (class 3) lead byte is at `at` is one tidy replaces.
fn replaced(b: &[u8], at: usize) -> bool {
    match (b[at], b.get(at + 1), b.get(at + 2)) {
        (0xc2, Some(0xa0), _) => true,
        (0xe2, Some(0x80), Some(c)) => matches!(c, 0x80..=0x8d | 0x98..=0x9f | 0xaf | 0xb2 | 0xb3),
        (0xe2, Some(0x81), Some(c)) => matches!(c, 0x9f | 0xa0),
        (0xe3, Some(0x80), Some(0x80)) | (0xef, Some(0xbb), Some(0xbf)) => true,
        _ => false,
    }
}

fn invisible(c: char) -> bool {
    matches!(c,
        '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}' | '\0'..='\u{8}' | '\u{b}' | '\u{c}'
        | '\u{e}'..='\u{1f}' | '\u{7f}')
}

/// _normalize after its NFC: invisible characters out, CR and CRLF as LF, odd spaces as " "
/// and typographic quotes plain, runs of spaces as one, lines stripped, boilerplate lines
/// out, at most one blank line, stripped.
fn tidy(text: &str) -> String {
    // one pass for the character replacements and the runs of spaces
    let b = text.as_bytes();
    let mut mapped = String::with_capacity(text.len());
    let mut space = false; // the last character written is " "
    let mut at = 0;
    while at < b.len() {
        // a run of bytes copied as they are: no byte to look at, no second space
        let mut end = at;
        let mut last_space = space;
        loop {
            let stop = tidy_stop(b, end, last_space);
            if stop > end {
                last_space = b[stop - 1] == b' ';
                end = stop;
            }
            match b.get(end) {
                // a lead byte of a character kept as it is: copied, its continuation
                // bytes (class 0) with the next run
                Some(&c) if TIDY_BYTES[c as usize] == 3 && !replaced(b, end) => {
                    last_space = false;
                    end += 1;
                }
                _ => break,
            }
        }
        if end > at {
            // stops only at ASCII or lead bytes: character boundaries
            mapped.push_str(&text[at..end]);
            at = end;
            space = last_space;
            continue;
        }
        let Some(c) = text[at..].chars().next() else {
            break;
        };
        at += c.len_utf8();
        let out = match c {
            c if invisible(c) => continue,
            '\r' => {
                // CRLF is one LF once the invisible characters between are out
                let rest = text[at..].trim_start_matches(invisible);
                if rest.starts_with('\n') {
                    at = text.len() - rest.len() + 1;
                }
                '\n'
            }
            '\t'
            | '\u{a0}'
            | '\u{2000}'..='\u{200a}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
            | ' ' => ' ',
            '\u{201c}' | '\u{201d}' | '\u{201e}' | '\u{201f}' | '\u{2033}' => '"',
            '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{201b}' | '\u{2032}' => '\'',
            other => other,
        };
        if out == ' ' {
            if space {
                continue;
            }
            space = true;
        } else {
            space = false;
        }
        mapped.push(out);
    }
    // lines: stripped, boilerplate out, joined with at most one blank line, stripped
    let mut out = String::with_capacity(mapped.len());
    let mut breaks = 0usize; // "\n"s owed before the next non-empty line
    for line in mapped.split('\n') {
        let line = line.trim_matches(py_space);
        if line.is_empty() {
            breaks += 1;
            continue;
        }
        if boilerplate(line) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(if breaks > 0 { "\n\n" } else { "\n" });
        }
        out.push_str(line);
        breaks = 0;
    }
    out
}

fn is_word(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || c == '_';
    }
    crate::in_ranges(&crate::tables::ALNUM, c as u32)
}

/// Whether `_BOILERPLATE_LINE.match(line)` for a stripped, non-empty line, as `re` with
/// IGNORECASE matches: each phrase's characters against the ones `re` folds them with.
fn boilerplate(line: &str) -> bool {
    if line.len() > 4 * MAX_BOILERPLATE_LINE {
        return false;
    }
    let folds = |p: char| -> &'static [char] {
        tables::FOLDS
            .binary_search_by_key(&p, |&(k, _)| k)
            .map(|at| tables::FOLDS[at].1)
            .unwrap_or(&[])
    };
    // the characters a phrase may begin with, first
    static FIRST: OnceLock<Vec<char>> = OnceLock::new();
    let first = FIRST.get_or_init(|| {
        let mut first: Vec<char> = tables::BOILERPLATE
            .iter()
            .filter_map(|phrase| phrase.chars().next())
            .flat_map(|p| folds(p).iter().copied())
            .collect();
        first.sort_unstable();
        first.dedup();
        first
    });
    match line.chars().next() {
        Some(c) if first.binary_search(&c).is_ok() => {}
        _ => return false,
    }
    // after the first character's test: counting up to 160 characters of every paragraph
    // cost more than all the rest
    if line.len() > MAX_BOILERPLATE_LINE && line.chars().nth(MAX_BOILERPLATE_LINE).is_some() {
        return false;
    }
    'phrase: for phrase in tables::BOILERPLATE {
        let mut chars = line.chars();
        let mut last = None;
        for p in phrase.chars() {
            match chars.next() {
                Some(c) if folds(p).contains(&c) => last = Some(c),
                _ => continue 'phrase,
            }
        }
        // \b: a word character on exactly one side
        if last.is_some_and(is_word) != chars.next().is_some_and(is_word) {
            return true;
        }
    }
    false
}

// ---------------------------------------------------------------------------------------
// HTML: the text lexbor's tree gives after html_to_text's walk

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Block,      // closes an open <p> (address ... ul, but p)
    P,          // p
    Heading,    // h1-h6
    Pre,        // pre, listing: a newline right after the start tag is dropped
    Li,         // li
    DdDt,       // dd, dt
    Button,     // button
    Formatting, // b, big, code, em, font, i, s, small, strike, strong, tt, u
    A,          // a
    Void,       // area, br, embed, img, input, keygen, wbr, param, source, track, head-ish
    Hr,         // hr: closes <p>, void
    RawText,    // script, style, iframe, textarea: their text up to their end tag
    Special,    // noscript (scripting is off in lexbor: parsed as markup)
    Ordinary,   // span and the like, custom elements
}

fn kind_of(name: &str) -> Option<Kind> {
    use Kind::*;
    Some(match name {
        // (not dialog: it closes <p> like these but is not of HTML's "special" category,
        // which the li/dd/dt and end-tag loops below assume of every Block; lexbor answers)
        "address" | "article" | "aside" | "blockquote" | "center" | "details" | "dir" | "div"
        | "dl" | "fieldset" | "figcaption" | "figure" | "footer" | "header" | "hgroup" | "main"
        | "menu" | "nav" | "ol" | "search" | "section" | "summary" | "ul" => Block,
        "p" => P,
        "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => Heading,
        "pre" | "listing" => Pre,
        "li" => Li,
        "dd" | "dt" => DdDt,
        "button" => Button,
        "b" | "big" | "code" | "em" | "font" | "i" | "s" | "small" | "strike" | "strong" | "tt"
        | "u" => Formatting,
        "a" => A,
        "area" | "br" | "embed" | "img" | "input" | "keygen" | "wbr" | "param" | "source"
        | "track" | "link" | "meta" | "base" | "basefont" | "bgsound" => Void,
        "hr" => Hr,
        "script" | "style" | "iframe" | "textarea" => RawText,
        "noscript" => Special,
        "span" | "abbr" | "acronym" | "bdi" | "bdo" | "cite" | "data" | "del" | "dfn" | "ins"
        | "kbd" | "mark" | "q" | "samp" | "sub" | "sup" | "time" | "var" | "label" | "picture"
        | "audio" | "video" | "canvas" | "map" | "output" | "meter" | "progress" => Ordinary,
        // custom elements: a hyphen, ASCII letters and digits
        _ if name.contains('-')
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') =>
        {
            Ordinary
        }
        // tables, forms, select, foreign content, frames, title, template, plaintext, xmp,
        // nobr, image, ruby's parts, html/head/body again, anything unheard of
        _ => return None,
    })
}

/// Elements of the "special" category (HTML's tree construction) among the kinds above.
fn special(kind: Kind) -> bool {
    !matches!(kind, Kind::Formatting | Kind::A | Kind::Ordinary)
}

struct Open<'a> {
    name: Cow<'a, str>,
    kind: Kind,
    after: bool,   // a block the walk marked: "\n\n" when it closes
    removed: bool, // dropped or chrome: its content is not in the text
}

struct Tag<'a> {
    name: Cow<'a, str>,
    attrs: bool, // has any attribute
    class: Option<&'a str>,
    id: Option<&'a str>,
}

struct Builder<'a> {
    out: String,
    stack: Vec<Open<'a>>,
    removed: usize, // open elements whose content is not in the text
    in_body: bool,  // a token has started <body>: before it, everything is the head's
    skip_lf: bool,  // the last token was <pre>/<listing>
    budget: usize,  // steps of scope searches left
    counts: [usize; 5],
}

// counts of open elements: p, li, dd/dt, a, button
const C_P: usize = 0;
const C_LI: usize = 1;
const C_DD: usize = 2;
const C_A: usize = 3;
const C_BUTTON: usize = 4;

fn count_slot(kind: Kind) -> Option<usize> {
    match kind {
        Kind::P => Some(C_P),
        Kind::Li => Some(C_LI),
        Kind::DdDt => Some(C_DD),
        Kind::A => Some(C_A),
        Kind::Button => Some(C_BUTTON),
        _ => None,
    }
}

fn html_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | b'\x0c' | b' ')
}

/// The text lexbor's body holds after html_to_text's walk, not yet normalised.
fn body_text(html: &str) -> Step<String> {
    // one scan for both (most HTML has neither)
    let b = html.as_bytes();
    let first = find2(b, 0, 0, b'\r');
    if first < b.len() && (b[first] == 0 || b[first..].contains(&0)) {
        return Err(Decline); // NULs: each tokenizer state treats them its own way
    }
    // the input stream's preprocessing: CRLF and CR as LF
    let html: Cow<str> = if first < b.len() {
        Cow::Owned(html.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        Cow::Borrowed(html)
    };
    let mut builder = Builder {
        out: String::with_capacity(html.len()),
        stack: Vec::new(),
        removed: 0,
        in_body: false,
        skip_lf: false,
        budget: 4 * html.len() + 4096,
        counts: [0; 5],
    };
    builder.run(&html)?;
    Ok(builder.out)
}

impl<'a> Builder<'a> {
    fn run(&mut self, s: &'a str) -> Step {
        let b = s.as_bytes();
        let mut at = 0;
        while at < b.len() {
            let next = markup_at(b, at);
            if next > at {
                self.text(&s[at..next]);
            }
            if next == b.len() {
                break;
            }
            at = if b[next] == b'&' {
                if self.skip_lf {
                    return Err(Decline); // a character reference for the newline <pre> drops
                }
                let (decoded, end) = char_ref(s, next);
                self.text(&decoded);
                end
            } else {
                self.markup(s, next)?
            };
        }
        while !self.stack.is_empty() {
            self.pop();
        }
        Ok(())
    }

    /// Character tokens.
    fn text(&mut self, mut text: &str) {
        if std::mem::take(&mut self.skip_lf) {
            text = text.strip_prefix('\n').unwrap_or(text);
        }
        if !self.in_body {
            // whitespace before the body goes to the head
            text = text.trim_start_matches(['\t', '\n', '\x0c', '\r', ' ']);
            if text.is_empty() {
                return;
            }
            self.in_body = true;
        }
        if self.removed == 0 {
            self.out.push_str(text);
        }
    }

    /// A token starting with "<" at `at`; where the next one starts.
    fn markup(&mut self, s: &'a str, at: usize) -> Step<usize> {
        let b = s.as_bytes();
        let n = b.len();
        let Some(&c) = b.get(at + 1) else {
            self.text("<");
            return Ok(n);
        };
        if c.is_ascii_alphabetic() {
            self.skip_lf = false;
            let Some((tag, end)) = parse_tag(s, at + 1, false)? else {
                return Ok(n); // EOF in a tag: dropped
            };
            return self.start_tag(s, tag, end);
        }
        match c {
            b'/' => match b.get(at + 2) {
                None => {
                    self.text("</");
                    Ok(n)
                }
                Some(c) if c.is_ascii_alphabetic() => {
                    self.skip_lf = false;
                    let Some((tag, end)) = parse_tag(s, at + 2, true)? else {
                        return Ok(n);
                    };
                    self.end_tag(&tag)?;
                    Ok(end)
                }
                Some(b'>') => {
                    self.skip_lf = false;
                    Ok(at + 3)
                }
                Some(_) => {
                    self.skip_lf = false;
                    Ok(bogus_comment(b, at + 2))
                }
            },
            b'!' => {
                self.skip_lf = false;
                if b[at + 2..].starts_with(b"--") {
                    return Ok(comment(b, at + 4));
                }
                if b.len() >= at + 9 && b[at + 2..at + 9].eq_ignore_ascii_case(b"doctype") {
                    return Err(Decline);
                }
                Ok(bogus_comment(b, at + 2))
            }
            b'?' => {
                self.skip_lf = false;
                Ok(bogus_comment(b, at + 1))
            }
            _ => {
                self.text("<");
                Ok(at + 1)
            }
        }
    }

    fn start_tag(&mut self, s: &'a str, tag: Tag<'a>, end: usize) -> Step<usize> {
        let kind = kind_of(&tag.name).ok_or(Decline)?;
        if !self.in_body {
            match &*tag.name {
                // the head's: nothing of them is in the body
                "meta" | "link" | "base" | "basefont" | "bgsound" => return Ok(end),
                "script" | "style" => return raw_text_end(s, &tag.name, end).map(|(_, e)| e),
                "noscript" => return Err(Decline), // "in head noscript"
                _ => self.in_body = true,
            }
        }
        match kind {
            Kind::Block | Kind::P => self.close_p()?,
            Kind::Heading => {
                self.close_p()?;
                if self.stack.last().is_some_and(|e| e.kind == Kind::Heading) {
                    self.pop();
                }
            }
            Kind::Pre | Kind::Hr => self.close_p()?,
            Kind::Li | Kind::DdDt => {
                if self.counts[count_slot(kind).unwrap_or(C_LI)] > 0 {
                    let mut idx = self.stack.len();
                    while idx > 0 {
                        idx -= 1;
                        self.spend()?;
                        let e = &self.stack[idx];
                        if e.kind == kind {
                            self.pop_through(idx)?;
                            break;
                        }
                        if special(e.kind) && !matches!(&*e.name, "address" | "div" | "p") {
                            break;
                        }
                    }
                }
                self.close_p()?;
            }
            Kind::Button if self.counts[C_BUTTON] > 0 => {
                let idx = self.find(|e| e.kind == Kind::Button)?.ok_or(Decline)?;
                self.pop_through(idx)?;
            }
            Kind::A if self.counts[C_A] > 0 => return Err(Decline), // the adoption agency
            _ => {}
        }
        self.insert(&tag, kind);
        match kind {
            Kind::Void | Kind::Hr => self.pop(),
            Kind::Pre => self.skip_lf = true,
            Kind::RawText => {
                let (closed, next) = raw_text_end(s, &tag.name, end)?;
                if closed {
                    self.pop();
                }
                return Ok(next);
            }
            _ => {}
        }
        Ok(end)
    }

    fn insert(&mut self, tag: &Tag<'a>, kind: Kind) {
        let name = &*tag.name;
        let dropped = DROP.contains(&name);
        let removed = dropped
            || (tag.attrs
                && !PAGE_TAGS.contains(&name)
                && chrome(&format!(
                    "{} {}",
                    tag.class.unwrap_or(""),
                    tag.id.unwrap_or("")
                )));
        let mut after = false;
        if self.removed == 0 {
            if removed {
                self.out.push(' ');
            } else if name == "br" {
                self.out.push('\n');
            } else if BLOCKS.contains(&name) {
                self.out.push_str("\n\n");
                after = true;
            }
        }
        if let Some(slot) = count_slot(kind) {
            self.counts[slot] += 1;
        }
        self.removed += usize::from(removed);
        self.stack.push(Open {
            name: tag.name.clone(),
            kind,
            after,
            removed,
        });
    }

    fn pop(&mut self) {
        if let Some(e) = self.stack.pop() {
            if let Some(slot) = count_slot(e.kind) {
                self.counts[slot] -= 1;
            }
            self.removed -= usize::from(e.removed);
            if e.after && self.removed == 0 {
                self.out.push_str("\n\n");
            }
        }
    }

    /// Pops the elements above `idx` and it, as closing an element implies; a formatting
    /// element among them would be reconstructed later (Python's turn).
    fn pop_through(&mut self, idx: usize) -> Step {
        if self.stack[idx..]
            .iter()
            .any(|e| matches!(e.kind, Kind::Formatting | Kind::A))
        {
            return Err(Decline);
        }
        while self.stack.len() > idx {
            self.pop();
        }
        Ok(())
    }

    fn spend(&mut self) -> Step {
        self.budget = self.budget.checked_sub(1).ok_or(Decline)?;
        Ok(())
    }

    /// The topmost open element `pick` takes.
    fn find(&mut self, pick: impl Fn(&Open<'a>) -> bool) -> Step<Option<usize>> {
        let mut idx = self.stack.len();
        while idx > 0 {
            idx -= 1;
            self.spend()?;
            if pick(&self.stack[idx]) {
                return Ok(Some(idx));
            }
        }
        Ok(None)
    }

    /// "If the stack of open elements has a p element in button scope, close a p element."
    fn close_p(&mut self) -> Step {
        if self.counts[C_P] == 0 {
            return Ok(());
        }
        if let Some(idx) = self.find(|e| matches!(e.kind, Kind::P | Kind::Button))? {
            if self.stack[idx].kind == Kind::P {
                self.pop_through(idx)?;
            }
        }
        Ok(())
    }

    fn end_tag(&mut self, tag: &Tag<'a>) -> Step {
        let name = &*tag.name;
        if !self.in_body {
            return Err(Decline);
        }
        match name {
            "body" | "html" => Ok(()), // "after body" hands every token back to "in body"
            "br" | "form" | "applet" | "marquee" | "object" | "template" | "table" | "caption"
            | "colgroup" | "tbody" | "tfoot" | "thead" | "tr" | "td" | "th" | "select" | "svg"
            | "math" => Err(Decline),
            "p" => {
                if self.counts[C_P] > 0 {
                    if let Some(idx) = self.find(|e| matches!(e.kind, Kind::P | Kind::Button))? {
                        if self.stack[idx].kind == Kind::P {
                            return self.pop_through(idx);
                        }
                    }
                }
                // no p in scope: an empty one is inserted and closed
                if self.removed == 0 {
                    self.out.push_str("\n\n\n\n");
                }
                Ok(())
            }
            "li" => {
                if self.counts[C_LI] > 0 {
                    let found =
                        self.find(|e| e.kind == Kind::Li || matches!(&*e.name, "ol" | "ul"))?;
                    if let Some(idx) = found.filter(|&i| self.stack[i].kind == Kind::Li) {
                        return self.pop_through(idx);
                    }
                }
                Ok(())
            }
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                if let Some(idx) = self.find(|e| e.kind == Kind::Heading)? {
                    return self.pop_through(idx);
                }
                Ok(())
            }
            "address" | "article" | "aside" | "blockquote" | "button" | "center" | "details"
            | "dialog" | "dir" | "div" | "dl" | "fieldset" | "figcaption" | "figure" | "footer"
            | "header" | "hgroup" | "listing" | "main" | "menu" | "nav" | "ol" | "pre"
            | "search" | "section" | "summary" | "ul" | "dd" | "dt" => {
                if let Some(idx) = self.find(|e| e.name == name)? {
                    return self.pop_through(idx);
                }
                Ok(())
            }
            "a" | "b" | "big" | "code" | "em" | "font" | "i" | "nobr" | "s" | "small"
            | "strike" | "strong" | "tt" | "u" => {
                if self.stack.last().is_some_and(|e| e.name == name) {
                    self.pop();
                    return Ok(());
                }
                if self.find(|e| e.name == name)?.is_some() {
                    return Err(Decline); // the adoption agency
                }
                Ok(())
            }
            _ => {
                // any other end tag: the topmost element of that name, unless a special
                // element comes first
                let found = self.find(|e| e.name == name || special(e.kind))?;
                if let Some(idx) = found.filter(|&i| self.stack[i].name == name) {
                    return self.pop_through(idx);
                }
                Ok(())
            }
        }
    }
}

/// A tag from its name (at `at`, after "<" or "</") to its ">": the tag and where the next
/// token starts, or None at EOF (the tag is dropped).
fn parse_tag(s: &str, at: usize, end: bool) -> Step<Option<(Tag<'_>, usize)>> {
    let b = s.as_bytes();
    let n = b.len();
    let mut k = at;
    while k < n && !html_space(b[k]) && b[k] != b'/' && b[k] != b'>' {
        k += 1;
    }
    let raw = &s[at..k];
    if !raw.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-') {
        return Err(Decline);
    }
    let name = if raw.bytes().any(|c| c.is_ascii_uppercase()) {
        Cow::Owned(raw.to_ascii_lowercase())
    } else {
        Cow::Borrowed(raw)
    };
    let mut tag = Tag {
        name,
        attrs: false,
        class: None,
        id: None,
    };
    let mut seen: Vec<Cow<str>> = Vec::new();
    loop {
        // before attribute name
        while k < n && html_space(b[k]) {
            k += 1;
        }
        if k >= n {
            return Ok(None);
        }
        match b[k] {
            b'>' => return Ok(Some((tag, k + 1))),
            b'/' => {
                // self-closing start tag state: ">" ends the tag, else attributes go on
                k += 1;
                if k >= n {
                    return Ok(None);
                }
                if b[k] == b'>' {
                    return Ok(Some((tag, k + 1)));
                }
                continue;
            }
            _ => {}
        }
        // attribute name (a leading "=" is part of it)
        let start = k;
        k += 1;
        while k < n && !html_space(b[k]) && !matches!(b[k], b'/' | b'>' | b'=') {
            k += 1;
        }
        let raw = &s[start..k];
        let name = if raw.bytes().any(|c| c.is_ascii_uppercase()) {
            Cow::Owned(raw.to_ascii_lowercase())
        } else {
            Cow::Borrowed(raw)
        };
        // after attribute name
        while k < n && html_space(b[k]) {
            k += 1;
        }
        if k >= n {
            return Ok(None);
        }
        let mut value = "";
        if b[k] == b'=' {
            k += 1;
            while k < n && html_space(b[k]) {
                k += 1;
            }
            if k >= n {
                return Ok(None);
            }
            match b[k] {
                quote @ (b'"' | b'\'') => {
                    let Some(len) = b[k + 1..].iter().position(|&c| c == quote) else {
                        return Ok(None);
                    };
                    value = &s[k + 1..k + 1 + len];
                    k += len + 2;
                    // after a quoted value: anything but space, "/" and ">" starts the
                    // next attribute at once, which the loop does too
                }
                b'>' => {}
                _ => {
                    let start = k;
                    while k < n && !html_space(b[k]) && b[k] != b'>' {
                        k += 1;
                    }
                    value = &s[start..k];
                }
            }
        }
        if !end && !seen.contains(&name) {
            // the first of duplicate attributes holds
            tag.attrs = true;
            if name == "class" || name == "id" {
                if value.contains('&') || !value.is_ascii() {
                    // character references; letters `re` folds into ASCII ones (K, ſ, İ)
                    return Err(Decline);
                }
                if name == "class" {
                    tag.class = Some(value);
                } else {
                    tag.id = Some(value);
                }
            }
            seen.push(name);
        }
    }
}

/// After a comment's "<!--" (at `at`): where the next token starts.
fn comment(b: &[u8], at: usize) -> usize {
    let n = b.len();
    if b.get(at) == Some(&b'>') {
        return at + 1; // <!-->
    }
    if b[at.min(n)..].starts_with(b"->") {
        return at + 2; // <!--->
    }
    let mut k = at;
    while k + 2 < n {
        if b[k] == b'-' && b[k + 1] == b'-' {
            if b[k + 2] == b'>' {
                return k + 3;
            }
            if b[k + 2] == b'!' && b.get(k + 3) == Some(&b'>') {
                return k + 4;
            }
        }
        k += 1;
    }
    n
}

/// A bogus comment from `at` to its ">".
fn bogus_comment(b: &[u8], at: usize) -> usize {
    b[at.min(b.len())..]
        .iter()
        .position(|&c| c == b'>')
        .map_or(b.len(), |n| at + n + 1)
}

/// The end of a script, style, iframe or textarea's text that begins at `at`: whether its
/// end tag came, and where the next token starts.
fn raw_text_end(s: &str, name: &str, at: usize) -> Step<(bool, usize)> {
    let b = s.as_bytes();
    let n = b.len();
    let mut k = at;
    while let Some(off) = b[k..].iter().position(|&c| c == b'<') {
        let lt = k + off;
        if name == "script" && b[lt..].starts_with(b"<!--") {
            return Err(Decline); // the script data's escaped states
        }
        let close = lt + 2 + name.len();
        if b.get(lt + 1) == Some(&b'/')
            && close <= n
            && b[lt + 2..close].eq_ignore_ascii_case(name.as_bytes())
            && b.get(close)
                .is_some_and(|&c| html_space(c) || c == b'/' || c == b'>')
        {
            return Ok(match parse_tag(s, lt + 2, true)? {
                Some((_, end)) => (true, end),
                None => (false, n),
            });
        }
        k = lt + 1;
    }
    Ok((false, n))
}

/// A character reference at `at` ("&") in text: what it stands for and where the next
/// token starts (a lone "&" stands for itself).
fn char_ref(s: &str, at: usize) -> (Cow<'static, str>, usize) {
    let b = s.as_bytes();
    let n = b.len();
    let literal = (Cow::Borrowed("&"), at + 1);
    let Some(&c) = b.get(at + 1) else {
        return literal;
    };
    if c == b'#' {
        let mut k = at + 2;
        let hex = matches!(b.get(k), Some(b'x' | b'X'));
        k += usize::from(hex);
        let start = k;
        let mut value: u32 = 0;
        while k < n {
            let digit = match (hex, b[k]) {
                (_, d @ b'0'..=b'9') => u32::from(d - b'0'),
                (true, d @ b'a'..=b'f') => u32::from(d - b'a' + 10),
                (true, d @ b'A'..=b'F') => u32::from(d - b'A' + 10),
                _ => break,
            };
            value = value
                .saturating_mul(if hex { 16 } else { 10 })
                .saturating_add(digit)
                .min(0x110000);
            k += 1;
        }
        if k == start {
            return literal; // no digits: "&#" stays text
        }
        if b.get(k) == Some(&b';') {
            k += 1;
        }
        let c = match value {
            0 | 0xD800..=0xDFFF | 0x110000.. => '\u{fffd}',
            0x80..=0x9F => WINDOWS_1252[(value - 0x80) as usize],
            _ => char::from_u32(value).unwrap_or('\u{fffd}'),
        };
        return (Cow::Owned(c.to_string()), k);
    }
    if !c.is_ascii_alphanumeric() {
        return literal;
    }
    let mut run = at + 1;
    while run < n && b[run].is_ascii_alphanumeric() {
        run += 1;
    }
    let lookup = |name: &str| {
        tables::ENTITIES
            .binary_search_by(|&(k, _)| k.cmp(name))
            .ok()
            .map(|i| tables::ENTITIES[i].1)
    };
    if b.get(run) == Some(&b';') {
        if let Some(value) = lookup(&s[at + 1..run + 1]) {
            return (Cow::Borrowed(value), run + 1);
        }
    }
    // the longest name that begins the run (those without ";" are the legacy ones)
    for end in (at + 2..=run.min(at + 1 + 32)).rev() {
        if let Some(value) = lookup(&s[at + 1..end]) {
            return (Cow::Borrowed(value), end);
        }
    }
    literal
}

/// Numeric references to 0x80-0x9F, as HTML reads them (Windows-1252), where it replaces.
const WINDOWS_1252: [char; 32] = [
    '\u{20ac}', '\u{81}', '\u{201a}', '\u{192}', '\u{201e}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{2c6}', '\u{2030}', '\u{160}', '\u{2039}', '\u{152}', '\u{8d}', '\u{17d}', '\u{8f}',
    '\u{90}', '\u{2018}', '\u{2019}', '\u{201c}', '\u{201d}', '\u{2022}', '\u{2013}', '\u{2014}',
    '\u{2dc}', '\u{2122}', '\u{161}', '\u{203a}', '\u{153}', '\u{9d}', '\u{17e}', '\u{178}',
];

/// _CHROME.search: one of the words, with start or end or a space, "_" or "-" on each side
/// (ASCII; other text declines before this).
fn chrome(text: &str) -> bool {
    let b = text.as_bytes();
    let sep = |c: u8| matches!(c, b'\t'..=b'\r' | 0x1c..=0x1f | b' ' | b'_' | b'-');
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    for start in 0..b.len() {
        if start > 0 && !sep(b[start - 1]) {
            continue;
        }
        for w in CHROME_WORDS {
            let (lit, star) = match w.strip_suffix('*') {
                Some(lit) => (lit, true),
                None => (w, false),
            };
            let end = start + lit.len();
            if end > b.len() || !b[start..end].eq_ignore_ascii_case(lit.as_bytes()) {
                continue;
            }
            let ends = |at: usize| at == b.len() || sep(b[at]);
            if ends(end) {
                return true;
            }
            if star {
                // \w* then the boundary: any point of the word run after the literal
                let mut at = end;
                while at < b.len() && word(b[at]) {
                    at += 1;
                    if ends(at) {
                        return true;
                    }
                }
            }
        }
    }
    false
}
