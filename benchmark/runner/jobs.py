"""The jobs of a run: what one worker does, and its folder in the run directory."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.runner.config import AdapterSpec


@dataclass(frozen=True)
class Job:
    """One unit of work: an adapter trained with one seed on one fold of one dataset.

    Attributes:
        train_size: Label efficiency: trained on the fold's nested subset of this many
            frames; None: on the fold's whole training set.
        inner_fold: Nested cross-validation: trained and tested inside the fold's training
            frames (inner fold ``inner_fold``); None: tested on the fold's test frames.
        selection: Nested cross-validation: how this job's sweep point was chosen (its
            ``adapter`` holds the chosen point's options under the sweep's label).
    """

    dataset: str
    fold: int
    adapter: AdapterSpec
    seed: int
    train_size: int | None = None
    inner_fold: int | None = None
    selection: dict[str, Any] | None = field(default=None, compare=False)

    @property
    def id(self) -> str:
        """Folder name of the job: ``<dataset>__fold<k>__<label>__seed<s>``, then
        ``__n<size>`` for a training subset or ``__inner<j>`` for an inner fold."""
        base = f"{self.dataset}__fold{self.fold}__{self.adapter.label}__seed{self.seed}"
        if self.train_size is not None:
            base += f"__n{self.train_size}"
        if self.inner_fold is not None:
            base += f"__inner{self.inner_fold}"
        return base

    @property
    def label(self) -> str:
        """The job in words, for progress lines: ``heatmap on mouse fold 0 seed 1``."""
        text = f"{self.adapter.label} on {self.dataset} fold {self.fold} seed {self.seed}"
        if self.train_size is not None:
            text += f", {self.train_size} training frames"
        if self.inner_fold is not None:
            text += f", inner fold {self.inner_fold}"
        return text


def job_dir(run_dir: Path, job: Job) -> Path:
    """The job's folder inside the run directory."""
    return run_dir / "jobs" / job.id
