"""The training clock: training time from the adapter's start mark, budget stops, snapshots."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from benchmark.budget import SNAPSHOT_MARKS, EpochEnd, TrainingClock


def test_setup_before_the_start_mark_is_not_training_time() -> None:
    clock = TrainingClock()
    time.sleep(0.05)
    clock.start()
    assert clock.setup_s >= 0.05
    assert clock.elapsed() < 0.05
    clock.start()  # a second mark keeps the first
    assert clock.setup_s >= 0.05


def test_without_a_start_mark_setup_counts_as_training() -> None:
    clock = TrainingClock()
    time.sleep(0.02)
    assert clock.elapsed() >= 0.02 and clock.setup_s == 0.0


def test_snapshots_follow_the_planned_epochs_without_a_budget(tmp_path: Path) -> None:
    clock = TrainingClock(snapshot_root=tmp_path)
    clock.start()
    answers = [clock.epoch_end(e, 20) for e in range(1, 21)]
    snapped = [e for e, a in zip(range(1, 21), answers, strict=True) if a.snapshot]
    # 5%, 10%, 25%, 50%, 75% of 20 epochs; the last epoch is the final model, not a snapshot.
    assert snapped == [1, 2, 5, 10, 15]
    assert [s.epoch for s in clock.snapshots] == snapped
    assert all(s.path.is_dir() and s.path.parent == tmp_path for s in clock.snapshots)
    assert not any(a.stop for a in answers) and not clock.stopped_by_budget
    times = [s.train_s for s in clock.snapshots]
    assert times == sorted(times)
    assert len(SNAPSHOT_MARKS) == 5


def test_a_spent_budget_stops_at_the_epoch_and_takes_no_snapshot(tmp_path: Path) -> None:
    clock = TrainingClock(budget_s=0.05, snapshot_root=tmp_path)
    clock.start()
    first = clock.epoch_end(1, 1000)  # 0.1% of the epochs, ~0% of the budget
    assert first == EpochEnd()
    time.sleep(0.06)
    answer = clock.epoch_end(2, 1000)
    assert answer.stop and answer.snapshot is None
    assert clock.stopped_by_budget and clock.epochs_done == 2 and clock.epochs_planned == 1000


def test_budget_fractions_make_snapshots_when_epochs_are_many(tmp_path: Path) -> None:
    """A job stopped by its budget still gets a curve spread over its run."""
    clock = TrainingClock(budget_s=0.2, snapshot_root=tmp_path)
    clock.start()
    epoch = 0
    while True:
        epoch += 1
        time.sleep(0.01)
        if clock.epoch_end(epoch, 100_000).stop:
            break
    assert len(clock.snapshots) == 5
    spent = [s.train_s / 0.2 for s in clock.snapshots]
    assert all(s >= m for s, m in zip(spent, SNAPSHOT_MARKS, strict=True))


def test_the_last_planned_epoch_is_never_a_budget_stop(tmp_path: Path) -> None:
    clock = TrainingClock(budget_s=1e-9, snapshot_root=tmp_path)
    clock.start()
    assert clock.epoch_end(1, 1) == EpochEnd()
    assert not clock.stopped_by_budget


def test_without_a_snapshot_folder_none_is_asked_for() -> None:
    clock = TrainingClock()
    assert all(clock.epoch_end(e, 4).snapshot is None for e in range(1, 5))


@pytest.mark.parametrize("epochs", [None, 0])
def test_unknown_planned_epochs_rely_on_the_budget(tmp_path: Path, epochs) -> None:
    clock = TrainingClock(snapshot_root=tmp_path)
    assert clock.epoch_end(1, epochs) == EpochEnd()
