"""Stations and nodes: registration, look-up, and the node -> station directory of ingest."""

from __future__ import annotations

import time
from collections.abc import Iterable

from sqlmodel import Session, col, select

from station.duty.errors import ConflictError, NotFoundError
from station.duty.fleet.models import Node, NodeCreate, Station, StationCreate


class RegistryError(ConflictError):
    """A registration that conflicts with what is stored or names something unknown."""


class NotRegisteredError(NotFoundError):
    """No such station or node."""


def create_station(session: Session, body: StationCreate) -> Station:
    """Register a station; the same body twice is fine, a different one is refused."""
    existing = session.get(Station, body.id)
    if existing is not None:
        if StationCreate.model_validate(existing, from_attributes=True) != body:
            raise RegistryError(f"station {body.id} exists with other details")
        return existing
    station = Station.model_validate(body)
    session.add(station)
    session.commit()
    session.refresh(station)
    return station


def create_node(session: Session, body: NodeCreate) -> Node:
    """Register a node of a known station; idempotent like create_station."""
    if session.get(Station, body.station_id) is None:
        raise RegistryError(f"station {body.station_id} is not registered")
    existing = session.get(Node, body.id)
    if existing is not None:
        if existing.station_id != body.station_id or existing.name != body.name:
            raise RegistryError(f"node {body.id} exists with other details")
        return existing
    node = Node.model_validate(body)
    session.add(node)
    session.commit()
    session.refresh(node)
    return node


def get_station(session: Session, station_id: str) -> Station:
    """Return a station or raise NotRegisteredError."""
    station = session.get(Station, station_id)
    if station is None:
        raise NotRegisteredError(f"no station {station_id}")
    return station


def get_node(session: Session, node_id: str) -> Node:
    """Return a node or raise NotRegisteredError."""
    node = session.get(Node, node_id)
    if node is None:
        raise NotRegisteredError(f"no node {node_id}")
    return node


class NodeDirectory:
    """Which station each node serves; unknown ids are remembered for a while."""

    def __init__(self, unknown_ttl_s: float) -> None:
        self._stations: dict[str, str] = {}
        self._unknown: dict[str, float] = {}
        self._unknown_ttl_s = unknown_ttl_s

    def resolve(self, session: Session, node_ids: Iterable[str]) -> dict[str, str]:
        """Map the known ones of `node_ids` to their station ids."""
        now = time.monotonic()
        wanted = {n for n in node_ids if n not in self._stations}
        wanted = {n for n in wanted if self._unknown.get(n, 0.0) <= now}
        if wanted:
            rows = session.exec(select(Node.id, Node.station_id).where(col(Node.id).in_(wanted)))
            for node_id, station_id in rows:
                self._stations[node_id] = station_id
                self._unknown.pop(node_id, None)
            for node_id in wanted - self._stations.keys():
                self._unknown[node_id] = now + self._unknown_ttl_s
        return {n: self._stations[n] for n in node_ids if n in self._stations}

    def forget(self, node_id: str) -> None:
        """Drop a cached entry, e.g. after the node was registered."""
        self._stations.pop(node_id, None)
        self._unknown.pop(node_id, None)
