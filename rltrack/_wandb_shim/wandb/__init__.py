"""``import wandb`` when rltrack's wandb shim folder is on ``PYTHONPATH``: it is :mod:`rltrack.wandb_compat`."""

import sys

from rltrack import wandb_compat

sys.modules[__name__] = wandb_compat
