"""``rltrack.Settings``: wandb's ``Settings`` object, accepted by ``init(settings=...)``.

wandb has dozens of settings, most about its service process and cloud. rltrack honours the few
that mean something locally and names the others, when given a value, in ``init()``'s one warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rltrack.errors import InvalidValueError

__all__ = ["Settings"]

#: Settings rltrack acts on: the run's mode, printing, and the system-metrics sampler.
_HONOURED = frozenset({"mode", "silent", "quiet", "x_disable_stats", "_disable_stats", "disable_stats"})
#: Settings about wandb's own service process or uploads: nothing to do in a local store, by design.
_NO_OP = frozenset({
    "start_method", "init_timeout", "_service_wait", "x_service_wait", "disable_git", "disable_job_creation",
    "_disable_meta", "x_disable_meta", "console", "show_info", "show_warnings", "show_errors", "save_code",
    "_disable_machine_info", "x_disable_machine_info", "api_key", "base_url", "program",
})


class Settings:
    """Run settings in wandb's form (``rltrack.Settings(mode="offline", x_disable_stats=True)``).

    Honoured: ``mode``, ``silent``/``quiet`` (print nothing) and ``x_disable_stats`` (no system
    metrics). Settings about wandb's service process (``start_method``, ``init_timeout``, ...)
    have nothing to do here; any other setting given a value is named in ``init()``'s warning.
    """

    def __init__(self, **settings: Any) -> None:
        self._values = dict(settings)

    @classmethod
    def of(cls, settings: object) -> Settings:
        """Return ``settings`` (a Settings, a dict, None, or an object with wandb-style attributes) as Settings."""
        if settings is None:
            return cls()
        if isinstance(settings, Settings):
            return settings
        if isinstance(settings, Mapping):
            return cls(**{str(k): v for k, v in settings.items()})
        if hasattr(settings, "__dict__"):  # e.g. a real wandb.Settings, or a SimpleNamespace
            return cls(**{k: v for k, v in vars(settings).items() if not k.startswith("__")})
        raise InvalidValueError(
            f"init(settings={settings!r}) must be rltrack.Settings(...) or a dict such as {{'mode': 'offline'}}"
        )

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._values.get(name)

    def update(self, settings: Mapping[str, Any] | None = None, **more: Any) -> None:
        """Change settings (as wandb's ``Settings.update``)."""
        self._values.update(settings or {}, **more)

    @property
    def mode(self) -> str | None:
        """The run's mode, if set."""
        value = self._values.get("mode")
        return None if value is None else str(value)

    @property
    def quiet(self) -> bool | None:
        """Print nothing, if set (``silent`` or ``quiet``)."""
        for name in ("silent", "quiet"):
            if self._values.get(name) is not None:
                return bool(self._values[name])
        return None

    @property
    def disable_stats(self) -> bool:
        """Whether system metrics are switched off."""
        return any(bool(self._values.get(n)) for n in ("x_disable_stats", "_disable_stats", "disable_stats"))

    def ignored(self) -> list[str]:
        """Name the settings given a value that rltrack does nothing with."""
        return [
            f"settings.{k}={v!r}"
            for k, v in self._values.items()
            if k not in _HONOURED and k not in _NO_OP and v is not None and v is not False
        ]

    def __repr__(self) -> str:
        return f"Settings({', '.join(f'{k}={v!r}' for k, v in self._values.items())})"
