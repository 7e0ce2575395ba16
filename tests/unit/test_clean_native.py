"""The native cleaner (native/src/clean.rs) against clean.py's Python path (lexbor): the same
text wherever it answers, on hostile and random HTML; it declines (None) the rest."""

from __future__ import annotations

import random
import time
from html.entities import html5
from types import ModuleType

import pytest

from pipeline.native import native
from pipeline.stages import clean
from pipeline.stages.clean import html_to_text_python, normalize_text_python


@pytest.fixture(scope="module")
def built() -> ModuleType:
    assert native is not None, "pipeline._native is not built: `make install` needs cargo"
    assert clean._native is native, "the native cleaner's rules differ from clean.py's"
    return native


def same(built: ModuleType, html: str, max_chars: int = 100_000) -> bool:
    """Whether native answered; asserts its answer is Python's."""
    got = built.html_to_text(html, max_chars) if html.strip() else ""
    if got is None:
        return False
    assert got == html_to_text_python(html, max_chars), repr(html)
    return True


def test_the_rules_are_clean_pys(built: ModuleType) -> None:
    assert built.clean_config() == clean._NATIVE_SPEC


EDGES = [
    "<p>a</p><p>b</p>",
    "<div><p>one<p>two</div>three",
    "<p>a<div>b</div>c</p>d",
    "<ul><li>a<li>b<ul><li>c</ul>d</li></ul>e",
    "<dl><dt>a<dd>b<dt>c</dl>",
    "<h1>a<h2>b</h1>c</h3>d",
    "<b>bold</b> <i>it</i> <a href='x?a=1&b=2'>link</a>",
    "<p><b>a</p>b",  # formatting reconstructed: declines
    "<a>1<a>2",
    "<table><tr><td>x</td></tr></table>",
    "<form><input></form>after",
    "<script>if (a<b) {}</script>text",
    "<script>a<!--<script>b</script>c</script>d",
    "<script>x</scriptx>y</script>z",
    "<style>p{}</style >s",
    "<SCRIPT>x</ScRiPt >y",
    "<textarea>\n<b>x</b></textarea>t",
    "<iframe src=x><p>not</p></iframe>after",
    "<noscript><p>a</p></noscript>b",
    "<p>x<noscript><b>y</b></p>z</noscript>w",
    "<!-- c -->a<!---->b<!-->c<!--->d<!-- a -- b --!>e<!--- x --->f",
    "a<!--unterminated",
    "a<![CDATA[x]]>b<?php x ?>c</ x>d</>e< f<",
    "<!DOCTYPE html><p>x",
    "a</",
    "x<p class=",
    "x<p",
    '<p class="share">s</p><p id=related>r</p><p class="x ads">a</p><p class="loads">k</p>',
    '<div class="recommended_x">r</div><div class="advertisement-box">a</div><p>k</p>',
    '<div class="cookie-notice">c</div><div class="Comments">c</div><span class=promo>p</span>',
    '<img class="share-icon" src=x>a<br class=ad>b<br>c<hr>d<hr class=banner>e',
    "<article class=share>whole</article><main class=share>page</main>",
    '<p class="a" class="share">dup</p><p id="" class="">e</p>',
    "<p class='&amp;share'>entity</p><p class=\"ſhare\">long s</p>",
    "&amp; &amp &ampx &notin &notit; &AElig &nbsp; &#0; &#x80; &#x9F; &#xD800; &#x110000;",
    "&#65 &#x41x &#; &#x; &ampamp; &#13; &#x0d; &#1; &#99999999999999999999; &lt",
    "&unknown; &zwnj; &NotNestedGreaterGreater; &acE; &fjlig;",
    "a\r\nb\rc\r\r\nd",
    "<pre>\nx</pre><pre>\n\ny</pre><listing>\nz</listing>",
    "<pre>&#10;x</pre>",
    "  \n <script>x</script>  <p> lead</p>",
    "<meta charset=utf-8><link rel=x><title>t</title><p>x",
    "<p>a<title>b</title>",
    "<body><p>x</body>y</html>z",
    "<p>x</body><p>y",
    "</p>stray</div>end</span>",
    "<span><p>a</span>b",
    "<button>a<button>b</button>c",
    "<p>a<button><div>b</div></button>c</p>",
    "<div/>self<br/>closing<p/>x",
    "<p a=1 b='2' c=\"3\" d e=>x</p><p/a>y</p><p =x>z",
    "<svg><p>x</p></svg><math>y</math>",
    "<select><option>x</select>",
    "<x-widget class=share>w</x-widget><my-el>m</my-el>",
    "<sarcasm>s</sarcasm><ruby>r<rt>t</rt></ruby>",
    "Read also: this<p>Read also: that</p><p>READ MORE</p><p>Related articles</p>",
    "<p>Поделиться</p><p>ПОДПИШИТЕСЬ на нас</p><p>Paylaş</p><p>AYRICA OKUYUN</p>",
    "<p>ayrıca okuyun</p><p>İlgili haberler</p><p>ılgılı haberler</p><p>ſhare</p>",
    "<p>اقرأ أيضاً</p><p>اقرأ أيضا</p><p>شارك</p><p>Share_this</p><p>shared</p>",
    "<p>e\u0301 n\u0303 \u1100\u1161 \u0915\u093c \u0627\u064b</p>",
    "<p>Ã© mojibake Ð¡</p>",
    "<p>\u201cq\u201d \u2018s\u2019 \u2032 \u2033 \u00a0a\u2003b\u3000c\u200bd\ufeffe</p>",
    "<p>\x01\x0b\x0c\x7f\x85\u1680\u2028\u2029x</p>",
    "<p>a\x00b</p>",
    "plain \u00a0 text  with   spaces\n\n\n\nand lines",
    "<p>" + "x" * 200 + "</p>",
    "<div>" * 2000 + "deep" + "</div>" * 2000,
    "<span>" * 2000 + "deep" + "</x>" * 2000,
    "<b>" * 50 + "x",
    # dialog closes <p> but is not "special": lexbor keeps it out of the li and end-tag loops
    '<span class="social"><dialog>x</span><p>The article body.</p>',
    "<ul><li>one<dialog>x<li>two</dialog>three</ul>",
    "<p>a<search>b</search><menu><li>c</menu><center>d</center><summary>e</summary>",
]


@pytest.mark.parametrize("html", EDGES)
def test_edge_cases_agree(built: ModuleType, html: str) -> None:
    same(built, html)
    same(built, html, max_chars=5)


def test_common_markup_is_answered_natively(built: ModuleType) -> None:
    for html in [*EDGES[:7], "plain", "a &amp; b", "<p class=share>x</p>y"]:
        assert same(built, html), html


def test_every_named_reference_agrees(built: ModuleType) -> None:
    for name in html5:
        for after in ("", " x", "x", ";", "=", "1"):
            html = f"a&{name}{after}"
            assert same(built, html) or "\x00" in html5[name], html


def test_every_numeric_reference_edge_agrees(built: ModuleType) -> None:
    points = [*range(0, 0x100), *range(0xD7F0, 0xE010), *range(0xFDD0, 0xFDF0)]
    points += [0xFFFE, 0xFFFF, 0x1FFFE, 0x10FFFF, 0x110000, 0xFFFFFFFF, 2**40]
    for cp in points:
        for html in (f"a&#{cp};b", f"a&#x{cp:x}b", f"a&#X{cp:X};"):
            assert same(built, html), html


def test_lone_surrogates_fall_back(built: ModuleType) -> None:
    for html in ("<p>\ud800</p>", "plain \udfff", "&amp;\ud83d"):
        assert built.html_to_text(html, 100) is None
        assert clean.html_to_text(html) == html_to_text_python(html)
        assert built.normalize_text(html) is None
        assert clean.normalize_text(html) == normalize_text_python(html)


def test_a_megabyte_is_linear_and_agrees(built: ModuleType) -> None:
    paragraph = '<p>Some <b>text</b> &amp; <a href="/x?a=1&b=2">a link</a>, “quoted”.</p>'
    html = "<script>var x = 1;</script>" + paragraph * (1_000_000 // len(paragraph))
    assert same(built, html)
    hostile = [
        "<span>" * 200_000,
        "</x>" * 250_000,
        "<li>" * 200_000,
        "<div class=" + "a" * 1_000_000 + ">x",
        "<p " + "a=1 " * 250_000 + ">x",
        "&amp" * 250_000,
        "<!--" * 250_000,
        "<script>" + "</scrip" * 140_000,
    ]
    for html in hostile:
        start = time.process_time()
        got = built.html_to_text(html, 100_000)
        assert time.process_time() - start < 2.0, html[:20]
        if got is not None:
            assert got == html_to_text_python(html), html[:20]


# Random HTML: fragments of markup the cleaner meets, and some it must decline.
TAGS = [
    "p",
    "dialog",
    "search",
    "center",
    "menu",
    "summary",
    "div",
    "span",
    "b",
    "i",
    "em",
    "strong",
    "a",
    "li",
    "ul",
    "ol",
    "dd",
    "dt",
    "dl",
    "h2",
    "h3",
    "br",
    "hr",
    "img",
    "pre",
    "blockquote",
    "figure",
    "figcaption",
    "section",
    "article",
    "header",
    "footer",
    "nav",
    "aside",
    "button",
    "noscript",
    "script",
    "style",
    "iframe",
    "textarea",
    "embed",
    "canvas",
    "main",
    "font",
    "sup",
    "time",
    "x-y",
    "table",
    "td",
    "form",
    "title",
    "select",
    "svg",
    "nobr",
    "object",
    "listing",
    "input",
    "meta",
]
ATTRS = [
    "",
    " class=share",
    ' class="x related"',
    " id=main",
    " ID='sidebar'",
    ' class="story"',
    " href='/a?b=1&c=2'",
    ' data-x="a>b"',
    " class=ads-top",
    " hidden",
    " class=print",
    " class='Recommended_x'",
    " id=footer-2",
    " class=&quot;",
    ' class="K\u212a"',
    "/",
]
TEXTS = [
    "word",
    " ",
    "  ",
    "\n",
    "\r\n",
    "\t",
    "Read also: x",
    "Поделиться",
    "a&amp;b",
    "&lt;",
    "&nbsp;",
    "&#8220;q&#8221;",
    "&copy",
    "&notin;",
    "&#x200b;",
    "e\u0301",
    "\u00a0",
    "\u201cq\u201d",
    "\u200b",
    "Ã©",
    "ı",
    "İ",
    "ſhare",
    "x < y",
    "a & b",
    "&#13;",
    "\x0c",
    "<!-- c -->",
    "<!-->",
    "<?x?>",
    "</>",
    "<![CDATA[d]]>",
    "</ q>",
    "\u3000",
    "\ufeff",
    "اقرأ أيضاً",
    "Share",
    "\u2028",
    "<!DOCTYPE x>",
]


def random_html(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(1, 30)):
        roll = rng.random()
        tag = rng.choice(TAGS)
        tag = tag.upper() if rng.random() < 0.1 else tag
        if roll < 0.35:
            parts.append(f"<{tag}{rng.choice(ATTRS)}>")
        elif roll < 0.6:
            parts.append(f"</{tag}>")
        else:
            parts.append(rng.choice(TEXTS))
    return "".join(parts)


def test_random_html_agrees(built: ModuleType) -> None:
    rng = random.Random(20)
    answered = 0
    for _ in range(20_000):
        answered += same(built, random_html(rng), max_chars=rng.choice([100_000, 7]))
    assert answered > 3_000  # the comparison is not vacuous


def test_random_text_agrees(built: ModuleType) -> None:
    rng = random.Random(21)
    alphabet = [chr(c) for c in [*range(0, 0x80), *range(0x80, 0x250), *range(0x300, 0x370)]]
    alphabet += [*"\u200b\u2060\ufeff\u00a0\u2002\u202f\u3000“”„‟″‘’‚‛′\r\n  ", *"ÃÐâ€™"]
    alphabet += ["Read also", "share this", "\n\n\n", "Lire aussi"]
    for _ in range(20_000):
        text = "".join(rng.choices(alphabet, k=rng.randint(0, 60)))
        got = built.normalize_text(text)
        if got is not None:
            assert got == normalize_text_python(text), repr(text)
        if text.strip():
            same(built, text)


PHRASES = """read also|related articles|share this|follow us|читайте также|смотрите также|
подписывайтесь|дивіться також|à lire aussi|lesen sie auch|ayrıca bakınız|paylaş|сондай-ақ оқыңыз|
اقرأ أيضا|اقرأ أيضاً|همچنین بخوانید""".replace("\n", "").split("|")
FOLDED = ["", "I", "İ", "ı", "i", "ſ", "S", "\u212a", "K", "\u1c80", "\u1c82", "\u1c84", "À", "Ş"]


def test_boilerplate_lines_agree(built: ModuleType) -> None:
    # every phrase with each letter replaced by characters `re` may fold into it, and tails
    # that do or do not end a word there
    for phrase in PHRASES:
        variants = {phrase, phrase.upper(), phrase.title()}
        for at in range(len(phrase)):
            variants |= {phrase[:at] + c + phrase[at + 1 :] for c in FOLDED}
        for variant in variants:
            for tail in ("", ": x", "x", "_", "1", "\u064b", "-", " " + "y" * 160):
                text = f"lead\n{variant}{tail}\n\n\ntail"
                assert built.normalize_text(text) == normalize_text_python(text), text


def test_normalize_text_agrees_on_every_code_point(built: ModuleType) -> None:
    points = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    for at in range(0, len(points), 2048):
        chunk = points[at : at + 2048]
        for text in (
            " ".join(chr(c) for c in chunk),
            "\n".join(f"{chr(c)}a{chr(c)}" for c in chunk),
            "".join(f"e{chr(c)}" for c in chunk),
        ):
            got = built.normalize_text(text)
            if got is not None:
                assert got == normalize_text_python(text), hex(chunk[0])


# Characters of every UTF-8 length and of the scripts articles come in, with what NFC
# composes them with, what _MOJIBAKE looks for and what tidy replaces: long texts of them
# run the scans that step 16 bytes at a time (native/src/clean.rs: nfc_plain, tidy_stop,
# find2) across their block edges, and the character before an NFC-unsafe one is of every
# width (nfc_regions finds it by stepping back).
WIDE = [
    *"aZ09 .,;<&>\n\t\r\x0b\x0c\x01\x7f",
    *"иЙёїґқәҚ",  # Cyrillic: 0xD0/0xD1 leads skipped, 0xD2/0xD3 looked at
    "\u0306",  # combining breve: и + it is й
    *"éüçÃÐâÂ\u00a9\u00bf\u00c2\u00f4",  # 0xC3 leads: _MOJIBAKE's
    *"€™–—“”„‘’‚′″…•",  # U+2000 and up: quotes, and _CONTINUATION's
    *"\u00a0\u2003\u202f\u3000\u200b\u2060\ufeff",
    *"אבש\u05b8\u05bc\u05c1",  # Hebrew letters and points
    *"ابت\u064b\u0653\u0654\u0670",  # Arabic letters, harakat, madda and hamza above
    *"가각\u1161\u11a8",  # Hangul syllables and jamo that compose with them
    *"アカ\u3099\u309a日本語",  # kana, the voiced marks, CJK
    *"\uf900\ufb1d\ufe20",  # CJK compatibility, Hebrew presentation, half marks
    *"𝒜😀\U0001d15e\U00010000",  # 4 bytes
    *"\u0301\u0327\u0308\u20d7",
]


def test_long_mixed_text_agrees(built: ModuleType) -> None:
    rng = random.Random(22)
    answered = 0
    for _ in range(4_000):
        picks = rng.choices(WIDE, k=rng.randint(1, 300))
        # runs of one character cross 16- and 64-byte edges at every offset
        if rng.random() < 0.5:
            at = rng.randrange(len(picks))
            picks[at:at] = [rng.choice(WIDE)] * rng.randint(1, 70)
        text = "".join(picks)
        got = built.normalize_text(text)
        if got is not None:
            answered += 1
            assert got == normalize_text_python(text), repr(text)
        html = f"<p>{text.replace('<', ' ')}</p><div>{text[::-1]}</div>"
        answered += same(built, html, max_chars=rng.choice([100_000, 37]))
    assert answered > 2_000  # the comparison is not vacuous


def test_each_character_after_each_width_agrees(built: ModuleType) -> None:
    # every character of WIDE after every other, at each offset in a 16-byte block
    for before in WIDE:
        for char in WIDE:
            for pad in range(0, 18):
                text = "x" * pad + before + char + "y" * 20
                got = built.normalize_text(text)
                if got is not None:
                    assert got == normalize_text_python(text), repr(text)
