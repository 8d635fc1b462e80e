"""Where each box and arrow of the saga diagram goes: plain data for the SVG template.

The drawing reads the flow's table (`orchestrator/domain/flow.py`): the way forward on top, the
compensation below under the last forward steps, and each step where the saga turns back joining
one rail into the compensation's first step, labelled with the outcomes that turn it back.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.adapters.saga_views import StepFigures
from orchestrator.domain.flow import SAGA
from orchestrator.domain.model import SagaState
from orchestrator.domain.steps import Flow, StepDeclaration

BOX_W, BOX_H, GAP = 170, 100, 60
END_W, END_H = 150, 56
TOP, BOTTOM = 30, 270
RAIL = (TOP + BOX_H + BOTTOM) // 2
LEFT = 20 + 120 + GAP   # after the start


def steps_drawn(flow: Flow = SAGA) -> list[str]:
    """Every step the dashboard shows figures for: the boxes, then the steps beside the way
    (the check after the deadline, the voided payment)."""
    return [step.name for step in flow.steps()]


STEPS = steps_drawn()


@dataclass(frozen=True)
class Box:
    step: str
    label: str
    x: int
    y: int
    figures: StepFigures


@dataclass(frozen=True)
class End:
    state: str
    x: int
    y: int
    count: int


@dataclass(frozen=True)
class Arrow:
    points: str  # SVG polyline points
    label: str = ""
    label_x: int = 0
    label_y: int = 0
    back: bool = False  # part of the compensation


@dataclass(frozen=True)
class Diagram:
    start_count: int
    boxes: list[Box]
    ends: list[End]
    arrows: list[Arrow]
    width: int
    height: int = BOTTOM + BOX_H + 60
    box_w: int = BOX_W
    box_h: int = BOX_H
    end_w: int = END_W
    end_h: int = END_H


def draw(figures: dict[str, StepFigures], states: dict[str, int], flow: Flow = SAGA) -> Diagram:
    """The diagram of the flow's steps, with each step's figures and the number of sagas in
    each final state."""
    forward, back = flow.forward(), flow.compensation()
    column = [LEFT + i * (BOX_W + GAP) for i in range(len(forward) + 1)]
    under = len(forward) - len(back)   # the compensation runs under the last forward steps
    boxes = [Box(step.name, step.label, column[i], TOP, figures[step.name])
             for i, step in enumerate(forward)]
    boxes += [Box(step.name, step.label, column[under + i], BOTTOM, figures[step.name])
              for i, step in enumerate(back)]
    ends = [End(state, column[-1], top, states.get(state, 0)) for state, top in (
        (SagaState.COMPLETED, TOP + (BOX_H - END_H) // 2),
        (SagaState.REJECTED, BOTTOM - 10),
        (SagaState.PAYMENT_FAILED, BOTTOM + BOX_H - END_H + 10))]
    return Diagram(sum(states.values()), boxes, ends,
                   _forward_arrows(flow, forward, column)
                   + _compensation_arrows(flow, forward, column, under, len(back)),
                   width=column[-1] + END_W + 20)


def _forward_arrows(flow: Flow, forward: list[StepDeclaration],
                    column: list[int]) -> list[Arrow]:
    middle = TOP + BOX_H // 2
    arrows = [Arrow(f"140,{middle} {column[0]},{middle}")]
    for i, step in enumerate(forward):
        x1, x2 = column[i] + BOX_W, column[i + 1]
        # After a wait, the arrow says which of its results goes on (the payment approved).
        label = "" if step.is_a_task else " / ".join(flow.goes_on_as(step))
        arrows.append(Arrow(f"{x1},{middle} {x2},{middle}", label, (x1 + x2) // 2, middle - 6))
    return arrows


def _compensation_arrows(flow: Flow, forward: list[StepDeclaration], column: list[int],
                         under: int, back: int) -> list[Arrow]:
    into_x = column[under] + BOX_W // 2
    arrows = []
    for i, step in enumerate(forward):
        turns_back_as = flow.turns_back_as(step)
        if turns_back_as:
            x = column[i] + BOX_W // 2
            arrows.append(Arrow(f"{x},{TOP + BOX_H} {x},{RAIL} {into_x},{RAIL} {into_x},{BOTTOM}",
                                turns_back_as, x + 6, TOP + BOX_H + 18, back=True))
    middle = BOTTOM + BOX_H // 2
    for i in range(under, under + back - 1):
        arrows.append(Arrow(f"{column[i] + BOX_W},{middle} {column[i + 1]},{middle}", back=True))
    last = column[under + back - 1] + BOX_W
    for end_y in (BOTTOM - 10, BOTTOM + BOX_H - END_H + 10):   # REJECTED, PAYMENT_FAILED
        arrows.append(Arrow(f"{last},{middle} {column[-1]},{end_y + END_H // 2}", back=True))
    return arrows
