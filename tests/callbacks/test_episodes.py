from __future__ import annotations

import numpy as np
from rltrack.callbacks.episodes import EpisodeAccumulator, FinishedEpisode


def test_single_env_reports_return_and_length_at_the_end() -> None:
    acc = EpisodeAccumulator(1)
    assert acc.step(1.0, False, False) == []
    assert acc.step(2.5, False, False) == []
    assert acc.step(-0.5, True, False) == [FinishedEpisode(0, 3.0, 3)]
    assert acc.step(4.0, False, True) == [FinishedEpisode(0, 4.0, 1)]


def test_next_step_autoreset_skips_the_reset_step_of_each_sub_env() -> None:
    acc = EpisodeAccumulator(2, skip_after_done=True)
    no = np.zeros(2, dtype=bool)
    assert acc.step([1.0, 1.0], [True, False], no) == [FinishedEpisode(0, 1.0, 1)]
    # Env 0 only resets here (Gymnasium gives reward 0); env 1 keeps counting.
    assert acc.step([0.0, 2.0], no, [False, True]) == [FinishedEpisode(1, 3.0, 2)]
    assert acc.step([5.0, 0.0], [True, False], no) == [FinishedEpisode(0, 5.0, 1)]


def test_reset_with_mask_discards_only_masked_episodes() -> None:
    acc = EpisodeAccumulator(2)
    acc.step([1.0, 2.0], [False, False], [False, False])
    acc.reset(np.array([True, False]))
    assert acc.step([1.0, 1.0], [True, True], [False, False]) == [
        FinishedEpisode(0, 1.0, 1),
        FinishedEpisode(1, 3.0, 2),
    ]
