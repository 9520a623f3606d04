"""Refusals of the nexo door, each answered as the protocol says."""

from __future__ import annotations

from terminal.errors import PostermError


class NexoRefusal(PostermError):
    """A request answered with Result "Failure" and this ErrorCondition; nothing ran."""

    def __init__(self, condition: str, sentence: str, *, keep: bool = False) -> None:
        super().__init__(sentence)
        self.condition = condition
        self.keep = keep
        """The request's ServiceID stays recorded (a repeat refused, a payment still
        running); otherwise nothing ran and the POS may send it again."""


class MessageFormat(NexoRefusal):
    """Malformed JSON, a missing mandatory field or a wrong type; the sentence names the field."""

    def __init__(self, sentence: str) -> None:
        super().__init__("MessageFormat", sentence)


class SecurityRefused(PostermError):
    """Unknown key or a bad HMAC: HTTP 401 with no body, no hint which part was wrong."""
