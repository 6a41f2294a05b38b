"""Reports: the figures they promise, in text, HTML and JSON, saved in archive/."""

from __future__ import annotations

import json
import os

from helpers import drop, settled, test_config, wait_for

from chute.engine import Engine, samples
from chute.engine.report import build, render_html, render_text, save


def test_report_content_and_files(tmp_path):
    engine = Engine(test_config(tmp_path / "root"))
    engine.start()
    try:
        drop(engine, "a.csv", samples.csv_good(5))
        drop(engine, "b.txt", b"words\n")
        for i in range(3):
            drop(engine, f"bad{i}.json", b"{")
        drop(engine, "ragged.csv", samples.csv_ragged())
        for name in ("a.csv", "b.txt", "bad0.json", "bad1.json", "bad2.json", "ragged.csv"):
            settled(engine, name)
        for i in range(40):
            engine.requests.record(
                "GET", f"/items/{i}", "/items/<int:id>", 200 if i % 10 else 500, 0.002 * (i + 1)
            )
        engine.requests.record("GET", "/health", "/health", 200, 0.001)
        doc = build(engine)
        assert doc["totals"] == {"done": 2, "failed": 4}
        assert doc["by_kind"]["json"] == {"failed": 3} and doc["by_kind"]["csv"] == {"done": 1, "failed": 1}
        assert doc["latency"]["count"] == 6 and doc["latency"]["p95"] > 0
        top = doc["top_failure_reasons"][0]
        assert top["count"] == 3 and top["error_kind"] == "corrupt" and "invalid JSON" in top["reason"]
        assert {f["name"] for f in doc["recent_failures"]} == {
            "bad0.json",
            "bad1.json",
            "bad2.json",
            "ragged.csv",
        }
        assert doc["folders"]["processed"]["files"] >= 4 and doc["folders"]["failed"]["files"] == 8
        req = doc["requests"]
        assert req["total"] == 41 and req["errors"] == 4 and req["status_classes"] == {"2xx": 37, "5xx": 4}
        assert req["top_endpoints"][0]["route"] == "/items/<int:id>"
        assert sum(req["by_hour"]) == 41 and sum(req["by_weekday"]) == 41
        assert sum(doc["files_by_hour"]) == 6

        text = render_text(doc)
        assert "2 done, 4 failed" in text and "top failure reasons" in text and "by weekday" in text
        html = render_html(doc)
        assert html.startswith("<!doctype html>") and "<table>" in html and "&lt;int:id&gt;" in html

        engine.run_job("report")
        wait_for(lambda: len(list(engine.config.paths.archive.glob("report-*"))) == 3, what="three files")
        saved = {p.suffix for p in engine.config.paths.archive.glob("report-*")}
        assert saved == {".json", ".txt", ".html"}
        stored = json.loads(next(engine.config.paths.archive.glob("report-*.json")).read_text())
        assert stored["totals"] == {"done": 2, "failed": 4}
        assert not list(engine.config.paths.archive.glob(".*.part"))
    finally:
        engine.stop()


def test_save_never_overwrites(tmp_path):
    doc = {
        "engine": "e",
        "generated_at": 1_800_000_000.0,
        "since": 0,
        "until": 1,
        "totals": {},
        "by_kind": {},
        "latency": {"p50": None, "p95": None, "p99": None, "max": None},
        "processing": {"p50": None, "p95": None, "p99": None, "max": None},
        "top_failure_reasons": [],
        "recent_failures": [],
        "folders": {},
    }
    first = save(doc, tmp_path)
    second = save(doc, tmp_path)
    assert first["json"] != second["json"] and len(list(tmp_path.iterdir())) == 6


def test_names_that_are_not_utf8_or_hold_control_characters_never_break_a_report(tmp_path):
    engine = Engine(test_config(tmp_path / "root"))
    engine.start()
    try:
        raw = b"bad\xff\x1b[31m.json"
        with open(engine.config.paths.inbox / os.fsdecode(raw), "wb") as f:
            f.write(b"{")
        wait_for(lambda: engine.snapshot().counts["failed"] == 1, what="the failure")
        engine.run_job("report")
        saved = wait_for(lambda: sorted(engine.config.paths.archive.glob("report-*")), what="the report")
        wait_for(lambda: len(sorted(engine.config.paths.archive.glob("report-*"))) == 3)
        assert not list(engine.config.paths.archive.glob(".*.part"))
        shown = "bad\\xff\\x1b[31m.json"
        for path in saved:
            text = path.read_text(encoding="utf-8")
            assert "\x1b" not in text and (shown in text or shown.replace("\\", "\\\\") in text), path.name
        html = next(p for p in saved if p.suffix == ".html").read_text()
        assert f"<td>{shown}</td>" in html
    finally:
        engine.stop()
