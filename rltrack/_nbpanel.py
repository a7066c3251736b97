"""The live panel ``init()`` shows in Jupyter: run name, dashboard link, last values and sparklines.

Only imported when ``init()`` runs inside an IPython kernel (``ipykernel`` loaded); anywidget is
imported only when a panel is made. ``log()`` never touches the panel: a background thread wakes
at most :data:`RATE_HZ` times a second, reads the run's summary and the newest entry of the
writer's queue (both already kept for other reasons), and sends the widget only what changed.
``finish()`` freezes the panel with the run's final state and values.
"""

from __future__ import annotations

import contextlib
import html
import math
import sys
import threading
import warnings
import weakref
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from rltrack._html import run_html
from rltrack.errors import RltrackWarning


class Run(Protocol):
    """What the panel reads of a run (:class:`rltrack.Run` is one).

    Typed here, so this module never imports the run API that calls it.
    """

    id: str
    name: str
    project: str
    step: int
    _writer: Any
    _after_finish: list[Callable[[str], None]]

    @property
    def summary(self) -> Any: ...

    @property
    def url(self) -> str | None: ...

__all__ = [
    "MAX_KEYS", "RATE_HZ", "SPARK_POINTS", "attach_panel", "in_kernel", "live_panel", "panel_of", "run_bundle",
]

#: Widget updates per second at most.
RATE_HZ = 4.0
#: Keys shown (in the order they were first logged; ``system/`` and ``_rltrack/`` keys are left out).
MAX_KEYS = 6
#: Points kept per sparkline (one per update in which the run's step moved).
SPARK_POINTS = 60
#: Updates between two looks for a dashboard serving the store (it may start after init(): show()).
_URL_EVERY = 4
#: Failed ticks in a row after which the panel stops (2 s: its front end is gone).
_MAX_FAILURES = 8

_panels: weakref.WeakKeyDictionary[Run, LivePanel] = weakref.WeakKeyDictionary()
_widget_class: Any = None

# Everything drawn from the run goes in as text (textContent), never as HTML: names are writer-controlled.
_ESM = r"""
const TRAITS = ["run_name", "run_id", "project", "url", "status", "step", "names", "values", "spark"];
// A key named "constructor" or "toString" must not read Object.prototype's: only own properties count.
const own = (o, k) => (o && Object.prototype.hasOwnProperty.call(o, k) ? o[k] : undefined);
const fmt = (v) => {
  if (v === undefined || v === null) return "";
  if (typeof v !== "number") return String(v);
  const a = Math.abs(v);
  return (a !== 0 && (a >= 1e5 || a < 1e-3)) ? v.toExponential(3) : String(+v.toPrecision(6));
};
function line(points) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("width", "120"); svg.setAttribute("height", "20");
  const ys = points.filter((p) => typeof p === "number");
  if (ys.length > 1) {
    const lo = Math.min(...ys), hi = Math.max(...ys), span = hi - lo || 1;
    const step = 118 / (points.length - 1);
    const xy = [];
    points.forEach((p, i) => {
      if (typeof p === "number") xy.push(`${(1 + i * step).toFixed(1)},${(19 - 18 * (p - lo) / span).toFixed(1)}`);
    });
    const poly = document.createElementNS(ns, "polyline");
    poly.setAttribute("points", xy.join(" "));
    poly.setAttribute("fill", "none"); poly.setAttribute("stroke", "#1f77b4"); poly.setAttribute("stroke-width", "1.5");
    svg.appendChild(poly);
  }
  return svg;
}
function render({ model, el }) {
  const root = document.createElement("div");
  root.style.cssText = "font:12px/1.5 system-ui,sans-serif;border:1px solid #ccc;border-radius:6px;" +
    "padding:6px 10px;display:inline-block;min-width:340px";
  el.appendChild(root);
  let queued = false;
  const draw = () => {
    queued = false;
    root.replaceChildren();
    const head = document.createElement("div");
    const name = document.createElement("b");
    name.textContent = model.get("run_name");
    head.appendChild(name);
    const meta = document.createElement("span");
    meta.style.color = "#666";
    const where = `${model.get("project")}/${model.get("run_id")}`;
    meta.textContent = ` ${where} · ${model.get("status")} · step ${model.get("step")} `;
    head.appendChild(meta);
    const url = model.get("url");
    if (/^https?:\/\//.test(url)) {
      const a = document.createElement("a");
      a.href = url; a.target = "_blank"; a.rel = "noopener noreferrer"; a.textContent = "dashboard ↗";
      head.appendChild(a);
    }
    root.appendChild(head);
    const table = document.createElement("table");
    const values = model.get("values"), spark = model.get("spark");
    for (const key of model.get("names")) {
      const row = table.insertRow();
      row.insertCell().textContent = key;
      const cell = row.insertCell();
      cell.textContent = fmt(own(values, key));
      cell.style.cssText = "text-align:right;font-variant-numeric:tabular-nums;padding:0 8px";
      const points = own(spark, key);
      row.insertCell().appendChild(line(Array.isArray(points) ? points : []));
    }
    root.appendChild(table);
  };
  const later = () => { if (!queued) { queued = true; requestAnimationFrame(draw); } };
  for (const t of TRAITS) model.on(`change:${t}`, later);
  draw();
  return () => { for (const t of TRAITS) model.off(`change:${t}`, later); };
}
export default { render };
"""


def in_kernel() -> bool:
    """Whether this process is a Jupyter kernel whose front end can receive widgets (comms)."""
    if "ipykernel" not in sys.modules or "IPython" not in sys.modules:
        return False
    try:
        shell = sys.modules["IPython"].get_ipython()
    except Exception:  # an IPython too old or half torn down: no panel, never an error
        return False
    kernel = getattr(shell, "kernel", None)
    return kernel is not None and getattr(kernel, "comm_manager", None) is not None


def panel_of(run: Run) -> LivePanel | None:
    """The run's live panel, if it has one."""
    return _panels.get(run)


def attach_panel(run: Run) -> LivePanel | None:
    """Show a live panel for ``run`` in the current cell; None where widgets are unavailable."""
    try:
        widget = _make_widget(run)
    except ImportError:
        return None
    panel = LivePanel(run, widget)
    _panels[run] = panel
    from IPython.display import display

    display(widget)  # type: ignore[no-untyped-call]  # IPython's display() has no annotations
    panel.start()
    return panel


def _make_widget(run: Run) -> Any:
    global _widget_class
    if _widget_class is None:
        import anywidget
        import traitlets

        class RunPanel(anywidget.AnyWidget):
            """rltrack's live run panel (its state: the run's name, link, last values and sparklines)."""

            _esm = _ESM
            run_name = traitlets.Unicode("").tag(sync=True)
            run_id = traitlets.Unicode("").tag(sync=True)
            project = traitlets.Unicode("").tag(sync=True)
            url = traitlets.Unicode("").tag(sync=True)
            # Not `state`/`keys`: ipywidgets' Widget uses those names itself.
            status = traitlets.Unicode("running").tag(sync=True)
            step = traitlets.Int(0).tag(sync=True)
            names = traitlets.List(traitlets.Unicode()).tag(sync=True)
            values = traitlets.Dict().tag(sync=True)
            spark = traitlets.Dict().tag(sync=True)

        _widget_class = RunPanel
    return _widget_class(run_name=run.name, run_id=run.id, project=run.project, url=run.url or "", step=run.step)


class LivePanel:
    """Keeps a run's widget current from a background thread, then freezes it when the run finishes."""

    def __init__(self, run: Run, widget: Any) -> None:
        self.widget = widget
        self.updates = 0
        #: Ticks that failed (each is skipped; the panel stops after a run of them).
        self.errors = 0
        self._run = weakref.ref(run)  # the registry maps run -> panel weakly: the panel must not keep it alive
        self._keys: list[str] = []
        self._spark: dict[str, list[float | None]] = {}
        self._last_step = -1
        self._ticks = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._final: str | None = None  # the state freeze() asks the thread to show last
        self._final_sent = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"rltrack-panel-{run.id}", daemon=True)

    def start(self) -> None:
        """Start updating; the run's ``finish()`` calls :meth:`freeze`."""
        run = self._run()
        if run is not None:
            run._after_finish.append(self.freeze)
        self._thread.start()

    def _loop(self) -> None:
        failures = 0
        while not self._stop.wait(1.0 / RATE_HZ):
            try:
                self.update()
                failures = 0
            except Exception:  # one bad tick is skipped; a comm that stays closed (a dying kernel) stops the panel
                self.errors += 1
                failures += 1
                if failures >= _MAX_FAILURES:
                    return
        if self._final is not None:
            # The final state is sent by this thread, after its own last tick: messages sent from two threads
            # may reach the front end in either order, and a late tick would show values from before the end.
            with contextlib.suppress(Exception):
                self.update(self._final)
            self._final_sent.set()

    def update(self, state: str = "running") -> None:
        """Read the run's latest values and send the widget what changed (one message)."""
        run = self._run()
        if run is None:
            self._stop.set()
            return
        with self._lock:
            values = _latest(run)
            for key in values:
                if len(self._keys) < MAX_KEYS and key not in self._keys:
                    self._keys.append(key)
                    self._spark[key] = []  # every shown key has a sparkline, even before the step moves
            step = max(run.step - 1, 0)
            if step != self._last_step or state != "running":
                self._last_step = step
                for key in self._keys:
                    points = self._spark.setdefault(key, [])
                    points.append(_finite(values.get(key)))
                    del points[:-SPARK_POINTS]
            self._ticks += 1
            widget = self.widget
            with widget.hold_sync():
                if self._ticks % _URL_EVERY == 0 or state != "running":
                    widget.url = run.url or ""
                widget.status = state
                widget.step = step
                widget.names = list(self._keys)
                widget.values = {k: _shown(values[k]) for k in self._keys if k in values}
                widget.spark = {k: list(v) for k, v in self._spark.items()}
            self.updates += 1

    def freeze(self, state: str) -> None:
        """Stop updating and show the run's final state and values (called by ``Run.finish``)."""
        self._final = state
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=10.0)
            if self._final_sent.is_set() or self._thread.is_alive():
                return  # sent by the thread (or it still will be: a very slow front end must not block finish)
        with contextlib.suppress(Exception):  # finishing a run must never fail because a front end went away
            self.update(state)


def _latest(run: Run) -> dict[str, float]:
    """The run's newest numeric values as floats: its summary, overlaid by the newest entry not yet stored."""
    values = {k: _float(v) for k, v in run.summary.snapshot().items() if _shown_key(k) and _number(v)}
    try:
        newest: Mapping[str, Any] = run._writer.queue[-1][2]
    except IndexError:  # the writer has stored everything: the summary is current
        return values
    values.update((k, _float(v)) for k, v in newest.items() if _shown_key(k) and _number(v))
    return values


def _float(value: float) -> float:
    # log() takes any int; one past float's range is shown as ±inf (as the store keeps it), never an OverflowError.
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _shown_key(key: object) -> bool:
    return isinstance(key, str) and not key.startswith(("_", "system/"))


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _finite(value: float | None) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def _shown(value: float) -> float | str:
    # JSON has no NaN or infinity: those travel as text.
    return float(value) if math.isfinite(value) else str(float(value))


def live_panel(run: Any) -> bool:
    """Show ``run``'s live panel in the running cell when this is a Jupyter kernel with widgets.

    Returns whether a panel is shown. Never raises: a notebook without widgets still trains.
    """
    try:
        return in_kernel() and attach_panel(run) is not None
    except Exception as err:  # the panel is a view; a failure here must not stop init()
        warnings.warn(f"rltrack: no live panel in this notebook ({type(err).__name__}: {err})", RltrackWarning,
                      stacklevel=3)
        return False


def run_bundle(run: Any) -> dict[str, Any]:
    """A run's display data: text, the HTML card (with the dashboard link) and, when it has one, its live panel."""
    card = run_html(run)
    url = getattr(run, "url", None)
    if isinstance(url, str) and url.startswith(("http://", "https://")):
        card += f'<div><a href="{html.escape(url, quote=True)}" target="_blank" rel="noopener">dashboard</a></div>'
    bundle: dict[str, Any] = {"text/plain": repr(run), "text/html": card}
    panel = _panels.get(run)
    if panel is not None and getattr(panel.widget, "model_id", None):
        bundle["application/vnd.jupyter.widget-view+json"] = {
            "version_major": 2, "version_minor": 1, "model_id": panel.widget.model_id,
        }
    return bundle
