"""Small labelled (claim, evidence, label) pairs for gate tests, made by rule."""

from __future__ import annotations

CITIES = ["Paris", "Lyon", "Berlin", "Madrid", "Rome", "Vienna", "Oslo", "Lisbon", "Prague"]
THINGS = ["bridge", "museum", "library", "stadium", "tower", "harbour"]


def labelled_rows(n_groups: int = 9) -> list[dict]:
    """Number swaps, negations, entity swaps, paraphrases and unrelated pairs, labelled."""
    rows = []
    for i in range(n_groups):
        city, other = CITIES[i % len(CITIES)], CITIES[(i + 3) % len(CITIES)]
        thing = THINGS[i % len(THINGS)]
        year, height = 1850 + 7 * i, 40 + 5 * i
        ev = f"The {thing} in {city} opened in {year} and is {height} metres tall."
        rows += [
            {
                "claim": f"The {thing} in {city} opened in {year + 3}.",
                "evidence": ev,
                "label": "contradicted",
            },
            {
                "claim": f"The {thing} in {city} is {height} metres tall.",
                "evidence": ev,
                "label": "supported",
            },
            {
                "claim": f"The {thing} in {city} did not open in {year}.",
                "evidence": ev,
                "label": "contradicted",
            },
            {
                "claim": f"The {thing} in {other} opened in {year}.",
                "evidence": ev,
                "label": "contradicted",
            },
            {
                "claim": f"{city} has a famous {thing} that opened in {year}.",
                "evidence": ev,
                "label": "supported",
            },
            {
                "claim": f"The {thing} in {city} has {i + 3} elevators.",
                "evidence": ev,
                "label": "not_enough_info",
            },
            {
                "claim": f"The mayor of {other} likes cycling.",
                "evidence": ev,
                "label": "not_enough_info",
            },
        ]
    return rows
