"""Topics defined once, rules in every language: a topic's CLDR names (through Babel) and
the entries of the curated name tables (`names/<lang>.yaml`) become the per-language rules
the tagger compiles, beside any rules written for one language by hand."""

from __future__ import annotations

import hashlib
import io
import json
import re
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic import version as pydantic_version

from pipeline.cache import cache_path, write_atomically
from pipeline.errors import ConfigError
from pipeline.lazy_re import LazyPattern
from pipeline.taxonomy import ANY_LANGUAGE, ContextRule, LanguageRules, Taxonomy, Topic, cldr_cache
from pipeline.yamlfile import parse_yaml

NAMES_DIR = Path(__file__).with_name("names")
# The languages mediamon claims (issue 14): every EU language, Russian and the former-Soviet
# languages, Turkish, Arabic, Persian, Urdu, Hebrew, Hindi, Chinese, Japanese, Korean,
# Indonesian. A topic gets rules in each from CLDR even where no name table exists.
_CLAIMED = (
    "ar az be bg cs da de el en es et fa fi fr ga he hi hr hu hy id it ja ka kk ko ky lt lv "
    "mt nl pl pt ro ru sk sl sr sv tg tk tr uk ur uz zh"
)
LANGUAGES = tuple(_CLAIMED.split())
# CLDR locales read for a language written in more than one script.
_LOCALES = {
    "sr": ("sr", "sr_Latn"),
    "uz": ("uz", "uz_Cyrl"),
    "bs": ("bs", "bs_Cyrl"),
    "zh": ("zh", "zh_Hant"),
    "pa": ("pa", "pa_Arab"),
}
# Articles CLDR writes before some names (Irish "an tSiria", Maltese "is-Sirja"), and Irish
# initial mutations (tSiria, hIaráine): the name is matched without them.
_ARTICLE = LazyPattern(r"^(?:an |na |il-|is-|it-|ir-|in-|l-|iż-|id-|ix-|iċ-|ić-)", re.I)
_MUTATION = LazyPattern(r"^(?:t|h|n|bh|d|g|m|b)(?=[A-ZÁÉÍÓÚ])")
_PARENS = LazyPattern(r"\s*\([^)]*\)")


class NameEntry(BaseModel):
    """One entity in one language: words matched with morphology, case-sensitive ones,
    phrases masked first (not this entity though they contain its words), and words that
    rule it out."""

    # built at first use: a process that finds the expanded taxonomy cached never uses it
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)

    terms: list[str] = Field(default_factory=list)
    exact: list[str] = Field(default_factory=list)
    not_: list[str] = Field(alias="not", default_factory=list)
    # words that, anywhere in an article, rule the entity's topics out in this language:
    # the pet (hamster) whose every form a `not` phrase would have to list
    none: list[str] = Field(default_factory=list)
    skip: list[str] = Field(default_factory=list)  # CLDR names this language must not use


@lru_cache(maxsize=4)
def name_tables(directory: Path = NAMES_DIR) -> dict[str, dict[str, NameEntry]]:
    """language -> entity key -> entry, from every `<lang>.yaml` in `directory`."""
    paths = sorted(directory.glob("*.yaml"))
    # The key is taken before any file is read: a file saved while this runs makes a key the
    # next process computes anew, never this content under the new file's key.
    cache = _cache_file(paths)
    parsed = _read_cache(cache)
    tables: dict[str, dict[str, NameEntry]] = {}
    for path in paths:
        cached = parsed.get(path.stem) if parsed is not None else None
        entries = _entries(cached) if cached is not None else None
        if entries is None:  # not cached, or cached in a shape this code no longer reads
            entries = _validated(path, _parse(path))
            parsed = None  # write the cache anew
        tables[path.stem] = entries
    if parsed is None and cache is not None:
        data = {
            lang: {key: entry.model_dump(by_alias=True) for key, entry in entries.items()}
            for lang, entries in tables.items()
        }
        write_atomically(cache, io.BytesIO(json.dumps(data, ensure_ascii=False).encode("utf-8")))
    return tables


def _validated(path: Path, data: object) -> dict[str, NameEntry]:
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of entity keys")
    try:
        return {str(k): NameEntry.model_validate(v or {}) for k, v in data.items()}
    except ValidationError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def _entries(cached: object) -> dict[str, NameEntry] | None:
    """A cached table, or None where it does not validate (the YAML is read instead)."""
    try:
        return _validated(NAMES_DIR, cached)
    except ConfigError:
        return None


def _parse(path: Path) -> object:
    import yaml  # only when the tables' cache misses (pipeline/yamlfile.py says why)

    text = path.read_text(encoding="utf-8")
    try:
        # libyaml when present: the 46 files in 0.05 s instead of 0.21 s
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        parse_yaml(path, text)  # the same error, with file and line
        raise


def _cache_file(paths: list[Path]) -> Path | None:
    """Where the tables as parsed are kept between processes, keyed by every file's path, size
    and modification time (pipeline/cache.py) and by the entry's schema: JSON reads in ~3 ms
    what libyaml parses in ~55 (a tenth of `mediamon enrich`'s start)."""
    if not paths:
        return None
    schema = json.dumps(NameEntry.model_json_schema(), sort_keys=True).encode()
    name = f"names-{hashlib.sha256(schema).hexdigest()[:8]}"
    return cache_path(name, paths[0], ".json", *paths[1:])


def _read_cache(path: Path | None) -> dict[str, object] | None:
    if path is None:
        return None
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) else None


def _clean(name: str) -> str:
    name = _PARENS.sub("", name).strip()
    name = _ARTICLE.sub("", name)
    return _MUTATION.sub("", name)


@lru_cache(maxsize=4096)
def cldr_names(code: str, lang: str, language: str | None = None) -> tuple[str, ...]:
    """The territory's name (and the name of `language`, an adjective in many languages:
    ucraino, ukrainisch) in every CLDR locale of `lang`; empty where CLDR has none."""
    key = f"{code}|{lang}|{language or ''}"
    known = cldr_cache.get(key)
    if known is not None:
        return known
    from babel import Locale, UnknownLocaleError  # deferred: ~50 ms, paid once per process

    found: list[str] = []
    for locale_id in _LOCALES.get(lang, (lang,)):
        try:
            locale = Locale.parse(locale_id)
        except (UnknownLocaleError, ValueError):
            continue
        for name in (
            locale.territories.get(code),
            locale.languages.get(language) if language else None,
        ):
            if name and _clean(name) not in found:
                found.append(_clean(name))
    cldr_cache.put(key, tuple(found))
    return tuple(found)


def _split_cldr(names: tuple[str, ...], skip: list[str]) -> tuple[list[str], list[str]]:
    """CLDR names as (terms, exact): a short name in capitals (ky БУ, ka გაერო is not) is an
    abbreviation, matched as written."""
    terms: list[str] = []
    exact: list[str] = []
    for name in names:
        if name in skip:
            continue
        (exact if len(name) <= 4 and name.isupper() else terms).append(name)
    return terms, exact


def _merge(*lists: list[str]) -> list[str]:
    return list(dict.fromkeys(x for xs in lists for x in xs))


def languages(taxonomy: Taxonomy, tables: dict[str, dict[str, NameEntry]]) -> list[str]:
    explicit = {lang for t in taxonomy.topics for lang in t.rules if lang != ANY_LANGUAGE}
    return sorted(set(LANGUAGES) | set(tables) | explicit)


def expand(taxonomy: Taxonomy, tables: dict[str, dict[str, NameEntry]] | None = None) -> Taxonomy:
    """The taxonomy with every topic's rules written out per language (what Tagger
    compiles); per-language rules written by hand are kept and extended. With the shipped
    name tables, the result is kept between processes (`_expanded_cache`)."""
    if tables is not None:
        return _expand(taxonomy, tables)
    cache = _expanded_cache(taxonomy)
    cached = _read_expanded(cache)
    if cached is not None:
        return cached
    expanded = _expand(taxonomy, name_tables())
    if cache is not None:
        data = expanded.model_dump_json(by_alias=True, exclude_unset=True).encode("utf-8")
        write_atomically(cache, io.BytesIO(data))  # a read-only home: expanded again next time
    return expanded


def _expanded_cache(taxonomy: Taxonomy) -> Path | None:
    """Where `taxonomy` expanded is kept between processes: expanding (the name tables and
    CLDR names read from their caches, ~1,000 rules validated) cost ~0.15 G instructions of
    every `mediamon enrich` process's ~1.1 G start. The key covers what the result is made
    of: the taxonomy's values and which fields were set (a copy keeps them), the name
    tables' files, Babel's data (CLDR names), and the code that expands and validates."""
    spec = find_spec("babel")
    if spec is None or spec.origin is None:
        return None
    content = hashlib.sha256(taxonomy.model_dump_json().encode("utf-8"))
    content.update(b"\0" + taxonomy.model_dump_json(exclude_unset=True).encode("utf-8"))
    # this module, the taxonomy's models (the package's __init__), the code they read the
    # names and terms with (CLDR's, the YAML reader, the lazy patterns) and pydantic's release
    here = Path(__file__).parent
    code = [
        Path(__file__),
        here / "__init__.py",
        here / "cldr_cache.py",
        here.parent / "yamlfile.py",
        here.parent / "lazy_re.py",
        Path(pydantic_version.__file__),
    ]
    sources = [*code, Path(spec.origin).with_name("global.dat")]
    return cache_path(
        f"taxonomy-{content.hexdigest()[:16]}",
        sources[0],
        ".json",
        *sources[1:],
        *sorted(NAMES_DIR.glob("*.yaml")),
    )


def _read_expanded(path: Path | None) -> Taxonomy | None:
    """The expanded taxonomy kept at `path`, validated as any taxonomy is (the values are
    those `_expand` made, the set fields too); None when it cannot be read or does not
    validate (it is then expanded anew)."""
    if path is None:
        return None
    try:
        return Taxonomy.model_validate_json(path.read_bytes())
    except (OSError, ValidationError):
        return None


def _expand(taxonomy: Taxonomy, tables: dict[str, dict[str, NameEntry]]) -> Taxonomy:
    langs = languages(taxonomy, tables)
    base: dict[str, dict[str, LanguageRules]] = {}
    for topic in taxonomy.topics:
        base[topic.id] = {lang: _base_rules(topic, lang, tables.get(lang, {})) for lang in langs}
        if ANY_LANGUAGE in topic.rules:
            base[topic.id][ANY_LANGUAGE] = topic.rules[ANY_LANGUAGE]
    topics: list[Topic] = []
    for topic in taxonomy.topics:
        rules = base[topic.id]
        for ctx in topic.context:
            for lang in langs:
                table = tables.get(lang, {})
                anchors = _merge(ctx.terms, *(_words(table, k) for k in ctx.names))
                support = _merge(
                    ctx.with_,
                    *(_words(table, k) for k in ctx.with_names),
                    *(_words_of(rules_of) for rules_of in (base[o][lang] for o in ctx.with_topics)),
                )
                groups = [
                    # a table entry named by the code adds what CLDR lacks (en: Turkey
                    # beside CLDR's Türkiye)
                    *(
                        _merge(list(cldr_names(code, lang)), _words(table, code))
                        for code in ctx.territories
                    ),
                    *(_words(table, k) for k in ctx.all_of_names),
                ]
                groups = [*ctx.all_of, *groups] if all(groups) else []
                if anchors and support:
                    rules[lang].context.append(
                        ContextRule(terms=anchors, **{"with": support}, window=ctx.window)
                    )
                if groups and (support or not ctx.wants_context):
                    rules[lang].context.append(
                        ContextRule(all_of=groups, **{"with": support}, window=ctx.window)
                    )
        kept = {
            lang: r
            for lang, r in rules.items()
            if r.terms or r.exact or r.context or lang == ANY_LANGUAGE
        }
        topics.append(
            topic.model_copy(
                update={"rules": kept, "names": [], "exclude_names": [], "context": []}
            )
        )
    cldr_cache.save()
    return Taxonomy(version=taxonomy.version, topics=topics)


def _words(table: dict[str, NameEntry], key: str) -> list[str]:
    entry = table.get(key)
    return entry.terms + entry.exact if entry else []


def _words_of(rules: LanguageRules) -> list[str]:
    return rules.terms + rules.exact


def _base_rules(topic: Topic, lang: str, table: dict[str, NameEntry]) -> LanguageRules:
    own = topic.rules.get(lang, LanguageRules())
    entries = [table[k] for k in topic.names if k in table]
    skip = [s for e in entries for s in e.skip]
    cldr_terms, cldr_exact = (
        _split_cldr(cldr_names(topic.territory, lang, topic.language), skip)
        if topic.territory
        else ([], [])
    )
    excluded = [table[k] for k in topic.exclude_names if k in table]
    return LanguageRules(
        terms=_merge(own.terms, cldr_terms, *(e.terms for e in entries)),
        exact=_merge(own.exact, cldr_exact, *(e.exact for e in entries)),
        context=[c.model_copy() for c in own.context],
        exclude=_merge(
            own.exclude, *(e.not_ for e in entries), *(e.terms + e.not_ for e in excluded)
        ),
        none=_merge(own.none, *(e.none for e in entries)),
    )
