"""The native naive Bayes scores (native/src/nbscore.rs) against py3langid's numpy scores,
and no numpy import.

On the machine they were written on (numpy 2.4.6, OpenBLAS 0.3.31, an AVX-512 CPU) the
native scores are numpy's bit for bit (23,108 texts compared). numpy's float32 log1p and exp
and OpenBLAS's summation order depend on the CPU's kernels, so on another CPU numpy itself
answers differently in the last bits: these tests hold the native scores to numpy's within a
few float32 ulps and to the same answer wherever the answer is not a near tie."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pipeline.native import native
from pipeline.stages import language
from tests.support.paths import FIXTURES


@pytest.fixture(autouse=True)
def _built() -> None:
    assert native is not None, "pipeline._native is not built: `make install` needs cargo"


def _texts() -> list[str]:
    """Eval headlines and paragraphs, and slices of them of every size the sums take a
    different path for (one feature, up to 48, exactly 4, more)."""
    texts = ["", " ", "a", "ab", "abc", "叙利亚 和谈", "\U0001f600 \u0301 ½ ²", "x" * 700, "WAR"]
    rng = random.Random(7)
    for path in sorted((FIXTURES / "eval").glob("*.jsonl"))[:6]:
        for line in path.read_text(encoding="utf-8").splitlines()[:40]:
            item = json.loads(line)
            body = str(item.get("text") or item.get("content") or "")
            texts += [str(item.get("title") or ""), body]
            for size in (2, 3, 4, 5, 8, 20, 60, 200, 600):
                start = rng.randrange(max(1, len(body)))
                texts.append(body[start : start + size])
    return texts


def _numpy_folded(text: str, short: bool) -> Any:
    import numpy as np

    _, _, fold, prior = language._columns()
    scores = language._identifier()._decide(text[: language.MODEL_CHARS])
    if short:
        scores = scores * prior
    return np.bincount(fold, weights=scores, minlength=int(fold.max()) + 1)


def _same_answer(native_scores: list[float], numpy_scores: Any) -> bool:
    """The same best column, unless numpy's best two are a near tie."""
    import numpy as np

    best = int(np.argmax(native_scores))
    top = np.sort(np.asarray(numpy_scores, dtype=np.float64))[-2:]
    return best == int(np.argmax(numpy_scores)) or top[1] - top[0] <= 1e-4 * max(top[1], 1e-30)


def test_native_scores_are_numpys() -> None:
    import numpy as np

    model = language._native_model()
    assert model is not None
    scorer, _, _, labels = model
    identifier = language._identifier()
    assert labels == [str(label) for label in identifier.nb_classes]
    for text in _texts():
        encoded = language._encode(text[: language.MODEL_CHARS])
        assert encoded == identifier._encode(text[: language.MODEL_CHARS])
        expected = identifier._decide(text[: language.MODEL_CHARS])
        got = np.array(scorer.decide(encoded), dtype=np.float32)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7, err_msg=text)
        for short in (False, True):
            folded = scorer.folded(encoded, short)
            numpy_folded = _numpy_folded(text, short)
            np.testing.assert_allclose(folded, numpy_folded, rtol=1e-5, atol=1e-12, err_msg=text)
            assert language._total(folded) == pytest.approx(float(numpy_folded.sum()), rel=1e-5)
            assert _same_answer(folded, numpy_folded), text
            assert language._best(folded) == int(np.argmax(folded))


def test_native_log1p_table_is_numpys() -> None:
    # numpy's float32 log1p is not correctly rounded and depends on the CPU's kernels (the
    # table is this machine's, bit for bit): within two ulps of any numpy's
    import numpy as np

    table = Path(language.__file__).parents[2] / "native" / "src" / "log1p_table.rs"
    bits = [
        int(word.rstrip(","), 16)
        for line in table.read_text().splitlines()
        for word in line.split()
        if word.startswith("0x")
    ]
    table_values = np.array(bits, dtype=np.uint32).view(np.float32)
    numpys = np.log1p(np.arange(len(bits), dtype=np.float32))
    assert table_values[0] == 0.0
    ulps = np.abs(table_values.view(np.int32).astype(np.int64) - numpys.view(np.int32))
    assert int(ulps.max()) <= 2
    # and the table is a log1p, not only near numpy's: each entry within 2 ulps of float64's
    exact = np.log1p(np.arange(len(bits), dtype=np.float64)).astype(np.float32)
    assert (
        int(np.abs(table_values.view(np.int32) - exact.view(np.int32).astype(np.int64)).max()) <= 2
    )
    assert len(bits) > 4 * language.MODEL_CHARS  # every count of a scored text's bytes


def test_float_sum_is_numpys_pairwise_sum() -> None:
    import numpy as np

    assert native is not None
    rng = random.Random(3)
    for size in (0, 1, 7, 8, 9, 127, 128, 129, 135, 142, 300):
        values = [rng.random() ** 8 for _ in range(size)]
        # numpy's pairwise sum; its unrolled inner loop may be vectorised otherwise elsewhere
        assert native.float_sum(values) == pytest.approx(float(np.array(values).sum()), rel=1e-13)


def test_undecided_text_does_not_import_numpy() -> None:
    code = (
        "import sys\n"
        "from pipeline.stages import language\n"
        "assert language._native_model() is not None\n"
        "print(language.detect_language('Merkel Macron Putin'))\n"
        "print('numpy' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[1] == "False"
