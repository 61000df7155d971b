import numpy as np

from vigil.ops.tiles import cut_by_window, plan_windows


def test_no_points_no_windows():
    assert plan_windows(768, 576, np.zeros((0, 2)), 240, 4) == []


def test_windows_cover_points_and_stay_inside_the_frame():
    points = np.array([[10, 10], [30, 20], [700, 500], [760, 570]], np.float32)
    windows = plan_windows(768, 576, points, 240, 4)
    assert len(windows) == 2  # two clusters, one window each
    for x0, y0, x1, y1 in windows:
        assert 0 <= x0 < x1 <= 768 and 0 <= y0 < y1 <= 576 and x1 - x0 == 240 and y1 - y0 == 240
    for x, y in points:
        assert any(x0 <= x < x1 and y0 <= y < y1 for x0, y0, x1, y1 in windows)


def test_the_cap_holds_however_many_points():
    rng = np.random.default_rng(0)
    points = rng.uniform([0, 0], [4000, 3000], (500, 2))
    windows = plan_windows(4000, 3000, points, 200, 4)
    assert len(windows) == 4
    # greedy: the first window covers at least as many points as any later one
    counts = [((points[:, 0] >= x0) & (points[:, 0] < x1) & (points[:, 1] >= y0) & (points[:, 1] < y1)).sum()
              for x0, y0, x1, y1 in windows]
    assert counts[0] == max(counts)


def test_a_window_never_leaves_a_narrow_frame():
    assert plan_windows(1, 300, np.array([[0, 100]]), 240, 4) == [(0, 100, 1, 101)]


def test_boxes_cut_by_an_inner_window_edge_are_marked():
    window = (100, 100, 340, 340)
    boxes = np.array([[0, 50, 20, 90], [50, 50, 90, 90], [200, 30, 240, 100], [200, 150, 230, 230]], np.float32)
    assert cut_by_window(boxes, window, 768, 576).tolist() == [True, False, True, False]
    # at the frame's own edges nothing is cut
    assert not cut_by_window(boxes[:1], (0, 0, 240, 240), 768, 576).any()
