//! py3langid's naive Bayes scores, normalised, and language.py's fold of its columns into
//! answers, without numpy: importing numpy cost ~320 M instructions (3 % of the enrich
//! benchmark) in every process that met one text CLD2 could not settle. The answers are
//! rounded, yet a last bit can still flip a close call, so every step repeats the float
//! operations numpy 2.4 and its OpenBLAS 0.3.31 make on an AVX-512 CPU, in their order
//! (tests/unit/test_native_scores.py compares both bit for bit on eval texts and slices):
//! - `np.log1p` of the float32 counts: numpy's values, read from a table (log1p_table.rs);
//! - `log1p(counts) @ table[rows]`: OpenBLAS's sgemv ("N" kernel of its SkylakeX build, m
//!   = the 142 classes, n = the features), each output's sum in that kernel's order;
//! - `+ pc`, `*= 1/sqrt(bytes)`, `- max`: float32 operations;
//! - `np.exp`: numpy's float32 kernel (a rational approximation after Cody-Waite range
//!   reduction, 2.5 ulp from exact, not the correctly rounded exp);
//! - `.sum()`: numpy's pairwise summation; `/=`, the aliases' `+=`: float32;
//! - language.py: `* prior` in float64, `np.bincount`'s sums in column order.

// numpy's constants are kept as its source writes them (their float32 roundings)
#![allow(clippy::excessive_precision)]

use crate::log1p_table::LOG1P_BITS;
use crate::ngrams::NgramWalk;
use pyo3::buffer::PyBuffer;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

#[pyclass(frozen)]
pub(crate) struct NaiveBayes {
    walk: Py<NgramWalk>,
    // features x classes, float32, row-major: read in place (a memory-mapped file, of
    // which one text reads a few hundred rows), never copied
    table: PyBuffer<f32>,
    features: usize,
    pc: Vec<f32>,
    alias: Vec<(usize, usize)>, // (first, duplicate) columns of a label seen twice
    fold: Vec<usize>,           // each column's answer
    answers: usize,
    prior: Vec<f64>,
}

fn floats(values: &Bound<'_, PyAny>) -> PyResult<Vec<f32>> {
    PyBuffer::<f32>::get_bound(values)?.to_vec(values.py())
}

#[pymethods]
impl NaiveBayes {
    /// `table`: float32 features x classes (a C-contiguous buffer); `pc`: float32 per class
    /// (a buffer); `aliases`: (first, duplicate) column pairs; `fold`: each column's answer;
    /// `prior`: each column's base rate.
    #[new]
    fn new(
        walk: Py<NgramWalk>,
        table: &Bound<'_, PyAny>,
        pc: &Bound<'_, PyAny>,
        aliases: Vec<(usize, usize)>,
        fold: Vec<usize>,
        prior: Vec<f64>,
    ) -> PyResult<Self> {
        let pc = floats(pc)?;
        let classes = pc.len();
        let table = PyBuffer::<f32>::get_bound(table)?;
        if !table.is_c_contiguous() || classes == 0 || table.item_count() % classes != 0 {
            return Err(PyValueError::new_err("the table is not features x classes"));
        }
        let answers = fold.iter().max().map_or(0, |most| most + 1);
        let columns = |index: &usize| *index < classes;
        if fold.len() != classes
            || prior.len() != classes
            || !aliases.iter().all(|(a, b)| columns(a) && columns(b))
        {
            return Err(PyValueError::new_err("one fold and one prior per class"));
        }
        Ok(NaiveBayes {
            walk,
            features: table.item_count() / classes,
            table,
            pc,
            alias: aliases,
            fold,
            answers,
            prior,
        })
    }

    /// The text's class probabilities (py3langid's `_decide` with norm_probs), each class's
    /// weighed by its prior where `short`, summed per answer (language.py's `_scores`).
    fn folded(&self, text: &[u8], short: bool) -> PyResult<Vec<f64>> {
        let scores = self.decide(text)?;
        let mut folded = vec![0.0f64; self.answers];
        for (column, score) in scores.into_iter().enumerate() {
            let weight = if short {
                f64::from(score) * self.prior[column]
            } else {
                f64::from(score)
            };
            folded[self.fold[column]] += weight;
        }
        Ok(folded)
    }

    /// py3langid's `_decide` (norm_probs): the float32 probability of every class.
    fn decide(&self, text: &[u8]) -> PyResult<Vec<f32>> {
        let found = self.walk.get().found(text)?;
        let classes = self.pc.len();
        let mut scores = if found.is_empty() {
            vec![0.0f32; classes] // py3langid's fill where no feature completes
        } else {
            let mut product = self.product(&found)?;
            for (score, pc) in product.iter_mut().zip(&self.pc) {
                *score += pc;
            }
            product
        };
        // Python's float, cast to float32 by numpy (a Python scalar is weak)
        let scale = (1.0 / (text.len().max(1) as f64).sqrt()) as f32;
        for score in scores.iter_mut() {
            *score *= scale;
        }
        let most = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        for score in scores.iter_mut() {
            *score = exp(*score - most);
        }
        let total = pairwise_sum(&scores);
        for score in scores.iter_mut() {
            *score /= total;
        }
        for &(first, duplicate) in &self.alias {
            scores[first] += scores[duplicate];
            scores[duplicate] = 0.0;
        }
        Ok(scores)
    }
}

impl NaiveBayes {
    /// `np.log1p(counts) @ table[rows]`, summed as numpy's matmul and OpenBLAS sum it.
    fn product(&self, found: &[(i32, u32)]) -> PyResult<Vec<f32>> {
        // SAFETY: the buffer is a C-contiguous array of f32 (checked when made), held, and so
        // kept alive and in place, as long as self
        let table: &[f32] = unsafe {
            std::slice::from_raw_parts(self.table.buf_ptr() as *const f32, self.table.item_count())
        };
        let classes = self.pc.len();
        let mut rows: Vec<&[f32]> = Vec::with_capacity(found.len());
        let mut x: Vec<f32> = Vec::with_capacity(found.len());
        for &(feature, count) in found {
            let feature = feature as usize;
            if feature >= self.features {
                return Err(PyValueError::new_err("a feature outside the table"));
            }
            rows.push(&table[feature * classes..(feature + 1) * classes]);
            let bits = LOG1P_BITS
                .get(count as usize)
                .ok_or_else(|| PyValueError::new_err("a count beyond the log1p table"))?;
            x.push(f32::from_bits(*bits));
        }
        Ok(sgemv(&rows, &x, classes))
    }
}

/// y = x @ A for the rows of A, as numpy 2's matmul computes it with OpenBLAS 0.3 on an
/// AVX-512 machine (its SkylakeX kernels). One row is numpy's own loop (`0 + x*a`). Up to
/// 48 rows (but 4) every output is one chain of fused multiply-adds from zero. Otherwise
/// the outputs come in blocks of four (m & 3 last ones apart), the rows in groups of 8,
/// then 4, 2 and 1, each group's sum added to the output; within a group of 8 or 4 the
/// first 12 outputs (the kernel's 4- and 8-wide steps over 140) sum alternate rows in two
/// accumulators, the others in one; the last m & 3 outputs sum every row in one chain.
/// Fused multiply-adds are the CPU's where it has them (libm's fmaf, the same exactly
/// rounded result, cost ~4x the instructions).
fn sgemv(rows: &[&[f32]], x: &[f32], m: usize) -> Vec<f32> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("fma") && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has the features the function is compiled for (checked above)
        return unsafe { sgemv_fma(rows, x, m) };
    }
    sgemv_in_order(rows, x, m)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn sgemv_fma(rows: &[&[f32]], x: &[f32], m: usize) -> Vec<f32> {
    sgemv_in_order(rows, x, m)
}

/// acc[i] = a[i] * x + acc[i], fused, for each i: one step of every output's chain (the
/// outputs are independent, so the loop vectorises without reordering any sum).
#[inline(always)]
fn chain(acc: &mut [f32], a: &[f32], x: f32) {
    for (sum, a) in acc.iter_mut().zip(a) {
        *sum = a.mul_add(x, *sum);
    }
}

#[inline(always)]
fn sgemv_in_order(rows: &[&[f32]], x: &[f32], m: usize) -> Vec<f32> {
    let n = rows.len();
    let mut y = vec![0.0f32; m];
    if n == 1 {
        for (out, a) in y.iter_mut().zip(rows[0]) {
            *out = x[0] * a;
        }
        return y;
    }
    if n <= 48 && n != 4 {
        for (row, xj) in rows.iter().zip(x) {
            chain(&mut y, &row[..m], *xj);
        }
        return y;
    }
    let tail = m & 3;
    let blocked = m - tail; // outputs the 4-wide kernels cover (NB, under OpenBLAS's 4096)
    let paired = (blocked & 4) + (blocked & 8); // the kernels' 4- and 8-wide steps
    let mut even = vec![0.0f32; paired];
    let mut odd = vec![0.0f32; paired];
    let mut acc = vec![0.0f32; blocked];
    let mut start = 0;
    while start < n {
        let left = n - start;
        let width = if left >= 8 {
            8
        } else if left >= 4 {
            4
        } else if left >= 2 {
            2
        } else {
            1
        };
        let group = &rows[start..start + width];
        let xs = &x[start..start + width];
        if width >= 4 {
            even.fill(0.0);
            odd.fill(0.0);
            for (k, (row, xk)) in group.iter().zip(xs).enumerate() {
                let sums = if k % 2 == 0 { &mut even } else { &mut odd };
                chain(sums, &row[..paired], *xk);
            }
            for ((out, e), o) in y.iter_mut().zip(&even).zip(&odd) {
                *out += (e + o) * 1.0;
            }
        }
        // the 2- and 1-wide kernels sum every output in one chain, as the 4-/8-wide
        // kernels' main loop the outputs past the paired ones
        let single = if width >= 4 { paired } else { 0 };
        let sums = &mut acc[..blocked - single];
        sums.fill(0.0);
        for (row, xk) in group.iter().zip(xs) {
            chain(sums, &row[single..blocked], *xk);
        }
        for (out, sum) in y[single..blocked].iter_mut().zip(sums.iter()) {
            *out = sum.mul_add(1.0, *out);
        }
        start += width;
    }
    let mut last = vec![0.0f32; tail];
    for (row, xj) in rows.iter().zip(x) {
        chain(&mut last, &row[blocked..m], *xj);
    }
    for (out, sum) in y[blocked..].iter_mut().zip(last) {
        *out += sum;
    }
    y
}

/// numpy's pairwise summation (`add.reduce` of a contiguous array): eight accumulators
/// over blocks of up to 128, halves above that.
fn pairwise_sum<T: Copy + std::ops::Add<Output = T> + Default>(values: &[T]) -> T {
    let n = values.len();
    if n < 8 {
        return values.iter().fold(T::default(), |sum, value| sum + *value);
    }
    if n <= 128 {
        let mut r = [T::default(); 8];
        r.copy_from_slice(&values[..8]);
        let whole = n - n % 8;
        for block in values[8..whole].chunks_exact(8) {
            for (acc, value) in r.iter_mut().zip(block) {
                *acc = *acc + *value;
            }
        }
        let mut sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for value in &values[whole..] {
            sum = sum + *value;
        }
        return sum;
    }
    let half = n / 2;
    let half = half - half % 8;
    pairwise_sum(&values[..half]) + pairwise_sum(&values[half..])
}

/// numpy's `add.reduce` of a float64 list (language.py's totals of the folded scores).
#[pyfunction]
pub(crate) fn float_sum(values: Vec<f64>) -> f64 {
    pairwise_sum(&values)
}

// numpy's float32 exp kernel's constants (npy_math's NPY_*_EXPf), as float32
const XMAX: f32 = 88.722_839_355_468_75;
const XMIN: f32 = -103.972_084_045_410_156_25;
const LOG2E: f32 = std::f32::consts::LOG2_E; // NPY_LOG2Ef, the same float32
const RINT_MAGIC: f32 = 12_582_912.0; // 0x1.8p23: adding and subtracting it rounds
const LN2_HIGH: f32 = -6.931_457_52e-1;
const LN2_LOW: f32 = -1.428_606_77e-6;
const P: [f32; 6] = [
    9.999_999_999_980_870_924_916e-1,
    7.257_664_613_233_124_478_488e-1,
    2.473_615_434_895_520_810_817e-1,
    5.114_512_081_637_298_353_406e-2,
    6.757_896_990_527_504_603_057e-3,
    5.082_762_527_590_693_718_096e-4,
];
const Q: [f32; 3] = [
    1.0,
    -2.742_335_390_411_667_452_936e-1,
    2.159_509_375_685_829_852_307e-2,
];

/// numpy's float32 `exp` (its AVX-512F kernel, one lane): x = k ln2 + r with k the nearest
/// integer to x log2(e), exp(r) as a ratio of polynomials, scaled by 2^k.
fn exp(x: f32) -> f32 {
    if x.is_nan() {
        return x;
    }
    if x >= XMAX {
        return f32::INFINITY;
    }
    if x <= XMIN {
        return 0.0;
    }
    let k = (x * LOG2E + RINT_MAGIC) - RINT_MAGIC;
    let r = k.mul_add(LN2_HIGH, x);
    let r = k.mul_add(LN2_LOW, r);
    let mut num = P[5].mul_add(r, P[4]);
    for coefficient in [P[3], P[2], P[1], P[0]] {
        num = num.mul_add(r, coefficient);
    }
    let den = Q[2].mul_add(r, Q[1]).mul_add(r, Q[0]);
    let poly = num / den;
    // scalef: poly * 2^k rounded once (the float64 product is exact)
    (f64::from(poly) * 2f64.powi(k as i32)) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_sums_in_numpys_order() {
        let values: Vec<f32> = (0..142).map(|i| 1.0 / (i as f32 + 1.0)).collect();
        let half = 64;
        let expected = pairwise_sum(&values[..half]) + pairwise_sum(&values[half..]);
        assert_eq!(pairwise_sum(&values).to_bits(), expected.to_bits());
    }

    #[test]
    fn exp_saturates_as_numpy() {
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(-200.0), 0.0);
        assert_eq!(exp(100.0), f32::INFINITY);
    }
}
