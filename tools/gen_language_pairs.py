"""Generate pipeline/stages/language_pairs.zip from wordfreq's word lists.

Neighbouring standards that detectors confuse on headlines (Indonesian and Malay, Danish and
Norwegian, Czech and Slovak...) differ in which common words they use, and how often. For
each pair this keeps the words one language writes at least ten times as often as the other
(a log10 ratio of 1 or more, clipped at 3), and for each language the letters of its words.

Run where wordfreq 3.1.1 is installed (the benchmark's peer virtualenv has it):
    /work/bench-venv/bin/python tools/gen_language_pairs.py
wordfreq's data is CC BY-SA 4.0 (its sources are listed in its README); the generated table
is a derivative under the same licence: pipeline/stages/language_pairs.LICENSE.md.
"""

from __future__ import annotations

import math
import sys
import zipfile
from collections import Counter
from importlib.metadata import version
from pathlib import Path

import wordfreq

# wordfreq's codes; the detector answers nb as no and the Serbo-Croatian sh as hr
PAIRS = [
    ("id", "ms"),
    ("da", "nb"),
    ("sv", "nb"),
    ("sv", "da"),
    ("sv", "nl"),
    ("da", "nl"),
    ("nb", "nl"),
    ("cs", "sk"),
    ("sk", "sl"),
    ("sl", "sh"),
    ("cs", "pl"),
    ("sk", "pl"),
    ("bg", "ru"),
    ("bg", "mk"),
    ("ru", "uk"),
    # Serbian Cyrillic: wordfreq's Serbo-Croatian (written in Latin) spelled in Cyrillic
    ("sr", "ru"),
    ("sr", "mk"),
    ("sr", "bg"),
]
MIN_ZIPF = 2.0  # words rarer than twice per hundred million in both carry little
MIN_RATIO = 1.0  # ten times as frequent in one of the two
MAX_RATIO = 3.0  # no single word outweighs three others
LETTER_SHARE = 1e-4  # a letter below this share of a language's letters is not its own
OUT = Path(__file__).resolve().parents[1] / "pipeline" / "stages" / "language_pairs.zip"


# Serbian Latin to Cyrillic, digraphs first; words with q, w, x or y are foreign
_DIGRAPHS = {"dž": "џ", "lj": "љ", "nj": "њ"}
_LETTERS = dict(zip("abcčćdđefghijklmnoprsštuvzž", "абцчћдђефгхијклмнопрсштувзж", strict=True))


def _cyrillic(word: str) -> str | None:
    for latin, cyrillic in _DIGRAPHS.items():
        word = word.replace(latin, cyrillic)
    spelled = "".join(_LETTERS.get(c, c) for c in word)
    return spelled if all("\u0400" <= c <= "\u04ff" for c in spelled) else None


def _frequencies(lang: str) -> dict[str, float]:
    """wordfreq's list; for `sr`, its Serbo-Croatian list spelled in Serbian Cyrillic (the
    list is Latin: wordfreq transliterates Serbian Cyrillic sources)."""
    if lang != "sr":
        return dict(wordfreq.get_frequency_dict(lang, "small"))
    found: dict[str, float] = {}
    for word, freq in wordfreq.get_frequency_dict("sh", "small").items():
        spelled = _cyrillic(word)
        if spelled:
            found[spelled] = found.get(spelled, 0.0) + freq
    return found


def _alphabet(lang: str) -> str:
    counts: Counter[str] = Counter()
    for word, freq in _frequencies(lang).items():
        for char in word:
            if char.isalpha():
                counts[char] += freq
    total = sum(counts.values())
    return "".join(sorted(c for c, n in counts.items() if n / total >= LETTER_SHARE))


def _ratios(a: str, b: str) -> dict[str, float]:
    fa, fb = _frequencies(a), _frequencies(b)
    # a word missing from one list is rarer than its rarest word
    floor_a, floor_b = min(fa.values()) / 2, min(fb.values()) / 2
    least = 10 ** (MIN_ZIPF - 9)
    found = {}
    for word in sorted(set(fa) | set(fb)):
        pa, pb = fa.get(word, 0.0), fb.get(word, 0.0)
        if max(pa, pb) < least or not word.isalpha():
            continue
        if "sr" in (a, b) and _cyrillic(word) != word:
            continue  # the Cyrillic-spelled list has no Latin words to weigh against
        ratio = math.log10(max(pa, floor_a)) - math.log10(max(pb, floor_b))
        if abs(ratio) >= MIN_RATIO:
            found[word] = round(max(-MAX_RATIO, min(MAX_RATIO, ratio)), 2)
    return found


WORDFREQ = "3.1.1"  # the lists change between releases: the same version, the same table


def main() -> None:
    """One member per pair (`a-b`: word TAB log10 ratio, a over b) and `alphabets` (code TAB
    letters), so that a process reads only the pairs of the languages it meets."""
    if version("wordfreq") != WORDFREQ:
        sys.exit(f"wordfreq {WORDFREQ} makes the committed table; {version('wordfreq')} is here")
    langs = sorted({lang for pair in PAIRS for lang in pair})
    members = {"alphabets": [f"{lang}\t{_alphabet(lang)}" for lang in langs]}
    for a, b in PAIRS:
        members[f"{a}-{b}"] = [f"{w}\t{r:g}" for w, r in _ratios(a, b).items()]
    with zipfile.ZipFile(OUT, "w", zipfile.ZIP_LZMA) as archive:
        for name, lines in members.items():
            # a fixed date: the same lists make the same file
            info = zipfile.ZipInfo(name, date_time=(2026, 12, 6, 0, 0, 0))
            info.compress_type = zipfile.ZIP_LZMA
            archive.writestr(info, "\n".join(lines) + "\n")
    print(OUT, sum(map(len, members.values())), "lines", OUT.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
