"""More labelled and unlabelled sources for the training mix, all from the bigbench archive.

- ``bigbench_nli``: premise/hypothesis tasks with entailment labels (epistemic_reasoning,
  analytic_entailment; entailed_polarity as "Q: ... A: yes/no." claims).
- ``squad_shifts``: questions over NYT, new Wikipedia, Reddit and Amazon texts: the right
  answer as a "Q: ... A: ..." claim is supported, another question's answer is not.
- ``synthetic``: the named transforms of ``experts.training.synthetic`` over source texts (news
  articles from GEM XSum, VitaminC evidence, HaluEval knowledge and documents).

Reserved evaluation tasks are never read: ``bigbench_file`` refuses them by name.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from experts.training import data as vdata
from experts.training import synthetic
from verdictflow.config import get_settings

# Held out for independent evaluation: never read, in any form.
RESERVED_TASKS = frozenset(
    {"factuality_of_summary", "contextual_parametric_knowledge_conflicts", "presuppositions_as_nli"}
)
NLI_TASKS = ("epistemic_reasoning", "analytic_entailment", "entailed_polarity")
SQUAD_SHIFTS = ("nyt", "new_wiki", "reddit", "amazon_reviews")
ENTAILED = {"entailment": "supported", "non-entailment": "not_supported"}
ENTAILED |= {"no-entailment": "not_supported"}
_SO = re.compile(r"(?<=\.) (So|Therefore),? ")


def bigbench_file(relative: str, cache_dir: Path | None = None) -> Path:
    """A file of the bigbench 1.0.0 sdist's ``benchmark_tasks`` (copied out once).

    ``pip download --no-deps`` unpacks the sdist to read its metadata, then refuses its
    direct-URL dependency (bleurt); ``--no-clean`` keeps the unpacked tree, from which every
    task but the reserved ones is copied under ``HOME/data/bigbench``.
    """
    task = relative.split("/")[0]
    if task in RESERVED_TASKS:
        raise vdata.DataError(f"{task} is reserved for independent evaluation and never read")
    root = vdata.data_dir(cache_dir) / "bigbench"
    target = root / relative
    if not target.exists() and not (root / ".complete").exists():
        _copy_bigbench_tasks(root)
    if not target.exists():
        raise vdata.DataError(f"{vdata.BIGBENCH_SPEC}: no benchmark_tasks/{relative}")
    return target


def _copy_bigbench_tasks(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        result = vdata._pip_download(vdata.BIGBENCH_SPEC, Path(tmp), keep_build_dir=True)
        tasks = sorted(Path(tmp).glob("**/bigbench/benchmark_tasks"))
        if not tasks:
            for archive in sorted(Path(tmp).glob("bigbench-*.tar.gz")):
                shutil.unpack_archive(archive, Path(tmp) / "unpacked")
            tasks = sorted(Path(tmp).glob("**/bigbench/benchmark_tasks"))
        if not tasks and result.returncode != 0:
            raise vdata.pip_failure(vdata.BIGBENCH_SPEC, result)
        if not tasks:
            raise vdata.DataError(
                f"{vdata.BIGBENCH_SPEC}: no benchmark_tasks after pip download: "
                f"{result.stderr[-500:]}"
            )
        for folder in sorted(p for p in tasks[0].iterdir() if p.is_dir()):
            if folder.name not in RESERVED_TASKS:
                shutil.copytree(folder, root / folder.name, dirs_exist_ok=True)
    (root / ".complete").touch()


def parse_nli_task(task: str, examples: list[dict]) -> pd.DataFrame:
    """One BIG-bench entailment task's examples as rows (evidence, claim, label, group)."""
    rows = []
    for i, ex in enumerate(examples):
        scores = ex["target_scores"]
        best = max(scores, key=scores.get)
        text = ex["input"].strip()
        if task == "entailed_polarity":
            m = re.match(r"Fact:\s*(.+?)\s*Q:\s*(.+)$", text, re.S)
            if not m:
                raise vdata.DataError(f"{task} example {i}: no 'Fact: ... Q: ...'")
            fact, question = m.groups()
            for answer in ("yes", "no"):
                label = "supported" if answer == best else "contradicted"
                rows.append((fact, vdata.qa_claim(question, answer), label, f"{task}:{i}"))
            continue
        if text.startswith("Premise:"):
            premise, _, hypothesis = text[len("Premise:") :].partition("Hypothesis:")
        else:  # analytic_entailment: "A. So B." / "A. Therefore, B."
            parts = _SO.split(text, maxsplit=1)
            premise, hypothesis = (parts[0], parts[-1]) if len(parts) == 3 else (text, "")
            hypothesis = hypothesis[:1].upper() + hypothesis[1:]
        if not hypothesis:
            raise vdata.DataError(f"{task} example {i}: no hypothesis")
        rows.append((premise.strip(), hypothesis.strip(), ENTAILED[best], f"{task}:{i}"))
    return pd.DataFrame(rows, columns=["evidence", "claim", "label", "group"])


def load_bigbench_nli(cache_dir: Path | None = None) -> pd.DataFrame:
    """The entailment tasks of ``NLI_TASKS`` as one frame (group: task and example)."""
    frames = []
    for task in NLI_TASKS:
        examples = json.loads(bigbench_file(f"{task}/task.json", cache_dir).read_text())["examples"]
        frames.append(parse_nli_task(task, examples))
    return pd.concat(frames, ignore_index=True)


def parse_squad(data: list[dict], name: str, max_words: int = 90) -> pd.DataFrame:
    """SQuAD-format articles as QA pairs: the answer's window, the right and a wrong answer."""
    rows = []
    for a, article in enumerate(data):
        for p, para in enumerate(article["paragraphs"]):
            qas = [q for q in para["qas"] if q.get("answers")]
            answers = [q["answers"][0]["text"].strip() for q in qas]
            sents = synthetic.split_sentences(para["context"])
            for k, q in enumerate(qas):
                right = answers[k]
                # The window: the sentences around the one holding the answer.
                hit = next((i for i, s in enumerate(sents) if right in s), None)
                if hit is None or not right:
                    continue
                evidence = synthetic._window(sents, hit, max_words)
                group = f"{name}:{a}:{p}"
                rows.append((evidence, vdata.qa_claim(q["question"], right), "supported", group))
                wrong = [x for x in answers if x.lower() != right.lower() and x not in right]
                if wrong:
                    other = wrong[k % len(wrong)]
                    claim = vdata.qa_claim(q["question"], other)
                    rows.append((evidence, claim, "not_supported", group))
    return pd.DataFrame(rows, columns=["evidence", "claim", "label", "group"])


def load_squad_shifts(cache_dir: Path | None = None) -> pd.DataFrame:
    """The four SQuAD-shifts sets as QA pairs (group: article paragraph)."""
    frames = []
    for name in SQUAD_SHIFTS:
        raw = json.loads(bigbench_file(f"squad_shifts/{name}_v1.0.json", cache_dir).read_text())
        frames.append(parse_squad(raw["data"], name))
    return pd.concat(frames, ignore_index=True).drop_duplicates(["evidence", "claim"])


def news_articles(cache_dir: Path | None = None) -> pd.DataFrame:
    """GEM XSum's news articles as documents (``doc_id``, ``text``); summaries are not used."""
    examples = json.loads(bigbench_file("gem/xsum/task.json", cache_dir).read_text())["examples"]
    return pd.DataFrame(
        [(f"xsum:{i}", ex["input"]) for i, ex in enumerate(examples)], columns=["doc_id", "text"]
    )


def synthetic_documents(cache_dir: Path | None = None) -> pd.DataFrame:
    """The source texts the synthetic transforms read: news, SQuAD-shifts passages, HaluEval.

    Document ids are the sources' own group keys, so a passage lands in the same split here
    as in its labelled set: no test evidence is trained on through the synthetic pairs.
    VitaminC is not a source: its pages hold revisions of one sentence that contradict each
    other, so a window could state both a sentence and its changed copy.
    """
    frames = [news_articles(cache_dir)]
    for name in SQUAD_SHIFTS:
        raw = json.loads(bigbench_file(f"squad_shifts/{name}_v1.0.json", cache_dir).read_text())
        frames.append(
            pd.DataFrame(
                [
                    (f"{name}:{a}:{p}", para["context"])
                    for a, article in enumerate(raw["data"])
                    for p, para in enumerate(article["paragraphs"])
                ],
                columns=["doc_id", "text"],
            )
        )
    for kind in ("qa", "summarization"):
        df = vdata.load_halueval(kind, cache_dir).drop_duplicates("group")
        frames.append(pd.DataFrame({"doc_id": df["group"], "text": df["evidence"]}))
    return pd.concat(frames, ignore_index=True)


def load_synthetic(cache_dir: Path | None = None) -> pd.DataFrame:
    """Synthetic pairs over ``synthetic_documents`` (group: the document id)."""
    t = get_settings().training
    docs = synthetic_documents(cache_dir)
    return synthetic.build_pairs(docs, t.synthetic_per_transform, t.seed)
