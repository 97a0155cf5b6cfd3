"""Synthetic, deterministic workloads for the benchmarks: a product corpus and items to check.

Every product gets a short document (weight, battery, price, shipping, maker, city); items
are one-sentence claims about a product with that document as their context, half true and
half with a changed number or name, so every expert has something to do.
"""

from __future__ import annotations

from pathlib import Path

MAKERS = ["Aurora", "Fjell", "Polar", "Nordlys", "Krona", "Vinter", "Solberg", "Havn"]
KINDS = ["headphones", "speaker", "earbuds", "soundbar", "turntable", "amplifier", "radio"]
CITIES = ["Oslo", "Bergen", "Tromso", "Stavanger", "Trondheim", "Lund", "Aarhus", "Turku"]


PRODUCTS = 5000  # distinct products (documents); item j is about product j % PRODUCTS


def product(i: int) -> dict:
    """The facts of product ``i``."""
    return {
        "name": f"{MAKERS[i % len(MAKERS)]} {KINDS[i % len(KINDS)].title()} {100 + i}",
        "kind": KINDS[i % len(KINDS)],
        "weight": 120 + (i * 37) % 900,
        "hours": 8 + (i * 7) % 40,
        "price": 49 + (i * 13) % 400,
        "days": 1 + i % 6,
        "city": CITIES[i % len(CITIES)],
        "year": 2015 + i % 10,
    }


def document(i: int) -> str:
    """A document of a few paragraphs about product ``i``."""
    p = product(i)
    return (
        f"# {p['name']}\n\n"
        f"The {p['name']} is a {p['kind']} designed in {p['city']} and first sold in "
        f"{p['year']}. It weighs {p['weight']} grams and plays for up to {p['hours']} hours on "
        f"a single charge. It charges over USB-C in about two hours.\n\n"
        f"The {p['name']} costs {p['price']} euros. Orders ship within {p['days']} working "
        f"days, and returns are accepted for 30 days after delivery. The warranty lasts two "
        f"years and covers the battery.\n\n"
        f"Support for the {p['name']} is given by email and chat on working days. Firmware "
        f"updates are installed from the companion app, which also sets the equaliser."
    )


def write_corpus(folder: Path, n_docs: int) -> Path:
    """Write ``n_docs`` Markdown documents under ``folder``; returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n_docs):
        (folder / f"product-{i:05d}.md").write_text(document(i), encoding="utf-8")
    return folder


def claim(i: int, true: bool) -> str:
    """One claim about product ``i``: true, or with one changed fact."""
    p = product(i)
    kind = i % 4
    if kind == 0:
        hours = p["hours"] if true else p["hours"] + 6
        return f"The {p['name']} plays for up to {hours} hours on a single charge."
    if kind == 1:
        weight = p["weight"] if true else p["weight"] + 150
        return f"The {p['name']} weighs {weight} grams."
    if kind == 2:
        price = p["price"] if true else p["price"] * 2
        return f"The {p['name']} costs {price} euros."
    city = p["city"] if true else CITIES[(i + 3) % len(CITIES)]
    return f"The {p['name']} was designed in {city}."


def items(n: int, offset: int = 0, with_context: bool = True) -> list[dict]:
    """``n`` one-claim items (ids ``bench-<offset + i>``), half true, each with its product's
    document as context unless ``with_context`` is False (then evidence comes from the
    corpus)."""
    out = []
    for j in range(offset, offset + n):
        i = j % PRODUCTS
        record = {
            "id": f"bench-{j}",
            "text": claim(i, true=j % 2 == 0),
            "label": "supported" if j % 2 == 0 else "contradicted",
        }
        if with_context:
            record["context"] = document(i)
        out.append(record)
    return out


def queries(n: int) -> list[str]:
    """``n`` search queries about the corpus products."""
    return [claim(i, true=True) for i in range(n)]
