"""How the robot stand-in differs from the nominal simulator (no heavy imports: the CLI reads it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rltrack.errors import InvalidValueError

__all__ = ["CONTROL_PERIOD_NS", "ENV_ID", "JOINTS", "StandInPhysics"]

#: The task both sides run: the nominal simulator and the robot stand-in.
ENV_ID = "CartPole-v1"
#: CartPole integrates ``tau = 0.02 s`` per step: a 50 Hz control loop.
CONTROL_PERIOD_NS = 20_000_000
#: The stand-in's joints as a robot would name them: the cart's slider and the pole's hinge.
JOINTS = ("cart", "pole")


@dataclass(frozen=True)
class StandInPhysics:
    """What makes the robot stand-in differ from CartPole-v1: it stands in for a robot, it is not one.

    The defaults are chosen so that a PPO policy trained for ~20k steps keeps the pole up in
    simulation but loses a good part of its return on the stand-in (velocity noise hurts most).

    Attributes:
        pole_mass_factor: Pole mass relative to CartPole-v1's 0.1 kg.
        actuator_delay_steps: Control periods between a command and the force it produces.
        sensor_noise_std: Gaussian noise on the measured cart position (m), cart velocity (m/s),
            pole angle (rad) and pole angular velocity (rad/s).
        stamp_jitter_ns: Standard deviation of the stand-in's control-loop timing around 50 Hz.
    """

    pole_mass_factor: float = 3.0
    actuator_delay_steps: int = 1
    sensor_noise_std: tuple[float, float, float, float] = (0.02, 0.3, 0.02, 0.4)
    stamp_jitter_ns: int = 400_000

    def __post_init__(self) -> None:
        """Refuse physics the stand-in cannot simulate.

        Raises:
            InvalidValueError: a non-positive mass factor, a negative delay or a negative noise level.
        """
        if not self.pole_mass_factor > 0:
            raise InvalidValueError(f"pole_mass_factor={self.pole_mass_factor!r} must be > 0, e.g. 3.0")
        if isinstance(self.actuator_delay_steps, bool) or not isinstance(self.actuator_delay_steps, int) or (
            self.actuator_delay_steps < 0
        ):
            raise InvalidValueError(
                f"actuator_delay_steps={self.actuator_delay_steps!r} must be an int >= 0 (control periods)"
            )
        if len(self.sensor_noise_std) != 4 or any(not s >= 0 for s in self.sensor_noise_std):
            raise InvalidValueError(
                f"sensor_noise_std={self.sensor_noise_std!r} must be 4 standard deviations >= 0 "
                "(cart position, cart velocity, pole angle, pole angular velocity)"
            )
        if self.stamp_jitter_ns < 0:
            raise InvalidValueError(f"stamp_jitter_ns={self.stamp_jitter_ns!r} must be >= 0")

    def as_config(self) -> dict[str, Any]:
        """Return the settings as the run config records them."""
        return {
            "pole_mass_factor": self.pole_mass_factor,
            "actuator_delay_steps": self.actuator_delay_steps,
            "sensor_noise_std": list(self.sensor_noise_std),
            "stamp_jitter_ns": self.stamp_jitter_ns,
        }

    def describe(self) -> str:
        """Return one line saying what the stand-in changes."""
        noise = ", ".join(f"{s:g}" for s in self.sensor_noise_std)
        return (
            f"{ENV_ID} with a {self.pole_mass_factor:g}x heavier pole, an actuator delay of "
            f"{self.actuator_delay_steps} step(s) and sensor noise (std {noise})"
        )
