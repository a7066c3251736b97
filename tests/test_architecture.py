"""The shape of the code: imports point down the layers, and the core stays light."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Folders mapped into the rltrack namespace at install time (see pyproject.toml).
PACKAGES = {"rltrack": ROOT / "rltrack", "rltrack.callbacks": ROOT / "callbacks", "rltrack.sim2real": ROOT / "sim2real"}

LAYERS: list[tuple[str, int]] = [
    ("rltrack.errors", 1),
    ("rltrack.types", 1),
    ("rltrack.validate", 1),  # one door of validation: every writer (log, ingest, bags, ROS) calls it
    ("rltrack._extras", 1),
    ("rltrack.store", 2),
    ("rltrack.callbacks", 4),
    ("rltrack.sim2real", 4),
    ("rltrack.sweeps", 4),
    ("rltrack.server", 4),
    ("rltrack.cli", 5),
    ("rltrack._wandb_shim", 5),  # `import wandb` under the wandb shim: an entry point (its sb3 callback)
    ("rltrack.notebook", 5),  # Jupyter entry point: starts the dashboard
    ("rltrack.demo", 5),  # `rltrack demo`: trains, runs the robot stand-in, serves the dashboard
    ("rltrack", 3),  # the rest of the core: run API, media, artifacts, read Api, remote sink
]


def _layer(module: str) -> int | None:
    for prefix, layer in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            return layer
    return None


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            rel = path.relative_to(folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            name = ".".join([package, *parts])
            if package == "rltrack" and parts and parts[0] in ("callbacks", "sim2real"):
                continue
            found[name] = path
    return found


def _imports(path: Path, module: str, known: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    out: set[str] = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                out.add(candidate if candidate in known else base)
    return out


MODULES = _modules()


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down_the_layers(module: str) -> None:
    layer = _layer(module)
    assert layer is not None
    for imported in _imports(MODULES[module], module, set(MODULES)):
        target = _layer(imported)
        if target is None:
            continue
        if imported == "rltrack" and layer >= 4:
            continue  # integrations and entry points use the public facade
        assert target <= layer, f"{module} (layer {layer}) imports {imported} (layer {target})"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _layer(m) == 2))
def test_the_store_knows_nothing_above_it(module: str) -> None:
    for imported in _imports(MODULES[module], module, set(MODULES)):
        if imported.startswith("rltrack"):
            assert _layer(imported) in (1, 2), f"{module} imports {imported}"


HEAVY = ["torch", "stable_baselines3", "gymnasium", "rclpy", "cv2", "av", "fastapi", "optuna", "uvicorn", "plotly",
         "pandas", "scipy", "rosbags", "yaml", "tensorboard", "tensorboardX"]


def test_the_core_works_with_heavy_packages_blocked(tmp_path: Path) -> None:
    code = f"""
        import importlib.abc, sys
        BLOCKED = {HEAVY!r}
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ImportError(f"blocked {{name}}")
        sys.meta_path.insert(0, Block())
        import rltrack
        run = rltrack.init(project="light", dir={str(tmp_path)!r}, system_metrics=False)
        run.log({{"x": 1.0}})
        run.finish()
        assert rltrack.Api({str(tmp_path)!r}).run(run.id).series("x")[2].tolist() == [1.0]
        print("ok")
    """
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_importing_rltrack_loads_no_heavy_module_nor_numpy() -> None:
    code = f"""
        import sys, threading
        before = threading.active_count()
        import rltrack
        loaded = sorted(m for m in {[*HEAVY, "numpy"]!r} if m in sys.modules)
        print(loaded, threading.active_count() - before)
    """
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    # numpy costs ~0.2 s to import here; it loads on the writer thread, not at `import rltrack`.
    assert done.stdout.strip() == "[] 0"
