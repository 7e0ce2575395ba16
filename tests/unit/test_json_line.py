"""`mediamon enrich`'s output lines (pipeline/stages/jsonl.py's line_writer, natively
native/src/jsonout.rs): the bytes of `json.dumps(obj, ensure_ascii=False) + "\\n"` in
UTF-8, written in order, natively or not."""

from __future__ import annotations

import io
import json
import random
from collections import OrderedDict
from enum import IntEnum
from types import ModuleType
from typing import Any

import pytest

from pipeline.native import native
from pipeline.stages import jsonl
from pipeline.stages.jsonl import line_writer

# characters json escapes or UTF-8 writes in 1, 2, 3 or 4 bytes, and the edges between
ODD = [chr(c) for c in range(0x21)] + list('"\\/\x7f\x80\xff\u0100\u07ff\u0800')
ODD += ["\u2028", "\ufeff", "\uffff", "\U00010000", "\U0001f605", "\U0010ffff", "é", "я"]
FLOATS = [1e16, 1e15, 123456789.0, -0.0, 0.0, 0.1, 1e-5, 1e-4, 2.5e-300, 1.7976931348623157e308]
FLOATS += [float("nan"), float("inf"), float("-inf"), 5e-324, 0.99, 100.0]
INTS = [0, -1, 1, 2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 10**40, -(10**40)]


class Level(IntEnum):
    A = 1


@pytest.fixture(scope="module")
def built() -> ModuleType:
    assert native is not None, "pipeline._native is not built: `make install` needs cargo"
    return native


def python_line(obj: Any) -> bytes:
    return (json.dumps(obj, ensure_ascii=False) + "\n").encode("utf-8")


def random_text(rng: random.Random) -> str:
    pool = [
        lambda: rng.choice(ODD),
        lambda: chr(rng.randrange(0x20, 0x7F)),
        lambda: chr(rng.randrange(0x80, 0x100)),
        lambda: chr(rng.randrange(0x100, 0xD800)),
        lambda: chr(rng.randrange(0xE000, 0x10000)),
        lambda: chr(rng.randrange(0x10000, 0x110000)),
    ]
    # one width a text mostly, as CPython stores each in the narrowest that holds it
    picks = rng.sample(pool, rng.randrange(1, 4))
    return "".join(rng.choice(picks)() for _ in range(rng.randrange(0, 40)))


def random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return random_text(rng)
    if kind == 1:
        return rng.choice([*INTS, rng.randrange(-(10**6), 10**6)])
    if kind == 2:
        return rng.choice([*FLOATS, rng.uniform(-1e20, 1e20), rng.random()])
    if kind in (3, 4):
        return rng.choice([True, False, None])
    if kind == 5:
        return random_text(rng)
    if kind == 6:
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(0, 5))]
    if kind == 7:
        return tuple(random_value(rng, depth + 1) for _ in range(rng.randrange(0, 3)))
    return {random_text(rng): random_value(rng, depth + 1) for _ in range(rng.randrange(0, 5))}


def test_random_values_give_jsons_bytes(built: ModuleType) -> None:
    rng = random.Random(20261206)
    for _ in range(20_000):
        obj = random_value(rng)
        assert built.json_line(obj) == python_line(obj), repr(obj)


def test_every_character_outside_the_surrogates(built: ModuleType) -> None:
    for start in range(0, 0x110000, 0x800):
        if 0xD800 <= start < 0xE000:
            continue
        text = "".join(map(chr, range(start, start + 0x800)))
        for obj in (text, {text: [text, "a" + text]}, "x" * 40 + text[:5]):
            assert built.json_line(obj) == python_line(obj)


def test_an_output_record(built: ModuleType) -> None:
    record = {
        "id": "a",
        "text": "Первый абзац.\n\nΔεύτερη «παράγραφος»\t😅",
        "lang_confidence": 0.99,
        "topic_scores": {"syria": 5.0, "un": 1e16},
        "topic_evidence": {"un": [{"term": "ООН", "start": 3, "end": 6}]},
        "topics": [],
        "empty": {},
    }
    assert built.json_line(record) == python_line(record)


@pytest.mark.parametrize(
    "obj",
    [
        "lone \ud800 surrogate",
        "low \udc80",
        {"k": ["\U0001f605", "\udfff"]},
        {1: "int key"},
        {None: 1},
        OrderedDict(a=1),  # a subclass: json may call its own items()
        Level.A,  # json writes int.__repr__ of it: Python does
        object(),
        b"bytes",
        {"set": {1}},
    ],
)
def test_python_answers_what_native_cannot_promise(built: ModuleType, obj: Any) -> None:
    assert built.json_line(obj) is None


def test_deep_and_circular_values_are_pythons(built: ModuleType) -> None:
    deep: Any = "x"
    for _ in range(64):  # native's MAX_DEPTH of containers
        deep = [deep]
    assert built.json_line(deep) == python_line(deep)
    assert built.json_line([deep]) is None  # past native's depth: Python's recursion rules
    loop: list[Any] = []
    loop.append(loop)
    assert built.json_line(loop) is None
    with pytest.raises(ValueError, match="Circular"):
        json.dumps(loop)


def text_stream(errors: str = "strict", encoding: str = "utf-8") -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(), encoding=encoding, errors=errors, newline="\n")


def written(stream: io.TextIOWrapper) -> bytes:
    stream.flush()
    raw = stream.buffer
    assert isinstance(raw, io.BytesIO)
    return raw.getvalue()


LINES: list[Any] = [
    {"id": "a", "text": "Привет\n", "score": 0.5},
    {1: "a key json converts"},
    {"id": "b", "text": "ok"},
    {"line": 3, "error": "ValueError: expected a JSON object"},
]


@pytest.mark.parametrize("use_native", [True, False])
def test_lines_reach_the_stream_in_order(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, use_native: bool
) -> None:
    if use_native:
        request.getfixturevalue("built")
    else:
        monkeypatch.setattr(jsonl, "native", None)
    stream = text_stream()
    stream.write("before\n")  # held by the text layer: it must come first
    write = line_writer(stream)
    for obj in LINES:
        write(obj)
    expected = b"before\n" + b"".join(python_line(obj) for obj in LINES)
    assert written(stream) == expected


def test_native_writes_bytes_and_python_the_rest(built: ModuleType) -> None:
    stream = text_stream()
    calls: list[str] = []
    original = stream.write

    def text_write(text: str) -> int:
        calls.append(text)
        return original(text)

    stream.write = text_write  # type: ignore[method-assign]
    write = line_writer(stream)
    for obj in LINES:
        write(obj)
    assert calls == [json.dumps(LINES[1], ensure_ascii=False) + "\n"]


def test_a_lone_surrogate_meets_the_streams_error_handler(built: ModuleType) -> None:
    obj = {"text": "a\udc80b"}
    write = line_writer(text_stream())
    with pytest.raises(UnicodeEncodeError):
        write(obj)
    stream = text_stream(errors="surrogateescape")
    line_writer(stream)(obj)
    assert written(stream) == b'{"text": "a\x80b"}\n'


@pytest.mark.parametrize("encoding", ["utf-8-sig", "latin-1", "utf-16"])
def test_other_encodings_are_the_text_layers(encoding: str) -> None:
    stream = text_stream(errors="replace", encoding=encoding)
    line_writer(stream)(LINES[0])
    reference = text_stream(errors="replace", encoding=encoding)
    reference.write(json.dumps(LINES[0], ensure_ascii=False) + "\n")
    assert written(stream) == written(reference)


def test_a_stream_without_a_byte_layer() -> None:
    stream = io.StringIO()
    write = line_writer(stream)
    for obj in LINES:
        write(obj)
    assert stream.getvalue() == "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in LINES)


def test_to_output_is_the_records_json_dump() -> None:
    from pipeline.stages.enrich import Enricher

    enricher = Enricher.from_path(None)
    items = [
        {"id": "a", "title": "Сирия и ООН", "content": "<p>Переговоры в Астане, 3-й раунд.</p>"},
        {"url": "https://x.example/a?utm_source=y", "title": "UN envoy joins Astana talks"},
        {"title": "\ud800 Syrie", "summary": "Les pourparlers d'Astana sur la Syrie à l'ONU"},
        {"content": "<p>" + "Nothing to see. " * 50 + "</p>"},
    ]
    for item in items:
        article = enricher.enrich(jsonl.to_raw(item))
        dumped = article.model_dump(mode="json", include=set(jsonl.OUTPUT_FIELDS))
        out = jsonl.to_output(article)
        assert list(out) == list(dumped)  # the same keys in the same order
        assert json.dumps(out, ensure_ascii=False) == json.dumps(dumped, ensure_ascii=False)
    assert len(jsonl.OUTPUT_FIELDS) == 11 and "topic_evidence" in jsonl.OUTPUT_FIELDS
