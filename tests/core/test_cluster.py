"""Tagging on Ray: an optional extra that nothing imports unless asked."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

# Runs with Ray made unimportable, as on an installation without the [cluster] extra.
WITHOUT_RAY = """
import sys
sys.modules["ray"] = None
import core.cli, core.pipeline, core.cluster
from click.testing import CliRunner
result = CliRunner().invoke(core.cli.cli, ["tag", sys.argv[1], "--ray", "local", "--db", sys.argv[2]])
print(result.exit_code)
print(result.output)
"""


def test_the_cli_and_the_engine_do_not_import_ray():
    code = (
        "import sys, core.cli, core.pipeline, core.store\n"
        "from click.testing import CliRunner\n"
        "CliRunner().invoke(core.cli.cli, ['tag', '--help'])\n"
        "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_tagging_on_ray_without_ray_says_how_to_get_it(tmp_path):
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"not looked at")
    out = subprocess.run(
        [sys.executable, "-c", WITHOUT_RAY, str(photo), str(tmp_path / "t.db")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    code, message = out.stdout.split("\n", 1)
    assert code == "3"
    assert message.strip() == (
        "phototagger: tagging on a cluster needs Ray: pip install 'phototagger[cluster]'"
    )
    assert not (tmp_path / "t.db").exists()  # stopped before opening anything
