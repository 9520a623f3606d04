"""Errors of the ECR API, each an HTTP status, a machine code and a sentence for the till.

EcrError                 base: status, code, sentence
├── BadRequest           400 malformed body or query (the reason says which field)
├── Unauthorized         401 missing or wrong bearer token
├── Forbidden            403 a refund or void the terminal's settings or PIN do not allow
├── NotFound             404 no such payment
├── RequestTimeout       408 the body did not arrive within ecr.body_timeout_s
└── Conflict             409 busy terminal, reference reused, not cancellable, wrong state
"""

from __future__ import annotations

from terminal.errors import PostermError


class EcrError(PostermError):
    status = 500
    code = "internal"

    def __init__(self, sentence: str, code: str | None = None) -> None:
        super().__init__(sentence)
        if code is not None:
            self.code = code


class BadRequest(EcrError):
    status = 400
    code = "malformed"
    exit_code = 2


class Unauthorized(EcrError):
    status = 401
    code = "unauthorized"


class Forbidden(EcrError):
    status = 403
    code = "forbidden"


class NotFound(EcrError):
    status = 404
    code = "not_found"


class RequestTimeout(EcrError):
    status = 408
    code = "timeout"


class Conflict(EcrError):
    status = 409
    code = "conflict"
