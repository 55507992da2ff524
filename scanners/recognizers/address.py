"""Street addresses (English, Hong Kong, Japanese): Presidio ships no recognizer for them.

spaCy tags a city or a country (LOCATION) but not "353 Kathleen Highway Apt. 681": an address is a
chain of parts (unit, floor, building, house number and street, town, state and ZIP, postcode,
region) of which only some are distinctive alone. So the parts are found one by one and joined
when nothing but commas, spaces and line breaks stands between them; a chain is an address when it
holds a distinctive part. The words that make a part distinctive are the postal services' own: the
street types of USPS Publication 28 (and their abbreviations), UK and US postcode formats, the
Hong Kong Post order (flat, floor, block, building, street, district, region), and the Japanese
order (都道府県, 市区町村, 丁目/番地/号, 〒).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from presidio_analyzer import AnalysisExplanation, EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

ENTITY = "STREET_ADDRESS"

#: Street types (USPS Publication 28, appendix C1, plus British and Hong Kong ones), with abbreviations.
STREET_TYPES = (
    "Alley Aly Annex Anx Arcade Arc Avenue Ave Av Bayou Beach Bend Bluffs? Bottom Boulevard Blvd Branch Br Bridge Brg "
    "Brooks? Burgs? Bypass Byp Camp Canyon Cape Causeway Cswy Centers? Ctr Circles? Cir Cliffs? Club Common Commons "
    "Corners? Course Courts? Ct Coves? Creek Crescent Cres Crest Crossing Crossroads? Curve Dale Dam Divide Drives? Dr "
    "Estates? Expressway Expy Extensions? Ext Falls? Ferry Fields? Flats? Fords? Forest Forges? Forks? Fort Freeway Fwy "
    "Gardens? Gdns Gateway Glens? Greens? Grove Groves Harbors? Haven Heights Hts Highway Hwy Hills? Hollow Inlet "
    "Island Islands Isle Junctions? Jct Keys? Knolls? Lakes? Land Landing Lane Ln Light Lights Loaf Locks? Lodge Loop "
    "Mall Manors? Meadows? Mews Mills? Mission Motorway Mount Mountains? Mtn Neck Orchard Oval Overpass Parks? Parkways? "
    "Pkwy Pass Passage Path Pike Pines? Place Pl Plains? Plaza Plz Points? Ports? Prairie Radial Ramp Ranch Rapids? Rest "
    "Ridges? Rdg River Roads? Rd Route Rte Row Rue Run Shoals? Shores? Skyway Springs? Spurs? Squares? Sq Station Sta "
    "Stravenue Streams? Streets? St Summit Terrace Ter Throughway Trace Track Trafficway Trail Trl Tunnel Turnpike "
    "Tpke Underpass Unions? Valleys? Via Viaduct Views? Villages? Ville Vista Walks? Wall Ways? Wells? Wharf Close "
    "Gate Hill Parade Grove Yard"
).split()
#: Hong Kong buildings and estates: the building is part of the address, its name is not distinctive.
BUILDING_TYPES = "Building Bldg Mansion Mansions Centre Center Tower Towers Court House Estate Gardens Garden Plaza Villa Villas Terrace Castle Heights Place".split()
REGIONS = r"(?<![A-Za-z])(?:Kowloon|Hong\s+Kong(?:\s+Island)?|H\.K\.|HK|N\.\s?T\.|New\s+Territories)(?![A-Za-z])"
US_STATES = (
    "AL AK AS AZ AR CA CO CT DE DC FM FL GA GU HI ID IL IN IA KS KY LA ME MH MD MA MI MN MS MO MT NE NV NH NJ NM NY NC "
    "ND MP OH OK OR PW PA PR RI SC SD TN TX UT VT VI VA WA WV WI WY AA AE AP"
).split()

_WORD = r"[A-Z][A-Za-z'’.-]*"
_NAME = rf"{_WORD}(?:[ \t]+{_WORD}){{0,3}}"  # capitalised words: a street, town or building name
_TYPES = "|".join(sorted(STREET_TYPES, key=len, reverse=True))
_STREET_TYPE = rf"(?:{_TYPES})\.?(?![A-Za-z])"
_UNIT = r"(?:Flat|Studio|Apartment|Apt|Suite|Ste|Unit|Room|Rm|Shop|Office)\.?[ \t]*#?(?:\d[A-Za-z0-9]{0,4}|[A-Z])(?:-[A-Z0-9]{1,4})?(?![A-Za-z0-9])"
_FLOOR = r"(?:\d{1,3}/F|G/F|\d{1,3}(?:st|nd|rd|th)?[ \t]+Floor|Floor[ \t]+\d{1,3})(?![A-Za-z0-9])"
_BLOCK = r"(?:Block|Blk|Tower|Phase)[ \t]+[A-Z0-9]{1,3}(?![A-Za-z0-9])"
_BUILDING = rf"{_NAME}[ \t]+(?:{'|'.join(BUILDING_TYPES)})(?![A-Za-z])"
_HOUSE = r"(?<![\w.,/-])\d{1,5}[A-Z]?(?:-\d{1,5})?"
_DIRECTION = r"(?:[ \t]+(?:North|South|East|West|Central|Middle|Upper|Lower|N|S|E|W|NE|NW|SE|SW)(?![A-Za-z]))?"
_STREET = rf"{_HOUSE}[ \t]+(?:{_WORD}[ \t]+){{1,3}}{_STREET_TYPE}{_DIRECTION}"
_STREET_NAME = rf"{_NAME}[ \t]+{_STREET_TYPE}"
US_STATE_NAMES = (
    "Alabama|Alaska|Arizona|Arkansas|California|Colorado|Connecticut|Delaware|Florida|Georgia|Hawaii|Idaho|Illinois|Indiana|Iowa|"
    "Kansas|Kentucky|Louisiana|Maine|Maryland|Massachusetts|Michigan|Minnesota|Mississippi|Missouri|Montana|Nebraska|Nevada|"
    "New Hampshire|New Jersey|New Mexico|New York|North Carolina|North Dakota|Ohio|Oklahoma|Oregon|Pennsylvania|Rhode Island|"
    "South Carolina|South Dakota|Tennessee|Texas|Utah|Vermont|Virginia|Washington|West Virginia|Wisconsin|Wyoming"
)
_US_CITY_STATE = rf"{_NAME},[ \t]+(?:{US_STATE_NAMES}|{'|'.join(US_STATES)})(?![A-Za-z0-9])"
_US_CITY_LINE = rf"{_NAME},?[ \t]+(?:{'|'.join(US_STATES)})[ \t]+\d{{5}}(?:-\d{{4}})?(?!\d)"
_MILITARY = r"(?:PSC[ \t]+\d{4},?[ \t]+Box[ \t]+\d{4}|Unit[ \t]+\d{4}[ \t]+Box[ \t]+\d{4}|(?:USNS|USNV|USS|USCGC)[ \t]+[A-Z][a-z]+|[APD]PO[ \t]+A[AEP][ \t]+\d{5})"
_PO_BOX = r"(?:P\.?[ \t]?O\.?[ \t]?Box|Post[ \t]+Office[ \t]+Box)[ \t]+\d{1,6}"
_UK_POSTCODE = r"(?<![A-Za-z0-9])(?:GIR[ \t]?0AA|[A-Z]{1,2}\d[A-Z\d]?[ \t]?\d[ABD-HJLNP-UW-Z]{2})(?![A-Za-z0-9])"
_TOWN = rf"(?!{REGIONS}){_NAME}"

# Japanese: prefecture, municipality (市区町村, 郡), district, then 丁目/番地/号 or 1-2-3, then a building.
# District names are kanji and katakana, with the few kana that names hold (丸の内, 自由が丘, 二つ室),
# so that no sentence (particles) runs from a place to a phone number.
_JD = "[0-9０-９]"
_JDASH = "[-‐−－ー]"
_KANJI = "[一-龥々〆ヵヶ]"
_PREFECTURE = rf"(?:北海道|東京都|京都府|大阪府|{_KANJI}{{2,3}}県)"
_MUNICIPALITY = rf"(?:{_KANJI}|[ァ-ヴー]){{1,7}}?[市区町村郡](?![市区町村郡])"
#: After a prefecture, a municipality may be written in hiragana too (あきる野市, いすみ市, さいたま市).
_KANA_MUNICIPALITY = rf"(?:(?:{_KANJI}|[ァ-ヴー]){{1,7}}?|[ぁ-ん]{{2,6}}{_KANJI}?)[市区町村郡](?![市区町村郡])"
_JP_NUMBER = (
    rf"(?:(?:{_JD}+|[一二三四五六七八九十]+)丁目(?:{_JD}+番地?)?(?:{_JD}+号)?"
    rf"|{_JD}+番地?(?:{_JD}+号?)?"
    rf"|{_JD}+(?:{_JDASH}{_JD}+){{1,2}})"
)
_JP_BUILDING = rf"(?:[ 　]?(?:{_KANJI}|[ァ-ヴーA-Za-zＡ-Ｚａ-ｚ・])(?:{_KANJI}|[ぁ-んァ-ヴーA-Za-zＡ-Ｚａ-ｚ・]){{0,20}}?{_JD}{{1,4}}(?:号室)?)?"
_JP_ADDRESS = (
    rf"(?:〒[ 　]?{_JD}{{3}}{_JDASH}?{_JD}{{4}}[ 　]?)?"
    rf"(?:{_PREFECTURE}(?:{_KANA_MUNICIPALITY}){{0,2}}|{_MUNICIPALITY})(?:{_KANJI}|[のがつケァ-ヴー・ノＡ-Ｚａ-ｚ]){{0,16}}?{_JP_NUMBER}{_JP_BUILDING}"
)


@dataclass(frozen=True)
class _Part:
    name: str
    regex: re.Pattern[str]
    strong: bool  # an address on its own; weak parts count only inside a chain of strong ones


PARTS = [
    _Part("japanese address", re.compile(_JP_ADDRESS), True),
    _Part("japanese place", re.compile(rf"{_PREFECTURE}(?:{_KANA_MUNICIPALITY}){{1,2}}"), True),
    _Part("street and number", re.compile(_STREET), True),
    _Part("US city, state and ZIP", re.compile(_US_CITY_LINE), True),
    _Part("US city and state", re.compile(_US_CITY_STATE), True),
    _Part("military address", re.compile(_MILITARY), True),
    _Part("PO box", re.compile(_PO_BOX, re.IGNORECASE), True),
    _Part("UK postcode", re.compile(_UK_POSTCODE), True),
    _Part("unit", re.compile(_UNIT), False),
    _Part("floor", re.compile(_FLOOR), False),
    _Part("block", re.compile(_BLOCK), False),
    _Part("building", re.compile(_BUILDING), False),
    _Part("region", re.compile(REGIONS), False),
    _Part("street name", re.compile(_STREET_NAME), False),
    _Part("town", re.compile(_TOWN), False),
]
_SEPARATOR = re.compile(r"[ \t]*(?:[,，、][ \t]*\n?|\n)?[ \t]*")
CHAIN_SCORE = 0.7  # two or more parts, at least one distinctive
SINGLE_SCORE = 0.5  # a distinctive part alone (a postcode, a street and number)


class StreetAddressRecognizer(EntityRecognizer):
    """Finds postal addresses as one span each, from the first part to the last."""

    def __init__(self, supported_language: str = "en", **kwargs: Any) -> None:
        super().__init__(supported_entities=[ENTITY], supported_language=supported_language, name="StreetAddressRecognizer", **kwargs)

    def load(self) -> None:
        """Nothing to load: the parts are regular expressions."""

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        if entities and ENTITY not in entities:
            return []
        return [self._result(start, end, names) for start, end, names in address_spans(text)]

    def _result(self, start: int, end: int, names: list[str]) -> RecognizerResult:
        score = CHAIN_SCORE if len(names) > 1 else SINGLE_SCORE
        explanation = AnalysisExplanation(recognizer=self.name, original_score=score, textual_explanation="address parts: " + ", ".join(names))
        metadata = {
            RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
            RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY: True,  # the chain is its own context
        }
        return RecognizerResult(ENTITY, start, end, score, analysis_explanation=explanation, recognition_metadata=metadata)


def address_spans(text: str) -> list[tuple[int, int, list[str]]]:
    """(start, end, part names) of every address: parts chained by separators, with a strong part.

    Parts are taken longest first where they overlap (the Japanese address over the town inside
    it, the street over the town words of its name); a chain's weak ends are dropped, since a
    capitalised word after an address is as likely the next sentence as the town.
    """
    found: list[tuple[int, int, _Part]] = []
    for part in PARTS:
        found.extend((m.start(), m.end(), part) for m in part.regex.finditer(text) if m.end() > m.start())
    found.sort(key=lambda f: (f[0], -(f[1] - f[0]), not f[2].strong))
    parts: list[tuple[int, int, _Part]] = []
    for start, end, part in found:
        if parts and start < parts[-1][1]:
            continue  # inside (or across) a longer part already taken
        parts.append((start, end, part))
    spans = []
    chain: list[tuple[int, int, _Part]] = []
    for item in [*parts, None]:
        if item is not None and chain and _joined(text, chain[-1][1], item[0]):
            chain.append(item)
            continue
        while chain and chain[-1][2].name in ("town", "street name"):
            chain.pop()
        while chain and chain[0][2].name in ("town", "region"):
            chain.pop(0)
        if chain and any(p.strong for _, _, p in chain):
            spans.append((chain[0][0], chain[-1][1], [p.name for _, _, p in chain]))
        chain = [item] if item is not None else []
    return spans


def _joined(text: str, end: int, start: int) -> bool:
    """Whether only an address separator (comma, spaces, one line break) stands between two parts."""
    if start < end:
        return False
    match = _SEPARATOR.fullmatch(text, end, start)
    return match is not None
