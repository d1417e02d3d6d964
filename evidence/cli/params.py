"""Click parameter types for the identifiers users type: a bad value is a usage error."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from evidence.errors import InputError

F = TypeVar("F", bound=Callable[..., Any])

# Recent click types ParamType as generic; click 8.1 (still allowed) cannot subscript it at run time.
if TYPE_CHECKING:
    ParamType = click.ParamType[Any]
else:
    ParamType = click.ParamType


class _Parsed(ParamType):
    # A parser of evidence.rules.identifiers, by name: imported on first use, so `evidence --help`
    # and the root group never load the rules (and their decimal, uuid, datetime imports).
    parser = ""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        if problem := utf8_problem(value):  # the parser's message would quote the undecodable bytes
            self.fail(problem, param, ctx)
        try:
            from evidence.rules import identifiers

            return getattr(identifiers, self.parser)(value)
        except InputError as exc:
            self.fail(exc.message, param, ctx)


class TinType(_Parsed):
    name = "TIN"
    parser = "parse_tin"


class NpiType(_Parsed):
    name = "NPI"
    parser = "parse_npi"


class ActivityType(_Parsed):
    name = "IA_ID"
    parser = "parse_activity_id"


class IsoDateType(_Parsed):
    name = "YYYY-MM-DD"
    parser = "parse_iso_date"


class YearType(_Parsed):
    """A performance year, checked by the library's one rule (four digits, 2017-2100)."""

    name = "YEAR"
    parser = "parse_year"


TIN, NPI, ACTIVITY, ISO_DATE, YEAR = TinType(), NpiType(), ActivityType(), IsoDateType(), YearType()


def utf8_problem(value: str) -> str | None:
    """Why text cannot be kept as given: bytes that were not UTF-8 arrive as surrogate escapes ('\\udcff')."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "not valid UTF-8 text"
    return None


class TextType(ParamType):
    """Free text users type (names, descriptions, reasons, actors): strict UTF-8, never a traceback.

    On Linux undecodable argv (and environment) bytes reach Python as lone surrogates, which no
    database, terminal or PDF can take; they are a usage error naming the option, before anything runs.
    """

    name = "TEXT"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, bytes):  # click hands bytes through on some platforms
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError:
                self.fail("not valid UTF-8 text", param, ctx)
        if isinstance(value, str) and (problem := utf8_problem(value)):
            self.fail(problem, param, ctx)
        return value


TEXT = TextType()


def _set_actor(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value:
        ctx.find_root().obj.actor = value


def actor_option(func: Any) -> Any:
    """`--actor NAME` on every command that changes the store (also accepted before the command)."""
    return click.option(
        "--actor",
        metavar="NAME",
        type=TEXT,
        expose_value=False,
        callback=_set_actor,
        help="Who is acting, for the records [default: --actor before the command, $EVIDENCE_ACTOR, the OS user].",
    )(func)


# The root group keeps the --home/--db/--store values it was given here (root context's meta),
# so a value given after the command replaces just that one and the rest resolve as before.
STORE_OPTIONS = "evidence.store_options"


def _set_store_option(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """A --home/--db/--store after the command wins over the one before it; the store is not open yet."""
    if value is None or param.name is None:
        return
    from evidence.config import resolve_settings

    root = ctx.find_root()
    given: dict[str, Any] = root.meta.setdefault(STORE_OPTIONS, {})
    given[param.name] = value
    root.obj.reconfigure(resolve_settings(**given))


def _after_command_options() -> list[click.Option]:
    from pathlib import Path

    return [
        click.Option(
            ["--home"],
            type=click.Path(file_okay=False, path_type=Path),
            expose_value=False,
            callback=_set_store_option,
            help="Same as --home before the command (and wins over it).",
        ),
        click.Option(
            ["--db", "database_url"],
            metavar="URL",
            expose_value=False,
            callback=_set_store_option,
            help="Same as --db before the command.",
        ),
        click.Option(
            ["--store", "store_url"],
            metavar="URL",
            expose_value=False,
            callback=_set_store_option,
            help="Same as --store before the command.",
        ),
        click.Option(
            ["--actor"],
            metavar="NAME",
            type=TEXT,
            expose_value=False,
            callback=_set_actor,
            help="Same as --actor before the command.",
        ),
        click.Option(
            ["--signing-key"],
            type=click.Path(dir_okay=False, path_type=Path),
            expose_value=False,
            callback=_set_store_option,
            help="Same as --signing-key before the command.",
        ),
    ]


def add_store_options(command: click.Command) -> click.Command:
    """Let every command (and group) take --home, --db, --store and --actor after its name too."""
    taken = {opt for param in command.params for opt in param.opts}
    command.params.extend(p for p in _after_command_options() if not taken & set(p.opts))
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            add_store_options(sub)
    return command


def _existing_store_only(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        click.get_current_context().find_root().obj.open_existing_only()
        return func(*args, **kwargs)

    return cast(F, wrapper)


def read_only(func: F) -> F:
    """Mark a command that only reads: on a missing home or database it says so and creates nothing.

    Goes right above `@click.pass_obj` / `@click.pass_context`. Write commands (and `evidence init`)
    still create the home, database and store on first use.
    """
    return _existing_store_only(func)


def changes_existing(func: F) -> F:
    """Mark a command that changes records that must already exist (a correction, a withdrawal):
    a typo'd --home or --db is refused in one line instead of becoming a new, empty store."""
    return _existing_store_only(func)
