"""Tokens and their normalized forms per language (lemmas, stems), so that one configured
term ("Сирия", "Astana talks") covers its inflected forms (Сирии, Сирией; Astana's)."""

from __future__ import annotations

import gc
import importlib
import os
import re
import sys
import threading
import unicodedata
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial
from itertools import compress
from typing import Any, NamedTuple

from pipeline.lazy_re import LazyPattern
from pipeline.native import native
from pipeline.stages import mapped_dawgs, term_cache


class CharClass:
    """One class of characters, `members` written as inside a regex's brackets (single
    characters and "a-z" ranges, no escapes: the Python str's own characters), and whether
    a str holds one of them: `holds(text)` is `re.search(self.pattern, text) is not None`.

    The native module scans the str's stored characters (native/src/charclass.rs), a few
    instructions a character where `re` took ~40-90 outside ASCII (a charset test per
    character), and answers a str stored one byte a character (PEP 393: none above
    U+00FF) without a look when the class holds nothing below U+0100. The tokenizer and the
    tagger ask this of ~57,000 new words and "\\x00"-joined texts of the benchmark corpus:
    with the native scan (and `_abbreviation_tail`, `_cut_all`) its `mediamon enrich` takes
    10.26 -> 10.09 G instructions (the Greek search of fold_all's joined words alone cost
    ~30 M in `re`). Without the
    native module an ASCII str is told by `isascii` (O(1)) for such a class, any other
    searched. tests/unit/test_native.py compares `holds` with the regex on every code point."""

    __slots__ = ("_above_latin1", "_search", "findall", "holds", "pattern")

    holds: Callable[[str], bool]

    def __init__(self, members: str) -> None:
        ranges = _class_ranges(members)
        self.pattern = "[" + "".join(map(_class_range, ranges)) + "]"
        compiled = re.compile(self.pattern)
        self._search = compiled.search
        self.findall = compiled.findall
        self._above_latin1 = min(first for first, _ in ranges) > 0xFF
        self.holds = native.CharClass(ranges).holds if native is not None else self.holds_python

    def holds_python(self, text: str) -> bool:
        """`holds` without the native module (and what tests compare it with)."""
        if self._above_latin1 and text.isascii():
            return False
        return self._search(text) is not None


def _class_ranges(members: str) -> list[tuple[int, int]]:
    """A CharClass's members as (first, last) code points; ValueError for what a regex
    class would read otherwise (escapes, negation, brackets, a "-" that is no range's)."""
    ranges: list[tuple[int, int]] = []
    at = 0
    while at < len(members):
        span = 3 if members[at + 1 : at + 2] == "-" and at + 2 < len(members) else 1
        first, last = members[at], members[at + span - 1]
        if first in "\\[]^-" or last in "\\[]^-" or first > last:
            raise ValueError(f"not a class of characters and ranges: {members!r}")
        ranges.append((ord(first), ord(last)))
        at += span
    if not ranges:
        raise ValueError("an empty class of characters")
    return ranges


def _class_range(first_last: tuple[int, int]) -> str:
    """One range of a CharClass in its regex, each end an escape (any code point)."""
    first, last = first_last
    if first == last:
        return f"\\U{first:08x}"
    return f"\\U{first:08x}-\\U{last:08x}"


# Words; apostrophes and hyphens split (Suriye'de -> Suriye + de, UN-Sicherheitsrat ->
# UN + Sicherheitsrat, d'Astana -> d + Astana), consistently for terms and for text. Hebrew
# writes abbreviations with a gershayim (or a plain quote) between letters: האו"ם is one word.
_HEBREW_QUOTE = r"(?<=[\u05d0-\u05ea])[\"\u05f4\u05f3'](?=[\u05d0-\u05ea])"
_WORD = re.compile(rf"(?:[^\W_]|{_HEBREW_QUOTE})+", re.UNICODE)
_SPLIT = LazyPattern(rf"((?:[^\W_]|{_HEBREW_QUOTE})+)")
# Without a Hebrew letter the quote never joins: the plain pattern is twice as fast.
_SPLIT_PLAIN = LazyPattern(r"([^\W_]+)")
_HEBREW_LETTER = LazyPattern(r"[\u05d0-\u05ea]")
# Letters of the scripts that fold() treats specially (Greek, Hebrew, Arabic).
_SPECIAL_SCRIPTS = CharClass("\u0370-\u03ff\u1f00-\u1fff\u0590-\u06ff")
_ARABIC_SCRIPT = CharClass("\u0600-\u06ff")
_ARABIC_MARKS = LazyPattern(r"[\u064b-\u065f\u0670\u0640]")  # harakat, dagger alef, tatweel
# Arabic clitics written attached: wa-/fa- (and), bi-/li-/ka- (with/for/like), al- (the).
# A choice of strings ends in an empty one where `(?:...)?` would do: the same greedy
# match, without the repeat that `?` of a group makes `re` set up (it allocates) at each
# attempt. tests/unit/test_token_patterns.py compares these with the `?` forms.
_ARABIC_PREFIX = re.compile(r"^[وف]?[بلك]?(?:ال|لل|)")
# Hebrew: ve- (and), she- (that), then be-/le-/ke-/mi- (in/to/as/from), then ha- (the).
_HEBREW_PREFIX = re.compile(r"^ו?ש?(?:כש|ב|ל|כ|מ|)ה?")
# The same after every "\x00" of "\x00"-joined words (`_cut_all` puts one before the first):
# a literal first character, which `re` finds by a plain scan, where a match attempt at
# every position of the text (`(?:^|(?<=\x00))`) cost ~17 M instructions over the
# benchmark corpus's Arabic articles (34 -> 16 M).
_ARABIC_PREFIX_ALL = re.compile(r"\x00[وف]?[بلك]?(?:ال|لل|)")
_HEBREW_PREFIX_ALL = re.compile(r"\x00ו?ש?(?:כש|ב|ל|כ|מ|)ה?")
_HEBREW_MARKS = LazyPattern(r"[\u0591-\u05c7\"\u05f4\u05f3']")  # niqqud, cantillation, quotes
_HEBREW_SCRIPT = CharClass("\u0590-\u05ff")
_GREEK_SCRIPT = CharClass("\u0370-\u03ff\u1f00-\u1fff")
# The same, and the one character that lowers into Greek: the ohm sign (to ω)
_GREEK_LOWERED = CharClass("\u0370-\u03ff\u1f00-\u1fff\u2126")
_CYRILLIC = CharClass("\u0400-\u04ff")
_LATIN = CharClass("a-zA-Z")
# Latin letters that look like Cyrillic ones, for words typed with one of each (ООН with a
# Latin H or O): the word is read in the script of its other letters.
_LATIN_TO_CYRILLIC = str.maketrans("AaBCcEeHKkMOoPpTXxyiIJj", "АаВСсЕеНКкМОоРрТХхуіІЈј")
_CYRILLIC_TO_LATIN = str.maketrans("АаВСсЕеНКкМОоРрТХхуіІЈј", "AaBCcEeHKkMOoPpTXxyiIJj")
_VOWELS = frozenset("aeiouyáéíóúýàèìòùâêîôûäëïöüåæøœāēīōūăĕıəаеёиоуыэюяіїєөүұәიეაოუაեէըիոօ")
_SNOWBALL = {
    "en": "english",
    "fr": "french",
    "de": "german",
    "tr": "turkish",
    "es": "spanish",
    "it": "italian",
    "pt": "portuguese",
    "nl": "dutch",
    "ar": "arabic",
    "fa": "persian",
    "ro": "romanian",
    "pl": "polish",
    "sv": "swedish",
    "da": "danish",
    "no": "norwegian",
    "nb": "norwegian",
    "fi": "finnish",
    "et": "estonian",
    "hu": "hungarian",
    "lt": "lithuanian",
    "cs": "czech",
    "el": "greek",
    "ga": "irish",
    "id": "indonesian",
    "ms": "indonesian",
    "sr": "serbian",
    "hr": "serbian",
    "bs": "serbian",
    "hy": "armenian",
    "hi": "hindi",
    "ca": "catalan",
    "eu": "basque",
}
# How many letters an inflected word may carry beyond a name's base (the name without its
# final vowel): case endings and possessives are short in Romance and Germanic languages,
# longer in Slavic and Baltic ones, longest in agglutinative ones (Suriyadagi, Szíriában,
# Syyriassakin). Languages not listed get DEFAULT_SUFFIX.
_SUFFIX = {
    **dict.fromkeys(["en", "fr", "es", "it", "pt", "ro", "ca", "nl", "de", "sv", "da", "no"], 2),
    **dict.fromkeys(["nb", "ga", "mt", "id", "ms", "lb"], 2),
    "el": 4,  # Snowball's Greek stems Συμβούλιο and Συμβουλίου apart
    **dict.fromkeys(["ru", "uk", "be", "bg", "mk", "sr", "hr", "bs", "sl", "sk", "cs", "pl"], 4),
    **dict.fromkeys(["lv", "lt", "ar", "fa", "ur", "he", "hi", "hy"], 4),
    **dict.fromkeys(["tr", "az", "kk", "ky", "uz", "tk", "tt", "ba", "tg", "ug", "mn"], 6),
    **dict.fromkeys(["fi", "et", "hu", "ka", "ko", "ja", "eu"], 6),
}
DEFAULT_SUFFIX = 3
MIN_BASE = 4  # shorter names match as written only (Hama must not find Hamas)
# A Hangul syllable is a whole consonant-vowel(-consonant) group: 시리아 (3) is as long a
# name as "Siria", and Korean particles attach to it (시리아에서, 유엔은).
_HANGUL = CharClass("\uac00-\ud7a3")
MIN_BASE_HANGUL = 2
# Russian-style surnames in Turkic and Tajik Cyrillic text: Асадов is a person, not Асад
# with an ending (those languages' own endings never begin so).
_SURNAME_TAIL = LazyPattern(r"^(?:ов|ев|ёв|ова|ева|ович|евич|овна|евна)")
_SURNAME_LANGS = frozenset({"kk", "ky", "uz", "tk", "tg", "tt", "ba"})


_BALTIC = frozenset({"lv", "lt"})
_BALTIC_NOMINATIVE = LazyPattern(r"(?<=\w\w\w)[sš]$")


def _min_base(word: str) -> int:
    return MIN_BASE_HANGUL if _HANGUL.holds(word) else MIN_BASE


# Languages that write compounds as one word: a name also counts at a compound's start
# or inside it (Syrienkrieg, Nordsyrien, FN-styrkorna is split at the hyphen anyway).
COMPOUNDING = frozenset({"de", "nl", "sv", "da", "no", "nb", "nn", "lb", "is", "af", "fi", "et"})
# Scripts without spaces between words: a name counts anywhere inside a run of letters.
SPACELESS = frozenset({"zh", "ja", "th", "lo", "km", "my"})

# Kazakh has no Snowball stemmer: the case, plural and possessive endings that news text puts
# on names, longest first (Астанада, Сирияның, келіссөздері).
_KK_SUFFIXES = sorted(
    {
        "дағы",
        "дегі",
        "тағы",
        "тегі",
        "ндағы",
        "ндегі",
        "ның",
        "нің",
        "дың",
        "дің",
        "тың",
        "тің",
        "ға",
        "ге",
        "қа",
        "ке",
        "на",
        "не",
        "ны",
        "ні",
        "ды",
        "ді",
        "ты",
        "ті",
        "да",
        "де",
        "та",
        "те",
        "нда",
        "нде",
        "дан",
        "ден",
        "тан",
        "тен",
        "нан",
        "нен",
        "мен",
        "бен",
        "пен",
        "лар",
        "лер",
        "дар",
        "дер",
        "тар",
        "тер",
        "сы",
        "сі",
        "ы",
        "і",
        "ларының",
        "лерінің",
        "лары",
        "лері",
        "дары",
        "дері",
        "тары",
        "тері",
    },
    key=len,
    reverse=True,
)


MIN_STEM = 4


@dataclass(frozen=True, slots=True)
class Token:
    text: str  # as written
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    return [Token(m.group(0), m.start(), m.end()) for m in _WORD.finditer(text)]


def split(text: str) -> list[str]:
    """`text` as [gap, word, gap, word, ..., gap]: `[1::2]` are the texts of `tokenize(text)`,
    and the cumulative lengths give their offsets, without a Python object per token. The
    last texts are kept (see `split_offsets`): the tagger and SimHash split the same body
    (do not modify). The native split gives the same list in less than a third of the time
    (0.42 -> 0.15 s over the benchmark corpus's 2,400 bodies; ~0.12 s since it reads the
    str's stored characters instead of a UTF-8 copy)."""
    return split_offsets(text)[0]


@lru_cache(maxsize=4)
def split_offsets(text: str) -> tuple[list[str], bytes | None]:
    """`split(text)` and, with the native module, where each part begins (and the last
    one ends) as native.part_offsets gives them, found by the same scan: reading every
    part's length again cost ~150 M instructions over the benchmark corpus (~1 % of the
    process), ~30 M in the scan. The last texts are kept, the tagger's and SimHash's split
    of one body (do not modify)."""
    if native is not None:
        found: tuple[list[str], bytes] = native.split_offsets(text)  # (a plain module)
        return found
    return split_python(text), None


def split_python(text: str) -> list[str]:
    """`split` without the native module (and what tests compare it with)."""
    return (_SPLIT if _HEBREW_LETTER.search(text) else _SPLIT_PLAIN).split(text)


def fold(word: str) -> str:
    """Lowercase, ё->е, Arabic/Persian letter variants and diacritics unified; Greek accents
    and Hebrew points dropped (headlines in capitals drop them); Turkish İ read as i. The
    native module folds all but Greek and what NFC might change, which Python folds (the
    corpus's 2,400 bodies: 0.16 -> 0.12 s)."""
    if native is not None:
        try:
            folded: str | None = native.fold_plain(word)
        except UnicodeEncodeError:  # lone surrogates
            folded = None
        if folded is not None:
            return folded
    return fold_python(word)


def fold_python(word: str) -> str:
    """`fold` without the native module (and what tests compare it with)."""
    word = word.lower().replace("ё", "е")
    if "\u0307" in word:
        word = word.replace("i\u0307", "i")
    # Regexes, not a loop over characters: simhash folds whole bodies (36 -> 3 µs per body);
    # one search tells most texts that none of the scripts below occurs.
    if not _SPECIAL_SCRIPTS.holds(word):
        return unicodedata.normalize("NFC", word)
    if _ARABIC_SCRIPT.holds(word):
        word = _ARABIC_MARKS.sub("", word)
        word = word.replace("ي", "ی").replace("ى", "ی").replace("ك", "ک")
        word = word.replace("أ", "ا").replace("إ", "ا").replace("آ", "ا").replace("ة", "ه")
    if _GREEK_SCRIPT.holds(word):
        # two replace() calls: translate() looks every character up (0.29 -> 0.005 ms
        # for a 4 KB text; Japanese and Chinese texts with a Greek ω take this path too)
        word = unicodedata.normalize("NFD", word).replace("\u0301", "").replace("\u0308", "")
    if _HEBREW_SCRIPT.holds(word):
        word = _HEBREW_MARKS.sub("", word)
    return unicodedata.normalize("NFC", word)


def unconfuse(word: str) -> str:
    """A word written in two scripts, read in the script of most of its letters: Cyrillic
    ООН typed with a Latin H, a Latin word with a Cyrillic о (ties go to Cyrillic)."""
    # Cyrillic first: an ASCII or Latin-1 word (most) is told without a scan (CharClass)
    if not (_CYRILLIC.holds(word) and _LATIN.holds(word)):
        return word
    cyrillic = len(_CYRILLIC.findall(word))
    latin = len(_LATIN.findall(word))
    table = _LATIN_TO_CYRILLIC if cyrillic >= latin else _CYRILLIC_TO_LATIN
    return word.translate(table)


_ABBREVIATION_TAIL = re.compile(r"^(\w*?[A-ZА-ЯЁІЇЄҐҚҒҮҰҢӨҺӘ]{2,})([a-zа-яёіїєґқғүұңөһә]+|\d+)$")


def _abbreviation_tail(word: str) -> re.Match[str] | None:
    """`_ABBREVIATION_TAIL.match(word)`, not tried on a word that has no two upper-case
    letters in a row, which the match needs: all its cased letters lower case (`islower`),
    or each capital after an uncased character (`istitle`: "Syria"); most words are one or
    the other, and the lazy `\\w*?` tried the capitals at every position of them (~18 M
    instructions over the benchmark corpus)."""
    if word.islower() or word.istitle():
        return None
    return _ABBREVIATION_TAIL.match(word)


@lru_cache(maxsize=50_000)
def exact_keys(word: str, lang: str) -> tuple[str, ...]:
    """What a word may be, to case-sensitive terms: its spellings (see `spellings`); without
    trailing digits (COP29 -> COP); and, where the language attaches endings to
    abbreviations (Uzbek BMTning, Turkish BMde), the capitals before a lower-case ending."""
    keys = list(spellings(word))
    tail = _abbreviation_tail(word)
    if tail and (tail.group(2).isdigit() or suffix_room(lang) >= 6):
        keys += spellings(tail.group(1))
    if lang in _ABBREVIATIONS_INSIDE and not word.isascii():
        # Japanese and Chinese write no space around a Latin abbreviation (WFPが, 联合国WFP),
        # Korean none before its particle (WFP는): one token holds both
        keys += [k for k in _LATIN_CAPITALS.findall(word) if k != word]
    return tuple(keys)


_ABBREVIATIONS_INSIDE = SPACELESS | {"ko"}


def exact_keys_inside(words: list[str], lang: str) -> list[int]:
    """Which of `words` may have `exact_keys` other than beginnings of the word as written
    (spellings in the other script, Latin capitals inside): every other word's keys are
    the word, or its beginning before an ending or digits."""
    if lang in _ABBREVIATIONS_INSIDE:
        return [n for n, word in enumerate(words) if not word.isascii()]
    joined = "\x00".join(words)
    if not (_CYRILLIC.holds(joined) and _LATIN.holds(joined)):
        return []
    return [n for n, word in enumerate(words) if _CYRILLIC.holds(word) and _LATIN.holds(word)]


_LATIN_CAPITALS = re.compile(r"(?<![A-Za-z0-9])[A-Z][A-Z0-9]+(?![A-Za-z0-9])")


def spellings(word: str) -> tuple[str, ...]:
    """A word as written and, when it mixes Latin and Cyrillic, read wholly in either script:
    what case-sensitive terms (ООН, UN) are compared with."""
    if not (_CYRILLIC.holds(word) and _LATIN.holds(word)):
        return (word,)
    return (word, word.translate(_LATIN_TO_CYRILLIC), word.translate(_CYRILLIC_TO_LATIN))


@lru_cache(maxsize=4)
def _morph(lang: str) -> Any:
    # deferred on purpose: loading pymorphy3 and its dictionaries costs ~0.5 s, paid only by
    # a process that meets Russian or Ukrainian text
    import pymorphy3
    from pymorphy3.opencorpora_dict import storage

    # load_dict builds every tag of the dictionary from its string (5,532 in Russian, 4,074
    # in Ukrainian; ~1.2 % of the benchmark corpus's instructions), of which the corpus
    # meets ~250-330: it is handed none to build, and _Tags builds each as parses ask. The
    # swap lasts this constructor only, and the lock keeps another thread's first parse in
    # another language (a tagger built off the event loop) from loading meanwhile.
    tags: list[_Tags] = []
    with _MORPH_LOADING:
        load_gramtab = storage._load_gramtab

        def tags_later(meta: Any, gramtab_format: str, path: str) -> list[str]:
            tag_class = pymorphy3.tagset.registry[gramtab_format]  # load_dict's Tag, set up
            tags.append(_Tags(tag_class, load_gramtab(meta, gramtab_format, path)))
            return []

        load_paradigms = storage._load_paradigms
        storage._load_gramtab = tags_later
        storage._load_paradigms = partial(_paradigms, fallback=load_paradigms)
        try:
            # its DAWG files read in place, not into fresh memory (see mapped_dawgs)
            with mapped_dawgs.mapped_loading():
                analyzer = pymorphy3.MorphAnalyzer(path=_dictionary_path(lang), lang=lang)
        finally:
            storage._load_gramtab = load_gramtab
            storage._load_paradigms = load_paradigms
    # The gramtab's only readers in 2.0.6 (requirements.lock; a test pins the version):
    # Dictionary.build_tag_info and DictionaryAnalyzer.tag, both gramtab[tag_id] when
    # parsing (dictionary._data, with the empty list, is read only by Dictionary.__init__)
    analyzer.dictionary.gramtab = tags[0]
    # The dictionaries (arrays, DAWGs) and everything loaded before them (taxonomy,
    # compiled rules, models) live as long as the process: frozen, the cyclic collector's
    # full passes skip them. Without this, the full passes that the growing caches of new
    # words set off traversed up to ~200,000 objects each: ~0.25 s of CPU over the
    # benchmark corpus, ~0.12 s with (0.07 -> 0.01 s inside the new-word path). Refcounting
    # still frees frozen objects; only cyclic garbage of this moment stays (the pipeline
    # makes little: ~1,600 objects collected over the whole corpus).
    gc.freeze()
    return analyzer


_MORPH_LOADING = threading.Lock()  # see _morph


def _paradigms(filename: str, fallback: Callable[[str], list[array[int]]]) -> list[array[int]]:
    """pymorphy3 2.0.6's `storage._load_paradigms` (a count, then each paradigm's length
    and its unsigned shorts), read as one array and cut by slices: its read, unpack and
    fromfile per paradigm cost ~44 M instructions for the Russian and Ukrainian
    dictionaries' 8,464 paradigms, this ~23 M. The lengths are little-endian and the
    paradigms in the machine's order: elsewhere than on a little-endian machine, or for
    a file that does not end with its last paradigm, pymorphy3's own reader reads it."""
    if sys.byteorder != "little":
        return fallback(filename)
    whole = array("H")
    with open(filename, "rb") as f:
        data = f.read()
    if len(data) % 2:
        return fallback(filename)
    whole.frombytes(data)
    paradigms = []
    at = 1
    for _ in range(whole[0] if whole else 0):
        if at >= len(whole):
            return fallback(filename)
        end = at + 1 + whole[at]
        paradigms.append(whole[at + 1 : end])
        at = end
    if not whole or at != len(whole):
        return fallback(filename)
    return paradigms


class _Tags(dict[int, Any]):
    """pymorphy3's gramtab (tag id -> OpencorporaTag) with each tag built on first use, as
    OpencorporaTag(string) is (tagset.py of pymorphy3 2.0.6, which requirements.lock pins:
    test_lazy_tags_are_pymorphy3s compares every tag and parses of many words)."""

    def __init__(self, tag_class: Any, strings: list[str]) -> None:
        super().__init__()
        # The check OpencorporaTag.__init__ makes of each tag's grammemes, for all at once:
        # the grammemes the (shared) class knows are the next dictionary's once it loads
        tag_class._assert_grammemes_are_known(
            set(",".join([s.replace(" ", ",", 1) for s in strings]).split(","))
        )
        self._tag_class = tag_class
        self._strings = strings

    def __missing__(self, tag_id: int) -> Any:
        string = self._strings[tag_id]
        # OpencorporaTag.__init__ without its check (made above)
        tag = self._tag_class.__new__(self._tag_class)
        tag._str = string
        tag._grammemes_tuple = tuple(map(sys.intern, string.replace(" ", ",", 1).split(",")))
        tag._POS = tag._grammemes_tuple[0]
        tag._grammemes_cache = tag._cyr_grammemes_cache = tag._cyr = None
        self[tag_id] = tag
        return tag


def _dictionary_path(lang: str) -> str | None:
    """The folder of pymorphy3_dicts_<lang>: what MorphAnalyzer(lang=...) finds itself,
    from every installed package's `pymorphy3_dicts` entry points, read again for each
    language (0.025 s of a process that meets Russian and Ukrainian). None, and pymorphy3
    looks for itself, where its PYMORPHY2_DICT_PATH overrides or the package is absent."""
    if "PYMORPHY2_DICT_PATH" in os.environ:
        return None
    try:
        package = importlib.import_module(f"pymorphy3_dicts_{lang}")
    except ImportError:
        return None
    path: str = package.get_path()
    return path


@lru_cache(maxsize=32)
def _snowball(lang: str) -> Any:
    name = _SNOWBALL.get(lang)
    if name is None:
        return None
    import Stemmer  # deferred with the stemmer it builds (see _morph)

    stemmer = Stemmer.Stemmer(name)
    stemmer.maxCacheSize = 0  # forms() caches; PyStemmer's own cache made a stem 2.5x dearer
    return stemmer


@lru_cache(maxsize=32)
def _stemmer(lang: str) -> Callable[[str], str] | None:
    stemmer = _snowball(lang)
    return None if stemmer is None else stemmer.stemWord


def _kk_stem(word: str) -> str:
    for suffix in _KK_SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


_KATAKANA = re.compile(r"[\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f]")


# Kanji that end a word in 国 (全国 nationwide, 各国 each country, 米国 the US...) and kanji
# that follow 連 in a word (連合 union, 連絡 liaison, 連携 cooperation, 連盟 federation, 連邦
# federal...): 全国連合 is 全国 + 連合, a national federation, and holds no 国連 (the UN).
_ENDS_IN_KOKU = frozenset("全各米英中韓独仏露外本自他両諸隣大小同盟加祖母王帰入出")
_AFTER_REN = frozenset("合絡携盟邦続動結帯載休勝敗覇鎖想")


def _straddles(text: str, start: int, end: int, name: str) -> bool:
    """Whether 国連 found here is two words' halves: X国 + 連Y; or Chinese 联合国 the verb
    联合 ("jointly") before 国内 ("domestic"): 联合国内外, 联合国内多家 (but 联合国内部, the
    UN's inside, and 联合国内罗毕, the UN in Nairobi, are the UN)."""
    if name == "联合国":
        return text[end : end + 1] == "内" and text[end + 1 : end + 2] not in ("部", "罗", "")
    return (
        name == "国連"
        and start > 0
        and text[start - 1] in _ENDS_IN_KOKU
        and text[end : end + 1] in _AFTER_REN
    )


def contains(text: str, name: str) -> bool:
    """`name` inside a run of letters without spaces, where it is a word: a name in katakana
    must not continue in katakana (シリア in シリアル, cereal; シリアンハムスター), and 国連
    must not be the halves of two words (全国 + 連合)."""
    start = text.find(name)
    while start >= 0:
        end = start + len(name)
        before = text[start - 1 : start] if start else ""
        after = text[end : end + 1]
        if not (
            (after and _KATAKANA.match(name[-1]) and _KATAKANA.match(after))
            or (before and _KATAKANA.match(name[0]) and _KATAKANA.match(before))
            or _straddles(text, start, end, name)
            # a compound's first part has three letters or more (Nordsyrien, Ostsyrien): a
            # cased-alphabet name one or two letters in is inside another word (F-assad-e)
            or (start in (1, 2) and name[0].lower() != name[0].upper())
        ):
            return True
        start = text.find(name, start + 1)
    return False


def suffix_room(lang: str) -> int:
    return _SUFFIX.get(lang, DEFAULT_SUFFIX)


def _cut(prefix: re.Pattern[str], word: str) -> str:
    """`prefix.sub("", word)` for a *_PREFIX ("^" and optional clitics, so it matches once,
    at the start): the rest of the word after the match, without sub's attempts at every
    later position."""
    found = prefix.match(word)
    return word[found.end() :] if found is not None else word


def bases(folded: str, lang: str) -> set[str]:
    """The word and the word without the clitics its language writes attached to it."""
    bases = {folded}
    if lang in ("ar", "fa", "ur") or _ARABIC_SCRIPT.holds(folded):
        stripped = _cut(_ARABIC_PREFIX, folded)
        if len(stripped) >= 3:
            bases.add(stripped)
    elif lang in ("he", "yi"):
        stripped = _cut(_HEBREW_PREFIX, folded)
        if len(stripped) >= 3:
            bases.add(stripped)
        if len(folded) >= 4 and folded[0] in "והבלמשכ":
            bases.add(folded[1:])  # one letter: the greedy pattern may take a root letter
            # (כשער: "as the gate", not כש + ער); the base keeps three letters or more
    return bases


def beginnings(folded: str, lang: str) -> set[str]:
    """Every way a folded word of text may begin once its forms are made (clitics or
    mutations cut): what `forms` can return starts with one of these words' first letters."""
    found = bases(folded, lang)
    # Some stemmers change a word's start: Arabic clitics, Irish mutations, Serbian's
    # Cyrillic written in Latin letters; a stem costs 0.14 µs in C, so every one is asked.
    stem = _stemmer(lang)
    if stem is not None:
        found |= {stem(b) for b in list(found)}
    if lang == "ga":  # tSiria, hÉireann, bhFrainc
        found |= {folded[1:], folded[2:], folded[3:]}
    return found


def _cut_all(prefix: re.Pattern[str], joined: str) -> str:
    """`joined` ("\\x00"-joined words) without what `prefix` (a *_PREFIX_ALL: "\\x00" and
    then clitics) matches at each word's start, as the *_PREFIX cut of each word gives."""
    return prefix.sub("\x00", "\x00" + joined)[1:]


def all_beginnings(folds: list[str], lang: str) -> tuple[list[str], list[int]]:
    """`beginnings` of many folded words at once, flat, with the index of the word each
    comes from: the stems of all bases in one call into the stemmer (a superset of each
    word's `beginnings`, in another order, with repeats). A cut that leaves the word as it
    was adds nothing: most words carry no clitic, and each beginning is stemmed and scanned
    once, not twice."""
    flat = list(folds)
    owners = list(range(len(folds)))
    joined = "\x00".join(folds)
    # bases() of each word, cut at every word's start in one regex pass (both scripts' cuts
    # on every word where either applies: more beginnings than bases() only add candidates)
    cuts = []
    if lang in ("ar", "fa", "ur") or _ARABIC_SCRIPT.holds(joined):
        cuts.append(_cut_all(_ARABIC_PREFIX_ALL, joined))
    if lang in ("he", "yi"):
        cuts.append(_cut_all(_HEBREW_PREFIX_ALL, joined))
        flat += [w[1:] for w in folds if len(w) >= 4 and w[0] in "והבלמשכ"]
        owners += [n for n, w in enumerate(folds) if len(w) >= 4 and w[0] in "והבלמשכ"]
    for cut in cuts:
        for n, (stripped, folded) in enumerate(zip(cut.split("\x00"), folds, strict=True)):
            if stripped != folded and len(stripped) >= 3:
                flat.append(stripped)
                owners.append(n)
    stemmer = _snowball(lang)
    if stemmer is not None:
        flat += stemmer.stemWords(flat)
        owners += owners
    if lang == "ga":
        for n, folded in enumerate(folds):
            flat += (folded[1:], folded[2:], folded[3:])
            owners += (n, n, n)
    return flat, owners


@lru_cache(maxsize=200_000)
def forms(word: str, lang: str) -> frozenset[str]:
    """Every normalized form of a word of text in `lang`: the folded word, its lemmas
    (Russian, Ukrainian: pymorphy3, up to three parses) or stem (Snowball; Kazakh suffixes),
    the word without attached clitics (Arabic, Hebrew), and its beginnings `~base` that
    leave at most `suffix_room(lang)` letters: what a name's base (`term_forms`) meets."""
    folded = fold(unconfuse(word))
    found = {folded}
    word_bases = bases(folded, lang)
    if lang in ("ru", "uk"):
        for parse in _morph(lang).parse(folded)[:3]:
            found.add(fold(parse.normal_form))
    else:
        stem = _stemmer(lang)
        if lang == "ro" and len(folded) > 5 and folded.endswith("ei"):
            # Romanian's feminine genitive-dative -ei (Siriei, Rusiei), which its Snowball
            # stemmer keeps: the nominative -a beside it
            word_bases = word_bases | {folded[:-2] + "a"}
        for base in word_bases:
            found.add(base)
            if lang == "kk":
                found.add(_kk_stem(base))
            if stem is not None:
                stemmed = stem(base)
                # Over-stemmed names collide with common words (Persian آستانه -> است, "is").
                if len(stemmed) >= MIN_STEM:
                    found.add(stemmed)
    room = suffix_room(lang)
    if lang in ("ru", "uk") or room < 3:
        # pymorphy3 and the Romance/Germanic stemmers know the inflections; beginnings there
        # find other words (Сириус, Sirio) more often than inflected names
        return frozenset(found)
    for base in word_bases:
        found.update(tilde_forms(base, _shortest_beginning(base, room), lang))
    return frozenset(found)


def tilde_forms(base: str, shortest: int, lang: str) -> list[str]:
    """A base's `~` beginnings in `forms`, from `shortest` letters to the whole base."""
    if lang in _SURNAME_LANGS:
        # Асадов is a person, not Асад with an ending (see _SURNAME_TAIL)
        ends = [n for n in range(shortest, len(base) + 1) if not _SURNAME_TAIL.match(base[n:])]
        return ["~" + base[:n] for n in ends]
    return ["~" + base[:n] for n in range(shortest, len(base) + 1)]


def _shortest_beginning(base: str, room: int) -> int:
    """The length of a base's shortest `~` beginning in `forms` (it leaves `room` letters)."""
    return max(_min_base(base), len(base) - room)


class AllForms(NamedTuple):
    """`forms` of many words (see `all_forms`)."""

    forms: list[str]  # every form but the `~` beginnings, with repeats
    owners: list[int]  # the index of the word each of `forms` comes from
    # The bases whose `~` beginnings the forms hold: tilde_forms(bases[i], shortest[i]),
    # "~" + bases[i][:n] for n from shortest[i] to len(bases[i]) (some n skipped, in
    # _SURNAME_LANGS)
    bases: list[str]
    base_owners: list[int]
    shortest: list[int]
    # Russian, Ukrainian: the words pymorphy3's dictionary does not know, whose lemmas are
    # not in `forms` (only their folded word is)
    unknown: list[int]


def all_forms(words: list[str], lang: str) -> AllForms:
    """`forms` of many words at once: one fold and one call into the stemmer for all words,
    then the same rules as `forms`, step by step (a unit test compares the two: change
    both together). In Russian and Ukrainian, the lemmas of every dictionary parse of a
    word, not only of the three likeliest (see `_dictionary_lemmas`)."""
    joined = "\x00".join(words)
    # fold() works letter by letter, the same on each word as on all, but for Greek (its
    # accents go by NFD, on every letter of the text; the Ohm sign lowers to a Greek omega)
    # and for words in two scripts (unconfuse): those fold word by word
    folds = fold_all(words, joined, unconfused=False)
    flat = list(folds)
    owners = list(range(len(folds)))
    if lang in ("ru", "uk"):
        unknown = _dictionary_lemmas(folds, lang, flat, owners)
        return AllForms(flat, owners, [], [], [], unknown)
    lower = "\x00".join(folds)
    # bases(): the word, and the word without clitics (Arabic script, Hebrew)
    if lang in ("ar", "fa", "ur", "he", "yi") or _ARABIC_SCRIPT.holds(lower):
        for n, folded in enumerate(folds):
            extra = sorted(bases(folded, lang) - {folded})
            flat += extra
            owners += [n] * len(extra)
    if lang == "ro":  # the nominative -a beside the genitive-dative -ei (see forms)
        for n, folded in enumerate(folds):
            if len(folded) > 5 and folded.endswith("ei"):
                flat.append(folded[:-2] + "a")
                owners.append(n)
    word_bases = flat[:]
    base_owners = owners[:]
    if lang == "kk":
        flat += [_kk_stem(base) for base in word_bases]
        owners += base_owners
    stemmer = _snowball(lang)
    if stemmer is not None:
        stems = stemmer.stemWords(word_bases)
        kept = list(map(MIN_STEM.__le__, map(len, stems)))  # as long as MIN_STEM
        flat += compress(stems, kept)
        owners += compress(base_owners, kept)
    room = suffix_room(lang)
    if room < 3:
        return AllForms(flat, owners, [], [], [], [])
    if _HANGUL.holds(lower):
        shortest = [_shortest_beginning(base, room) for base in word_bases]
    else:
        shortest = [max(MIN_BASE, len(base) - room) for base in word_bases]
    return AllForms(flat, owners, word_bases, base_owners, shortest, [])


def fold_all(words: list[str], joined: str, unconfused: bool) -> list[str]:
    """fold(unconfuse(w)) of each of `words` ("\\x00"-joined in `joined`), or fold(w) if
    `unconfused`: one call for all, but for Greek (fold drops accents from every letter of a
    text with a Greek one, and the ohm sign lowers to ω) and words in two scripts."""
    folds: list[str] = []
    mixed = not unconfused and _CYRILLIC.holds(joined) and _LATIN.holds(joined)
    if not (mixed or _GREEK_LOWERED.holds(joined)):
        folds = fold(joined).split("\x00")
    if len(folds) != len(words):
        folds = [fold(w if unconfused else unconfuse(w)) for w in words]
    return folds


def _dictionary_lemmas(
    folds: list[str], lang: str, flat: list[str], owners: list[int]
) -> list[int]:
    """Adds to `flat` (and `owners`) the folded lemmas of every dictionary parse of each
    folded word (a lemma repeated by the next parse once); returns the words pymorphy3's
    dictionary does not know.

    Why these are all the lemmas `forms` can take from `parse(folded)[:3]` (pymorphy3
    2.0.6, analyzer.py, units/ and lang/*/config.py): `parse` runs the units in order and
    stops after the first terminal group with a result. The first group is
    DictionaryAnalyzer, AbbreviatedFirstNameAnalyzer, AbbreviatedPatronymicAnalyzer
    (terminal), and in Ukrainian also RomanNumberAnalyzer, LatinAnalyzer (terminal). The
    initials' units answer only a word in their (capital) INITIAL_LETTERS, and `forms`
    parses a lower-case folded word: they never do. The shape units' normal form is
    `word.lower()`, added here for every known word. DictionaryAnalyzer.parse makes one
    parse per (para_id, idx) of each `dictionary.words.similar_items(word.lower(),
    char_substitutes)` item, its normal form `dictionary.build_normal_form(para_id, idx,
    fixed_word)`, as here (`_normal_form_cut`). So a word with any such item gets those
    parses only; the probability estimator re-scores and sorts them (it drops none), and
    [:3] keeps some.
    A word without one (a name, a new word) goes on to the guessing units: its lemmas are
    not bounded here, it is returned as unknown. The argument holds for the pymorphy3 that
    requirements.lock pins: re-check it on an upgrade (test_all_forms_are_each_words_forms
    compares this with `forms` on many words)."""
    morph = _morph(lang)
    dictionary = morph.dictionary
    similar = dictionary.words.similar_items
    substitutes = morph.char_substitutes
    cuts = _normal_form_cuts(lang)
    unknown: list[int] = []
    lemmas: list[str] = []
    lemma_owners: list[int] = []
    for n, folded in enumerate(folds):
        lowered = folded.lower()
        items = similar(lowered, substitutes)
        if not items:
            unknown.append(n)
            continue
        lemmas.append(lowered)
        lemma_owners.append(n)
        last = lowered
        for fixed, parses in items:
            for para_id, idx in parses:
                if idx == 0:  # build_normal_form's own shortcut: form 0 is the lemma
                    lemma = fixed
                else:
                    cut = cuts.get(para_id << 16 | idx)  # idx < 2**16: stored as "H"
                    if cut is None:
                        cut = _normal_form_cut(dictionary, cuts, para_id, idx)
                    start, end, head, tail = cut
                    lemma = head + (fixed[start:-end] if end else fixed[start:]) + tail
                # the parses of one lexeme mostly follow each other, with one lemma: it is
                # folded and looked up once
                if lemma != last:
                    lemmas.append(lemma)
                    lemma_owners.append(n)
                    last = lemma
    if lemmas:
        # fold(parse.normal_form), as `forms` does
        flat += fold_all(lemmas, "\x00".join(lemmas), unconfused=True)
        owners += lemma_owners
    return unknown


@lru_cache(maxsize=4)
def _normal_form_cuts(lang: str) -> dict[int, tuple[int, int, str, str]]:
    """para_id << 16 | idx -> how `_dictionary_lemmas` makes form idx's normal form (see
    `_normal_form_cut`), filled as parses are met."""
    return {}


def _normal_form_cut(
    dictionary: Any, cuts: dict[int, tuple[int, int, str, str]], para_id: int, idx: int
) -> tuple[int, int, str, str]:
    """What pymorphy3 2.0.6's `build_normal_form(para_id, idx, fixed_word)` does to any word
    (opencorpora_dict/wrapper.py): the stem is the word without form idx's paradigm prefix
    and suffix, the normal form that stem between form 0's prefix and suffix. As (letters
    cut at the start, at the end, prefix, suffix): two method calls and six lookups per
    parse cost more than the rest of the parse's lemma (test_normal_form_cuts_are_pymorphy3s
    compares the two on every form of every paradigm)."""
    paradigm = dictionary.paradigms[para_id]
    size = len(paradigm) // 3
    prefixes = dictionary.paradigm_prefixes
    suffixes = dictionary.suffixes
    cut = (
        len(prefixes[paradigm[size * 2 + idx]]),
        len(suffixes[paradigm[idx]]),
        prefixes[paradigm[size * 2]],
        suffixes[paradigm[0]],
    )
    cuts[para_id << 16 | idx] = cut
    return cut


@lru_cache(maxsize=50_000)
def term_forms(word: str, lang: str) -> frozenset[str]:
    """What a configured word matches in a text's `forms`: the same lemmas or stems, and the
    word's base (without a final vowel: Siria -> ~sir i, Сирия -> ~сири) that inflected forms
    begin with (Sirii, Сирией, Syyriassa). Kept between processes (term_cache)."""
    known = term_cache.get(word, lang)
    if known is None:
        known = _term_forms(word, lang)
        term_cache.put(word, lang, known)
    return known


def _term_forms(word: str, lang: str) -> frozenset[str]:
    folded = fold(unconfuse(word))
    found = {f for f in forms(word, lang) if not f.startswith("~")}
    if lang in _BALTIC:
        # a Baltic name's dictionary form ends in -s/-š after its stem (formāts, Vilnius):
        # its other cases do not keep it (formāta, Vilniuje)
        folded = _BALTIC_NOMINATIVE.sub("", folded)
    # the final vowel goes (Siria -> sir-), unless doubled: Daraa's base is daraa-, not the
    # dara- of Uzbek daraja ("degree")
    strip = folded[-1:] in _VOWELS and folded[-2:-1] != folded[-1:]
    base = folded[:-1] if strip else folded
    if len(base) >= _min_base(base) and lang not in ("ru", "uk") and suffix_room(lang) >= 3:
        found.add("~" + base)
    return frozenset(found)
