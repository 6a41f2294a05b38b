"""A file written slowly by another process, with pauses longer than min_age while it holds the
file open, is taken once and complete."""

import subprocess
import sys

from helpers import settled

WRITER = r"""
import sys, time
path, chunks, pause = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
with open(path, "wb") as f:
    for i in range(chunks):
        f.write(f"chunk {i:04d} ".encode() * 100 + b"\n")
        f.flush()
        time.sleep(pause)
"""


def test_slow_writer_taken_once_complete(engine):
    path = engine.config.paths.inbox / "slow.log"
    chunks, pause = 8, 0.5  # 4 s of writing, each pause 2.5x min_age
    subprocess.run([sys.executable, "-c", WRITER, str(path), str(chunks), str(pause)], check=True)
    rec = settled(engine, "slow.log")
    assert rec.state == "done"
    assert rec.size == chunks * (len("chunk 0000 ") * 100 + 1)
    assert engine.file(rec.id).meta["lines"] == chunks
    assert engine.snapshot().total == 1


def test_slow_writer_seen_only_by_scan_waits_for_close(make_engine):
    """Even when the open event is lost (overflow), the file is taken only once it settles."""
    engine = make_engine(watcher={"min_age": 0.3, "scan_interval": 0.5})
    path = engine.config.paths.inbox / "steady.log"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), "12", "0.1"])
    engine.watcher._overflowed()  # forget open tracking, as after a real overflow
    proc.wait()
    rec = settled(engine, "steady.log")
    assert rec.size == 12 * (len("chunk 0000 ") * 100 + 1)
    assert engine.snapshot().total == 1
