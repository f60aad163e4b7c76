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
        progress.start("job-a", "mean on blobs fold 0 seed 0")
        for _ in range(3):  # the runner polls every second; the epoch does not change
            progress.update("job-a", {"epoch": 1, "epochs": 2}, 5.0)
        progress.update("job-a", {"epoch": 2, "epochs": 2}, 9.0)
        progress.finish("job-a", "done")
    lines = log.getvalue().splitlines()
    assert lines == [
        "[1/2] mean on blobs fold 0 seed 0: started",
        "[1/2] mean on blobs fold 0 seed 0: 5s epoch 1/2 eta 5s",
        "[1/2] mean on blobs fold 0 seed 0: 9s epoch 2/2 eta 0s",
        "[1/2] mean on blobs fold 0 seed 0: done",
    ]


def test_jobs_running_at_once_keep_their_own_numbers_and_the_log_gets_each_change_of_counts():
    log = io.StringIO()
    with JobProgress(3, stream=log) as progress:
        progress.start("a", "A", "submitted (Slurm job 11)")
        progress.start("b", "B", "submitted (Slurm job 12)")
        progress.show_counts(queued=2, running=1, done=0, failed=0)
        progress.show_counts(queued=2, running=1, done=0, failed=0)  # unchanged: no line
        progress.note("b", "running")
        progress.update("b", {"epoch": 1, "epochs": 4}, 2.0)
        progress.update("a", {"epoch": 1, "epochs": 4}, 3.0)
        progress.finish("a", "failed", "cancelled on the cluster")
        progress.show_counts(queued=1, running=1, done=0, failed=1)
    assert log.getvalue().splitlines() == [
        "[1/3] A: submitted (Slurm job 11)",
        "[2/3] B: submitted (Slurm job 12)",
        "jobs: queued 2, running 1, done 0, failed 0",
        "[2/3] B: running",
        "[2/3] B: 2s epoch 1/4 eta 6s",
        "[1/3] A: 3s epoch 1/4 eta 9s",
        "[1/3] A: failed: cancelled on the cluster",
        "jobs: queued 1, running 1, done 0, failed 1",
    ]
