"""The engine runs alone on servers: importing it must never pull in textual."""

import subprocess
import sys

MODULES = [
    "chute.engine",
    "chute.engine.engine",
    "chute.engine.headless",
    "chute.engine.pipeline",
    "chute.engine.watcher",
    "chute.engine.journal",
    "chute.engine.processors",
    "chute.engine.isolation",
    "chute.engine.samples",
]


def test_engine_never_imports_textual():
    code = "import sys\n" + "".join(f"import {m}\n" for m in MODULES)
    code += "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
    code += "assert not bad, bad\nprint('ok')\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_engine_package_has_no_textual_import_statements():
    from pathlib import Path

    from chute import engine

    root = Path(engine.__file__).parent
    offenders = [
        str(p)
        for p in root.rglob("*.py")
        if "import textual" in p.read_text() or "from textual" in p.read_text()
    ]
    assert offenders == []
