"""The declare page's map: oblasts, Kyiv and Sevastopol as links that add them to the choice.

Drawn on the server from the packaged geometry (``data/geo/regions.geojson``: Natural Earth,
see ``data/geo/LICENCES.md``), so it needs no script and nothing from elsewhere. Longitude is
scaled by cos(48.5°) about Ukraine's middle, which is close enough for picking. Raions and
hromadas are chosen by the name search beside it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection
from functools import cache
from importlib import resources
from typing import Any

from tryvoga.web.console_text import h

WIDTH = 1000
_SHRINK = math.cos(math.radians(48.5))
TOP_LEVELS = ("oblast", "special_city")


@cache
def shapes() -> tuple[tuple[str, str, str, str], ...]:
    """(code, name_uk, name_en, SVG path) per top-level region, special cities last
    (drawn over their oblast), in a viewBox ``0 0 WIDTH height()``."""
    text = resources.files("tryvoga.data").joinpath("geo/regions.geojson").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    features = [f for f in data["features"] if f["properties"]["level"] in TOP_LEVELS]
    points = [(lon * _SHRINK, -lat) for f in features for part in _parts(f)
              for ring in part for lon, lat in ring]
    min_x, min_y = min(p[0] for p in points), min(p[1] for p in points)
    max_x = max(p[0] for p in points)
    scale = WIDTH / (max_x - min_x)
    out = []
    for feature in sorted(features, key=lambda f: f["properties"]["level"] == "special_city"):
        rings = []
        for part in _parts(feature):
            for ring in part:
                xy = [f"{(lon * _SHRINK - min_x) * scale:.1f},{(-lat - min_y) * scale:.1f}"
                      for lon, lat in ring]
                rings.append("M" + " L".join(xy) + "Z")
        p = feature["properties"]
        out.append((p["code"], p["name_uk"], p["name_en"], "".join(rings)))
    return tuple(out)


@cache
def height() -> int:
    text = resources.files("tryvoga.data").joinpath("geo/regions.geojson").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    points = [(lon * _SHRINK, -lat) for f in data["features"]
              if f["properties"]["level"] in TOP_LEVELS for part in _parts(f)
              for ring in part for lon, lat in ring]
    span_x = max(p[0] for p in points) - min(p[0] for p in points)
    span_y = max(p[1] for p in points) - min(p[1] for p in points)
    return math.ceil(WIDTH * span_y / span_x)


def _parts(feature: dict[str, Any]) -> list[list[list[list[float]]]]:
    geometry = feature["geometry"]
    parts: list[list[list[list[float]]]] = (
        geometry["coordinates"] if geometry["type"] == "MultiPolygon"
        else [geometry["coordinates"]])
    return parts


def svg(selected: Collection[str], allowed: Callable[[str], bool], link: Callable[[str], str],
        name_of: Callable[[str], str], label: str, add_word: str) -> str:
    """The map: a region inside the operator's scope is a link that adds (or removes) it."""
    paths = []
    for code, _, _, d in shapes():
        name = name_of(code)
        if not allowed(code):
            paths.append(f'<path class="out" d="{d}"><title>{h(name)}</title></path>')
            continue
        state = "on" if code in selected else "in"
        paths.append(f'<a href="{h(link(code))}" aria-label="{h(add_word)}: {h(name)}">'
                     f'<path class="{state}" d="{d}"><title>{h(name)}</title></path></a>')
    return (f'<figure class="pick-map"><svg viewBox="0 0 {WIDTH} {height()}" role="group" '
            f'aria-label="{h(label)}" xmlns="http://www.w3.org/2000/svg">{"".join(paths)}'
            '</svg><figcaption>Made with Natural Earth</figcaption></figure>')
