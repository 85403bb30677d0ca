"""Area polygons for CAP from the packaged geometry (``tryvoga/data/geo/regions.geojson``).

The geometry is already simplified by ``scripts/build_geo.py`` (Douglas-Peucker, 0.01 degrees
for oblasts, Crimea, Kyiv and Sevastopol; 0.0005 degrees for Kyiv's districts; at most 300
points per ring; see ``data/geo/LICENCES.md``). CAP wants each polygon as one closed ring of
WGS 84 ``lat,lon`` pairs separated by spaces, so each exterior ring of a (multi)polygon becomes
one ``<polygon>``; holes cannot be expressed in CAP and are left out.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


def _ring(points: list[list[float]]) -> str:
    pairs = [f"{lat},{lon}" for lon, lat in points]
    if pairs[0] != pairs[-1]:
        pairs.append(pairs[0])
    return " ".join(pairs)


@cache
def polygons() -> dict[str, tuple[tuple[str, ...], str]]:
    """KATOTTG code → its CAP polygons (one string per exterior ring) and the attribution
    that must travel with them (Natural Earth or OpenStreetMap)."""
    text = resources.files("tryvoga.data").joinpath("geo/regions.geojson").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    out: dict[str, tuple[tuple[str, ...], str]] = {}
    for feature in data["features"]:
        geometry = feature["geometry"]
        parts = (geometry["coordinates"] if geometry["type"] == "MultiPolygon"
                 else [geometry["coordinates"]])
        rings = tuple(_ring(part[0]) for part in parts if len(part[0]) >= 4)
        if rings:
            properties = feature["properties"]
            out[properties["code"]] = (rings, properties.get("attribution", ""))
    return out


def polygons_of(code: str) -> tuple[tuple[str, ...], str]:
    return polygons().get(code, ((), ""))
