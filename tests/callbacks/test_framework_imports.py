"""The Lightning, Transformers, Keras, RLlib and Ray Tune integrations stay out of the way until used."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest

FRAMEWORKS = ["lightning", "pytorch_lightning", "transformers", "keras", "accelerate", "tensorflow", "ray"]


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)


def test_importing_rltrack_and_its_callbacks_loads_no_framework() -> None:
    done = _python(f"""
        import sys
        import rltrack, rltrack.callbacks
        rltrack.callbacks.__all__
        print(sorted(m for m in {FRAMEWORKS!r} if m in sys.modules))
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("name", "module", "extra"),
    [
        ("RLTrackLogger", "lightning", "lightning"),
        ("RLTrackTransformersCallback", "transformers", "transformers"),
        ("RLTrackKerasCallback", "keras", "keras"),
        ("RLTrackRLlibCallback", "ray", "ray"),
        ("RLTrackTuneCallback", "ray", "ray"),
    ],
)
def test_a_missing_framework_names_what_to_install(name: str, module: str, extra: str) -> None:
    done = _python(f"""
        import importlib.abc, sys
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == {module!r}:
                    raise ImportError(f"No module named {{name!r}}", name=name)
        sys.meta_path.insert(0, Block())
        import rltrack.callbacks
        try:
            rltrack.callbacks.{name}
        except ImportError as err:
            print(err)
    """)
    assert done.returncode == 0, done.stderr
    message = done.stdout.strip()
    assert message.startswith(f"rltrack.callbacks.{name} needs {module!r}: pip install "), message
    assert re.search(rf"pip install .*'{module}(\[[a-z,]+\])?[<>=]", message), message  # the extra's own pins
