"""The binary-head comparison trains the shipped generalist's last stage with two labels."""

from __future__ import annotations

from benchmarks.head_choice import binary_spec
from experts.training import specs
from experts.training.loop import target_ids


def test_the_binary_spec_is_the_generalists_last_stage_with_two_labels() -> None:
    spec, shipped = binary_spec(), specs.EXPERT_SPECS["generalist"]
    assert spec.labels == specs.BINARY_LABELS and shipped.labels == specs.LABELS
    assert spec.phases == shipped.phases[-1:] and spec.corpus
    assert spec.warm_start_from == "models/generalist"
    assert (spec.max_length, spec.serve_max_length) == (shipped.max_length, 160)
    # Every label that is not "supported" is the second target of a binary head.
    labels = ["supported", "contradicted", "not_enough_info", "not_supported"]
    assert target_ids(labels, spec.labels).tolist() == [0, 1, 1, 1]
