"""A property worked out on first use and then kept, for objects built complete and not changed.

functools.cached_property does the same but, before Python 3.12, takes a lock on every first
use: the missing report derives about 100,000 such values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")


class derived_once(Generic[T]):  # lower case: used like @property
    """Like @property, but the value is stored in the instance's __dict__ on first use, so
    every later read is a plain attribute lookup (the class needs a __dict__: no slots)."""

    def __init__(self, func: Callable[[Any], T]) -> None:
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> derived_once[T]: ...
    @overload
    def __get__(self, instance: object, owner: type | None = None) -> T: ...
    def __get__(self, instance: object | None, owner: type | None = None) -> T | derived_once[T]:
        if instance is None:
            return self
        value = instance.__dict__[self.name] = self.func(instance)
        return value
