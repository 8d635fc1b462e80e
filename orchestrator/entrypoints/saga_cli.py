"""`celery -A orchestrator saga ...`: look at sagas, and retry or compensate them by hand.

A Celery extension command (the `celery.commands` entry point in setup.cfg): Celery's own
command line loads the app given with `-A` into `ctx.obj.app` and hands it this click group.
It works with the orchestrator's parts (`orchestrator.bootstrap`: the store the worker writes,
so ORCHESTRATOR_DATABASE_URL or GLASTONBURY_VAR) and acts only through
`orchestrator.service_layer.operations`, which holds the safety rules; the steps it sends go to
the broker of the app `-A` names.

    celery -A orchestrator saga list --state stuck --since 2h
    celery -A orchestrator saga list --limit 50 --json
    celery -A orchestrator saga show ORDER_ID --json
    celery -A orchestrator saga retry ORDER_ID
    celery -A orchestrator saga compensate --state AWAITING_PAYMENT --since 1d --yes
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import click
from celery.bin.base import handle_preload_options
from kombu.exceptions import OperationalError

from glastonbury import settings
from glastonbury.clock import utc_now as now
from orchestrator.adapters import saga_list
from orchestrator.adapters.step_queue import CeleryDispatch
from orchestrator.bootstrap import bootstrap
from orchestrator.domain.model import SagaState
from orchestrator.domain.saga import Saga
from orchestrator.entrypoints import saga_text as text
from orchestrator.service_layer import operations
from orchestrator.service_layer.parts import Parts

STUCK, PARKED = "stuck", "parked"
SELECTABLE = [*(state.value for state in SagaState), STUCK, PARKED]
DEFAULT_LIMIT = 1000


class Since(click.ParamType):
    """`--since`: an ISO 8601 time, or an age like `10m`, `2h`, `1d` counted back from now."""

    name = "time"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return text.parse_since(str(value), now())
        except ValueError as error:
            self.fail(str(error), param, ctx)


class StateName(click.ParamType):
    """`--state`: a saga state, `stuck` or `parked`, in any case."""

    name = "state"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        for choice in SELECTABLE:
            if str(value).lower() == choice.lower():
                return choice
        self.fail(f"{value!r} is not one of {', '.join(SELECTABLE)}", param, ctx)


class Refusal(click.ClickException):
    """An action refused (or an order unknown): the reason alone on stderr, exit status 1."""

    def show(self, file: Any = None) -> None:
        click.echo(self.message, err=True)


state_option = click.option(
    "--state", type=StateName(),
    help=f"One of {', '.join(SagaState)}; or `stuck`: not finished and untouched for longer "
         "than SAGA_STUCK_AFTER (a payment wait counts from its deadline); `parked`: given up "
         "on by the reconciler.")
since_option = click.option(
    "--since", type=Since(), help="Created at or after: 2026-06-24T18:00Z, or an age: 10m, 2h, 1d.")
limit_option = click.option(
    "--limit", type=click.IntRange(min=1), default=DEFAULT_LIMIT, show_default=True, metavar="N",
    help="At most this many sagas, the newest; when more match, a line on stderr says so.")
json_option = click.option(
    "--json", "as_json", is_flag=True,
    help="One JSON document on stdout, for scripts (times ISO 8601 UTC, amounts as strings).")


@click.group(name="saga")
@click.pass_context
@handle_preload_options
def saga(ctx: click.Context) -> None:
    """Look at sagas, and retry or compensate them."""


def parts() -> Parts:
    """The parts this command works with, built once a command: its steps go to the broker of
    the app Celery's command line loaded (`-A`)."""
    context = click.get_current_context()
    if "parts" not in context.meta:
        context.meta["parts"] = bootstrap(dispatch=CeleryDispatch(context.find_root().obj.app))
    return context.meta["parts"]  # type: ignore[no-any-return]


@saga.command(name="list")
@state_option
@since_option
@limit_option
@json_option
def list_sagas(state: str | None, since: datetime | None, limit: int, as_json: bool) -> None:
    """A table of sagas, newest first: order id, state, age, current or last step, reason.

    With --json: {"sagas": [...], "truncated": ..., "limit": ...}, each saga as `show --json`
    prints it."""
    found = select(state, since, limit)
    sagas = with_steps(found.sagas)
    if as_json:
        click.echo(json.dumps(text.list_document(sagas, found.truncated, limit), indent=2))
    else:
        click.echo(text.saga_table(sagas, now()) if sagas else "no saga matches")
    found.note_if_cut()


@saga.command()
@click.argument("order_id")
@json_option
def show(order_id: str, as_json: bool) -> None:
    """One saga's timeline: its state and every step with its times, attempts and outcome."""
    found = saga_list.timeline(parts().engine, order_id)
    if found is None:
        raise Refusal(f"no saga for order {order_id}")
    if as_json:
        click.echo(json.dumps(text.saga_document(found), indent=2))
    else:
        click.echo(text.timeline(found, now()))


# -- choosing sagas ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Selection:
    """The newest `limit` sagas of a selection, and whether more matched."""

    sagas: list[Saga]
    truncated: bool
    limit: int

    def note_if_cut(self) -> None:
        if self.truncated:
            click.echo(text.cut_note(self.limit), err=True)


def select(state: str | None, since: datetime | None, limit: int) -> Selection:
    """The sagas a `--state` / `--since` selection names, newest first, at most `limit`."""
    # One more than shown: whether the list was cut, without counting every match.
    engine, asked = parts().engine, limit + 1
    if state == STUCK:
        found = saga_list.list_sagas(engine, since=since, limit=asked,
                                     stuck_after=timedelta(seconds=settings.SAGA_STUCK_AFTER.number()))
    elif state == PARKED:
        found = saga_list.list_sagas(engine, since=since, parked=True, unfinished=True,
                                     limit=asked)
    else:
        found = saga_list.list_sagas(engine, state, since, limit=asked)
    return Selection(found[:limit], len(found) > limit, limit)


def with_steps(sagas: list[Saga]) -> list[Saga]:
    """The same sagas with their step records (a listing does not load them)."""
    return [saga_list.timeline(parts().engine, one.order_id) or one for one in sagas]


# -- retry and compensate ------------------------------------------------------------------------

@dataclass(frozen=True)
class Action:
    """An operator action on one saga, and the words that report it."""

    name: str
    done: str
    perform: Callable[[Parts, str], str]
    help: str


def action_command(action: Action) -> click.Command:
    """The `saga <action>` command: one order, or every saga of a selection."""

    @saga.command(name=action.name, help=action.help)
    @click.argument("order_id", required=False)
    @state_option
    @since_option
    @limit_option
    @click.option("--yes", "-y", is_flag=True, help="Act on several sagas without asking.")
    def command(order_id: str | None, state: str | None, since: datetime | None, limit: int,
                yes: bool) -> None:
        selection = state is not None or since is not None
        if (order_id is None) == (not selection):
            raise click.UsageError("give either an ORDER_ID or a selection (--state, --since)")
        try:
            if order_id is not None:
                click.echo(perform(action, order_id))
            else:
                act_on_selection(action, select(state, since, limit), yes)
        except OperationalError as error:
            raise click.ClickException(f"cannot reach the Celery broker: {error}") from None

    return command


def perform(action: Action, order_id: str) -> str:
    """Act on one saga; a refusal becomes the exit status 1 with its reason on stderr."""
    try:
        return action.perform(parts(), order_id)
    except operations.Refused as refusal:
        raise Refusal(str(refusal)) from None


def act_on_selection(action: Action, selection: Selection, yes: bool) -> None:
    """List the selection, confirm, act on each saga, then sum up; exit 1 if any was refused.

    A selection cut at `--limit` says so before the question: the rest are not acted on."""
    sagas = selection.sagas
    if not sagas:
        click.echo("no saga matches")
        return
    click.echo(text.saga_table(with_steps(sagas), now()))
    selection.note_if_cut()
    if len(sagas) > 1 and not yes:
        confirm(action, len(sagas))
    refused = 0
    for one in sagas:
        try:
            click.echo(action.perform(parts(), one.order_id))
        except operations.Refused as refusal:
            refused += 1
            click.echo(f"refused: {refusal}")
    click.echo(f"{len(sagas) - refused} {action.done}, {refused} refused")
    if refused:
        click.get_current_context().exit(1)


def confirm(action: Action, count: int) -> None:
    """Ask before acting on several sagas; without a terminal to ask on, refuse."""
    if not can_ask():
        raise Refusal(f"{count} sagas match: pass --yes to {action.name} them all "
                      "(there is no terminal to ask for confirmation)")
    click.confirm(f"{action.name.capitalize()} these {count} sagas?", abort=True, err=True)


def can_ask() -> bool:
    return sys.stdin.isatty()


retry = action_command(Action(
    "retry", "retried", operations.retry,
    "Drive a saga's current step again (and unpark it): one ORDER_ID, or a selection."))
compensate = action_command(Action(
    "compensate", "compensated", operations.compensate,
    "Undo a saga whose payment is not approved yet and fail its order: one ORDER_ID, "
    "or a selection."))
