"""The root of mailflow's exceptions; domain errors live beside the code that raises them."""

from __future__ import annotations


class MailflowError(Exception):
    """Base class of every error mailflow raises on purpose.

    ``message`` is a sentence for the operator (Japanese where it reaches staff or the CLI),
    naming the value at fault and what to do next.
    """

    def __init__(self, message: str, **fields: object) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields

    def __str__(self) -> str:
        return self.message
