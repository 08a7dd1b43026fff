"""Where a member is: Signal location shares, maps links, ``geo:`` URIs, coordinates, addresses.

Owns reading a location out of message text and writing one back as a link buddies can open.
Pure functions; nothing here resolves a link over the network (a ``maps.app.goo.gl`` short link
is kept as text, without coordinates).

Shapes read:

- Signal's location share. Signal has no location message: Android sends the place name and
  address lines, then ``https://maps.google.com/maps?q=LAT%2CLNG`` (Java prints tiny numbers as
  ``1.0E-4``), then, if she typed something, a blank line and her text (the *caption*). iOS sends
  address lines, a blank line, the URL. Molly (a Signal fork) sends the lines, then
  ``OpenStreetMap: …/#map=15/LAT/LNG`` and ``Google Maps: …`` lines. The share's exact URL is
  what marks it, so its first line is a label even when it reads like a command ("Out & About").
- Google Maps links: ``?q=`` / ``?query=`` / ``?ll=`` / ``?center=`` / ``?daddr=``,
  ``/@LAT,LNG,Zz``, ``/place/NAME/@…`` (the ``!3dLAT!4dLNG`` pin is preferred to the ``@``
  view centre), ``/search/LAT,+LNG``; short links (``maps.app.goo.gl``, ``goo.gl/maps``)
  have no coordinates.
- Apple Maps: ``?ll=``, ``?coordinate=``, ``?q=``, ``?sll=``, labels from ``q``, ``name``,
  ``address``; ``maps.apple/p/…`` short links have no coordinates.
- OpenStreetMap: ``?mlat=&mlon=`` (the marker), ``#map=Z/LAT/LON`` (the view), ``?lat=&lon=``.
- ``geo:`` URIs (RFC 5870): ``geo:LAT,LNG[,ALT][;u=…]``, Android's ``geo:0,0?q=LAT,LNG(label)``
  and ``geo:0,0?q=address``.
- Typed coordinates: ``51.5,-0.12``, ``51.5 -0.12``, ``51,5 -0,12``, ``51°30'N 0°7'W``,
  ``N 51° 30.5' W 0° 7.6'``, ``51.5074° N, 0.1278° W``; ``O`` (oeste/ouest) and ``L`` (leste)
  are read as west and east.

Coordinates must satisfy |lat| ≤ 90 and |lng| ≤ 180; anything else is not a location.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qs, quote_plus, unquote, unquote_plus, urlsplit

from relay.core.normalize import ascii_punctuation, next_word, strip_ends

LocationSource = Literal[
    "signal",
    "google",
    "google-short",
    "apple",
    "apple-short",
    "osm",
    "osm-short",
    "geo",
    "coordinates",
    "address",
]


@dataclass(frozen=True, slots=True)
class Location:
    """A place a member sent. Coordinates and text stay out of ``repr``: no log line leaks them.

    ``label`` is a place name or address (from the share's lines, the link, or ``LOC <address>``);
    ``original`` is the part of the message the location was read from (the URL, the ``geo:`` URI,
    the typed coordinates or address), kept so buddies can open a link the relay could not read.
    """

    lat: float | None = field(repr=False)
    lng: float | None = field(repr=False)
    label: str | None = field(repr=False)
    source: LocationSource
    original: str = field(repr=False)

    @property
    def has_coordinates(self) -> bool:
        """Whether both coordinates are known."""
        return self.lat is not None and self.lng is not None


_MAX_TEXT = 100_000  # a longer message is not a location share; don't spend time on it
_MAX_LABEL_LINES = 4  # Android: name + address (which may wrap); iOS: a few address lines

_FLOAT = r"[-+]?\d{1,3}(?:\.\d+)?"
# Java's Double.toString: "1.0E-4" for values below 10^-3.
_JAVA_FLOAT = r"-?\d{1,3}(?:\.\d+)?(?:[eE]-?\d{1,3})?"
_SIGNAL_GOOGLE_URL = re.compile(
    rf"https?://maps\.google\.com/maps\?q=(?P<lat>{_JAVA_FLOAT})(?:%2[cC]|,)(?P<lng>{_JAVA_FLOAT})"
)
_MOLLY_OSM_URL = re.compile(
    rf"https://openstreetmap\.org/#map=15/(?P<lat>{_JAVA_FLOAT})/(?P<lng>{_JAVA_FLOAT})"
)
_SHARE_LINE = re.compile(r"(?:(?:google maps|openstreetmap)\s*:\s*)?(?P<url>\S+)", re.IGNORECASE)

_PAIR = re.compile(rf"\(?\s*(?P<lat>{_FLOAT})\s*(?:[,;]\s*|\s+)(?P<lng>{_FLOAT})\s*\)?")
_PAIR_DECIMAL_COMMA = re.compile(
    r"(?P<lat>[-+]?\d{1,3},\d+)\s*(?:;\s*|\s+)(?P<lng>[-+]?\d{1,3},\d+)"
)
_PAIR_PREFIX = re.compile(
    r"\(?\s*(?P<lat>[-+]?\d{1,3}\.\d+)\s*(?:[,;]\s*|\s+)(?P<lng>[-+]?\d{1,3}\.\d+)\s*\)?"
    r"(?=\s|\(|$)"
)


def _dms_part(name: str, hemisphere_first: bool) -> str:
    hemisphere = rf"(?P<{name}hem>[NSEWOL])"
    number = (
        rf"(?P<{name}deg>\d{{1,3}}(?:[.,]\d+)?)\s*(?:°|º|˚)?\s*"
        rf"(?:(?P<{name}min>\d{{1,2}}(?:[.,]\d+)?)\s*(?:'|′)\s*)?"
        rf"(?:(?P<{name}sec>\d{{1,2}}(?:[.,]\d+)?)\s*(?:\"|″|''|′′|”)\s*)?"
    )
    return rf"{hemisphere}\s*{number}" if hemisphere_first else rf"{number}{hemisphere}"


# "51°30'N 0°7'W" or "N 51° 30.5' W 0° 7.6'": the hemisphere letter after or before each number.
_DMS = tuple(
    re.compile(_dms_part("a", first) + r"\s*[,;]?\s*" + _dms_part("b", first), re.IGNORECASE)
    for first in (False, True)
)
# Only digits, signs, separators, degree marks and hemisphere letters: a coordinate attempt.
_COORDINATE_ATTEMPT = re.compile(r"[\d\s.,;:+\-−°º˚'′″\"”()NSEWOLnsewol]+")

_GOOGLE_HOST = re.compile(r"(?:maps\.)?google\.(?:[a-z]{2,3}|co\.[a-z]{2}|com\.[a-z]{2})")
_GOOGLE_PIN = re.compile(rf"!3d(?P<lat>{_FLOAT})!4d(?P<lng>{_FLOAT})")
_GOOGLE_AT = re.compile(rf"/@(?P<lat>{_FLOAT}),(?P<lng>{_FLOAT})")
_OSM_FRAGMENT = re.compile(rf"map=\d{{1,2}}(?:\.\d+)?/(?P<lat>{_FLOAT})/(?P<lng>{_FLOAT})")
_LINK_MARKERS = (
    "geo:",
    "google.",
    "goo.gl",
    "maps.apple",
    "openstreetmap.org",
    "osm.org",
)
_LINK_TRIM = "<>()[]{}\"'«»“”‘’.,;:!?"


def _valid(lat: float, lng: float) -> bool:
    return math.isfinite(lat) and math.isfinite(lng) and abs(lat) <= 90 and abs(lng) <= 180


def _float(text: str) -> float:
    return float(ascii_punctuation(text).replace(",", "."))


def _pair(lat_text: str, lng_text: str) -> tuple[float, float] | None:
    try:
        lat, lng = _float(lat_text), _float(lng_text)
    except ValueError:
        return None
    return (lat, lng) if _valid(lat, lng) else None


def _dms_value(match: re.Match[str], name: str) -> tuple[float, str] | None:
    degrees = match[f"{name}deg"]
    value = _float(degrees)
    minutes, seconds = match[f"{name}min"], match[f"{name}sec"]
    if minutes is not None:
        if "." in degrees or "," in degrees or _float(minutes) >= 60:
            return None
        value += _float(minutes) / 60
    if seconds is not None:
        if _float(seconds) >= 60:
            return None
        value += _float(seconds) / 3600
    hemisphere = match[f"{name}hem"].upper()
    return (-value if hemisphere in ("S", "W", "O") else value), hemisphere


def _parse_dms(text: str) -> tuple[float, float] | None:
    match = _DMS[0].fullmatch(text) or _DMS[1].fullmatch(text)
    if not match:
        return None
    first, second = _dms_value(match, "a"), _dms_value(match, "b")
    if first is None or second is None:
        return None
    (a, a_hem), (b, b_hem) = first, second
    if a_hem in "EWOL" and b_hem in "NS":
        a, b, a_hem, b_hem = b, a, b_hem, a_hem
    if a_hem not in "NS" or b_hem not in "EWOL":
        return None
    return (a, b) if _valid(a, b) else None


def parse_coordinates(text: str, *, require_decimals: bool = False) -> tuple[float, float] | None:
    """Read a whole text as a latitude/longitude pair; ``None`` if it is not exactly one.

    With ``require_decimals`` (a message without ``LOC``), plain integers such as ``12, 30`` are
    refused: they are a time, a price or a room far more often than a place.
    """
    text = strip_ends(ascii_punctuation(text))
    if not text or len(text) > 200:
        return None
    for pattern in (_PAIR, _PAIR_DECIMAL_COMMA):
        match = pattern.fullmatch(text)
        if match:
            if require_decimals and not (
                any(ch in match["lat"] for ch in ".,") and any(ch in match["lng"] for ch in ".,")
            ):
                return None
            return _pair(match["lat"], match["lng"])
    return _parse_dms(text)


def _coordinates_then_label(text: str) -> tuple[float, float, str | None] | None:
    """``51.5,-0.12 Hotel Rex`` or ``51.5,-0.12(Hotel Rex)`` → coordinates and label."""
    text = strip_ends(ascii_punctuation(text))
    match = _PAIR_PREFIX.match(text)
    if not match:
        return None
    pair = _pair(match["lat"], match["lng"])
    if pair is None:
        return None
    rest = strip_ends(text[match.end() :])
    if rest.startswith("(") and rest.endswith(")"):
        rest = strip_ends(rest[1:-1])
    return pair[0], pair[1], rest or None


def _looks_like_coordinates(text: str) -> bool:
    """Digits with only coordinate punctuation and hemisphere letters: ``91,0``, ``51.5N``."""
    return bool(_COORDINATE_ATTEMPT.fullmatch(text)) and any(ch.isdigit() for ch in text)


def _first(query: dict[str, list[str]], key: str) -> str | None:
    values = query.get(key)
    return strip_ends(values[0]) if values and strip_ends(values[0]) else None


def _from_query_value(value: str) -> tuple[float, float, str | None] | None:
    value = value.removeprefix("loc:").strip()
    pair = parse_coordinates(value)
    if pair:
        return pair[0], pair[1], None
    return _coordinates_then_label(value)


def _from_google(url: str, path: str, query: dict[str, list[str]]) -> Location:
    lat: float | None = None
    lng: float | None = None
    label: str | None = None
    pin = _GOOGLE_PIN.search(url)
    if pin:
        pair = _pair(pin["lat"], pin["lng"])
        if pair:
            lat, lng = pair
    for key in ("q", "query", "ll", "center", "daddr", "destination", "sll"):
        value = _first(query, key)
        if value is None:
            continue
        found = _from_query_value(value)
        if found:
            if lat is None:
                lat, lng = found[0], found[1]
            label = label or found[2]
        elif key in ("q", "query", "daddr", "destination") and label is None:
            # "q=91,0" is broken coordinates, not a place name.
            label = None if _looks_like_coordinates(value) else value
    segments = [unquote_plus(s) for s in path.split("/") if s]
    for keyword in ("place", "search"):
        if keyword in segments:
            index = segments.index(keyword)
            if index + 1 < len(segments) and not segments[index + 1].startswith("@"):
                segment = strip_ends(segments[index + 1])
                found = _from_query_value(segment)
                if found and lat is None:
                    lat, lng = found[0], found[1]
                elif not found and label is None and segment:
                    label = segment
    if lat is None:
        at = _GOOGLE_AT.search(path)
        if at:
            pair = _pair(at["lat"], at["lng"])
            if pair:
                lat, lng = pair
    return Location(lat=lat, lng=lng, label=label, source="google", original=url)


def _from_apple(url: str, query: dict[str, list[str]]) -> Location:
    lat: float | None = None
    lng: float | None = None
    for key in ("ll", "coordinate", "q", "sll"):
        value = _first(query, key)
        found = _from_query_value(value) if value else None
        if found:
            lat, lng = found[0], found[1]
            break
    label = None
    for key in ("name", "q", "address"):
        value = _first(query, key)
        if value and not _looks_like_coordinates(value):
            label = value
            break
    return Location(lat=lat, lng=lng, label=label, source="apple", original=url)


def _from_osm(
    url: str, host: str, path: str, query: dict[str, list[str]], fragment: str
) -> Location:
    for lat_key, lng_key in (("mlat", "mlon"), ("lat", "lon")):
        lat_text, lng_text = _first(query, lat_key), _first(query, lng_key)
        if lat_text and lng_text:
            pair = _pair(lat_text, lng_text)
            if pair:
                return Location(pair[0], pair[1], None, "osm", url)
    view = _OSM_FRAGMENT.search(fragment)
    if view:
        pair = _pair(view["lat"], view["lng"])
        if pair:
            return Location(pair[0], pair[1], None, "osm", url)
    source: LocationSource = "osm-short" if host == "osm.org" and path.startswith("/go/") else "osm"
    return Location(None, None, None, source, url)


def _from_geo(uri: str) -> Location | None:
    body = uri[4:]
    body, _, query_text = body.partition("?")
    coordinates = unquote(body.split(";")[0])
    numbers = coordinates.split(",")
    pair = _pair(numbers[0], numbers[1]) if len(numbers) in (2, 3) else None
    q = _first(parse_qs(query_text), "q") if query_text else None
    if q and (pair is None or pair == (0.0, 0.0)):
        # Android's "geo:0,0?q=…": the query is the place.
        found = _from_query_value(q)
        if found:
            return Location(found[0], found[1], found[2], "geo", uri)
        if pair is not None and not _looks_like_coordinates(q):
            return Location(None, None, q, "geo", uri)
    if pair is None:
        return None
    label = q if q and not _looks_like_coordinates(q) else None
    return Location(pair[0], pair[1], label, "geo", uri)


def _location_from_link(token: str) -> Location | None:
    """Read one whitespace-free token as a maps link or ``geo:`` URI."""
    if token[:4].lower() == "geo:":
        return _from_geo(token)
    url = token if "://" in token else "https://" + token
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").removeprefix("www.")
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https"):
        return None
    path = unquote(parts.path)
    query = parse_qs(parts.query)
    if host == "maps.app.goo.gl" or (host == "goo.gl" and path.startswith("/maps")):
        return Location(None, None, None, "google-short", token)
    if _GOOGLE_HOST.fullmatch(host) and (host.startswith("maps.") or path.startswith("/maps")):
        return _from_google(token, path, query)
    if host in ("maps.apple.com", "beta.maps.apple.com"):
        return _from_apple(token, query)
    if host == "maps.apple":
        return Location(None, None, None, "apple-short", token)
    if host in ("openstreetmap.org", "osm.org") or host.endswith(".openstreetmap.org"):
        return _from_osm(token, host, path, query, parts.fragment)
    return None


def _trim_link(token: str) -> str:
    """Drop sentence punctuation after a link; keep a ``)`` that closes a ``(`` in it."""
    while token and token[-1] in _LINK_TRIM:
        if token[-1] == ")" and token.count("(") >= token.count(")"):
            break
        token = token[:-1]
    return token


def _find_link(text: str) -> tuple[Location, int, int] | None:
    """The first maps link or ``geo:`` URI in the text, with its span."""
    index = 0
    while True:
        start, index = next_word(text, index)
        if start == index:
            return None
        token = text[start:index]
        lowered = token.lower()
        if not any(marker in lowered for marker in _LINK_MARKERS):
            continue
        if lowered.startswith("geo:") and token.count("(") > token.count(")"):
            # "geo:0,0?q=51.5,-0.12(Big Ben)": a label in brackets may hold spaces.
            close = text.find(")", index, index + 200)
            if close != -1 and "\n" not in text[index:close]:
                index = close + 1
                token = text[start:index]
        lead = len(token) - len(token.lstrip(_LINK_TRIM))
        token = _trim_link(token[lead:])
        if not token:
            continue
        location = _location_from_link(token)
        if location is not None:
            return location, start + lead, start + lead + len(token)


def _share_url(line: str) -> tuple[float, float, str] | None:
    match = _SHARE_LINE.fullmatch(strip_ends(line))
    if not match:
        return None
    url = match["url"]
    for pattern in (_SIGNAL_GOOGLE_URL, _MOLLY_OSM_URL):
        found = pattern.fullmatch(url)
        if found:
            pair = _pair(found["lat"], found["lng"])
            return (pair[0], pair[1], url) if pair else None
    return None


def parse_signal_share(text: str) -> tuple[Location, str | None] | None:
    """Read a Signal location share: the location and her caption (text she typed with it).

    The label is the share's name and address lines joined with ``", "``.
    """
    if len(text) > _MAX_TEXT:
        return None
    lines = text.split("\n")
    labels: list[str] = []
    for index, line in enumerate(lines):
        found = _share_url(line)
        if found is None:
            stripped = strip_ends(line)
            if stripped:
                labels.append(stripped)
                if len(labels) > _MAX_LABEL_LINES:
                    return None
            continue
        after = index + 1
        while after < len(lines) and (not strip_ends(lines[after]) or _share_url(lines[after])):
            after += 1
        caption = strip_ends("\n".join(lines[after:])) or None
        lat, lng, url = found
        location = Location(lat, lng, ", ".join(labels) or None, "signal", url)
        return location, caption
    return None


def split_location(text: str) -> tuple[Location, str | None] | None:
    """Find a location in a message and return it with the rest of the message.

    The rest is a share's caption, or the text around a link, or ``None``. Order: a Signal share,
    then the first maps link or ``geo:`` URI anywhere, then the whole text as coordinates written
    with decimals or degrees.
    """
    if len(text) > _MAX_TEXT:
        return None
    share = parse_signal_share(text)
    if share is not None:
        return share
    link = _find_link(text)
    if link is not None:
        location, start, end = link
        rest = strip_ends(strip_ends(text[:start]) + " " + strip_ends(text[end:]))
        return location, rest or None
    pair = parse_coordinates(text, require_decimals=True)
    if pair is not None:
        return Location(pair[0], pair[1], None, "coordinates", strip_ends(text)), None
    return None


def find_location(text: str) -> Location | None:
    """The location in a message (share, link, ``geo:`` URI, coordinates), or ``None``."""
    found = split_location(text)
    return found[0] if found else None


def location_from_argument(text: str) -> Location | None:
    """What ``LOC <text>`` means: a link, coordinates (with an optional label) or an address.

    Text that is only digits and coordinate punctuation but not valid coordinates (``91,0``,
    ``51.5``) is ``None``, not an address: she tried coordinates and should be told they failed.
    """
    text = strip_ends(text)
    if not text or len(text) > _MAX_TEXT:
        return None
    found = split_location(text)
    if found is not None:
        location, rest = found
        if location.label is None and rest is not None and location.source != "signal":
            return Location(location.lat, location.lng, rest, location.source, location.original)
        return location
    pair = parse_coordinates(text)
    if pair is not None:
        return Location(pair[0], pair[1], None, "coordinates", text)
    with_label = _coordinates_then_label(text)
    if with_label is not None:
        return Location(with_label[0], with_label[1], with_label[2], "coordinates", text)
    if _looks_like_coordinates(text):
        return None
    if any(marker in text.lower() for marker in _LINK_MARKERS):
        return None  # a maps link or geo: URI that does not read: not an address either
    return Location(None, None, text, "address", text)


def _format_degrees(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def osm_link(loc: Location) -> str:
    """A link buddies can open: the pin on OpenStreetMap, or an OSM search for the address.

    Raises ``ValueError`` for a location with neither coordinates nor a label (a short link):
    send its ``original`` instead.
    """
    if loc.lat is not None and loc.lng is not None:
        lat, lng = _format_degrees(loc.lat), _format_degrees(loc.lng)
        return f"https://www.openstreetmap.org/?mlat={lat}&mlon={lng}#map=17/{lat}/{lng}"
    if loc.label:
        return "https://www.openstreetmap.org/search?query=" + quote_plus(loc.label)
    raise ValueError("location has neither coordinates nor a label")
