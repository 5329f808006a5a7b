"""The torch PSNR, SSIM and NIQE equal the NumPy references frame by frame, also in batches of different frames.

Runs on the CPU; where CUDA is present the same comparisons run on the GPU too.
"""

from __future__ import annotations

from typing import Dict, List

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d
from skimage import data
from skimage.metrics import structural_similarity

from talkingface.eval import assets
from talkingface.eval.niqe import _GAM, _R_GAM, PristineModel, niqe, rgb2gray_matlab
from talkingface.eval.ssim import psnr, ssim

torch = pytest.importorskip("torch")

from talkingface.eval import gpu_classic  # noqa: E402
from talkingface.eval.gpu_classic import niqe_t, psnr_t, rgb2gray_t, ssim_t  # noqa: E402

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> PristineModel:
    folder = tmp_path_factory.mktemp("weights")
    return PristineModel.load(assets.fetch(assets.NIQE_PARAMS, str(folder)))


def rgb(gray: np.ndarray) -> np.ndarray:
    return np.repeat(gray[..., None], 3, axis=-1)


def skimage_ssim(a: np.ndarray, b: np.ndarray) -> float:
    return structural_similarity(
        a / 255.0, b / 255.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1,
        channel_axis=-1,
    )  # fmt: skip


def ssim_pairs() -> List[tuple]:
    """Same-size pairs: posterised, shifted, noisy, bright and nearly flat, another image."""
    rng = np.random.default_rng(7)
    ref = data.astronaut()
    noisy = np.clip(ref + rng.normal(0, 12, ref.shape), 0, 255).astype(np.uint8)
    flat = np.full_like(ref, 250)
    return [
        (ref, (ref // 16) * 16 + 8),
        (ref, np.roll(ref, 1, axis=1)),
        (ref, noisy),
        (flat, flat + 1),
        (rgb(data.camera()), ref),
    ]


@pytest.mark.parametrize("device", DEVICES)
class TestPsnrSsim:
    def test_a_batch_of_different_frames_matches_frame_by_frame(self, device: str) -> None:
        pairs = ssim_pairs()
        gt, pred = np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
        got_ssim = ssim_t(torch.from_numpy(gt).to(device), torch.from_numpy(pred).to(device)).cpu().numpy()
        got_psnr = psnr_t(torch.from_numpy(gt).to(device), torch.from_numpy(pred).to(device)).cpu().numpy()
        expected = np.array([skimage_ssim(a, b) for a, b in pairs])
        assert np.abs(got_ssim - expected).max() < 1e-6
        assert np.abs(got_ssim - ssim(gt, pred)).max() < 1e-5  # the NumPy SSIM runs in float32 (its own bound)
        assert np.abs(got_psnr - psnr(gt, pred)).max() < 1e-9

    @pytest.mark.parametrize("shape", [(97, 131), (11, 16), (300, 410)])
    def test_odd_sizes(self, device: str, shape: tuple) -> None:
        rng = np.random.default_rng(3)
        a = data.chelsea()[: shape[0], : shape[1]]
        b = np.clip(a + rng.normal(0, 20, a.shape), 0, 255).astype(np.uint8)
        ta, tb = torch.from_numpy(a[None]).to(device), torch.from_numpy(b[None]).to(device)
        assert abs(ssim_t(ta, tb).item() - skimage_ssim(a, b)) < 1e-6
        assert abs(psnr_t(ta, tb).item() - psnr(a[None], b[None])[0]) < 1e-9

    def test_identical_frames(self, device: str) -> None:
        frames = torch.from_numpy(np.stack([data.astronaut(), rgb(data.camera())])).to(device)
        assert torch.isinf(psnr_t(frames, frames)).all()
        assert torch.allclose(ssim_t(frames, frames).cpu(), torch.ones(2, dtype=torch.float64), atol=1e-12)


def test_blur_reflects_like_scipy_even_past_the_far_edge() -> None:
    """scipy's 'reflect' repeats the edge sample (torch's 'reflect' does not); on 3 samples the window wraps twice."""
    for length in (1, 3, 7, 64, 150):  # one tile, one tile exactly, several with a partial last one
        signal = np.random.default_rng(length).random((2, length))
        expected = gaussian_filter1d(signal, 1.5, truncate=3.5, mode="reflect")
        rows = gpu_classic._blur_rows(torch.from_numpy(signal.T.copy()), slice(0, length)).numpy().T
        cols = gpu_classic._blur_cols(torch.from_numpy(signal), slice(0, length)).numpy()
        assert np.abs(rows - expected).max() < 1e-14 and np.abs(cols - expected).max() < 1e-14


def test_shape_and_dtype_are_checked() -> None:
    frames = torch.zeros((1, 32, 32, 3), dtype=torch.uint8)
    with pytest.raises(ValueError, match="uint8"):
        psnr_t(frames.float(), frames.float())
    with pytest.raises(ValueError, match="differ"):
        ssim_t(frames, frames[:, :16])


def niqe_images() -> Dict[str, np.ndarray]:
    rng = np.random.default_rng(11)
    return {
        "astronaut": data.astronaut(),
        "camera_rgb": rgb(data.camera()),
        "coffee": data.coffee()[:256, :320],
        "chelsea": data.chelsea()[:300, :410],
        "noise": rng.integers(0, 256, (256, 320, 3), dtype=np.uint8),
        "flat_small_noise": np.clip(128 + rng.normal(0, 1.5, (300, 410, 3)), 0, 255).round().astype(np.uint8),
    }


# Natural images to 1e-6; synthetic ones, whose features come from tiny local deviations, to 1e-4.
NIQE_TOLERANCE = {"noise": 1e-4, "flat_small_noise": 1e-4}


@pytest.mark.parametrize("device", DEVICES)
class TestNiqe:
    @pytest.mark.parametrize("name", list(niqe_images()))
    def test_one_frame_equals_numpy(self, device: str, name: str, model: PristineModel) -> None:
        image = niqe_images()[name]
        got = niqe_t(torch.from_numpy(image[None]).to(device), model)
        assert got.dtype == torch.float64 and got.shape == (1,)
        assert abs(got.item() - niqe(image, model)) < NIQE_TOLERANCE.get(name, 1e-6)

    def test_a_batch_of_different_frames_matches_frame_by_frame(self, device: str, model: PristineModel) -> None:
        """Includes a letterboxed frame (blocks of NaN features) and a constant one (NaN), among finite ones."""
        images, rows, cols = niqe_images(), 288, 384
        natural = [images[name][:rows, :cols] for name in ("astronaut", "camera_rgb", "chelsea")]
        letterbox = np.zeros((rows, cols, 3), np.uint8)
        letterbox[100:200] = data.astronaut()[100:200, :cols]
        noise = np.random.default_rng(4).integers(0, 256, (rows, cols, 3), dtype=np.uint8)
        flat = np.full((rows, cols, 3), 77, np.uint8)
        batch = np.stack(natural + [letterbox, images["flat_small_noise"][:rows, :cols], noise, flat])
        got = niqe_t(torch.from_numpy(batch).to(device), model).cpu().numpy()
        expected = np.array([niqe(frame, model) for frame in batch])
        assert np.isnan(got[-1]) and np.isnan(expected[-1])
        assert np.abs(got[:-1] - expected[:-1]).max() < 1e-4
        assert np.abs(got[:4] - expected[:4]).max() < 1e-6

    def test_gray_frames_give_the_matlab_value(self, device: str, model: PristineModel) -> None:
        assert abs(niqe_t(torch.from_numpy(data.camera()[None]).to(device), model).item() - 3.096202) < 1e-4

    def test_too_small(self, device: str, model: PristineModel) -> None:
        with pytest.raises(ValueError, match="96x96"):
            niqe_t(torch.zeros((1, 95, 200, 3), dtype=torch.uint8, device=device), model)

    def test_rgb2gray_rounds_like_matlab(self, device: str) -> None:
        colours = np.random.default_rng(5).integers(0, 256, (1, 1000, 1000, 3), dtype=np.uint8)
        got = rgb2gray_t(torch.from_numpy(colours).to(device)).cpu().numpy()
        assert np.array_equal(got, rgb2gray_matlab(colours[0])[None])


def test_nearest_table_entry_is_the_reference_argmin() -> None:
    """Nearest entry by bisection equals the reference's argmin over all 9801, midpoints and ends included."""
    rng = np.random.default_rng(2)
    values = np.concatenate([rng.uniform(-0.2, 1.2, 4000), _R_GAM[::7], (_R_GAM[1::5] + _R_GAM[:-1:5]) / 2])
    expected = np.argmin((_R_GAM[None, :] - values[:, None]) ** 2, axis=1)
    got = gpu_classic._nearest(torch.from_numpy(values)).numpy()
    assert np.array_equal(got, expected) and len(_GAM) == len(_R_GAM)


def reference_distance(feat: np.ndarray, model: PristineModel) -> float:
    """The last lines of ``niqe.niqe``."""
    complete = feat[~np.isnan(feat).any(axis=1)]
    mu = np.nanmean(feat, axis=0)
    diff = model.mu - mu
    return float(np.sqrt(diff @ np.linalg.pinv((model.cov + np.cov(complete, rowvar=False)) / 2) @ diff))


def test_distance_falls_back_to_pinv_for_a_singular_matrix() -> None:
    """A singular pristine covariance: Cholesky refuses one frame's matrix, pinv takes it; the other stays solved."""
    rng = np.random.default_rng(9)
    model = PristineModel(mu=np.zeros(36), cov=np.diag([1.0, 1.0] + [0.0] * 34))
    singular = np.zeros((50, 36))
    singular[:, :2] = rng.normal(size=(50, 2))
    regular = rng.normal(size=(50, 36))
    regular[3, 5] = np.nan  # a block left out of the covariance, kept in the other features' means
    got = gpu_classic._distance(torch.from_numpy(np.stack([singular, regular])), model).numpy()
    expected = [reference_distance(singular, model), reference_distance(regular, model)]
    assert np.abs(got - expected).max() < 1e-9
