"""``import wandb`` when rltrack's wandb shim folder is on ``PYTHONPATH``: it is :mod:`rltrack.wandb_compat`."""

import sys

from rltrack import wandb_compat

# A package, so that `import wandb.integration.sb3` finds the submodules in this folder.
wandb_compat.__path__ = __path__
sys.modules[__name__] = wandb_compat
