"""Presidio, configured from scanners.yaml and fully offline.

- The spaCy model is an installed package named in the config (never downloaded at run time).
- tldextract, which Presidio's email recognizer uses, is given the public suffix list snapshot
  bundled with it instead of fetching one.
- Recognizers are Presidio's own (by class name) plus ours (scanners.recognizers), one small class
  each; noisy ones (US_DRIVER_LICENSE) are switched off, and entity thresholds demote others
  (DATE_TIME) in the config file, not in code.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from scanners.settings import ScannerConfig

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


def offline_tldextract() -> None:
    """Make tldextract use its bundled suffix list snapshot: no network at run time."""
    import tldextract

    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


class _ThresholdedAnalyzer:
    """Presidio's AnalyzerEngine, with per-entity thresholds from the config and two fast paths.

    Confirming one candidate does not need Presidio's whole pipeline: an email or a phone number is
    confirmed by the pattern recognizers alone (no spaCy), a name by spaCy's named-entity step alone.
    """

    def __init__(self, engine: Any, config: ScannerConfig):
        self.engine = engine
        self.config = config
        nlp = engine.nlp_engine.nlp[config.nlp.language]
        self._ner = nlp
        self._ner_off = [name for name in nlp.pipe_names if name not in ("tok2vec", "ner")]

    def _threshold(self, results: list[Any]) -> list[Any]:
        thresholds = self.config.entity_thresholds
        return [r for r in results if r.score >= thresholds.get(r.entity_type, self.config.default_threshold)]

    def analyze(self, text: str, language: str, entities: list[str] | None = None) -> list[Any]:
        """The full analysis (every recognizer, spaCy included)."""
        return self._threshold(self.engine.analyze(text=text, language=language, entities=entities))

    def analyze_patterns(self, text: str, entities: list[str]) -> list[Any]:
        """Only the recognizers that need no NLP (patterns, phone numbers, check digits)."""
        results: list[Any] = []
        for recognizer in self.engine.registry.get_recognizers(language=self.config.nlp.language, entities=entities):
            if "Spacy" in type(recognizer).__name__:
                continue
            results.extend(r for r in recognizer.analyze(text, entities, None) or [] if r.entity_type in entities)
        return self._threshold(results)

    def persons(self, text: str) -> list[tuple[int, int]]:
        """Character spans spaCy's named-entity step tags as people."""
        doc = self._ner(text, disable=self._ner_off)
        return [(e.start_char, e.end_char) for e in doc.ents if e.label_ in ("PERSON", "PER")]


class LazyAnalyzer:
    """Builds the analyzer on first use: discovery over stores without free text never loads spaCy."""

    def __init__(self, config: ScannerConfig):
        self.config = config

    def analyze(self, text: str, language: str, entities: list[str] | None = None) -> list[Any]:
        return build_analyzer(self.config).analyze(text=text, language=language, entities=entities)

    def analyze_patterns(self, text: str, entities: list[str]) -> list[Any]:
        return build_analyzer(self.config).analyze_patterns(text, entities)

    def persons(self, text: str) -> list[tuple[int, int]]:
        return build_analyzer(self.config).persons(text)


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
    for name in config.custom:
        if name not in RECOGNIZERS:
            raise ValueError(f"scanners.yaml: unknown custom recognizer {name!r}; known: {', '.join(sorted(RECOGNIZERS))}")
        registry.add_recognizer(RECOGNIZERS[name](supported_language=config.nlp.language))
    engine = AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=[config.nlp.language])
    return _ThresholdedAnalyzer(engine, config)
