"""Passwords: what is accepted (NIST SP 800-63B-4) and how it is kept (Argon2id, argon2-cffi)."""

from __future__ import annotations

import unicodedata

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import RFC_9106_LOW_MEMORY

from evidence.errors import InputError

# NIST SP 800-63B-4 (2025), section 3.1.1.2: a password that is the only factor SHALL be at least
# 15 characters (8 only as part of multi-factor sign-in, which the tool does not have); at least
# 64 SHOULD be allowed; no composition rules; each code point counts as one character.
MIN_LENGTH = 15
MAX_LENGTH = 1024  # well past NIST's 64; a bound so nobody hashes a megabyte per sign-in

# RFC 9106's second recommended option (argon2-cffi's default too): Argon2id, t=3, 64 MiB, p=4.
# Tests swap in a cheap hasher here; what is stored carries its parameters, and a hash made with
# others is upgraded at the next successful sign-in (check_needs_rehash).
HASHER = PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY)

_dummy: tuple[PasswordHasher, str] | None = None


def accepted(password: str) -> str:
    """The password as hashed (NFKC, as NIST recommends), or InputError saying what is wrong."""
    normalized = unicodedata.normalize("NFKC", password)
    if not normalized.strip():
        raise InputError("the password is empty")
    if any(unicodedata.category(c) == "Cc" for c in normalized):
        raise InputError("the password contains a control character (a pasted line break or tab?)")
    if len(normalized) < MIN_LENGTH:
        raise InputError(f"the password is {len(normalized)} characters; at least {MIN_LENGTH} are needed")
    if len(normalized) > MAX_LENGTH:
        raise InputError(f"the password is longer than {MAX_LENGTH} characters")
    return normalized


def hash_password(password: str) -> str:
    """An Argon2id PHC string ($argon2id$v=19$m=...,t=...,p=...$salt$hash) of an accepted password."""
    return HASHER.hash(accepted(password))


def verify(stored: str, password: str) -> bool:
    """Whether `password` is the one `stored` was made from (never raises for a mismatch)."""
    try:
        return HASHER.verify(stored, unicodedata.normalize("NFKC", password))
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return HASHER.check_needs_rehash(stored)


def verify_nothing(password: str) -> None:
    """As long as a real verification: an unknown user name is refused in the same time as a wrong password."""
    global _dummy
    if _dummy is None or _dummy[0] is not HASHER:
        _dummy = (HASHER, HASHER.hash("not a password anybody has"))
    verify(_dummy[1], password)
