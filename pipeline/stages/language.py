"""Language detection: ISO 639-1 code plus a confidence. pycld2 for reliable paragraphs,
else py3langid (model inside its wheel) restricted to the languages news monitoring meets;
headlines also weigh function words, alphabets and base rates (language_evidence.py). Letters
only one language of a script has (Kazakh қ ғ ұ, Ukrainian є ї ґ, Belarusian ў, Kazakh Latin
ū, Kazakh Arabic) correct the model; the feed's hint is a prior, never the answer."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import pycld2
from py3langid.langid import MODEL_FILE, LanguageIdentifier

from pipeline.stages import language_evidence as evidence

UNDETERMINED = "und"
# Below this normalised probability the answer is reported as `und`.
MIN_CONFIDENCE = 0.2
# How much probability mass the hint adds before renormalising: enough to settle a
# close call between neighbours (ru/uk/bg), never enough to override clear evidence.
HINT_WEIGHT = 0.15
# Candidates: without a restriction py3langid answers crh (Crimean Tatar) for Latin-script
# Kazakh, wuu for Chinese headlines, ext/an for Spanish ones (measured on the labeled set).
CANDIDATES = [
    "ru",
    "uk",
    "be",
    "bg",
    "sr",
    "mk",
    "kk",
    "ky",
    "tg",
    "mn",
    "en",
    "fr",
    "de",
    "es",
    "it",
    "pt",
    "nl",
    "pl",
    "cs",
    "sk",
    "sl",
    "hr",
    "ro",
    "hu",
    "fi",
    "sv",
    "da",
    "no",
    "lt",
    "lv",
    "et",
    "el",
    "tr",
    "az",
    "uz",
    "ar",
    "fa",
    "ur",
    "ps",
    "ku",
    "he",
    "hy",
    "ka",
    "zh",
    "ja",
    "ko",
    "hi",
    "bn",
    "id",
    "ms",
    "vi",
    "th",
    "ug",
    "sq",
]
# Up to this many words the n-gram model alone is unsure (names-only headlines come out sr,
# et or ku): function words, alphabets and a stronger hint weigh in (_short).
SHORT_WORDS = 15
# The hinted language's probability is multiplied by this in a short text: it settles
# names-only headlines, yet a language the text rules out (another script, a letter its
# alphabet lacks) stays near zero.
HINT_FACTOR_SHORT = 5.0
# Standards of one language the model confuses in Latin script (Serbian Latin comes out hr
# or sl); the feed's hint picks among them.
_SAME_LANGUAGE = {"hr": ("sr",), "sr": ("hr",), "ms": ("id",), "id": ("ms",)}
MIN_LETTER_SHARE = 0.01
FAST_MIN_CHARS = 200
_CANDIDATE_SET = frozenset(CANDIDATES)
_CLD2_CODES = {"zh-Hant": "zh", "iw": "he", "jw": "jv"}
_LETTER = re.compile(r"[^\W\d_]")
_THREE_LETTERS = re.compile(r"[^\W\d_](?:.*?[^\W\d_]){2}", re.DOTALL)
MODEL_CHARS = 600
_KK_CYRILLIC = re.compile("[әғқұһӘҒҚҰҺ]")
_KK_SOFT = re.compile("[ңөүҢӨҮ]")  # also Kyrgyz: only decisive next to Russian guesses
_UK = re.compile("[єїґЄЇҐ]")
_BE = re.compile("[ўЎ]")
# Kazakh Latin (2021): ū, or ä/ñ next to the Turkic ğ ş ı (Turkish has no ä or ñ, German no
# ğ ş ı, Spanish no ı); Latvian and Lithuanian also write ū, so their guesses stand.
_KK_LATIN = re.compile("[ūŪ]|[äÄñÑ].*[ğşıĞŞ]|[ğşıĞŞ].*[äÄñÑ]", re.DOTALL)
# Kazakh Latin without those letters: y as a vowel (qatty, otyrysy, Qyzylorda) next to q or ı.
# Turkish has no q and, like Uzbek and Azerbaijani, writes y only as a consonant; Lithuanian
# and Latvian have no q or ı. Decisive only against these guesses (English writes "by" too).
# Lower-case only (a capital consonant only to start a word): acronyms such as BMMYK are not
# words, and a Turkish paragraph quoting one stayed Turkish only by this.
_Y_VOWEL = re.compile(
    r"(?:\b[BCDFGHJKLMNPQRSTVZŞ]|[bcdfghjklmnpqrstvzşğñ])y(?:[bcdfghjklmnpqrstvzşğñ]|\b)"
)
_Q_OR_DOTLESS = re.compile(r"q(?!u)|ı", re.IGNORECASE)
_KK_LATIN_NEIGHBOURS = frozenset({"tr", "az", "uz", "lt", "lv", "ku", "et", "fi"})
_KK_ARABIC = re.compile("[\u0674\u0675\u0676\u0677]")  # high hamza forms of töte jazu
_SR_MK = re.compile("[ђјљњћџѓќѕЂЈЉЊЋЏЃЌЅ]")  # Serbian/Macedonian letters Russian lacks
_UG_ONLY = re.compile("[\u06d0\u06c8\u06c6]")  # ې ۈ ۆ: Uyghur letters Kazakh does not use


@dataclass(frozen=True, slots=True)
class Detection:
    lang: str
    confidence: float


def _cld2(sample: str) -> Detection | None:
    """CLD2's answer when it is sure (reliable, 90%+ of the text) and among the candidates:
    ~50 µs for 600 characters against ~350 µs for py3langid; paragraphs only, since CLD2
    is weak on short Latin-script headlines (docs/benchmarks/language-detection.md)."""
    try:
        reliable, _, details = pycld2.detect(sample[:MODEL_CHARS], bestEffort=True)
    except (pycld2.error, ValueError):  # invalid UTF-8 and the like: the model decides
        return None
    _, code, percent, _ = details[0]
    code = _CLD2_CODES.get(code, code)
    if not reliable or percent < 90 or code not in _CANDIDATE_SET:
        return None
    return Detection(code, round(percent / 100, 4))


@lru_cache(maxsize=1)
def _identifier() -> LanguageIdentifier:
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages([c for c in CANDIDATES if c in identifier.nb_classes])
    return identifier


def _share(pattern: re.Pattern[str], text: str, letters: Callable[[], int]) -> bool:
    """The letters are part of the text's language, not one quoted name: a Russian article
    mentioning «Тоқаев» twice has 0.5% Kazakh letters, Kazakh text 4-6%."""
    found = len(pattern.findall(text))
    if not found:
        return False
    total = letters()
    return total < 100 or found / total >= MIN_LETTER_SHARE


def _by_letters(text: str, guess: str) -> str | None:
    """A language that letters prove, where the model confused neighbours."""

    @lru_cache(maxsize=1)
    def letters() -> int:  # counted only when a decisive letter occurs at all
        return len(_LETTER.findall(text))

    if _share(_KK_CYRILLIC, text, letters) or (
        guess in ("ru", "bg", "uk") and _share(_KK_SOFT, text, letters)
    ):
        return "kk"
    if _share(_UK, text, letters):
        return "uk"
    if _share(_BE, text, letters):
        return "be"
    if guess not in ("lv", "lt") and _KK_LATIN.search(text):
        return "kk"
    if (
        guess in _KK_LATIN_NEIGHBOURS
        and _Q_OR_DOTLESS.search(text)
        and _share(_Y_VOWEL, text, letters)
    ):
        return "kk"
    if (guess == "ug" and not _UG_ONLY.search(text)) or _KK_ARABIC.search(text):
        return "kk"
    return None


def _answer(sample: str, lang: str, prob: float, hint: str | None) -> Detection:
    """The model's choice, corrected by letters, or `und` when it is unsure."""
    if hint is not None and hint in _SAME_LANGUAGE.get(lang, ()):
        lang = hint  # one language in two standards: the model cannot tell, the feed can
    proven = _by_letters(sample, lang)
    if proven and proven != lang:
        return Detection(proven, round(max(prob, 0.9), 4))
    if prob < MIN_CONFIDENCE:
        return Detection(UNDETERMINED, round(prob, 4))
    return Detection(lang, round(prob, 4))


def detect_language(text: str, hint: str | None = None) -> Detection:
    """Detect the language of `text`; the hint nudges close calls, it is never the answer."""
    sample = text.strip()[:2000]
    if not _THREE_LETTERS.search(sample):
        return Detection(UNDETERMINED, 0.0)
    fast = _cld2(sample) if len(sample) >= FAST_MIN_CHARS else None
    if fast is not None:
        return Detection(_by_letters(sample, fast.lang) or fast.lang, fast.confidence)
    hint = (hint or "").split("-")[0].lower() or None
    if len(sample.split(None, SHORT_WORDS)) <= SHORT_WORDS:
        return _short(sample, hint)
    # The model's cost grows with the text; 600 characters decide as well as 2,000 on the
    # labeled set (100% of long items either way), the letter rules still see 2,000.
    ranked = _identifier().rank(sample[:MODEL_CHARS])
    if hint:
        ranked = [(lang, p + HINT_WEIGHT if lang == hint else p) for lang, p in ranked]
        total = sum(p for _, p in ranked) or 1.0
        ranked = sorted(((lang, p / total) for lang, p in ranked), key=lambda x: -x[1])
    if str(ranked[0][0]) in ("sr", "mk") and not _SR_MK.search(sample):
        # Cyrillic without one Serbian or Macedonian letter: the model's guess is disproved.
        ranked = [r for r in ranked if str(r[0]) not in ("sr", "mk")] or ranked
    lang, prob = str(ranked[0][0]), float(ranked[0][1])
    return _answer(sample, lang, prob, hint)


@lru_cache(maxsize=1)
def _columns() -> tuple[dict[str, int], npt.NDArray[np.float64]]:
    """Each language's column in the model's scores, and the base-rate prior per column."""
    labels = [str(lang) for lang in _identifier().nb_classes]
    index: dict[str, int] = {}
    for i, lang in enumerate(labels):
        index.setdefault(lang, i)  # aliased columns: py3langid folds them into the first
    prior = np.array([evidence.prior(lang) for lang in labels], dtype=np.float64)
    return index, prior


def _short(sample: str, hint: str | None) -> Detection:
    """A headline: the model's probabilities weighed by function words, alphabet and hint.
    Weighted as one vector rather than through rank(): sorting every candidate and a Python
    pass over them made headlines 23% slower (docs/benchmarks/language-detection.md)."""
    identifier = _identifier()
    index, prior = _columns()
    # py3langid's normalised scores per column (private, pinned <0.5); rank() sorts them.
    scores = identifier._decide(sample[:MODEL_CHARS])
    scores *= prior
    weights = evidence.weights(sample)
    if hint:
        weights[hint] = weights.get(hint, 1.0) * HINT_FACTOR_SHORT
    for lang, factor in weights.items():
        column = index.get(lang)
        if column is not None:
            scores[column] *= factor
    best = int(scores.argmax())
    total = float(scores.sum())
    lang = str(identifier.nb_classes[best])
    prob = float(scores[best]) / total if total else 0.0
    return _answer(sample, lang, prob, hint)
