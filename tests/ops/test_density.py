"""Density maps integrate to the count (border points included), kernels, sum-pooling, tiles and their merge."""

from __future__ import annotations

import numpy as np
import pytest

from vigil.ops.density import adaptive_sigmas, boxes_density, density_map, gaussian_kernel, head_points, sum_pool
from vigil.ops.tiles import merge_tiles, tile_grid


@pytest.mark.parametrize("sigma", [0.5, 1.0, 4.0, 15.0])
def test_kernel_sums_to_one(sigma):
    kernel = gaussian_kernel(sigma)
    assert kernel.shape[0] % 2 == 1
    assert kernel.sum() == pytest.approx(1.0, abs=1e-5)


BORDER_POINTS = np.array([[0, 0], [0.5, 40], [79.9, 59.9], [79, 0], [40, 59], [3, 3], [76, 30]], np.float64)


@pytest.mark.parametrize(("points", "sigma"), [
    (BORDER_POINTS, None),
    (BORDER_POINTS, 8.0),
    (np.random.default_rng(0).uniform([0, 0], [80, 60], (300, 2)), None),  # dense: adaptive sigmas small
    (np.random.default_rng(1).uniform([0, 0], [80, 60], (25, 2)), 6.0),
    (np.array([[40.0, 30.0]]), None),  # a lone point: the fallback sigma
])
def test_map_integrates_to_count_within_5_percent(points, sigma):
    dense = density_map(points, 60, 80, sigma)
    assert dense.shape == (60, 80)
    assert abs(dense.sum() - len(points)) <= 0.05 * len(points)
    assert sum_pool(dense, 8).sum() == pytest.approx(dense.sum(), rel=1e-4)  # 1/8 targets keep the count


def test_points_outside_the_image_are_dropped():
    assert density_map(np.array([[-5, 10], [10, 70], [10, 10]]), 60, 80, 2.0).sum() == pytest.approx(1.0, abs=1e-4)


def test_adaptive_sigma_follows_neighbour_distance():
    close = np.array([[0, 0], [2, 0], [0, 2], [2, 2]], np.float64)
    far = close * 20
    assert adaptive_sigmas(far).mean() > adaptive_sigmas(close).mean() * 10


def test_sum_pool_pads_ragged_edges():
    grid = np.ones((10, 13), np.float32)
    pooled = sum_pool(grid, 8)
    assert pooled.shape == (2, 2)
    assert pooled.sum() == pytest.approx(130)


def test_heads_of_boxes_and_their_density():
    boxes = np.array([[10, 20, 30, 120], [50, 0, 70, 40]], np.float32)
    assert head_points(boxes).tolist() == [[20.0, 30.0], [60.0, 4.0]]
    assert boxes_density(boxes, 130, 100).sum() == pytest.approx(2.0, abs=1e-3)


@pytest.mark.parametrize(("grid", "overlap"), [(1, 0.2), (2, 0.2), (3, 0.3)])
def test_tiles_cover_the_frame_with_overlap(grid, overlap):
    tiles = tile_grid(1920, 1080, grid, overlap)
    assert len(tiles) == grid * grid
    covered = np.zeros((1080, 1920), bool)
    for x0, y0, x1, y1 in tiles:
        covered[y0:y1, x0:x1] = True
    assert covered.all()
    if grid > 1:
        assert tiles[0][2] > tiles[1][0]  # neighbours overlap


def test_merge_drops_duplicates_and_cut_halves():
    xyxy = np.array([[100, 100, 140, 200], [102, 101, 141, 199],  # the same person from two tiles
                     [100, 100, 139, 150],  # the top half, cut by a tile edge
                     [300, 100, 340, 200]], np.float32)  # somebody else
    score = np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    assert sorted(merge_tiles(xyxy, score).tolist()) == [0, 3]
