"""Errors of the wire contract.

::

    PayloadError (ValueError)    the bytes do not follow the contract; ``where`` names the field
    SignatureError               an envelope that cannot be trusted (nothing in it is acted on)
    ├── UnknownKey               no key with this id in the ring
    ├── RevokedKey               the key id is on the revocation list
    └── BadSignature             the signature does not verify over the exact body bytes
    Refusal                      an authentic command this gateway must not execute (``wire.gate``)
    ├── WrongGateway             addressed to another gateway
    ├── Expired                  its expiry has passed (allowing for clock skew)
    ├── IssuedInFuture           issued later than now plus the skew allowance
    ├── TtlTooLong               valid for longer than its action allows
    ├── Replayed / BeforeHorizon its id was seen, or may have been forgotten (the agent's ledger)
    ├── UnknownAction            the device declares no such action
    ├── BadArgument              an argument unknown, missing or out of bounds; ``arg`` names it
    └── InterlockRefusal         an interlock said no on a fresh read; ``interlock`` names it

A ``SignatureError`` gets no result: its id cannot be trusted. A ``Refusal`` becomes a signed result in
state ``refused`` (``expired`` for :class:`Expired`) whose reason is the refusal's message.
"""


class PayloadError(ValueError):
    """A payload that does not follow the contract; ``where`` names the offending field."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}" if where else reason)
        self.where = where
        self.reason = reason


class SignatureError(Exception):
    """The envelope's signature cannot be trusted; ``key_id`` is the id the envelope claimed."""

    def __init__(self, key_id: str, reason: str) -> None:
        super().__init__(f"key {key_id!r}: {reason}")
        self.key_id = key_id
        self.reason = reason


class UnknownKey(SignatureError):
    pass


class RevokedKey(SignatureError):
    pass


class BadSignature(SignatureError):
    pass


class Refusal(Exception):
    """An authentic, well-formed command that must not run; the message is the result's reason."""


class WrongGateway(Refusal):
    pass


class Expired(Refusal):
    pass


class IssuedInFuture(Refusal):
    pass


class TtlTooLong(Refusal):
    pass


class Replayed(Refusal):
    """The command's id was received before: a command runs at most once."""


class BeforeHorizon(Refusal):
    """Issued at or before the gateway's replay horizon: its id may be forgotten, so a replay could not
    be told from a first delivery."""


class UnknownAction(Refusal):
    """The device's profile declares no action of this name."""


class BadArgument(Refusal):
    """An argument that is not declared, missing while required, or of the wrong type or bounds."""

    def __init__(self, arg: str, reason: str) -> None:
        super().__init__(f"argument {arg!r}: {reason}")
        self.arg = arg


class InterlockRefusal(Refusal):
    """An interlock (declared in the device's profile, or ``maintenance_mode``) refused the command."""

    def __init__(self, interlock: str, reason: str) -> None:
        super().__init__(f"interlock {interlock!r}: {reason}")
        self.interlock = interlock
