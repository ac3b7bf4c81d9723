"""Stations and nodes: registration and look-up."""

from __future__ import annotations

from sqlmodel import Session

from station.duty.models import Node, NodeCreate, Station, StationCreate


class RegistryError(ValueError):
    """A registration that conflicts with what is stored or names something unknown."""


class NotFoundError(LookupError):
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
    """Return a station or raise NotFoundError."""
    station = session.get(Station, station_id)
    if station is None:
        raise NotFoundError(f"no station {station_id}")
    return station


def get_node(session: Session, node_id: str) -> Node:
    """Return a node or raise NotFoundError."""
    node = session.get(Node, node_id)
    if node is None:
        raise NotFoundError(f"no node {node_id}")
    return node
