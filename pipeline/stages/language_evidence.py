"""Evidence a headline carries beyond character n-grams: very frequent function words and
the letters each Cyrillic alphabet has or lacks, as weights on py3langid's ranking."""

from __future__ import annotations

from pipeline.lazy_re import LazyPattern

# Very frequent short words. A word listed for several languages favours all of them equally,
# so only the words that set neighbours apart decide (Russian "через" against Bulgarian "през",
# English "and" against Kurdish or Turkish names). Lists cover the Latin, Cyrillic and Arabic
# candidates whose words collide with these (Estonian "et", Albanian "e"), so that no language
# loses only because its words are missing here.
FUNCTION_WORDS: dict[str, frozenset[str]] = {
    lang: frozenset(words.split())
    for lang, words in {
        "ru": "и в во на не что с со по к о об из за от для до как это при через после над "
        "под уже все всё или он она они будет был была были также только же ли бы где кто "
        "чем без между против более может нет есть ещё еще его ее её у",
        "uk": "і й в у на не що з із зі до за від для про та як це вже після через під над "
        "або його її буде був була було також тільки де хто чи які який яка",
        "be": "і й у ў на не што з да за ад для пра як гэта ужо пасля праз пад над або яго "
        "яе будзе быў была было таксама толькі дзе хто ці які якая",
        "bg": "и в във на не да се е за с със от по до са ще към след през които който която "
        "това като при но или ли беше бил няма има кой какво защо",
        "sr": "и у на не да је се за од са из до по као што шта али или који која које ће "
        "су још након после због i u na ne da je se za od sa iz do po kao što šta ali ili "
        "koji koja koje će su još nakon posle zbog",
        "mk": "и во на не да е се за од со до по како што кој која кое ќе ги го ја ни беше "
        "меѓу сите нема",
        "kk": "және мен пен бен да де та те бұл осы үшін туралы бойынша жылы деп емес болды "
        "бар жоқ jäne men pen ben bul osy üşın turaly boiynşa jyly dep emes boldy bar",
        "en": "the and of to in on for is are was with as at by from after over who what how "
        "new says its it be has have will not this that a an amid",
        "fr": "le la les de des du et en un une au aux à pour dans sur par qui que est sont "
        "avec après ce cette pas plus ne se son sa ses l d qu",
        "de": "der die das und in den von zu mit im für auf ist nicht ein eine dem des sich "
        "bei nach aus wie wer was vor gegen über auch wird werden am zum zur noch jetzt ab",
        "es": "el la los las de del y en un una que por con para al se su sus es no tras más "
        "sobre qué quién cómo lo le ya",
        "it": "il lo la i gli le di del della dei delle e è in un una per con che da al alla "
        "non si su nel nella sono chi come dopo ai a ma anche cosa più l d",
        "pt": "o a os as de do da dos das e em no na nos um uma para com que por se ao não é "
        "mais após pelo pela são",
        "nl": "de het een en van in op is niet met voor dat die te zijn aan bij naar over uit "
        "wordt ook om er nog tegen",
        "pl": "i w na z do się nie że o od po za to jest dla jak przez ze we co kto czy już "
        "ale przed",
        "cs": "a v na se z do je to že o od po za pro jak ale jsou už při ve",
        "sk": "a v na sa z do je to že o od po za pre ako ale sú už pri vo",
        "sl": "in v na se z do je da za od po so ki pa tudi iz pri",
        "hr": "i u na je se da za od sa iz do po kao što ali ili koji koja koje će su još "
        "nakon zbog",
        "ro": "și în de la a cu pe din care nu un o se mai pentru ce este după",
        "hu": "a az és hogy nem is egy meg van ki már el de",
        "fi": "ja on ei että se oli ovat kun myös mutta",
        "sv": "och i på att det som en är av för med till den inte har",
        "da": "og i på at det som en er af for med til den ikke har",
        "no": "og i på at det som en er av for med til den ikke har",
        "lt": "ir į iš su kad yra bet ar nuo",
        "lv": "un ir uz no ar par ka kā bet",
        "et": "ja on et ei see ka kui oli",
        "tr": "ve bir bu da de ile için mi ne çok daha en olarak gibi sonra kadar yeni kim "
        "neden nasıl oldu var yok",
        "az": "və bir bu da də ilə üçün ki",
        "uz": "va bu bilan uchun bir ham",
        "id": "dan di yang ke dari ini itu untuk dengan tidak",
        "ms": "dan di yang ke dari ini itu untuk dengan tidak",
        "sq": "e të në për me dhe nga i një është",
        "ku": "û li ji bi di de ku ev ew",
        "vi": "và của có các là trong cho được với",
        "ar": "في من على إلى عن مع أن الذي التي بعد قبل هو هي",
        "fa": "و در به از را با که این آن برای است شد کرد",
        "ur": "کے کی کا میں نے سے ہے اور کو پر",
    }.items()
}
# Cyrillic alphabets: a letter of the text that a language does not write counts against it
# (ы э ё are Russian, Belarusian or Kazakh, not Bulgarian or Ukrainian; Belarusian has no и,
# щ or ъ; Serbian and Macedonian have no й щ ъ ы ь э ю я ё).
_RU = "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"
ALPHABETS: dict[str, frozenset[str]] = {
    "ru": frozenset(_RU),
    "uk": frozenset("абвгґдеєжзиіїйклмнопрстуфхцчшщьюя"),
    "be": frozenset("абвгдеёжзійклмнопрстуўфхцчшыьэюя"),
    "bg": frozenset("абвгдежзийклмнопрстуфхцчшщъьюя"),
    "sr": frozenset("абвгдђежзијклљмнњопрстћуфхцчџш"),
    "mk": frozenset("абвгдѓежзѕијклљмнњопрстќуфхцчџш"),
    "kk": frozenset(_RU + "әғқңөұүһі"),
    "ky": frozenset(_RU + "ңөү"),
    "mn": frozenset(_RU + "өү"),
    "tg": frozenset("абвгғдеёжзиӣйкқлмнопрстуӯфхҳчҷшъэюя"),
    "uz": frozenset("абвгдеёжзийклмнопрстуфхцчшъьэюяўқғҳ"),
}
# Letters a language writes in most sentences: their absence from a headline is weak
# evidence against it (sr/mk were dropped outright before, losing Serbian headlines such
# as "Партизан славио у Чачку").
MARKERS: dict[str, frozenset[str]] = {
    "sr": frozenset("ђјљњћџ"),
    "mk": frozenset("ѓјљњќџѕ"),
    "ky": frozenset("ңөү"),
    "mn": frozenset("өү"),
    "tg": frozenset("ғӣқӯҳҷ"),
    "uz": frozenset("ўқғҳ"),
}
_CYRILLIC = frozenset().union(*ALPHABETS.values())
# Only letters some alphabet lacks or marks decide; one regex finds them faster than a set
# of the text's characters (a third of the evidence's cost per headline).
_TELLING = LazyPattern(
    "[" + "".join(sorted(_CYRILLIC - frozenset.intersection(*ALPHABETS.values()))) + "]"
)
_ANY_CYRILLIC = LazyPattern("[\u0400-\u04ff]")
# Macedonian's definite article on a noun (лебот, градот): Bulgarian writes -ът/-ят, Russian
# has от only as a word; counts as one function word ("Цената на лебот пак расте" read bg).
_MK_ARTICLE = LazyPattern(r"[^\W\d_]{3,}от\b")
_WORD = LazyPattern(r"[^\W\d_]+")
# Indexes, so that a headline costs a few lookups rather than a pass over every candidate.
_LANGS_OF_WORD: dict[str, tuple[str, ...]] = {}
for _lang, _words in FUNCTION_WORDS.items():
    for _word in _words:
        _LANGS_OF_WORD[_word] = (*_LANGS_OF_WORD.get(_word, ()), _lang)
# Weights, measured on languages.jsonl (docs/benchmarks/language-detection.md): each function word
# multiplies a language's probability, up to three words; a Cyrillic letter the language
# lacks nearly rules it out; missing markers cost less, a short headline may lack them.
WORD_WEIGHT = 10.0
MAX_WORDS_COUNTED = 3
_WORD_CAP = WORD_WEIGHT**MAX_WORDS_COUNTED
FOREIGN_LETTER = 0.001
NO_MARKER = 0.2


# Base rates for a headline nothing in it decides ("Медведев, Матвиенко и Володин" is Russian
# or Bulgarian, "Lula, Modi et Ramaphosa" French or Estonian): py3langid assumes every language
# equally likely, news is not. Languages with a large share of the world's news count double;
# letters, function words and the hint outweigh this. Indonesian joined with issue 14: its news
# far outnumbers Malay's, the standard the model cannot tell it from (id -> ms on dev headlines).
MAJOR = frozenset({"en", "ru", "es", "fr", "de", "pt", "it", "ar", "zh", "ja", "tr", "fa", "id"})
MAJOR_PRIOR = 2.0


def prior(lang: str) -> float:
    return MAJOR_PRIOR if lang in MAJOR else 1.0


def weights(text: str) -> dict[str, float]:
    """Multipliers for the languages this text has evidence about (others: 1)."""
    lower = text.lower()
    out: dict[str, float] = {}
    for token in _WORD.findall(lower):
        for lang in _LANGS_OF_WORD.get(token, ()):
            weight = out.get(lang, 1.0)
            if weight < _WORD_CAP:
                out[lang] = weight * WORD_WEIGHT
    if _ANY_CYRILLIC.search(lower):
        if _MK_ARTICLE.search(lower):
            out["mk"] = out.get("mk", 1.0) * WORD_WEIGHT
        letters = set(_TELLING.findall(lower))
        for lang, alphabet in ALPHABETS.items():
            if not letters <= alphabet:
                out[lang] = out.get(lang, 1.0) * FOREIGN_LETTER
        for lang, markers in MARKERS.items():
            if letters.isdisjoint(markers):
                out[lang] = out.get(lang, 1.0) * NO_MARKER
    return out
