"""A corpus of bad inputs dropped into a real inbox: each ends where it should, with a reason,
and the engine keeps running."""

import os
import time
from pathlib import Path

from helpers import drop, record, settled, wait_for

from chute.engine import samples

CORPUS = {
    # name: (bytes, expected state, expected error kind)
    "empty.txt": (b"", "failed", "empty"),
    "binary.txt": (samples.binary(), "failed", "binary"),
    "truncated.png": (samples.png_truncated(), "failed", "corrupt"),
    "really-a-png.jpg": (samples.png(), "done", None),
    "locked.pdf": (samples.pdf_encrypted(), "failed", "encrypted"),
    "garbage.pdf": (samples.pdf_corrupt(), "failed", "corrupt"),
    "ragged.csv": (samples.csv_ragged(), "failed", "corrupt"),
    "고객목록.csv": (samples.csv_cp949(), "done", None),
    "utf16.csv": (samples.csv_utf16(), "done", None),
    "my monthly report.txt": (b"spaces in the name\n", "done", None),
    "line\nbreak.txt": (b"a newline in the name\n", "done", None),
    "UPPER.JSON": (samples.json_good(), "done", None),
    "archive.zip": (b"PK\x03\x04" + bytes(range(256)), "failed", "unsupported"),
    "x" * 240 + ".txt": (b"a very long name\n", "done", None),
}


def test_corpus_of_bad_inputs(engine, tmp_path):
    inbox = engine.config.paths.inbox
    for name, (data, _, _) in CORPUS.items():
        drop(engine, name, data)
    os.mkfifo(inbox / "a-fifo")
    (inbox / "a-directory").mkdir()
    (tmp_path / "target.txt").write_text("outside the inbox\n")
    os.symlink(tmp_path / "target.txt", inbox / "a-symlink.txt")

    for name, (_, state, kind) in CORPUS.items():
        rec = settled(engine, name)
        assert (rec.state, rec.error_kind) == (state, kind), (name, rec.reason)
        assert os.path.exists(rec.dest), name
        if state == "failed":
            assert rec.reason and len(rec.reason) > 10, name
            assert Path(rec.dest + ".error.txt").read_text().count(rec.reason) == 1
        else:
            assert os.path.exists(rec.dest + ".meta.json")

    assert (
        engine.file(record(engine, "really-a-png.jpg").id).meta["note"] == "named .jpg but the content is png"
    )
    long_rec = record(engine, "x" * 240 + ".txt")
    assert len(os.path.basename(long_rec.dest).encode()) + len(".meta.json") <= 255

    # Non-regular entries are reported once and left alone: never opened, never moved.
    def skipped():
        return {e.data.get("name") for e in engine.events(since=0) if e.type == "skipped"}

    wait_for(lambda: {"a-fifo", "a-directory", "a-symlink.txt"} <= skipped(), what="skipped events")
    reasons = {e.data["name"]: e.message for e in engine.events(since=0) if e.type == "skipped"}
    assert "FIFO" in reasons["a-fifo"] and "directory" in reasons["a-directory"]
    assert "symbolic link" in reasons["a-symlink.txt"]
    assert sorted(p.name for p in inbox.iterdir()) == ["a-directory", "a-fifo", "a-symlink.txt"]
    assert (tmp_path / "target.txt").read_text() == "outside the inbox\n"

    # ...and the engine is still up and working.
    time.sleep(0.3)
    drop(engine, "after.txt", b"still alive\n")
    assert settled(engine, "after.txt").state == "done"
    snap = engine.snapshot()
    assert snap.watcher_alive
    assert snap.counts["done"] + snap.counts["failed"] == len(CORPUS) + 1


def test_non_utf8_names_are_handled(engine):
    inbox = engine.config.paths.inbox
    raw = os.fsencode(str(inbox)) + b"/caf\xe9-latin1.txt"
    with open(raw, "wb") as f:
        f.write(b"a name that is not UTF-8\n")
    name = os.fsdecode(b"caf\xe9-latin1.txt")
    rec = settled(engine, name)
    assert rec.state == "done"
    assert os.path.exists(os.fsencode(rec.dest))


def test_undecodable_names_are_never_reused_after_their_files_are_removed(make_engine, tmp_path):
    """The journal keeps owning a placed name (even a BLOB one) after retention removes the file."""
    engine = make_engine()
    raw = os.fsencode(str(engine.config.paths.inbox)) + b"/caf\xe9.txt"
    with open(raw, "wb") as f:
        f.write(b"one\n")
    first = settled(engine, os.fsdecode(b"caf\xe9.txt"))
    os.unlink(os.fsencode(first.dest))
    os.unlink(os.fsencode(first.dest + ".meta.json"))
    engine.stop()
    again = make_engine()
    with open(raw, "wb") as f:
        f.write(b"two\n")
    wait_for(lambda: again.snapshot().counts["done"] == 2)
    second = again.files().items[0]
    assert second.dest != first.dest and second.dest.endswith("caf\udce9 (1).txt")
