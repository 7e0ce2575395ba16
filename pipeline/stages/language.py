"""Language detection: ISO 639 code plus a confidence. pycld2 for reliable paragraphs, else
py3langid over every language its model knows (varieties folded into their macrolanguage);
headlines also weigh function words, alphabets and base rates (language_evidence.py), and
letters or words that prove one of several neighbours settle it (language_scripts.py). The
feed's hint is a prior, never the answer."""

from __future__ import annotations

import ast
import importlib.util
import lzma
import mmap
import os
import re
import struct
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

import pycld2

if TYPE_CHECKING:  # numpy and py3langid load with the first text CLD2 cannot settle
    # (~0.15 s of a process's start; most paragraphs never need them)
    import numpy as np
    import numpy.typing as npt
    from py3langid.langid import LanguageIdentifier

    from pipeline._native import NaiveBayes

from pipeline.cache import cache_path, write_atomically
from pipeline.native import native
from pipeline.stages import language_evidence as evidence
from pipeline.stages import language_pairs as pairs
from pipeline.stages.language_scripts import SH as _SH
from pipeline.stages.language_scripts import settle, undecided_standard

UNDETERMINED = "und"
# Below this normalised probability the answer is reported as `und`.
MIN_CONFIDENCE = 0.2
# The confidence of a Serbian or Croatian answer nothing in the text decides
UNDECIDED_STANDARD = 0.5
# How much probability mass the hint adds before renormalising: enough to settle a
# close call between neighbours (ru/uk/bg), never enough to override clear evidence.
HINT_WEIGHT = 0.15
# No short list decides what can be answered (issue 14: restricted to ~50 languages, Irish,
# Maltese and Turkmen could not be answered at all). The one rule: py3langid's regional and
# historical varieties are answered as their ISO 639-3 macrolanguage or modern language
# (Egyptian Arabic as ar, Wu and Cantonese as zh, Southern Uzbek as uz), zxx (no language)
# as `und`. Unrestricted py3langid answered wuu for Chinese headlines before this fold.
FOLD = {
    "arz": "ar",
    "ary": "ar",
    "wuu": "zh",
    "yue": "zh",
    "uzs": "uz",
    "sdh": "ku",
    "hbo": "he",
    "grc": "el",
    "zxx": UNDETERMINED,
}
# Up to this many words the n-gram model alone is unsure (names-only headlines come out sr,
# et or ku): function words, alphabets and a stronger hint weigh in (_short).
SHORT_WORDS = 15
# The hinted language's probability is multiplied by this in a short text: it settles
# names-only headlines, yet a language the text rules out (another script, a letter its
# alphabet lacks) stays near zero.
HINT_FACTOR_SHORT = 5.0
# Feeds' codes the detector answers otherwise: Bokmål and Nynorsk as Norwegian, the old
# codes of Hebrew and Indonesian (a Norwegian feed declaring nb counted as no hint)
_HINT_CODES = {"nb": "no", "nn": "no", "iw": "he", "in": "id"}
# Standards of one language the model confuses (Malay and Indonesian); the hint picks.
_SAME_LANGUAGE = {"ms": ("id",), "id": ("ms",)}
# CLD2 is weak on short text (dev headlines: 34 of 412 reliable answers wrong), right on
# paragraphs (11 of 406 wrong, all Kazakh Latin or Serbo-Croatian, which settle() corrects).
FAST_MIN_CHARS = 200
# ...except for Tajik, which the n-gram model reads as Russian where no Tajik letter occurs:
# CLD2's reliable Tajik answers on the eval sets' headlines, 117, were all right.
_CLD2_TRUSTED_SHORT = ("tg",)
_CLD2_CODES = {"zh-Hant": "zh", "iw": "he", "jw": "jv"}
_THREE_LETTERS = re.compile(r"[^\W\d_](?:.*?[^\W\d_]){2}", re.DOTALL)
MODEL_CHARS = 600
_SR_MK = re.compile("[ђјљњћџѓќѕЂЈЉЊЋЏЃЌЅ]")  # Serbian/Macedonian letters Russian lacks
_CYRILLIC = re.compile("[\u0400-\u04ff]")


def _three_letters(sample: str) -> bool:
    """`_THREE_LETTERS.search(sample)`, as a bool (a unit test compares them): most samples
    start with a word of three letters, and every character str.isalpha takes is a letter
    to `re` ([^\\W\\d_]), so those need no search (~7,000 instructions each, 2,400 a corpus)."""
    return (len(sample) >= 3 and sample[:3].isalpha()) or bool(_THREE_LETTERS.search(sample))


@dataclass(frozen=True, slots=True)
class Detection:
    lang: str
    confidence: float


def _cld2(sample: str, best_effort: bool = False) -> Detection | None:
    """CLD2's answer when it is sure (reliable, 90%+ of the text): ~20 µs for 600 characters
    against 1-3 ms for unrestricted py3langid; paragraphs only, since CLD2 is weak on short
    Latin-script headlines (docs/benchmarks/language-detection.md). Its best effort, which
    answers where it would not, only for headlines the model is unsure of: on paragraphs of
    the development sets 44 of its 53 extra answers were wrong (a Spanish football lead
    "reliably" English, Kazakh Latin as Turkmen or Tatar)."""
    try:
        # plain text: the sample is cleaned text, and in its default HTML mode CLD2 skips
        # whatever follows a lone "<" (a paragraph with "x < y" or "<<" for guillemets was
        # read from its first words alone)
        reliable, _, details = pycld2.detect(
            sample[:MODEL_CHARS], isPlainText=True, bestEffort=best_effort
        )
    except (pycld2.error, ValueError):  # invalid UTF-8 and the like: the model decides
        return None
    _, code, percent, _ = details[0]
    code = _CLD2_CODES.get(code, code)
    if not reliable or percent < 90 or code in ("un", "xx"):
        return None
    return Detection(code, round(percent / 100, 4))


def _unpacked_model() -> tuple[Path, Path | None]:
    """py3langid's packed model and its unpacked copy kept between processes
    (pipeline/cache.py), made if missing: unpacking its 68 MB from LZMA took 0.31 s of the
    first undecided text's 0.44 s. None where no copy can be kept. Found without importing
    py3langid.langid, which imports numpy."""
    spec = importlib.util.find_spec("py3langid")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("py3langid is not installed")
    source = Path(next(iter(spec.submodule_search_locations))) / "data" / "model.npz.xz"
    unpacked = cache_path("py3langid-model", source, ".npz")
    if unpacked is not None and not unpacked.exists():
        with lzma.open(source) as stream:
            write_atomically(unpacked, stream)  # type: ignore[arg-type]
    return source, unpacked


@lru_cache(maxsize=1)
def _identifier() -> LanguageIdentifier:
    """py3langid's model, from the unpacked copy kept between processes."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    _, unpacked = _unpacked_model()
    if unpacked is not None:
        try:
            return _from_npz(unpacked)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):  # a broken copy: the
            # package's own path
            pass
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


# .npy element types the native scorer reads, as memoryview formats
_FORMATS = {"<u4": "I", "<u2": "H", "<i4": "i", "<f4": "f"}


def _npy_header(stream: BinaryIO) -> tuple[str, tuple[int, ...]]:
    """The element type and shape of the .npy array at the stream's position, which is
    left at its first byte (numpy's format, read without numpy)."""
    magic = stream.read(8)
    if magic[:6] != b"\x93NUMPY" or magic[6] not in (1, 2, 3):
        raise ValueError("not a .npy array")
    size_format = "<H" if magic[6] == 1 else "<I"
    (size,) = struct.unpack(size_format, stream.read(struct.calcsize(size_format)))
    header = ast.literal_eval(stream.read(size).decode("latin1"))
    if not isinstance(header, dict) or header.get("fortran_order") is not False:
        raise ValueError("not a C-ordered array")
    return str(header["descr"]), tuple(header["shape"])


def _npz_members(path: Path) -> dict[str, tuple[str, tuple[int, ...], int]]:
    """Each stored array of an uncompressed .npz: element type, shape, and where its data
    starts in the file."""
    members = {}
    with zipfile.ZipFile(path) as archive, path.open("rb") as stream:
        for info in archive.infolist():
            if info.compress_type != zipfile.ZIP_STORED or not info.filename.endswith(".npy"):
                continue
            stream.seek(info.header_offset)
            local = stream.read(30)  # the local file header; its name and extra field follow
            if local[:4] != b"PK\x03\x04":
                raise ValueError(f"{info.filename}: no local header")
            name_size, extra_size = struct.unpack("<HH", local[26:30])
            stream.seek(info.header_offset + 30 + name_size + extra_size)
            descr, shape = _npy_header(stream)
            members[info.filename[: -len(".npy")]] = (descr, shape, stream.tell())
    return members


def _view(mapped: mmap.mmap, member: tuple[str, tuple[int, ...], int]) -> memoryview[Any]:
    """A mapped array's elements, as a flat memoryview of their type."""
    descr, shape, offset = member
    fmt = _FORMATS.get(descr)
    if fmt is None:
        raise ValueError(f"unexpected element type {descr}")
    count = 1
    for dim in shape:
        count *= dim
    size = count * struct.calcsize(fmt)
    if offset + size > len(mapped):
        raise ValueError("the file is shorter than its arrays")
    if offset % struct.calcsize(fmt):  # .npz members lie where the archive put them: the
        # small ones unaligned are copied, the large ones (aligned here) mapped in place
        return memoryview(mapped[offset : offset + size]).cast(fmt)  # type: ignore[call-overload,no-any-return]
    return memoryview(mapped)[offset : offset + size].cast(fmt)  # type: ignore[call-overload,no-any-return]


def _labels(mapped: mmap.mmap, member: tuple[str, tuple[int, ...], int]) -> list[str]:
    """A mapped array of fixed-width strings ('<U3': UTF-32 code units) as a list."""
    descr, shape, offset = member
    if not descr.startswith("<U") or len(shape) != 1:
        raise ValueError(f"unexpected labels {descr}")
    width = int(descr[2:]) * 4
    raw = mapped[offset : offset + width * shape[0]]
    return [
        raw[i : i + width].decode("utf-32-le").rstrip("\x00") for i in range(0, len(raw), width)
    ]


@lru_cache(maxsize=1)
def _native_model() -> tuple[NaiveBayes, list[str], dict[str, int], list[str]] | None:
    """The native scorer (native/src/nbscore.rs) over the unpacked model and its float32
    table, both memory-mapped, with its answers, their indexes (_fold) and the model's
    labels. numpy is never imported: that took ~320 M instructions, 3 % of the enrich
    benchmark, in every process that met one text CLD2 could not settle. None without the
    native module, an unpacked copy or the table's copy (whose first writing still takes
    numpy), or where they cannot be read: the numpy path decides."""
    if native is None:
        return None
    _, unpacked = _unpacked_model()
    if unpacked is None:
        return None
    table_path = cache_path("py3langid-ptc32", unpacked, ".npy")
    try:
        if table_path is None:
            return None
        if not table_path.exists():
            _class_table(unpacked)  # writes the copy (numpy, once per cache)
        members = _npz_members(unpacked)
        with unpacked.open("rb") as stream:
            model = mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)
        with table_path.open("rb") as stream:
            table_file = mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)
            descr, shape = _npy_header(stream)
            table = _view(table_file, (descr, shape, stream.tell()))
        labels = _labels(model, members["classes"])
        if descr != "<f4" or members["ptc"][1] != shape or shape[1:] != (len(labels),):
            return None
        walk = native.NgramWalk(
            _view(model, members["nextmove"]),
            _view(model, members["nextmove_row"]),
            _view(model, members["out_feat"]),
        )
        answers, index, fold, prior = _fold(labels)
        first: dict[str, int] = {}
        aliases = [(first[c], i) for i, c in enumerate(labels) if first.setdefault(c, i) != i]
        pc = _view(model, members["pc"])
        scorer = native.NaiveBayes(walk, table, pc, aliases, fold, prior)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, TypeError, BufferError):
        return None
    return scorer, answers, index, labels


def _from_npz(path: Path) -> LanguageIdentifier:
    """What py3langid.modelio.load_model does once the LZMA layer is off (py3langid pinned
    below 0.5; a unit test compares both identifiers' scores). Its two large arrays (67 of
    68 MB) are mapped from the file, not read: the scores read a few thousand rows, and
    reading all took 0.3 s of CPU in every process that met an undecided text. With the
    native module the automaton is walked there (language_ngrams.py)."""
    import numpy as np
    from py3langid.langid import LanguageIdentifier
    from py3langid.modelio import _to_array

    with np.load(path, allow_pickle=False) as data:
        if native is not None:
            from pipeline.stages.language_ngrams import NativeWalkIdentifier

            walk = native.NgramWalk(
                _mapped(path, "nextmove"), data["nextmove_row"], data["out_feat"]
            )
            return NativeWalkIdentifier(
                walk, _class_table(path), np.asarray(data["pc"]), data["classes"].tolist()
            )
        return LanguageIdentifier(
            _class_table(path),  # rows copied out by fancy indexing: the same numbers
            np.asarray(data["pc"]),
            data["classes"].tolist(),
            _mapped(path, "nextmove").data,  # a memoryview, indexed element by element
            data["out_feat"].tolist(),
            norm_probs=True,
            tk_row=_to_array(data["nextmove_row"]),
        )


def _class_table(path: Path) -> npt.NDArray[Any]:
    """The model's feature-by-language table, as float32 from a copy kept beside the
    unpacked model. py3langid keeps it in float16, and its product with a text's float32
    counts first casts the rows it read to float32 (exactly: every float16 is a float32),
    then runs the float32 product: the same product of the same numbers as with a float32
    table (the scores of 16,700 eval and corpus texts compared bit for bit), without
    converting ~400,000 numbers per text (~1 % of the enrich benchmark's instructions).
    The float16 table where the copy cannot be made or read."""
    import numpy as np

    half = _mapped(path, "ptc")
    copy = cache_path("py3langid-ptc32", path, ".npy")
    if half.dtype != np.float16 or copy is None:
        return half
    if not copy.exists():
        tmp = copy.with_name(f"{copy.name}.{os.getpid()}.tmp")
        try:
            with tmp.open("wb") as out:
                np.lib.format.write_array(out, np.asarray(half, dtype=np.float32))
            os.replace(tmp, copy)  # a reader never sees half a file
        except OSError:
            tmp.unlink(missing_ok=True)
            return half
    try:
        table: npt.NDArray[Any] = np.load(copy, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError):
        return half
    if table.dtype != np.float32 or table.shape != half.shape:
        return half
    return table


def _mapped(path: Path, name: str) -> npt.NDArray[Any]:
    """An array of an uncompressed .npz, memory-mapped where it lies in the file."""
    import numpy as np

    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(f"{name}.npy")
    if info.compress_type != zipfile.ZIP_STORED:
        raise ValueError(f"{name} is compressed")
    with path.open("rb") as stream:
        stream.seek(info.header_offset)
        local = stream.read(30)  # the local file header; its name and extra field follow
        if local[:4] != b"PK\x03\x04":
            raise ValueError(f"{name}: no local header")
        name_size, extra_size = struct.unpack("<HH", local[26:30])
        stream.seek(info.header_offset + 30 + name_size + extra_size)
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
        offset = stream.tell()
    if dtype.hasobject:
        raise ValueError(f"{name} holds objects")
    order: Literal["C", "F"] = "F" if fortran else "C"
    mapped: npt.NDArray[Any] = np.memmap(
        path, dtype=dtype, mode="r", offset=offset, shape=shape, order=order
    )
    return mapped


def _fold(labels: list[str]) -> tuple[list[str], dict[str, int], list[int], list[float]]:
    """The answers (model languages, folded), each language's output index, the output index
    of each model column, and the base-rate prior per column."""
    answers: list[str] = []
    index: dict[str, int] = {}
    for lang in labels:
        lang = FOLD.get(lang, lang)
        if lang not in index:  # aliased columns (sr, uz twice) and folded ones add up
            index[lang] = len(answers)
            answers.append(lang)
    fold = [index[FOLD.get(lang, lang)] for lang in labels]
    prior = [evidence.prior(lang) for lang in labels]
    return answers, index, fold, prior


@lru_cache(maxsize=1)
def _columns() -> tuple[list[str], dict[str, int], npt.NDArray[np.intp], npt.NDArray[np.float64]]:
    """_fold of py3langid's own identifier's labels, as numpy arrays (the numpy path)."""
    import numpy as np

    answers, index, fold, prior = _fold([str(lang) for lang in _identifier().nb_classes])
    return answers, index, np.array(fold, dtype=np.intp), np.array(prior, dtype=np.float64)


def _encode(text: str) -> bytes:
    """py3langid's LanguageIdentifier._encode of a str (pinned <0.5): the bytes it scores."""
    if text.isupper():
        text = text.lower()
    return unicodedata.normalize("NFC", text).encode("utf8", errors="surrogatepass")


def _folded(sample: str, short: bool) -> tuple[list[str], dict[str, int], Any]:
    """The answers, their indexes, and py3langid's normalised scores over every language
    (private _decide, pinned <0.5), a headline's weighed by base rates, summed per answer:
    natively where the native scorer loads (a list), else with numpy (an array)."""
    model = _native_model()
    if model is not None:
        scorer, answers, index, _ = model
        return answers, index, scorer.folded(_encode(sample[:MODEL_CHARS]), short)
    import numpy as np

    answers, index, fold, prior = _columns()
    scores = _identifier()._decide(sample[:MODEL_CHARS])
    if short:
        scores = scores * prior
    return answers, index, np.bincount(fold, weights=scores, minlength=len(answers))


def _total(folded: Any) -> float:
    """numpy's sum of the folded scores, in its order, for a list or an array."""
    if isinstance(folded, list):
        assert native is not None  # lists come from the native scorer only
        return float(native.float_sum(folded))
    return float(folded.sum())


def _best(folded: Any) -> int:
    """The first highest column (numpy's argmax)."""
    if isinstance(folded, list):
        return folded.index(max(folded))
    return int(folded.argmax())


def _scores(
    sample: str, short: bool, hint: str | None
) -> tuple[str, float, Callable[[str], float]]:
    """py3langid's normalised scores over every language, folded into answers (_folded). A
    headline's scores are weighed by function words, alphabet, base rate and a
    multiplicative hint; a paragraph's hint adds."""
    answers, index, folded = _folded(sample, short)
    if short:
        weights = evidence.weights(sample)
        if hint:
            weights[hint] = weights.get(hint, 1.0) * HINT_FACTOR_SHORT
        for lang, factor in weights.items():
            column = index.get(lang)
            if column is not None:
                folded[column] *= factor
    elif hint and hint in index:
        folded[index[hint]] += HINT_WEIGHT * _total(folded)
    und = index.get(UNDETERMINED)
    if und is not None:
        folded[und] *= 0.5  # "no language" only where no language scores at all
    if not short and _CYRILLIC.search(sample) and not _SR_MK.search(sample):  # short: no search
        # A Cyrillic paragraph without one Serbian or Macedonian letter is neither.
        for lang in ("sr", "mk"):
            folded[index[lang]] *= 0.01
    best = _best(folded)
    total = _total(folded)
    total = total or 1.0

    def share(lang: str) -> float:  # another language's probability, asked only when unsure
        column = index.get(lang)
        return float(folded[column]) / total if column is not None else 0.0

    return answers[best], float(folded[best]) / total, share


def _answer(sample: str, lang: str, prob: float, hint: str | None) -> Detection:
    """The detector's choice, settled by letters, or `und` when it is unsure."""
    if hint is not None and hint in _SAME_LANGUAGE.get(lang, ()):
        lang = hint  # one language in two standards: the model cannot tell, the feed can
    proven = settle(sample, lang, hint)
    if proven and proven != lang:
        lang, prob = _neighbour(sample, proven, hint), max(prob, 0.9)
    elif prob < MIN_CONFIDENCE or lang == UNDETERMINED:
        return Detection(UNDETERMINED, round(prob, 4))
    else:
        lang = _neighbour(sample, lang, hint)
    if lang in ("hr", "sr") and hint not in _SH and undecided_standard(sample):
        # Serbian or Croatian Latin with no word of either standard: the answer is the
        # likelier one (Croatian, on the development sets), not a sure one
        prob = min(prob, UNDECIDED_STANDARD)
    return Detection(lang, round(prob, 4))


def _neighbour(sample: str, lang: str, hint: str | None) -> str:
    """`lang`, or the neighbouring standard its words make ten times as likely (the feed's
    declared language is never overruled so)."""
    if lang == hint or not pairs.has_neighbours(lang, paragraph=len(sample) >= FAST_MIN_CHARS):
        return lang
    other = pairs.neighbour(sample, lang)
    if other is None:
        return lang
    return settle(sample, other, hint) or other  # Croatian may yet prove Serbian


def detect_language(text: str, hint: str | None = None) -> Detection:
    """Detect the language of `text`; the hint nudges close calls, it is never the answer."""
    sample = text.strip()[:2000]
    if not _three_letters(sample):
        return Detection(UNDETERMINED, 0.0)
    hint = (hint or "").split("-")[0].lower() or None
    hint = _HINT_CODES.get(hint, hint) if hint else None
    fast = _cld2(sample) if len(sample) >= FAST_MIN_CHARS else None
    if fast is not None:
        return _answer(sample, fast.lang, fast.confidence, hint)
    if len(sample) < FAST_MIN_CHARS and hint in (None, *_CLD2_TRUSTED_SHORT):
        trusted = _cld2(sample) if _CYRILLIC.search(sample) else None
        if trusted is not None and trusted.lang in _CLD2_TRUSTED_SHORT:
            return _answer(sample, trusted.lang, trusted.confidence, hint)
    short = len(sample.split(None, SHORT_WORDS)) <= SHORT_WORDS
    lang, prob, second = _scores(sample, short, hint)
    if prob < MIN_CONFIDENCE and fast is None and len(sample) < FAST_MIN_CHARS:
        # The model is unsure: CLD2 decides if it is sure of a language the model ranks
        # close (an Estonian headline of names: py3langid 0.17 et, CLD2 et reliable).
        other = _cld2(sample, best_effort=True)
        if other is not None and second(other.lang) >= prob / 2:
            return _answer(sample, other.lang, max(prob, MIN_CONFIDENCE), hint)
    return _answer(sample, lang, prob, hint)
