//! py3langid's walk of its byte n-gram automaton (`py3langid.langid.visit_counts`): which
//! features a text's UTF-8 bytes complete, and how often, in the order each first occurs
//! (its `Counter`'s order, which fixes the order of the rows the naive Bayes score sums).
//! Python steps ~1,000 bytes a text through two list lookups each, 0.2-0.5 ms; this ~5 µs.
//! The scores are computed in nbscore.rs, in numpy's and OpenBLAS's order.

use pyo3::buffer::PyBuffer;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::collections::HashMap;

#[pyclass(frozen)]
pub(crate) struct NgramWalk {
    // the model's transitions, 256 per distinct row: read in place (a memory-mapped file, of
    // which one text touches a few pages), never copied
    nextmove: PyBuffer<u32>,
    rows: Vec<usize>, // per state: where its row starts in `nextmove` (row << 8)
    output: Vec<i32>, // per state: the feature it completes, or a negative number
}

fn unsigned(values: &Bound<'_, PyAny>) -> PyResult<Vec<u32>> {
    let py = values.py();
    if let Ok(buffer) = PyBuffer::<u16>::get_bound(values) {
        return Ok(buffer.to_vec(py)?.into_iter().map(u32::from).collect());
    }
    PyBuffer::<u32>::get_bound(values)?.to_vec(py)
}

impl NgramWalk {
    /// (feature, count) of the bytes' walk from state 0, in first-occurrence order.
    pub(crate) fn found(&self, text: &[u8]) -> PyResult<Vec<(i32, u32)>> {
        // SAFETY: the buffer is a C-contiguous array of u32 (checked when made), held, and
        // so kept alive and in place, as long as self
        let nextmove: &[u32] = unsafe {
            std::slice::from_raw_parts(
                self.nextmove.buf_ptr() as *const u32,
                self.nextmove.item_count(),
            )
        };
        let outside = || PyValueError::new_err("the automaton leaves its tables");
        let mut slot: HashMap<i32, usize> = HashMap::new();
        let mut found: Vec<(i32, u32)> = Vec::new();
        let mut state = 0usize;
        for &byte in text {
            let row = *self.rows.get(state).ok_or_else(outside)?;
            state = *nextmove.get(row + byte as usize).ok_or_else(outside)? as usize;
            let feature = *self.output.get(state).ok_or_else(outside)?;
            if feature >= 0 {
                let at = *slot.entry(feature).or_insert_with(|| {
                    found.push((feature, 0));
                    found.len() - 1
                });
                found[at].1 += 1;
            }
        }
        Ok(found)
    }
}

#[pymethods]
impl NgramWalk {
    /// `nextmove`: uint32 transitions (a buffer); `rows`: each state's row (uint16 or uint32);
    /// `output`: each state's feature (int32), negative for none.
    #[new]
    fn new(
        nextmove: &Bound<'_, PyAny>,
        rows: &Bound<'_, PyAny>,
        output: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        let py = nextmove.py();
        let nextmove = PyBuffer::<u32>::get_bound(nextmove)?;
        if !nextmove.is_c_contiguous() {
            return Err(PyValueError::new_err("nextmove is not contiguous"));
        }
        let rows: Vec<usize> = unsigned(rows)?
            .into_iter()
            .map(|row| (row as usize) << 8)
            .collect();
        let output = PyBuffer::<i32>::get_bound(output)?.to_vec(py)?;
        if rows.len() != output.len() || rows.is_empty() {
            return Err(PyValueError::new_err("one row and one output per state"));
        }
        Ok(NgramWalk {
            nextmove,
            rows,
            output,
        })
    }

    /// {feature: count} of the bytes' walk from state 0, in first-occurrence order; empty
    /// where none completes (visit_counts' None). A transition out of the model's range
    /// raises, where Python's list lookup would.
    fn counts<'py>(&self, py: Python<'py>, text: &[u8]) -> PyResult<Bound<'py, PyDict>> {
        let found = self.found(text)?;
        let counts = PyDict::new_bound(py);
        for (feature, count) in found {
            counts.set_item(feature, count)?;
        }
        Ok(counts)
    }
}
