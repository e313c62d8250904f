"""Each bullet is one whole sentence of the article, in every language of European news the
summariser supports: abbreviations, ordinals, initials and the language's quote marks must not
split or merge sentences."""

from __future__ import annotations

import pytest

from bot.summarize import summarize
from bot.summarize.language import detect_language

# (language, sentences): each article is its sentences joined, two per paragraph.
ARTICLES = {
    "en": [
        "Mr. Smith met the U.S. envoy on Jan. 5 at No. 10 Downing St. in London.",
        "Inflation rose to 3.4% in March, up from 3.2% a month earlier.",
        '"We will not stop until prices fall," the governor said on Tuesday.',
        "The Bank of England kept its main rate at 5.25% for a sixth month.",
    ],
    "de": [
        "Die Bundesregierung hat am 3. Oktober ein Hilfspaket von 2,5 Mrd. Euro beschlossen.",
        "Laut Dr. Müller vom Ifo-Institut steigen die Preise bzw. Mieten weiter.",
        "„Wir lassen niemanden allein“, sagte Bundeskanzler Olaf Scholz in Berlin.",
        "Die Opposition kritisierte u. a. die hohen Kosten des Programms.",
    ],
    "fr": [
        "M. Macron a annoncé jeudi un plan de 1 200 millions d’euros pour l’hôpital.",
        "« Nous sommes prêts à agir vite », a déclaré la Première ministre à Paris.",
        "Selon l’Insee, l’inflation a atteint 4,9 % sur un an en février.",
        "Les syndicats appellent à une nouvelle grève le 15 mars.",
    ],
    "es": [
        "El Sr. García, ministro de Economía, presentó el martes un plan de 3.500 millones.",
        "«No vamos a subir los impuestos», aseguró el ministro en Madrid.",
        "¿Cuándo llegarán las ayudas a las familias afectadas por la sequía?",
        "Según el INE, el paro bajó al 11,8 % en el primer trimestre.",
    ],
    "it": [
        "Il sig. Rossi, sindaco di Milano, ha presentato ieri il nuovo piano per i trasporti.",
        "«È una giornata storica per la città», ha detto il sindaco ai giornalisti.",
        "Secondo l’Istat, il Pil è cresciuto dello 0,3 % nel terzo trimestre.",
        "Le opposizioni chiedono più fondi per le periferie, ecc. e nuove linee di tram.",
    ],
    "pl": [
        "Rząd przyjął we wtorek projekt budżetu na 2025 r. z deficytem 289 mld zł.",
        "„To budżet bezpieczeństwa i rozwoju”, powiedział minister finansów.",
        "Według GUS inflacja w marcu wyniosła 2,0 proc., m.in. dzięki niższym cenom paliw.",
        "Opozycja zapowiedziała, że nie poprze projektu w Sejmie.",
    ],
    "uk": [
        "Президент В. Зеленський 17 серпня зустрівся з лідерами Європи у Брюсселі.",
        "«Путін не дасть нам жодних гарантій безпеки», – заявив він на пресконференції.",
        "За даними НБУ, інфляція у липні сповільнилася до 7,2 % у річному вимірі.",
        "Уряд виділив 1,5 млрд грн на відбудову житла на Харківщині.",
    ],
    "ru": [
        "Министр финансов А. Силуанов в среду представил проект бюджета на 2025 г. в Думе.",
        "«Мы сохраним все социальные обязательства», – сказал министр журналистам.",
        "По данным Росстата, инфляция в сентябре составила 8,6 % в годовом выражении.",
        "Центробанк повысил ключевую ставку до 19 % годовых.",
    ],
}


@pytest.mark.parametrize("language", sorted(ARTICLES))
def test_each_bullet_is_one_sentence(language: str) -> None:
    sentences = ARTICLES[language]
    text = "\n\n".join(" ".join(sentences[i : i + 2]) for i in range(0, len(sentences), 2))
    for given in (language, None):
        briefing = summarize(text, "A title", language=given)
        assert len(briefing.bullets) >= 2, briefing
        for bullet in briefing.bullets:
            assert bullet.sentences[0] in sentences, (language, bullet.sentences)


@pytest.mark.parametrize("language", sorted(ARTICLES))
def test_language_is_detected(language: str) -> None:
    assert detect_language(" ".join(ARTICLES[language])) == language
