"""Which European language a text is in, cheaply: its script, then its commonest short words.

Used when an article does not say (`Article.language` is set from the feed or page when they
do). Covers the languages of European news the summariser is tested on: English, German,
French, Spanish, Italian, Polish, Ukrainian and Russian; anything else reads as English, whose
rules then leave most words alone.
"""

from __future__ import annotations

import re
from collections import Counter

from bot.text import LETTERS

__all__ = ["STOP_WORDS", "detect_language", "normalise_language"]

# The commonest function words of each language (from their Snowball stop lists, trimmed):
# enough to tell the languages apart and to keep them out of the summariser's content words.
STOP_WORDS: dict[str, frozenset[str]] = {
    lang: frozenset(words.split())
    for lang, words in {
        "de": """der die das den dem des ein eine einer eines einem einen und oder aber nicht
            ist sind war waren wird werden wurde wurden hat haben hatte hatten sein mit von zu
            zum zur im in am an auf aus bei für über unter nach vor auch noch nur schon sich
            es er sie wir ihr ich man dass wie als so wenn doch wo was wer diese dieser dieses
            kann können soll sollen muss müssen will mehr sehr bis durch gegen ohne um seit
            sagte sagt laut jahr jahren prozent""",
        "fr": """le la les un une des du de d l et ou mais ne pas est sont était étaient a ont
            avait été être fait au aux en dans par pour sur avec sans sous ce cet cette ces
            il elle ils elles on nous vous je se sa son ses leur leurs qui que qu quoi dont où
            plus très aussi comme si tout tous toute entre après avant selon depuis contre
            a-t-il selon déclaré dit ans""",
        "es": """el la los las un una unos unas de del al y o pero no es son era eran fue
            fueron ha han había sido ser está están estaba en con por para sin sobre entre
            que quien cual como cuando donde se su sus lo le les me te nos este esta estos
            estas ese esa más muy también ya hasta desde según tras dijo años""",
        "it": """il lo la i gli le un uno una di del della dei degli delle da dal dalla in nel
            nella con su sul sulla per tra fra e ed o ma non è sono era erano stato stata ha
            hanno aveva essere che chi cui come quando dove se si suo sua suoi sue questo
            questa questi queste quello quella più molto anche già fino dopo secondo detto
            anni""",
        "pl": """i w we z ze na do od po o u za przez przy pod nad dla bez oraz lub albo ale
            nie jest są był była było byli będzie to ten ta te tego tej tych się jak że co
            kto który która które którzy jego jej ich go mu on ona ono oni one już jeszcze
            także też tylko bardzo więcej może można według powiedział lat roku""",
        "uk": """і й та в у на з із зі до від по про за через при під над для без або але
            не є був була було були буде це цей ця ці цього того який яка яке які що як
            хто його її їх він вона воно вони вже ще також тільки дуже більше може можна
            щодо після перед між року років заявив сказав""",
        "ru": """и в во на с со к ко от по о об за через при под над для без или но не
            есть был была было были будет это этот эта эти этого того который которая
            которое которые что как кто его ее её их он она оно они уже еще ещё также
            только очень более может можно после перед между года лет заявил сказал""",
    }.items()
}
_LATIN = tuple(lang for lang in STOP_WORDS if lang not in {"uk", "ru"})
_ENGLISH = frozenset(
    """the and of to in a is that for on was with as by at from his her he she it are were
    has have had be been said not this which but they""".split()
)
_WORD = LETTERS  # letters only, any alphabet (bot.text)
# Letters only Ukrainian writes (і, ї, є, ґ) and only Russian (ы, э, ё, ъ).
_UKRAINIAN = re.compile(r"[іїєґІЇЄҐ]")
_RUSSIAN = re.compile(r"[ыэёъЫЭЁЪ]")
_CYRILLIC = re.compile(r"[а-яА-Я]")


def normalise_language(code: str | None) -> str | None:
    """ "de-DE", "de_AT", "DE" -> "de"; None or "" -> None."""
    if not code:
        return None
    return code.strip().lower().replace("_", "-").split("-")[0] or None


def detect_language(text: str) -> str:
    """The ISO 639-1 code of the language `text` is most likely in ("en" when unsure).

    Looks at the first 2,000 characters only: the script decides Cyrillic texts (Ukrainian and
    Russian by the letters only one of them writes), and stop words decide the Latin ones.
    """
    sample = text[:2000]
    if sample.isascii() or not any(c.isalpha() for c in set(sample) if c > "\x7f"):
        # German, French, Spanish, Italian and Polish news all use letters beyond ASCII (curly
        # quotes, dashes and "£" are not letters)
        return "en"
    if len(_CYRILLIC.findall(sample)) > len(sample) // 10:
        uk, ru = len(_UKRAINIAN.findall(sample)), len(_RUSSIAN.findall(sample))
        return "uk" if uk >= ru else "ru"
    # each distinct word once: a few hundred set look-ups per language, not one per word
    counts = Counter(w.lower() for w in _WORD.findall(sample))
    seen = counts.keys()
    best, best_count = "en", sum(counts[w] for w in _ENGLISH & seen)
    for lang in _LATIN:
        count = sum(counts[w] for w in STOP_WORDS[lang] & seen)
        if count > best_count:
            best, best_count = lang, count
    return best
