"""tools/gpu-run/ext_check.py's pure-PyTorch references, checked on the CPU (the extensions themselves need a GPU)."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
import types
from pathlib import Path
from typing import NamedTuple

import pytest

torch = pytest.importorskip("torch")
ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("ext_check", ROOT / "tools" / "gpu-run" / "ext_check.py")
ext_check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ext_check)


def test_freq_ref_layout_matches_the_kernel() -> None:
    x = torch.tensor([[0.5, -1.0]])
    out = ext_check.freq_ref(x, 2)
    # [x, sin(x), cos(x), sin(2x), cos(2x)], each a block of D=2 columns (kernel_freq's column order).
    want = [0.5, -1.0, math.sin(0.5), math.sin(-1.0), math.cos(0.5), math.cos(-1.0), math.sin(1.0), math.sin(-2.0)]
    assert out.shape == (1, 10)
    assert torch.allclose(out[0, :8], torch.tensor(want))


def test_sh_ref_is_orthonormal_over_the_sphere() -> None:
    d = torch.nn.functional.normalize(torch.randn(200000, 3, generator=torch.Generator().manual_seed(1)), dim=-1)
    y = ext_check.sh_ref(d.double(), 3)
    gram = (y.T @ y) * (4 * math.pi / len(d))
    assert torch.allclose(gram, torch.eye(9, dtype=torch.float64), atol=0.02)


def test_near_far_ref_hits_and_misses() -> None:
    aabb = torch.tensor([-1.0, -1.0, -1.0, 1.0, 1.0, 1.0])
    o = torch.tensor([[-3.0, 0.0, 0.0], [-3.0, 5.0, 0.0], [0.0, 0.0, 0.0]])
    d = torch.tensor([[1.0, 1e-9, 1e-9], [1.0, 1e-9, 1e-9], [0.0, 0.0, 1.0]]) + 0.0
    near, far = ext_check.near_far_ref(o, d, aabb, 0.05)
    assert near[0].item() == pytest.approx(2.0) and far[0].item() == pytest.approx(4.0)
    assert near[1].item() == torch.finfo(torch.float32).max  # passes above the box
    assert near[2].item() == pytest.approx(0.05) and far[2].item() == pytest.approx(1.0)  # inside: near clamped


def test_dist3_and_knn_refs_on_a_line_of_points() -> None:
    pts = torch.tensor([[0.0, 0, 0], [1.0, 0, 0], [3.0, 0, 0], [6.0, 0, 0]])
    # Point 0's three others are at squared distances 1, 9, 36.
    assert ext_check.dist3_ref(pts)[0].item() == pytest.approx((1 + 9 + 36) / 3)
    dists, idx = ext_check.knn_ref(pts[None, :1], pts[None], 2)
    assert idx.tolist() == [[[0, 1]]] and dists.tolist() == [[[0.0, 1.0]]]


def test_cpu_run_writes_json_and_gpu_run_without_cuda_fails_cleanly(tmp_path: Path, capsys) -> None:
    out = tmp_path / "refs.json"
    assert ext_check.main(["--device", "cpu", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["device"] == "cpu" and {r["status"] for r in report["checks"]} == {"pass"}
    if not torch.cuda.is_available():
        assert ext_check.main(["--out", str(tmp_path / "gpu.json")]) == 2
        assert capsys.readouterr().err.startswith("error: --device cuda but torch sees no GPU")


def test_grid_index_is_dense_while_it_fits_and_hashed_after() -> None:
    corner = torch.tensor([[1, 1, 1], [2, 0, 3]])
    # A 4^3 grid (resolution 3, +1 vertices a side) fits a table of 64: row = i + 4j + 16k.
    assert ext_check.grid_index(corner, 0, False, 64, 3).tolist() == [1 + 4 + 16, 2 + 48]
    # The same corners in a 32-row table are hashed (XOR of corner * prime, uint32), then taken modulo 32.
    p = ext_check.HASH_PRIMES
    want = [(1 ^ p[1] ^ p[2]) % 32, ((2 * p[0]) ^ ((3 * p[2]) & 0xFFFFFFFF)) % 32]
    assert ext_check.grid_index(corner, 0, False, 32, 3).tolist() == want
    # A tiled grid never hashes: it stops adding dimensions once the stride passes the table, and wraps.
    assert ext_check.grid_index(corner, 1, False, 8, 3).tolist() == [(1 + 4) % 8, 2 % 8]


def test_grid_ref_blends_a_linear_table_exactly_and_zeroes_out_of_range() -> None:
    assert ext_check.grid_linear_check()
    offsets = ext_check.grid_offsets(2, 2, 2.0, 4, 8, False)
    assert offsets == [0, 32, 120]  # 5^2 = 25 -> 32 rows; 9^2 = 81 -> 88 rows
    emb = torch.ones(offsets[-1], 2)
    out = ext_check.grid_ref(torch.tensor([[0.3, 0.7], [1.2, 0.5]]), emb, offsets, 2.0, 4)
    assert torch.allclose(out[0], torch.ones(4)) and torch.equal(out[1], torch.zeros(4))


def test_gaussian_rasterizer_ref_closed_forms() -> None:
    # One isotropic Gaussian's alpha profile and radius, depth order, the tile rectangle's cut, the early stop at
    # T < 1e-4, the 0.99 clamp's straight-through gradient, and the SH basis (see each function's docstring).
    assert ext_check.gs_closed_form_check()
    assert ext_check.gs_order_check()
    assert ext_check.gs_tile_cull_check()
    assert ext_check.gs_early_stop_check()
    assert ext_check.gs_alpha_clamp_check()
    assert ext_check.gs_sh_basis_check()


def test_gaussian_rasterizer_ref_gradients_match_finite_differences() -> None:
    assert ext_check.gs_grad_check(torch.Generator().manual_seed(0))


def test_gaussian_rasterizer_ref_culls_and_keeps_quaternions_unnormalized() -> None:
    s = ext_check.gs_axis_scene(
        [[0.0, 0.0, 3.0], [0.0, 0.0, 0.15], [0.0, 0.0, -1.0]], [0.05] * 3, [0.5] * 3, [[1.0] * 3] * 3
    )
    _, radii, _, _ = ext_check.gs_axis_render(s)
    assert radii[0] > 0 and radii[1:].tolist() == [0, 0]  # view z <= 0.2: culled
    # computeCov3D uses the quaternion as given (its normalization is commented out): (2, 0, 0, 0) still gives R = I,
    # but (0, 2, 0, 0) gives R[1][1] = 1 - 2 x^2 = -7 where its normalized (0, 1, 0, 0) gives -1.
    ones = torch.ones(1, 3, dtype=torch.float64)
    cov = ext_check.gs_cov3d(ones, torch.tensor([[2.0, 0.0, 0.0, 0.0]], dtype=torch.float64))
    assert torch.allclose(cov[0], torch.eye(3, dtype=torch.float64))
    cov = ext_check.gs_cov3d(ones, torch.tensor([[0.0, 2.0, 0.0, 0.0]], dtype=torch.float64))
    assert cov[0, 1, 1].item() == pytest.approx(49.0)


def fake_rasterizer_module():
    """diff_gaussian_rasterization's Python API over the reference in float32, to run the GPU check's plumbing here."""

    class GaussianRasterizationSettings(NamedTuple):
        image_height: int
        image_width: int
        tanfovx: float
        tanfovy: float
        bg: object
        scale_modifier: float
        viewmatrix: object
        projmatrix: object
        sh_degree: int
        campos: object
        prefiltered: bool
        debug: bool

    class GaussianRasterizer:
        def __init__(self, raster_settings) -> None:
            self.s = raster_settings

        def __call__(self, means3D, means2D, opacities, shs=None, colors_precomp=None, scales=None, rotations=None):
            s = self.s
            cam = {
                "width": s.image_width,
                "height": s.image_height,
                "tanfovx": s.tanfovx,
                "tanfovy": s.tanfovy,
                "view": s.viewmatrix,
                "proj": s.projmatrix,
                "campos": s.campos,
            }
            color, radii, depth, _ = ext_check.gs_render_ref(
                means3D, opacities, scales, rotations, s.bg, cam, colors_precomp, shs, s.sh_degree, means2D
            )
            return color, radii.int(), depth

    mod = types.ModuleType("diff_gaussian_rasterization")
    mod.GaussianRasterizationSettings = GaussianRasterizationSettings
    mod.GaussianRasterizer = GaussianRasterizer
    return mod


def test_gaussian_rasterizer_check_runs_against_a_float32_stand_in(monkeypatch) -> None:
    # The check end to end (scene, API call, backward, comparison) with the reference itself in float32 as the
    # "kernel": every error is float32 rounding, well under TOL, and the scene exercises the early stop.
    monkeypatch.setitem(sys.modules, "diff_gaussian_rasterization", fake_rasterizer_module())
    row = ext_check.check_diff_gaussian_rasterization("cpu", torch.Generator().manual_seed(0))
    assert row["forward"] <= ext_check.TOL and row["backward"] <= ext_check.TOL
    assert set(row["parts"]) == {"colors_precomp", "sh"}
    for part in row["parts"].values():
        assert part["radii_mismatch"] == 0 and part["pixels_off"] == 0
        assert {"grad.means3D", "grad.means2D", "grad.opacities", "grad.scales", "grad.rotations"} <= set(part)
    assert row["scene"]["stopped_pixels"] > 0 and 0 < row["scene"]["rendered"] < row["scene"]["gaussians"]
    assert ext_check.gs_safe(row["scene"]["margins"])
