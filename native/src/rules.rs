//! The tagger's rule evaluation (tagging._CompiledRules.hits) over one article's matches:
//! which phrase matches count as hits of a topic's rules, given its terms, its exclusions,
//! its ruling-out phrases and its context rules. Python finds the matches (morphology stays
//! there) and keeps what needs its own string semantics: which matches a US state follows
//! (namesakes), where an infix name lies inside its word, and the abbreviations an article
//! defines as something else (`_without_other_meanings`, applied to what this returns).
//! Python's path (tagging._Field.find and friends) gives the same answers without the
//! module; tests/unit/test_native.py compares the two.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyFrozenSet, PyList, PyString};

use crate::{stored_chars, FxMap};

/// One match of a phrase located in its field: token positions and character offsets.
#[derive(Clone, Copy)]
struct Located {
    pid: u32,
    first: u32,
    last: u32,
    start: u64,
    end: u64,
}

/// A rule's phrase list, in order (a phrase may appear more than once, and then counts so).
struct Phrases {
    items: Vec<u32>,
}

struct Context {
    anchors: Phrases,
    context: Phrases,
    window: i64,
    groups: Vec<Phrases>,
    group_ids: Vec<u32>, // every phrase of the groups
}

/// A compiled language's rules of one topic (tagging._CompiledRules), as phrase ids.
#[pyclass]
pub struct RuleSet {
    terms: Phrases,
    contexts: Vec<Context>,
    exclude: Phrases,
    none: Phrases,
    ids: Vec<u32>, // every phrase of these rules, sorted, once each
    terms_of: FxMap<u32, Py<PyString>>, // phrase id -> its term, for `labelled`
}

type ContextSpec = (Vec<u32>, Vec<u32>, i64, Vec<Vec<u32>>);

#[pymethods]
impl RuleSet {
    /// `contexts`: (anchors, context, window, groups) per context rule, in order;
    /// `terms_of`: each phrase's term (phrase id -> term), for `labelled`.
    #[new]
    #[pyo3(signature = (terms, contexts, exclude, none, terms_of = FxMap::default()))]
    fn new(
        terms: Vec<u32>,
        contexts: Vec<ContextSpec>,
        exclude: Vec<u32>,
        none: Vec<u32>,
        terms_of: FxMap<u32, Py<PyString>>,
    ) -> Self {
        let mut ids: Vec<u32> = terms.iter().chain(&exclude).chain(&none).copied().collect();
        let contexts: Vec<Context> = contexts
            .into_iter()
            .map(|(anchors, context, window, groups)| {
                let mut group_ids: Vec<u32> = groups.iter().flatten().copied().collect();
                group_ids.sort_unstable();
                group_ids.dedup();
                ids.extend(anchors.iter().chain(&context).chain(&group_ids));
                Context {
                    anchors: Phrases { items: anchors },
                    context: Phrases { items: context },
                    window,
                    groups: groups.into_iter().map(|items| Phrases { items }).collect(),
                    group_ids,
                }
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        RuleSet {
            terms: Phrases { items: terms },
            contexts,
            exclude: Phrases { items: exclude },
            none: Phrases { items: none },
            ids,
            terms_of,
        }
    }

    /// The hits of these rules in the article's fields (title first), in the order Python's
    /// `hits` finds them, before `_without_other_meanings`, each as tagging.Hit's fields:
    /// (term, field name, first, last, start, end), which tuple.__new__ makes a Hit of in C
    /// (a Python comprehension building the Hits cost 0.06 s of cProfile over the benchmark
    /// corpus); and the (field, phrase id) of every namesake noted on the way, which the
    /// caller adds to its fields' namesakes. `names`: the fields' names, in order.
    #[allow(clippy::type_complexity)]
    fn labelled(
        &self,
        py: Python<'_>,
        fields: Vec<PyRef<'_, FieldMatches>>,
        names: Vec<Py<PyString>>,
    ) -> PyResult<(
        Vec<(Py<PyString>, Py<PyString>, u32, u32, u64, u64)>,
        Vec<(usize, u32)>,
    )> {
        if names.len() != fields.len() {
            return Err(bad("one name per field"));
        }
        let fields: Vec<&FieldMatches> = fields.iter().map(|f| &**f).collect();
        let mut run = Run {
            fields: &fields,
            named: Vec::new(),
        };
        let found = self.evaluate(&mut run);
        let mut labelled = Vec::with_capacity(found.len());
        for (f, h) in found {
            let term = self
                .terms_of
                .get(&h.pid)
                .ok_or_else(|| bad("a phrase without its term"))?;
            labelled.push((
                term.clone_ref(py),
                names[f].clone_ref(py),
                h.first,
                h.last,
                h.start,
                h.end,
            ));
        }
        Ok((labelled, run.named))
    }
}

/// One evaluation: the fields and the namesakes noted so far.
struct Run<'a> {
    fields: &'a [&'a FieldMatches],
    named: Vec<(usize, u32)>,
}

impl Run<'_> {
    /// _Field.find: the hits of `phrases` in field `f` outside the masked positions, in list
    /// order, each phrase's in text order; notes the namesakes (also outside the mask).
    fn find(&mut self, f: usize, phrases: &Phrases, masked: &[(u32, u32)]) -> Vec<Located> {
        let Some(&field) = self.fields.get(f) else {
            return Vec::new();
        };
        let mut hits = Vec::new();
        for &pid in &phrases.items {
            let Some((found, namesakes)) = field.located(pid) else {
                continue;
            };
            hits.extend(found.iter().filter(|h| outside(h, masked)));
            for h in namesakes.iter().filter(|h| outside(h, masked)) {
                if !self.named.contains(&(f, h.pid)) {
                    self.named.push((f, h.pid));
                }
            }
        }
        hits
    }

    /// `any(f.find(phrases) for f in fields[from..])`, stopping at the first that finds.
    fn any_finds(&mut self, from: usize, phrases: &Phrases) -> bool {
        (from..self.fields.len()).any(|f| !self.find(f, phrases, &[]).is_empty())
    }
}

#[inline]
fn outside(hit: &Located, masked: &[(u32, u32)]) -> bool {
    masked
        .iter()
        .all(|&(first, last)| hit.last < first || last < hit.first)
}

impl RuleSet {
    fn evaluate(&self, run: &mut Run<'_>) -> Vec<(usize, Located)> {
        let fields = run.fields;
        let meets =
            |field: &FieldMatches| field.pids.iter().any(|p| self.ids.binary_search(p).is_ok());
        if !fields.iter().any(|f| meets(f)) {
            return Vec::new();
        }
        if !self.none.items.is_empty() && run.any_finds(0, &self.none) {
            return Vec::new();
        }
        let mut found: Vec<(usize, Located)> = Vec::new();
        let mut title_has_context: Vec<Option<bool>> = vec![None; self.contexts.len()];
        for (f, field) in fields.iter().enumerate() {
            if !meets(field) {
                continue;
            }
            let masked: Vec<(u32, u32)> = run
                .find(f, &self.exclude, &[])
                .iter()
                .map(|h| (h.first, h.last))
                .collect();
            let add = |found: &mut Vec<(usize, Located)>, hits: &[Located]| {
                found.extend(hits.iter().map(|&h| (f, h)));
            };
            let terms = run.find(f, &self.terms, &masked);
            add(&mut found, &terms);
            for (n, ctx) in self.contexts.iter().enumerate() {
                if !ctx.groups.is_empty() {
                    if !ctx.group_ids.iter().any(|p| field.has(*p)) {
                        continue;
                    }
                    let groups: Vec<Vec<Located>> =
                        ctx.groups.iter().map(|g| run.find(f, g, &masked)).collect();
                    let together = near(&groups, ctx.window);
                    if !together.is_empty()
                        && (ctx.context.items.is_empty() || run.any_finds(0, &ctx.context))
                    {
                        add(&mut found, &together);
                    }
                    continue;
                }
                let anchors = run.find(f, &ctx.anchors, &masked);
                if anchors.is_empty() {
                    continue;
                }
                let title = match title_has_context[n] {
                    Some(known) => known,
                    None => {
                        let known = !run.find(0, &ctx.context, &[]).is_empty();
                        title_has_context[n] = Some(known);
                        known
                    }
                };
                if title {
                    add(&mut found, &anchors);
                    continue;
                }
                let support = run.find(f, &ctx.context, &[]);
                if f == 0 {
                    // a headline's anchor holds if the body gives context
                    if run.any_finds(1, &ctx.context) {
                        add(&mut found, &anchors);
                    }
                    continue;
                }
                let window = ctx.window;
                let kept: Vec<Located> = anchors
                    .into_iter()
                    .filter(|a| {
                        support
                            .iter()
                            .any(|s| (s.first as i64 - a.first as i64).abs() <= window)
                    })
                    .collect();
                add(&mut found, &kept);
            }
        }
        found
    }
}

/// tagging._near: the hits of every group within `window` words of a hit of each group.
fn near(groups: &[Vec<Located>], window: i64) -> Vec<Located> {
    if groups.iter().any(|g| g.is_empty()) {
        return Vec::new();
    }
    let close = |h: &Located| {
        groups.iter().all(|g| {
            g.iter()
                .any(|o| (o.first as i64 - h.first as i64).abs() <= window)
        })
    };
    let kept: Vec<Vec<Located>> = groups
        .iter()
        .map(|hits| hits.iter().filter(|h| close(h)).copied().collect())
        .collect();
    if kept.iter().any(|k: &Vec<Located>| k.is_empty()) {
        return Vec::new();
    }
    kept.into_iter().flatten().collect()
}

/// One field's matches in one normalization language, located (tagging._Field's matches
/// with `_locate` done for every phrase at once).
#[pyclass]
pub struct FieldMatches {
    pids: Vec<u32>,           // the phrases that match, in the dict's order
    slots: FxMap<u32, usize>, // phrase id -> its entry in `located`
    located: Vec<(Vec<Located>, Vec<Located>)>, // hits, and namesakes (a US state follows)
}

#[pymethods]
impl FieldMatches {
    /// `matches`: phrase id -> (first, last) token positions of each match; `offsets`: the
    /// field's part offsets (native part_offsets); `qualified`: the last positions a US
    /// state follows; `spans`: (start, end) of each match of the phrases whose offsets
    /// Python computes (a name inside a longer word), in the order of their matches.
    #[new]
    fn new(
        matches: &Bound<'_, PyDict>,
        parts: &Bound<'_, PyList>,
        offsets: &Bound<'_, PyBytes>,
        qualifiers: &Bound<'_, PyFrozenSet>,
        spans: FxMap<u32, Vec<(u64, u64)>>,
    ) -> PyResult<Self> {
        let mut qualified: FxMap<u32, bool> = FxMap::default();
        let bytes = offsets.as_bytes();
        let offset = |part: usize| -> PyResult<u64> {
            let at = part.checked_mul(8).ok_or_else(|| bad("offset"))?;
            let chunk = bytes
                .get(at..at + 8)
                .ok_or_else(|| bad("a part beyond the offsets"))?;
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            Ok(u64::from_ne_bytes(word))
        };
        let mut found = FieldMatches {
            pids: Vec::with_capacity(matches.len()),
            slots: FxMap::default(),
            located: Vec::with_capacity(matches.len()),
        };
        for (key, value) in matches.iter() {
            let pid: u32 = key.extract()?;
            let places: Vec<(u32, u32)> = value.extract()?;
            let own = spans.get(&pid);
            if own.is_some_and(|s| s.len() != places.len()) {
                return Err(bad("one span per match"));
            }
            let (mut hits, mut namesakes) = (Vec::new(), Vec::new());
            for (n, &(first, last)) in places.iter().enumerate() {
                let (start, end) = match own.and_then(|s| s.get(n)) {
                    Some(&span) => span,
                    None => (
                        offset(2 * first as usize + 1)?,
                        offset(2 * last as usize + 2)?,
                    ),
                };
                let hit = Located {
                    pid,
                    first,
                    last,
                    start,
                    end,
                };
                let named = match qualified.get(&last) {
                    Some(&known) => known,
                    None => {
                        let known = followed_by_state(parts, last as usize, qualifiers)?;
                        qualified.insert(last, known);
                        known
                    }
                };
                if named {
                    namesakes.push(hit);
                } else {
                    hits.push(hit);
                }
            }
            if found.slots.insert(pid, found.located.len()).is_some() {
                return Err(bad("a phrase twice"));
            }
            found.pids.push(pid);
            found.located.push((hits, namesakes));
        }
        Ok(found)
    }
}

impl FieldMatches {
    #[inline]
    fn has(&self, pid: u32) -> bool {
        self.slots.contains_key(&pid)
    }

    #[inline]
    fn located(&self, pid: u32) -> Option<&(Vec<Located>, Vec<Located>)> {
        self.slots.get(&pid).and_then(|&at| self.located.get(at))
    }
}

/// tagging._Text.qualified: whether ", <US state>" follows the token at `last` (`parts` as
/// tokens.split gives them). The comma is looked for in the gap's stored characters; the
/// rare token after one is lowered by Python's own str.lower.
fn followed_by_state(
    parts: &Bound<'_, PyList>,
    last: usize,
    qualifiers: &Bound<'_, PyFrozenSet>,
) -> PyResult<bool> {
    let tokens = parts.len().saturating_sub(1) / 2;
    if last + 1 >= tokens {
        return Ok(false);
    }
    let gap = parts.get_item(2 * last + 2)?;
    let (width, data) = stored_chars(gap.downcast::<PyString>()?)?;
    let size = 1usize << width; // bytes a character
    let comma = data.chunks_exact(size).any(|unit| {
        let code = match *unit {
            [a] => u32::from(a),
            [a, b] => u32::from(u16::from_ne_bytes([a, b])),
            [a, b, c, d] => u32::from_ne_bytes([a, b, c, d]),
            _ => return false,
        };
        code == u32::from(b',')
    });
    if !comma {
        return Ok(false);
    }
    let lowered = parts.get_item(2 * last + 3)?.call_method0("lower")?;
    qualifiers.contains(lowered)
}

fn bad(what: &str) -> PyErr {
    PyValueError::new_err(what.to_string())
}
