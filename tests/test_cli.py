"""The chute command as an operator runs it: real subprocesses, real signals."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from helpers import fresh_env, wait_for

CHUTE = [sys.executable, "-m", "chute.tui.cli"]


def chute(*args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CHUTE, *args], capture_output=True, text=True, cwd=cwd, env=fresh_env(), check=check
    )


def test_init_then_engine_until_sigterm_then_status(tmp_path):
    out = chute("init", str(tmp_path / "ws"))
    assert "chute.toml" in out.stdout
    config = tmp_path / "ws" / "chute.toml"
    text = config.read_text().replace("# min_age = 1.0", "min_age = 0.1")
    config.write_text(text)
    proc = subprocess.Popen(
        [*CHUTE, "engine", "-c", str(config), "--no-server", "--log-format", "json"],
        stderr=subprocess.PIPE,
        text=True,
        env=fresh_env(),
    )
    try:
        (tmp_path / "ws" / "inbox" / "a.txt").write_text("hello\n")
        (tmp_path / "ws" / "inbox" / "b.json").write_text("{")
        wait_for(lambda: not any((tmp_path / "ws" / "inbox").iterdir()), what="inbox drained")
        time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert any("stopped cleanly" in line["message"] for line in lines)
    assert all({"ts", "level", "logger", "message"} <= set(line) for line in lines)

    status = json.loads(chute("status", "-c", str(config), "--json").stdout)
    assert status["running"] is False
    assert status["counts"]["done"] == 1 and status["counts"]["failed"] == 1

    human = chute("status", "-c", str(config)).stdout
    assert "not running" in human and "b.json" in human and "invalid JSON" in human


def test_retry_offline_runs_at_next_start(tmp_path):
    root = tmp_path / "r"
    root.mkdir()
    proc = subprocess.Popen(
        [*CHUTE, "engine", "--root", str(root), "--no-server"], env=fresh_env(), stderr=subprocess.DEVNULL
    )
    try:
        wait_for(lambda: (root / "inbox").exists())
        (root / "inbox" / "x.json").write_text("{")
        wait_for(
            lambda: json.loads(chute("status", "--root", str(root), "--json").stdout)["counts"]["failed"] == 1
        )
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    failed = next((root / "failed").rglob("x.json"))
    failed.write_text('{"fixed": true}')
    out = chute("retry", "--root", str(root), "1")
    assert "1 file(s) queued" in out.stdout
    out = chute("retry", "--root", str(root), "42", check=False)
    assert out.returncode == 1 and "#42: not found or not failed" in out.stderr
    proc = subprocess.Popen(
        [*CHUTE, "engine", "--root", str(root), "--no-server"], env=fresh_env(), stderr=subprocess.DEVNULL
    )
    try:
        wait_for(
            lambda: json.loads(chute("status", "--root", str(root), "--json").stdout)["counts"]["done"] == 1
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert not failed.exists()


def test_bad_config_is_a_message_not_a_traceback(tmp_path):
    config = tmp_path / "chute.toml"
    config.write_text("[pipeline]\nworkers = 'many'\n")
    out = chute("engine", "-c", str(config), check=False)
    assert out.returncode == 2
    assert "pipeline.workers: must be a whole number (got 'many')" in out.stderr
    assert "Traceback" not in out.stderr
    out = chute("engine", cwd=tmp_path / "..", check=False)
    assert out.returncode == 2 and "chute init" in out.stderr
    out = chute("status", "--root", str(tmp_path / "never"), check=False)
    assert out.returncode == 2 and "not a directory" in out.stderr and "chute init" in out.stderr


def test_python_dash_m_engine_help():
    out = subprocess.run([sys.executable, "-m", "chute.engine", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--no-server" in out.stdout


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_retry_while_the_engine_runs_goes_through_the_api(tmp_path):
    root = tmp_path / "live"
    port = free_port()
    config = tmp_path / "chute.toml"
    config.write_text(f'[paths]\nroot = "live"\n[server]\nport = {port}\n[watcher]\nmin_age = 0.1\n')
    proc = subprocess.Popen(
        [*CHUTE, "engine", "-c", str(config)], env=fresh_env(), stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for(lambda: (root / "state" / "token").exists())
        (root / "inbox" / "x.json").write_text("{")
        wait_for(
            lambda: json.loads(chute("status", "-c", str(config), "--json").stdout)["counts"]["failed"] == 1
        )
        assert json.loads(chute("status", "-c", str(config), "--json").stdout)["running"] is True
        next((root / "failed").rglob("x.json")).write_text("[1, 2]")
        out = chute("retry", "-c", str(config), "--all-failed")
        assert "1 file(s) sent back through the running engine" in out.stdout
        wait_for(
            lambda: json.loads(chute("status", "-c", str(config), "--json").stdout)["counts"]["done"] == 1
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    token = (root / "state" / "token").read_text().strip()
    assert f"API on http://127.0.0.1:{port}" in err
    assert token not in err, "the token is never logged (stderr is not a terminal here)"
