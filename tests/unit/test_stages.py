"""The pure stages: cleaning, canonical URLs, language detection, tagging, the enrich core."""

from __future__ import annotations

import json
import random
import unicodedata
from collections.abc import Callable

import pytest

from pipeline.schema import RawArticle
from pipeline.stages import canonical
from pipeline.stages.canonical import article_id, canonical_url, declared_canonical, domain_of
from pipeline.stages.clean import html_to_text
from pipeline.stages.enrich import Enricher
from pipeline.stages.language import detect_language
from tests.support.paths import FIXTURES


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return Enricher.from_path()


def test_html_to_text_keeps_paragraphs_and_drops_scripts() -> None:
    html = (
        "<p>First &amp; <b>bold</b></p><script>alert('x')</script>"
        "<style>p{}</style><p>Second<br>line</p><!-- hidden --><img src=x onerror=alert(1)>"
    )
    assert html_to_text(html) == "First & bold\n\nSecond\nline"


def test_html_to_text_never_lets_markup_or_code_through() -> None:
    hostile = (
        '<div><iframe src="javascript:alert(1)"></iframe><svg onload=alert(1)><script>x</script>'
        '</svg><a href="javascript:alert(2)">link</a><form><input value=pw></form>'
        "<noscript><p>no</p></noscript>ok</div><p"
    )
    text = html_to_text(hostile)
    assert text == "link ok"
    assert "<" not in text and "alert" not in text


def test_html_to_text_normalises_unicode_and_whitespace() -> None:
    decomposed = unicodedata.normalize("NFD", "Астанé")
    assert html_to_text(f"<p>  {decomposed}\u00a0\u200b  x </p>") == "Астанé x"
    assert html_to_text("plain\r\n\r\n\r\n\r\ntext") == "plain\n\ntext"
    assert html_to_text("") == ""


def test_canonical_url_removes_tracking_and_normalises_host() -> None:
    url = "HTTPS://WWW.Example.org:443/a/b?utm_source=rss&b=2&a=1&fbclid=x#frag"
    assert canonical_url(url) == "https://example.org/a/b?a=1&b=2"
    assert domain_of(url) == "example.org"
    assert article_id(url) == article_id("https://example.org/a/b?b=2&a=1")
    assert article_id("", guid="g-1") == article_id("", guid="g-1") != article_id("", guid="g-2")


def _urllib_or_error(f: Callable[[str], str], url: str) -> object:
    try:
        return f(url)
    except ValueError as exc:  # an invalid port or IPv6 host: the shortcut must raise too
        return type(exc)


def test_canonical_url_shortcut_gives_urllibs_answer() -> None:
    # URLs already canonical skip urllib: the same answer (and the same errors) as urllib's
    # on URLs made of the characters either path treats specially
    rng = random.Random(3)
    pieces = [*"aAzZ09.-_:/?#@%[] \t\n\r\x00\x7f\\é\u00a0\u2126=&~", "www.", "WWW.", "://"]
    pieces += ["http", "HTTPS", "utm_x=1", "//", "\u3000", ":443", ":80", ":x", ".."]
    urls = ["https://news.example/en/0", "http://a.b", "https://x.org/a%20b/?", "https://www.x"]
    for _ in range(100_000):
        scheme = rng.choice(["https://", "http://", "", "HTTP://", " https://", "https:", "ftp://"])
        urls.append(scheme + "".join(rng.choices(pieces, k=rng.randint(0, 12))))
    shortcut = 0
    for url in urls:
        slow = _urllib_or_error(canonical._canonical_url, url.strip()) if url.strip() else ""
        assert _urllib_or_error(canonical_url, url) == slow, ascii(url)
        slow_domain = _urllib_or_error(canonical._domain_of, url)
        assert _urllib_or_error(domain_of, url) == slow_domain, ascii(url)
        shortcut += canonical._PLAIN.fullmatch(url.strip()) is not None
    assert shortcut > 500


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Переговоры по Сирии пройдут в Астане при участии ООН", "ru"),
        ("The talks on Syria will take place in Kazakhstan's capital next week", "en"),
        ("Les pourparlers sur la Syrie reprendront la semaine prochaine à Astana", "fr"),
        ("Suriye görüşmeleri gelecek hafta Astana'da yeniden başlayacak", "tr"),
        ("Астанада Сирия бойынша келіссөздер келесі аптада өтеді", "kk"),
        ("Die Gespräche über Syrien werden nächste Woche fortgesetzt", "de"),
    ],
)
def test_detect_language(text: str, lang: str) -> None:
    detection = detect_language(text)
    assert detection.lang == lang
    assert 0 < detection.confidence <= 1


def test_detect_language_und_for_no_text() -> None:
    assert detect_language("  123 !!").lang == "und"


def test_detect_language_hint_is_prior_not_answer() -> None:
    text = "Переговоры по Сирии пройдут в Астане при участии ООН и делегаций"
    assert detect_language(text, hint="en").lang == "ru"


def test_detect_language_hint_settles_names_only_headlines() -> None:
    """Nothing in the text tells Bulgarian names from Russian ones: the feed decides."""
    assert detect_language("Денков, Митов и Радев", hint="bg").lang == "bg"
    assert detect_language("Денков, Митов и Радев", hint="ru").lang == "ru"
    # Serbian Latin reads as Croatian to the model; a Serbian feed settles it.
    assert detect_language("Vlada usvojila novi zakon o medijima", hint="sr").lang == "sr"


@pytest.mark.parametrize(
    ("text", "hint", "lang"),
    [
        ("Gold hits record", "ru", "en"),  # another script: the hint cannot lift it
        ("Відключення світла скасували", "ru", "uk"),  # і is not a Russian letter
        ("Правительство Казахстана утвердило бюджет", "kk", "ru"),
    ],
)
def test_detect_language_short_text_overrides_a_wrong_hint(text: str, hint: str, lang: str) -> None:
    assert detect_language(text, hint=hint).lang == lang


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Lula, Modi and Ramaphosa", "en"),  # "and", not Kurdish or Estonian n-grams
        ("Pavlodarda qatty jel soqty", "kk"),  # y as a vowel and q: Kazakh Latin, not Uzbek
        ("BMMYK: Suriyeli sayısı bir yılda 200 bin azaldı", "tr"),  # an acronym is no word
    ],
)
def test_detect_language_headline_evidence(text: str, lang: str) -> None:
    assert detect_language(text).lang == lang


def _fixture_cases() -> list[dict[str, object]]:
    lines = (FIXTURES / "headlines.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.mark.parametrize("case", _fixture_cases(), ids=lambda c: str(c["id"]))
def test_enrich_fixture_cases(enricher: Enricher, case: dict[str, object]) -> None:
    from pipeline.stages.jsonl import to_raw

    result = enricher.enrich(to_raw(case))
    assert result.lang == case["lang"]
    assert result.topics == case["topics"]


def test_seed_article_is_russian_with_all_three_topics(
    enricher: Enricher, seed_article: tuple[str, str]
) -> None:
    headline, body = seed_article
    result = enricher.enrich(RawArticle(id="seed", title=headline, content_html=body))
    assert result.lang == "ru"
    assert set(result.topics) == {"syria", "astana_process", "un"}
    # The evidence shows the inflected forms that carried each topic.
    forms = {e["text"] for e in result.topic_evidence["syria"]}
    assert {"Сирии", "сирийскому"} <= forms
    for item in result.topic_evidence["un"]:
        source = result.title if item["field"] == "title" else result.text
        assert source[item["start"] : item["end"]] == item["text"]
    assert result.topic_evidence["un"][0]["field"] == "title"
    assert result.topic_scores["astana_process"] >= 2


def test_enrich_text_is_clean_and_bounded(enricher: Enricher) -> None:
    raw = RawArticle(
        id="x",
        title="<b>Title</b> &amp; more",
        summary_html="<p>short</p>",
        content_html="<p>" + "слово " * 30_000 + "</p><script>evil()</script>",
    )
    result = enricher.enrich(raw)
    assert result.title == "Title & more"
    assert "evil" not in result.text
    assert len(result.text) <= 100_000


@pytest.mark.parametrize(
    "obj",
    [
        {"content": "<div><p></p><script>x()</script><img src=x></div>"},
        {"title": "🔥🔥🔥 😀 👍"},
        {"title": "2017 01 22 12:00 +7 (777) 123-45-67"},
    ],
    ids=["only-markup", "only-emoji", "only-digits"],
)
def test_contentless_input_is_und_without_topics(enricher: Enricher, obj: dict[str, str]) -> None:
    from pipeline.stages.jsonl import to_raw

    result = enricher.enrich(to_raw(obj))
    assert (result.lang, result.topics) == ("und", [])


def test_invalid_utf8_surrogates_do_not_crash(enricher: Enricher) -> None:
    from pipeline.stages.jsonl import to_raw

    result = enricher.enrich(to_raw({"title": "bad \udcff\ud800 text on the UN and Syria"}))
    assert "\ufffd" in result.title
    assert result.to_json()  # encodable
    assert result.topics == ["syria", "un"]


def test_five_megabytes_of_text_is_bounded(enricher: Enricher) -> None:
    from pipeline.stages.jsonl import to_raw

    huge = {"content": "<p>" + "Переговоры по Сирии продолжаются. " * 150_000 + "</p>"}
    result = enricher.enrich(to_raw(huge))
    assert result.lang == "ru" and "syria" in result.topics
    assert len(result.text) <= 100_000


@pytest.mark.parametrize(
    ("obj", "lang", "topics"),
    [
        (
            {
                "title": "مجلس الأمن يناقش الوضع في سوريا",
                "content": "<p>اجتمع مجلس الأمن التابع للأمم المتحدة لمناقشة محادثات أستانا.</p>",
            },
            "ar",
            ["syria", "astana_process", "un"],
        ),
        (
            {"title": "نشست آستانه درباره سوریه با حضور سازمان ملل برگزار شد"},
            "fa",
            ["syria", "astana_process", "un"],
        ),
    ],
    ids=["arabic", "persian"],
)
def test_right_to_left_scripts(
    enricher: Enricher, obj: dict[str, str], lang: str, topics: list[str]
) -> None:
    from pipeline.stages.jsonl import to_raw

    result = enricher.enrich(to_raw(obj))
    assert (result.lang, result.topics) == (lang, topics)


def test_near_duplicates_share_a_story_and_restart_keeps_it() -> None:
    from pipeline.stages.dedupe import StoryIndex, hamming, simhash

    lead = (
        "Russia, Turkey and Iran, the guarantors of the Astana process, agreed on a trilateral "
        "mechanism to monitor the truce in Syria. Delegates said the next round would follow "
        "in February after consultations in Geneva."
    )
    copy = lead.replace("agreed on a", "agreed on Tuesday on a").replace(" after", ", after")
    other = (
        "The central bank left its benchmark rate unchanged on Monday, citing slowing inflation "
        "and a stable currency, and said it would review the decision in March."
    )
    a, b, c = simhash(lead), simhash(copy), simhash(other)
    assert a is not None and b is not None and c is not None
    assert hamming(a, b) <= 10 < hamming(a, c)
    store: dict[str, list[str]] = {}
    stories = StoryIndex(store)
    assert [stories.assign(i, f) for i, f in (("a", a), ("b", b), ("c", c))] == ["a", "a", "c"]
    assert stories.assign("b", b) == "a"  # re-delivery: same story
    assert StoryIndex(store).assign("d", b) == "a"  # state reloaded from the store
    assert simhash("Too short to group") is None


def test_story_ring_grows_as_it_fills_then_turns() -> None:
    # the ring's lists grow with the articles remembered (not made whole at its capacity),
    # then the oldest story is forgotten, in the store too, as before
    from pipeline.stages.dedupe import StoryIndex

    fingerprints = [0, (1 << 64) - 1, 0x0F0F_0F0F_0F0F_0F0F, 0xF0F0_F0F0_F0F0_F0F0]
    big = StoryIndex({})
    big.assign("a", fingerprints[0])
    assert len(big._ids) == len(big._stories) == 1
    store: dict[str, list[str]] = {}
    ring = StoryIndex(store, capacity=3)
    assert [ring.assign(n, fp) for n, fp in zip("abcd", fingerprints, strict=True)] == list("abcd")
    assert sorted(store) == ["b", "c", "d"] and ring._ids == ["d", "b", "c"]
    assert ring.assign("e", fingerprints[3] ^ 1) == "d"  # a near copy of d, remembered
    assert ring.assign("f", fingerprints[0]) == "f"  # a's fingerprint: a is forgotten
    assert sorted(store) == ["d", "e", "f"] and ring._ids == ["d", "e", "f"]
    reloaded = StoryIndex(store, capacity=3)
    assert reloaded._ids == list(store) and reloaded.assign("g", fingerprints[3]) == "d"


def test_cleaning_repairs_mojibake_and_drops_boilerplate() -> None:
    mojibake = "Ð\x9fÐµÑ\x80ÐµÐ³Ð¾Ð²Ð¾Ñ\x80Ñ\x8b Ð¿Ð¾ Ð¡Ð¸Ñ\x80Ð¸Ð¸"
    html = (
        f"<p>{mojibake}</p>"
        '<div class="social-share">Share on X</div><ul id="related">Other story</ul>'
        "<p>Читайте также: Другая новость</p><p>READ MORE: elsewhere</p>"
        "<p>He said “yes” — it’s fine</p>"
    )
    assert html_to_text(html) == 'Переговоры по Сирии\n\nHe said "yes" — it\'s fine'


def test_cleaning_nested_removals_and_breaks_next_to_blocks() -> None:
    # Elements inside a subtree removed already are skipped, not edited; breaks and blocks
    # get their newlines in one walk.
    html = (
        "<form>a<button>b</button></form>x<nav><svg>s</svg></nav>y"
        '<div class="share"><a class="share-x">X</a><script>z</script></div>w'
        "<p>one<br></p><br><p>two</p>three<br>four"
    )
    assert html_to_text(html) == "x y w\n\none\n\ntwo\n\nthree\nfour"


def test_cleaning_whitespace_and_quotes_line_by_line() -> None:
    text = "  a \u00a0\t b  \n\u2003\u201cq\u201d\u2032\x85\n\n\n\n \u200b\x07c\r\nshare this\n"
    assert html_to_text(text) == 'a b\n"q"\'\n\nc'


def test_cleaning_keeps_text_that_only_looks_like_boilerplate() -> None:
    long_line = "Read also the statement, which the ministry published in full on Monday " * 3
    text = html_to_text(f"<p>{long_line}</p><p>Café crème, déjà vu</p>")
    assert text.startswith("Read also the statement") and "Café crème, déjà vu" in text


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Qazaqstan qūramasy Äzerbaijandy 2:0 esebımen jeñdı", "kk"),
        ("Astanada Siria boiynşa kelıssözderdıñ jaña raundy bastaldy", "kk"),
        ("استانادا سيريا بويىنشا كەلىسسوزدەر باستالدى", "kk"),
        ("Үкімет фермерлерге жеңілдікті несие береді", "kk"),
        ("Україна та Польща підписали угоду про співпрацю", "uk"),
        ("Урад Беларусі абмеркаваў новы бюджэт на наступны год", "be"),
        # English possessives are not Uzbek oʻ gʻ (two made an English article uz)
        (
            "Dubai's flagship carrier finalized a deal for 30 of Boeing's 787-9 jets, "
            "executives announced at the airshow, while Hong Kong's protests went on.",
            "en",
        ),
        ("O'zbekiston Prezidenti bo'lgan uchrashuvda g'arb davlatlari haqida gapirdi", "uz"),
    ],
)
def test_letters_settle_neighbours(text: str, lang: str) -> None:
    assert detect_language(text).lang == lang


@pytest.mark.parametrize(
    ("text", "hint", "lang"),
    [
        # Arabic script: Kyrgyz ۅ ۉ, Uyghur ې ۈ, Kazakh neither (py3langid says ug for all).
        ("قىرعىزستان ۅكمۅتۉ جاڭى بيۇدجەتتى بەكىتتى", None, "ky"),
        ("ئۈرۈمچىدە يېڭى مەكتەپ ئېچىلدى", None, "ug"),
        ("استانادا سيريا بويىنشا كەلىسسوزدەر باستالدى", None, "kk"),
        # Kazakh Latin (ū, ä) against Turkish and Crimean Tatar (ñ ı q, but no ä or ū).
        ("Qazaqstan ükımetı jaña salyq kodeksın maqūldady", None, "kk"),
        ("Türkiye'de enflasyon yüzde 40'ın altına düştü", None, "tr"),
        ("Qırım tatarlarınıñ sürgünligi yıldönümi Aqmescitte anıldı", None, "crh"),
        # Estonian ä and õ beside a foreign name's q: not Kazakh Latin
        ("Eesti jäi A. Le Coq Arenal alla, ainsa värava lõid külalised", None, "et"),
        # Serbian Latin: ekavian forms; Croatian: ijekavian; neither: the feed's hint.
        ("Predsednik je posle sastanka rekao da će se mere primeniti od nedelje", None, "sr"),
        ("Izrael bombardovao ciljeve, saradnja sa Evropom prekinuta", None, "sr"),
        ("Izrael bombardirao ciljeve, suradnja s Europom prekinuta", None, "hr"),
        ("Predsjednik je poslije sastanka rekao da će se mjere primijeniti od tjedna", None, "hr"),
        ("Vlada usvojila novi zakon o medijima", "hr", "hr"),
        ("Vlada usvojila novi zakon o medijima", "bs", "bs"),
        # Serbian Cyrillic without ђ ј љ њ ћ џ: words Russian and Macedonian do not write.
        ("Цене струје поново расту од данас", None, "sr"),
        ("Цены на электричество снова растут", None, "ru"),
        ("Цената на струјата повторно расте", None, "mk"),
        # Indonesian against Malay: the base rate of news, unless the words are Malay.
        ("PBB gelar sidang darurat bahas krisis pangan", None, "id"),
        ("Kerajaan Malaysia umum bajet baharu untuk tahun depan", None, "ms"),
        # Uzbek oʻ gʻ; Uzbek Cyrillic ў ҳ қ; Tajik ҷ ӣ ӯ; Turkmen ň and ә without қ ғ ұ і;
        # Tatar һ; Bashkir ҡ; Kazakh қ і; Kyrgyz ң ө ү alone.
        ("Oʻzbekiston hukumati yangi soliq kodeksini qabul qildi", None, "uz"),
        ("Ўзбекистон ҳукумати янги солиқ кодексини қабул қилди", None, "uz"),
        ("Ҳукумати Тоҷикистон буҷети навро қабул кард", None, "tg"),
        ("Türkmenistanyň hökümeti täze salgyt kodeksini kabul etdi", None, "tk"),
        ("Nýr forsætisráðherra kynnir nýja stjórn í Höfða", None, "is"),  # ý ö, but ð æ
        ("Түркменистаның хөкүмети тәзе салгыт кодексини кабул етди", None, "tk"),
        ("Татарстан һөкүмәте яңа бюджетны кабул итте", None, "tt"),
        ("Башҡортостан хөкүмәте яңы бюджетты ҡабул итте", None, "ba"),
        ("Қазақстан үкіметі жаңа бюджетті бекітті", None, "kk"),
        ("Кыргызстан өкмөтү жаңы бюджетти бекитти", None, "ky"),
        # Outside the old ~50 candidates: Irish, Maltese (ħ għ); Lithuanian ė į ų.
        ("Tá an Rialtas tar éis buiséad nua a fhoilsiú inniu", None, "ga"),
        ("Il-Gvern ħabbar baġit ġdid għas-sena d-dieħla", None, "mt"),
        ("Vyriausybė patvirtino naują biudžetą kitiems metams", None, "lt"),
        # Kyrgyz in the Arabic script rounds its later vowels; Kazakh does not
        ("بىرىككەن ۇلۇتتار ۇيۇمۇ جاردام جىبەردى", None, "ky"),
        ("بىرىككەن ۇلتتار ۇيىمى كومەك جىبەردى", None, "kk"),
        # Kazakh у after a consonant (салу: سالۋ) outweighs a rounded vowel (солтүстік)
        ("قالانىڭ سولتۇستىگىندە جول سالۋ باستالدى", None, "kk"),
        # ى inside a word, with no Turkic letter: Kazakh, not Arabic; Arabic writes شىء
        ("بيداي ورىمى اياقتالدى", None, "kk"),
        ("لا شىء تغير في المدينة بعد الانتخابات البلدية الأخيرة", None, "ar"),
        # Kyrgyz ч inside a word (тынч: تىنچ), which Kazakh writes ш
        ("قالادا تىنچتىق ساقتالىپ تۇرات", None, "ky"),
        ("بىشكەكتە جاڭى مەكتەپ اچىلدى", None, "ky"),
        # Turkmen "билен" (with) in a headline without ң ө ү
        ("Лавров Дохада аш-Шейбани билен душушды", None, "tk"),
        # Tajik with one of its function words and no letter of its own: CLD2's reliable
        # Tajik (py3langid's model says Russian); a feed declaring Russian keeps Russian
        ("Дар пойтахт нархи меваю сабзавот боло рафт", None, "tg"),
        ("Дар пойтахт нархи меваю сабзавот боло рафт", "ru", "ru"),
        # Kyrgyz кайра and its rounded -догу (Tatar -дагы), Kazakh's attached -мен
        ("Алептогу базар кайра ачылды", None, "ky"),
        ("Театр жаңа маусымды «Манас» операсымен ашады", None, "kk"),
        # Azerbaijani without ə: its x where Turkish writes h or k, its BMT (Turkish BM)
        ("BMT: Sudanda milyonlarla insanın yardıma ehtiyacı var", None, "az"),
        ("Türkiye BM toplantısında konuştu", None, "tr"),
        # Serbian zemljotres, Croatian potres
        ("Turska: zemljotres jačine šest stepeni", None, "sr"),
        ("Turska: potres jačine šest stupnjeva", None, "hr"),
        # Serbian Švajcarska and ekavian menja, Croatian Švicarska
        ("Švajcarska uvodi nova pravila za banke", None, "sr"),
        ("Švicarska uvodi nova pravila za banke", None, "hr"),
        ("Vlada menja zakon o radu", None, "sr"),
        # the UN's abbreviation undeclined (Serbian) or declined with a hyphen (Croatian)
        ("Izaslanik UN stigao u Damask", None, "sr"),
        ("Izaslanik UN-a stigao u Damask", None, "hr"),
        # a Serbian town
        ("Kovač iz Sombora osvojio nagradu", None, "sr"),
        # Serbian "sa" before any word; Croatian "s", and "sa" only before s, z, š, ž
        ("Pedersen sa predstavnicima Rusije, Turske i Irana", None, "sr"),
        ("Pedersen s predstavnicima Rusije, Turske i Irana", None, "hr"),
        ("Pedersen sa zamjenikom u Ženevi", None, "hr"),
        # what the rules above must leave alone (a review's reproducers): Russian итогу,
        # Arabic ى before ال where a space was lost, a Russian loan in -мен in Kyrgyz,
        # Macedonian билен (herbal)
        ("По итогу переговоров Путин и Си Цзиньпин подписали соглашение", None, "ru"),
        ("Курс рубля по итогу торгов вырос", None, "ru"),
        ("وصل الرئيس المصري إلىالقاهرة بعد زيارة رسمية", None, "ar"),
        ("مصطفىالكاظمي يلتقي وزير الخارجية الأمريكي", None, "ar"),
        ("Мектеп бүтүрүүчүлөр жалпы республикалык экзамен тапшырышат", None, "ky"),
        ("Билен чај против настинка", None, "mk"),
        # Turkmen Cyrillic without җ ә: its voiced words (Kyrgyz катышты)
        ("Түркмен векилиети халкара маслахата гатнашды", None, "tk"),
        # ў beside и: Uzbek, not Belarusian (which writes і)
        ("Россия ва Эрон бўйича келишди", None, "uz"),
        # Hindi postpositions against Nepali and Marathi ones
        ("सुरक्षा परिषद ने सीरिया पर बुलाई आपात बैठक", None, "hi"),
        ("सुरक्षा परिषदले सिरियाबारे आपतकालीन बैठक बोलायो र प्रस्ताव पारित गर्यो", None, "ne"),
        # kana make Japanese of a kanji-heavy headline
        ("全国連合小学校長会、教員不足で文科相に緊急要望", None, "ja"),
        # more ekavian roots and Serbia's names; Croatian words overrule a Slovenian guess
        ("Sirija: prelazne vlasti raspisale izbore za parlament", None, "sr"),
        ("Nova rotacija Vojske Srbije otputovala u mirovnu misiju", None, "sr"),
        ("Jamci primirja dogovorili nove zone", None, "hr"),
        ("Slovenski nogometaši so zmagali v Ljubljani", None, "sl"),
        # ...unless word frequencies say Slovenian (ponovno, svet, veleposlaništvo: both)
        (
            "Generalna skupščina ponovno podprla resolucijo\nVeleposlaništvo Slovenije v New "
            "Yorku je sporočilo, da je svet ponovno pozval k premirju, ki ga podpira velika "
            "večina držav članic Združenih narodov.",
            None,
            "sl",
        ),
        # Croatian Liga nacija (Serbian for the UN is Ujedinjene nacije); ijekavian srijeda
        ("Hrvatska igra polufinale Lige nacija, a finale Lige nacija je u Rotterdamu", None, "hr"),
        # Turkmen keeps д after a voiceless consonant (Kyrgyz Халепте); Tajik and Sanskrit
        # guesses kept or read by their own words
        ("Халепде гүйчли партлама болды", None, "tk"),
        # ...but Kyrgyz writes -да after an abbreviation read by its letters (АКШда)
        ("АКШда шайлоо өтүп, Трамп жеңишке жетти", None, "ky"),
        ("АКШда шайлоо өтүп, Трамп жеңишке жетти", "ky", "ky"),
        ("Гутерриш ба Душанбе меояд", None, "tg"),
        ("अस्ताना वार्ता का 22वां दौर संपन्न", None, "hi"),
    ],
)
def test_script_rules_settle_what_detectors_confuse(text: str, hint: str | None, lang: str) -> None:
    assert detect_language(text, hint=hint).lang == lang


def test_serbian_or_croatian_with_no_word_of_either_is_not_a_sure_answer() -> None:
    undecided = detect_language("Nur-Sultan: nova runda razgovora o Siriji")
    assert undecided.lang == "hr" and undecided.confidence <= 0.5
    assert (
        detect_language("Predsednik je posle sastanka rekao da je saradnja dobra").confidence > 0.5
    )
    assert detect_language("Nur-Sultan: nova runda razgovora o Siriji", hint="sr").lang == "sr"


def test_cld2s_best_effort_never_decides_a_paragraph() -> None:
    # CLD2 with bestEffort calls this Spanish lead 99 % English and reliable; without it,
    # unknown, and the model reads it
    text = (
        "El Sevilla se complica la eliminatoria tras perder en Astaná\nEl conjunto hispalense "
        "cayó por 2-1 ante el FC Astana en el frío estadio de la capital kazaja y tendrá que "
        "remontar en casa para seguir en la Conference League."
    )
    assert detect_language(text).lang == "es"


def test_varieties_fold_into_their_macrolanguage() -> None:
    """No short list: py3langid's every language can be answered, Wu and Cantonese as zh."""
    from pipeline.stages.language import FOLD, _columns

    answers = _columns()[0]
    assert len(answers) > 120 and {"ga", "mt", "tk", "tt"} <= set(answers)
    assert not set(FOLD) & set(answers)
    assert detect_language("北京今天宣布新的经济刺激计划").lang == "zh"


def test_one_quoted_kazakh_name_does_not_make_russian_text_kazakh() -> None:
    text = (
        "Президент Казахстана Касым-Жомарт Тоқаев провёл встречу с министром иностранных дел. "
        "Стороны обсудили подготовку очередного раунда переговоров по сирийскому "
        "урегулированию, а также вопросы экономического сотрудничества и транзита грузов. "
    ) * 2
    assert detect_language(text).lang == "ru"


def test_paragraphs_take_the_fast_detector_and_letters_still_decide() -> None:
    from pipeline.stages.language import _cld2

    russian = (
        "Россия, Турция и Иран договорились о создании механизма наблюдения за перемирием "
        "в Сирии. Делегации встретятся снова в феврале, сообщили дипломаты в Астане."
    )
    assert _cld2(russian) is not None and detect_language(russian).lang == "ru"
    assert _cld2("bad \udcff surrogate " * 20) is None  # refused input falls back
    # cleaned text is plain text: a lone "<" does not hide the rest of the paragraph (read
    # as HTML, two thirds English came out Russian, reliably, at 99 %)
    english = (
        "The delegations of the guarantor states met again in Astana to discuss the ceasefire "
        "in Syria and the work of the constitutional committee, which has not met for a year. "
    )
    mixed = _cld2(russian + " < " + english * 2)
    assert mixed is None or mixed.lang == "en"
    kazakh = (
        "Сирия бойынша келіссөздердің кезекті раунды Астанада басталды. Оған Ресей, Түркия "
        "және Иран өкілдері қатысып, бітімгершілік режимін талқылады."
    )
    assert detect_language(kazakh).lang == "kk"


def test_chrome_classes_on_page_elements_do_not_remove_the_article() -> None:
    from pipeline.stages.clean import html_to_text

    for html in (
        '<html class="share"><body><p>Talks on Syria resumed.</p></body></html>',
        '<body id="related-page"><p>Talks on Syria resumed.</p>'
        '<div class="share">Tweet</div></body>',
        '<article class="share-article"><p>Talks on Syria resumed.</p></article>',
    ):
        assert html_to_text(html) == "Talks on Syria resumed."


@pytest.mark.parametrize(
    ("declared", "page", "accepted"),
    [
        ("https://www.x.org/a?utm_source=f", "https://x.org/a?id=2", "https://x.org/a"),
        ("https://x.org/a", "https://m.x.org/amp/a", "https://x.org/a"),  # the mobile host
        ("https://m.x.org/a", "https://x.org/a", "https://m.x.org/a"),
        ("https://victim.org/a", "https://x.org/a", None),  # another site's article
        ("https://notx.org/a", "https://x.org/a", None),  # a suffix is not a parent
        ("https://org/a", "https://x.org/a", None),  # a bare TLD is no site
        ("https://x.org/", "https://x.org/2026/story", None),  # the front page: a wall
        ("http://10.0.0.1/a", "http://127.0.0.1/a", None),
        ("ftp://x.org/a", "https://x.org/a", None),
        (None, "https://x.org/a", None),
    ],
)
def test_a_page_names_its_canonical_url_only_for_its_own_site(
    declared: str | None, page: str, accepted: str | None
) -> None:
    assert declared_canonical(declared, page) == accepted


def test_the_kazakh_instrumental_rule_is_linear() -> None:
    """A run of letters with no word boundary: the rule anchors at one. On 10,000 letters
    the unanchored rule took ~0.8 s, the anchored one ~3 ms: a bound far from both."""
    import time

    from pipeline.stages.language_scripts import settle

    start = time.process_time()
    assert settle("Кыргыз " + "өкмөт" * 2000, "ky") == "ky"
    assert time.process_time() - start < 0.3


@pytest.mark.parametrize("weight", [2.0, 1.5, 0.0, 0.1, 1.1, 0.3, 1e300, float("inf")])
def test_topic_scores_and_evidence_order_as_summed_and_sorted(weight: float) -> None:
    # _scored: the same score (to the bit) and the same order as the sum over the hits and
    # the stable sort, title first, then by offset
    from pipeline.stages.tagging import Hit, _scored

    rng = random.Random(7)
    for _ in range(300):
        hits = [
            Hit("t", rng.choice(["title", "text"]), n, n, rng.randint(0, 9), 0)
            for n in range(rng.randint(0, 30))
        ]
        score, ordered = _scored(hits, weight)
        expected = sum(weight if h.field == "title" else 1.0 for h in hits)
        assert repr(score) == repr(expected)
        assert ordered == sorted(hits, key=lambda h: (h.field != "title", h.start))


def test_names_inside_words_located_alike_when_remembered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a vocabulary remembers each token's place per infix phrase: the same offsets the
    # second time, for another phrase with other values, and after the memory is cleared
    # when full
    from pipeline.stages import tagging
    from pipeline.stages.tagging import _Phrase, _Vocabulary, _Word

    vocabulary = _Vocabulary("de")
    syria = _Phrase("Syrien", (_Word("infix", frozenset({"syrien"})),), 0)
    other = _Phrase("Nord", (_Word("infix", frozenset({"nord"})),), 1)
    vocabulary.phrases.update({0: syria, 1: other})
    for _ in range(2):
        assert vocabulary.inside("Nordsyrien", 0, 10, 20) == (14, 20)
        assert vocabulary.inside("Nordsyrien", 1, 10, 20) == (10, 14)
        assert vocabulary.inside("Syrer", 0, 3, 8) == (3, 8)
    monkeypatch.setattr(tagging, "MAX_CACHED_WORDS", 1)
    assert vocabulary.inside("Ostsyrien", 0, 0, 9) == (3, 9)
    assert len(vocabulary._places) == 1
    assert vocabulary.inside("Nordsyrien", 0, 0, 10) == (4, 10)
