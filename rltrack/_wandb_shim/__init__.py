"""A folder to put on ``PYTHONPATH`` so that ``import wandb`` is :mod:`rltrack.wandb_compat` (see its docs)."""
