"""Four-eyes compares people, not strings: look-alike names are refused or recognised as one person,
a staff directory makes ids the currency, and an approval binds to one version of the plan."""

from __future__ import annotations

import datetime as dt
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from dsr.approval import ApprovalError, await_decision, decide, decision_for, supersede
from dsr.config import ConfigError, load_estate
from dsr.erasure import make_plan
from dsr.plan import ErasurePlan, PlanStep
from dsr.requests import RequestError, Verification, create_request, get_request
from dsr.runtime import Runtime
from dsr.staff import StaffError, checked_name, same_person
from dsr.subject import Identifier, IdentifierKind
from tests import shop

REQUESTER = "Aiko Sato"

#: How the requester's own name was passed off as somebody else's (found by a probe): invisible and
#: direction characters, compatibility forms, a letter from another script.
FORGERIES = [
    "Aiko\u200b Sato", "Aiko\u200d Sato", "Ai\u00adko Sato", "\u202eAiko Sato", "Aiko Sato\u2066",
    "\uff21\uff49\uff4b\uff4f Sato",  # full-width
    "\u0410iko Sato",  # Cyrillic A
    "Aiko S\u0430to",  # Cyrillic a
    "\U0001d400iko Sato",  # mathematical bold A
]


@pytest.mark.parametrize("forged", FORGERIES)
def test_a_name_that_could_pass_for_another_is_refused(forged: str) -> None:
    with pytest.raises(StaffError):
        checked_name(forged)


@pytest.mark.parametrize("name", ["Aiko Sato", "佐藤 愛子", "サトウ あい子", "José Álvarez", "Олег Иванов", "Ken O'Brien-Ito", "김 민준"])
def test_real_names_of_one_writing_system_or_a_cjk_mix_pass(name: str) -> None:
    assert checked_name(name) == name


def test_whole_names_in_look_alike_letters_are_one_person() -> None:
    assert same_person("\u0410\u0456\u043a\u043e \u0405\u0430\u0442\u043e", REQUESTER)  # all Cyrillic, no mix to refuse
    assert same_person("AIKO  SATO", REQUESTER) and same_person("Aik0 Sato", REQUESTER)
    assert not same_person("Mari Tanaka", REQUESTER) and not same_person("Aiko Satou", REQUESTER)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=20), st.integers(min_value=0, max_value=20))
def test_any_character_inserted_into_a_name_is_refused_or_noticed(extra: str, at: int) -> None:
    """Insert anything anywhere into the requester's name: either the name is refused, or it is
    a visibly different name (it has more letters or digits than the original), never a silent twin."""
    forged = REQUESTER[:at] + extra + REQUESTER[at:]
    try:
        name = checked_name(forged)
    except StaffError:
        return
    if same_person(name, REQUESTER):
        visible = [c for c in name if unicodedata.category(c)[0] in "LN"]
        assert len(visible) == len([c for c in REQUESTER if c.isalnum()])


# --------------------------------------------------------------------------- with the control database


def _runtime(tmp_path: Path, staff: dict | None = None) -> Runtime:
    main = f"sqlite:///{tmp_path / 'main.db'}"
    side = f"sqlite:///{tmp_path / 'side.db'}"
    shop.load_main(main)
    shop.load_side(side)
    config = shop.write_config(tmp_path, {"main": main, "side": side}, [shop.MAIN_DATASET, shop.SIDE_DATASET])
    if staff is not None:
        YAML().dump(staff, config / "staff.yaml")
    return Runtime.open(config, create_keys=True)


def _awaiting(rt: Runtime, requested_by: str, verified_by: str) -> tuple[str, ErasurePlan]:
    identifiers = [Identifier.parse(IdentifierKind.EMAIL, shop.SUBJECT["email"])]
    with rt.sessions() as session:
        row = create_request(session, rt.estate, kind="erase", identifiers=identifiers, channel="web", department="Support Desk",
                             requested_by=requested_by, verification=Verification("photo ID", verified_by, dt.datetime.now(dt.UTC)))
        session.commit()
        request_id = row.id
    from dsr.erasure import discover_now

    plan = make_plan(rt, request_id, discover_now(rt, request_id))
    with rt.sessions() as session:
        await_decision(session, request_id, plan, dt.timedelta(hours=1))
        session.commit()
    return request_id, plan


@pytest.mark.parametrize("forged", FORGERIES + ["\u0410\u0456\u043a\u043e \u0405\u0430\u0442\u043e", "aiko sato"])
def test_the_requester_cannot_approve_under_a_look_alike_name(tmp_path: Path, forged: str) -> None:
    rt = _runtime(tmp_path)
    request_id, plan = _awaiting(rt, REQUESTER, "Ken Ito")
    with rt.sessions() as session, pytest.raises(ApprovalError):
        decide(session, request_id, actor=forged, verdict="approve", plan_digest=plan.digest, via="test", staff=None)
    with rt.sessions() as session:
        assert decision_for(session, request_id, plan.digest) is None
        assert get_request(session, request_id).status == "awaiting_approval"
        approved = decide(session, request_id, actor="Mari Tanaka", verdict="approve", plan_digest=plan.digest, via="test", staff=None)
    assert approved.approved and approved.actor == "Mari Tanaka"


STAFF = {"staff": [
    {"id": "asato", "name": "Aiko Sato", "roles": ["intake"]},
    {"id": "kito", "name": "Ken Ito", "roles": ["verify"]},
    {"id": "mtanaka", "name": "Mari Tanaka", "roles": ["approve", "intake"]},
]}


def test_with_a_staff_directory_people_are_ids_with_roles(tmp_path: Path) -> None:
    rt = _runtime(tmp_path, STAFF)
    with rt.sessions() as session, pytest.raises(RequestError, match="not a staff id"):
        create_request(session, rt.estate, kind="access", identifiers=[Identifier.parse(IdentifierKind.EMAIL, "x@example.jp")], channel="web",
                       department="Support Desk", requested_by="Aiko Sato")
    with rt.sessions() as session, pytest.raises(RequestError, match="role 'verify'"):
        create_request(session, rt.estate, kind="access", identifiers=[Identifier.parse(IdentifierKind.EMAIL, "x@example.jp")], channel="web",
                       department="Support Desk", requested_by="asato", verification=Verification("photo ID", "mtanaka", dt.datetime.now(dt.UTC)))
    request_id, plan = _awaiting(rt, "mtanaka", "kito")
    for who, why in (("kito", "role 'approve'"), ("Mari Tanaka", "not a staff id"), ("mtanaka", "four-eyes")):
        with rt.sessions() as session, pytest.raises(ApprovalError, match=why):
            decide(session, request_id, actor=who, verdict="approve", plan_digest=plan.digest, via="test", staff=rt.estate.staff)
    with rt.sessions() as session:
        assert get_request(session, request_id).requested_by == "mtanaka"


def test_a_staff_directory_with_a_forged_name_or_duplicate_id_is_refused_at_load(tmp_path: Path) -> None:
    root = _runtime(tmp_path).estate.root
    forged = {"staff": [{"id": "asato", "name": "Aiko\u200b Sato", "roles": ["intake"]}]}
    twice = {"staff": [{"id": "asato", "name": "Aiko Sato", "roles": ["intake"]}, {"id": "asato", "name": "Ken Ito", "roles": ["verify"]}]}
    for bad, why in ((forged, "invisible"), (twice, "unique")):
        YAML().dump(bad, root / "staff.yaml")
        with pytest.raises(ConfigError) as raised:
            load_estate(root)
        assert "staff.yaml:" in str(raised.value) and why in str(raised.value)


def test_an_approval_of_a_superseded_plan_never_counts_again(tmp_path: Path) -> None:
    """Plan A approved, then superseded by B (a hold placed), then A again (the hold released): the
    old approval of A is spent; A needs a new one."""
    rt = _runtime(tmp_path)
    request_id, plan_a = _awaiting(rt, REQUESTER, "Ken Ito")
    with rt.sessions() as session:
        decide(session, request_id, actor="Mari Tanaka", verdict="approve", plan_digest=plan_a.digest, via="test", staff=None)
        plan_b = ErasurePlan(plan_a.request_id, plan_a.policy_id, plan_a.policy_digest, plan_a.steps + (PlanStep("main", "customers", "retain", (), 1, "legal hold #1", "court order"),))
        supersede(session, request_id, plan_a.digest)
        session.commit()
        assert decision_for(session, request_id, plan_b.digest) is None
        supersede(session, request_id, plan_b.digest)  # back to A
        session.commit()
        assert decision_for(session, request_id, plan_a.digest) is None
        await_decision(session, request_id, plan_a, dt.timedelta(hours=1))  # the run puts A before approvers again
        session.commit()
        again = decide(session, request_id, actor="Ken Ito", verdict="approve", plan_digest=plan_a.digest, via="test", staff=None)
        assert decision_for(session, request_id, plan_a.digest) == again
