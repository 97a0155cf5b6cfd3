"""Finding numbers, dates, quantities and units in text, normalised for comparison."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from experts.verifiers.text import STOP_WORDS, stem

MONTHS = {
    m: i + 1
    for i, m in enumerate(
        [
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ]
    )
}
MONTHS.update({m[:3]: i for m, i in list(MONTHS.items())})
MONTHS["sept"] = 9

SCALES = {
    "thousand": 1e3,
    "k": 1e3,
    "million": 1e6,
    "m": 1e6,
    "mn": 1e6,
    "billion": 1e9,
    "bn": 1e9,
    "b": 1e9,
    "trillion": 1e12,
    "dozen": 12,
    "hundred": 100,
}
WORD_NUMBERS = {
    w: i
    for i, w in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
}
WORD_NUMBERS.update(
    {"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80}
)
WORD_NUMBERS.update({"ninety": 90, "half": 0.5, "once": 1, "twice": 2, "thrice": 3})

# unit token -> (dimension, factor to the dimension's base unit)
UNITS: dict[str, tuple[str, float]] = {
    "%": ("percent", 1),
    "percent": ("percent", 1),
    "pct": ("percent", 1),
    "mm": ("length", 1e-3),
    "cm": ("length", 1e-2),
    "m": ("length", 1),
    "meter": ("length", 1),
    "metre": ("length", 1),
    "km": ("length", 1e3),
    "kilometer": ("length", 1e3),
    "kilometre": ("length", 1e3),
    "mile": ("length", 1609.344),
    "ft": ("length", 0.3048),
    "feet": ("length", 0.3048),
    "foot": ("length", 0.3048),
    "inch": ("length", 0.0254),
    "mg": ("mass", 1e-3),
    "g": ("mass", 1),
    "gram": ("mass", 1),
    "kg": ("mass", 1e3),
    "kilogram": ("mass", 1e3),
    "tonne": ("mass", 1e6),
    "ton": ("mass", 1e6),
    "lb": ("mass", 453.59237),
    "second": ("time", 1),
    "sec": ("time", 1),
    "minute": ("time", 60),
    "min": ("time", 60),
    "hour": ("time", 3600),
    "hr": ("time", 3600),
    "day": ("time", 86400),
    "week": ("time", 604800),
    "month": ("time", 2629800),
    "year": ("time", 31557600),
    "decade": ("time", 315576000),
    "century": ("time", 3155760000),
    "$": ("usd", 1),
    "usd": ("usd", 1),
    "dollar": ("usd", 1),
    "€": ("eur", 1),
    "eur": ("eur", 1),
    "euro": ("eur", 1),
    "£": ("gbp", 1),
    "gbp": ("gbp", 1),
    "pound": ("gbp", 1),
    "ml": ("volume", 1e-3),
    "l": ("volume", 1),
    "liter": ("volume", 1),
    "litre": ("volume", 1),
    "°c": ("celsius", 1),
    "celsius": ("celsius", 1),
    "°f": ("fahrenheit", 1),
    "fahrenheit": ("fahrenheit", 1),
    "kwh": ("energy", 3.6e6),
    "mw": ("power", 1e6),
    "kw": ("power", 1e3),
    "w": ("power", 1),
    "watt": ("power", 1),
}

NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+"
TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
# "twenty-five" before "twenty": a compound number word is one number.
NUMBER_WORD = (
    r"\b(?:(?:" + "|".join(TENS) + r")-(?:one|two|three|four|five|six|seven|eight|nine)\b"
    r"|(?:" + "|".join(WORD_NUMBERS) + r")\b)"
)
# A numeral glued to letters or a hyphen ("X2", "S1", "IP67", "B-52") is part of a name; a
# unit may follow a hyphen ("a 10-minute charge", "a two-year warranty").
QUANTITY_RE = re.compile(
    r"(?P<cur>[$€£])?\s?(?P<num>(?<![A-Za-z\d])(?<![A-Za-z]-)(?:" + NUM + r")(?![A-Za-z]*\d)"
    r"|" + NUMBER_WORD + r")"
    r"(?:\s?(?P<scale>thousand|million|billion|trillion|dozen|hundred|bn|mn|k|m|b)\b)?"
    r"(?:[\s-]?(?P<unit>%|°[cf]|[a-z]+))?",
    re.IGNORECASE,
)
# "4.99 EUR per month", "49 EUR a year", "80 km/h": an amount per unit of time.
RATE_RE = re.compile(r"(?:\s*/\s*|\s+(?:per|a|an|each|every)\s+)(?P<per>[a-z]+)\b", re.IGNORECASE)
DATE_RE = re.compile(
    r"\b(?:(?P<d1>\d{1,2})(?:st|nd|rd|th)?\s+(?P<m1>[a-z]{3,9})\.?,?\s+(?P<y1>\d{4})"
    r"|(?P<m2>[a-z]{3,9})\.?\s+(?:(?P<d2>\d{1,2})(?:st|nd|rd|th)?,?\s+)?(?P<y2>\d{4})"
    r"|(?P<y3>\d{4})-(?P<m3>\d{2})-(?P<d3>\d{2}))\b",
    re.IGNORECASE,
)
YEAR_RE = re.compile(r"^(1[0-9]{3}|20[0-9]{2})$")
CONTEXT_WINDOW = 6


@dataclass(frozen=True)
class Quantity:
    """A value found in text: its dimension, its value in base units, and nearby words."""

    text: str
    dimension: str  # "date", "year", "percent", "length", "count:<noun>", "number", ...
    value: float | tuple[int | None, int | None, int | None]
    precision: float  # absolute tolerance of ``value`` from the digits given
    start: int
    context: frozenset[str] = field(default_factory=frozenset)
    # The nearest content word on either side within its sentence: what it quantifies
    # ("minutes of charging", "a 10-minute charge") and what it does.
    near: frozenset[str] = field(default_factory=frozenset)
    # Seconds of the time unit it is given per ("4.99 EUR per month"), None for an amount.
    per: float | None = None


def unit_lookup(word: str) -> str:
    """The ``UNITS`` key of a unit word ("metres" -> "metre"), or its stem if not a unit."""
    for cand in (word, word[:-1], word[:-2], word[:-3] + "y"):
        if cand and cand in UNITS and (cand == word or len(word) > 2):
            return cand
    return stem(word)


def _parse_number(raw: str) -> tuple[float, float]:
    """Value and rounding tolerance of a numeral ("3.5" -> 3.5 +- 0.05)."""
    low = raw.lower()
    if low in WORD_NUMBERS:
        return float(WORD_NUMBERS[low]), 0.0
    if "-" in low:  # "twenty-five"
        tens, ones = low.split("-")
        return float(WORD_NUMBERS[tens] + WORD_NUMBERS[ones]), 0.0
    clean = raw.replace(",", "")
    decimals = len(clean.split(".")[1]) if "." in clean else 0
    value = float(clean)
    if decimals:
        return value, 0.5 * 10**-decimals
    return value, 0.0


# Where a quantity's sentence ends: a line break (a table row, a list item) or terminal
# punctuation before a space (not the point of "4.99").
SENTENCE_END = re.compile(r"\n|[.!?;](?=\s)")
CONTEXT_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_NOT_CONTEXT = STOP_WORDS | MONTHS.keys() | SCALES.keys() | UNITS.keys() | WORD_NUMBERS.keys()


def sentence_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """The start and end of the sentence (or line) holding ``text[start:end]``."""
    left = max((m.end() for m in SENTENCE_END.finditer(text, 0, start)), default=0)
    right = SENTENCE_END.search(text, end)
    return left, right.start() if right else len(text)


def _context_words(text: str) -> list[str]:
    """The stemmed content words of ``text`` in order (units, numbers, months left out)."""
    out = []
    for w in CONTEXT_WORD.findall(text):
        low = w.lower()
        if low not in _NOT_CONTEXT and stem(low) not in UNITS:
            out.append(stem(low))
    return out


def _context(text: str, start: int, end: int) -> tuple[frozenset[str], frozenset[str]]:
    """The content words around ``text[start:end]`` within its sentence (at most
    ``CONTEXT_WINDOW`` a side; model names such as "X2" kept whole), and the nearest one on
    each side."""
    left_end, right_end = sentence_bounds(text, start, end)
    left = _context_words(text[left_end:start])
    right = _context_words(text[end:right_end])
    near = frozenset(left[-1:] + right[:1])
    return frozenset(left[-CONTEXT_WINDOW:] + right[:CONTEXT_WINDOW]), near


def _month(name: str | None) -> int | None:
    return MONTHS.get(name.lower().rstrip(".")) if name else None


def find_dates(text: str) -> list[Quantity]:
    """Calendar dates ("3 March 2020", "March 2020", "2020-03-03")."""
    found = []
    for m in DATE_RE.finditer(text):
        g = m.groupdict()
        if g["y3"]:
            ymd = (int(g["y3"]), int(g["m3"]), int(g["d3"]))
        else:
            month = _month(g["m1"] or g["m2"])
            if month is None:
                continue
            day = g["d1"] or g["d2"]
            ymd = (int(g["y1"] or g["y2"]), month, int(day) if day else None)
        ctx, near = _context(text, m.start(), m.end())
        found.append(Quantity(m.group(0), "date", ymd, 0.0, m.start(), ctx, near))
    return found


VERSION_WORDS = frozenset(
    {
        "version",
        "ver",
        "v",
        "firmware",
        "release",
        "ios",
        "android",
        "macos",
        "windows",
        "bluetooth",
        "usb",
        "wi",
        "wifi",
        "gen",
        "generation",
        "series",
        "model",
        "mk",
        "mark",
    }
)


def _is_version(text: str, start: int, raw: str) -> bool:
    """A numeral named by the word before it (a version, a model, a standard) or written as
    a dotted version ("3.2.1")."""
    before = re.findall(r"[A-Za-z]+", text[max(0, start - 24) : start])
    if before and before[-1].lower() in VERSION_WORDS and text[start - 1 : start].isspace():
        return True
    return bool(re.match(r"\d+\.\d+\.\d+", text[start:]))


def find_quantities(text: str) -> list[Quantity]:
    """Every date, year, percentage, amount and counted quantity in ``text``."""
    found = find_dates(text)
    taken = [(q.start, q.start + len(q.text)) for q in found]
    for m in QUANTITY_RE.finditer(text):
        if any(a <= m.start("num") < b for a, b in taken):
            continue
        raw = m.group("num")
        value, tol = _parse_number(raw)
        scale_word = (m.group("scale") or "").lower()
        unit_word = (m.group("unit") or "").lower()
        end = m.end()
        if unit_word in WORD_NUMBERS:  # "ten-twenty", "one two": no unit
            unit_word, end = "", m.end("scale") if m.group("scale") else m.end("num")
        if scale_word in ("m", "b") and not m.group("cur"):
            # "5 m" is metres unless it is money
            unit_word, scale_word, end = scale_word, "", m.end("scale")
        scale = SCALES.get(scale_word, 1.0)
        unit_key = unit_lookup(unit_word)
        begin = m.start("cur") if m.group("cur") else m.start("num")
        if m.group("cur"):
            dimension, factor = UNITS[m.group("cur")]
            if unit_key not in UNITS or UNITS[unit_key][0] != dimension:
                end = m.end("scale") if m.group("scale") else m.end("num")
        elif unit_key in UNITS:
            dimension, factor = UNITS[unit_key]
        elif YEAR_RE.match(raw) and not scale_word:
            dimension, factor, end = "year", 1.0, m.end("num")
        elif unit_word and unit_word not in STOP_WORDS and raw.lower() not in ("once", "twice"):
            dimension, factor = f"count:{stem(unit_word)}", 1.0
        else:
            dimension, factor = "number", 1.0
            end = m.end("scale") if m.group("scale") else m.end("num")
        if raw.lower() in WORD_NUMBERS and dimension in ("number", "year"):
            continue  # a bare "one" is rarely a quantity
        if _is_version(text, m.start("num"), raw):
            continue  # "firmware 3.2", "iOS 15", "version 2": a name, not an amount
        ctx, near = _context(text, begin, end)
        total = value * scale * factor
        per = _rate(text, end) if dimension not in ("number", "year", "time") else None
        found.append(
            Quantity(text[begin:end], dimension, total, tol * scale * factor, begin, ctx, near, per)
        )
    return sorted(found, key=lambda q: q.start)


def _rate(text: str, end: int) -> float | None:
    """Seconds of the time unit an amount ending at ``end`` is given per ("per month")."""
    m = RATE_RE.match(text, end)
    if not m:
        return None
    unit = UNITS.get(unit_lookup(m.group("per").lower()))
    return unit[1] if unit and unit[0] == "time" else None


def same_value(a: Quantity, b: Quantity) -> bool:
    """Equal values within the rounding either side's digits allow; dates per known part."""
    if a.dimension == "date" or b.dimension == "date":
        ya, ma, da = a.value if isinstance(a.value, tuple) else (int(a.value), None, None)
        yb, mb, db = b.value if isinstance(b.value, tuple) else (int(b.value), None, None)
        return all(x == y for x, y in ((ya, yb), (ma, mb), (da, db)) if x and y)
    if a.per and b.per:  # both rates: per second ("49 EUR a year" is not "4.99 EUR a month")
        av, bv = a.value / a.per, b.value / b.per
        tol = max(a.precision / a.per, b.precision / b.per, 1e-9 * max(abs(av), abs(bv)))
        return math.isclose(av, bv, abs_tol=tol)
    tol = max(a.precision, b.precision, 1e-9 * max(abs(a.value), abs(b.value), 1.0))
    return math.isclose(a.value, b.value, abs_tol=tol)


def comparable(a: Quantity, b: Quantity) -> bool:
    """Whether two quantities measure the same kind of thing (a date and a year compare)."""
    dates = {"date", "year"}
    if a.dimension in dates and b.dimension in dates:
        return True
    if a.dimension == "number" or b.dimension == "number":
        return a.dimension == b.dimension or "count:" in a.dimension + b.dimension
    return a.dimension == b.dimension
