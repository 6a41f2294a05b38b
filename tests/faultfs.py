"""Doing the bad thing for real: small filesystems that fill up, folders an engine may not write.

- `small_fs(folder, size)`: a tmpfs of `size` bytes mounted on `folder` (root can mount). Where
  the tests do not run as root, `in_namespace(request)` runs the test again inside a user and
  mount namespace (`unshare -Urm`), where the test is root of its own mounts.
- `fill(folder)` writes a filler file until the filesystem says ENOSPC; deleting it frees the space.
- `unprivileged(argv)`: run an engine that permission bits apply to. Root bypasses them, so as
  root the engine runs without the capabilities that do (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH,
  CAP_FOWNER); as any other user it runs as that user.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

IN_NAMESPACE = "CHUTE_TEST_IN_NAMESPACE"


@functools.cache
def can_mount() -> bool:
    """Whether this process may mount a tmpfs (root, and not in a container that forbids it)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    probe = tempfile.mkdtemp(prefix="chute-mount-probe-")
    try:
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k", "chute-probe", probe], capture_output=True
        )
        if mounted.returncode == 0:
            subprocess.run(["umount", probe], capture_output=True)
        return mounted.returncode == 0
    finally:
        os.rmdir(probe)


def in_namespace(request: pytest.FixtureRequest) -> bool:
    """Run this test in a user+mount namespace when it cannot mount here; True if it was run so.

    The caller returns at once when True: the child pytest did the test, and its result is ours.
    """
    if can_mount():
        return False
    if os.environ.get(IN_NAMESPACE) or shutil.which("unshare") is None:
        pytest.skip("cannot mount a small filesystem here (not root, no user namespaces)")
    probe = subprocess.run(["unshare", "-Urm", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("cannot mount a small filesystem here (user namespaces are disabled)")
    env = dict(os.environ, **{IN_NAMESPACE: "1"})
    argv = ["unshare", "-Urm", sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    done = subprocess.run(
        [*argv, request.node.nodeid], cwd=request.config.rootpath, env=env, capture_output=True
    )
    assert done.returncode == 0, done.stdout.decode()[-4000:] + done.stderr.decode()[-2000:]
    return True


@contextlib.contextmanager
def small_fs(folder: Path, size: int) -> Iterator[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "chute-test", str(folder)], check=True
    )
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path, leave: int = 0) -> Path:
    """Fill the filesystem of `folder` (but `leave` bytes); returns the filler to delete later."""
    filler = folder / ".filler"
    block = b"\1" * 65536
    with open(filler, "wb", buffering=0) as f:
        try:
            while shutil.disk_usage(folder).free > leave:
                f.write(block[: max(4096, min(len(block), shutil.disk_usage(folder).free - leave))])
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    return filler


def unprivileged(argv: list[str]) -> list[str]:
    """`argv` run so that permission bits apply to it (see the module's docstring)."""
    if os.geteuid() != 0:
        return argv
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: cannot run an engine that permissions apply to")
    drop = "-dac_override,-dac_read_search,-fowner,-linux_immutable"
    return ["setpriv", f"--bounding-set={drop}", f"--inh-caps={drop}", "--", *argv]
