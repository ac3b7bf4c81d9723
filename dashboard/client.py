"""A typed client of cloud-duty's REST API: the dashboard's only way to its data."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from dashboard.models import (
    AlertPage,
    Consent,
    DailyRow,
    Erasure,
    Login,
    Member,
    Node,
    NodeModelRow,
    OccupancyPoint,
    Overview,
    Page,
    Station,
    StationStats,
    User,
)

logger = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)
_MAX_PAGE = 500


class DutyError(RuntimeError):
    """cloud-duty refused a request or could not be reached; `status` 0 if unreachable."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}" if status else detail)
        self.status = status
        self.detail = detail


class DutyClient:
    """Calls cloud-duty with the signed-in user's bearer token."""

    def __init__(
        self, base_url: str, token: str | None = None, *, timeout_s: float = 20, tz: str = ""
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=f"{base_url}/api/v1", headers=headers, timeout=timeout_s)
        self._tz = {"tz": tz} if tz else {}

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> DutyClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as err:
            logger.warning("cloud-duty unreachable on %s %s: %s", method, path, err)
            raise DutyError(0, f"cloud-duty is unreachable: {err}") from err
        if response.status_code >= 400:
            raise DutyError(response.status_code, _detail(response))
        return response

    def _get(self, kind: type[M] | Any, path: str, **params: Any) -> Any:
        response = self._send(
            "GET", path, params={k: v for k, v in params.items() if v is not None}
        )
        try:
            return TypeAdapter(kind).validate_python(response.json())
        except (ValidationError, ValueError) as err:
            raise DutyError(response.status_code, f"unexpected answer from {path}: {err}") from err

    def login(self, username: str, password: str) -> Login:
        """Sign in; raise DutyError(401) on wrong credentials."""
        body = {"username": username, "password": password}
        return Login.model_validate(self._send("POST", "/auth/login", json=body).json())

    def me(self) -> User:
        """Who the token belongs to."""
        return User.model_validate(self._send("GET", "/auth/me").json())

    def overview(self) -> Overview:
        """Every visible station and its state now."""
        result: Overview = self._get(Overview, "/stats/overview", **self._tz)
        return result

    def stations(self) -> list[Station]:
        """Every visible station (all pages)."""
        return self._all(Station, "/stations")

    def nodes(self) -> list[Node]:
        """Every visible edge node (all pages)."""
        return self._all(Node, "/nodes")

    def fleet_models(self) -> list[NodeModelRow]:
        """Which model version each visible node runs and should run."""
        rows: list[NodeModelRow] = self._get(list[NodeModelRow], "/fleet/models")
        return rows

    def _all(self, kind: type[M], path: str, **params: Any) -> list[M]:
        items: list[M] = []
        while True:
            shape = Page[kind]  # type: ignore[valid-type]
            page: Page[M] = self._get(shape, path, limit=_MAX_PAGE, offset=len(items), **params)
            items.extend(page.items)
            if not page.items or len(items) >= page.total:
                return items

    def station_stats(self, station_id: str, since: datetime, until: datetime) -> StationStats:
        """A station's visits, dwell, occupations and alerts over [since, until)."""
        result: StationStats = self._get(
            StationStats,
            f"/stations/{station_id}/stats",
            since=since.isoformat(),
            until=until.isoformat(),
            **self._tz,
        )
        return result

    def occupancy(self, station_id: str, day: date | None = None) -> list[OccupancyPoint]:
        """People inside every 15 minutes over a day, or the last 24 hours."""
        result: list[OccupancyPoint] = self._get(
            list[OccupancyPoint],
            f"/stations/{station_id}/stats/occupancy",
            day=day.isoformat() if day else None,
            **self._tz,
        )
        return result

    def daily(self, station_ids: list[str], since: datetime, until: datetime) -> list[DailyRow]:
        """Per station and day figures for a date range."""
        result: list[DailyRow] = self._get(
            list[DailyRow],
            "/stats/daily",
            station_id=station_ids or None,
            since=since.isoformat(),
            until=until.isoformat(),
            **self._tz,
        )
        return result

    def alerts(self, station_id: str, limit: int, offset: int) -> AlertPage:
        """One page of a station's alerts, newest first."""
        result: AlertPage = self._get(
            AlertPage, "/alerts", station_id=station_id, limit=limit, offset=offset
        )
        return result

    def snapshot(self, event_id: str) -> bytes | None:
        """The blurred JPEG of an event, or None if it has none."""
        try:
            return self._send("GET", f"/events/{event_id}/snapshot").content
        except DutyError as err:
            if err.status == 404:
                return None
            raise

    def create_member(
        self, occupation: str, platform: str, phone: str | None, station_id: str | None = None
    ) -> Member:
        """Register a member under a new pseudonymous id, at their home station."""
        body = {
            "occupation": occupation,
            "employer_platform": platform,
            "phone": phone or None,
            "station_id": station_id,
        }
        return Member.model_validate(self._send("POST", "/members", json=body).json())

    def member(self, member_id: str) -> Member:
        """One member (an audited read)."""
        result: Member = self._get(Member, f"/members/{member_id}")
        return result

    def consents(self, member_id: str) -> list[Consent]:
        """A member's consent records."""
        result: list[Consent] = self._get(list[Consent], f"/members/{member_id}/consents")
        return result

    def withdraw_consent(self, member_id: str, consent_id: int) -> Consent:
        """Withdraw a consent; nodes delete the face template at their next sync."""
        path = f"/members/{member_id}/consents/{consent_id}/withdraw"
        return Consent.model_validate(self._send("POST", path).json())

    def revoke(self, member_id: str, reason: str) -> None:
        """Stop every node accepting the member's entry tokens."""
        self._send("POST", f"/members/{member_id}/revoke", params={"reason": reason})

    def member_link(self, member_id: str, stations: list[str]) -> str:
        """The member's own page link, with their short-lived credential in its fragment."""
        path = f"/members/{member_id}/credential"
        return str(self._send("POST", path, json={"scopes": stations}).json()["page_url"])

    def export(self, member_id: str) -> bytes:
        """Everything held about the member, as JSON (an audited read)."""
        return self._send("GET", f"/members/{member_id}/export").content

    def erase(self, member_id: str) -> Erasure:
        """Erase the member; nodes holding their template get deletion orders."""
        return Erasure.model_validate(self._send("DELETE", f"/members/{member_id}").json())

    def erasures(self) -> list[Erasure]:
        """The latest erasures of the caller's stations and each node's confirmation."""
        result: list[Erasure] = self._get(list[Erasure], "/erasures")
        return result

    def qr_png(self, member_id: str, stations: list[str], ttl_s: int) -> bytes:
        """A fresh entry token for the member as a PNG QR code."""
        params: dict[str, Any] = {"scope": stations, "ttl_s": ttl_s}
        return self._send("GET", f"/members/{member_id}/qr.png", params=params).content


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    detail = body.get("detail") if isinstance(body, dict) else body
    if isinstance(detail, list):  # FastAPI validation errors
        return "; ".join(str(d.get("msg", d)) for d in detail if isinstance(d, dict))
    return str(detail)[:500]
