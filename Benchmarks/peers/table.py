"""Result document (the `--json` file) and the printed table.

The document is plain JSON so Ganglion's Swift benchmark can read it:

    {
      "schema": "ganglion-peer-bench/1",
      "created": "2025-01-01T00:00:00Z",
      "host": {"cpus": 2, "kernel": "...", "python": "3.11.7"},
      "workload": {... Workload fields ...},
      "systems": {
        "<key>": {                       # "redis", "nats", later "ganglion"
          "label": "Redis Streams",
          "server": "redis-server 7.0.15", "client": "...", "config": "...",
          "results": {
            "<metric>": {                # see common.METRICS
              "<size>": {"unit": "events/s" | "us",
                         "median": 123.0 | null,
                         "runs": [..],
                         "unsupported": "reason"}   # only when median is null
            }
          }
        }
      }
    }

Throughput cells may also carry "server_cpu": [cores per run], the average
number of cores the server process used in the measured window (printed as an
extra row: near the core count means the server was the bottleneck, well below
it means the clients were).

Any number of systems can be present; the table prints one column per system
in document order and, when a system keyed "ganglion" is present, one ratio
column ganglion/<peer> per peer (for throughput > 1 means Ganglion is faster,
for latency < 1 means Ganglion is faster).
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from common import METRICS

SCHEMA = "ganglion-peer-bench/1"
SUBJECT_SYSTEM = "ganglion"


def load(path: str | Path) -> dict:
    doc = json.loads(Path(path).read_text())
    if doc.get("schema") != SCHEMA:
        raise ValueError(f"{path}: not a {SCHEMA} document")
    return doc


def dump(doc: dict, path: str | Path) -> None:
    Path(path).write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n")


def merge(into: dict, other: dict) -> None:
    """Add the systems of `other` (e.g. a Ganglion run) to `into`."""
    for key, system in other.get("systems", {}).items():
        into["systems"][key] = system


def _fmt(value, unit: str) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def _size(n: int) -> str:
    return f"{n // 1024} KiB" if n % 1024 == 0 else f"{n} B"


def render(doc: dict) -> str:
    systems = doc["systems"]
    keys = list(systems)
    peers = [k for k in keys if k != SUBJECT_SYSTEM]
    ratio = SUBJECT_SYSTEM in systems
    cols = keys + ([f"{SUBJECT_SYSTEM}/{p}" for p in peers] if ratio else [])
    sizes = sorted({int(s) for sys in systems.values()
                    for m in sys.get("results", {}).values() for s in m})

    rows = []
    notes: list[str] = []
    for metric in METRICS:
        for size in sizes:
            cells = []
            values = {}
            for k in keys:
                cell = systems[k].get("results", {}).get(metric.key, {}).get(str(size))
                if cell is None:
                    cells.append("-")
                    values[k] = None
                    continue
                values[k] = cell.get("median")
                text = _fmt(cell.get("median"), metric.unit)
                if cell.get("median") is None and cell.get("unsupported"):
                    note = f"{systems[k].get('label', k)}: {cell['unsupported']}"
                    if note not in notes:
                        notes.append(note)
                    text += f" [{notes.index(note) + 1}]"
                cells.append(text)
            if ratio:
                for p in peers:
                    g, v = values.get(SUBJECT_SYSTEM), values.get(p)
                    cells.append(f"{g / v:.2f}x" if g and v else "-")
            unit = "ev/s" if metric.unit == "events/s" else "us"
            rows.append([f"{metric.title} ({unit})", _size(size)] + cells)
            cpu_cells, any_cpu = [], False
            for k in keys:
                cell = systems[k].get("results", {}).get(metric.key, {}).get(str(size)) or {}
                cpu = [c for c in cell.get("server_cpu") or [] if c is not None]
                any_cpu = any_cpu or bool(cpu)
                cpu_cells.append(f"{statistics.median(cpu):.2f}" if cpu else "")
            if any_cpu:
                rows.append(["  server CPU used (cores)", ""] + cpu_cells + [""] * (len(cols) - len(keys)))

    header = ["metric", "size"] + cols
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]

    def line(r):
        return "  ".join(str(c).ljust(widths[i]) if i < 2 else str(c).rjust(widths[i])
                         for i, c in enumerate(r))

    w = doc.get("workload", {})
    out = [f"Peer benchmark: medians of {w.get('runs', '?')} run(s); "
           f"{w.get('producers', '?')} producers x {w.get('batch', '?')}-event windows, "
           f"produce {w.get('produce_s', '?')} s, consume {w.get('consume_events', '?'):,} events, "
           f"latency {w.get('latency_s', '?')} s at {w.get('latency_rate', 0):,}/s",
           line(header), line(["-" * x for x in widths])]
    out += [line(r) for r in rows]
    out.append("")
    for k in keys:
        s = systems[k]
        out.append(f"{k}: {s.get('server', '?')}; client {s.get('client', '?')}; {s.get('config', '')}")
    if ratio:
        out.append(f"ratios are {SUBJECT_SYSTEM}/peer: above 1x is better for ev/s rows, below 1x for us rows")
    for i, n in enumerate(notes, 1):
        out.append(f"[{i}] {n}")
    return "\n".join(out)


# --------------------------------------------------------------------------
# Replicated mode
# --------------------------------------------------------------------------

REPLICATED_PEER = "nats-r3"
#: Ganglion's figures in a `ganglion bench --replication --json` document
#: (results keys; the underscore spelling is accepted too).
GANGLION_RF1, GANGLION_RF3 = "produce-rf1", "produce-rf3"
REPLICATED_GOAL = 3.0


def _results(system: dict, name: str) -> dict:
    res = system.get("results") or {}
    return res.get(name) or res.get(name.replace("-", "_")) or {}


def _median(cells: dict, size: int):
    cell = cells.get(str(size)) or {}
    return cell.get("median")


def _ratio(a, b) -> str:
    return f"{a / b:.2f}x" if a and b else "n/a"


def _workload_line(w: dict | None) -> str:
    if not w:
        return "workload not recorded"
    if w.get("window") is not None:  # Ganglion's: `window` events in flight, sent in requests of `batch`
        parts = [f"{w.get('producers', '?')} producers x {w['window']} events in flight "
                 f"(requests of {w.get('batch', '?')} events)"]
    else:  # the peers': a window of `batch` events, then all acks awaited
        parts = [f"{w.get('producers', '?')} producers x {w.get('batch', '?')} events in flight "
                 f"(windows of {w.get('batch', '?')}, all acks awaited)"]
    parts.append(f"{w.get('produce_s', '?')} s per run, {w.get('runs', '?')} run(s)")
    return ", ".join(parts)


def render_replicated(doc: dict) -> str:
    """The replicated-mode table: per size, Ganglion RF3 acks=all and NATS R3
    produce throughput (medians), their ratio, Ganglion RF1 and RF3/RF1, then
    each run and each side's configuration."""
    systems = doc["systems"]
    g = systems.get(SUBJECT_SYSTEM) or {}
    n = systems.get(REPLICATED_PEER) or {}
    rf1, rf3 = _results(g, GANGLION_RF1), _results(g, GANGLION_RF3)
    nats = (n.get("results") or {}).get("produce_interval") or {}
    sizes = sorted({int(s) for cells in (rf3, rf1, nats) for s in cells})

    header = ["size", "ganglion RF3 acks=all (ev/s)", "NATS R3 (ev/s)",
              f"ganglion/nats (goal >= {REPLICATED_GOAL:g}x)", "ganglion RF1 acks=all (ev/s)", "ganglion RF3/RF1"]
    rows = []
    for size in sizes:
        g3, nr, g1 = _median(rf3, size), _median(nats, size), _median(rf1, size)
        rows.append([_size(size), _fmt(g3, ""), _fmt(nr, ""), _ratio(g3, nr), _fmt(g1, ""), _ratio(g3, g1)])
    if not rows:
        rows.append(["-", "n/a", "n/a", "n/a", "n/a", "n/a"])
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]

    def line(r):
        return "  ".join(str(c).ljust(widths[i]) if i == 0 else str(c).rjust(widths[i]) for i, c in enumerate(r))

    w = n.get("workload") or doc.get("workload", {})  # NATS R3 run here, or merged from a saved document
    out = ["Replicated produce, acked after replication: events/s, medians (each run and workload below)",
           line(header), line(["-" * x for x in widths])]
    out += [line(r) for r in rows]
    out.append("")
    for size in sizes:
        for title, cells in (("NATS R3", nats), ("ganglion RF3", rf3), ("ganglion RF1", rf1)):
            cell = cells.get(str(size))
            if not cell:
                continue
            runs = " / ".join(_fmt(v, "") for v in cell.get("runs") or []) or "none"
            text = f"  {title}, {_size(size)}: runs {runs}"
            cpu = [c for c in cell.get("server_cpu") or [] if c is not None]
            if cpu:
                text += f"; servers used {statistics.median(cpu):.2f} cores (3 processes, median)"
            if cell.get("median") is None and cell.get("unsupported"):
                text += f"; n/a: {cell['unsupported']}"
            out.append(text)
    out.append("")
    if n:
        out.append(f"{REPLICATED_PEER}: {n.get('server', '?')}; client {n.get('client', '?')}; {n.get('config', '')}")
        out.append(f"  workload: {_workload_line(w)}")
    else:
        out.append(f"{REPLICATED_PEER}: not run")
    if g:
        out.append(f"{SUBJECT_SYSTEM}: {g.get('server', '?')}; client {g.get('client', '?')}; {g.get('config', '')}")
        out.append(f"  workload: {_workload_line(g.get('workload'))}")
        missing = [k for k, cells in ((GANGLION_RF3, rf3), (GANGLION_RF1, rf1)) if not cells]
        if missing:
            out.append(f"  its document has no {' or '.join(missing)} figures: shown as n/a")
    else:
        out.append(f"{SUBJECT_SYSTEM}: no figures (not run, or `ganglion bench --replication --json` wrote none)")
    out.append(f"ganglion/nats above {REPLICATED_GOAL:g}x meets the goal. Both acks follow replication: NATS after a "
               f"quorum (2 of 3) stored the message, Ganglion acks=all after every in-sync replica did.")
    return "\n".join(out)
