"""No pydantic plug-in sees mpctl's models: the CLI switches pydantic's plug-ins off.

A plug-in (the `pydantic` entry point group) is handed every model's validation, and mpctl
validates private keys, tokens and admin credentials. The test installs one on `PYTHONPATH` (a
`*.dist-info` with the entry point, and the module it names, which leaves a mark when loaded).
Plain Python with pydantic loads it as soon as a model is defined, which shows the plug-in is
found; `python -m mpctl validate` on the example project does not load it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

EXAMPLE_PROJECT = Path(__file__).resolve().parents[3] / "manifests"
PLUGIN_MODULE = """
from pathlib import Path
Path({mark!r}).write_text("loaded")

class Plugin:
    def new_schema_validator(self, *args, **kwargs):
        return None, None, None

plugin = Plugin()
"""


def _installed_plugin(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An environment whose PYTHONPATH holds a pydantic plug-in, and the file it marks."""
    site = tmp_path / "site"
    info = site / "watching_plugin-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: watching-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[pydantic]\nwatching = watching_plugin:plugin\n")
    mark = tmp_path / "loaded"
    (site / "watching_plugin.py").write_text(PLUGIN_MODULE.format(mark=str(mark)))
    environment = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    environment["PYTHONPATH"] = os.pathsep.join([str(site), *sys.path])
    return environment, mark


def test_the_plugin_is_found_by_plain_pydantic(tmp_path: Path) -> None:
    environment, mark = _installed_plugin(tmp_path)
    model = "import pydantic\nclass Model(pydantic.BaseModel):\n    x: int\n"
    subprocess.run([sys.executable, "-c", model], env=environment, check=True, timeout=60)
    assert mark.exists()


def test_mpctl_loads_no_pydantic_plugin(tmp_path: Path) -> None:
    environment, mark = _installed_plugin(tmp_path)
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE_PROJECT, project / "manifests")
    done = subprocess.run(
        [sys.executable, "-m", "mpctl", "validate"],
        env=environment,
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert not mark.exists()
