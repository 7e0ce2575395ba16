"""Neighbouring standards told apart by word frequencies (pipeline/stages/language_pairs.py)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from pipeline.stages import language_pairs as pairs
from pipeline.stages.language import detect_language


def test_the_table_holds_every_pair_the_module_names() -> None:
    with zipfile.ZipFile(pairs.TABLE) as archive:
        names = set(archive.namelist())
    codes = {"no": "nb", "hr": "sh"}
    wanted = {"-".join(codes.get(c, c) for c in pair) for pair in pairs.PAIRS}
    assert names == wanted | {"alphabets"}
    for pair in pairs.PAIRS:
        ratios = pairs._ratios("-".join(pair))
        assert len(ratios) > 1_000
        assert all(1.0 <= abs(r) <= 3.0 for r in ratios.values())


@pytest.mark.parametrize(
    ("text", "guess", "expected"),
    [
        # Indonesian writes Suriah and soal; Malay Syria and mengenai
        ("Utusan khusus PBB bahas soal pengungsi Suriah di Jakarta", "ms", "id"),
        ("Menteri Luar Malaysia bincang mengenai pelarian Syria", "id", "ms"),
        # Danish frit and hverken; Norwegian fritt and verken
        ("Valget var hverken frit eller retfærdigt, siger observatørerne", "no", "da"),
        ("Valget var verken fritt eller rettferdig, sier observatørene", "da", "no"),
        # Slovak: bezpečnostná, schválila; Czech: bezpečnostní, schválila
        ("Bezpečnostná rada schválila novú misiu", "cs", "sk"),
        ("Габровски майстор изработва ножове от стомана", "ru", "bg"),
        # Swedish samtal, garantmakterna, eniga against Dutch
        ("Nya samtal om Syrien – garantmakterna eniga om Idlib", "nl", "sv"),
        # Serbian Cyrillic without ђ ј љ њ ћ џ: the Serbo-Croatian list spelled in Cyrillic
        ("Сукоби у граду, затворен аеродром", "ru", "sr"),
    ],
)
def test_the_likelier_neighbour_wins(text: str, guess: str, expected: str) -> None:
    assert pairs.neighbour(text, guess) == expected


@pytest.mark.parametrize(
    ("text", "guess"),
    [
        ("Утусан", "ru"),  # no telling word: the answer stands
        ("Vláda schválila rozpočet na příští rok", "cs"),  # Czech ř: never Slovak or Polish
        ("Nová vláda schválila rozpočet", "cs"),  # shared words only
        ("The Security Council met on Syria", "en"),  # no neighbour to weigh
        # Serbian Latin: the Cyrillic-spelled list has no Latin words; never Russian
        ("Srbija i Ujedinjeni Arapski Emirati bez carina", "sr"),
    ],
)
def test_the_answer_stands_without_evidence_or_against_the_letters(text: str, guess: str) -> None:
    assert pairs.neighbour(text, guess) is None


def test_the_feed_hint_is_never_overruled_by_word_frequencies() -> None:
    text = "Utusan PBB hadiri perundingan Astana soal Suriah"
    assert detect_language(text).lang == "id"
    assert detect_language(text, hint="ms").lang == "ms"


def test_paragraphs_weigh_only_the_standards_cld2_confuses() -> None:
    assert pairs.has_neighbours("da", paragraph=True)
    assert pairs.has_neighbours("ru")
    assert not pairs.has_neighbours("ru", paragraph=True)
    assert not pairs.has_neighbours("en")


def test_an_unreadable_table_weighs_nothing_and_raises_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(pairs, "TABLE", tmp_path / "missing.zip")
    pairs._ratios.cache_clear()
    pairs._alphabets.cache_clear()
    try:
        assert pairs.neighbour("Utusan PBB hadiri perundingan soal Suriah", "ms") is None
        assert detect_language("Utusan PBB hadiri perundingan soal Suriah").lang in ("id", "ms")
    finally:
        pairs._ratios.cache_clear()
        pairs._alphabets.cache_clear()


def test_a_feeds_bokmal_code_is_the_detectors_norwegian() -> None:
    assert detect_language("Vestas får stor ordre", hint="nb").lang == "no"
