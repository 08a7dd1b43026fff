"""Locations as they reach the relay: Signal shares, maps links, geo: URIs, typed coordinates."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relay.core.locations import (
    Location,
    find_location,
    location_from_argument,
    osm_link,
    parse_coordinates,
    parse_signal_share,
)

BIG_BEN_PIN = (
    "https://www.google.com/maps/place/Big+Ben/@51.5007292,-0.1268141,17z/data=!3m1!4b1!4m6!3m5"
    "!1s0x487604c38c8cd1d9:0xb78f2474b9a45aa9!8m2!3d51.5007292!4d-0.1246254!16zL20vMDE3OXk"
    "?entry=ttu"
)

# (message text, expected (lat, lng, label, source) or None)
SHAPES: list[tuple[str, tuple[float | None, float | None, str | None, str] | None]] = [
    # Signal Android, as in reference/receive-envelopes.jsonl line 2
    (
        "Alexanderplatz 1, 10178 Berlin, Germany\n"
        "https://maps.google.com/maps?q=52.5219184%2C13.4132147",
        (52.5219184, 13.4132147, "Alexanderplatz 1, 10178 Berlin, Germany", "signal"),
    ),
    # Android with a place name and an address
    (
        "Hotel Rex\nMain Street 1, London\nhttps://maps.google.com/maps?q=51.5007%2C-0.1246",
        (51.5007, -0.1246, "Hotel Rex, Main Street 1, London", "signal"),
    ),
    # Android, a dropped pin with no address
    ("https://maps.google.com/maps?q=51.5007%2C-0.1246", (51.5007, -0.1246, None, "signal")),
    # iOS: address lines, blank line, URL
    (
        "Main Street 1\nLondon\nUnited Kingdom\n\nhttps://maps.google.com/maps?q=51.5007%2C-0.1246",
        (51.5007, -0.1246, "Main Street 1, London, United Kingdom", "signal"),
    ),
    # Java prints small numbers in scientific notation
    ("https://maps.google.com/maps?q=51.5%2C-1.0E-4", (51.5, -0.0001, None, "signal")),
    # Molly (a Signal fork): OSM and Google lines
    (
        "Café Central\nHerrengasse 14, Wien\n\n"
        "OpenStreetMap: https://openstreetmap.org/#map=15/48.2104/16.3655\n\n"
        "Google Maps: https://maps.google.com/maps?q=48.2104%2C16.3655",
        (48.2104, 16.3655, "Café Central, Herrengasse 14, Wien", "signal"),
    ),
    # Google Maps
    ("https://www.google.com/maps?q=51.5007,-0.1246", (51.5007, -0.1246, None, "google")),
    ("http://maps.google.co.uk/?q=51.5007,-0.1246", (51.5007, -0.1246, None, "google")),
    ("https://maps.google.com/?q=loc:51.5007+-0.1246", (51.5007, -0.1246, None, "google")),
    ("https://www.google.com/maps/@51.5007,-0.1246,17z", (51.5007, -0.1246, None, "google")),
    (BIG_BEN_PIN, (51.5007292, -0.1246254, "Big Ben", "google")),
    ("https://www.google.com/maps/search/51.5007,+-0.1246", (51.5007, -0.1246, None, "google")),
    (
        "https://www.google.com/maps/search/?api=1&query=51.5007%2C-0.1246",
        (51.5007, -0.1246, None, "google"),
    ),
    (
        "https://maps.google.com/?q=10+Downing+Street,+London",
        (None, None, "10 Downing Street, London", "google"),
    ),
    ("https://maps.app.goo.gl/AbCdEf123", (None, None, None, "google-short")),
    ("https://goo.gl/maps/XyZ987", (None, None, None, "google-short")),
    ("https://maps.google.com/maps?q=91%2C0", (None, None, None, "google")),  # broken: a link
    # Apple Maps
    (
        "https://maps.apple.com/?ll=51.5007,-0.1246&q=Dropped%20Pin",
        (51.5007, -0.1246, "Dropped Pin", "apple"),
    ),
    ("http://maps.apple.com/?q=51.5007,-0.1246", (51.5007, -0.1246, None, "apple")),
    ("https://maps.apple.com/?q=Pizza&sll=51.5007,-0.1246", (51.5007, -0.1246, "Pizza", "apple")),
    (
        "https://maps.apple.com/?address=1%20Infinite%20Loop,%20Cupertino",
        (None, None, "1 Infinite Loop, Cupertino", "apple"),
    ),
    (
        "https://maps.apple.com/place?coordinate=51.5007,-0.1246&name=Marked%20Location",
        (51.5007, -0.1246, "Marked Location", "apple"),
    ),
    ("https://maps.apple/p/AbCdEf", (None, None, None, "apple-short")),
    # OpenStreetMap
    (
        "https://www.openstreetmap.org/?mlat=51.5007&mlon=-0.1246#map=17/51.5/-0.12",
        (51.5007, -0.1246, None, "osm"),
    ),
    ("https://www.openstreetmap.org/#map=17/51.50070/-0.12460", (51.5007, -0.1246, None, "osm")),
    ("https://osm.org/go/euu4hVqP--", (None, None, None, "osm-short")),
    # geo: URIs
    ("geo:51.5007,-0.1246", (51.5007, -0.1246, None, "geo")),
    ("geo:51.5007,-0.1246;u=35", (51.5007, -0.1246, None, "geo")),
    ("GEO:51.5007,-0.1246,15;crs=wgs84;u=10", (51.5007, -0.1246, None, "geo")),
    ("geo:0,0?q=51.5007,-0.1246(Big Ben)", (51.5007, -0.1246, "Big Ben", "geo")),
    ("geo:0,0?q=10+Downing+Street", (None, None, "10 Downing Street", "geo")),
    # A link inside a sentence, in brackets
    (
        "I'm here https://www.google.com/maps?q=51.5007,-0.1246 ok?",
        (51.5007, -0.1246, None, "google"),
    ),
    ("(https://maps.google.com/?q=51.5,-0.12).", (51.5, -0.12, None, "google")),
    ("<geo:51.5,-0.12>", (51.5, -0.12, None, "geo")),
    # Typed coordinates (with decimals, when not after LOC)
    ("51.5007, -0.1246", (51.5007, -0.1246, None, "coordinates")),
    ("51.5007, −0.1246", (51.5007, -0.1246, None, "coordinates")),  # Unicode minus
    ("(51.5007; -0.1246)", (51.5007, -0.1246, None, "coordinates")),
    # Garbage that must not parse
    ("hello", None),
    ("", None),
    ("51.5", None),
    ("12, 30", None),  # a time or a price far more often than a place
    ("51.5 -0.12 7", None),
    ("95.1, 10.2", None),
    ("geo:", None),
    ("geo:abc", None),
    ("geo:91,0", None),
    ("geo:0,181", None),
    ("https://example.com/maps?q=51.5,-0.12", None),
    ("https://maps.google.com.evil.example/?q=51.5,-0.12", None),
    ("http://[::1/maps?q=51.5,-0.12", None),
    ("maps are fun", None),
    ("ftp://maps.google.com/?q=51.5,-0.12", None),
    ("Main Street 1\nhttps://maps.google.com/maps?q=91%2C0", (None, None, None, "google")),
]


@pytest.mark.parametrize(("text", "expected"), SHAPES, ids=[repr(t[:50]) for t, _ in SHAPES])
def test_location_shapes(
    text: str, expected: tuple[float | None, float | None, str | None, str] | None
) -> None:
    location = find_location(text)
    if expected is None:
        assert location is None
        return
    assert location is not None
    assert (location.lat, location.lng, location.label, location.source) == pytest.approx(expected)


def test_the_original_is_the_part_the_location_came_from() -> None:
    location = find_location("see https://maps.app.goo.gl/AbC, thanks")
    assert location is not None
    assert location.original == "https://maps.app.goo.gl/AbC"


def test_a_share_caption_is_kept_apart() -> None:
    share = parse_signal_share(
        "Hotel Rex\nhttps://maps.google.com/maps?q=51.5%2C-0.12\n\nIN 90 room 12\nback soon"
    )
    assert share is not None
    location, caption = share
    assert (location.lat, location.lng, location.label) == (51.5, -0.12, "Hotel Rex")
    assert caption == "IN 90 room 12\nback soon"


def test_a_message_with_many_lines_before_a_url_is_not_a_share() -> None:
    text = "a\nb\nc\nd\ne\nhttps://maps.google.com/maps?q=51.5%2C-0.12"
    assert parse_signal_share(text) is None


def test_location_repr_hides_where_she_is() -> None:
    text = repr(Location(51.5, -0.12, "Hotel Rex", "signal", "https://x"))
    assert "51.5" not in text and "Hotel" not in text and "signal" in text


# --- LOC <argument> -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("51.5,-0.12", (51.5, -0.12, None, "coordinates")),
        ("51.5 -0.12", (51.5, -0.12, None, "coordinates")),
        ("51, 0", (51.0, 0.0, None, "coordinates")),
        ("51,5 -0,12", (51.5, -0.12, None, "coordinates")),  # decimal commas
        ("51°30'N 0°7'W", (51.5, -0.11667, None, "coordinates")),
        ("51°30′26″N 0°07′39″W", (51.50722, -0.1275, None, "coordinates")),
        ("51°30'26\"N, 0°7'39\"W", (51.50722, -0.1275, None, "coordinates")),
        ("N 51° 30.5' W 0° 7.6'", (51.50833, -0.12667, None, "coordinates")),
        ("51.5074° N, 0.1278° W", (51.5074, -0.1278, None, "coordinates")),
        ("51.5N 0.12W", (51.5, -0.12, None, "coordinates")),
        ("40°25'N 3°42'O", (40.41667, -3.7, None, "coordinates")),  # O = oeste
        ("23°33'S 46°38'O", (-23.55, -46.63333, None, "coordinates")),
        ("0°7'W 51°30'N", (51.5, -0.11667, None, "coordinates")),  # longitude first
        ("51.5,-0.12 Hotel Rex", (51.5, -0.12, "Hotel Rex", "coordinates")),
        ("Hotel Rex, Main St 1", (None, None, "Hotel Rex, Main St 1", "address")),
        ("12 Main Street", (None, None, "12 Main Street", "address")),
        ("Lowe Street", (None, None, "Lowe Street", "address")),
        (
            "https://maps.app.goo.gl/x1 Hotel Rex",
            (None, None, "Hotel Rex", "google-short"),
        ),
        ("geo:51.5,-0.12", (51.5, -0.12, None, "geo")),
        ("91,0", None),
        ("51.5", None),
        ("51°75'N 0°7'W", None),  # 75 minutes
        ("51°30'N 0°7'N", None),  # two latitudes
        ("geo:91,0", None),
        ("", None),
        ("   ", None),
    ],
)
def test_loc_argument(
    text: str, expected: tuple[float | None, float | None, str | None, str] | None
) -> None:
    location = location_from_argument(text)
    if expected is None:
        assert location is None
        return
    assert location is not None
    got = (location.lat, location.lng, location.label, location.source)
    assert got == pytest.approx(expected, abs=1e-4)


def test_integers_are_coordinates_only_when_asked_for() -> None:
    assert parse_coordinates("51, 0") == (51.0, 0.0)
    assert parse_coordinates("51, 0", require_decimals=True) is None


# --- links out -------------------------------------------------------------------------------


def test_osm_link_for_a_pin() -> None:
    location = Location(51.5, -0.12, None, "coordinates", "51.5,-0.12")
    assert osm_link(location) == (
        "https://www.openstreetmap.org/?mlat=51.5&mlon=-0.12#map=17/51.5/-0.12"
    )
    assert osm_link(Location(-0.0, 0.0000001, None, "geo", "geo:0,0")) == (
        "https://www.openstreetmap.org/?mlat=0&mlon=0#map=17/0/0"
    )


def test_osm_link_for_an_address_is_a_search() -> None:
    location = Location(None, None, "Rua Augusta 100, Lisboa", "address", "Rua Augusta 100, Lisboa")
    assert osm_link(location) == (
        "https://www.openstreetmap.org/search?query=Rua+Augusta+100%2C+Lisboa"
    )


def test_osm_link_needs_something_to_show() -> None:
    with pytest.raises(ValueError, match="neither coordinates nor a label"):
        osm_link(Location(None, None, None, "google-short", "https://maps.app.goo.gl/x"))


LATITUDE = st.floats(-90, 90, allow_nan=False)
LONGITUDE = st.floats(-180, 180, allow_nan=False)


@settings(max_examples=500, deadline=None)
@given(lat=LATITUDE, lng=LONGITUDE)
def test_osm_links_read_back(lat: float, lng: float) -> None:
    location = find_location(osm_link(Location(lat, lng, None, "coordinates", "")))
    assert location is not None and location.source == "osm"
    assert location.lat == pytest.approx(lat, abs=1e-6)
    assert location.lng == pytest.approx(lng, abs=1e-6)


@settings(max_examples=500, deadline=None)
@given(lat=LATITUDE, lng=LONGITUDE, label=st.text(max_size=30))
def test_android_shares_read_back(lat: float, lng: float, label: str) -> None:
    # As Signal-Android builds it: Java's Double.toString, an encoded comma.
    def java(value: float) -> str:
        return repr(value).replace("e", "E") if abs(value) < 1e-3 and value else repr(value)

    text = f"{label}\nhttps://maps.google.com/maps?q={java(lat)}%2C{java(lng)}"
    share = parse_signal_share(text)
    assert share is not None
    assert share[0].lat == pytest.approx(lat) and share[0].lng == pytest.approx(lng)


# Pieces of the shapes above, to build near-misses from.
PIECES = [
    "geo:",
    "https://",
    "maps.google.com/maps?q=",
    "%2C",
    ",",
    ";",
    "?q=",
    "(",
    ")",
    "@",
    "!3d",
    "!4d",
    "#map=",
    "/",
    "-",
    ".",
    "°",
    "'",
    '"',
    "N",
    "W",
    "O",
    "51",
    "0.12",
    "91",
    "1E-4",
    "mlat=",
    "&mlon=",
    "ll=",
    " ",
    "\n",
]


@settings(max_examples=2000, deadline=None)
@given(
    st.one_of(
        st.text(st.characters(codec=None, categories=None), max_size=120),
        st.lists(st.sampled_from(PIECES), max_size=25).map("".join),
    )
)
def test_reading_locations_never_raises_and_stays_on_earth(text: str) -> None:
    for location in (find_location(text), location_from_argument(text)):
        if location is not None and location.lat is not None and location.lng is not None:
            assert abs(location.lat) <= 90 and abs(location.lng) <= 180
