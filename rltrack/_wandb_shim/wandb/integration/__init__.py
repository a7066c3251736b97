"""``wandb.integration`` under rltrack's wandb shim: only ``sb3`` is provided."""
