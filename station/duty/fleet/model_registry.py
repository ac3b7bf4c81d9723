"""The model registry's services: register a version and its weights, roll it out to a canary
group or to every node, serve a node what it should run, and show who runs what."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from datetime import datetime

from sqlmodel import Session, col, select

from station.contracts import RunningModel
from station.duty.errors import ConflictError, InvalidRequestError, NotFoundError
from station.duty.fleet.model_models import (
    MAX_WEIGHTS_BYTES,
    ModelVersion,
    ModelVersionCreate,
    ModelVersionPublic,
    ModelWeights,
    NodeModel,
    NodeModelAssignment,
    NodeModelState,
    RolloutCreate,
    RolloutStage,
)
from station.duty.fleet.models import Node

logger = logging.getLogger(__name__)


class UnknownVersionError(NotFoundError):
    """No model version of that id."""


def register_version(
    session: Session, body: ModelVersionCreate, actor: str, now: datetime
) -> ModelVersion:
    """Register a version (idempotent for the same id and sha256)."""
    existing = session.get(ModelVersion, body.id)
    if existing is not None:
        if existing.sha256 != body.sha256 or existing.slot != body.slot:
            raise ConflictError(f"model version {body.id} exists with other weights")
        return existing
    if not body.classes:
        raise InvalidRequestError("a model version names its classes")
    version = ModelVersion(**body.model_dump(), created_by=actor, created_at=now)
    session.add(version)
    session.flush()
    return version


def get_version(session: Session, version_id: str) -> ModelVersion:
    """Return a version or raise UnknownVersionError."""
    version = session.get(ModelVersion, version_id)
    if version is None:
        raise UnknownVersionError(f"no model version {version_id}")
    return version


def store_weights(session: Session, version_id: str, data: bytes) -> ModelVersion:
    """Keep a version's weights, refused unless their SHA-256 is the registered one."""
    version = get_version(session, version_id)
    if not data or len(data) > MAX_WEIGHTS_BYTES:
        raise InvalidRequestError(f"weights must be 1 to {MAX_WEIGHTS_BYTES} bytes")
    digest = hashlib.sha256(data).hexdigest()
    if digest != version.sha256:
        raise InvalidRequestError(f"weights have SHA-256 {digest}, registered {version.sha256}")
    stored = session.get(ModelWeights, version_id)
    if stored is None:
        session.add(ModelWeights(version_id=version_id, data=data))
    version.size = len(data)
    session.add(version)
    return version


def weights_of(session: Session, version_id: str) -> bytes:
    """Return a version's weights, or raise NotFoundError before they are uploaded."""
    stored = session.get(ModelWeights, get_version(session, version_id).id)
    if stored is None:
        raise NotFoundError(f"model version {version_id} has no weights yet")
    return stored.data


def roll_out(
    session: Session, version_id: str, body: RolloutCreate, actor: str, now: datetime
) -> list[str]:
    """Tell nodes to run the version: the canary nodes named, or every node; returns them."""
    version = get_version(session, version_id)
    if version.size is None:
        raise ConflictError(f"model version {version_id} has no weights yet")
    if body.stage is RolloutStage.CANARY:
        if not body.node_ids:
            raise InvalidRequestError("a canary rollout names its nodes")
        nodes = list(session.exec(select(Node).where(col(Node.id).in_(body.node_ids))))
        missing = set(body.node_ids) - {n.id for n in nodes}
        if missing:
            raise NotFoundError(f"no such node(s): {', '.join(sorted(missing))}")
    elif body.stage is RolloutStage.ALL:
        nodes = list(session.exec(select(Node)))
    else:
        raise InvalidRequestError("a rollout's stage is canary or all")
    for node in nodes:
        assignment = session.get(NodeModel, (node.id, version.slot)) or NodeModel(
            node_id=node.id,
            slot=version.slot,
            version_id=version.id,
            assigned_by=actor,
            assigned_at=now,
        )
        assignment.version_id, assignment.assigned_by = version.id, actor
        assignment.assigned_at = now
        session.add(assignment)
    if version.stage is not RolloutStage.ALL:
        version.stage = body.stage
        session.add(version)
    logger.info("model %s rolled out (%s) to %d node(s)", version.id, body.stage, len(nodes))
    return sorted(n.id for n in nodes)


def assignments_for(session: Session, node_id: str) -> list[NodeModelAssignment]:
    """What the node should run, slot by slot."""
    rows = session.exec(
        select(NodeModel, ModelVersion)
        .join(ModelVersion, col(ModelVersion.id) == col(NodeModel.version_id))
        .where(NodeModel.node_id == node_id)
        .order_by(col(NodeModel.slot))
    ).all()
    return [
        NodeModelAssignment(
            slot=a.slot,
            version=v.id,
            sha256=v.sha256,
            format=v.format,
            size=v.size,
            classes=v.classes,
        )
        for a, v in rows
    ]


def check_assigned(session: Session, node_id: str, version_id: str) -> None:
    """Refuse a node downloading a version it was not told to run."""
    found = session.exec(
        select(NodeModel).where(NodeModel.node_id == node_id, NodeModel.version_id == version_id)
    ).first()
    if found is None:
        raise NotFoundError(f"model version {version_id} is not assigned to node {node_id}")


def fleet_models(session: Session, station_ids: Iterable[str] | None) -> list[NodeModelState]:
    """Per node and slot: the version wanted, the one running, and any rollback."""
    query = select(Node).order_by(col(Node.id))
    if station_ids is not None:
        query = query.where(col(Node.station_id).in_(sorted(station_ids)))
    nodes = list(session.exec(query))
    wanted: dict[tuple[str, str], str] = {
        (a.node_id, a.slot): a.version_id for a in session.exec(select(NodeModel))
    }
    rows: list[NodeModelState] = []
    for node in nodes:
        running = {m.slot: m for m in (node.health.models if node.health else [])}
        slots = sorted({s for n, s in wanted if n == node.id} | set(running) or {"detector"})
        for slot in slots:
            rows.append(_state(node, slot, wanted.get((node.id, slot), ""), running.get(slot)))
    return rows


def _state(node: Node, slot: str, wanted: str, running: RunningModel | None) -> NodeModelState:
    now_running = running.version if running else ""
    rolled_back = running.rolled_back_from if running else ""
    if wanted and rolled_back == wanted:
        state = "rolled_back"
    elif wanted and now_running != wanted:
        state = "updating"
    else:
        state = "running" if now_running else "configured"
    return NodeModelState(
        node_id=node.id,
        station_id=node.station_id,
        slot=slot,
        wanted=wanted,
        running=now_running,
        rolled_back_from=rolled_back,
        rollback_reason=running.rollback_reason if running else "",
        state=state,
        reported_at=node.health.ts if node.health else None,
    )


def list_versions(session: Session, station_ids: Iterable[str] | None) -> list[ModelVersionPublic]:
    """Every version, newest first, with how many nodes (of these stations) want, run and
    rolled it back."""
    states = fleet_models(session, station_ids)
    out = []
    versions = session.exec(select(ModelVersion).order_by(col(ModelVersion.created_at).desc()))
    for version in versions:
        public = ModelVersionPublic.model_validate(version)
        public.assigned = sum(s.wanted == version.id for s in states)
        public.running = sum(s.running == version.id for s in states)
        public.rolled_back = sum(s.rolled_back_from == version.id for s in states)
        out.append(public)
    return out
