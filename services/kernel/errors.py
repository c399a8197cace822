"""The error registry: every failure a client can cause, with its HTTP status. One error path."""

from __future__ import annotations


class ApiError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, message_zh: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.message_zh = message_zh
        self.details = details or {}

    def headers(self) -> dict | None:
        """Headers the answer carries (e.g. Retry-After of a 429); none by default."""
        return None

    def body(self) -> dict:
        error = {"code": self.code, "message": self.message}
        if self.message_zh:
            error["message_zh"] = self.message_zh
        if self.details:
            error["details"] = self.details
        return {"error": error}


class BadRequest(ApiError):
    """Field-level problems: the body is `{"errors": {"field": ["message"]}}`."""

    status = 400
    code = "invalid"

    def __init__(self, errors: dict):
        super().__init__("invalid request")
        self.errors = errors

    def body(self) -> dict:
        return {"errors": self.errors}


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class MethodNotAllowed(ApiError):
    status = 405
    code = "method_not_allowed"


class Conflict(ApiError):
    """A state change that is not allowed now (e.g. decide before accept)."""

    status = 409
    code = "conflict"


class PayloadTooLarge(ApiError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(ApiError):
    status = 415
    code = "unsupported_media_type"


class Unavailable(ApiError):
    status = 503
    code = "unavailable"
