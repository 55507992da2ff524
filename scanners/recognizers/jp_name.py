"""Japanese personal names (山田 太郎, 佐藤様, 担当の鈴木): PERSON, found with Sudachi's dictionary.

The spaCy model is English: it does not see names in Japanese script, and Japanese has no spaces
to find words by. Sudachi (a morphological analyser with an offline dictionary package) splits the
text into words and tags surnames and given names (名詞-固有名詞-人名-姓/名). A surname and the given
name after it are one name. A name word glued to a following kanji noun is part of a place or a
thing (中村橋駅, 森林), not a name, and is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from presidio_analyzer import AnalysisExplanation, EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

ENTITY = "PERSON"
SCORE = 0.6
SCORE_WITH_TITLE = 0.85  # followed by 様, さん, 氏 ...
TITLES = ("様", "さま", "さん", "氏", "君", "くん", "ちゃん", "殿", "先生")
_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々〆ヵヶ]")
_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々〆ヵヶ\u3000 ]+")
_KANJI = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々]")


@cache
def _tokenizer() -> Any:
    """Sudachi's tokenizer over the installed dictionary package (loaded once per process)."""
    from sudachipy import Dictionary, SplitMode

    return Dictionary(dict="small").tokenizer(mode=SplitMode.C)


class JpNameRecognizer(EntityRecognizer):
    """Finds names in Japanese script (kanji, kana) that Sudachi's dictionary knows as names."""

    def __init__(self, supported_language: str = "en", **kwargs: Any) -> None:
        super().__init__(supported_entities=[ENTITY], supported_language=supported_language, name="JpNameRecognizer", **kwargs)

    def load(self) -> None:
        """The dictionary is loaded on first use: texts without Japanese never need it."""

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        if entities and ENTITY not in entities or not _JAPANESE.search(text):
            return []
        results = []
        for run in _RUN.finditer(text):
            if _JAPANESE.search(run.group()):
                results.extend(self._result(run.start() + s, run.start() + e, score) for s, e, score in japanese_names(run.group()))
        return results

    def _result(self, start: int, end: int, score: float) -> RecognizerResult:
        explanation = AnalysisExplanation(recognizer=self.name, original_score=score, textual_explanation="Sudachi: person name")
        metadata = {
            RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
            RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY: True,  # a title was looked at here
        }
        return RecognizerResult(ENTITY, start, end, score, analysis_explanation=explanation, recognition_metadata=metadata)


def japanese_names(text: str) -> list[tuple[int, int, float]]:
    """(start, end, score) of each name in a run of Japanese text, as character offsets.

    The dictionary knows common surnames and given names, not every given name: 幹, 零 or 七夏 are
    ordinary words to it. So a surname takes up to GIVEN_NAME_CHARS characters of nouns after it
    (one space allowed) when a particle, a title or punctuation follows them, and a given name takes
    the short noun before it (林 裕樹) as its surname. A proper noun the dictionary knows as a place
    (橋本, 石川) is a surname when a title follows it.
    """
    words = [_Word(m.begin(), m.end(), m.surface(), tuple(m.part_of_speech()[:4])) for m in _tokenizer().tokenize(text)]
    names: list[tuple[int, int, float]] = []
    i = 0
    while i < len(words):
        if not words[i].is_name:
            if words[i].pos[1] == "固有名詞" and _JAPANESE.match(words[i].surface) and (end := _before_title(words, i)):
                names.append((words[i].start, words[end - 1].end, SCORE_WITH_TITLE))  # 橋本零様: 橋本 read as a place
                i = end
                continue
            i += 1
            continue
        first, j = i, i + 1
        while j < len(words) and (words[j].is_name or words[j].is_space and j + 1 < len(words) and words[j + 1].is_name):
            j += 1
        j = _given_name_end(words, j)
        if words[first].pos[3] == "名":
            first = _surname_start(words, first)
        following = words[j].surface if j < len(words) else ""
        if following.startswith(TITLES):
            names.append((words[first].start, words[j - 1].end, SCORE_WITH_TITLE))
        elif not (following and _KANJI.match(following) and words[j].pos[0] == "名詞"):
            names.append((words[first].start, words[j - 1].end, SCORE))
        i = j
    return names


GIVEN_NAME_CHARS = 3
#: Endings of places and facilities (中村橋駅, 田中町): a "given name" ending so is a place.
PLACE_SUFFIXES = tuple("駅橋町市区村県都府道店社線通川山園館院校局署港寺所場台谷坂")


@dataclass(frozen=True)
class _Word:
    start: int
    end: int
    surface: str
    pos: tuple[str, ...]

    @property
    def is_name(self) -> bool:
        return self.pos[2] == "人名"

    @property
    def is_space(self) -> bool:
        return self.pos[0] == "空白"

    @property
    def is_nounish(self) -> bool:
        """A noun or a prefix in Japanese script: what a given name unknown to the dictionary splits into."""
        return self.pos[0] in ("名詞", "接頭辞") and bool(_JAPANESE.match(self.surface))


def _given_name_end(words: list[_Word], j: int) -> int:
    """Past the rest of a given name after the name words before words[j], if nouns then a non-noun follow."""
    k = j + 1 if j < len(words) and words[j].is_space else j
    end, chars = k, 0
    while end < len(words) and words[end].is_nounish and chars + len(words[end].surface) <= GIVEN_NAME_CHARS:
        chars += len(words[end].surface)
        end += 1
    if end > k and (end == len(words) or not words[end].is_nounish) and not words[end - 1].surface.endswith(PLACE_SUFFIXES):
        return end
    return j


def _before_title(words: list[_Word], i: int) -> int:
    """The end of a proper noun at words[i] and the short nouns after it, when a title follows them; else 0."""
    end = _given_name_end(words, i + 1)
    return end if end < len(words) and words[end].surface.startswith(TITLES) else 0


def _surname_start(words: list[_Word], i: int) -> int:
    """Back over the surname before a given name at words[i], when the dictionary took it for a noun."""
    k = i - 2 if i >= 2 and words[i - 1].is_space else i - 1
    if k >= 0 and words[k].pos[0] in ("名詞", "接尾辞") and 1 <= len(words[k].surface) <= 2 and _KANJI.match(words[k].surface):
        return k
    return i
