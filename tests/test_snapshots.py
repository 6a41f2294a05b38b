"""Snapshot tests of every console scene at 80x24 and 120x40 (pytest-textual-snapshot).

The scenes are fixed data (tui/scenes.py) with a fixed clock and UTC, so the pictures only change
when the console does. After an intended change: pytest tests/test_snapshots.py --snapshot-update,
then python -m chute.tui.scenes to refresh screenshots/.
"""

import pytest

from chute.tui.scenes import SCENES, SIZES, scene_app, settle, use_utc

use_utc()


# Every scene at 80x24 (the size things break at), the main ones at 120x40 too.
CASES = [(scene, SIZES[0]) for scene in SCENES] + [
    (scene, SIZES[1]) for scene in ("overview", "failures", "detail")
]


@pytest.mark.parametrize(("scene", "size"), CASES, ids=[f"{s}-{w}x{h}" for s, (w, h) in CASES])
def test_scene(snap_compare, scene, size):
    async def run_before(pilot):
        await settle(pilot)
        for key in SCENES[scene]:
            await pilot.press(key)
            await settle(pilot)

    assert snap_compare(scene_app(scene), terminal_size=size, run_before=run_before)
