"""The one exception handler: a DutyError becomes the JSON error response of its class."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from station.duty.errors import DutyError, TooManyRequestsError

logger = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    """Every error answer: a message, or for a malformed request the list of what is wrong."""

    detail: str | list[dict[str, Any]] = Field(
        description="What went wrong: a sentence, or FastAPI's list of validation errors."
    )


# Our own 422s (InvalidRequestError) carry a sentence, FastAPI's carry a list: say both.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorBody, "description": "The request is malformed or cannot be answered."}
}


async def duty_error_response(_request: Request, exc: Exception) -> JSONResponse:
    """Answer `{"detail": <message>}` with the status the error's class carries."""
    assert isinstance(exc, DutyError)
    if exc.status_code >= 500:
        logger.warning("request failed: %s", exc)
    headers = {}
    if isinstance(exc, TooManyRequestsError) and exc.retry_after_s:
        headers["Retry-After"] = str(exc.retry_after_s)
    return JSONResponse({"detail": str(exc)}, status_code=exc.status_code, headers=headers)


def install_error_handler(app: FastAPI) -> None:
    """Register the handler for every DutyError on the app."""
    app.add_exception_handler(DutyError, duty_error_response)
