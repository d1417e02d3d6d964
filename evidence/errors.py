"""The project's own exceptions. The CLI turns each into a one-line error and exit code 1."""

from __future__ import annotations


class EvidenceError(Exception):
    """Base class: anything the user can fix or should be told about, never a bug."""

    def __init__(self, message: str, *, details: list[str] | None = None):
        super().__init__(message)
        self.message = message
        # Extra lines (one per problem) for errors that report several problems at once.
        self.details = details or []

    def __str__(self) -> str:
        return self.message


class InputError(EvidenceError):
    """Bad input: a malformed file, value, identifier or date."""

    @classmethod
    def listing(cls, source: object, problems: list[str]) -> InputError:
        """One problem: `source: problem`. Several: `source: N problems`, then one per line."""
        if len(problems) == 1:
            return cls(f"{source}: {problems[0]}")
        return cls(f"{source}: {len(problems)} problems", details=problems)


class CatalogError(InputError):
    """The IA catalog (shipped YAML or a CMS inventory file) is malformed."""


class NotFoundError(EvidenceError):
    """A record the user named does not exist."""


class GoneError(NotFoundError):
    """A record that was there and is no longer handed out: withdrawn or purged (HTTP 410)."""


class ConflictError(EvidenceError):
    """The request contradicts what is already stored (a duplicate, a held record, ...)."""


class StoreError(EvidenceError):
    """The home folder, database or file store cannot be used."""


class ForbiddenError(EvidenceError):
    """The signed-in user's (or token's) role does not allow this (HTTP 403).

    A practice the user was not granted is a NotFoundError instead, worded as for a TIN that does
    not exist, so a refusal never tells anyone that the practice is there.
    """


class AuthenticationError(EvidenceError):
    """A sign-in or token that does not hold (HTTP 401): one wording for every cause."""
