"""The journal's stores on a real SQLite file: migrations from every earlier schema, concurrent
writers, and what each store reads back (always dataclasses from engine.model)."""

from __future__ import annotations

import os
import sqlite3
import threading
import time

import pytest

from chute.engine.journal import MIGRATIONS, SCHEMA_VERSION, Journal, JournalError
from chute.engine.model import (
    Alert,
    Arrival,
    Attempt,
    DurationBucket,
    Event,
    FailureReason,
    FileDetail,
    FileRecord,
    Finished,
    JobRecord,
    KindCount,
    OutboxItem,
    Outcome,
    RetryMove,
    StateCounts,
    Timings,
)


@pytest.fixture
def journal(tmp_path):
    j = Journal(tmp_path / "journal.sqlite")
    yield j
    j.close()


def arrive(j: Journal, *names: str, at: float | None = None) -> list[int]:
    at = time.time() if at is None else at
    return j.files.claim([Arrival(n, f"/inbox/{n}", 100 + i, 10 * (i + 1), at) for i, n in enumerate(names)])


def outcome(fid: int, state: str = "done", kind: str = "text", **kw) -> Outcome:
    fields = {
        "id": fid,
        "target_state": state,
        "kind": kind,
        "size": 10,
        "sha256": f"{fid:064x}",
        "started_at": time.time(),
        "duration": 0.002,
        "dest": f"/root/processed/{kind}/f{fid}.txt",
        "message": f"f{fid}",
        **kw,
    }
    return Outcome(**fields)


def place(j: Journal, outcomes: list[Outcome]) -> None:
    j.files.begin_place(outcomes)
    j.files.finish_place(outcomes)


# --- migrations -------------------------------------------------------------------------------


@pytest.mark.parametrize("version", range(SCHEMA_VERSION))
def test_every_earlier_schema_migrates_forward_and_keeps_its_rows(tmp_path, version):
    path = tmp_path / "journal.sqlite"
    old = sqlite3.connect(path, isolation_level=None)
    for i in range(version):
        old.executescript(f"BEGIN; {MIGRATIONS[i]}; PRAGMA user_version={i + 1}; COMMIT;")
    if version >= 1:
        old.execute(
            "INSERT INTO files(name, src, state, kind, arrived_at, updated_at, finished_at) "
            "VALUES ('old.txt', '/x', 'done', 'text', 1, 1, 2)"
        )
        old.execute("INSERT INTO events(ts, type, message) VALUES (1, 'arrived', 'old.txt')")
    old.close()

    j = Journal(path)
    try:
        assert j.db.reader.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        kept = 1 if version >= 1 else 0
        assert j.figures.counts().counts["done"] == kept
        assert [f.name for f in j.files.page()] == ["old.txt"] * kept
        assert j.last_event_id == kept, "the event cursor starts after the rows already there"
        # Every table of the newest schema is there and usable.
        assert j.alerts.add("health", "warning", "t", "b") == 1
        j.jobs.started("backup", 5.0)
        j.outbox.add("email", {"subject": "s"})
        j.kv.set("k", "v")
        assert j.kv.get("k") == "v" and j.outbox.items()[0].channel == "email"
    finally:
        j.close()


def test_a_journal_from_a_newer_chute_is_refused_untouched(tmp_path):
    path = tmp_path / "journal.sqlite"
    sqlite3.connect(path).execute("PRAGMA user_version=999")
    with pytest.raises(JournalError, match="newer than this chute"):
        Journal(path)
    tables = sqlite3.connect(path).execute("SELECT name FROM sqlite_master").fetchall()
    assert tables == [], "no migration ran on it"


def test_a_file_that_is_not_a_database_is_named(tmp_path):
    path = tmp_path / "journal.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(JournalError, match="cannot be opened"):
        Journal(path)


# --- concurrent writers -----------------------------------------------------------------------


def test_concurrent_writers_lose_nothing(tmp_path):
    """Threads on one journal and a second journal on the same file (as the CLI beside an engine)."""
    path = tmp_path / "journal.sqlite"
    first, second = Journal(path), Journal(path)
    errors: list[BaseException] = []
    rounds = 25

    def claims(j: Journal, tag: str) -> None:
        try:
            for i in range(rounds):
                (fid,) = arrive(j, f"{tag}-{i}.txt")
                place(j, [outcome(fid, dest=f"/root/processed/text/{tag}-{i}.txt")])
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    def side_writes(j: Journal, tag: str) -> None:
        try:
            for i in range(rounds):
                j.alerts.add("health", "info", f"{tag} {i}", "")
                j.events.add("note", f"{tag} {i}")
                j.kv.set(f"{tag}-{i % 3}", str(i))
                j.outbox.add("discord", {"n": i})
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=claims, args=(first, "a")),
        threading.Thread(target=claims, args=(first, "b")),
        threading.Thread(target=claims, args=(second, "c")),
        threading.Thread(target=side_writes, args=(first, "d")),
        threading.Thread(target=side_writes, args=(second, "e")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert errors == []
        files = first.files.page(limit=1000)
        assert len(files) == len({f.id for f in files}) == 3 * rounds
        assert {f.state for f in files} == {"done"}
        assert all(len(first.files.attempts(f.id)) == 1 for f in files)
        assert len(first.alerts.list(limit=1000)) == 2 * rounds
        assert len(second.outbox.items()) == 2 * rounds
        # arrived + done per file, and one note per side-write round
        events = first.events.since(0, limit=10_000)
        assert len(events) == 2 * 3 * rounds + 2 * rounds
        assert [e.id for e in events] == sorted({e.id for e in events})
        # A journal learns the newest id at its own commits, counting the other writer's rows.
        first.events.add("note", "last")
        assert first.last_event_id == events[-1].id + 1
    finally:
        first.close()
        second.close()


# --- each store's reads -----------------------------------------------------------------------


def test_files_from_claim_to_place(journal):
    ids = arrive(journal, "a.txt", "b.txt", "c.csv")
    assert ids == [1, 2, 3]
    active = journal.files.active()
    assert [(r.id, r.state, r.src) for r in active] == [
        (1, "queued", "/inbox/a.txt"),
        (2, "queued", "/inbox/b.txt"),
        (3, "queued", "/inbox/c.csv"),
    ]
    done = outcome(1, meta={"lines": 2})
    failed = outcome(
        2, "failed", error_kind="corrupt", reason="bad", dest="/root/failed/b.txt", message="b.txt: bad"
    )
    journal.files.begin_place([done, failed])
    assert {r.id: r.state for r in journal.files.active()} == {1: "placing", 2: "placing", 3: "queued"}
    journal.files.finish_place([done, failed])

    page = journal.files.page()
    assert all(isinstance(f, FileRecord) for f in page)
    assert [f.id for f in page] == [3, 2, 1], "newest first"
    assert [f.name for f in journal.files.page(state="failed")] == ["b.txt"]
    assert [f.id for f in journal.files.page(limit=1, before=3)] == [2]
    assert [f.name for f in journal.files.page(q="c.")] == ["c.csv"]
    assert journal.files.page(q="%") == [], "LIKE wildcards in the query are literal"

    detail = journal.files.detail(1)
    assert isinstance(detail, FileDetail) and detail.meta == {"lines": 2}
    assert detail.file.state == "done" and detail.file.latency is not None
    assert [type(a) for a in detail.attempts] == [Attempt] and detail.attempts[0].outcome == "done"
    assert [e.type for e in detail.events] == ["arrived", "done"]
    assert journal.files.detail(99) is None

    assert journal.files.find_done_by_sha(f"{1:064x}", exclude_id=3) == 1
    assert journal.files.find_done_by_sha(f"{1:064x}", exclude_id=1) is None
    assert journal.files.failed_ids() == [2]
    assert journal.files.dests_in("/root/processed/text") == ["/root/processed/text/f1.txt"]


def test_files_retry_vanish_and_undecodable_names(journal):
    (fid, other, odd) = arrive(journal, "r.txt", "gone.txt", os.fsdecode(b"caf\xe9.txt"))
    journal.files.schedule_retry(outcome(fid, "failed", error_kind="io", reason="busy"), time.time() + 5)
    row = {r.id: r for r in journal.files.active()}[fid]
    assert row.state == "retrying" and row.attempts == 1 and row.error_kind == "io"
    assert [a.outcome for a in journal.files.attempts(fid)] == ["retry"]

    journal.files.mark_vanished([(other, "removed by its owner")])
    assert journal.files.detail(other).file.state == "vanished"

    raw_dest = os.fsdecode(b"/root/failed/caf\xe9.txt")
    place(journal, [outcome(odd, "failed", error_kind="corrupt", reason="x", dest=raw_dest)])
    assert journal.files.dests_in("/root/failed") == [raw_dest], "a BLOB destination is found again"
    moved = journal.files.request_retry([odd, fid, 12345])
    assert moved == [RetryMove(odd, os.fsdecode(b"caf\xe9.txt"), raw_dest, 1)], "only failed rows move"
    assert {r.id: r.state for r in journal.files.active()}[odd] == "queued"
    assert [e.type for e in journal.events.for_file(odd)][-1] == "retry_requested"
    assert "\ufffd" in journal.events.for_file(odd)[0].message, "messages show undecodable bytes as U+FFFD"


def test_events_cursor_and_long_poll(journal):
    journal.events.add("note", "one", data={"n": 1})
    first = journal.events.since(0)
    assert [type(e) for e in first] == [Event] and first[0].data == {"n": 1}
    assert journal.events.since(first[0].id) == []
    assert journal.events.wait(first[0].id, 0.05) is False

    threading.Timer(0.1, lambda: journal.events.add("note", "two")).start()
    t0 = time.monotonic()
    assert journal.events.wait(first[0].id, 5.0) is True
    assert time.monotonic() - t0 < 4.0, "woken by the commit, not by the timeout"
    assert [e.message for e in journal.events.since(first[0].id)] == ["two"]

    journal.events.interrupt_waiters()
    assert journal.events.wait(journal.last_event_id, 5.0) is False, "a stopping engine ends long polls"


def test_figures_and_reports(journal):
    now = time.time()
    ids = arrive(journal, "a.txt", "b.txt", "c.json", "d.txt", at=now - 1)
    place(journal, [outcome(ids[0]), outcome(ids[1], duration=0.2), outcome(ids[2], kind="json")])
    place(journal, [outcome(ids[3], "failed", error_kind="corrupt", reason="bad " + "x" * 100)])

    counts = journal.figures.counts()
    assert isinstance(counts, StateCounts)
    assert counts.counts["done"] == 3 and counts.counts["failed"] == 1 and counts.counts["queued"] == 0
    assert counts.kinds == {"text": {"done": 2, "failed": 1}, "json": {"done": 1}} and counts.total == 4
    assert journal.figures.finished_since(now - 60) == 4
    timings = journal.figures.recent_timings()
    assert isinstance(timings, Timings) and len(timings.duration) == 4
    assert all(latency >= 0.9 for latency in timings.latency)
    assert {type(f) for f in journal.figures.finished(now - 60)} == {Finished}
    buckets = journal.figures.duration_buckets((0.01, 0.1))
    assert all(isinstance(b, DurationBucket) for b in buckets)
    assert {(b.kind, b.index): b.count for b in buckets} == {("text", 0): 2, ("text", 2): 1, ("json", 0): 1}

    reports = journal.reports
    window = (now - 60, now + 60)
    assert sorted((c.kind, c.state, c.count) for c in reports.counts(*window)) == [
        ("json", "done", 1),
        ("text", "done", 2),
        ("text", "failed", 1),
    ]
    assert all(isinstance(c, KindCount) for c in reports.counts(*window))
    assert sorted(reports.timings(*window).duration) == [0.002, 0.002, 0.002, 0.2]
    (reason,) = reports.top_reasons(*window)
    assert isinstance(reason, FailureReason) and reason.count == 1 and len(reason.reason) == 80
    assert len(reports.finished_times(*window)) == 4
    assert [f.name for f in reports.recent_failures(now - 60)] == ["d.txt"]
    assert reports.recent_failures(now + 60) == []


def test_alerts_jobs_outbox_kv(journal):
    first = journal.alerts.add("files_failed", "warning", "2 failed", "a, b", count=2, data={"k": 1})
    second = journal.alerts.add("health", "critical", "down", "disk")
    alerts = journal.alerts.list()
    assert [type(a) for a in alerts] == [Alert, Alert] and [a.id for a in alerts] == [second, first]
    assert alerts[1].data == {"k": 1} and alerts[1].count == 2 and alerts[1].read is False
    assert journal.alerts.unread() == 2
    assert journal.alerts.mark_read(first) and not journal.alerts.mark_read(999)
    assert [a.id for a in journal.alerts.list(unread_only=True)] == [second]
    assert [a.id for a in journal.alerts.list(before=second)] == [first]

    journal.jobs.started("backup", 10.0)
    journal.jobs.finished("backup", 12.0, "failed", 2.0, "disk full")
    jobs = journal.jobs.all()
    assert jobs == {"backup": JobRecord("backup", 10.0, 12.0, "failed", 2.0, "disk full", runs=1, failures=1)}
    assert journal.events.since(0)[-1].type == "job_failed"

    item = journal.outbox.add("email", {"subject": "hi"})
    assert journal.outbox.next_due("email") is not None and journal.outbox.next_due("discord") is None
    assert journal.outbox.due(time.time() + 1, "discord") == [], "each channel reads only its own"
    (due,) = journal.outbox.due(time.time() + 1, "email")
    assert due == OutboxItem(item, "email", "pending", 0, None, {"subject": "hi"})
    journal.outbox.done(item, "pending", "refused", next_at=time.time() + 3600)
    assert journal.outbox.due(time.time() + 1, "email") == []
    journal.outbox.done(item, "sent")
    assert journal.outbox.items("email")[0].state == "sent" and journal.outbox.items("discord") == []
    assert journal.outbox.next_due("email") is None

    assert journal.kv.get("missing") is None
    journal.kv.set("k", "1")
    journal.kv.set("k", "2")
    assert journal.kv.get("k") == "2"


def test_a_closed_journal_refuses_writes(tmp_path):
    j = Journal(tmp_path / "journal.sqlite")
    j.close()
    with pytest.raises(JournalError, match="closed"):
        j.events.add("note", "late")
    j.close()  # twice is fine
