"""Presidio, configured from scanners.yaml and fully offline.

- The spaCy model is an installed package named in the config (never downloaded at run time).
- tldextract, which Presidio's email recognizer uses, is given the public suffix list snapshot
  bundled with it instead of fetching one.
- Recognizers are Presidio's own (by class name) plus ours (scanners.recognizers), one small class
  each; noisy ones (US_DRIVER_LICENSE) are switched off, and entity thresholds demote others
  (DATE_TIME) in the config file, not in code.

Text nobody here wrote must never end a customer's request. A recognizer (ours or Presidio's) or
the NLP step that raises on one text is contained: the other recognizers still report, and the
results carry the failure (`Analysis.failures`) so that the caller can keep a candidate as
unconfirmed instead of dropping it or failing the scan. Failures are logged by exception type and
code location only: the text, and the exception's message (which may quote it), never appear.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Generic, TypeVar

from scanners.settings import ScannerConfig

log = logging.getLogger(__name__)
T = TypeVar("T")

#: spaCy labels -> Presidio entities, as Presidio's spacy.yaml, with the labels no scanner uses ignored.
NER_CONFIGURATION = {
    "model_to_presidio_entity_mapping": {
        "PER": "PERSON", "PERSON": "PERSON", "NORP": "NRP", "FAC": "LOCATION", "LOC": "LOCATION", "LOCATION": "LOCATION",
        "GPE": "LOCATION", "ORG": "ORGANIZATION", "ORGANIZATION": "ORGANIZATION", "DATE": "DATE_TIME", "TIME": "DATE_TIME",
    },
    "low_confidence_score_multiplier": 0.4,
    "low_score_entity_names": [],
    "labels_to_ignore": ["ORG", "ORGANIZATION", "CARDINAL", "EVENT", "LANGUAGE", "LAW", "MONEY", "ORDINAL", "PERCENT", "PRODUCT", "QUANTITY", "WORK_OF_ART"],
}


@dataclass(frozen=True)
class StageFailure:
    """One part of an analysis that raised: which part, what kind of exception, where in the code.

    `stage` is a recognizer's class name, or "nlp" (spaCy's pipeline, and Presidio's engine
    around the recognizers); `error` the exception's type name; `place` "file.py:123 in function"
    of the innermost frame. Deliberately no message: exception messages may quote the text.
    """

    stage: str
    error: str
    place: str

    @classmethod
    def of(cls, stage: str, exc: BaseException) -> StageFailure:
        frames = traceback.extract_tb(exc.__traceback__)
        place = f"{Path(frames[-1].filename).name}:{frames[-1].lineno} in {frames[-1].name}" if frames else "unknown"
        return cls(stage, type(exc).__name__, place)

    def __str__(self) -> str:
        return f"{self.stage} raised {self.error} at {self.place}"


class Analysis(list[T], Generic[T]):
    """What an analysis found (a list, as before), plus `failures`: the parts that raised.

    The contract with the subject matcher: an analyzer method never raises because of the text it
    was given. When `failures` is non-empty the results are incomplete (a recognizer that could
    have confirmed a candidate did not run to the end), so a candidate without a confirming result
    stays *unconfirmed* at its base confidence rather than being treated as disproved; `complete`
    says whether that caveat applies.
    """

    failures: tuple[StageFailure, ...]

    def __init__(self, items: Iterable[T] = (), failures: Iterable[StageFailure] = ()):
        super().__init__(items)
        self.failures = tuple(dict.fromkeys(failures))  # one entry per distinct failure

    @property
    def complete(self) -> bool:
        return not self.failures


_failures: contextvars.ContextVar[list[StageFailure] | None] = contextvars.ContextVar("scanner_failures", default=None)


def _record(stage: str, exc: Exception) -> StageFailure:
    failure = StageFailure.of(stage, exc)
    log.warning("scanner stage failed on one text (contained): %s", failure)
    collected = _failures.get()
    if collected is not None:
        collected.append(failure)
    return failure


@contextlib.contextmanager
def _collecting() -> Iterator[list[StageFailure]]:
    """Failures recorded by contained recognizers while the block runs (per thread/task)."""
    collected: list[StageFailure] = []
    token = _failures.set(collected)
    try:
        yield collected
    finally:
        _failures.reset(token)


class _Contained:
    """A recognizer whose text-dependent calls cannot raise: a failure is recorded, nothing found.

    Wraps each recognizer in the registry, so Presidio's own loop (and its context enhancer) runs
    unchanged around it; every other attribute is the wrapped recognizer's.
    """

    def __init__(self, recognizer: Any):
        self.__dict__["recognizer"] = recognizer
        self.__dict__["stage"] = type(recognizer).__name__

    def __getattr__(self, name: str) -> Any:
        return getattr(self.recognizer, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.recognizer, name, value)

    def analyze(self, *args: Any, **kwargs: Any) -> list[Any]:
        return _contained(self.stage, self.recognizer.analyze, *args, fallback=[], **kwargs)

    def enhance_using_context(self, text: str, raw_recognizer_results: list[Any], *args: Any, **kwargs: Any) -> list[Any]:
        return _contained(self.stage, self.recognizer.enhance_using_context, text, raw_recognizer_results, *args, fallback=raw_recognizer_results, **kwargs)


def _contained(stage: str, call: Callable[..., T], *args: Any, fallback: T, **kwargs: Any) -> T:
    try:
        return call(*args, **kwargs)
    except Exception as exc:  # any text-induced failure of one stage; recorded by type and place
        _record(stage, exc)
        return fallback


def offline_tldextract() -> None:
    """Make tldextract use its bundled suffix list snapshot: no network at run time."""
    import tldextract

    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


class _ThresholdedAnalyzer:
    """Presidio's AnalyzerEngine, with per-entity thresholds from the config and two fast paths.

    Confirming one candidate does not need Presidio's whole pipeline: an email or a phone number is
    confirmed by the pattern recognizers alone (no spaCy), a name by spaCy's named-entity step alone.
    Every method returns an Analysis and never raises because of its text (see the module notes).
    """

    def __init__(self, engine: Any, config: ScannerConfig):
        self.engine = engine
        self.config = config
        nlp = engine.nlp_engine.nlp[config.nlp.language]
        self._ner = nlp
        self._ner_off = [name for name in nlp.pipe_names if name not in ("tok2vec", "ner")]
        self._by_entities: dict[tuple[str, ...], list[Any]] = {}

    def _threshold(self, results: list[Any], failures: list[StageFailure]) -> Analysis[Any]:
        thresholds = self.config.entity_thresholds
        return Analysis((r for r in results if r.score >= thresholds.get(r.entity_type, self.config.default_threshold)), failures)

    def analyze(self, text: str, language: str, entities: list[str] | None = None) -> Analysis[Any]:
        """The full analysis (every recognizer, spaCy included).

        When spaCy itself fails on the text, the pattern recognizers still run (they need no NLP).
        """
        with _collecting() as failures:
            try:
                results = self.engine.analyze(text=text, language=language, entities=entities)
            except Exception as exc:  # the NLP step or Presidio's own code around the recognizers
                _record("nlp", exc)
                patterns = self.analyze_patterns(text, entities or self.engine.get_supported_entities(language))
                return Analysis(patterns, [*failures, *patterns.failures])
        return self._threshold(results, failures)

    def analyze_patterns(self, text: str, entities: list[str]) -> Analysis[Any]:
        """Only the recognizers that need no NLP (patterns, phone numbers, check digits)."""
        results: list[Any] = []
        with _collecting() as failures:
            for recognizer in self._pattern_recognizers(tuple(entities)):
                results.extend(r for r in recognizer.analyze(text, entities, None) or [] if r.entity_type in entities)
        return self._threshold(results, failures)

    def _pattern_recognizers(self, entities: tuple[str, ...]) -> list[Any]:
        """The registry's non-NLP recognizers for these entities, looked up once per entity set
        (the registry's own lookup costs more than matching a short window)."""
        if (found := self._by_entities.get(entities)) is None:
            found = [r for r in self.engine.registry.get_recognizers(language=self.config.nlp.language, entities=list(entities)) if "Spacy" not in r.stage]
            self._by_entities[entities] = found
        return found

    def persons(self, text: str) -> Analysis[tuple[int, int]]:
        """Character spans spaCy's named-entity step tags as people."""
        try:
            doc = self._ner(text, disable=self._ner_off)
        except Exception as exc:  # spaCy on text it cannot take
            return Analysis((), [_record("nlp", exc)])
        return _people(doc)

    def persons_many(self, texts: list[str]) -> list[Analysis[tuple[int, int]]]:
        """persons() of several texts in one spaCy batch (nlp.pipe: one pass of the model over all
        of them); if the batch fails, each text is asked alone, so one bad text fails only itself."""
        try:
            return [_people(doc) for doc in self._ner.pipe(texts, disable=self._ner_off)]
        except Exception:  # noqa: BLE001 - contained per text below
            return [self.persons(text) for text in texts]


def _people(doc: Any) -> Analysis[tuple[int, int]]:
    return Analysis((e.start_char, e.end_char) for e in doc.ents if e.label_ in ("PERSON", "PER"))


class LazyAnalyzer:
    """Builds the analyzer on first use: discovery over stores without free text never loads spaCy."""

    def __init__(self, config: ScannerConfig):
        self.config = config

    def analyze(self, text: str, language: str, entities: list[str] | None = None) -> Analysis[Any]:
        return build_analyzer(self.config).analyze(text=text, language=language, entities=entities)

    def analyze_patterns(self, text: str, entities: list[str]) -> Analysis[Any]:
        return build_analyzer(self.config).analyze_patterns(text, entities)

    def persons(self, text: str) -> Analysis[tuple[int, int]]:
        return build_analyzer(self.config).persons(text)

    def persons_many(self, texts: list[str]) -> list[Analysis[tuple[int, int]]]:
        return build_analyzer(self.config).persons_many(texts)


def build_analyzer(config: ScannerConfig) -> _ThresholdedAnalyzer:
    """One analyzer per configuration and process (loading spaCy takes seconds)."""
    return _build(config.model_dump_json())


@cache
def _build(config_json: str) -> _ThresholdedAnalyzer:
    config = ScannerConfig.model_validate_json(config_json)
    offline_tldextract()
    import spacy
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    from scanners.recognizers import RECOGNIZERS
    from scanners.recognizers.context import ContextScoredRecognizer

    if not spacy.util.is_package(config.nlp.model):
        raise RuntimeError(f"spaCy model {config.nlp.model!r} is not installed; install its package (models are never downloaded at run time)")
    nlp_engine = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": config.nlp.engine,
        "models": [{"lang_code": config.nlp.language, "model_name": config.nlp.model}],
        "ner_model_configuration": NER_CONFIGURATION,
    }).create_engine()
    registry = RecognizerRegistry(supported_languages=[config.nlp.language])
    registry.load_predefined_recognizers(languages=[config.nlp.language], nlp_engine=nlp_engine)
    keep = set(config.predefined) | {type(r).__name__ for r in registry.recognizers if "Spacy" in type(r).__name__}
    registry.recognizers = [r for r in registry.recognizers if type(r).__name__ in keep and type(r).__name__ not in config.disabled]
    contextual: set[str] = set()
    for name in config.custom:
        if name not in RECOGNIZERS:
            raise ValueError(f"scanners.yaml: unknown custom recognizer {name!r}; known: {', '.join(sorted(RECOGNIZERS))}")
        cls = RECOGNIZERS[name]
        if issubclass(cls, ContextScoredRecognizer):
            contextual.add(name)
            words = [*cls.CONTEXT, *config.context_words.get(name, [])]
            registry.add_recognizer(cls(supported_language=config.nlp.language, context_window=config.context_window, context=words))
        else:
            registry.add_recognizer(cls(supported_language=config.nlp.language))
    if unknown := sorted(set(config.context_words) - contextual):
        raise ValueError(f"scanners.yaml: context_words names {', '.join(unknown)}: not a switched-on recognizer that takes context words ({', '.join(sorted(contextual))})")
    registry.recognizers = [_Contained(r) for r in registry.recognizers]  # after add_recognizer, which checks the type
    engine = AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=[config.nlp.language])
    return _ThresholdedAnalyzer(engine, config)

