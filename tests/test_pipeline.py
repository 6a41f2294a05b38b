"""The pipeline end to end on a real engine: real watchdog, real folders, real SQLite."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from helpers import drop, originals, record, settled, wait_for

from chute.engine import Engine, samples
from chute.engine.processors import ProcessingError, Registry, Result
from chute.engine.processors.base import read_input


def test_good_file_is_placed_with_meta(engine: Engine):
    drop(engine, "hello.txt", b"hello world hello\n")
    rec = settled(engine, "hello.txt")
    assert rec.state == "done" and rec.kind == "text" and rec.attempts == 1
    dest = engine.config.paths.processed / "text" / time.strftime("%Y-%m-%d") / "hello.txt"
    assert rec.dest == str(dest)
    assert dest.read_bytes() == b"hello world hello\n"
    meta = json.loads((dest.parent / "hello.txt.meta.json").read_text())
    assert meta["id"] == rec.id and meta["sha256"] == rec.sha256 and meta["found"]["words"] == 3
    assert not (engine.config.paths.inbox / "hello.txt").exists()
    detail = engine.file(rec.id)
    assert [e.type for e in detail.events] == ["arrived", "done"]
    assert detail.attempts[0].outcome == "done"


def test_failure_is_placed_with_reason_in_words(engine: Engine):
    drop(engine, "broken.json", samples.json_bad())
    rec = settled(engine, "broken.json")
    assert rec.state == "failed" and rec.error_kind == "corrupt"
    assert "invalid JSON at line 4 column 1" in rec.reason
    error_txt = Path(rec.dest + ".error.txt").read_text()
    assert "invalid JSON at line 4" in error_txt and f"chute retry {rec.id}" in error_txt


def test_sidecars_for_failures_only(make_engine):
    engine = make_engine(pipeline={"sidecars": "failures"})
    drop(engine, "plain.txt", b"no sidecar for me\n")
    drop(engine, "broken.json", samples.json_bad())
    done, failed = settled(engine, "plain.txt"), settled(engine, "broken.json")
    assert done.state == "done" and Path(done.dest).read_bytes() == b"no sidecar for me\n"
    assert sorted(p.name for p in Path(done.dest).parent.iterdir()) == ["plain.txt"]
    assert engine.file(done.id).meta["words"] == 4  # the journal keeps what the sidecar would have said
    assert [e.type for e in engine.file(done.id).events] == ["arrived", "done"]
    assert failed.state == "failed" and "invalid JSON" in Path(failed.dest + ".error.txt").read_text()


def test_files_already_in_the_inbox_at_start_are_processed(make_engine, tmp_path):
    inbox = tmp_path / "root" / "inbox"
    inbox.mkdir(parents=True)
    for i in range(20):
        (inbox / f"early-{i}.txt").write_text(f"file {i}\n")
    engine = make_engine()
    wait_for(lambda: engine.snapshot().counts["done"] == 20, what="20 early files")
    assert list(inbox.iterdir()) == []


def test_safe_writer_rename_into_inbox_counts_as_arrival(engine: Engine):
    inbox = engine.config.paths.inbox
    tmp = inbox / "report.csv.part"
    tmp.write_bytes(samples.csv_good(5))
    time.sleep(0.5)
    assert tmp.exists(), "*.part files are ignored until renamed"
    os.rename(tmp, inbox / "report.csv")
    assert settled(engine, "report.csv").state == "done"


def test_moved_in_from_another_folder(engine: Engine, tmp_path):
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("moved in\n")
    os.rename(outside, engine.config.paths.inbox / "elsewhere.txt")
    assert settled(engine, "elsewhere.txt").state == "done"


def test_ignored_names_stay_in_the_inbox(engine: Engine):
    inbox = engine.config.paths.inbox
    for name in (".hidden", "x.tmp", "y.part", "z.crdownload", "~$lock.docx"):
        (inbox / name).write_text("ignore me")
    drop(engine, "real.txt", b"real\n")
    settled(engine, "real.txt")
    time.sleep(0.5)
    assert sorted(p.name for p in inbox.iterdir()) == sorted(
        [".hidden", "x.tmp", "y.part", "z.crdownload", "~$lock.docx"]
    )
    assert engine.snapshot().total == 1


def test_thousand_files_of_one_name_give_thousand_results(engine: Engine):
    inbox = engine.config.paths.inbox
    n = 1000
    for i in range(n):
        path = inbox / "same.txt"
        path.write_text(f"version {i}\n")
        wait_for(lambda p=path: not p.exists(), timeout=10, interval=0.002, what="claim")
    wait_for(lambda: engine.snapshot().counts["done"] == n, timeout=60, what=f"{n} done")
    placed = originals(engine.config.paths.processed)
    assert len(placed) == n
    contents = {p.read_text() for p in placed}
    assert len(contents) == n, "every version kept, none overwritten"
    names = {p.name for p in placed}
    assert "same.txt" in names and "same (1).txt" in names and f"same ({n - 1}).txt" in names
    for p in placed:
        assert (p.parent / (p.name + ".meta.json")).exists()


def test_a_users_file_never_collides_with_a_sidecar(engine: Engine):
    # failed/<date>/ holds every kind, so a user's "x.json.error.txt" meets x.json's sidecar there.
    drop(engine, "x.json", b"{")
    first = settled(engine, "x.json")
    drop(engine, "x.json.error.txt", samples.binary())
    second = settled(engine, "x.json.error.txt")
    assert second.state == "failed"
    assert second.dest.endswith("x.json.error (1).txt")
    assert "invalid JSON" in Path(first.dest + ".error.txt").read_text()
    assert Path(second.dest).read_bytes() == samples.binary()


def test_retry_of_a_fixed_failed_file(engine: Engine):
    drop(engine, "order.json", samples.json_bad())
    rec = settled(engine, "order.json")
    assert rec.state == "failed"
    # The operator fixes the file where it failed, then retries by id.
    with open(rec.dest, "wb") as f:
        f.write(samples.json_good())
    result = engine.retry([rec.id, 999_999])
    assert result.retried == [rec.id]
    assert result.skipped == {999_999: "not found or not failed"}
    wait_for(lambda: record(engine, "order.json").state == "done", what="retry to finish")
    after = record(engine, "order.json")
    assert after.id == rec.id and after.attempts == 2
    assert not os.path.exists(rec.dest) and not os.path.exists(rec.dest + ".error.txt")
    detail = engine.file(rec.id)
    assert [a.outcome for a in detail.attempts] == ["failed", "done"]
    assert "retry_requested" in [e.type for e in detail.events]
    assert engine.snapshot().total == 1


def test_retry_all_failed(engine: Engine):
    for i in range(5):
        drop(engine, f"bad-{i}.json", b"{")
    wait_for(lambda: engine.snapshot().counts["failed"] == 5, what="5 failures")
    failed = engine.journal.files.failed_ids()
    assert engine.retry_failed().retried == sorted(failed)
    wait_for(lambda: engine.snapshot().counts["failed"] == 5 and engine.pipeline.idle(), what="failing again")
    assert all(f.attempts == 2 for f in engine.files(state="failed").items)


def test_a_retried_file_that_fails_again_keeps_its_name_and_counts_every_attempt(engine: Engine):
    for i in range(3):
        drop(engine, f"bad-{i}.json", b"{")
    wait_for(lambda: engine.snapshot().counts["failed"] == 3, what="3 failures")
    first = {f.name: f.dest for f in engine.files(state="failed").items}
    engine.retry_failed()
    wait_for(
        lambda: engine.pipeline.idle() and all(f.attempts == 2 for f in engine.files(state="failed").items),
        what="failing again",
    )
    again = {f.name: f.dest for f in engine.files(state="failed").items}
    assert again == first  # refiled under its own name, not "bad-0 (1).json"
    for dest in again.values():
        with open(dest + ".error.txt") as f:
            assert "Attempts: 2\n" in f.read()


class Flaky:
    """Fails with a transient error the first `fail_times` times it sees each file."""

    kind = "flaky"
    extensions = frozenset({".flaky"})
    inline = True
    fail_times = 2
    seen: dict[str, int] = {}

    def process(self, path, name, workdir):
        count = self.seen.get(name, 0) + 1
        self.seen[name] = count
        if count <= self.fail_times:
            raise ProcessingError("io", f"share not mounted (try {count})", transient=True)
        return Result(meta={"tries": count, "bytes": len(read_input(path))})


def flaky_registry() -> Registry:
    registry = Registry.default(plugins=False)
    registry.add(Flaky())
    return registry


def test_transient_errors_retry_with_backoff_then_succeed(make_engine):
    Flaky.seen.clear()
    engine = make_engine(registry=flaky_registry(), pipeline={"retry_backoff": 0.1, "max_attempts": 3})
    drop(engine, "a.flaky", b"data")
    rec = settled(engine, "a.flaky")
    assert rec.state == "done" and rec.attempts == 3
    outcomes = [a.outcome for a in engine.file(rec.id).attempts]
    assert outcomes == ["retry", "retry", "done"]
    assert [e.type for e in engine.file(rec.id).events].count("retry_wait") == 2


def test_transient_errors_give_up_after_max_attempts(make_engine):
    Flaky.seen.clear()
    engine = make_engine(registry=flaky_registry(), pipeline={"retry_backoff": 0.05, "max_attempts": 2})
    drop(engine, "b.flaky", b"data")
    rec = settled(engine, "b.flaky")
    assert rec.state == "failed" and rec.error_kind == "io" and rec.attempts == 2
    assert "share not mounted (try 2)" in rec.reason


def test_duplicates_marked_by_sha256(make_engine):
    engine = make_engine(pipeline={"duplicates": "mark"})
    drop(engine, "one.txt", b"same bytes\n")
    first = settled(engine, "one.txt")
    drop(engine, "two.txt", b"same bytes\n")
    second = settled(engine, "two.txt")
    assert first.state == "done" and second.state == "duplicate"
    assert engine.file(second.id).meta["duplicate_of"] == first.id
    assert "/processed/duplicates/" in second.dest


def test_counters_survive_a_restart(make_engine, tmp_path):
    engine = make_engine()
    drop(engine, "a.txt", b"a\n")
    drop(engine, "b.json", b"{")
    settled(engine, "a.txt")
    settled(engine, "b.json")
    before = engine.snapshot()
    engine.stop()
    again = make_engine()
    after = again.snapshot()
    assert after.counts == before.counts and after.kinds == before.kinds
    events = again.events(since=0)
    assert [e.type for e in events].count("engine_started") == 2


def test_events_follow_by_cursor_and_long_poll(engine: Engine):
    cursor = engine.last_event_id()
    t0 = time.monotonic()
    assert engine.events(since=cursor, wait=0.3) == []
    assert time.monotonic() - t0 >= 0.25
    drop(engine, "e.txt", b"e\n")
    got = engine.events(since=cursor, wait=5)
    assert got and got[0].type == "arrived" and got[0].id > cursor


def test_files_page_by_cursor_and_filter(engine: Engine):
    for i in range(12):
        drop(engine, f"p{i:02d}.txt", b"x\n")
    drop(engine, "q.json", b"{}")
    wait_for(lambda: engine.snapshot().counts["done"] == 13)
    page = engine.files(limit=5)
    assert len(page.items) == 5 and page.next_before == page.items[-1].id
    ids = [f.id for f in page.items]
    rest = engine.files(limit=100, before=page.next_before)
    assert rest.next_before is None
    assert ids + [f.id for f in rest.items] == sorted(ids + [f.id for f in rest.items], reverse=True)
    assert len(ids) + len(rest.items) == 13
    assert [f.name for f in engine.files(kind="json").items] == ["q.json"]
    assert len(engine.files(q="p1").items) == 2
    assert engine.files(q="%").items == []


def test_snapshot_shape(engine: Engine):
    drop(engine, "s.txt", b"s\n")
    settled(engine, "s.txt")
    snap = engine.snapshot()
    assert snap.counts["done"] == 1 and snap.kinds == {"text": {"done": 1}}
    assert snap.latency.count == 1 and snap.latency.p50 > 0
    assert snap.watcher_alive and snap.last_scan_at is not None
    assert snap.rate_per_min == 1.0


def test_periodic_scan_finds_what_events_missed(make_engine):
    engine = make_engine(watcher={"scan_interval": 0.5})
    # Simulate dropped inotify events: stop the observer, keep the scans running.
    engine.watcher._observer.stop()
    engine.watcher._observer.join()
    drop(engine, "missed.txt", b"nobody told me\n")
    assert settled(engine, "missed.txt").state == "done"


def test_overflow_triggers_an_immediate_scan(make_engine):
    engine = make_engine(watcher={"scan_interval": 3600})
    engine.watcher._observer.stop()
    engine.watcher._observer.join()
    drop(engine, "lost.txt", b"lost event\n")
    time.sleep(0.5)
    assert record(engine, "lost.txt") is None
    engine.watcher._overflowed()
    assert settled(engine, "lost.txt").state == "done"
    assert engine.watcher.overflows == 1


def test_second_engine_on_same_root_is_refused(make_engine, tmp_path):
    import pytest

    from chute.engine import EngineError
    from chute.engine.config import Config

    make_engine()
    other = Engine(Config.for_root(tmp_path / "root", server={"enabled": False}))
    with pytest.raises(EngineError, match="already running"):
        other.start()
    other.stop()


def test_one_unclaimable_file_does_not_hold_up_its_batch(make_engine, caplog):
    engine = make_engine()
    real_claim = engine.journal.files.claim

    def claim(arrivals):
        if any(a.name == "poison.txt" for a in arrivals):
            raise RuntimeError("simulated journal refusal")
        return real_claim(arrivals)

    engine.journal.files.claim = claim
    inbox = engine.config.paths.inbox
    # Written while the watcher looks elsewhere, then found by one scan: they arrive as one batch.
    engine.watcher._observer.stop()
    engine.watcher._observer.join()
    for name in ("a.txt", "poison.txt", "b.txt", "c.txt"):
        (inbox / name).write_text(name)
    engine.watcher._overflowed()
    for name in ("a.txt", "b.txt", "c.txt"):
        assert settled(engine, name).state == "done"
    assert (inbox / "poison.txt").exists()
    time.sleep(1.0)
    assert caplog.text.count("cannot claim 'poison.txt'") == 1, "said once, not on every scan"


def test_a_name_taken_by_hand_in_processed_is_never_overwritten(engine):
    """The placer lists a folder once, then relies on every step refusing an existing name."""
    drop(engine, "first.txt", b"one\n")
    first = settled(engine, "first.txt")
    folder = Path(first.dest).parent
    (folder / "clash.txt").write_bytes(b"put here by hand")
    drop(engine, "clash.txt", b"mine\n")
    mine = settled(engine, "clash.txt")
    assert mine.state == "done"
    assert Path(mine.dest).name == "clash (1).txt"
    assert (folder / "clash.txt").read_bytes() == b"put here by hand"
    assert (folder / "clash (1).txt").read_bytes() == b"mine\n"
    assert sorted(p.name for p in folder.iterdir()) == [
        "clash (1).txt",
        "clash (1).txt.meta.json",
        "clash.txt",
        "first.txt",
        "first.txt.meta.json",
    ]
