"""`station qr ...` and `station member ...`: cloud-duty's entry API from a shell.

Talks HTTP to a running cloud-duty (`--url`), with the bearer token from `UWS_API_TOKEN`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import httpx

from station.cli.language import _

logger = logging.getLogger(__name__)


class EntryCliError(RuntimeError):
    """A request cloud-duty refused or could not answer; the message says why."""


def add_entry_commands(sub: Any) -> None:
    """Add the `qr` and `member` command groups to the `station` parser."""
    qr = sub.add_parser("qr", help=_("entry QR codes"))
    qr_sub = qr.add_subparsers(dest="qr_command", required=True)
    issue = qr_sub.add_parser("issue", help=_("issue a signed entry token as a PNG QR code"))
    _common(issue)
    issue.add_argument("--member", required=True, help=_("pseudonymous member id"))
    issue.add_argument("--scope", action="append", required=True, help=_("station id or region:X"))
    issue.add_argument("--ttl", type=int, default=30, help=_("lifetime in seconds"))
    issue.add_argument("--out", type=Path, required=True, help=_("PNG file to write"))
    issue.set_defaults(func=run_entry_command, entry_func=_qr_issue)

    member = sub.add_parser("member", help=_("members, consent and revocation"))
    member_sub = member.add_subparsers(dest="member_command", required=True)
    add = member_sub.add_parser("add", help=_("register a member; prints the new pseudonymous id"))
    _common(add)
    add.add_argument("--occupation", default="")
    add.add_argument("--platform", default="", help=_("employer platform"))
    add.add_argument("--phone", help=_("kept by cloud-duty only as a keyed hash"))
    add.set_defaults(func=run_entry_command, entry_func=_member_add)
    for name, helptext in (
        ("show", _("show a member")),
        ("revoke", _("refuse the member's tokens from every node's next sync")),
        ("reinstate", _("lift a revocation")),
        ("consents", _("list a member's consent records")),
        ("export", _("everything held about the member, as JSON")),
        ("erase", _("erase the member; nodes delete their face template and confirm")),
    ):
        cmd = member_sub.add_parser(name, help=helptext)
        _common(cmd)
        cmd.add_argument("member")
        cmd.set_defaults(func=run_entry_command, entry_func=_member_simple, action=name)
    consent = member_sub.add_parser("consent", help=_("record a consent given at a station"))
    _common(consent)
    consent.add_argument("member")
    consent.add_argument("--kind", choices=["face", "face_sharing"], required=True)
    consent.add_argument("--version", required=True, help=_("version of the consent text shown"))
    consent.add_argument("--station", required=True, help=_("where it was given"))
    consent.set_defaults(func=run_entry_command, entry_func=_member_consent)
    withdraw = member_sub.add_parser("withdraw", help=_("withdraw a consent"))
    _common(withdraw)
    withdraw.add_argument("member")
    withdraw.add_argument("--consent", type=int, required=True, help=_("consent record id"))
    withdraw.set_defaults(func=run_entry_command, entry_func=_member_withdraw)
    link = member_sub.add_parser(
        "link", help=_("the member's own page link (a short-lived member credential)")
    )
    _common(link)
    link.add_argument("member")
    link.add_argument("--scope", action="append", required=True, help=_("station id"))
    link.add_argument("--ttl", type=int, help=_("lifetime in seconds (default: cloud-duty's)"))
    link.set_defaults(func=run_entry_command, entry_func=_member_link)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default="http://127.0.0.1:8000", help=_("cloud-duty's base URL"))


def _call(args: argparse.Namespace, method: str, path: str, **kwargs: Any) -> httpx.Response:
    token = os.environ.get("UWS_API_TOKEN", "")
    if not token:
        raise EntryCliError(_("set UWS_API_TOKEN to a cloud-duty API token"))
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with httpx.Client(base_url=args.url, headers=headers, timeout=15) as http:
            response = http.request(method, f"/api/v1{path}", **kwargs)
    except httpx.HTTPError as err:
        silent = _("cloud-duty at {url} did not answer: {error}")
        raise EntryCliError(silent.format(url=args.url, error=err)) from err
    if response.is_error:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        refused = _("cloud-duty refused ({status}): {detail}")
        raise EntryCliError(refused.format(status=response.status_code, detail=detail))
    return response


def _print(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def _qr_issue(args: argparse.Namespace) -> None:
    # Lazy: every `station` command builds this parser; only this one needs segno.
    from station.tokens import qr_png

    body = {"scopes": args.scope, "ttl_s": args.ttl}
    issued = _call(args, "POST", f"/members/{args.member}/tokens", json=body).json()
    args.out.write_bytes(qr_png(issued["token"]))
    _print({"out": str(args.out), "expires_at": issued["expires_at"], "token": issued["token"]})


def _member_add(args: argparse.Namespace) -> None:
    body = {"occupation": args.occupation, "employer_platform": args.platform}
    if args.phone:
        body["phone"] = args.phone
    _print(_call(args, "POST", "/members", json=body).json())


def _member_simple(args: argparse.Namespace) -> None:
    path = f"/members/{args.member}"
    if args.action == "show":
        _print(_call(args, "GET", path).json())
    elif args.action in ("consents", "export"):
        _print(_call(args, "GET", f"{path}/{args.action}").json())
    elif args.action == "erase":
        _print(_call(args, "DELETE", path).json())
    else:
        _call(args, "POST", f"{path}/{args.action}")
        _print({"member": args.member, "done": args.action})


def _member_consent(args: argparse.Namespace) -> None:
    body = {"kind": args.kind, "text_version": args.version, "station_id": args.station}
    _print(_call(args, "POST", f"/members/{args.member}/consents", json=body).json())


def _member_link(args: argparse.Namespace) -> None:
    body: dict[str, Any] = {"scopes": args.scope}
    if args.ttl:
        body["ttl_s"] = args.ttl
    issued = _call(args, "POST", f"/members/{args.member}/credential", json=body).json()
    _print({"page_url": issued["page_url"], "expires_at": issued["expires_at"]})


def _member_withdraw(args: argparse.Namespace) -> None:
    path = f"/members/{args.member}/consents/{args.consent}/withdraw"
    _print(_call(args, "POST", path).json())


def run_entry_command(args: argparse.Namespace) -> int:
    """Run a `qr` or `member` command; 2 with a clear message when it fails."""
    try:
        args.entry_func(args)
    except EntryCliError as err:
        logger.error("%s", err)
        return 2
    return 0
