"""The cross-encoder expert on a tiny random checkpoint built here (loading, batching, padding)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from experts.registry import load_experts, load_registry
from experts.verifiers.cross_encoder import CrossEncoderExpert, encode
from tests.experts.tiny_models import make_tiny_cross_encoder, write_registry

PAIRS = [
    ("Paris is the capital of France.", "Paris is the capital and largest city of France."),
    ("A short claim.", "Short."),
    ("The bridge opened in 1990 after ten years of work.", "evidence " * 200),
    ("Sales fell.", "Sales rose sharply in the second quarter of the year."),
    ("x", "y"),
]


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_cross_encoder(tmp_path_factory.mktemp("ce") / "tiny")


@pytest.fixture(scope="module")
def expert(tiny_folder: Path) -> CrossEncoderExpert:
    return CrossEncoderExpert(
        tiny_folder, name="tiny", batch_size=2, mc_dropout_samples=0, backend="torch"
    )


def test_loads_offline_and_reads_its_metadata(expert: CrossEncoderExpert) -> None:
    assert expert.device == "cpu"
    assert expert.max_length == 64 and expert.input_order == "evidence_claim"
    assert expert.domains == ("general",)
    np.testing.assert_array_equal(expert.labels, np.eye(3))


def test_batching_and_padding_do_not_change_scores(expert: CrossEncoderExpert) -> None:
    batch = expert.predict(PAIRS)
    assert batch.shape == (len(PAIRS), 3)
    np.testing.assert_allclose(batch.sum(axis=1), 1.0, atol=1e-6)
    alone = np.vstack([expert.predict([p]) for p in PAIRS])
    np.testing.assert_allclose(batch, alone, atol=1e-5)  # padding is masked out
    reordered = expert.predict(PAIRS[::-1])
    np.testing.assert_allclose(reordered, batch[::-1], atol=1e-5)  # sorted batches go back
    assert len(set(np.round(batch[:, 0], 6))) > 1  # different pairs, different scores


def test_truncates_only_the_evidence(expert: CrossEncoderExpert) -> None:
    encoded = encode(expert.model, *expert.ordered([PAIRS[2]]))["input_ids"][0].tolist()
    assert len(encoded) == 64
    claim_ids = expert.model.tokenizer(PAIRS[2][0], add_special_tokens=False)["input_ids"]
    assert encoded[-1 - len(claim_ids) : -1] == claim_ids  # the claim survives


def test_a_claim_longer_than_the_budget_is_cut_not_refused(expert: CrossEncoderExpert) -> None:
    pairs = [("word " * 300, "short evidence"), PAIRS[0]]
    probs = expert.predict(pairs)
    assert probs.shape == (2, 3)
    np.testing.assert_allclose(probs[1], expert.predict([PAIRS[0]])[0], atol=1e-5)
    assert encode(expert.model, *expert.ordered(pairs[:1]))["input_ids"].shape[1] == 64


def test_mc_dropout_variance(tiny_folder: Path) -> None:
    mc = CrossEncoderExpert(tiny_folder, name="tiny-mc", mc_dropout_samples=5)
    probs, var = mc.predict_with_variance(PAIRS)
    assert probs.shape == var.shape == (len(PAIRS), 3)
    assert (var > 0).any()
    mc.predict(PAIRS)
    assert mc.last_variance is not None and mc.last_variance.shape == (len(PAIRS), 3)
    assert not any(m.training for m in mc.model.modules())  # dropout switched off again


def test_two_class_checkpoint_maps_not_supported_to_nei(tmp_path: Path) -> None:
    folder = make_tiny_cross_encoder(tmp_path / "two", {0: "supported", 1: "not_supported"})
    probs = CrossEncoderExpert(folder, name="two").predict(PAIRS)
    assert np.all(probs[:, 1] == 0.0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)


def test_unknown_label_is_refused_by_name(tmp_path: Path) -> None:
    folder = make_tiny_cross_encoder(tmp_path / "odd", {0: "yes", 1: "maybe"})
    with pytest.raises(ValueError, match="'yes'"):
        CrossEncoderExpert(folder, name="odd")


def test_registry_loads_it_and_skips_missing_weights(
    home: Path, tiny_folder: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    registry = write_registry(
        tmp_path / "reg.yaml",
        [
            {"name": "tiny", "kind": "cross_encoder", "weights": str(tiny_folder)},
            {"name": "later", "kind": "cross_encoder", "weights": "models/not-trained-yet"},
            {"name": "numbers", "kind": "numbers"},
        ],
    )
    with caplog.at_level(logging.WARNING):
        names = [s.name for s in load_registry(registry)]
    assert names == ["tiny", "numbers"]
    assert "later" in caplog.text and "does not exist" in caplog.text
    experts = load_experts(registry=registry)
    assert isinstance(experts["tiny"], CrossEncoderExpert)
    assert experts["tiny"].predict(PAIRS[:2]).shape == (2, 3)


def test_serving_training_and_sentence_transformers_score_alike(
    expert: CrossEncoderExpert, tiny_folder: Path
) -> None:
    from sentence_transformers import CrossEncoder

    from experts.training.expert_io import load_expert, predict_proba

    served = expert.predict(PAIRS)
    trained, meta = load_expert(tiny_folder)
    first, second = expert.ordered(PAIRS)
    np.testing.assert_allclose(predict_proba(trained, first, second), served, atol=1e-6)
    plain = CrossEncoder(str(tiny_folder), local_files_only=True, max_length=meta["max_length"])
    st = plain.predict(list(zip(first, second, strict=True)), apply_softmax=True)
    np.testing.assert_allclose(st, served, atol=1e-5)


def test_onnx_backends_read_pairs_as_torch_does_and_export_once(
    tiny_folder: Path, expert: CrossEncoderExpert, home: Path
) -> None:
    from experts.verifiers.onnx_backend import onnx_path

    torch_probs = expert.predict(PAIRS)
    # auto: torch until this home holds the export (auto never exports)
    assert CrossEncoderExpert(tiny_folder, name="tiny", backend="auto").backend == "torch"
    fp32 = CrossEncoderExpert(tiny_folder, name="tiny", batch_size=2, backend="onnx")
    assert fp32.onnx is not None and fp32.onnx.file == onnx_path(tiny_folder, "onnx", home)
    np.testing.assert_allclose(fp32.predict(PAIRS), torch_probs, atol=1e-4)
    int8 = CrossEncoderExpert(tiny_folder, name="tiny", batch_size=2, backend="onnx-int8")
    assert int8.onnx.file.name == "model_int8.onnx" and int8.onnx.file.exists()
    np.testing.assert_allclose(int8.predict(PAIRS), torch_probs, atol=0.05)
    # Cached: a second expert on the same weights exports nothing again.
    stamp = fp32.onnx.file.stat().st_mtime_ns
    again = CrossEncoderExpert(tiny_folder, name="tiny", backend="onnx")
    assert again.onnx.file.stat().st_mtime_ns == stamp
    # An exported model is served without the CrossEncoder (no torch): the same probabilities.
    for light in (again, CrossEncoderExpert(tiny_folder, name="tiny", backend="auto")):
        assert light.model is None and light.backend == "onnx"
        np.testing.assert_allclose(light.predict(PAIRS), torch_probs, atol=1e-4)
        np.testing.assert_allclose(light.predict(PAIRS[::-1]), torch_probs[::-1], atol=1e-4)
