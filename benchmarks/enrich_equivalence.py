"""Enrich output snapshot, to prove that a speed change changed nothing: `mediamon enrich`
(`<corpus>.cli.jsonl`, byte for byte) and `Enricher.enrich` in process (`<corpus>.full.jsonl`,
every field but the clock's) over the fixtures, the enrich benchmark's articles and a seeded
stress set of awkward HTML, some again under data/edge-taxonomy.yaml (rule shapes the
default lacks), plus `mediamon eval --json`. Run it with `--out` before the change, and with
`--out` and `--against` (the first directory) after: it exits 1 on any difference."""

from __future__ import annotations

import argparse
import html
import json
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks import measure as m
from benchmarks import stack as st
from benchmarks.enrich import make_articles

FIXTURES = m.REPO / "tests" / "fixtures"
MEDIAMON = [sys.executable, "-m", st.CLI_MODULE]
CLOCK_FIELDS = ("enriched_at", "fetched_at")
EDGE_TAXONOMY = m.DATA / "edge-taxonomy.yaml"


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _labeled(path: Path, text_as: str, hint: bool) -> list[dict[str, Any]]:
    out = []
    for item in _jsonl(path):
        obj: dict[str, Any] = {
            k: item[k] for k in ("id", "title", "content", "summary", "url") if k in item
        }
        obj |= {text_as: item["text"]} if "text" in item else {}
        obj |= {"lang_hint": item["lang"]} if hint and item.get("lang") else {}
        out.append(obj)
    return out


# Fragments that exercise every branch of html_to_text and normalize_text.
_WRAPPERS = (
    "<p>{}</p>",
    "<div class='article-body'>{}</div>",
    "<form><button>Go</button>{}</form><p>after form</p>",
    "<nav><svg><path d='M0'/></svg>menu</nav><p>{}</p>",
    "<div class='share-buttons'>Share</div><p>{}</p>",
    "<aside id='related'>Related: x</aside><section>{}</section>",
    "<p>{}<br>second line<br/>third</p>",
    "<ul><li>{}</li><li>two</li></ul>",
    "<table><tr><td>{}</td><td>cell</td></tr></table>",
    "<!-- comment --><template><p>hidden</p></template><h2>{}</h2>",
    "<script>var a='<p>x</p>';</script><p>{}</p><style>p{{}}</style>",
    "<p>Read also: something else</p><p>{}</p><p>Поделиться</p>",
    "<p>{}</p>\r\n\r\n\r\n<p>lire aussi</p><p>x</p>",
    "<div id='comments'><p>comment</p></div><div class='advertisement'>ad</div><p>{}</p>",
    "<blockquote>\u201c{}\u201d</blockquote><p>\u2018q\u2019 \u201eq\u201c</p>",
    "<pre>{}\u00a0\u2003tab\tend</pre>",
    "<p>{}\u200b\u200d\ufeff\x07\x1f</p>",
    "{}",
    "<p>{} &laquo;quoted&raquo; &mdash; &amp; &nbsp; &#8212; &#x2019;</p>",
    "<figure><img src='x.jpg'><figcaption>{}</figcaption></figure>",
    "<p class='print'>print</p><p class='tags'>tags</p><p class='footer-note'>{}</p>",
    "<header>{}</header><footer>foot</footer><hr><dd>d</dd><dt>t</dt>",
    "<iframe src='x'></iframe><object></object><embed><canvas></canvas>{}<noscript>n</noscript>",
    "<math><mi>x</mi></math><select><option>o</option></select><textarea>t</textarea><p>{}</p>",
    "<p>{}</p><div class='share'><div class='inner'><a href='#'>x</a></div></div>",
    "<div><p>{}<p>unclosed<div>deep</div></div>",
)
_URLS = (
    "",
    "https://WWW.Example.com:443/a/b?utm_source=x&b=2&a=1#frag",
    "http://news.example:8080/path?fbclid=1&ref=2&q=3",
    "https://example.org.",
    "  https://www.site.example/ä?x=ü&utm_medium=m  ",
    "https://host.example/?gclid=z",
)


def _mojibake(text: str) -> str:
    return text.encode("utf-8").decode("latin-1", "replace")


def stress(count: int = 600, seed: int = m.SEED) -> list[dict[str, Any]]:
    """Fixture sentences in awkward HTML: nested dropped elements, chrome by class and id,
    breaks, entities, quotes, zero-width and control characters, mojibake, boilerplate
    lines, case changes, near-duplicates (for story ids), tracking URLs and language hints."""
    rng = random.Random(seed)
    texts: list[str] = []
    for name in ("topics.jsonl", "topics-holdout.jsonl", "languages.jsonl"):
        for item in _jsonl(FIXTURES / "eval" / name):
            texts += [str(item[k]) for k in ("title", "text") if item.get(k)]
    hints = (None, "ru", "en-US", "uk", "kk", "fr", "", "xx")
    out: list[dict[str, Any]] = []
    for i in range(count):
        parts = [rng.choice(texts) for _ in range(rng.randint(1, 6))]
        body_text = " ".join(parts)
        roll = rng.random()
        if roll < 0.08:
            body_text = _mojibake(body_text)
        elif roll < 0.14:
            body_text = body_text.upper()
        elif roll < 0.2:
            body_text = body_text.replace(" ", "-", 3).replace("а", "ё", 2)
        elif roll < 0.25:
            body_text = "\u0627\u064e\u0644\u0623\u0645\u0645 \u0633\u0648\u0631\u064a\u0629 " + (
                body_text
            )
        escaped = html.escape(body_text, quote=False) if rng.random() < 0.7 else body_text
        body = "".join(rng.choice(_WRAPPERS).format(escaped) for _ in range(rng.randint(1, 3)))
        obj: dict[str, Any] = {"id": f"stress-{i:04d}", "url": rng.choice(_URLS)}
        title = rng.choice(texts)[: rng.choice((30, 80, 400, 2000))]
        if rng.random() < 0.3:
            title = f"<b>{html.escape(title)}</b> &mdash; LIVE"
        obj["title"] = title
        where = rng.random()
        if where < 0.5:
            obj["content"] = body
        elif where < 0.8:
            obj["summary"] = body
        else:
            obj["summary"] = body[: len(body) // 2]
            obj["content"] = body
        hint = rng.choice(hints)
        if hint is not None:
            obj["lang_hint"] = hint
        if out and rng.random() < 0.15:  # a syndicated copy, lightly re-titled
            copy = dict(rng.choice(out))
            copy["id"] = f"stress-{i:04d}-copy"
            copy["title"] = "Update: " + str(copy.get("title", ""))
            out.append(copy)
        out.append(obj)
    return out


def bench_articles() -> list[dict[str, Any]]:
    return [{"id": a.id, "title": a.title, "content": a.html} for a in make_articles(1000)]


def corpora() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    eval_dir = FIXTURES / "eval"
    yield "headlines", _labeled(FIXTURES / "headlines.jsonl", "content", hint=False)
    yield "headlines-hint", _labeled(FIXTURES / "headlines.jsonl", "content", hint=True)
    for name in ("topics", "topics-holdout"):
        yield name, _labeled(eval_dir / f"{name}.jsonl", "content", hint=False)
        yield f"{name}-summary-hint", _labeled(eval_dir / f"{name}.jsonl", "summary", hint=True)
    yield "languages", _labeled(eval_dir / "languages.jsonl", "content", hint=False)
    yield "languages-title-hint", _labeled(eval_dir / "languages.jsonl", "title", hint=True)
    yield "bench", bench_articles()
    yield "stress", stress()


def full_records(objs: list[dict[str, Any]], taxonomy: Path | None = None) -> str:
    from pipeline.stages.enrich import Enricher

    enricher = Enricher.from_path(taxonomy)
    lines = []
    for obj in objs:
        record = json.loads(enricher.enrich(st.to_raw(obj)).to_json())
        for name in CLOCK_FIELDS:
            record.pop(name, None)
        lines.append(json.dumps(record, ensure_ascii=False, sort_keys=True))
    return "\n".join(lines) + "\n"


def run(args: list[str], stdin: str | None = None, check: bool = True) -> str:
    done = subprocess.run([*MEDIAMON, *args], input=stdin, capture_output=True, text=True)
    if done.returncode not in ((0,) if check else (0, 1)):
        raise SystemExit(f"mediamon {args[0]} failed:\n{done.stderr}")
    return done.stdout


def write(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    edge = out / "edge-taxonomy.yaml"
    edge.write_bytes(EDGE_TAXONOMY.read_bytes())
    runs: list[tuple[str, list[dict[str, Any]], Path | None]]
    runs = [(name, objs, None) for name, objs in corpora()]
    runs += [
        (f"edge-{name}", objs, edge)
        for name, objs, _ in runs
        if name in ("topics", "topics-holdout-summary-hint", "languages", "stress")
    ]
    for name, objs, taxonomy in runs:
        stdin = "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objs)
        (out / f"{name}.input.jsonl").write_text(stdin, encoding="utf-8")
        cli = run(["enrich", *(["--taxonomy", str(taxonomy)] if taxonomy else [])], stdin, False)
        if cli.count("\n") != len(objs):
            raise SystemExit(f"{name}: mediamon enrich wrote a line per article")
        (out / f"{name}.cli.jsonl").write_text(cli, encoding="utf-8")
        (out / f"{name}.full.jsonl").write_text(full_records(objs, taxonomy), encoding="utf-8")
        print(f"{name}: {len(objs)} articles", file=sys.stderr)
    for name in ("topics", "topics-holdout"):
        text = run(["eval", "--json", str(FIXTURES / "eval" / f"{name}.jsonl")])
        (out / f"eval-{name}.json").write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser("python -m benchmarks enrich_equivalence", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="where to write the outputs")
    parser.add_argument("--against", type=Path, help="a directory written before, to compare")
    args = parser.parse_args(argv)
    write(args.out)
    if not args.against:
        return 0
    names = sorted(p.name for p in args.against.iterdir())
    same = {
        n: (args.out / n).exists()
        and (args.out / n).read_bytes() == (args.against / n).read_bytes()
        for n in names
    }
    for n in names:
        print(f"{'identical' if same[n] else 'DIFFERENT'}  {n}")
    return 0 if all(same.values()) else 1
