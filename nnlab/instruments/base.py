"""Where instruments put what they measure."""

from __future__ import annotations

from typing import NamedTuple, Protocol


class Row(NamedTuple):
    """One measurement: ``layer`` is Nielsen's l (1..L, L the output layer), ``label`` says its kind."""

    step: int
    epoch: int
    layer: int
    quantity: str
    value: float
    label: str = ""  # "dense1", "conv2", "output" (empty in rows of run directories older than labels)


class Sink(Protocol):
    """Receives rows; ``table`` is ``"gradients"`` or ``"activations"``."""

    def emit(self, table: str, rows: list[Row]) -> None: ...


class ListSink:
    """Keeps rows in memory, by table (tests, notebooks)."""

    def __init__(self) -> None:
        self.tables: dict[str, list[Row]] = {}

    def emit(self, table: str, rows: list[Row]) -> None:
        self.tables.setdefault(table, []).extend(rows)

    def values(self, table: str, quantity: str, layer: int) -> list[float]:
        return [r.value for r in self.tables.get(table, []) if r.quantity == quantity and r.layer == layer]
