import numpy as np
import pytest

from vigil.ops.letterbox import fitted_size, letterbox


@pytest.mark.parametrize(("src", "dst"), [((768, 576), (416, 416)), ((1920, 1080), (416, 256)),
                                          ((576, 768), (416, 416)), ((300, 1200), (320, 640)), ((50, 40), (416, 416))])
def test_boxes_round_trip_exactly(src, dst):
    src_w, src_h = src
    image = np.zeros((src_h, src_w, 3), np.uint8)
    canvas, box = letterbox(image, *dst)
    assert canvas.shape == (dst[1], dst[0], 3)
    truth = np.array([[0.1 * src_w, 0.2 * src_h, 0.6 * src_w, 0.9 * src_h], [0, 0, src_w, src_h]], np.float32)
    on_canvas = np.column_stack([truth[:, 0] * box.scale_x + box.pad_x, truth[:, 1] * box.scale_y + box.pad_y,
                                 truth[:, 2] * box.scale_x + box.pad_x, truth[:, 3] * box.scale_y + box.pad_y])
    np.testing.assert_allclose(box.boxes_to_source(on_canvas), truth, atol=1e-3)


def test_content_is_centred_and_keeps_aspect():
    image = np.full((100, 200, 3), 255, np.uint8)
    canvas, box = letterbox(image, 416, 416, pad_value=0)
    rows = np.where(canvas[:, :, 0].max(axis=1) > 0)[0]
    assert (rows.min(), rows.max() + 1) == (104, 312)  # 208 rows of content, 104 of padding above and below
    assert box.pad_y == 104 and box.pad_x == 0
    assert fitted_size(200, 100, 416, 416) == (416, 208)


def test_boxes_are_clipped_to_the_source():
    _, box = letterbox(np.zeros((100, 200, 3), np.uint8), 416, 416)
    out = box.boxes_to_source(np.array([[-50, -50, 500, 500]], np.float32))
    assert out.tolist() == [[0, 0, 200, 100]]
