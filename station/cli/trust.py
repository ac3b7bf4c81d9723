"""`station edge enrol` (a node exchanges its one-time code for its credentials),
`station keys ...` (cloud-duty's signing and phone-hash key file) and
`station node enrolment` (an admin asks for a node's one-time code)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from station.cli.language import _

logger = logging.getLogger(__name__)


def add_enrol_command(edge_sub: Any) -> None:
    """Add `enrol` under `station edge`."""
    enrol = edge_sub.add_parser(
        "enrol", help=_("exchange a one-time enrolment code for this node's credentials")
    )
    enrol.add_argument("--code", required=True, help=_("the code an admin gave you"))
    enrol.add_argument("--duty-url", required=True, help=_("cloud-duty's base URL"))
    enrol.add_argument(
        "--out",
        type=Path,
        default=Path("/etc/worker-station/node-credentials.yaml"),
        help=_("credentials file to write (mode 0600); name it as `credentials:` in node.yaml"),
    )
    enrol.set_defaults(func=run_enrol)


def run_enrol(args: argparse.Namespace) -> int:
    """Enrol this node; 2 with the reason when cloud-duty refuses or cannot be reached."""
    from edge.enrol import enrol, write_credentials
    from edge.errors import EnrolmentError

    try:
        credentials = enrol(args.duty_url, args.code)
        write_credentials(args.out, credentials)
    except (EnrolmentError, OSError) as err:
        logger.error(_("enrolment failed: %s"), err)
        return 2
    summary = {
        "node_id": credentials.node_id,
        "station_id": credentials.station_id,
        "credentials": str(args.out),
        "next": _("set `credentials: {path}` in the node's YAML and start it").format(
            path=args.out
        ),
    }
    sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    return 0


def add_key_commands(sub: Any) -> None:
    """Add the `keys` command group."""
    keys = sub.add_parser("keys", help=_("cloud-duty's signing and phone-hash key file"))
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    for name, helptext in (
        ("new", _("make a key file (refuses to overwrite one)")),
        ("rotate", _("new current keys; the old ones stay as previous (nodes accept both)")),
        ("import-legacy", _("move keys once kept in the database (UWS_DATABASE_URL) to the file")),
        ("show", _("print the public keys and their ids (no secrets)")),
    ):
        cmd = keys_sub.add_parser(name, help=helptext)
        cmd.add_argument("--file", type=Path, default=Path("var/duty-keys.json"))
        cmd.set_defaults(func=run_keys, keys_action=name)


def run_keys(args: argparse.Namespace) -> int:
    """Run a `keys` command; 2 with the reason when it cannot."""
    from station.duty.people import keys

    try:
        if args.keys_action == "new":
            keys.write_key_file(args.file, keys.new_ring(), replace=False)
        elif args.keys_action == "rotate":
            ring = keys.read_key_file(args.file, strict=False)
            keys.write_key_file(args.file, keys.rotated(ring))
        elif args.keys_action == "import-legacy":
            _import_legacy(args.file)
        ring = keys.read_key_file(args.file, strict=False)
    except FileExistsError:
        logger.error(_("%s exists; use `station keys rotate`"), args.file)
        return 2
    except (keys.KeyFileError, OSError) as err:
        logger.error("%s", err)
        return 2
    shown = [
        {"id": i, "public_key": k} for i, k in zip(ring.key_ids, ring.public_keys, strict=True)
    ]
    sys.stdout.write(json.dumps({"file": str(args.file), "signing": shown}, indent=2) + "\n")
    return 0


def _import_legacy(path: Path) -> None:
    """Move the keys an older cloud-duty kept in its database to the key file (as its keys,
    or as previous keys beside the file's), then delete them from the database."""
    from sqlmodel import Session

    from station.duty.db import make_engine
    from station.duty.people import keys
    from station.duty.people.models import EntryKey
    from station.duty.settings import DutySettings

    engine = make_engine(DutySettings().database_url)
    try:
        with Session(engine) as session:
            row = session.get(EntryKey, 1)
            if row is None:
                raise keys.KeyFileError(_("the database holds no legacy keys"))
            signing, phone = bytes.fromhex(row.private_key), bytes.fromhex(row.phone_key)
            if path.exists():  # the file's keys stay current; the old ones still verify
                ring = keys.with_previous(keys.read_key_file(path, strict=False), signing, phone)
            else:  # nothing changes for nodes: the old keys stay the current ones
                ring = keys.KeyRing((signing,), (phone,))
            keys.write_key_file(path, ring)
            session.delete(row)
            session.commit()
    finally:
        engine.dispose()


def add_node_commands(sub: Any) -> None:
    """Add `station node enrolment NODE` (needs an admin's UWS_API_TOKEN)."""
    node = sub.add_parser("node", help=_("edge nodes in cloud-duty"))
    node_sub = node.add_subparsers(dest="node_command", required=True)
    code = node_sub.add_parser("enrolment", help=_("a one-time enrolment code for a node"))
    code.add_argument("node")
    code.add_argument("--url", default="http://127.0.0.1:8000", help=_("cloud-duty's base URL"))
    code.set_defaults(func=run_enrolment_code)


def run_enrolment_code(args: argparse.Namespace) -> int:
    """Ask cloud-duty for a node's enrolment code and print it."""
    import httpx

    token = os.environ.get("UWS_API_TOKEN", "")
    if not token:
        logger.error(_("set UWS_API_TOKEN to an admin's cloud-duty token"))
        return 2
    try:
        with httpx.Client(base_url=args.url, timeout=15) as http:
            response = http.post(
                f"/api/v1/nodes/{args.node}/enrolment",
                headers={"Authorization": f"Bearer {token}"},
            )
    except httpx.HTTPError as err:
        logger.error(_("cloud-duty at %s did not answer: %s"), args.url, err)
        return 2
    if response.is_error:
        logger.error(_("cloud-duty refused (%s): %s"), response.status_code, response.text[:200])
        return 2
    sys.stdout.write(json.dumps(response.json(), indent=2) + "\n")
    return 0
