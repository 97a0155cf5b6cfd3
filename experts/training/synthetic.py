"""Synthetic (evidence, claim, label) pairs from plain source texts, each transform named.

The experts learned word overlap: supported claims in the labelled sets copy their source,
unsupported ones do not. These pairs break that link. Supported claims here drop words
(compressions) or join two sentences (fusions); contradicted and not-enough-info claims keep
almost every word of the source and change one thing: a name, a number, a negation, an
antonym, who did what to whom, a quantifier, or an added clause the source does not state.

Every pair's evidence is a window of its source (the sentence and its neighbours), so the
model must read the window to tell the labels apart. One function builds them,
deterministic by seed, from any frame of documents (``doc_id``, ``text``): the training
mix uses VitaminC evidence, HaluEval knowledge and documents and news articles; a domain
expert uses a user's own chunks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from experts.training.augment import _NUMBER, other_number
from experts.verifiers.entities import find_entities
from experts.verifiers.text import STOP_WORDS, content_tokens

# Transform name -> the label of the pair it makes.
TRANSFORMS: dict[str, str] = {
    "identity": "supported",
    "compression": "supported",
    "fusion": "supported",
    "entity_swap": "contradicted",
    "number_change": "contradicted",
    "negation": "contradicted",
    "antonym": "contradicted",
    "role_swap": "contradicted",
    "quantifier": "contradicted",
    "added_clause": "not_enough_info",
    "other_document": "not_enough_info",
}

_AUX = re.compile(
    r"\b(is|are|was|were|has|have|had|can|could|will|would|should|may|might|must|does|did|do)\b"
)
_NEGATED = re.compile(
    r"\b(is|are|was|were|has|have|had|can|could|will|would|should|does|did|do)"
    r"(?: not|n't)\b|\bnever\b",
    re.IGNORECASE,
)
_PAREN = re.compile(r"\s*\([^()]*\)")
_APPOSITIVE = re.compile(r",\s[^,]{3,80},\s")
_TRAILING = re.compile(r",\s(?:which|who|where|while|although|though|after|before|when)\b[^.]*")
_QUANTIFIERS = [
    ("all", "some"),
    ("always", "sometimes"),
    ("every", "no"),
    ("many", "few"),
    ("most", "few"),
    ("only", "also"),
    ("both", "neither"),
    ("several", "no"),
]
# Same part of speech on both sides, so the swapped sentence stays grammatical.
_ANTONYMS = [
    ("increase", "decrease"),
    ("increased", "decreased"),
    ("rose", "fell"),
    ("won", "lost"),
    ("win", "lose"),
    ("before", "after"),
    ("more", "less"),
    ("higher", "lower"),
    ("larger", "smaller"),
    ("above", "below"),
    ("accepted", "rejected"),
    ("first", "last"),
    ("north", "south"),
    ("east", "west"),
    ("positive", "negative"),
    ("majority", "minority"),
    ("alive", "dead"),
    ("legal", "illegal"),
    ("earlier", "later"),
    ("longer", "shorter"),
    ("older", "younger"),
    ("oldest", "youngest"),
    ("largest", "smallest"),
    ("highest", "lowest"),
    ("best", "worst"),
    ("better", "worse"),
    ("maximum", "minimum"),
    ("inside", "outside"),
    ("early", "late"),
    ("strong", "weak"),
    ("cheap", "expensive"),
    ("easy", "difficult"),
    ("ancient", "modern"),
    ("success", "failure"),
    ("victory", "defeat"),
]
_SWAP_WORDS = {a: b for a, b in _ANTONYMS} | {b: a for a, b in _ANTONYMS}
# Sentence ends, but not after a title or an initial ("Dr. Smith", "J. Smith", "U.S. forces").
_SENTENCE_END = re.compile(
    r"(?<!\b[A-Z])(?<!\bMr)(?<!\bMrs)(?<!\bMs)(?<!\bDr)(?<!\bSt)(?<!\bJr)(?<!\bNo)(?<!\bvs)"
    r"(?<=[.!?])\s+(?=[\"'“‘(]?[A-Z0-9])"
)
_QUANT = {a: b for a, b in _QUANTIFIERS} | {b: a for a, b in _QUANTIFIERS if b not in ("no",)}
_ADDED = [
    "which was later reversed",
    "for the first time in its history",
    "according to a 2015 survey",
    "after a long public dispute",
    "largely because of funding cuts",
    "despite strong local opposition",
    "with support from the national government",
    "two years ahead of schedule",
]


@dataclass(frozen=True)
class SourceSentence:
    """A sentence of a document and the window of text around it."""

    doc_id: str
    index: int
    text: str
    window: str


def split_sentences(text: str) -> list[str]:
    """Sentences of a source text (whitespace normalised)."""
    text = re.sub(r"\s+", " ", text).strip()
    return [p.strip() for p in _SENTENCE_END.split(text) if p.strip()]


def _window(sents: list[str], i: int, max_words: int) -> str:
    """Sentence ``i`` with neighbours on both sides while they fit in ``max_words``."""
    lo, hi = i, i + 1
    words = len(sents[i].split())
    while True:
        grew = False
        for j in (hi, lo - 1):
            if 0 <= j < len(sents) and not (lo <= j < hi):
                n = len(sents[j].split())
                if words + n <= max_words:
                    lo, hi = min(lo, j), max(hi, j + 1)
                    words += n
                    grew = True
        if not grew:
            return " ".join(sents[lo:hi])


def source_sentences(
    docs: pd.DataFrame, max_words: int = 90, min_words: int = 6, max_sentence_words: int = 45
) -> list[SourceSentence]:
    """Usable sentences of ``docs`` (columns ``doc_id``, ``text``) with their windows."""
    out = []
    for doc_id, text in docs[["doc_id", "text"]].itertuples(index=False):
        sents = split_sentences(str(text))
        for i, sent in enumerate(sents):
            n = len(sent.split())
            if min_words <= n <= max_sentence_words and sent[-1] in ".!" and sent[0].isupper():
                out.append(SourceSentence(str(doc_id), i, sent, _window(sents, i, max_words)))
    return out


def _end(sent: str) -> str:
    return sent.rstrip(" .!?")


def compression(s: SourceSentence, rng: np.random.Generator) -> str | None:
    """Drop a parenthesis, an appositive or a trailing subordinate clause."""
    for pattern, repl in ((_PAREN, ""), (_APPOSITIVE, " "), (_TRAILING, "")):
        if pattern.search(s.text):
            out = re.sub(r"\s+([,.;])", r"\1", pattern.sub(repl, s.text, count=1)).strip()
            if len(out.split()) >= 4 and out != s.text:
                return out if out[-1] in ".!?" else out + "."
    return None


def entity_swap(s: SourceSentence, doc_entities: list[str], rng) -> str | None:
    """A name of the sentence replaced by another name of the same document."""
    names = [e for e in find_entities(s.text) if e.start > 0 and len(e.text) > 2]
    names = [e for e in names if e.text.lower() not in STOP_WORDS]
    if not names:
        return None
    target = names[int(rng.integers(len(names)))]
    same_shape = [
        d
        for d in doc_entities
        if d.lower() != target.text.lower()
        and len(d.split()) == len(target.text.split())
        and d not in s.text
    ]
    if not same_shape:
        return None
    new = same_shape[int(rng.integers(len(same_shape)))]
    return s.text[: target.start] + new + s.text[target.start + len(target.text) :]


def number_change(s: SourceSentence, rng) -> str | None:
    """One number of the sentence changed (years by a few years, other values by a factor)."""
    found = list(_NUMBER.finditer(s.text))
    if not found:
        return None
    m = found[int(rng.integers(len(found)))]
    return s.text[: m.start()] + other_number(m.group(), rng) + s.text[m.end() :]


def negation(s: SourceSentence, rng) -> str | None:
    """A negation removed where the sentence has one, inserted after its first auxiliary."""
    m = _NEGATED.search(s.text)
    if m:
        word = m.group(0)
        if word.lower() == "never":
            return (
                s.text[: m.start()] + ("Ever" if word[0].isupper() else "ever") + s.text[m.end() :]
            )
        return s.text[: m.start()] + m.group(1) + s.text[m.end() :]
    m = _AUX.search(s.text)
    if not m:
        return None
    return s.text[: m.end()] + " not" + s.text[m.end() :]


def _word_swap(text: str, table: dict[str, str]) -> str | None:
    for m in re.finditer(r"[A-Za-z]+", text):
        low = m.group(0).lower()
        if low in table:
            new = table[low]
            new = new.capitalize() if m.group(0)[0].isupper() else new
            return text[: m.start()] + new + text[m.end() :]
    return None


def antonym(s: SourceSentence, rng) -> str | None:
    """The first word with an antonym in the list replaced by it."""
    return _word_swap(s.text, _SWAP_WORDS)


def quantifier(s: SourceSentence, rng) -> str | None:
    """A quantifier replaced by one that says something else (all -> some, many -> few)."""
    return _word_swap(s.text, _QUANT)


def role_swap(s: SourceSentence, rng) -> str | None:
    """Two different names of the sentence exchanged (who did what to whom)."""
    names = [e for e in find_entities(s.text) if e.start > 0 or " " in e.text]
    for a, b in zip(names, names[1:], strict=False):
        between = s.text[a.start + len(a.text) : b.start]
        words = re.findall(r"[a-z]+", between)
        distinct = a.text[:5].lower() != b.text[:5].lower() and a.text not in b.text
        # "X beat Y", "X was appointed by Y": a lower-case verb phrase between two names.
        if (
            distinct
            and 1 <= len(words) <= 6
            and not set(words) & {"and", "or"}
            and "," not in between
        ):
            break
    else:
        return None
    t = s.text
    return (
        t[: a.start]
        + b.text
        + t[a.start + len(a.text) : b.start]
        + a.text
        + t[b.start + len(b.text) :]
    )


def added_clause(s: SourceSentence, other: str, rng) -> str:
    """The sentence with a clause the source does not state (from another document, or a
    detail from a fixed list)."""
    if other and rng.random() < 0.5:
        tail = _end(other)
        tail = tail[0].lower() + tail[1:] if tail[:2] != tail[:2].upper() else tail
        return f"{_end(s.text)}, and {tail}."
    return f"{_end(s.text)}, {_ADDED[int(rng.integers(len(_ADDED)))]}."


def _topic_neighbour(
    s: SourceSentence, pool: list[SourceSentence], rng, tries: int = 24
) -> SourceSentence | None:
    """The sentence of another document, among ``tries`` drawn, sharing most content words."""
    if len(pool) < 2:
        return None
    mine = set(content_tokens(s.text))
    best, best_score = None, -1.0
    for j in rng.integers(0, len(pool), tries):
        cand = pool[int(j)]
        if cand.doc_id == s.doc_id:
            continue
        score = len(mine & set(content_tokens(cand.text)))
        if score > best_score:
            best, best_score = cand, score
    return best


def build_pairs(
    docs: pd.DataFrame,
    n_per_transform: int,
    seed: int,
    transforms: Iterable[str] = tuple(TRANSFORMS),
    max_window_words: int = 90,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Synthetic pairs from ``docs`` (``doc_id``, ``text``): up to ``n_per_transform`` each.

    Returns columns evidence, claim, label, transform, group (the document id): split by
    ``group`` so no document is in two splits. Deterministic for a seed and input order.
    """
    rng = np.random.default_rng(seed)
    pool = source_sentences(docs, max_words=max_window_words)
    if not pool:
        return pd.DataFrame(columns=["evidence", "claim", "label", "transform", "group"])
    by_doc: dict[str, list[SourceSentence]] = {}
    for s in pool:
        by_doc.setdefault(s.doc_id, []).append(s)
    entity_cache: dict[str, list[str]] = {}

    def doc_entities(doc_id: str) -> list[str]:
        if doc_id not in entity_cache:
            seen = dict.fromkeys(
                e.text for s in by_doc[doc_id] for e in find_entities(s.text) if e.start > 0
            )
            entity_cache[doc_id] = list(seen)
        return entity_cache[doc_id]

    rows = []
    for name in transforms:
        label = TRANSFORMS[name]
        made, attempts = 0, 0
        order = rng.permutation(len(pool))
        for k in order:
            if made >= n_per_transform or attempts > 20 * n_per_transform:
                break
            attempts += 1
            s = pool[int(k)]
            evidence = s.window
            if name == "identity":
                claim = s.text
            elif name == "compression":
                claim = compression(s, rng)
            elif name == "fusion":
                sibs = [t for t in by_doc[s.doc_id] if abs(t.index - s.index) == 1]
                claim = None
                if sibs:
                    t = sibs[int(rng.integers(len(sibs)))]
                    first, second = sorted((s, t), key=lambda x: x.index)
                    joined = [x for x in by_doc[s.doc_id] if x.index in (first.index, second.index)]
                    if len(joined) == 2:
                        evidence = (
                            first.window
                            if len(first.window) >= len(second.window)
                            else second.window
                        )
                        if first.text in evidence and second.text in evidence:
                            claim = (
                                f"{_end(first.text)}, and {second.text[0].lower()}{second.text[1:]}"
                            )
            elif name == "entity_swap":
                claim = entity_swap(s, doc_entities(s.doc_id), rng)
            elif name == "number_change":
                claim = number_change(s, rng)
            elif name == "negation":
                claim = negation(s, rng)
            elif name == "antonym":
                claim = antonym(s, rng)
            elif name == "quantifier":
                claim = quantifier(s, rng)
            elif name == "role_swap":
                claim = role_swap(s, rng)
            elif name == "added_clause":
                other = _topic_neighbour(s, pool, rng)
                claim = added_clause(s, other.text if other else "", rng)
            elif name == "other_document":
                other = _topic_neighbour(s, pool, rng)
                claim = other.text if other else None
            else:
                raise ValueError(f"unknown transform {name!r}; expected one of {list(TRANSFORMS)}")
            if not claim or claim == s.text and name != "identity":
                continue
            rows.append((evidence, claim, label, name, s.doc_id))
            made += 1
        if progress:
            progress(f"synthetic {name}: {made} pairs")
    out = pd.DataFrame(rows, columns=["evidence", "claim", "label", "transform", "group"])
    return out.drop_duplicates(["evidence", "claim"]).reset_index(drop=True)


def transform_counts(pairs: pd.DataFrame) -> dict[str, int]:
    """Pairs per transform (for the manifest and model cards)."""
    return {str(k): int(v) for k, v in pairs["transform"].value_counts().sort_index().items()}


def word_overlap(evidence: pd.Series, claim: pd.Series) -> np.ndarray:
    """Share of each claim's content words that its evidence holds (the overlap baseline)."""
    out = []
    for ev, cl in zip(evidence, claim, strict=True):
        want = set(content_tokens(str(cl)))
        have = set(content_tokens(str(ev)))
        out.append(len(want & have) / len(want) if want else 1.0)
    return np.asarray(out, dtype=np.float64)


def overlap_controlled(df: pd.DataFrame, quantile: float = 0.5) -> pd.DataFrame:
    """The pairs where overlap misleads: supported claims sharing few words with their evidence
    (at most the supported rows' ``quantile``) and unsupported ones sharing many (at least the
    unsupported rows' ``1 - quantile``)."""
    ov = word_overlap(df["evidence"], df["claim"])
    sup = (df["label"] == "supported").to_numpy()
    if sup.all() or not sup.any():
        return df.iloc[0:0]
    lo = np.quantile(ov[sup], quantile)
    hi = np.quantile(ov[~sup], 1 - quantile)
    keep = (sup & (ov <= lo)) | (~sup & (ov >= hi))
    return df[keep].reset_index(drop=True)
