"""The package as users get it: a wheel built from a clean clone, installed beside a distribution
that ships its own `engine` and `tui`; the sdist's own test suite; the operations files."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import httpx
import pytest
from helpers import drop, served_engine, settled, wait_for

REPO = Path(__file__).resolve().parent.parent
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "-q"]


def sh(*cmd, cwd: Path | None = None) -> subprocess.CompletedProcess:
    # Never from the repository: `python -c` puts the cwd first on sys.path, and its engine/ and
    # tui/ folders would stand in for the installed ones.
    out = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, cwd=cwd or "/")
    assert out.returncode == 0, f"{cmd} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}"
    return out


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    """The committed tree, as CI sees it (no stray build files, no egg-info)."""
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout (an unpacked sdist): nothing to clone")
    dest = tmp_path_factory.mktemp("clone") / "chute"
    sh("git", "clone", "-q", "--depth", "1", f"file://{REPO}", dest)
    return dest


def _dummy_wheel(where: Path) -> Path:
    """A distribution that ships top-level `engine` and `tui` packages, as some do (written by
    hand: a wheel is a zip with three metadata files)."""
    wheel = where / "dummy_engine-1.0-py3-none-any.whl"
    info = "dummy_engine-1.0.dist-info"
    files = {
        "engine/__init__.py": "WHO = 'dummy engine'\n",
        "tui/__init__.py": "WHO = 'dummy tui'\n",
        f"{info}/METADATA": "Metadata-Version: 2.1\nName: dummy-engine\nVersion: 1.0\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    with zipfile.ZipFile(wheel, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
        z.writestr(f"{info}/RECORD", "".join(f"{name},,\n" for name in files) + f"{info}/RECORD,,\n")
    return wheel


def _fresh_venv(where: Path) -> Path:
    """A new venv whose third-party packages are this venv's, minus chute itself and textual: the
    default install (`pip install chute`, no console extra) without downloading anything."""
    venv = where / "venv"
    sh(sys.executable, "-m", "venv", "--without-pip", venv)
    site = Path(sysconfig.get_paths()["purelib"])
    deps = where / "deps"
    deps.mkdir()
    for entry in site.iterdir():
        if re.match(r"(chute|__editable__|textual|engine|tui)\b", entry.name, re.IGNORECASE):
            continue
        (deps / entry.name).symlink_to(entry)
    python = venv / "bin" / "python"
    fresh_site = sh(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip()
    Path(fresh_site, "_reused_deps.pth").write_text(f"{deps}\n")
    return venv


def test_the_wheel_installs_beside_a_package_that_ships_engine_and_tui(clone, tmp_path):
    sh(*PIP, "wheel", "--no-deps", "--no-build-isolation", "-w", tmp_path / "dist", clone)
    wheel = next((tmp_path / "dist").glob("chute-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if n.split("/")[0] in ("engine", "tui", "tests")]
    assert "chute/tui/chute.tcss" in names and "chute/engine/endpoint.py" in names
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "License-Expression: MIT" in metadata and "Provides-Extra: console" in metadata
    assert "Requires-Dist: textual" in metadata and 'extra == "console"' in metadata

    venv = _fresh_venv(tmp_path)
    dummy = _dummy_wheel(tmp_path)
    sh(*PIP, "--python", venv / "bin" / "python", "install", "--no-deps", "--no-index", dummy, wheel)
    chute = venv / "bin" / "chute"
    assert sh(chute, "--version").stdout.strip() == "chute 0.1.0"
    assert sh(
        venv / "bin" / "python", "-c", "import engine, tui; print(engine.WHO, tui.WHO)"
    ).stdout.split() == [
        "dummy",
        "engine",
        "dummy",
        "tui",
    ]
    root = tmp_path / "root"
    sh(chute, "init", root)
    assert "engine not running" in sh(chute, "status", "--root", root).stdout
    assert sh(venv / "bin" / "python", "-m", "chute.engine", "--help").returncode == 0

    # No console extra: the console says how to get it; the demo still runs, as text.
    attach = subprocess.run([chute, "attach", "127.0.0.1:9"], capture_output=True, text=True, cwd=tmp_path)
    assert attach.returncode == 3 and "pip install 'chute[console]'" in attach.stderr
    demo = subprocess.Popen(
        [chute, "demo", "--dir", str(tmp_path / "demo")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        first = demo.stdout.readline()
        assert first.startswith("demo workspace"), first or demo.stderr.read()
        assert "done" in demo.stdout.readline()  # a status line from the running demo
    finally:
        demo.send_signal(signal.SIGINT)
        _, err = demo.communicate(timeout=60)
    assert demo.returncode == 130 and "chute[console]" in err and "Traceback" not in err


def test_the_sdist_carries_a_suite_that_collects(clone, tmp_path):
    sdist_dir = tmp_path / "sdist"
    sh(
        sys.executable,
        "-c",
        f"from setuptools import build_meta; build_meta.build_sdist({str(sdist_dir)!r})",
        cwd=clone,
    )
    archive = next(sdist_dir.glob("chute-*.tar.gz"))
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    unpacked = next((tmp_path / "unpacked").iterdir())
    shipped = {p.relative_to(unpacked / "tests") for p in (unpacked / "tests").rglob("*") if p.is_file()}
    ours = {p.relative_to(clone / "tests") for p in (clone / "tests").rglob("*") if p.is_file()}
    assert ours <= shipped, f"missing from the sdist: {sorted(map(str, ours - shipped))[:10]}"
    for path in ("LICENSE", "contrib/systemd/chute.service", "contrib/grafana/chute-dashboard.json"):
        assert (unpacked / path).is_file(), path
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=unpacked,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    summary = out.stdout.strip().splitlines()[-1]
    assert out.returncode == 0 and re.match(r"\d+ tests collected in ", summary), out.stdout[-3000:]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_systemd_unit_verifies(tmp_path):
    unit = (REPO / "contrib" / "systemd" / "chute.service").read_text()
    assert "User=chute" in unit and "RestartPreventExitStatus=2" in unit
    chute = Path(sys.executable).parent / "chute"  # the unit's /opt/chute path, here
    (tmp_path / "chute.service").write_text(unit.replace("/opt/chute/bin/chute", str(chute)))
    out = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / "chute.service")], capture_output=True, text=True
    )
    assert out.returncode == 0 and not out.stderr.strip(), out.stderr


def _exposed_names(text: str) -> set[str]:
    """Every series name /metrics can carry, from its # TYPE lines (present even before data)."""
    names = set()
    suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created")}
    for family, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.MULTILINE):
        names.add(family)
        names.update(family + s for s in suffixes.get(kind, ()))
    return names


def test_the_dashboard_and_the_readme_name_metrics_that_exist(tmp_path):
    engine = served_engine(tmp_path / "m")
    try:
        drop(engine, "a.txt", b"x\n")
        settled(engine, "a.txt")
        wait_for(lambda: httpx.get(engine.server.url + "/health/live").status_code == 200)
        exposed = _exposed_names(httpx.get(engine.server.url + "/metrics").text)
    finally:
        engine.stop()
    assert "chute_files" in exposed and "chute_http_requests_total" in exposed

    dashboard = json.loads((REPO / "contrib" / "grafana" / "chute-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    exprs.append(next(v for v in dashboard["templating"]["list"] if v["name"] == "instance")["definition"])
    assert len(exprs) >= 10
    used = {name for expr in exprs for name in re.findall(r"\bchute_[a-z0-9_]+", expr)}
    assert used and not used - exposed, f"the dashboard queries metrics /metrics lacks: {used - exposed}"

    readme = (REPO / "README.md").read_text()
    listed = set(re.findall(r"`(chute_[a-z0-9_]+)", readme))
    assert len(listed) >= 8 and not listed - exposed, (
        f"the README names metrics /metrics lacks: {listed - exposed}"
    )
