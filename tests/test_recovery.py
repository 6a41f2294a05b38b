"""Recovery from each instant a crash can strike, built step by step with the pipeline's own
parts, then repaired by starting a real engine on the same root."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from helpers import originals, test_config, wait_for

from chute.engine import Engine
from chute.engine.journal import Arrival, Journal
from chute.engine.pipeline import Pipeline, _Done
from chute.engine.placement import ERROR_SUFFIX, META_SUFFIX
from chute.engine.processors import Registry
from chute.engine.watcher import Candidate


def half_run(root, name: str, data: bytes, stop_after: str) -> None:
    """Run one file through the pipeline by hand and 'crash' after `stop_after`."""
    config = test_config(root)
    config.paths.make()
    src = config.paths.inbox / name
    src.write_bytes(data)
    journal = Journal(config.paths.state / "journal.sqlite")
    pipeline = Pipeline(config, journal, Registry.default())
    os.makedirs(pipeline.work_dir, exist_ok=True)
    os.makedirs(pipeline.tmp_dir, exist_ok=True)
    try:
        if stop_after == "claim-journaled":
            st = os.lstat(src)
            journal.files.claim([Arrival(name, str(src), st.st_ino, st.st_size, time.time())])
            return
        st = os.lstat(src)
        (item,) = pipeline._claim(
            [Candidate(str(src), name, st.st_ino, st.st_size, st.st_mtime_ns, time.time())]
        )
        if stop_after == "claimed":
            return
        done: _Done = pipeline._process(item)
        o = done.outcome
        folder = pipeline.placer.folder(o.target_state, o.kind, time.time())
        suffix = ERROR_SUFFIX if o.target_state == "failed" else META_SUFFIX
        o.dest = pipeline.placer.reserve(folder, name, (suffix, *done.outputs))
        journal.files.begin_place([o])
        if stop_after == "placing-journaled":
            return
        for out_suffix, out in done.outputs.items():
            os.rename(out, o.dest + out_suffix)
        with open(o.dest + suffix, "w") as f:
            f.write('{"half": ')  # a sidecar cut off mid-write
        if stop_after == "sidecar-half-written":
            return
        # The real code finishes the sidecar before it moves the original.
        with open(o.dest + suffix, "w") as f:
            f.write('{"complete": "sidecar written before the original moved"}')
        os.rename(os.path.join(pipeline.work_dir, str(o.id)), o.dest)
        assert stop_after == "original-moved"
    finally:
        journal.close()


@pytest.mark.parametrize(
    "stop_after",
    ["claim-journaled", "claimed", "placing-journaled", "sidecar-half-written", "original-moved"],
)
@pytest.mark.parametrize(
    "name, data, state", [("data.csv", b"a,b\n1,2\n", "done"), ("bad.json", b"{", "failed")]
)
def test_restart_repairs_every_crash_point(tmp_path, stop_after, name, data, state):
    root = tmp_path / "root"
    half_run(root, name, data, stop_after)
    engine = Engine(test_config(root))
    engine.start()
    try:
        wait_for(lambda: engine.snapshot().counts[state] == 1, what=f"{name} {state} after restart")
        assert engine.wait_idle(10)
        (rec,) = engine.files().items
        assert rec.state == state and rec.name == name
        placed = originals(root / "processed") + originals(root / "failed")
        assert [str(p) for p in placed] == [rec.dest], "exactly one placement, under the original name"
        sidecar = rec.dest + (META_SUFFIX if state == "done" else ERROR_SUFFIX)
        text = Path(sidecar).read_text()
        assert text != '{"half": ' and len(text) > 20, "the cut-off sidecar was replaced by a whole one"
        if state == "done":
            assert os.path.exists(rec.dest + ".normalized.csv")
        assert list((root / "state" / "work").iterdir()) == []
        assert list((root / "inbox").iterdir()) == []
        events = [e.type for e in engine.events(since=0)]
        assert "recovered" in events
    finally:
        engine.stop()
