"""The native naive Bayes scores (native/src/nbscore.rs) against py3langid's numpy scores:
the same float32 probabilities bit for bit, the same folded answers, and no numpy import."""

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

pytestmark = pytest.mark.skipif(native is None, reason="native module not built")


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


def test_native_scores_are_numpys_bit_for_bit() -> None:
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
        assert np.array_equal(got.view(np.uint32), expected.view(np.uint32)), text
        for short in (False, True):
            folded = scorer.folded(encoded, short)
            numpy_folded = _numpy_folded(text, short)
            assert folded == numpy_folded.tolist(), text
            assert language._total(folded) == float(numpy_folded.sum())
            assert language._best(folded) == int(numpy_folded.argmax())


def test_native_log1p_table_is_numpys() -> None:
    # numpy's float32 log1p is not correctly rounded and depends on the CPU's kernels: a
    # machine whose numpy answers otherwise fails here rather than in the outputs
    import numpy as np

    table = Path(language.__file__).parents[2] / "native" / "src" / "log1p_table.rs"
    bits = [
        int(word.rstrip(","), 16)
        for line in table.read_text().splitlines()
        for word in line.split()
        if word.startswith("0x")
    ]
    assert bits == np.log1p(np.arange(len(bits), dtype=np.float32)).view(np.uint32).tolist()
    assert len(bits) > 4 * language.MODEL_CHARS  # every count of a scored text's bytes


def test_float_sum_is_numpys_pairwise_sum() -> None:
    import numpy as np

    assert native is not None
    rng = random.Random(3)
    for size in (0, 1, 7, 8, 9, 127, 128, 129, 135, 142, 300):
        values = [rng.random() ** 8 for _ in range(size)]
        assert native.float_sum(values) == float(np.array(values).sum())


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
