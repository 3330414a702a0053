"""Every error leaves the server here, as an OperationOutcome with its status and stable code."""

from __future__ import annotations

import logging
import traceback

from flask import Flask
from flask import Response
from flask import g
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import MethodNotAllowed as WerkzeugMethodNotAllowed

from cds_server.api.responses import error_response
from cds_server.errors import AuthenticationFailed
from cds_server.errors import BadRequest
from cds_server.errors import CdsError
from cds_server.errors import MethodNotAllowed
from cds_server.errors import NotFound
from cds_server.errors import PayloadTooLarge
from cds_server.errors import UnsupportedMediaType

log = logging.getLogger("cds_server.errors")

_BY_STATUS: dict[int, type[CdsError]] = {
    400: BadRequest,
    401: AuthenticationFailed,
    404: NotFound,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
}


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(CdsError, _cds_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


def _cds_error(error: CdsError) -> Response:
    # an AuthenticationFailed's reason was already written to the (rate-limited) security log
    return error_response(error)


def _http_error(error: HTTPException) -> Response:
    if isinstance(error, WerkzeugMethodNotAllowed):
        return error_response(MethodNotAllowed(tuple(error.valid_methods or ())))
    status = error.code or 500
    if status in _BY_STATUS:
        return error_response(_BY_STATUS[status]())
    generic = CdsError()
    response = error_response(generic)
    response.status_code = status
    return response


def _unexpected(error: Exception) -> Response:
    # The exception's message may quote request content (PHI), so log its type and where it was
    # raised — enough to find the bug — and never the message or the frames' values.
    frames = traceback.extract_tb(error.__traceback__)
    where = " <- ".join(
        f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno} {frame.name}" for frame in frames[::-1]
    )
    log.error("unhandled %s in request %s at %s", type(error).__name__, getattr(g, "request_id", "-"), where)
    return error_response(CdsError())
