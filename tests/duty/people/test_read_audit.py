"""Successful reads of personal data are audited: a snapshot read, a member's export and a
read of the audit log itself each add exactly one line naming the actor and the object,
and a read that finds nothing adds none."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, col, select

from station.duty.people.models import AuditEntry
from tests.duty.conftest import AUTH, ManualClock, duty_services, ingest, user_headers
from tests.duty.messages import event

JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")
Line = tuple[str, str, str, str | None, str, str]


def _added_by(api: TestClient, read: Callable[[], httpx.Response], status: int = 200) -> list[Line]:
    """Make the read (answered with `status`); return the audit lines it added."""
    engine = duty_services(api).engine
    with Session(engine) as session:
        last = session.exec(select(func.max(AuditEntry.id))).one() or 0
    answer = read()
    assert answer.status_code == status, answer.text
    with Session(engine) as session:
        rows = session.exec(select(AuditEntry).where(col(AuditEntry.id) > last)).all()
    return [(r.actor, r.action, r.target, r.station_id, r.outcome, r.detail) for r in rows]


def test_a_snapshot_read_is_audited_once_for_staff_and_for_the_node(
    api: TestClient, clock: ManualClock
) -> None:
    seen = event("ev-1", clock.now()).model_copy(update={"has_snapshot": True})
    ingest(api, seen, event("ev-2", clock.now()))
    duty_services(api).snapshots.save("node-1", "ev-1", JPEG)
    wang = user_headers(api, "wang", "manager", ("st-1",))
    url = "/api/v1/events/ev-1/snapshot"

    read = _added_by(api, lambda: api.get(url, headers=wang))
    assert read == [("wang", "read snapshot", "event ev-1", "st-1", "ok", "")]
    node_token = api.post("/api/v1/nodes/node-1/credentials", headers=AUTH).json()["api_token"]
    node = {"Authorization": f"Bearer {node_token}"}
    read = _added_by(api, lambda: api.get(url, headers=node))
    assert read == [("node:node-1", "read snapshot", "event ev-1", "st-1", "ok", "")]

    # An event without a snapshot: nothing was read, so nothing is logged as read.
    empty = "/api/v1/events/ev-2/snapshot"
    assert _added_by(api, lambda: api.get(empty, headers=wang), status=404) == []


def test_a_member_export_is_audited_once(api: TestClient) -> None:
    wang = user_headers(api, "wang", "manager", ("st-1",))
    body = {"occupation": "courier", "station_id": "st-1"}
    member = api.post("/api/v1/members", json=body, headers=wang).json()["id"]

    added = _added_by(api, lambda: api.get(f"/api/v1/members/{member}/export", headers=wang))
    assert added == [("wang", "member.export", member, "st-1", "ok", "")]
    # The next export (an admin's) is audited once too, and lists the first among the reads.
    answers: list[httpx.Response] = []

    def export() -> httpx.Response:
        answers.append(api.get(f"/api/v1/members/{member}/export", headers=AUTH))
        return answers[-1]

    (line,) = _added_by(api, export)
    assert line[1:5] == ("member.export", member, "st-1", "ok")
    reads = [(a["actor"], a["action"]) for a in answers[0].json()["audit"]]
    assert reads.count(("wang", "member.export")) == 1


def test_reading_the_audit_log_is_itself_audited_once(api: TestClient) -> None:
    zhou = user_headers(api, "zhou", "admin")
    params = {"actor": "wang", "outcome": "denied"}
    added = _added_by(api, lambda: api.get("/api/v1/audit", params=params, headers=zhou))
    assert added == [("zhou", "read audit log", "actor wang", None, "ok", "outcome denied")]
    added = _added_by(api, lambda: api.get("/api/v1/audit", headers=zhou))
    assert added == [("zhou", "read audit log", "actor *", None, "ok", "outcome *")]
