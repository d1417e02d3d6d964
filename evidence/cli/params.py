"""Click parameter types for the identifiers users type: a bad value is a usage error."""

from __future__ import annotations

from typing import Any

import click

from evidence.errors import InputError
from evidence.rules.identifiers import parse_activity_id, parse_iso_date, parse_npi, parse_tin, parse_year


class _Parsed(click.ParamType):
    parser: Any = None

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return type(self).parser(value)
        except InputError as exc:
            self.fail(exc.message, param, ctx)


class TinType(_Parsed):
    name = "TIN"
    parser = staticmethod(parse_tin)


class NpiType(_Parsed):
    name = "NPI"
    parser = staticmethod(parse_npi)


class ActivityType(_Parsed):
    name = "IA_ID"
    parser = staticmethod(parse_activity_id)


class IsoDateType(_Parsed):
    name = "YYYY-MM-DD"
    parser = staticmethod(parse_iso_date)


class YearType(_Parsed):
    """A performance year, checked by the library's one rule (four digits, 2017-2100)."""

    name = "YEAR"
    parser = staticmethod(parse_year)


TIN, NPI, ACTIVITY, ISO_DATE, YEAR = TinType(), NpiType(), ActivityType(), IsoDateType(), YearType()


def _set_actor(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value:
        ctx.find_root().obj.actor = value


def actor_option(func: Any) -> Any:
    """`--actor NAME` on every command that changes the store (also accepted before the command)."""
    return click.option(
        "--actor",
        metavar="NAME",
        expose_value=False,
        callback=_set_actor,
        help="Who is acting, for the records [default: --actor before the command, $EVIDENCE_ACTOR, the OS user].",
    )(func)
