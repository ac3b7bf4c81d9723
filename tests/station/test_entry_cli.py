"""`station member ...` and `station qr issue` against a real cloud-duty."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from station.cli.main import main
from station.tokens import TokenVerifier
from tests.edge.entry.station import load_image
from tests.support.broker import MosquittoBroker
from tests.support.duty_server import TOKEN, DutyServer
from vision.qr import QrReader

pytestmark = pytest.mark.integration


@pytest.fixture
def duty(broker: MosquittoBroker, pg_url: str) -> Iterator[DutyServer]:
    server = DutyServer(pg_url, broker.port).start()
    server.register("st-1", "node-1")
    yield server
    server.stop()


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_member_and_qr_commands(
    duty: DutyServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("UWS_API_TOKEN", TOKEN)
    url = ["--url", duty.url]
    code, out = _run(
        capsys, "member", "add", *url, "--occupation", "courier", "--phone", "13900000002"
    )
    assert code == 0
    member = json.loads(out)["id"]
    code, out = _run(
        capsys,
        "member",
        "consent",
        member,
        *url,
        "--kind",
        "face",
        "--version",
        "v1",
        "--station",
        "st-1",
    )
    assert code == 0
    consent = json.loads(out)["id"]
    code, out = _run(capsys, "member", "withdraw", member, *url, "--consent", str(consent))
    assert json.loads(out)["withdrawn_at"] is not None

    png = tmp_path / "code.png"
    code, out = _run(
        capsys, "qr", "issue", *url, "--member", member, "--scope", "st-1", "--out", str(png)
    )
    assert code == 0
    token = QrReader().read(load_image(png))
    assert token is not None
    assert token == json.loads(out)["token"]
    with duty.client() as http:
        key = http.get("/api/v1/entry/sync").json()["public_key"]
    assert TokenVerifier(key, "st-1").verify(token, datetime.now(UTC)).member_id == member

    assert _run(capsys, "member", "revoke", member, *url)[0] == 0
    code, _ = _run(
        capsys, "qr", "issue", *url, "--member", member, "--scope", "st-1", "--out", str(png)
    )
    assert code == 2  # refused: revoked
    code, out = _run(capsys, "member", "link", member, *url, "--scope", "st-1")
    assert code == 2  # refused: revoked
    assert _run(capsys, "member", "reinstate", member, *url)[0] == 0
    code, out = _run(capsys, "member", "link", member, *url, "--scope", "st-1")
    assert "#c=UWM1." in json.loads(out)["page_url"]
    code, out = _run(capsys, "member", "export", member, *url)
    assert [c["id"] for c in json.loads(out)["consents"]] == [consent]
    code, out = _run(capsys, "member", "erase", member, *url)
    assert [o["node_id"] for o in json.loads(out)["orders"]] == ["node-1"]
    assert _run(capsys, "member", "export", member, *url)[0] == 2
    assert _run(capsys, "member", "show", "m-nobody", *url)[0] == 2
    monkeypatch.delenv("UWS_API_TOKEN")
    assert _run(capsys, "member", "show", member, *url)[0] == 2
