"""cloud-duty's keys come from a key file or the environment, never the database, and rotate:
tokens of the previous key still verify, phone numbers hashed with it still match."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, inspect, text

from station.duty.app import create_app
from station.duty.people.keys import (
    KeyFileError,
    load_keys,
    new_ring,
    read_key_file,
    rotated,
    write_key_file,
)
from station.duty.settings import DutySettings
from station.tokens import TokenVerifier
from tests.duty.conftest import AUTH, TOKEN, ManualClock, register


def test_the_key_file_is_private_and_production_never_makes_one(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    with pytest.raises(KeyFileError, match="station keys new"):
        load_keys(path, None, None, create=False, strict=True)
    made = load_keys(path, None, None, create=True, strict=False)
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_keys(path, None, None, create=False, strict=True) == made
    path.chmod(0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_keys(path, None, None, create=False, strict=True)


def test_environment_keys_come_in_pairs_and_win_over_the_file(tmp_path: Path) -> None:
    ring = new_ring()
    signing = ",".join(k.hex() for k in ring.signing_keys)
    phone = ",".join(k.hex() for k in ring.phone_keys)
    assert load_keys(tmp_path / "none.json", signing, phone, create=False, strict=True) == ring
    with pytest.raises(KeyFileError, match="both"):
        load_keys(tmp_path / "none.json", signing, None, create=False, strict=True)
    with pytest.raises(KeyFileError, match="hex"):
        load_keys(tmp_path / "none.json", "zz", phone, create=False, strict=True)


def test_production_refuses_a_missing_key_file(tmp_path: Path) -> None:
    settings = DutySettings(
        environment="production",
        database_url="postgresql+psycopg://u@127.0.0.1/x",
        api_token="a-real-service-secret-1234",
        admin_password="a-real-admin-password",
        key_file=str(tmp_path / "missing.json"),
    )
    with pytest.raises(KeyFileError):
        create_app(settings)


def _app(db_url: str, key_file: Path, clock: ManualClock) -> TestClient:
    settings = DutySettings(
        database_url=db_url,
        api_token=TOKEN,
        key_file=str(key_file),
        start_ingest=False,
        start_scheduler=False,
    )
    return TestClient(create_app(settings, clock))


def test_a_rotation_keeps_old_tokens_and_phone_hashes_working(
    db_url: str, tmp_path: Path, clock: ManualClock
) -> None:
    key_file = tmp_path / "keys.json"
    write_key_file(key_file, new_ring())
    with _app(db_url, key_file, clock) as api:
        register(api.app.state.services.engine)  # type: ignore[attr-defined]
        body = {"occupation": "rider", "phone": "13800000009"}
        member = api.post("/api/v1/members", json=body, headers=AUTH).json()["id"]
        old_token = api.post(
            f"/api/v1/members/{member}/tokens", json={"scopes": ["st-1"]}, headers=AUTH
        ).json()["token"]
        old_sync = api.get("/api/v1/entry/sync", headers=AUTH).json()
    old_ring = read_key_file(key_file, strict=True)
    write_key_file(key_file, rotated(old_ring))
    with _app(db_url, key_file, clock) as api:
        sync = api.get("/api/v1/entry/sync", headers=AUTH).json()
        assert sync["public_keys"] == [sync["public_key"], old_sync["public_key"]]
        node = TokenVerifier(sync["public_keys"], "st-1")
        assert node.verify(old_token, clock.now()).member_id == member
        new_token = api.post(
            f"/api/v1/members/{member}/tokens", json={"scopes": ["st-1"]}, headers=AUTH
        ).json()["token"]
        assert node.verify(new_token, clock.now()).member_id == member
        again = api.post("/api/v1/members", json={"phone": "138 0000 0009"}, headers=AUTH)
        assert again.status_code == 409  # matched under the previous phone key
    database = create_engine(db_url)
    try:
        with database.connect() as conn:
            stored = conn.execute(text("SELECT phone_hash FROM member")).scalar_one()
            legacy = "entry_key" in inspect(database).get_table_names()
            rows = conn.execute(text("SELECT count(*) FROM entry_key")).scalar_one()
    finally:
        database.dispose()
    assert stored == read_key_file(key_file, strict=True).phone_hashes("13800000009")[0]
    assert legacy
    assert rows == 0  # the database holds no key


def test_keys_an_older_version_kept_in_the_database_move_to_the_key_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from sqlmodel import Session

    from station.cli.main import main
    from station.duty.db import make_engine, migrate
    from station.duty.people.models import EntryKey
    from station.tokens import new_private_key, public_key_of

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = make_engine(url)
    migrate(engine)
    private, phone = new_private_key(), bytes(range(32))
    with Session(engine) as session:
        session.add(EntryKey(private_key=private.hex(), phone_key=phone.hex()))
        session.commit()
    monkeypatch.setenv("UWS_DATABASE_URL", url)
    key_file = tmp_path / "keys.json"
    assert main(["keys", "import-legacy", "--file", str(key_file)]) == 0
    ring = read_key_file(key_file, strict=True)
    assert ring.signing_keys == (private,)  # nodes keep the key they were configured with
    assert ring.phone_keys == (phone,)
    assert public_key_of(private) in capsys.readouterr().out
    with Session(engine) as session:
        assert session.get(EntryKey, 1) is None
    assert main(["keys", "import-legacy", "--file", str(key_file)]) == 2  # nothing left
    assert main(["keys", "rotate", "--file", str(key_file)]) == 0
    assert read_key_file(key_file, strict=True).signing_keys[1] == private
    engine.dispose()
