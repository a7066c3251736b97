"""TensorBoard buckets into rltrack histograms, and CleanRL's hyperparameter text into config: pure conversions."""

from __future__ import annotations

import numpy as np
import pytest

from rltrack.media import Histogram
from rltrack.tensorboard.events import histogram_buckets
from rltrack.tensorboard.sink import params_from_text


def test_gaps_become_empty_bins_and_zero_width_buckets_join_a_neighbour() -> None:
    triples = [[0.0, 0.0, 2.0], [0.0, 1.0, 3.0], [2.0, 3.0, 4.0], [3.0, 3.0, 1.0]]

    counts, edges = histogram_buckets(triples)

    assert (counts, edges) == ([5.0, 0.0, 5.0], [0.0, 1.0, 2.0, 3.0])
    Histogram((counts, edges))  # a valid rltrack histogram


def test_one_value_everywhere_is_one_bin_around_it() -> None:
    assert histogram_buckets([[4.0, 4.0, 10.0]]) == ([10.0], [3.5, 4.5])


@pytest.mark.parametrize("n", [512, 513, 1030, 1548])
def test_too_many_buckets_merge_and_keep_the_total(n) -> None:
    edges = np.linspace(-1, 1, n + 1)
    counts = np.arange(n, dtype=float)
    triples = [[edges[i], edges[i + 1], counts[i]] for i in range(n)]

    got_counts, got_edges = histogram_buckets(triples)

    assert len(got_counts) <= 512 and len(got_edges) == len(got_counts) + 1
    assert sum(got_counts) == counts.sum() and got_edges[0] == -1 and got_edges[-1] == 1
    assert set(got_edges) <= set(edges.tolist())
    Histogram((got_counts, got_edges))


def test_cleanrl_hyperparameter_text_becomes_config_values() -> None:
    text = "|param|value|\n|-|-|\n|exp_name|ppo|\n|learning_rate|0.00025|\n|num_envs|4|\n|cuda|True|\n" \
        "|wandb_entity|None|"

    assert params_from_text(text) == {"exp_name": "ppo", "learning_rate": 0.00025, "num_envs": 4, "cuda": True,
                                      "wandb_entity": None}
    assert params_from_text("some notes") is None
    assert params_from_text("|a|b|\n|-|-|\n|x|1|") is None
