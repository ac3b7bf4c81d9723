"""The model registry's routes: versions, weights, rollouts, and what each node runs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import Response

from station.duty.api.access import STAFF, AdminDep, Caller, StaffDep, allow
from station.duty.fleet import model_registry, registry
from station.duty.fleet.model_models import (
    ModelVersionCreate,
    ModelVersionPublic,
    NodeModelAssignment,
    NodeModelState,
    RolloutCreate,
)
from station.duty.people.audit import audit
from station.duty.people.models import Role
from station.duty.services import NowDep, SessionDep

NodeOrStaff = Annotated[Caller, allow(*STAFF, Role.NODE)]
NodeOrAdmin = Annotated[Caller, allow(Role.ADMIN, Role.NODE)]

router = APIRouter(tags=["models"])


async def _raw_body(request: Request) -> bytes:
    return await request.body()


@router.get("/models")
def list_models(session: SessionDep, who: StaffDep) -> list[ModelVersionPublic]:
    """The registry: every model version with how many of the caller's nodes want, run and
    rolled it back."""
    return model_registry.list_versions(session, who.station_ids)


@router.post("/models", status_code=status.HTTP_201_CREATED)
def register_model(
    session: SessionDep, who: AdminDep, now: NowDep, body: ModelVersionCreate
) -> ModelVersionPublic:
    """Register a model version (sha256, classes, format, evaluation report); admins only.
    Upload its weights next with PUT /models/{version_id}/weights."""
    version = model_registry.register_version(session, body, who.name, now)
    audit(session, who, "register model", f"model {body.id}", None, body.sha256)
    session.commit()
    return ModelVersionPublic.model_validate(version)


@router.put("/models/{version_id}/weights")
def upload_weights(
    session: SessionDep,
    who: AdminDep,
    version_id: str,
    data: Annotated[bytes, Depends(_raw_body)],
) -> ModelVersionPublic:
    """Upload a version's weights (the request body, application/octet-stream); refused
    unless their SHA-256 is the registered one."""
    version = model_registry.store_weights(session, version_id, data)
    audit(session, who, "upload model weights", f"model {version_id}", None, str(len(data)))
    session.commit()
    return ModelVersionPublic.model_validate(version)


@router.get("/models/{version_id}/weights", response_class=Response)
def download_weights(session: SessionDep, who: NodeOrAdmin, version_id: str) -> Response:
    """The weights of a version (a node: only a version it is told to run)."""
    if who.role is Role.NODE and who.principal.node_id is not None:
        model_registry.check_assigned(session, who.principal.node_id, version_id)
    version = model_registry.get_version(session, version_id)
    data = model_registry.weights_of(session, version_id)
    headers = {"X-Model-SHA256": version.sha256}
    return Response(data, media_type="application/octet-stream", headers=headers)


@router.post("/models/{version_id}/rollout")
def roll_out(
    session: SessionDep, who: AdminDep, now: NowDep, version_id: str, body: RolloutCreate
) -> list[str]:
    """Roll a version out to a canary group of nodes, or to all; returns the nodes told."""
    nodes = model_registry.roll_out(session, version_id, body, who.name, now)
    detail = f"{body.stage.value}: {', '.join(nodes)}"[:500]
    audit(session, who, "roll out model", f"model {version_id}", None, detail)
    session.commit()
    return nodes


@router.get("/nodes/{node_id}/models")
def node_models(session: SessionDep, who: NodeOrStaff, node_id: str) -> list[NodeModelAssignment]:
    """What the node should run, slot by slot (a node: itself only)."""
    node = registry.get_node(session, node_id)
    who.check_node("read model assignment", node_id, node.station_id)
    return model_registry.assignments_for(session, node_id)


@router.get("/fleet/models")
def fleet_models(session: SessionDep, who: StaffDep) -> list[NodeModelState]:
    """Which node runs which model version, what it should run, and any rollback."""
    return model_registry.fleet_models(session, who.station_ids)
