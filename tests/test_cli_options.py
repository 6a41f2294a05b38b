"""The `chute` command as operators use other tools: options anywhere, first runs, pipes, the URL
file, config lookup, completion. Mostly in-process (cli.main) against real engines and folders."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import drop, fresh_env, served_engine, settled, test_config, wait_for

from chute.engine import Engine, endpoint
from chute.engine.config import Config, load, locate
from chute.tui import cli

CHUTE = [sys.executable, "-m", "chute.tui.cli"]


def run(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def root_with_failure(tmp_path) -> Path:
    """A root whose journal holds one done and one failed file (no engine running)."""
    root = tmp_path / "root"
    engine = Engine(test_config(root))
    engine.start()
    drop(engine, "good.txt", b"hello\n")
    drop(engine, "bad.json", b"{")
    settled(engine, "good.txt")
    settled(engine, "bad.json")
    engine.stop()
    return root


def test_shared_options_work_before_and_after_the_subcommand(capsys, tmp_path, root_with_failure):
    root = root_with_failure
    config = tmp_path / "c.toml"
    config.write_text(f'[paths]\nroot = "{root}"\n')
    placements = [
        ["--root", root, "status", "--json"],
        ["status", "--root", root, "--json"],
        ["status", "--json", "--root", root],
        ["-c", config, "status", "--json"],
        ["status", "--json", "--config", config],
        ["--root", tmp_path / "not-this-one", "status", "--json", "--root", root],  # the later one wins
    ]
    for argv in placements:
        code, out, _ = run(capsys, *argv)
        assert code == 0, argv
        assert json.loads(out)["counts"]["failed"] == 1, argv
    code, _, err = run(capsys, "--root", root, "status", "-c", config)
    assert code == 2 and "not both" in err


def test_readonly_is_never_lost_wherever_it_is_put(capsys, root_with_failure):
    root = root_with_failure
    for argv in (["--readonly", "retry", "1"], ["retry", "--readonly", "1"], ["retry", "1", "--readonly"]):
        code, out, err = run(capsys, *argv, "--root", root)
        assert code == 2 and "--readonly refuses `retry`" in err, argv
    for argv in (["--readonly", "backup"], ["report", "--readonly"], ["--readonly", "engine"]):
        code, _, err = run(capsys, *argv, "--root", root)
        assert code == 2 and "--readonly refuses" in err, argv
    code, out, _ = run(capsys, "--root", root, "--readonly", "status", "--json")
    assert code == 0 and json.loads(out)["counts"]["failed"] == 1  # the retries above changed nothing
    assert not list((root / "backups").glob("*.tar.gz")) and not list((root / "archive").glob("report-*"))
    parser = cli.build_parser()
    for argv in (
        ["--readonly", "attach", "http://h:1"],
        ["attach", "--readonly", "http://h:1"],
        ["attach", "http://h:1", "--readonly"],
        ["--readonly", "demo"],
        ["--readonly"],
    ):
        assert parser.parse_args(argv).readonly is True, argv


def test_one_shots_find_an_engine_on_any_port_through_the_url_file(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("CHUTE_TOKEN", raising=False)
    root = tmp_path / "served"
    engine = served_engine(root)  # an ephemeral port, not the default 8765
    try:
        assert endpoint.lookup(root / "state") == engine.server.url
        drop(engine, "x.json", b"{")
        record = settled(engine, "x.json")
        next((root / "failed").rglob("x.json")).write_text("[1]")
        code, out, _ = run(capsys, "retry", record.id, "--root", root)
        assert code == 0 and f"sent back through the running engine at {engine.server.url}" in out
        wait_for(lambda: engine.file(record.id).file.state == "done", what="the retried file done")
        code, out, _ = run(capsys, "--root", root, "backup")
        assert code == 0 and "full backup" in out and str(root / "backups") in out
        # --url wins over the file: a port nobody listens on is what gets called
        with pytest.raises(SystemExit, match=r"API at http://127\.0\.0\.1:9 did not answer"):
            run(capsys, "retry", "--all-failed", "--root", root, "--url", "http://127.0.0.1:9")
    finally:
        engine.stop()
    # The same root under an engine without an API: the file is stale, one-shots work on the root.
    quiet = Engine(test_config(root))
    quiet.start()
    try:
        assert endpoint.lookup(root / "state") is None
        code, out, err = run(capsys, "backup", "--root", root)
        assert code == 0 and "incremental backup" in out, err
        code, out, err = run(capsys, "report", "--hours", "2", "--root", root)
        assert code == 0, err
        saved = [Path(p) for p in out.rsplit("saved ", 1)[1].strip().split(", ")]
        assert all(p.is_file() and p.parent == root / "archive" for p in saved)
        doc = json.loads(next(p for p in saved if p.suffix == ".json").read_text())
        assert abs(doc["until"] - doc["since"] - 7200) < 1
        code, _, err = run(capsys, "retry", "--all-failed", "--root", root)
        assert code == 1 and "serves no API" in err
    finally:
        quiet.stop()


def test_first_run_cases(capsys, tmp_path):
    ws = tmp_path / "ws"
    code, out, _ = run(capsys, "init", ws)
    assert code == 0 and out.startswith("wrote ")
    code, out, _ = run(capsys, "--root", ws, "init")
    assert code == 0 and out.startswith("kept the existing") and "not overwritten" in out
    code, out, _ = run(capsys, "status", "--json", "--root", ws)  # no journal yet: zeros, not an error
    assert code == 0 and set(json.loads(out)["counts"].values()) == {0}
    code, out, _ = run(capsys, "-c", ws / "chute.toml", "status")
    assert code == 0 and "done: 0  failed: 0" in out
    assert run(capsys, "files", "--root", ws)[:2] == (0, "")
    assert not (ws / "state" / "journal.sqlite").exists()  # reading created nothing
    typo = tmp_path / "typo" / "x"
    for argv in (["engine", "--root", typo, "--no-server"], ["status", "--root", typo]):
        code, _, err = run(capsys, *argv)
        assert code == 2 and "chute init" in err
    assert not (tmp_path / "typo").exists()
    with pytest.raises(SystemExit) as exc:
        run(capsys, "files", "--state", "bogus", "--root", ws)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "'bogus'" in err and all(s in err for s in ("done", "failed", "queued", "duplicate"))


def test_a_closed_pipe_ends_quietly(tmp_path, root_with_failure):
    proc = subprocess.Popen(
        [*CHUTE, "files", "--root", str(root_with_failure)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=fresh_env(),
    )
    proc.stdout.close()  # the reader (`head`) has gone before chute writes a byte
    err = proc.stderr.read().decode()
    assert proc.wait(30) == 141
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err


def test_config_lookup_order_and_check(capsys, tmp_path, monkeypatch):
    for name in ("a", "b", "c", "cwd"):
        (tmp_path / name).mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.delenv("CHUTE_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    (tmp_path / "xdg" / "chute").mkdir(parents=True)
    xdg = tmp_path / "xdg" / "chute" / "chute.toml"
    xdg.write_text(f'name = "xdg"\n[paths]\nroot = "{tmp_path / "a"}"\n')
    assert locate().name == "xdg"
    env_config = tmp_path / "env.toml"
    env_config.write_text(f'name = "env"\n[paths]\nroot = "{tmp_path / "b"}"\n[log]\nlevel = "debug"\n')
    monkeypatch.setenv("CHUTE_CONFIG", str(env_config))
    assert locate().name == "env" and locate().log.level == "DEBUG"  # any case, stored canonical
    (tmp_path / "cwd" / "chute.toml").write_text('name = "here"\n')
    assert locate().name == "here"
    code, out, _ = run(capsys, "config", "check")
    assert code == 0 and str(tmp_path / "cwd" / "chute.toml") in out and "OK" in out
    (tmp_path / "cwd" / "chute.toml").write_text('[discord]\nenabled = true\ngroup_wait = "soon"\n')
    code, _, err = run(capsys, "config", "check")
    assert code == 2 and "discord.group_wait: must be a number" in err
    (tmp_path / "cwd" / "chute.toml").unlink()
    monkeypatch.setenv("CHUTE_CONFIG", str(tmp_path / "missing.toml"))
    code, _, err = run(capsys, "status")
    assert code == 2 and "missing.toml" in err  # an explicit CHUTE_CONFIG that is not there is an error


def test_init_writes_every_default_commented_out_with_units(tmp_path):
    from chute.engine.config import SECTIONS, default_toml

    text = default_toml()
    settings = [line for line in text.splitlines() if "=" in line and not line.startswith("#")]
    assert settings == [], "a written default would pin it across upgrades"
    config_file = tmp_path / "chute.toml"
    config_file.write_text(text)
    assert load(config_file) == load(config_file).replace()  # loads, and is all defaults:
    assert load(config_file).watcher == Config.for_root(tmp_path).watcher
    import dataclasses

    for section, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else None
            if isinstance(default, int | float) and not isinstance(default, bool):
                assert f"# {f.name}: (" in text, f"{section}.{f.name} has no unit in its comment"


def test_completion_scripts_come_from_the_parser(capsys, tmp_path):
    scripts = {}
    for shell in ("bash", "zsh", "fish"):
        code, out, _ = run(capsys, "completion", shell)
        assert code == 0 and "retry" in out and "readonly" in out and "config" in out
        scripts[shell] = tmp_path / f"chute.{shell}"
        scripts[shell].write_text(out)
    probe = (
        f'source {scripts["bash"]}; t() {{ COMP_WORDS=("$@"); COMP_CWORD=$((${{#COMP_WORDS[@]}}-1)); '
        '_chute; echo "${COMPREPLY[*]}"; }; t chute re; t chute config ""; t chute files --state ""; '
        "t chute --root /x status --j; t chute completion f"
    )
    lines = subprocess.run(
        ["bash", "-c", probe], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert lines[0].split() == ["restore", "report", "retry"]
    assert lines[1] == "check"
    assert "failed" in lines[2].split() and "done" in lines[2].split()
    assert lines[3] == "--json" and lines[4] == "fish"
    for shell in ("zsh", "fish"):  # syntax-checked by the shell itself where it is installed
        binary = subprocess.run(["which", shell], capture_output=True, text=True).stdout.strip()
        if binary:
            check = subprocess.run([binary, "-n", str(scripts[shell])], capture_output=True, text=True)
            assert check.returncode == 0, check.stderr


def test_each_failure_is_logged_at_warning_with_a_dated_line(tmp_path):
    root = tmp_path / "logs"
    root.mkdir()
    proc = subprocess.Popen(
        [*CHUTE, "engine", "--root", str(root), "--no-server", "--log-level", "debug"],
        stderr=subprocess.PIPE,
        text=True,
        env=fresh_env(),
    )
    try:
        wait_for(lambda: (root / "inbox").exists())
        (root / "inbox" / "broken.json").write_text("{")
        (root / "inbox" / "fine.txt").write_text("ok\n")
        wait_for(lambda: len(list((root / "failed").rglob("*.error.txt"))) == 1, what="broken.json failed")
        wait_for(lambda: len(list((root / "processed").rglob("*.meta.json"))) == 1, what="fine.txt done")
        time.sleep(0.2)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    stamp = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}"
    failure = [line for line in err.splitlines() if "broken.json" in line]
    assert len(failure) == 1, err
    assert re.match(
        stamp + r" WARNING chute\.files: file #\d+ 'broken\.json' failed: corrupt: invalid JSON", failure[0]
    ), failure[0]
    success = [line for line in err.splitlines() if "fine.txt" in line]
    assert len(success) == 1 and re.match(
        stamp + r" DEBUG   chute\.files: file #\d+ 'fine\.txt' done as text", success[0]
    )


def test_job_outcomes_are_logged_at_info(caplog, make_engine):
    engine = make_engine()
    with caplog.at_level("INFO", logger="chute.jobs"):
        engine.run_job("report")
        wait_for(lambda: any(r.name == "chute.jobs" for r in caplog.records), what="the job's log line")
    (line,) = [r for r in caplog.records if r.name == "chute.jobs"]
    assert line.levelname == "INFO" and line.getMessage().startswith("job report ok in ")


def test_a_backup_by_hand_and_the_engines_own_never_overlap(capsys, make_engine):
    from chute.engine.joblock import exclusive

    engine = make_engine()  # no API: `chute backup` works on the root itself
    root = engine.config.paths.root
    with exclusive(engine.config.paths.state, "backup"):  # as a backup in another process holds it
        code, _, err = run(capsys, "backup", "--root", root)
        assert code == 1 and "a backup is already running" in err
        engine.run_job("backup")
        job = wait_for(lambda: next((j for j in engine.schedules() if j.name == "backup" and j.runs), None))
        assert job.last_outcome == "failed" and "already running" in job.last_message
    assert not list((root / "backups").glob("*.tar.gz"))
    assert run(capsys, "backup", "--root", root)[0] == 0
    assert len(list((root / "backups").glob("*.tar.gz"))) == 1
