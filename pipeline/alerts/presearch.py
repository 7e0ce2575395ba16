"""Pre-selecting the rules a batch can match, before Elasticsearch is asked (as Lucene
Monitor's presearcher does).

Matching asks the server about every enabled rule for every batch, so its cost grows with
rules x batches while most rules cannot match most batches. Here each rule's query is read
into what a matching article must contain: the analyzed terms of its required clauses (an
AND needs all of its parts, an OR one of them, a NOT nothing). A batch's own analyzed terms
(pipeline.alerts.terms: the server's term vectors of the batch) then say which rules are
worth a search. It only ever says "no" when no article of the batch can match:

- parsing follows Lucene's classic query parser, which `query_string` uses (MUST / SHOULD /
  MUST_NOT from AND, OR, NOT, +, -, default operator AND), and anything it does not
  understand (fuzzy terms, ranges, regular expressions, fields that are not text, a query it
  cannot read) counts as "may match anything";
- a word (or a phrase, or plain words in a row, which the parser analyses as one text)
  counts as present when, for some default field, the batch has every token that field's
  analyzer makes of it;
- a wildcard term counts as present when a batch term starts with its analyzed leading part.

The property test (tests/integration/test_presearch.py) checks on the real server that
pre-selection plus search finds exactly the pairs that searching every rule finds.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Literal

# The text fields `query.default_field` covers (the articles template): a clause on one of
# these is analyzed text; a clause on any other field (lang, topics, domain...) is left to
# the server.
_TEXT_FIELD = re.compile(r"^(title|text)(_[a-z*]+)?$")
_WILDCARD = re.compile(r"(?<!\\)[*?]")


# -- the query's shape, before analysis ---------------------------------------------------------


@dataclass(frozen=True)
class Word:
    """A term; `kind` prefix: a wildcard term, `text` its part before the wildcard; `field`
    the text field (or field pattern) it names, None for the default fields."""

    text: str
    kind: Literal["word", "phrase", "prefix"] = "word"
    field: str | None = None


@dataclass(frozen=True)
class Anything:
    """A clause the pre-selection does not read: it may match any article."""

    why: str


Conj = Literal["AND", "OR"] | None
Mod = Literal["PLUS", "MINUS", "NOT"] | None


@dataclass(frozen=True)
class Clauses:
    """A boolean query as written: each clause with the conjunction before it and its
    modifier. Which clauses are required is decided after analysis, as Lucene does: a
    clause whose every field analyses it to nothing is dropped, and an AND or OR then
    changes the clause before the dropped one (`addClause`)."""

    items: tuple[tuple[Conj, Mod, Node], ...]


Node = Word | Anything | Clauses


class _Unreadable(Exception):
    pass


_SPECIAL = set('+-!():^[]"{}~*?\\/ \t\r\n\u3000')
_TERM_START_EXCLUDED = set('+-!():^[]"{}~*?\\/')


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


@dataclass
class _Token:
    kind: str  # AND OR NOT PLUS MINUS LPAREN RPAREN TERM PHRASE FIELD RANGE REGEX
    text: str = ""
    fuzzy: bool = False
    boosted: bool = False

    @property
    def plain(self) -> bool:
        """A term Lucene's lexer calls TERM: no wildcard, no ~ or ^ after it."""
        return (
            self.kind == "TERM"
            and not self.fuzzy
            and not self.boosted
            and not _WILDCARD.search(self.text)
        )


def _lex(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(query)
    while i < n:
        c = query[i]
        if c.isspace():
            i += 1
            continue
        if query.startswith("&&", i):
            tokens.append(_Token("AND"))
            i += 2
            continue
        if query.startswith("||", i):
            tokens.append(_Token("OR"))
            i += 2
            continue
        if c in "+-!":
            tokens.append(_Token({"+": "PLUS", "-": "MINUS", "!": "NOT"}[c]))
            i += 1
            continue
        if c in "()":
            tokens.append(_Token("LPAREN" if c == "(" else "RPAREN"))
            i += 1
            continue
        if c in '"/':  # a phrase, or a regular expression: up to the closing mark
            j = _closing(query, i, c)
            token = _Token("PHRASE", _unescape(query[i + 1 : j])) if c == '"' else _Token("REGEX")
            i = _modifiers(query, j + 1, token)
            tokens.append(token)
            continue
        if c in "[{":
            ends = [k for k in (query.find("]", i), query.find("}", i)) if k >= 0]
            if not ends:
                raise _Unreadable("unterminated range")
            token = _Token("RANGE")
            i = _modifiers(query, min(ends) + 1, token)
            tokens.append(token)
            continue
        if c in "^~":  # a boost or slop after a group: nothing for the pre-selection
            i = _modifiers(query, i, _Token("MOD"))
            continue
        # a term: up to whitespace or a special character; "-" and "+" inside it are its own
        j = i
        while j < n:
            ch = query[j]
            if ch == "\\" and j + 1 < n:
                j += 2
                continue
            if ch.isspace() or (ch in _SPECIAL and ch not in "*?+-" and ch != "\\"):
                break
            if ch in "+-" and j == i:
                break
            j += 1
        raw = query[i:j]
        if not raw:
            raise _Unreadable(f"unexpected {c!r}")
        if j < n and query[j] == ":" and (raw == "*" or not _WILDCARD.search(raw)):
            tokens.append(_Token("FIELD", _unescape(raw)))
            i = j + 1
            continue
        if raw in ("AND", "OR", "NOT"):
            tokens.append(_Token(raw))
            i = j
            continue
        token = _Token("TERM", raw)
        i = _modifiers(query, j, token)
        tokens.append(token)
    return tokens


def _closing(query: str, i: int, mark: str) -> int:
    """Where the `mark` opened at `i` closes (a backslash escapes the next character)."""
    j = i + 1
    while j < len(query) and query[j] != mark:
        j += 2 if query[j] == "\\" else 1
    if j >= len(query):
        raise _Unreadable(f"{mark} without its pair")
    return j


def _modifiers(query: str, i: int, token: _Token) -> int:
    """Skip `~N` and `^N` after a term, a phrase or a group; a `~` on a term makes it fuzzy
    (on a phrase it is a slop, which keeps every word required)."""
    n = len(query)
    while i < n and query[i] in "~^":
        if query[i] == "~":
            token.fuzzy = True
        else:
            token.boosted = True
        i += 1
        while i < n and (query[i].isdigit() or query[i] == "."):
            i += 1
    return i


Occur = Literal["must", "should", "must_not"]


class _Parser:
    """Lucene's classic QueryParser grammar: Query ::= Clause (Conjunction? Clause)*; each
    clause's occurrence decided as its `addClause` does with the default operator AND."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def query(self, field: str | None, nested: bool) -> Node:
        items: list[tuple[Conj, Mod, Node]] = []
        while True:
            token = self.peek()
            if token is None or (token.kind == "RPAREN" and nested):
                break
            if token.kind == "RPAREN":
                raise _Unreadable("')' without '('")
            if self._joins(1):
                # Lucene (split_on_whitespace false, as in Elasticsearch): plain terms in a
                # row, with no operator between them, are analysed as one text per field
                run = [self.take().text]
                while self._joins(0):
                    run.append(self.take().text)
                items.append((None, None, Word(" ".join(map(_unescape, run)), "word", field)))
                continue
            conj: Conj = None
            if token.kind in ("AND", "OR"):
                conj = "AND" if self.take().kind == "AND" else "OR"
                if not items:
                    raise _Unreadable(f"{conj} without a term before it")
            mod: Mod = None
            token = self.peek()
            if token is not None and token.kind in ("PLUS", "MINUS", "NOT"):
                kind = self.take().kind
                mod = "PLUS" if kind == "PLUS" else ("MINUS" if kind == "MINUS" else "NOT")
            items.append((conj, mod, self.clause(field)))
        return Clauses(tuple(items))

    def _joins(self, ahead: int) -> bool:
        """The term `ahead` tokens on is plain and joins the run before it: so is the term
        before it, and no AND or OR follows it (`allowedPostMultiTerm`)."""
        at = self.i + ahead
        if at >= len(self.tokens) or not self.tokens[at].plain:
            return False
        if not self.tokens[at - 1].plain:
            return False
        after = self.tokens[at + 1] if at + 1 < len(self.tokens) else None
        return after is None or after.kind not in ("AND", "OR")

    def clause(self, field: str | None) -> Node:
        token = self.peek()
        if token is None:
            raise _Unreadable("a clause is missing")
        if token.kind == "FIELD":
            field = self.take().text
            token = self.peek()
            if token is None:
                raise _Unreadable("a field without a term")
        if token.kind == "LPAREN":
            self.take()
            inner = self.query(field, nested=True)
            closing = self.peek()
            if closing is None or closing.kind != "RPAREN":
                raise _Unreadable("'(' without ')'")
            self.take()
            # `(...)^2` or `(...)~2`: a boost, nothing for the pre-selection
            return inner
        self.take()
        if field is not None and (field == "*" or not _TEXT_FIELD.match(field)):
            return Anything(f"field {field}")
        if token.kind in ("RANGE", "REGEX") or (field and token.text[:1] in ("<", ">")):
            return Anything(token.kind.lower())
        if token.kind == "PHRASE":
            return Word(token.text, "phrase", field)
        if token.kind == "TERM":
            if token.fuzzy:
                return Anything("fuzzy term")
            wildcard = _WILDCARD.search(token.text)
            if wildcard:
                lead = _unescape(token.text[: wildcard.start()])
                return Word(lead, "prefix", field) if lead else Anything("leading wildcard")
            return Word(_unescape(token.text), "word", field)
        raise _Unreadable(f"unexpected {token.kind}")


def parse(query: str) -> Node:
    """The query's requirement tree; a query the parser cannot read may match anything."""
    if not query.strip() or query.strip() == "*":
        return Anything("matches every article")
    try:
        parser = _Parser(_lex(query))
        node = parser.query(None, nested=False)
    except (_Unreadable, IndexError) as exc:
        return Anything(f"unreadable: {exc}")
    return node


def words(node: Node) -> Iterable[Word]:
    """Every word, phrase and wildcard lead in the tree (what needs analysing)."""
    if isinstance(node, Word):
        yield node
    elif isinstance(node, Clauses):
        for _, _, part in node.items:
            yield from words(part)


# -- after analysis: what the batch must contain -------------------------------------------------

# Per default text field of the index, the tokens its analyzer makes of a text
Analysed = Mapping[str, Sequence[str]]


@dataclass(frozen=True)
class Has:
    """A batch term equal to one of `terms`, or starting with one of `prefixes`."""

    terms: frozenset[str] = frozenset()
    prefixes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class NeedAll:
    parts: tuple[Need, ...]


@dataclass(frozen=True)
class NeedAny:
    parts: tuple[Need, ...]


Need = Has | Anything | NeedAll | NeedAny


def requirement(node: Node, analysed: Callable[[str], Analysed]) -> Need:
    """What a matching batch must contain; a query that is dropped whole (every clause
    analysed to nothing) is left to the server."""
    need = _need(node, analysed)
    return Anything("nothing left after analysis") if need is None else need


def _need(node: Node, analysed: Callable[[str], Analysed]) -> Need | None:
    """None: the clause is dropped (Lucene's null query)."""
    if isinstance(node, Anything):
        return node
    if isinstance(node, Clauses):
        return _boolean(node, analysed)
    per_field = analysed(node.text)
    fields = [f for f in per_field if node.field is None or fnmatchcase(f, node.field)]
    if not fields:
        # a field the index does not map: the server answers "no match", not a dropped
        # clause; counting it as "anything" keeps the clause in its place and errs wide
        return Anything(f"unmapped field {node.field}")
    options = [list(per_field[f]) for f in fields if per_field[f]]
    if not options:
        return None  # every field's analyzer drops it (a stop word): the clause is gone
    if node.kind == "prefix":
        if any(len(tokens) != 1 for tokens in options):
            return Anything(f"wildcard lead {node.text!r} analyses to several tokens")
        prefixes = {tokens[0] for tokens in options} | {node.text.lower()}
        return Has(prefixes=frozenset(prefixes))
    # a phrase, a word or words in a row: per field every token (default operator AND),
    # in any one field (a dis_max over the fields)
    phrases: list[Need] = [
        NeedAll(tuple(Has(terms=frozenset([t])) for t in sorted(set(tokens))))
        if len(set(tokens)) > 1
        else Has(terms=frozenset(tokens))
        for tokens in sorted({tuple(t) for t in options})
    ]
    return phrases[0] if len(phrases) == 1 else NeedAny(tuple(phrases))


def _boolean(node: Clauses, analysed: Callable[[str], Analysed]) -> Need | None:
    """Lucene's `addClause` with the default operator AND, then what the BooleanQuery
    requires: every MUST clause; else one SHOULD clause; a query of only MUST_NOT clauses
    matches all other articles (Elasticsearch adds match_all)."""
    clauses: list[list[Any]] = []  # [occur, need]
    for conj, mod, part in node.items:
        need = _need(part, analysed)
        if clauses and conj == "AND" and clauses[-1][0] != "must_not":
            clauses[-1][0] = "must"
        if clauses and conj == "OR" and clauses[-1][0] != "must_not":
            clauses[-1][0] = "should"
        if need is None:
            continue
        prohibited = mod in ("MINUS", "NOT")
        occur = "must_not" if prohibited else ("should" if conj == "OR" else "must")
        clauses.append([occur, need])
    if not clauses:
        return None
    musts = tuple(need for occur, need in clauses if occur == "must")
    shoulds = tuple(need for occur, need in clauses if occur == "should")
    if musts:
        return musts[0] if len(musts) == 1 else NeedAll(musts)
    if shoulds:
        return shoulds[0] if len(shoulds) == 1 else NeedAny(shoulds)
    return Anything("only negations")


class BatchTerms:
    """A batch's analysed terms, for exact and prefix lookups."""

    def __init__(self, terms: Iterable[str]) -> None:
        self.terms = set(terms)
        self._sorted = sorted(self.terms)

    def starts(self, prefix: str) -> bool:
        i = bisect.bisect_left(self._sorted, prefix)
        return i < len(self._sorted) and self._sorted[i].startswith(prefix)

    def has(self, need: Has) -> bool:
        return any(t in self.terms for t in need.terms) or any(
            self.starts(p) for p in need.prefixes
        )


def holds(need: Need, batch: BatchTerms) -> bool:
    if isinstance(need, Anything):
        return True
    if isinstance(need, Has):
        return batch.has(need)
    if isinstance(need, NeedAll):
        return all(holds(p, batch) for p in need.parts)
    return any(holds(p, batch) for p in need.parts)


def anchor(need: Need) -> Has | None:
    """Terms of which a matching batch has at least one (None: no such set): an AND is
    anchored on its most selective part (longest terms), an OR on all of its parts."""
    if isinstance(need, Anything):
        return None
    if isinstance(need, Has):
        return need
    anchors = [anchor(p) for p in need.parts]
    if isinstance(need, NeedAny):
        if any(a is None for a in anchors):
            return None
        return Has(
            frozenset(t for a in anchors if a for t in a.terms),
            frozenset(p for a in anchors if a for p in a.prefixes),
        )
    known = [a for a in anchors if a is not None]
    return max(known, key=_selectivity) if known else None


def _selectivity(has: Has) -> tuple[int, int]:
    # a rare term is a long one, more often than not; fewer alternatives are better
    shortest = min([len(t) for t in has.terms] + [len(p) - 2 for p in has.prefixes])
    return (shortest, -(len(has.terms) + len(has.prefixes)))


@dataclass
class RuleNeeds:
    """One rule as the pre-selection sees it."""

    rule_id: str
    need: Need
    languages: frozenset[str] = frozenset()
    topics: frozenset[str] = frozenset()
    feeds: frozenset[str] = frozenset()

    @property
    def always(self) -> bool:
        return anchor(self.need) is None


@dataclass
class BatchFacts:
    """What the pre-selection knows of a batch: its analysed terms and its articles'
    languages, topics and feeds (a rule's filters must meet them)."""

    terms: BatchTerms
    languages: set[str] = field(default_factory=set)
    topics: set[str] = field(default_factory=set)
    feeds: set[str] = field(default_factory=set)


class Presearcher:
    """The rules indexed by their anchor terms; `candidates` names the rules a batch can
    match, in the rules' order."""

    def __init__(self, rules: Sequence[RuleNeeds]) -> None:
        self.rules = list(rules)
        self._order = {r.rule_id: i for i, r in enumerate(self.rules)}
        self._by_id = {r.rule_id: r for r in self.rules}
        self.exact: dict[str, set[str]] = {}
        self.prefixes: dict[str, set[str]] = {}
        self.always: list[str] = []
        for rule in self.rules:
            anchored = anchor(rule.need)
            if anchored is None:
                self.always.append(rule.rule_id)
                continue
            for term in anchored.terms:
                self.exact.setdefault(term, set()).add(rule.rule_id)
            for prefix in anchored.prefixes:
                self.prefixes.setdefault(prefix, set()).add(rule.rule_id)
        self._prefix_keys = sorted(self.prefixes)

    def candidates(self, batch: BatchFacts) -> list[str]:
        found: set[str] = set(self.always)
        terms = batch.terms.terms
        if len(terms) < len(self.exact):
            for term in terms:
                found |= self.exact.get(term, set())
        else:
            for term, ids in self.exact.items():
                if term in terms:
                    found |= ids
        for prefix in self._prefix_keys:
            if batch.terms.starts(prefix):
                found |= self.prefixes[prefix]
        chosen = [
            rule_id
            for rule_id in found
            if _filters_meet(self._by_id[rule_id], batch)
            and holds(self._by_id[rule_id].need, batch.terms)
        ]
        return sorted(chosen, key=self._order.__getitem__)


def _filters_meet(rule: RuleNeeds, batch: BatchFacts) -> bool:
    return (
        (not rule.languages or bool(rule.languages & batch.languages))
        and (not rule.topics or bool(rule.topics & batch.topics))
        and (not rule.feeds or bool(rule.feeds & batch.feeds))
    )


def needs_of(
    rule_id: str,
    query: str,
    analysed: Callable[[str], Analysed],
    languages: Collection[str] = (),
    topics: Collection[str] = (),
    feeds: Collection[str] = (),
) -> RuleNeeds:
    return RuleNeeds(
        rule_id,
        requirement(parse(query), analysed),
        frozenset(languages),
        frozenset(topics),
        frozenset(feeds),
    )


def texts_to_analyse(queries: Iterable[str]) -> set[str]:
    return {w.text for q in queries for w in words(parse(q))}


def _plain_analysis(text: str) -> Analysed:
    # offline, without the server's analyzers: a standard-tokenizer-like split
    return {"text": re.findall(r"\w+", text.lower())}


def every_batch_reason(query: str) -> str | None:
    """Why a rule is searched on every batch (no term a matching article must contain), or
    None; read without the server (its analyzers can only add a stop word or two)."""
    need = requirement(parse(query), _plain_analysis)
    if anchor(need) is not None:
        return None
    return _first_why(need) or "no required term"


def _first_why(need: Need) -> str:
    if isinstance(need, Anything):
        return need.why
    if isinstance(need, NeedAll | NeedAny):
        for part in need.parts:
            if anchor(part) is None:
                return _first_why(part)
    return ""
