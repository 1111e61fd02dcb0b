"""When an instrument measures: at initialization, at each epoch end and, optionally, every k steps.

Every instrument's config keys follow one pattern: ``instruments.<name>`` switches
it on, ``instruments.<name>_every_steps: k`` adds a measurement every k
optimizer steps (none by default: epoch ends only).
"""

from __future__ import annotations

from nnlab.training import Hook, TrainState


class Tracked(Hook):
    """A hook that calls ``record(state)`` at step 0, every ``every_steps`` steps and at each epoch end.

    A resumed run (``state.step > 0`` at the start) recorded its start already. The
    last step of an epoch is recorded once, by ``on_epoch_end`` (after evaluation).
    """

    def __init__(self, every_steps: int | None = None) -> None:
        self.every_steps = every_steps

    def record(self, state: TrainState) -> None:
        raise NotImplementedError

    def on_train_start(self, state: TrainState) -> None:
        if state.step == 0:
            self.record(state)

    def on_step_end(self, state: TrainState) -> None:
        k = self.every_steps
        if k and state.step % k == 0 and state.batch_in_epoch + 1 < state.batches_per_epoch:
            self.record(state)

    def on_epoch_end(self, state: TrainState) -> None:
        self.record(state)
