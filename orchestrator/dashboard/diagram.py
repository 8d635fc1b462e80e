"""Where each box and arrow of the saga diagram goes: plain data for the SVG template.

The drawing follows `orchestrator/saga.py`: the forward path on top, the compensation below,
and the three places a saga turns back joining one rail into the release of the tickets.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.adapters.saga_views import StepFigures

BOX_W, BOX_H, GAP = 170, 100, 60
END_W, END_H = 150, 56
TOP, BOTTOM = 30, 270
RAIL = (TOP + BOX_H + BOTTOM) // 2
WIDTH, HEIGHT = 20 + 120 + GAP + 4 * (BOX_W + GAP) + END_W + 20, BOTTOM + BOX_H + 60

FORWARD = [("reserve_tickets", "Reserve tickets"), ("request_payment", "Request payment"),
           ("await_payment", "Wait for the result"), ("finalise_order", "Finalise order")]
COMPENSATION = [("release_reservation", "Release tickets"), ("fail_order", "Fail order")]
# Where the saga turns back, and why (the labels on the arrows into the compensation).
TURNS_BACK = {"reserve_tickets": "out of stock", "request_payment": "failed",
              "await_payment": "declined / no result"}
# Steps that are not boxes of their own: the check after the deadline, the voided payment.
SIDE_STEPS = ["check_payment", "void_payment"]
STEPS = [step for step, _ in FORWARD + COMPENSATION] + SIDE_STEPS


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
    width: int = WIDTH
    height: int = HEIGHT
    box_w: int = BOX_W
    box_h: int = BOX_H
    end_w: int = END_W
    end_h: int = END_H


def draw(figures: dict[str, StepFigures], states: dict[str, int]) -> Diagram:
    """The diagram with each step's figures and the number of sagas in each final state."""
    column = [20 + 120 + GAP + i * (BOX_W + GAP) for i in range(5)]
    boxes = [Box(step, label, column[i], TOP, figures[step])
             for i, (step, label) in enumerate(FORWARD)]
    boxes += [Box(step, label, column[2 + i], BOTTOM, figures[step])
              for i, (step, label) in enumerate(COMPENSATION)]
    ends = [End("COMPLETED", column[4], TOP + (BOX_H - END_H) // 2, states.get("COMPLETED", 0)),
            End("REJECTED", column[4], BOTTOM - 10, states.get("REJECTED", 0)),
            End("PAYMENT_FAILED", column[4], BOTTOM + BOX_H - END_H + 10,
                states.get("PAYMENT_FAILED", 0))]
    return Diagram(sum(states.values()), boxes, ends, _forward_arrows(column) +
                   _compensation_arrows(column, ends))


def _forward_arrows(column: list[int]) -> list[Arrow]:
    middle = TOP + BOX_H // 2
    arrows = [Arrow(f"140,{middle} {column[0]},{middle}")]
    for i in range(len(FORWARD)):
        x1, x2 = column[i] + BOX_W, column[i + 1]
        label = "approved" if FORWARD[i][0] == "await_payment" else ""
        arrows.append(Arrow(f"{x1},{middle} {x2},{middle}", label, (x1 + x2) // 2, middle - 6))
    return arrows


def _compensation_arrows(column: list[int], ends: list[End]) -> list[Arrow]:
    release_x = column[2] + BOX_W // 2
    arrows = []
    for i, (step, _) in enumerate(FORWARD[:3]):
        x = column[i] + BOX_W // 2
        arrows.append(Arrow(f"{x},{TOP + BOX_H} {x},{RAIL} {release_x},{RAIL} {release_x},{BOTTOM}",
                            TURNS_BACK[step], x + 6, TOP + BOX_H + 18, back=True))
    middle = BOTTOM + BOX_H // 2
    arrows.append(Arrow(f"{column[2] + BOX_W},{middle} {column[3]},{middle}", back=True))
    for end in ends[1:]:
        arrows.append(Arrow(f"{column[3] + BOX_W},{middle} {end.x},{end.y + END_H // 2}",
                            back=True))
    return arrows
