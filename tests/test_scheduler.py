"""The scheduler: journaled runs, missed runs at start, no overlap, failures recorded and alerted
while the next runs still happen."""

from __future__ import annotations

import threading
import time

from helpers import test_config, wait_for

from chute.engine import Engine
from chute.engine.journal import Journal
from chute.engine.scheduler import JobSpec, Scheduler
from chute.engine.schedules import parse_when


def journal(tmp_path) -> Journal:
    return Journal(tmp_path / "j.sqlite")


def test_interval_job_runs_and_is_journaled(tmp_path):
    j = journal(tmp_path)
    runs = []
    s = Scheduler(
        j,
        [JobSpec("tick", parse_when("every 1 second"), lambda: runs.append(1) or "ticked")],
        on_failure=lambda n, m: None,
    )
    s.start()
    try:
        wait_for(lambda: len(runs) >= 2, timeout=5)
        status = {x.name: x for x in s.status()}["tick"]
        assert status.last_outcome == "ok" and status.last_message == "ticked" and status.runs >= 1
        assert status.next_run > time.time() - 1
    finally:
        s.stop()
        j.close()


def test_a_failing_job_is_recorded_alerted_and_runs_again(tmp_path):
    j = journal(tmp_path)
    failures = []
    calls = []

    def flaky():
        calls.append(1)
        raise OSError("disk full")

    s = Scheduler(
        j,
        [JobSpec("backup", parse_when("every 1 second"), flaky)],
        on_failure=lambda n, m: failures.append((n, m)),
    )
    s.start()
    try:
        wait_for(lambda: len(calls) >= 2, timeout=5)
        assert failures[0] == ("backup", "OSError: disk full")
        assert j.jobs.all()["backup"].last_outcome == "failed" and j.jobs.all()["backup"].failures >= 1
        assert any(e.type == "job_failed" for e in j.events.since())
    finally:
        s.stop()
        j.close()


def test_never_overlaps_itself(tmp_path):
    j = journal(tmp_path)
    release = threading.Event()
    running = []

    def slow():
        running.append(1)
        release.wait(5)
        return "slow done"

    s = Scheduler(j, [JobSpec("slow", None, slow)], on_failure=lambda n, m: None)
    s.start()
    try:
        assert s.run_now("slow")["started"]
        wait_for(lambda: running)
        import pytest

        with pytest.raises(RuntimeError, match="already running"):
            s.run_now("slow")
        assert any(e.type == "job_skipped" for e in j.events.since())
        release.set()
        wait_for(lambda: (job := j.jobs.all().get("slow")) and job.last_outcome == "ok")
        assert len(running) == 1
    finally:
        release.set()
        s.stop()
        j.close()


def test_a_run_missed_while_down_runs_once_at_start(tmp_path):
    j = journal(tmp_path)
    j.jobs.started("backup", time.time() - 3 * 86400)
    j.jobs.finished("backup", time.time() - 3 * 86400 + 5, "ok", 5.0, "old")
    runs = []
    s = Scheduler(
        j,
        [
            JobSpec("backup", parse_when("daily 01:00"), lambda: runs.append(1) or "caught up"),
            JobSpec("report", parse_when("daily 01:00"), lambda: runs.append(2) or "never ran before"),
        ],
        on_failure=lambda n, m: None,
    )
    s.start()
    try:
        wait_for(lambda: runs == [1], timeout=5)
        time.sleep(0.5)
        assert runs == [1], "missed once, run once; a job that never ran waits for its time"
    finally:
        s.stop()
        j.close()


def test_engine_schedules_in_snapshot_and_bad_spec_named(tmp_path):
    import pytest

    from chute.engine.config import ConfigError, load

    engine = Engine(
        test_config(tmp_path / "e", schedule={"backup": "monday 09:00", "report": "", "retention": "hourly"})
    )
    engine.start()
    try:
        jobs = {j.name: j for j in engine.snapshot().schedules}
        assert jobs["backup"].when == "monday 09:00" and jobs["backup"].next_run > time.time()
        assert jobs["report"].when == "never" and jobs["report"].next_run is None
    finally:
        engine.stop()
    path = tmp_path / "bad.toml"
    path.write_text('[schedule]\nbackup = "fortnightly"\n')
    with pytest.raises(ConfigError) as err:
        load(path)
    assert err.value.key == "schedule.backup" and "daily HH:MM" in str(err.value)


def test_every_n_jobs_run_even_when_the_engine_restarts_more_often(tmp_path):
    """Every 1 s, restarted every 0.7 s: due from the last journaled run, not from each start."""
    j = journal(tmp_path)
    runs = []
    try:
        for _ in range(4):
            s = Scheduler(
                j,
                [JobSpec("tick", parse_when("every 1 second"), lambda: runs.append(1) or "ok")],
                lambda n, m: None,
            )
            s.start()
            time.sleep(0.7)
            s.stop()
        assert len(runs) >= 3, "a job that never ran runs at once, then every second across restarts"
    finally:
        j.close()


def test_a_run_cut_short_is_recorded_interrupted_and_alerted(tmp_path):
    j = journal(tmp_path)
    alerts = []
    j.jobs.started("report", time.time() - 60)  # a run the engine was killed during
    s = Scheduler(j, [JobSpec("report", None, lambda: "x")], lambda n, m: alerts.append((n, m)))
    s.start()
    s.stop()
    row = j.jobs.all()["report"]
    assert row.last_outcome == "interrupted" and "engine stopped during the run" in row.last_message
    assert alerts and alerts[0][0] == "report"

    def long_job():
        s.stopping.wait(10)
        raise RuntimeError("stopped mid-way")

    s = Scheduler(j, [JobSpec("backup", None, long_job)], lambda n, m: alerts.append((n, m)))
    s.start()
    s.run_now("backup")
    s.stop()
    assert j.jobs.all()["backup"].last_outcome == "interrupted" and alerts[-1][0] == "backup"
    j.close()


def test_a_schedule_too_far_apart_is_refused_naming_the_key(tmp_path):
    import pytest

    from chute.engine.config import ConfigError, load

    path = tmp_path / "c.toml"
    path.write_text('[schedule]\nreport = "every 99999999999 weeks"\n')
    with pytest.raises(ConfigError) as err:
        load(path)
    assert err.value.key == "schedule.report" and "at most 366 days" in str(err.value)
