"""The cached constant tables of the MS ops (ms_plugin/ops/tables.py)."""
import torch

from ms_plugin.ops import displacement_grid, kernel_soft_argmax, local_correlation
from ms_plugin.ops.tables import (allpairs_index, clear_tables, gaussian_table, unit_grid,
                                  window, window_mask)

CPU = torch.device('cpu')


def test_one_table_per_key():
    clear_tables()
    first = gaussian_table(3, 2.0, 10.0, torch.float32, CPU)
    assert gaussian_table(3, 2.0, 10.0, torch.float32, CPU) is first
    assert gaussian_table.cache_info().hits == 1
    # Any other key is another table.
    for other in (gaussian_table(3, 2.0, 10.0, torch.float64, CPU),
                  gaussian_table(3, 2.5, 10.0, torch.float32, CPU),
                  gaussian_table(3, 2.0, 20.0, torch.float32, CPU),
                  gaussian_table(2, 2.0, 10.0, torch.float32, CPU)):
        assert other is not first
    assert gaussian_table.cache_info().currsize == 5
    clear_tables()
    assert gaussian_table.cache_info().currsize == 0
    assert gaussian_table(3, 2.0, 10.0, torch.float32, CPU) is not first


def test_tables_hold_their_definitions():
    d, sigma = 2, 1.5
    grid = displacement_grid(d, dtype=torch.float64)  # [2, K]: (dx, dy)
    torch.testing.assert_close(unit_grid(d, torch.float64, CPU), grid / d)
    distance2 = ((grid[:, :, None] - grid[:, None, :]) ** 2).sum(0)  # [K (centre), K]
    torch.testing.assert_close(gaussian_table(d, sigma, 3.0, torch.float64, CPU),
                               3.0 * torch.exp(-distance2 / (2 * sigma ** 2)))
    ys, xs, inside = window(3, 4, 1, CPU)
    assert inside.shape == (3, 4, 3, 3)
    assert not inside[0, 0, 0].any() and inside[1, 1].all()  # top row / an inner position
    mask = window_mask(3, 4, 1, torch.float16, CPU)
    assert mask.dtype == torch.float16 and torch.equal(mask, inside.to(torch.float16))
    index = allpairs_index(3, 4, 1, CPU)
    assert index.shape == (3 * 4 * 9, )
    # Source (1, 2), displacement (dy, dx) = (1, -1): target (2, 1).
    assert index[(1 * 4 + 2) * 9 + 2 * 3 + 0] == (1 * 4 + 2) * 12 + (2 * 4 + 1)


def test_tables_made_in_inference_mode_serve_training():
    clear_tables()
    f1, f2 = torch.randn(2, 1, 3, 5, 7)
    with torch.inference_mode():
        local_correlation(f1, f2, 2, 'allpairs')
        kernel_soft_argmax(torch.rand(1, 25, 5, 7), 2)
    assert not window(5, 7, 2, CPU)[2].is_inference()
    assert not window_mask(5, 7, 2, torch.float32, CPU).is_inference()
    assert not gaussian_table(2, 5.0, 100.0, torch.float32, CPU).is_inference()
    f1.requires_grad_(True)
    disp, conf = kernel_soft_argmax(local_correlation(f1, f2, 2, 'allpairs').relu(), 2)
    (disp.sum() + conf.sum()).backward()
    assert torch.isfinite(f1.grad).all()
