"""The reader's checks of benches/briefing_lint.py, each on real text from the dev files, and
the summariser held to them: the seed's briefing, and every defect kind on real articles."""

from __future__ import annotations

from pathlib import Path

from benches.briefing_lint import (
    has_glued_caption,
    is_bare_attribution,
    is_furniture,
    is_speakerless_quote,
    lint,
    points_back,
    repeats,
)
from bot.ingest.files import read_file
from bot.models import Briefing, Bullet
from bot.summarize import summarize
from tests.test_story_briefing import seed_facts

SEED = Path(__file__).resolve().parents[1] / "seeds" / "000_277b181c6f234e33.txt"


def test_furniture() -> None:
    assert is_furniture("Sorry we are not currently accepting comments on this article.")
    assert not is_furniture("LG Card's creditors have given LG group until Wednesday to sign up.")


def test_bare_attribution() -> None:
    assert is_bare_attribution(
        "Fanny Moizant, Vestiaire Collective's Brand Communications Director and Head of UK, said."
    )
    assert is_bare_attribution("He added:")
    assert not is_bare_attribution(
        "Private sector business surveys suggest a stronger economy, Ms Lomax said."
    )


def test_glued_caption() -> None:
    assert has_glued_caption(
        "Guilty: Glenn Mason, 56, will pay back the whole £185,000 out of his RBS pension pot "
        "A respected NatWest bank manager who was jailed for stealing £185,000."
    )
    assert not has_glued_caption("Roma beat Napoli in Serie A on Saturday, reported in The Times.")


def test_unresolved_subject() -> None:
    assert points_back("Others experience tastes, smells or shapes.")
    assert points_back("The funding for these forces can only come from Europe.")
    assert not points_back("It's well known that exercise can make your muscles bigger.")
    text = "Synaesthesia mixes the senses. Others experience tastes, smells or shapes."
    alone = Briefing("h", (Bullet("Others experience tastes.", (text.split(". ")[1],)),))
    kinds = [d.kind for d in lint(alone, [text])]
    assert "unresolved_subject" in kinds
    after = Briefing(
        "h",
        (
            Bullet("Synaesthesia mixes the senses.", ("Synaesthesia mixes the senses.",)),
            Bullet("Others experience tastes.", ("Others experience tastes, smells or shapes.",)),
        ),
    )
    assert "unresolved_subject" not in [d.kind for d in lint(after, [text])]


def test_speakerless_quote() -> None:
    quote = (
        "“Court expansion is likely to undermine, rather than enhance, the Supreme Court’s "
        "legitimacy and its role in the constitutional system."
    )
    assert is_speakerless_quote(quote, quote, [quote])
    named = "Zelenskyy: 'Putin will not give us any security guarantees'"
    assert not is_speakerless_quote(named, named, [named])


def test_repeats_headline() -> None:
    assert repeats(
        "Odds on second royal baby being called Sam slashed",
        "Odds on the second royal baby being called Sam have been slashed.",
    )
    assert not repeats(
        "Qantas posted record profit",
        "Qantas posted a record profit thanks to cost-cutting measures.",
    )


def _seed() -> tuple[str, Briefing]:
    text = read_file(SEED)[0].text
    return text, summarize(text)


def test_seed_briefing_has_no_defects() -> None:
    text, briefing = _seed()
    assert 3 <= len(briefing.bullets) <= 5, briefing
    assert lint(briefing, [text]) == []


def test_seed_briefing_covers_six_key_facts() -> None:
    _, briefing = _seed()
    told = seed_facts([b.text for b in briefing.bullets])
    assert len(told) >= 6, told
