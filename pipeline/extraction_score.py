"""The article-extraction benchmark's own score (tests/fixtures/extraction/README.md): true and
extracted body split into words (`\\w+`), overlapping 4-word shingles counted with
multiplicity; each page's true positives, false positives and false negatives normalised to
sum to 1; precision and recall are means over pages, F1 comes from those two means. The
pages are split for tuning: dev = file names (sha256) starting 8-f, held-out = 0-7."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

_WORD = re.compile(r"\w+")
HELD_OUT_FIRST = frozenset("01234567")


@dataclass(frozen=True, slots=True)
class Score:
    precision: float
    recall: float
    f1: float
    pages: int


def _shingles(text: str) -> Counter[tuple[str, ...]]:
    words = _WORD.findall(text or "")
    return Counter(tuple(words[i : i + 4]) for i in range(max(0, len(words) - 3)))


def score(truth: dict[str, str], found: dict[str, str]) -> Score:
    """Score the extracted bodies (page key -> text; a missing page counts as empty)."""
    precisions: list[float] = []
    recalls: list[float] = []
    for key, body in truth.items():
        true, got = _shingles(body), _shingles(found.get(key, ""))
        tp = sum((true & got).values())
        fp = sum((got - true).values())
        fn = sum((true - got).values())
        total = tp + fp + fn
        if total == 0:  # nothing to find and nothing found: right
            precisions.append(1.0)
            recalls.append(1.0)
            continue
        tp_n, fp_n, fn_n = tp / total, fp / total, fn / total
        precisions.append(tp_n / (tp_n + fp_n) if tp_n + fp_n else 0.0)
        recalls.append(tp_n / (tp_n + fn_n) if tp_n + fn_n else 0.0)
    p = sum(precisions) / len(precisions) if precisions else 0.0
    r = sum(recalls) / len(recalls) if recalls else 0.0
    return Score(p, r, 2 * p * r / (p + r) if p + r else 0.0, len(precisions))


def ground_truth(folder: Path) -> dict[str, str]:
    """Page key (file name without .html.gz) -> the hand-marked body."""
    data = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
    return {key: value["articleBody"] for key, value in data.items()}


def split(keys: list[str]) -> tuple[list[str], list[str]]:
    """(dev, held-out) page keys."""
    held = sorted(k for k in keys if k[:1] in HELD_OUT_FIRST)
    return sorted(k for k in keys if k[:1] not in HELD_OUT_FIRST), held


def held_out_hash(keys: list[str], truth: dict[str, str]) -> str:
    """sha256 over the held-out pages' keys and bodies, to show the set never changed."""
    digest = hashlib.sha256()
    for key in split(keys)[1]:
        digest.update(key.encode() + b"\0" + truth[key].encode("utf-8") + b"\0")
    return digest.hexdigest()
