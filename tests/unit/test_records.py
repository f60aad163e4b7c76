"""Run-directory records: round trips, older records read, newer ones refused, clear errors."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from benchmark.errors import InputError
from benchmark.records import (
    SCHEMA,
    JobRecord,
    ModelInfo,
    RunManifest,
    Timing,
    WorkerResult,
    read_record,
    write_record,
)

TIMING = Timing(10.0, 19.0, 0.5, 0.2, 100.0, 512.0, 2)


def _job() -> JobRecord:
    return JobRecord("d__fold0__a__seed0", "d", 0, "a", "a", 0, {"epochs": 3}, {"host": {}})


def test_a_finished_job_round_trips_with_nested_records(tmp_path: Path) -> None:
    result = WorkerResult("/m", TIMING, ModelInfo(1000, 2.5), {"epochs": 3}, "1.0")
    job = _job().finished(result, {"mean_px": 1.5})
    write_record(tmp_path / "job.json", job)
    back = read_record(tmp_path / "job.json", JobRecord)
    assert back == job
    assert isinstance(back.timing, Timing) and back.timing.threads == 2
    assert json.loads((tmp_path / "job.json").read_text())["schema"] == SCHEMA


def test_a_record_without_schema_is_an_older_one_and_is_read(tmp_path: Path) -> None:
    data = asdict(_job().ended("failed", "boom"))
    del data["schema"]
    data["a_key_older_kpbench_wrote"] = 1
    (tmp_path / "job.json").write_text(json.dumps(data))
    job = read_record(tmp_path / "job.json", JobRecord)
    assert job.status == "failed" and job.error == "boom" and job.schema == SCHEMA


def test_a_newer_schema_is_refused_naming_both_versions(tmp_path: Path) -> None:
    data = {**asdict(RunManifest("r", "t", "9.0", None, {})), "schema": SCHEMA + 1}
    (tmp_path / "run.json").write_text(json.dumps(data))
    with pytest.raises(InputError, match=f"record schema {SCHEMA + 1}.*reads schema {SCHEMA}"):
        read_record(tmp_path / "run.json", RunManifest)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("{", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"name": "r"}', "lacks 'created': not a kpbench RunManifest record"),
    ],
)
def test_bad_records_name_the_file(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "run.json"
    path.write_text(text)
    with pytest.raises(InputError, match=words) as info:
        read_record(path, RunManifest)
    assert str(path) in str(info.value)


def test_an_unknown_job_status_is_refused(tmp_path: Path) -> None:
    data = {**asdict(_job()), "status": "maybe"}
    (tmp_path / "job.json").write_text(json.dumps(data))
    with pytest.raises(InputError, match="job status must be one of done, failed, skipped"):
        read_record(tmp_path / "job.json", JobRecord)
