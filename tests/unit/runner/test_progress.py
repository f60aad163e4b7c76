"""Progress lines: the phase before the first epoch, then epoch, ETA and loss."""

from __future__ import annotations

import io

from benchmark.runner.progress import JobProgress, progress_text


def test_the_phase_shows_until_the_first_epoch_then_epochs_with_an_eta() -> None:
    assert progress_text({}, 3.2) == "3s"
    assert progress_text({"phase": "setting up"}, 12.0) == "12s setting up"
    text = progress_text({"phase": "setting up", "epoch": 2, "epochs": 10, "loss": 0.5}, 20.0)
    assert text == "20s epoch 2/10 eta 80s loss 0.5"


def test_a_log_gets_one_line_per_new_epoch_and_per_job_end() -> None:
    log = io.StringIO()  # not a terminal
    with JobProgress(2, stream=log) as progress:
        progress.start("mean on blobs fold 0 seed 0")
        for _ in range(3):  # the runner polls every second; the epoch does not change
            progress.update({"epoch": 1, "epochs": 2}, 5.0)
        progress.update({"epoch": 2, "epochs": 2}, 9.0)
        progress.finish("done")
    lines = log.getvalue().splitlines()
    assert lines == [
        "[1/2] mean on blobs fold 0 seed 0: started",
        "[1/2] mean on blobs fold 0 seed 0: 5s epoch 1/2 eta 5s",
        "[1/2] mean on blobs fold 0 seed 0: 9s epoch 2/2 eta 0s",
        "[1/2] mean on blobs fold 0 seed 0: done",
    ]
