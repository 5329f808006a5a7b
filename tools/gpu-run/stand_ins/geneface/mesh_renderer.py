"""talkingface gpu-run stand-in for deep_3drecon/util/mesh_renderer.py (GeneFace @ 15ff4e5).

Upstream's renderer rasterizes with pytorch3d, whose CUDA build does not fit the run's time. recon_coeff() returns
only the network's coefficients (FaceReconModel.output_coeff); the rendered mask, depth and face are never read on
that path. This renderer keeps the signature and the output shapes, with empty images.
"""

import torch
from torch import nn


class MeshRenderer(nn.Module):
    def __init__(self, rasterize_fov, znear=0.1, zfar=10, rasterize_size=224, **args):
        super().__init__()
        self.rasterize_size = rasterize_size
        self.fov, self.znear, self.zfar = rasterize_fov, znear, zfar

    def forward(self, vertex, tri, feat=None):
        size = int(self.rasterize_size)
        mask = torch.zeros(vertex.shape[0], 1, size, size, device=vertex.device)
        image = None if feat is None else torch.zeros(vertex.shape[0], 3, size, size, device=vertex.device)
        return mask, mask.clone(), image
