"""Top-k routing with capacity, utilisation, balance and the load-balancing loss."""

from __future__ import annotations

import numpy as np
import torch

from experts.mixture.routing import balance_score, load_balancing_loss, top_k_route, utilisation

rng = np.random.default_rng(0)
PROBS = rng.dirichlet(np.ones(4), size=50)


def test_k1_routes_each_pair_to_its_best_expert() -> None:
    r = top_k_route(PROBS, k=1)
    assert (r.mask.sum(axis=1) == 1).all()
    np.testing.assert_array_equal(r.mask.argmax(axis=1), PROBS.argmax(axis=1))
    np.testing.assert_allclose(r.weights.sum(axis=1), 1.0)
    np.testing.assert_allclose(r.weights[r.mask], 1.0)


def test_k_all_is_the_dense_mixture() -> None:
    r = top_k_route(PROBS, k=4)
    assert r.mask.all()
    np.testing.assert_allclose(r.weights, PROBS / PROBS.sum(axis=1, keepdims=True))
    assert top_k_route(PROBS, k=99).mask.all()  # k above the expert count means all


def test_k2_renormalises_over_the_two_best() -> None:
    r = top_k_route(PROBS, k=2)
    assert (r.mask.sum(axis=1) == 2).all()
    top2 = np.sort(PROBS, axis=1)[:, -2:]
    np.testing.assert_allclose(
        np.sort(r.weights, axis=1)[:, -2:], top2 / top2.sum(1, keepdims=True)
    )


def test_capacity_limits_later_choices_but_keeps_first_choices() -> None:
    probs = np.tile([0.5, 0.3, 0.15, 0.05], (40, 1))  # everyone wants experts 0 then 1
    r = top_k_route(probs, k=2, capacity_factor=1.0)  # capacity = 40 * 2 / 4 = 20
    assert r.mask[:, 0].all()  # first choices are never dropped
    assert r.mask[:, 1].sum() == 20 and r.mask[:, 2].sum() == 20  # overflow moved on
    assert (r.mask.sum(axis=1) == 2).all() and r.dropped == 0
    unlimited = top_k_route(probs, k=2, capacity_factor=None)
    assert unlimited.mask[:, 1].all()


def test_balance_score_and_utilisation() -> None:
    even = np.ones((8, 4), dtype=bool)
    assert balance_score(utilisation(even)) == 1.0
    collapsed = np.zeros((8, 4), dtype=bool)
    collapsed[:, 0] = True
    np.testing.assert_allclose(utilisation(collapsed), [1, 0, 0, 0])
    assert balance_score(utilisation(collapsed)) < 0.0


def test_collapsed_gate_pays_a_higher_balance_loss() -> None:
    n, e = 64, 4
    uniform_probs = torch.full((n, e), 1 / e)
    spread_mask = torch.zeros(n, e, dtype=torch.bool)
    spread_mask[torch.arange(n), torch.arange(n) % e] = True
    collapsed_probs = torch.tensor([[0.97, 0.01, 0.01, 0.01]]).repeat(n, 1)
    collapsed_mask = torch.zeros(n, e, dtype=torch.bool)
    collapsed_mask[:, 0] = True
    balanced = load_balancing_loss(uniform_probs, spread_mask)
    collapsed = load_balancing_loss(collapsed_probs, collapsed_mask)
    assert torch.isclose(balanced, torch.tensor(1.0))
    assert collapsed > 3.5 * balanced


def test_an_expert_with_no_probability_is_never_a_later_choice() -> None:
    # Pair 0 may only go to expert 0 and 1; expert 2 (a domain expert elsewhere) gets 0.
    probs = np.array([[0.7, 0.3, 0.0], [0.5, 0.3, 0.2]])
    routing = top_k_route(probs, k=3)
    assert routing.mask.tolist() == [[True, True, False], [True, True, True]]


def test_a_pair_the_gate_is_sure_of_goes_to_one_expert() -> None:
    probs = np.array([[0.7, 0.2, 0.1], [0.4, 0.35, 0.25], [0.1, 0.15, 0.75]])
    r = top_k_route(probs, k=2, sure_margin=0.3)
    np.testing.assert_array_equal(r.mask.sum(axis=1), [1, 2, 1])
    np.testing.assert_array_equal(r.mask.argmax(axis=1), [0, 0, 2])  # the first choice kept
    np.testing.assert_allclose(r.weights[[0, 2]].max(axis=1), 1.0)
    assert (top_k_route(probs, k=2).mask.sum(axis=1) == 2).all()  # no margin: k each
    assert (top_k_route(probs, k=2, sure_margin=0.0).mask.sum(axis=1) == 1).all()
