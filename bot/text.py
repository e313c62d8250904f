"""Text helpers shared by the core and the adapters: control characters, words and stems.

The word rules here (`words`, `STOP_WORDS`, `stem`) are the ones story grouping counts with;
the summariser and /ask still carry their own and should move here.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import Stemmer

# Whole escape sequences first (CSI "ESC [ ... letter", OSC "ESC ] ... BEL|ST"), then any other
# C0/C1 control character: text from articles or users must not drive a terminal.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def strip_control(text: str, *, keep_newlines: bool = True) -> str:
    """Remove terminal escape sequences and control characters (tabs become spaces)."""
    text = _CONTROL.sub("", _ANSI.sub("", text.replace("\t", " ")))
    return text if keep_newlines else text.replace("\n", " ")


# English function words (scikit-learn's list, which the TF-IDF baselines in benches/ use too)
# plus words every news report uses whatever the event: they say nothing about which event it is.
STOP_WORDS = frozenset(
    """a about above across after afterwards again against all almost alone along already also
    although always am among amongst amoungst amount an and another any anyhow anyone anything
    anyway anywhere are around as at back be became because become becomes becoming been before
    beforehand behind being below beside besides between beyond bill both bottom but by call can
    cannot cant co con could couldnt cry de describe detail do done down due during each eg eight
    either eleven else elsewhere empty enough etc even ever every everyone everything everywhere
    except few fifteen fifty fill find fire first five for former formerly forty found four from
    front full further get give go had has hasnt have he hence her here hereafter hereby herein
    hereupon hers herself him himself his how however hundred i ie if in inc indeed interest into
    is it its itself keep last latter latterly least less ltd made many may me meanwhile might
    mill mine more moreover most mostly move much must my myself name namely neither never
    nevertheless next nine no nobody none noone nor not nothing now nowhere of off often on once
    one only onto or other others otherwise our ours ourselves out over own part per perhaps
    please put rather re same see seem seemed seeming seems serious several she should show side
    since sincere six sixty so some somehow someone something sometime sometimes somewhere still
    such system take ten than that the their them themselves then thence there thereafter
    thereby therefore therein thereupon these they thick thin third this those though three
    through throughout thru thus to together too top toward towards twelve twenty two un under
    until up upon us very via was we well were what whatever when whence whenever where
    whereafter whereby wherein whereupon wherever whether which while whither who whoever whole
    whom whose why will with within without would yet you your yours yourself yourselves
    said says say saying told according mr mrs ms new year years week
    monday tuesday wednesday thursday friday saturday sunday""".split()
)

# A word (letters, with inner apostrophes: "don't", "O'Neill") or a number with its separators.
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*|\d+(?:[.,]\d+)*")

# Snowball's algorithms (PyStemmer: the Snowball project's own C code) by the ISO 639-1 codes
# articles carry; anything else is stemmed as English, which leaves most foreign words as they are.
_LANGUAGES = {
    "ar": "arabic", "ca": "catalan", "cs": "czech", "da": "danish", "de": "german",
    "el": "greek", "en": "english", "es": "spanish", "et": "estonian", "fa": "persian",
    "fi": "finnish", "fr": "french", "hu": "hungarian", "id": "indonesian", "it": "italian",
    "lt": "lithuanian", "nl": "dutch", "no": "norwegian", "pl": "polish", "pt": "portuguese",
    "ro": "romanian", "ru": "russian", "sr": "serbian", "sv": "swedish", "tr": "turkish",
}  # fmt: skip


@lru_cache(maxsize=32)
def _stemmer(language: str) -> Any:
    return Stemmer.Stemmer(_LANGUAGES.get(language[:2].lower(), "english"))


@lru_cache(maxsize=200_000)
def stem(word: str, language: str = "en") -> str:
    """The Snowball stem of a lower-case `word`: "guarantees" and "guaranteed" -> "guarante"."""
    return str(_stemmer(language).stemWord(word))


def words(text: str, language: str | None = None) -> list[str]:
    """Content words of `text` in order: lower-cased, stemmed, stop words and one-letter words
    dropped, possessive "'s" removed; numbers kept without thousands separators ("1,200" and
    "1200" agree)."""
    lang = language or "en"
    out = []
    for token in _WORD.findall(text):
        if token[0].isdigit():
            out.append(token.replace(",", "") if "," in token else token)
            continue
        lower = token.lower()
        if lower.endswith(("'s", "’s")):
            lower = lower[:-2]
        if len(lower) > 1 and lower not in STOP_WORDS:
            out.append(stem(lower, lang))
    return out
