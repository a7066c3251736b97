"""Policy checkpoints as artifacts: log versions with their training step, move `best`, deploy it.

    python examples/artifacts.py [--dir STORE]

A training run logs three checkpoints (identical content is stored once), marks the best
one, and a robot session attached to the same run records which version it deployed and
reads the training step that version came from. Then `rltrack artifacts ls --dir STORE`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import rltrack
from rltrack.artifacts import Artifact
from rltrack.store.paths import resolve_root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default=None, help="store folder (default: $RLTRACK_DIR or ./rltrack-runs)")
    store = resolve_root(parser.parse_args().dir)
    work = Path(tempfile.mkdtemp(prefix="rltrack-ckpt-"))

    with rltrack.init(project="artifacts-demo", dir=store, system_metrics=False) as run:
        best_return = float("-inf")
        for step, weights, mean_return in ((1000, "w1", 12.0), (2000, "w2", 55.0), (3000, "w2", 48.0)):
            checkpoint = work / "policy.json"
            checkpoint.write_text(json.dumps({"weights": weights}))  # stands in for model.save()
            artifact = Artifact("cartpole-policy", metadata={"step": step, "mean_return": mean_return})
            artifact.add_file(checkpoint)
            aliases = ["best"] if mean_return > best_return else []
            best_return = max(best_return, mean_return)
            version = run.log_artifact(artifact, aliases=aliases)
            run.log({"eval/mean_return": mean_return}, step=step)
            # Step 3000 saved the same weights as step 2000: no new version, same v1.
            print(f"step {step}: {version.ref} aliases={version.aliases} step={version.metadata['step']}")
        training_id = run.id

    # On the robot: attach to the training run as the `real` source and record the deployment.
    with rltrack.init(id=training_id, resume="must", source="real", dir=store, system_metrics=False) as robot:
        deployed = robot.use_artifact("cartpole-policy:best")
        folder = deployed.download(work / "deployed")
        print(f"robot deployed {deployed.ref} from training step {deployed.metadata['step']}: "
              f"{sorted(p.name for p in folder.iterdir())}")

    api = rltrack.Api(store)
    for v in api.artifacts("cartpole-policy"):
        print(v.ref, v.aliases, "logged by", v.logged_by_id, "used by", [r.id for r in v.used_by])
    shutil.rmtree(work)
    print(f"store: {store}  (try: rltrack artifacts ls --dir {store})")


if __name__ == "__main__":
    main()
