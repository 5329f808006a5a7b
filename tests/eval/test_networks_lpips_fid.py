"""LPIPS and FID equal their references (lpips 0.1.4, pytorch-fid 0.3.0) on networks with seeded random weights.

No weight can be downloaded here, so each test draws weights at random, saves them as the published files are
saved (a plain state dict under the published file name and keys, in torch's legacy serialisation as lpips' shipped
``alex.pth`` is), builds the reference network from them through the reference's own loading code, and compares
outputs.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Dict, Tuple

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")
lpips = pytest.importorskip("lpips")
fid_inception = pytest.importorskip("pytorch_fid.inception")
fid_score = pytest.importorskip("pytorch_fid.fid_score")

from talkingface.core.errors import TalkingfaceError  # noqa: E402
from talkingface.eval.fid_net import RunningStats, frechet_distance, load_fid_inception  # noqa: E402
from talkingface.eval.lpips_net import load_lpips  # noqa: E402

ALEXNET_FILE = "alexnet-owt-7be5be79.pth"
HEADS_FILE = "v0.1/alex.pth"
FID_FILE = "pt_inception-2015-12-05-6726825d.pth"


def save_like_upstream(state: Dict[str, object], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, str(path), _use_new_zipfile_serialization=False)
    return path


def randomise(module: torch.nn.Module, generator: torch.Generator) -> None:
    """He-scaled convolutions and BatchNorm statistics near 1, so activations stay O(1) through deep nets."""
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, torch.nn.Conv2d):
                fan_in = layer.weight[0].numel()
                layer.weight.copy_(torch.randn(layer.weight.shape, generator=generator) * math.sqrt(2.0 / fan_in))
                if layer.bias is not None:
                    layer.bias.copy_(torch.randn(layer.bias.shape, generator=generator) * 0.05)
            elif isinstance(layer, torch.nn.BatchNorm2d):
                n = layer.num_features
                layer.weight.copy_(0.8 + 0.4 * torch.rand(n, generator=generator))
                layer.bias.copy_(0.1 * torch.randn(n, generator=generator))
                layer.running_mean.copy_(0.1 * torch.randn(n, generator=generator))
                layer.running_var.copy_(0.5 + torch.rand(n, generator=generator))


# --- LPIPS -------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lpips_files(tmp_path_factory: pytest.TempPathFactory) -> Tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("lpips")
    torch.manual_seed(0)
    alexnet = torchvision.models.AlexNet()
    randomise(alexnet, torch.Generator().manual_seed(1))
    generator = torch.Generator().manual_seed(2)
    # lpips clamps its heads to be non-negative while training; random ones keep that property.
    heads = {
        f"lin{k}.model.1.weight": 0.2 * torch.rand((1, c, 1, 1), generator=generator)
        for k, c in enumerate((64, 192, 384, 256, 256))
    }
    backbone = save_like_upstream(alexnet.state_dict(), folder / ALEXNET_FILE)
    return backbone, save_like_upstream(heads, folder / HEADS_FILE)


def reference_lpips(backbone: Path, heads: Path) -> torch.nn.Module:
    """lpips' own network: heads through its ``model_path`` loader, trunk copied from the torchvision file."""
    with warnings.catch_warnings():  # lpips still calls torchvision with the deprecated ``pretrained=False``
        warnings.simplefilter("ignore", UserWarning)
        ref = lpips.LPIPS(
            net="alex", version="0.1", pretrained=True, pnet_rand=True, model_path=str(heads), verbose=False
        )
    features = torch.load(str(backbone), map_location="cpu")
    # lpips slices AlexNet.features into slice1..slice5, keeping torchvision's layer indices as names.
    trunk = {key: features["features." + key.split(".", 1)[1]] for key in ref.net.state_dict()}
    ref.net.load_state_dict(trunk)
    saved = torch.load(str(heads), map_location="cpu")
    for k in range(5):  # lpips loads heads with strict=False; make sure it really took ours
        assert torch.equal(getattr(ref, f"lin{k}").model[1].weight, saved[f"lin{k}.model.1.weight"])
    return ref.eval()


def lpips_batches() -> list:
    generator = torch.Generator().manual_seed(3)
    out = []
    for shape in ((3, 3, 64, 64), (2, 3, 97, 131)):
        a = torch.rand(shape, generator=generator) * 2 - 1
        noise = torch.randn(shape, generator=generator)
        out.append((a, (a + 0.3 * noise).clamp(-1, 1)))
        out.append((a, torch.rand(shape, generator=generator) * 2 - 1))
    return out


def test_lpips_equals_lpips_package(lpips_files: Tuple[Path, Path]) -> None:
    backbone, heads = lpips_files
    ref = reference_lpips(backbone, heads)
    ours = load_lpips(backbone_path=str(backbone), heads_path=str(heads), device="cpu")
    worst = 0.0
    with torch.no_grad():
        for a, b in lpips_batches():
            expected = ref(a, b).reshape(-1)
            got = ours(a, b)
            assert got.shape == (len(a),)
            assert (expected > 1e-3).all()  # a real, non-trivial distance
            worst = max(worst, (got - expected).abs().max().item())
            assert torch.equal(ours(a, a), torch.zeros(len(a)))
    print(f"LPIPS max abs diff {worst:.3g}")
    assert worst < 1e-5


def test_lpips_reads_the_shipped_head_file(lpips_files: Tuple[Path, Path]) -> None:
    """The real ``v0.1/alex.pth`` that lpips ships loads into our heads and gives lpips' numbers."""
    shipped = Path(lpips.__file__).parent / "weights" / "v0.1" / "alex.pth"
    if not shipped.is_file():
        pytest.skip("this lpips install does not ship its weights")
    backbone, _ = lpips_files
    ref = reference_lpips(backbone, shipped)
    ours = load_lpips(backbone_path=str(backbone), heads_path=str(shipped), device="cpu")
    a, b = lpips_batches()[0]
    with torch.no_grad():
        assert (ours(a, b) - ref(a, b).reshape(-1)).abs().max().item() < 1e-5


def test_lpips_rejects_files_with_other_keys(lpips_files: Tuple[Path, Path], tmp_path: Path) -> None:
    backbone, heads = lpips_files
    partial = torch.load(str(heads), map_location="cpu")
    del partial["lin4.model.1.weight"]
    broken = save_like_upstream(partial, tmp_path / "alex.pth")
    with pytest.raises(TalkingfaceError, match="lin4"):
        load_lpips(backbone_path=str(backbone), heads_path=str(broken), device="cpu")
    # A head file given as the backbone: wrong keys, not a silent random trunk.
    with pytest.raises(TalkingfaceError, match="features"):
        load_lpips(backbone_path=str(heads), heads_path=str(heads), device="cpu")


# --- FID network -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fid_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    net = torchvision.models.inception.Inception3(num_classes=1008, aux_logits=False, init_weights=False)
    randomise(net, torch.Generator().manual_seed(4))
    return save_like_upstream(net.state_dict(), tmp_path_factory.mktemp("fid") / FID_FILE)


def reference_fid(path: Path) -> torch.nn.Module:
    """pytorch-fid's ``InceptionV3([3])``, its download replaced by our file (it loads it with strict keys)."""

    def fake_download(url: str, **kwargs: object) -> dict:
        assert url.rsplit("/", 1)[1] == FID_FILE
        return torch.load(str(path), map_location="cpu")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fid_inception, "load_state_dict_from_url", fake_download)
        return fid_inception.InceptionV3([3]).eval()


def test_fid_features_equal_pytorch_fid(fid_file: Path) -> None:
    ref = reference_fid(fid_file)
    ours = load_fid_inception(path=str(fid_file), device="cpu")
    generator = torch.Generator().manual_seed(5)
    worst = 0.0
    with torch.no_grad():
        for shape in ((2, 3, 97, 131), (1, 3, 299, 299), (1, 3, 360, 256)):
            x = torch.rand(shape, generator=generator)
            expected = ref(x)[0].squeeze(3).squeeze(2)
            got = ours(x)
            assert got.shape == (shape[0], 2048)
            assert expected.abs().mean() > 1e-2  # activations survived the depth: the comparison means something
            if len(x) > 1:
                assert (expected[0] - expected[1]).abs().max() > 1e-3
            worst = max(worst, (got - expected).abs().max().item())
    print(f"FID feature max abs diff {worst:.3g}")
    assert worst < 1e-4


def test_fid_file_without_batchnorm_counters_loads(fid_file: Path, tmp_path: Path) -> None:
    """Files from before torch 0.4.1 have no ``num_batches_tracked``; every other key is still required."""
    state = torch.load(str(fid_file), map_location="cpu")
    old = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    assert len(old) < len(state)
    load_fid_inception(path=str(save_like_upstream(old, tmp_path / FID_FILE)), device="cpu")
    del old["Mixed_7c.branch_pool.conv.weight"]
    with pytest.raises(TalkingfaceError, match="Mixed_7c"):
        load_fid_inception(path=str(save_like_upstream(old, tmp_path / FID_FILE)), device="cpu")


# --- statistics and distance -------------------------------------------------------------------------------------


def test_running_stats_equal_numpy() -> None:
    rng = np.random.default_rng(6)
    # A large mean against a small spread is where a naive sum of outer products loses digits.
    rows = 1000.0 + rng.normal(size=(101, 16)) @ rng.normal(size=(16, 16))
    stats = RunningStats(dims=16)
    for chunk in np.split(rows, [7, 7, 40, 90]):  # uneven batches, one empty
        stats.update(chunk)
    stats.update(torch.zeros(0, 16))
    assert stats.count == 101
    np.testing.assert_allclose(stats.mu, np.mean(rows, axis=0), rtol=1e-13)
    expected = np.cov(rows, rowvar=False)
    assert np.abs(stats.sigma - expected).max() < 1e-9 * np.abs(expected).max()
    assert np.array_equal(stats.sigma, stats.sigma.T)


def test_running_stats_accept_tensors_and_check_shapes() -> None:
    stats = RunningStats(dims=4)
    with pytest.raises(ValueError):
        _ = stats.mu
    stats.update(torch.arange(4.0).reshape(1, 4))
    with pytest.raises(ValueError, match="at least 2"):
        _ = stats.sigma
    stats.update(np.ones((2, 4), np.float32))
    np.testing.assert_allclose(stats.mu, [2 / 3, 1, 4 / 3, 5 / 3], rtol=1e-15)
    with pytest.raises(ValueError):
        stats.update(np.ones((2, 5)))


def gaussian_stats(rng: np.random.Generator, n: int, d: int, shift: float) -> Tuple[np.ndarray, np.ndarray]:
    x = shift + rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) * 0.3
    return np.mean(x, axis=0), np.cov(x, rowvar=False)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pytorch-fid passes sqrtm's deprecated disp=False
@pytest.mark.parametrize(("n", "d"), [(300, 64), (40, 64), (100, 256)], ids=["full-rank", "singular", "singular-256"])
def test_frechet_distance_equals_pytorch_fid(n: int, d: int) -> None:
    rng = np.random.default_rng(n + d)
    mu1, sigma1 = gaussian_stats(rng, n, d, 0.0)
    mu2, sigma2 = gaussian_stats(rng, n, d, 0.2)
    expected = fid_score.calculate_frechet_distance(mu1, sigma1, mu2, sigma2)
    got = frechet_distance(mu1, sigma1, mu2, sigma2)
    print(f"FID n={n} d={d}: {got!r} vs {expected!r}, rel {abs(got - expected) / abs(expected):.3g}")
    assert expected > 1
    assert abs(got - expected) <= 1e-6 * abs(expected)
    assert frechet_distance(mu1, sigma1, mu1, sigma1) == pytest.approx(0, abs=1e-6 * abs(expected))


def test_frechet_distance_closed_form() -> None:
    # N(0, I) vs N(1, 4I) in 3-D: |mu|^2 = 3, tr(I) + tr(4I) - 2 tr(2I) = 3 + 12 - 12 = 3.
    assert frechet_distance(np.zeros(3), np.eye(3), np.ones(3), 4 * np.eye(3)) == pytest.approx(6.0, rel=1e-12)


def test_frechet_distance_rejects_non_covariances() -> None:
    with pytest.raises(ValueError):
        frechet_distance(np.zeros(2), np.diag([1.0, -1.0]), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))
    with pytest.raises(ValueError):
        frechet_distance(np.zeros(2), np.full((2, 2), np.nan), np.zeros(2), np.eye(2))


def test_device_running_stats_and_distance_equal_the_host_ones() -> None:
    """The GPU path's statistics and Fréchet distance, run on the CPU here, against fid_net's NumPy ones."""
    from talkingface.eval.deep import DeviceRunningStats, frechet_distance_on
    from talkingface.eval.fid_net import RunningStats, frechet_distance

    rng = np.random.default_rng(3)
    host, device = RunningStats(dims=64), DeviceRunningStats()
    for rows in (7, 1, 30, 12):
        x = np.abs(rng.standard_normal((rows, 64))) * 3 + 100
        host.update(x)
        device.update(torch.from_numpy(x).float())
    assert np.allclose(device.mu, host.mu, rtol=1e-6) and np.allclose(device.sigma, host.sigma, atol=1e-4)
    other = RunningStats(dims=64)
    other.update(np.abs(rng.standard_normal((80, 64))) * 1.1 + 99.9)
    expected = frechet_distance(host.mu, host.sigma, other.mu, other.sigma)
    got = frechet_distance_on("cpu", host.mu, host.sigma, other.mu, other.sigma)
    assert abs(got - expected) <= 1e-6 * abs(expected)
