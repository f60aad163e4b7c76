"""The training clock: the harness's measure of training time, its budget and its snapshots.

The worker gives every adapter a :class:`TrainingClock`. The adapter marks the moment its
framework starts training (:meth:`TrainingClock.start`, after framework imports and data
conversion) and reports every finished epoch (:meth:`TrainingClock.epoch_end`). The clock
answers each epoch with an :class:`EpochEnd`: whether the budget is spent (the adapter
then stops at this epoch boundary, keeping its latest weights) and whether to save a
snapshot for the learning curve, and where. Times are the harness's: the adapter never
reads a clock itself.

Snapshots are due when training first crosses each of :data:`SNAPSHOT_MARKS`, measured as
the larger of the fraction of the budget spent and the fraction of the planned epochs done,
so a job stopped by its budget and one that finishes its schedule early both get a curve
spread over their run. The final model is the curve's last point and needs no snapshot.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.resources import cpu_seconds

__all__ = ["SNAPSHOT_MARKS", "EpochEnd", "Snapshot", "TrainingClock"]

#: Fractions of the run (of the budget or of the planned epochs, whichever is further) at
#: which a snapshot is kept; with the final model these are six points of the curve.
SNAPSHOT_MARKS = (0.05, 0.1, 0.25, 0.5, 0.75)


@dataclass(frozen=True)
class EpochEnd:
    """The clock's answer at the end of an epoch.

    Attributes:
        stop: The budget is spent: finish now and keep the current weights.
        snapshot: Save the current weights into this (new, empty) folder, in a form the
            adapter's ``load(model_dir, workdir, snapshot=...)`` reads; None: no snapshot.
    """

    stop: bool = False
    snapshot: Path | None = None


@dataclass(frozen=True)
class Snapshot:
    """A snapshot the harness asked for: when, and where the adapter saved it."""

    epoch: int
    train_s: float
    path: Path


@dataclass
class TrainingClock:
    """Measures training time from :meth:`start` and decides stops and snapshots.

    Args:
        budget_s: Training budget in seconds (None: no budget, the schedule decides).
        snapshot_root: Folder for snapshots (None: no snapshots are asked for).
        marks: Fractions of the run at which a snapshot is due.
    """

    budget_s: float | None = None
    snapshot_root: Path | None = None
    marks: tuple[float, ...] = SNAPSHOT_MARKS
    snapshots: list[Snapshot] = field(default_factory=list)
    stopped_by_budget: bool = False
    epochs_done: int = 0
    epochs_planned: int | None = None
    _created: float = field(default_factory=time.perf_counter)
    _created_cpu: float = field(default_factory=cpu_seconds)
    _started: float | None = None
    _started_cpu: float | None = None
    _next_mark: int = 0

    def start(self) -> None:
        """Training proper starts now (the setup before it is not training time).

        Calling it again (a framework that rebuilds its trainer) keeps the first start.
        """
        if self._started is None:
            self._started = time.perf_counter()
            self._started_cpu = cpu_seconds()

    @property
    def started(self) -> bool:
        """Whether training proper has started."""
        return self._started is not None

    @property
    def setup_s(self) -> float:
        """Seconds from the clock's creation to :meth:`start` (0 before it)."""
        return 0.0 if self._started is None else self._started - self._created

    def elapsed(self) -> float:
        """Training seconds so far (from :meth:`start`; from creation if it was never
        called, so an adapter that does not mark its start is charged for its setup)."""
        origin = self._created if self._started is None else self._started
        return time.perf_counter() - origin

    def elapsed_cpu(self) -> float:
        """CPU seconds of training so far (this process and its finished children)."""
        origin = self._created_cpu if self._started_cpu is None else self._started_cpu
        return cpu_seconds() - origin

    def epoch_end(self, epoch: int, epochs: int | None) -> EpochEnd:
        """Epoch ``epoch`` (from 1) of ``epochs`` planned has finished."""
        self.start()  # an adapter that never marked its start: count from here on
        elapsed = self.elapsed()
        self.epochs_done, self.epochs_planned = int(epoch), epochs
        spent = elapsed / self.budget_s if self.budget_s else 0.0
        done = epoch / epochs if epochs else 0.0
        last = epochs is not None and epoch >= epochs
        stop = self.budget_s is not None and elapsed >= self.budget_s and not last
        self.stopped_by_budget = self.stopped_by_budget or stop
        progress = max(spent, done)
        due = False
        while self._next_mark < len(self.marks) and progress >= self.marks[self._next_mark]:
            self._next_mark += 1
            due = True
        if not due or stop or last or self.snapshot_root is None:
            return EpochEnd(stop=stop)  # the final model is the curve's last point
        path = Path(self.snapshot_root) / f"epoch-{epoch:05d}"
        path.mkdir(parents=True, exist_ok=False)
        self.snapshots.append(Snapshot(epoch=int(epoch), train_s=elapsed, path=path))
        return EpochEnd(stop=False, snapshot=path)
