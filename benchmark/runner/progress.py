"""Progress of a run's jobs: a live bar on a terminal, plain lines in a log.

On a terminal, a tqdm bar shows the job, its phase or epoch, and an ETA. When stderr is not
a terminal (CI, ``nohup``, a log file), carriage-return updates would fill the log with one
line a second, so each job gets a line when it starts, one per finished epoch, and one when
it ends.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import IO, Any

from tqdm import tqdm


def progress_text(values: dict[str, Any], elapsed: float) -> str:
    """``"12s epoch 3/40 eta 150s loss 0.021"`` from a worker's progress record."""
    text = f"{elapsed:.0f}s"
    epoch, epochs = values.get("epoch"), values.get("epochs")
    if epoch and epochs:
        eta = elapsed / epoch * max(epochs - epoch, 0)
        text += f" epoch {epoch}/{epochs} eta {eta:.0f}s"
    elif values.get("phase"):
        text += f" {values['phase']}"
    if isinstance(values.get("loss"), float):
        text += f" loss {values['loss']:.4g}"
    return text


def read_progress(path: Path) -> dict[str, Any]:
    """The worker's latest progress record (empty before it wrote one)."""
    try:
        values = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return values if isinstance(values, dict) else {}


class JobProgress:
    """Shows the jobs of one run as they advance, one job or several at a time.

    Each job is known by a key (its id). With one job running, the bar (or the log) shows its
    phase or epoch; with several (a cluster, local slots), the bar shows the counts of
    queued, running, done and failed jobs, and the log gets a line whenever they change.

    Args:
        total: Jobs to run.
        quiet: Show nothing.
        stream: Where to write (default stderr).
    """

    def __init__(self, total: int, *, quiet: bool = False, stream: IO[str] | None = None):
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.total = total
        self.live = not quiet and self.stream.isatty()
        self.counts = {"queued": 0, "running": 0, "done": 0, "failed": 0}
        self._jobs: dict[str, tuple[int, str]] = {}  # key -> (index, label)
        self._last_epoch: dict[str, Any] = {}
        self._last_counts = ""
        self.bar = tqdm(
            total=total,
            disable=not self.live,
            unit="job",
            dynamic_ncols=True,
            file=self.stream,
        )

    def __enter__(self) -> JobProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.close()

    def start(self, key: str, label: str, detail: str = "started") -> None:
        """A job starts (or is submitted: ``detail`` says so); ``label`` says which."""
        self._jobs[key] = (len(self._jobs) + 1, label)
        if self.live:
            self.bar.set_description(label)
        else:
            self._line(key, detail)

    def note(self, key: str, text: str) -> None:
        """A line about one job (e.g. "running on node-3")."""
        if self.live:
            self.bar.write(f"{self._jobs[key][1]}: {text}", file=self.stream)
        else:
            self._line(key, text)

    def update(self, key: str, values: dict[str, Any], elapsed: float) -> None:
        """The job's latest progress record, ``elapsed`` seconds after its start."""
        text = progress_text(values, elapsed)
        if self.live:
            if self.counts["running"] <= 1:
                self.bar.set_description(self._jobs[key][1])
                self.bar.set_postfix_str(text, refresh=True)
        elif values.get("epoch") and values.get("epoch") != self._last_epoch.get(key):
            self._last_epoch[key] = values.get("epoch")
            self._line(key, text)

    def finish(self, key: str, status: str, detail: str = "") -> None:
        """The job ended with ``status`` (done, failed, skipped)."""
        text = status if not detail else f"{status}: {detail}"
        if self.live:
            if status != "done":
                self.bar.write(f"{self._jobs[key][1]} {text}", file=self.stream)
            self.bar.update(1)
        else:
            self._line(key, text)

    def show_counts(self, queued: int, running: int, done: int, failed: int) -> None:
        """The run's jobs by state (shown when it changed; for runs of several at once)."""
        self.counts = {"queued": queued, "running": running, "done": done, "failed": failed}
        text = f"queued {queued}, running {running}, done {done}, failed {failed}"
        if text == self._last_counts:
            return
        self._last_counts = text
        if self.live:
            if running > 1 or queued:
                self.bar.set_description(f"{running} running")
                self.bar.set_postfix_str(text, refresh=True)
        elif not self.quiet:
            print(f"jobs: {text}", file=self.stream, flush=True)

    def write(self, text: str) -> None:
        """A message between jobs (e.g. an environment build)."""
        if self.live:
            self.bar.write(text, file=self.stream)
        elif not self.quiet:
            print(text, file=self.stream, flush=True)

    def _line(self, key: str, text: str) -> None:
        if not self.quiet:
            index, label = self._jobs[key]
            print(f"[{index}/{self.total}] {label}: {text}", file=self.stream, flush=True)
