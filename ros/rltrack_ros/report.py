"""What an import read, per topic: read / expected / values / skipped and why, shortfalls and hints.

One report serves the CLI's table, the warnings of :func:`rltrack_ros.bag.import_bag`, ``--strict``
and the counters written into the run summary, so they always agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .bagread import BagSource
from .mirror import Counts

__all__ = ["ImportReport", "TopicLine", "build_report"]

#: Prefix of the import's counters in the run summary (beside the mirror's ``_rltrack/ros/...``).
PREFIX = "_rltrack/ros"


@dataclass
class TopicLine:
    """One topic of the recording and what happened to its messages."""

    topic: str
    msgtype: str
    expected: int | None  # the recording's own count (metadata or storage index); None: unknown
    read: int  # read from storage
    values: int  # value rows logged
    selected: bool
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> messages
    blocked: bool = False  # the whole topic is skipped (its schema, its serialization)

    @property
    def unread(self) -> int:
        """Messages the recording lists but that could not be read (damaged or missing files)."""
        if not self.selected or self.expected is None or self.blocked:
            return 0
        return max(0, self.expected - self.read)

    def skipped_reasons(self) -> str:
        """The reasons, joined (for the table)."""
        # A whole topic skipped in a file without counts (cut short) still says why, without a number.
        return "; ".join(f"{n} {why}" if n else why for why, n in self.skipped.items()
                         if n or (self.blocked and why.startswith("skipped: ")))  # fmt: skip


@dataclass
class ImportReport:
    """Per-topic outcome of one import plus the recording's file problems."""

    lines: list[TopicLine]
    problems: list[str]

    def shortfalls(self, *, strict: bool = False) -> list[str]:
        """One sentence per selected topic that lost messages.

        Without ``strict`` only what nothing else has warned about: unread messages and topics the
        reader skipped. With ``strict`` also messages the decoder refused (it warns about those itself).
        """
        out = []
        for line in self.lines:
            if not line.selected:
                continue
            lost = dict(line.skipped) if strict else {k: v for k, v in line.skipped.items() if k.startswith("skipped")}
            if line.unread:
                lost[f"unread (the recording lists {line.expected})"] = line.unread
            if any(lost.values()):
                why = "; ".join(f"{n} {reason}" for reason, n in lost.items() if n)
                out.append(f"topic {line.topic!r}: {line.read} of {_n(line.expected)} messages read, {why}")
        return out

    def hints(self, quiet_topics: frozenset[str] = frozenset()) -> list[str]:
        """Advice for topics that were read but gave no values (strings, images without episodes)."""
        empty = [line for line in self.lines
                 if line.selected and line.read and not line.values and line.topic not in quiet_topics
                 and not line.skipped]  # fmt: skip
        if not empty:
            return []
        by_type: dict[str, list[str]] = {}
        for line in empty:
            by_type.setdefault(line.msgtype, []).append(line.topic)
        parts = []
        for msgtype, topics in by_type.items():
            more = f" and {len(topics) - 6} more" if len(topics) > 6 else ""
            parts.append(f"{', '.join(topics[:6])}{more} ({msgtype})")
        return [f"hint: {'; '.join(parts)} carry no numeric fields, so they gave no values; numbers, booleans, "
                "JointState/DiagnosticArray entries and /tf transforms become keys, except in arrays longer than "
                "max_array (64 unless a --config topic entry sets 'max_array', e.g. for a nav_msgs/Path)"]  # fmt: skip

    def table(self) -> str:
        """The per-topic table the CLI prints after an import."""
        rows = [("topic", "type", "read", "expected", "values", "skipped")]
        unselected = []
        for line in self.lines:
            if not line.selected:
                unselected.append(f"{line.topic} ({_n(line.expected)})")
                continue
            rows.append((line.topic, line.msgtype, str(line.read), _n(line.expected), str(line.values),
                         line.skipped_reasons() or ("-" if not line.unread else f"{line.unread} unread")))  # fmt: skip
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        text = []
        for r in rows:
            cells = [r[0].ljust(widths[0]), r[1].ljust(widths[1])] + [r[i].rjust(widths[i]) for i in (2, 3, 4)]
            text.append("  ".join(cells) + "  " + r[5])
        if unselected:
            text.append("not selected: " + ", ".join(unselected))
        return "\n".join(text)

    def counters(self) -> dict[str, int]:
        """Summary counters: expected, unread and skipped messages per topic (selected topics)."""
        rows: dict[str, int] = {}
        for line in self.lines:
            if not line.selected:
                continue
            name = line.topic.strip("/")
            if line.expected is not None:
                rows[f"{PREFIX}/expected/{name}"] = line.expected
            if line.unread:
                rows[f"{PREFIX}/unread/{name}"] = line.unread
            skipped = sum(line.skipped.values())
            if skipped:
                rows[f"{PREFIX}/skipped/{name}"] = skipped
        return rows


def _n(value: int | None) -> str:
    return "?" if value is None else str(value)


def build_report(source: BagSource, counts: Counts | None, selected: set[str]) -> ImportReport:
    """Combine what the reader read with what the mirror did, per topic."""
    lines = []
    for name in sorted(source.topics):
        info = source.topics[name]
        chosen = name in selected
        line = TopicLine(name, info.msgtype, info.expected, source.read[name],
                         counts.logged[name] if counts else 0, chosen)  # fmt: skip
        if chosen:
            if info.skip is not None:
                line.skipped[f"skipped: {info.skip}"] = info.expected or 0
                line.blocked = True
            if source.unconverted[name]:
                line.skipped["skipped: cannot be decompressed or converted"] = source.unconverted[name]
            if counts is not None:
                if counts.errors[name]:
                    line.skipped["undecodable"] = counts.errors[name]
                if counts.ignored[name]:
                    line.skipped["of an unknown type"] = counts.ignored[name]
        lines.append(line)
    return ImportReport(lines, list(source.problems))
