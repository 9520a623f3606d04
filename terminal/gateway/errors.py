"""What can go wrong between the terminal and the bank gateway.

```
PostermError
└── GatewayError              exit code 3; anything on the way to or from the gateway
    ├── NothingSent           no connection to primary or secondary: nothing left the terminal
    │   └── Untrusted         ... because a TLS certificate failed verification (a security
    │                         alarm: a man in the middle must not be able to force offline)
    ├── LocalFailure          the terminal itself failed (out of file handles, memory, disk):
    │                         nothing left it, but the bank is not the cause (no offline rules)
    ├── OutcomeUnknown        sent, but no valid answer before the deadline (retries exhausted)
    ├── ProtocolRejected      the gateway refused the message with a documented protocol error
    │                         (`status`, `code`: 400 malformed, 401 bad_signature / unknown_key,
    │                         409 id_conflict, 422 stale, ...)
    ├── BadAnswer             an answer whose signature or shape is invalid; the client treats
    │   │                     it as no answer and logs an alarm
    │   └── AnswerTooLarge    the answer passed the size cap while it was read: the connection
    │                         was closed at the cap, the rest never read (no big allocation)
    └── MessageError          a message the terminal is about to send cannot be built
```

Inside the gateway side (the simulator) bad input never reaches an operator; it becomes an HTTP
status and error code. Those exceptions stay next to the code that raises them:

```
ValueError
├── jose.JoseFailure          kind "malformed" (400) or "bad_signature" (401)
├── sim.requests.Malformed    payload is not a v1 request (400 malformed)
└── sim.wallet.WalletError    an EMVCo payload the wallet cannot pay (admin API 400)
Exception
├── sim.server.Rejected       a documented protocol error: status + code (400/401/409/422)
└── sim.admin.AdminError      an admin API refusal: status + code (400/403/404/409)
```

The distinction between `NothingSent` and `OutcomeUnknown` is the one that matters for money:
after `NothingSent` the sale may go offline; after `OutcomeUnknown` the engine must record a
`reverse` for the message id before it tells the operator anything.
"""

from __future__ import annotations

from terminal.errors import PostermError


class GatewayError(PostermError):
    """Base of every gateway problem."""

    exit_code = 3


class NothingSent(GatewayError):
    """No connection could be made to the primary or the secondary gateway."""

    def __init__(self, detail: str = "") -> None:
        sentence = "The bank cannot be reached: nothing was sent, the card was not charged."
        super().__init__(f"{sentence} ({detail})" if detail else sentence)
        self.detail = detail


class LocalFailure(GatewayError):
    """The terminal could not even try (EMFILE, ENOMEM, ENOSPC, EIO...): nothing was sent."""

    def __init__(self, problem: str) -> None:
        super().__init__(
            f"The terminal {problem}; nothing was charged and the bank was not asked. "
            "Restart the terminal or call the technician."
        )
        self.problem = problem


class Untrusted(NothingSent):
    """Nothing was sent because the gateway's certificate did not verify (security alarm)."""

    def __init__(self, detail: str = "") -> None:
        GatewayError.__init__(
            self,
            "SECURITY ALARM: the bank's certificate could not be verified, so nothing was sent "
            "and the card was not charged. Call the technician."
            + (f" ({detail})" if detail else ""),
        )
        self.detail = detail


class OutcomeUnknown(GatewayError):
    """The message went out, but no valid answer arrived before the deadline."""

    def __init__(self, message_id: str, attempts: int, detail: str = "") -> None:
        super().__init__(
            "The bank did not answer in time; the payment is being reversed. "
            "Do not hand over goods for it."
        )
        self.message_id = message_id
        self.attempts = attempts
        self.detail = detail


class ProtocolRejected(GatewayError):
    """The gateway refused the message with a documented protocol error."""

    def __init__(self, status: int, code: str, message: str = "") -> None:
        super().__init__(
            f"The bank refused the message ({status} {code}"
            + (f": {message}" if message else "")
            + "). Nothing was charged; call the technician if this repeats."
        )
        self.status = status
        self.code = code
        self.message = message


class BadAnswer(GatewayError):
    """An answer that does not verify against the pinned gateway key or is not well formed."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            "The bank's answer could not be verified and was ignored "
            f"(security alarm: {reason}). Call the technician."
        )
        self.reason = reason


class AnswerTooLarge(BadAnswer):
    """The answer body passed `limit` bytes; reading stopped there and the connection closed."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"answer larger than {limit} bytes")
        self.limit = limit


class MessageError(GatewayError):
    """A request cannot be built from what the terminal holds (a programming or config error)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"The message for the bank cannot be built: {reason}.")
        self.reason = reason
