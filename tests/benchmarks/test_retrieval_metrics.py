"""The benchmark's own arithmetic: strict and lenient figures, distractors, shoot labels."""

from __future__ import annotations

import datetime as dt

import numpy as np

from benchmarks.make_shoot_labels import capture_date, shoots
from benchmarks.retrieval import DISTRACTOR, LabelledSet, evaluate, random_baseline, rank_scores

# Two source photos (0, 1) in two looks (A = 0, B = 1): images 0..3 = 0A, 0B, 1A, 1B.
DATA = LabelledSet(
    ["0A", "0B", "1A", "1B"], np.array([0, 1, 0, 1]), ["A", "B"], np.array([0, 0, 1, 1])
)


def test_the_own_photo_in_another_look_is_a_miss_when_strict_and_dropped_when_lenient():
    # Every query ranks its own photo first, then the other photo in its own look.
    rankings = np.array([[1, 2, 3], [0, 3, 2], [3, 0, 1], [2, 1, 0]])
    result = evaluate(DATA, rankings, k=1)
    assert result.strict["P@1"] == 0.0
    assert result.lenient["P@1"] == 1.0
    assert result.same_source_at_k == 1.0
    assert result.strict["MRR"] == 0.5  # the relevant image is second


def test_a_look_first_ranking_is_perfect_either_way():
    rankings = np.array([[2, 1, 3], [3, 0, 2], [0, 3, 1], [1, 2, 0]])
    result = evaluate(DATA, rankings, k=1)
    assert result.strict["P@1"] == result.lenient["P@1"] == 1.0
    assert result.same_source_at_k == 0.0
    np.testing.assert_allclose(result.per_group, [1.0, 1.0])


def test_rank_scores_leaves_the_query_out_and_sorts_best_first():
    scores = np.array([[9.0, 1.0, 5.0], [1.0, 9.0, 0.0], [5.0, 0.0, 9.0]])
    np.testing.assert_array_equal(rank_scores(scores), [[2, 1], [0, 2], [0, 1]])


def test_distractors_are_candidates_never_queries():
    data = LabelledSet(["a", "b", "x"], np.array([0, 0, DISTRACTOR]), ["shoot"], None)
    rankings = np.array([[2, 1], [0, 2], [0, 1]])  # query a ranks the distractor first
    result = evaluate(data, rankings, k=1)
    assert result.strict["P@1"] == 0.5  # a misses, b hits; x is not a query
    _, share = random_baseline(data, k=1)
    assert share == 0.5  # one relevant of two candidates


def test_random_baseline_counts_same_source_images_as_irrelevant():
    _, share = random_baseline(DATA, k=1)
    assert share == 1 / 3  # per query: one of three others is relevant


def test_capture_dates_come_from_the_file_name_only():
    assert capture_date("20180831-GOPR0522.jpg") == dt.date(2018, 8, 31)
    assert capture_date("20181399-x.jpg") is None  # eight digits, not a date
    assert capture_date("IMG_2049.jpg") is None


def test_a_shoot_is_a_run_of_consecutive_days():
    names = ["20180617-a.jpg", "20180618-b.jpg", "20180620-c.jpg", "20190101-d.jpg", "x.jpg"]
    labels = shoots(names, max_gap_days=1)
    assert labels == {
        "20180617-a.jpg": "shoot-20180617",
        "20180618-b.jpg": "shoot-20180617",
        "20180620-c.jpg": "shoot-20180620",
        "20190101-d.jpg": "shoot-20190101",
    }
    assert shoots(names, max_gap_days=2)["20180620-c.jpg"] == "shoot-20180617"


def test_an_album_name_is_contradicted_by_a_member_that_denies_it():
    from benchmarks.retrieval import contradicts

    assert contradicts(["black & white", "low-key"], ["warm", "vivid colour"])
    assert contradicts(["soft colour", "mid tones"], ["black & white", "punchy contrast"])
    assert contradicts(["high-key"], ["cool", "low-key"])
    assert not contradicts(["warm", "punchy contrast"], ["warm"])
    assert not contradicts(["black & white"], ["sepia-toned"])  # monochrome either way
