"""Errors of the wire contract."""


class PayloadError(ValueError):
    """A payload that does not follow the contract; ``where`` names the offending field."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}" if where else reason)
        self.where = where
        self.reason = reason
