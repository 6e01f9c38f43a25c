"""Geometry for the SVG charts: metric trends across versions and lineage graphs.

Only numbers and labels are computed here; the templates write the SVG (escaped by Jinja),
so a chart is readable without JavaScript and its points carry data-* attributes a test can
read back against the records.
"""
from dataclasses import dataclass, field

WIDTH, HEIGHT, PAD_LEFT, PAD_RIGHT, PAD_Y = 640, 220, 56, 16, 24
NODE_W, NODE_H, COL_GAP, ROW_GAP = 150, 26, 60, 10


@dataclass
class Trend:
    benchmark: str
    metric: str
    points: list[dict]
    thresholds: list[dict] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    ticks: list[dict] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.benchmark}/{self.metric}"

    @property
    def path(self) -> str:
        return " ".join(f"{p['x']:.1f},{p['y']:.1f}" for p in self.points)

    @property
    def deleted(self) -> int:
        return sum(1 for p in self.points if p["deleted"])


def metric_series(versions: list) -> dict[tuple[str, str], list[tuple[int, float, str, bool]]]:
    """(benchmark, metric) -> [(version, value, stage, deleted)]: the last value a version records."""
    series: dict[tuple[str, str], dict[int, tuple[float, str, bool]]] = {}
    for v in versions:
        for m in v.get("metrics") or []:
            value = m.get("value")
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                series.setdefault((m["benchmark"], m["metric"]), {})[v.number] = (
                    value, v.get("stage", "none"), v.get("status") == "deleted")
    return {k: [(n, *rest) for n, rest in sorted(pts.items())] for k, pts in sorted(series.items())}


def gate_thresholds(settings) -> dict[tuple[str, str], list[dict]]:
    """(benchmark, metric) -> the gates registry.yaml sets on it, per stage."""
    from ..rules.gates import parse_condition

    found: dict[tuple[str, str], list[dict]] = {}
    for stage, gate in sorted((settings.get("gates") or {}).items()):
        for text in (gate or {}).get("metrics") or []:
            try:
                benchmark, metric, op, value = parse_condition(text)
            except ValueError:
                continue  # check reports a malformed gate; the chart just leaves it out
            found.setdefault((benchmark, metric), []).append({"stage": stage, "op": op, "value": value})
    return found


def trend(benchmark: str, metric: str, points, thresholds: list[dict]) -> Trend:
    values = [p[1] for p in points] + [t["value"] for t in thresholds]
    low, high = min(values), max(values)
    if high == low:
        low, high = low - 0.5 * (abs(low) or 1), high + 0.5 * (abs(high) or 1)
    margin = (high - low) * 0.08  # keep points and gate lines off the frame and the labels
    low, high = low - margin, high + margin
    span_x = WIDTH - PAD_LEFT - PAD_RIGHT
    step = span_x / max(len(points) - 1, 1)

    def y(value):
        return PAD_Y + (high - value) / (high - low) * (HEIGHT - 2 * PAD_Y)

    placed = [{"x": PAD_LEFT + (i * step if len(points) > 1 else span_x / 2), "y": y(val),
               "version": n, "value": val, "stage": stage, "deleted": deleted}
              for i, (n, val, stage, deleted) in enumerate(points)]
    lines = [dict(t, y=y(t["value"])) for t in thresholds]
    ticks = [{"y": y(v), "label": f"{v:.4g}"} for v in (low, (low + high) / 2, high)]
    return Trend(benchmark, metric, placed, lines, ticks=ticks)


def trends(versions: list, settings) -> list[Trend]:
    gates = gate_thresholds(settings)
    return [trend(b, m, pts, gates.get((b, m), [])) for (b, m), pts in metric_series(versions).items()]


# -- lineage -------------------------------------------------------------------------------
def parent_of(version) -> tuple[str, int] | None:
    parent = version.get("parent")
    if isinstance(parent, dict) and isinstance(parent.get("model"), str) and isinstance(parent.get("version"), int):
        return parent["model"], parent["version"]
    return None


def children_index(models: dict) -> dict[tuple[str, int], list[tuple[str, int]]]:
    """(model, version) -> the versions whose parent it is, across models."""
    found: dict[tuple[str, int], list[tuple[str, int]]] = {}
    for model in models.values():
        for v in model.versions.values():
            parent = parent_of(v)
            if parent:
                found.setdefault(parent, []).append((v.model, v.number))
    return found


def lineage_nodes(models: dict, children: dict, start: list[tuple[str, int]]) -> set[tuple[str, int]]:
    """`start`, their ancestors and their descendants (cycles stop the walk)."""
    seen = set(start)
    todo = list(start)
    while todo:  # ancestors
        key = todo.pop()
        parent = parent_key(models, key)
        if parent and parent not in seen:
            seen.add(parent)
            todo.append(parent)
    todo = list(start)
    down = set(start)
    while todo:  # descendants
        for child in children.get(todo.pop(), []):
            if child not in down:
                down.add(child)
                todo.append(child)
    return seen | down


def parent_key(models, key):
    model = models.get(key[0])
    version = model.versions.get(key[1]) if model else None
    return parent_of(version) if version else None


def graph(models: dict, nodes: set[tuple[str, int]], focus: set[tuple[str, int]]) -> dict:
    """Columns by generation (base at the left), one row per node; edges parent -> child."""
    depth = {key: _depth(models, key, nodes) for key in nodes}
    columns: dict[int, list] = {}
    for key in sorted(nodes):
        columns.setdefault(depth[key], []).append(key)
    place = {}
    for col, keys in columns.items():
        for row, key in enumerate(keys):
            place[key] = (8 + col * (NODE_W + COL_GAP), 8 + row * (NODE_H + ROW_GAP))
    drawn = [{"model": k[0], "version": k[1], "x": x, "y": y, "focus": k in focus,
              "known": k[0] in models and k[1] in models[k[0]].versions, "deleted": _deleted(models, k)}
             for k, (x, y) in sorted(place.items())]
    edges = []
    for key in sorted(nodes):
        parent = parent_key(models, key)
        if parent in place:
            (px, py), (cx, cy) = place[parent], place[key]
            edges.append({"x1": px + NODE_W, "y1": py + NODE_H / 2, "x2": cx, "y2": cy + NODE_H / 2,
                          "deleted": _deleted(models, key)})
    rows = max((len(k) for k in columns.values()), default=0)
    return {"nodes": drawn, "edges": edges, "deleted": sum(1 for n in drawn if n["deleted"]), "width": 16 + len(columns) * (NODE_W + COL_GAP) - COL_GAP,
            "height": 16 + rows * (NODE_H + ROW_GAP) - ROW_GAP, "node_w": NODE_W, "node_h": NODE_H}


def _deleted(models, key) -> bool:
    model = models.get(key[0])
    version = model.versions.get(key[1]) if model else None
    return bool(version and version.get("status") == "deleted")


def _depth(models, key, nodes) -> int:
    depth, seen = 0, {key}
    while (parent := parent_key(models, key)) and parent in nodes and parent not in seen:
        seen.add(parent)
        key, depth = parent, depth + 1
    return depth
