"""CLI commands of the experts area: ``experts list``, ``experts explain``, ``train-gate``,
``train-combiner``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

err = Console(stderr=True)

# The labelled pairs the gate and the combiner learn from (train-gate, train-combiner).
Source = Annotated[
    str | None,
    typer.Option(help="JSONL/CSV with claim, evidence, label; or data set names."),
]
Split = Annotated[str, typer.Option(help="Split of the training data.")]
MaxPairs = Annotated[int | None, typer.Option(help="Most labelled pairs.")]
Registry = Annotated[str | None, typer.Option(help="Registry YAML.")]


def register(app: typer.Typer) -> None:
    """Add the experts commands to ``app``."""
    experts_app = typer.Typer(help="The verifier experts and the gate.", no_args_is_help=True)

    @experts_app.command("list")
    def list_experts(
        registry: Registry = None,
        as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
    ) -> None:
        """The enabled, available experts of the registry and the gate in force: a table."""
        from rich.console import Console
        from rich.table import Table

        from experts.mixture.domains import domain_summary
        from experts.mixture.gate import load_gate
        from experts.registry import load_registry, registry_path

        specs = load_registry(registry, include_unrouted=True)
        trained = {s.name: domain_summary(s) for s in specs}
        out = {
            "registry": str(registry_path(registry)),
            "gate": load_gate([s for s in specs if s.routed]).version,
            "experts": [
                s.model_dump(mode="json", exclude={"options"}) | {"domain": trained[s.name]}
                for s in specs
            ],
        }
        if as_json:
            typer.echo(json.dumps(out, indent=2))
            return
        table = Table(title=f"experts of {out['registry']} (gate: {out['gate']})")
        # Domain experts add a column: their corpus's hash and how long ago they were trained.
        domains_trained = any(trained.values())
        columns = ("name", "kind", "domains", "prior", "routed")
        for column in (*columns, *(("corpus (age)",) if domains_trained else ()), "weights"):
            table.add_column(column)
        for spec in specs:
            weights = str(spec.weights or "") if spec.kind == "cross_encoder" else "-"
            routed = "yes" if spec.routed else "no (reads spans)"
            row = [spec.name, spec.kind, ", ".join(spec.domains), f"{spec.prior:g}", routed]
            if domains_trained:
                domain = trained[spec.name]
                row.append(f"{domain['corpus_sha256'][:12]} ({domain['age']})" if domain else "-")
            table.add_row(*row, weights)
        Console().print(table)

    @experts_app.command("explain")
    def explain(
        claim: Annotated[str, typer.Argument(help="The claim.")],
        evidence: Annotated[str, typer.Argument(help="The evidence text.")],
        registry: Registry = None,
    ) -> None:
        """Every expert's probabilities on one pair, and why (unrouted ones too: gate weight 0)."""
        from experts.mixture.gate import load_gate
        from experts.registry import cached_expert, load_registry, registry_path
        from verdictflow.contracts import LABELS

        specs = load_registry(registry)
        every = load_registry(registry, include_unrouted=True)
        experts = {s.name: cached_expert(s.name, str(registry_path(registry))) for s in every}
        weights = load_gate(specs).probs([(claim, evidence)])[0]
        gate = dict(zip(load_gate(specs).expert_names, weights.tolist(), strict=True))
        rows = {}
        for name, expert in experts.items():
            probs = expert.predict([(claim, evidence)])[0]
            why = expert.explain((claim, evidence)) if hasattr(expert, "explain") else ""
            rows[name] = {
                "gate_weight": round(gate.get(name, 0.0), 4),
                "probs": dict(zip(LABELS, [round(float(p), 4) for p in probs], strict=True)),
                "why": why,
            }
        typer.echo(json.dumps(rows, indent=2))

    @experts_app.command("export-onnx")
    def export_onnx_files(
        int8: Annotated[bool, typer.Option(help="Also the int8-quantised file.")] = True,
        registry: Registry = None,
    ) -> None:
        """Export every cross-encoder of the registry and the embedder to ONNX (cached in
        HOME/models/onnx): the backend `auto` (the default) then serves them in fp32 without
        importing torch; VERDICTFLOW_EXPERTS__BACKEND=onnx-int8 serves the int8 files."""
        from experts.registry import load_registry
        from experts.verifiers.cross_encoder import load_cross_encoder
        from experts.verifiers.onnx_backend import export_onnx
        from retrieval.embedding import load_onnx_encoder

        backends = ("onnx", "onnx-int8") if int8 else ("onnx",)
        for spec in load_registry(registry):
            if spec.kind != "cross_encoder" or spec.weights is None:
                continue
            model = load_cross_encoder(spec.weights)
            for backend in backends:
                typer.echo(f"{spec.name} {backend}: {export_onnx(model, spec.weights, backend)}")
        for backend in backends:
            encoder = load_onnx_encoder(backend)
            where = encoder.file if encoder else "none (a GPU, or not a mean-pooled model)"
            typer.echo(f"embedder {backend}: {where}")

    @experts_app.command("train-domain")
    def train_domain(
        name: Annotated[str, typer.Argument(help="The expert's name; its domain's name too.")],
        more: Annotated[
            list[Path] | None,
            typer.Argument(
                help="More files or folders of the corpus: --corpus a b c takes all three.",
                show_default=False,
            ),
        ] = None,
        corpus: Annotated[
            list[Path] | None,
            typer.Option(
                "--corpus",
                help="Files or folders of the domain's documents: --corpus a b c, or "
                "--corpus a --corpus b.",
            ),
        ] = None,
        from_store: Annotated[
            bool, typer.Option("--from-store", help="The ingested chunks matching --filter.")
        ] = False,
        filter_: Annotated[
            list[str] | None,
            typer.Option("--filter", "-f", help="KEY=VALUE on domain, source or metadata."),
        ] = None,
        minutes: Annotated[
            float | None, typer.Option(help="Training budget; default domains.minutes (15).")
        ] = None,
        force: Annotated[
            bool,
            typer.Option("--force", help="Register it even when it is worse than the generalist."),
        ] = False,
        as_json: Annotated[bool, typer.Option("--json", help="The summary as JSON.")] = False,
    ) -> None:
        """Train a domain expert on your own corpus (synthetic pairs, split by document) and
        register it: the gate routes the domain's claims to it. One worse than the generalist
        on its own test documents is not registered (exit 1, both figures) unless --force."""
        from rich.markup import escape

        from deployments.cli_retrieval import _parse_filters
        from experts.training.domain_data import DomainCorpusError
        from flows.train_domain import DomainCorpus, train_domain_expert

        if more and not corpus:
            raise typer.BadParameter(
                f"unexpected {' '.join(map(str, more))}: corpus paths follow --corpus"
            )
        paths = [*(corpus or []), *(more or [])]
        if bool(paths) == from_store or (from_store and not filter_):
            raise typer.BadParameter("give --corpus PATH..., or --from-store with --filter")
        source = DomainCorpus(paths=[str(p) for p in paths], store_filter=_parse_filters(filter_))
        try:
            summary = train_domain_expert(name, source, minutes or 0.0, force)
        except (DomainCorpusError, ValueError) as exc:
            err.print(f"[red]{name}: {escape(str(exc))}[/red]", soft_wrap=True)
            raise typer.Exit(code=1) from exc
        if summary.get("warning"):
            err.print(f"[yellow]{name}: {escape(summary['warning'])}[/yellow]", soft_wrap=True)
        if as_json:
            typer.echo(json.dumps({k: v for k, v in summary.items() if k != "history"}, indent=2))
            return
        test = summary["test"]
        typer.echo(
            f"{name}: {summary['pairs']['train']} training pairs from "
            f"{summary['documents']['train']} documents, {summary['steps']} steps in "
            f"{summary['train_seconds']:.0f} s; test documents AUROC {test['domain_auroc']} "
            f"(the generalist: {test['base_auroc']}); registered in {summary['path']}"
        )

    app.add_typer(experts_app, name="experts")

    @app.command("train-gate")
    def train_gate(
        source: Source = None,
        split: Split = "dev",
        max_pairs: MaxPairs = None,
        k: Annotated[int | None, typer.Option(help="Experts per pair.")] = None,
        epochs: Annotated[int | None, typer.Option(help="Training epochs.")] = None,
        registry: Registry = None,
        path: Annotated[
            str | None,
            typer.Option(help="Where to save; default HOME/models/gate.pt."),
        ] = None,
    ) -> None:
        """Train the gate on labelled pairs (the train_gate flow) and save a new version."""
        from flows.train_gate import train_gate_flow

        result = train_gate_flow(
            source=source,
            split=split,
            max_pairs=max_pairs,
            k=k,
            epochs=epochs,
            registry=registry,
            path=path,
        )
        result.pop("losses", None)
        typer.echo(json.dumps(result, indent=2))

    @app.command("train-combiner")
    def train_combiner(
        source: Source = None,
        split: Split = "dev",
        max_pairs: MaxPairs = None,
        registry: Registry = None,
        path: Annotated[
            str | None,
            typer.Option(help="Where to save; default HOME/models/stacker.json."),
        ] = None,
    ) -> None:
        """Fit the learned combiner on labelled pairs under the gate's routing (the
        train_combiner flow); prints its held-out AUROC beside the mixture's and each expert's."""
        from flows.train_gate import train_combiner_flow

        result = train_combiner_flow(
            source=source, split=split, max_pairs=max_pairs, registry=registry, path=path
        )
        typer.echo(json.dumps(result, indent=2))
