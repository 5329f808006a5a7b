#!/usr/bin/env python3
"""Value check of the compiled CUDA extensions against pure-PyTorch references, on random inputs; writes JSON.

    python3 tools/gpu-run/ext_check.py --out ext_check.json             # on a GPU, with the extension wheels installed
    python3 tools/gpu-run/ext_check.py --device cpu --out refs.json      # no GPU: the references check themselves only

Each check calls the extension's own entry point (the names upstream's Python wrappers call: ER-NeRF's
``_freqencoder``, ``_shencoder``, ``_gridencoder``, ``_raymarching_face``; simple-knn's ``distCUDA2``; pytorch3d's
``knn_points``; GaussianTalker's ``diff_gaussian_rasterization.GaussianRasterizer``) and compares it, forward and
(where the operation has one) backward, with a reference written here from upstream's CUDA source. The references
are plain torch, so CI unit-tests them on the CPU (tests/test_ext_check.py). Only the standard library and torch are
needed. Exit status: 0 when every check ran and passed, 1 when one failed, raised or its extension is missing, 2 on
bad use (e.g. --device cuda where torch sees no GPU).
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import platform
import sys
import types
from pathlib import Path
from typing import Callable, Dict, List, Optional

import torch

TOL = 1e-4  # float32 kernels (ER-NeRF's use __sinf): relative-to-scale error allowed


# ------------------------------------------------------------------------------------------- references (torch only)
def freq_ref(x: torch.Tensor, degree: int) -> torch.Tensor:
    """ER-NeRF freqencoder: [x, sin(x), cos(x), sin(2x), cos(2x), ..., up to 2^(degree-1)], each block of D columns
    (kernel_freq: column c >= D is sin(x_d * 2^(col // 2) + (col % 2) * pi / 2) with col = c // D - 1)."""
    blocks = [x]
    for f in range(degree):
        blocks += [torch.sin(x * 2.0**f), torch.cos(x * 2.0**f)]
    return torch.cat(blocks, dim=-1)


def sh_ref(d: torch.Tensor, degree: int) -> torch.Tensor:
    """ER-NeRF shencoder for degree <= 3 (1, 4 or 9 outputs), the constants and signs of shencoder.cu."""
    if degree > 3:
        raise ValueError("sh_ref covers degree 1 to 3")
    x, y, z = d.unbind(-1)
    out = [torch.full_like(x, 0.28209479177387814)]
    if degree > 1:
        out += [-0.48860251190291987 * y, 0.48860251190291987 * z, -0.48860251190291987 * x]
    if degree > 2:
        out += [
            1.0925484305920792 * x * y,
            -1.0925484305920792 * y * z,
            0.94617469575755997 * z * z - 0.31539156525251999,
            -1.0925484305920792 * x * z,
            0.54627421529603959 * x * x - 0.54627421529603959 * y * y,
        ]
    return torch.stack(out, dim=-1)


def near_far_ref(rays_o: torch.Tensor, rays_d: torch.Tensor, aabb: torch.Tensor, min_near: float) -> tuple:
    """raymarching's near_far_from_aabb: slab test; a miss gives float max for both, near is at least min_near."""
    lo, hi = aabb[:3], aabb[3:]
    t0, t1 = (lo - rays_o) / rays_d, (hi - rays_o) / rays_d
    near = torch.minimum(t0, t1).amax(dim=-1)
    far = torch.maximum(t0, t1).amin(dim=-1)
    miss = near > far
    near = near.clamp(min=min_near)
    big = torch.finfo(rays_o.dtype).max
    return torch.where(miss, big, near), torch.where(miss, big, far)


def knn_ref(p1: torch.Tensor, p2: torch.Tensor, k: int) -> tuple:
    """Squared distances and indices of the k nearest points of p2 for each point of p1 ([N, P, 3] batches)."""
    dist = ((p1[:, :, None, :] - p2[:, None, :, :]) ** 2).sum(-1)
    return dist.topk(k, dim=-1, largest=False)


def dist3_ref(points: torch.Tensor) -> torch.Tensor:
    """simple-knn's distCUDA2: the mean squared distance of each point to its 3 nearest other points."""
    dist = ((points[:, None, :] - points[None, :, :]) ** 2).sum(-1)
    dist.fill_diagonal_(float("inf"))
    return dist.topk(3, dim=-1, largest=False).values.mean(-1)


# gridencoder.cu's fast_hash primes (instant-ngp's); the first is 1 on purpose (memory coherence).
HASH_PRIMES = (1, 2654435761, 805459861, 3674653429, 2097192037, 1434869437, 2165219737)


def grid_offsets(dim: int, levels: int, per_level_scale: float, base: int, log2_hashmap: int, align: bool) -> list:
    """GridEncoder.__init__'s table offsets: each level holds min(2^log2_hashmap, (res+1)^D) rows, rounded up to 8."""
    offsets, offset = [], 0
    for i in range(levels):
        res = int(math.ceil(base * per_level_scale**i))
        rows = min(2**log2_hashmap, (res if align else res + 1) ** dim)
        offsets.append(offset)
        offset += int(math.ceil(rows / 8) * 8)
    return offsets + [offset]


def grid_index(corner: torch.Tensor, gridtype: int, align: bool, size: int, resolution: int) -> torch.Tensor:
    """get_grid_index for corners [B, D] (int64): a dense index while the level's grid fits its table, else (hash
    grid only) the XOR hash of the corner in uint32 arithmetic; modulo the table size in both cases (a tiled grid
    that does not fit wraps)."""
    index, stride = torch.zeros_like(corner[:, 0]), 1
    for d in range(corner.shape[1]):
        if stride > size:
            break
        index = index + corner[:, d] * stride
        stride *= resolution if align else resolution + 1
    if gridtype == 0 and stride > size:
        index = torch.zeros_like(index)
        for d in range(corner.shape[1]):
            index = index ^ ((corner[:, d] * HASH_PRIMES[d]) & 0xFFFFFFFF)
    return index % size


def grid_ref(
    x: torch.Tensor,
    emb: torch.Tensor,
    offsets: list,
    per_level_scale: float,
    base: int,
    gridtype: int = 0,
    align: bool = False,
) -> torch.Tensor:
    """ER-NeRF gridencoder (kernel_grid): inputs [B, D] in [0, 1], table [rows, C] -> [B, L * C], level-major per
    row as grid.py permutes it. Per level l: scale = 2^(l * log2 s) * H - 1 (float32, as exp2f), resolution =
    ceil(scale) + 1, pos = x * scale (+ 0.5 unless align_corners), and the D-linear blend of the 2^D corners around
    floor(pos). Differentiable in x and the table by autograd: the kernel's dy_dx (w starting at scale) and atomicAdd
    backward are that same derivative. Inputs outside [0, 1] give 0 (the kernel's out-of-bound rule)."""
    b, dim = x.shape
    log2s = torch.tensor(math.log2(per_level_scale), dtype=torch.float32)
    inside = ((x >= 0) & (x <= 1)).all(-1, keepdim=True)
    outs = []
    for level in range(len(offsets) - 1):
        scale = float(torch.exp2(level * log2s) * base - 1.0)
        resolution = int(math.ceil(scale)) + 1
        size = offsets[level + 1] - offsets[level]
        pos = x * scale + (0.0 if align else 0.5)
        cell = torch.floor(pos.detach().float()).long()
        frac = pos - cell.to(x.dtype)
        out = torch.zeros(b, emb.shape[1], dtype=emb.dtype, device=x.device)
        for corner_bits in range(1 << dim):
            w = torch.ones(b, dtype=x.dtype, device=x.device)
            corner = cell.clone()
            for d in range(dim):
                if corner_bits & (1 << d):
                    w = w * frac[:, d]
                    corner[:, d] += 1
                else:
                    w = w * (1 - frac[:, d])
            rows = offsets[level] + grid_index(corner, gridtype, align, size, resolution)
            out = out + w[:, None] * emb[rows]
        outs.append(torch.where(inside, out, torch.zeros_like(out)))
    return torch.cat(outs, dim=-1)


# 3D Gaussian splatting: GaussianTalker pins joungbinlee/custom-bg-depth-diff-gaussian-rasterization at 2d9ce6b, the
# graphdeco rasterizer with three changes read from its source: the background is an image [3, H, W] (bg_color[ch * H
# * W + pixel] in renderCUDA), a third output is the alpha-weighted view depth (no background term), and the
# quaternion is used as given (computeCov3D's "/ glm::length(rot)" is commented out, forward and backward).
GS_BLOCK = 16  # config.h: BLOCK_X = BLOCK_Y = 16, one tile per CUDA block
GS_ALPHA_MAX = float(torch.tensor(0.99, dtype=torch.float32))  # renderCUDA's float constants, as float32 holds them
GS_ALPHA_MIN = float(torch.tensor(1.0 / 255.0, dtype=torch.float32))
GS_T_MIN = float(torch.tensor(1e-4, dtype=torch.float32))
GS_SH_C1 = 0.4886025119029199
GS_SH_C2 = (1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792, 0.5462742152960396)
GS_SH_C3 = (
    -0.5900435899266435,
    2.890611442640554,
    -0.4570457994644658,
    0.3731763325901154,
    -0.4570457994644658,
    1.445305721320277,
    -0.5900435899266435,
)
# Smallest distance, in the reference (float64), of each discrete decision of the kernel from its threshold, that a
# check scene must keep so that the float32 kernel takes the same decisions: ln(opacity * G * 255) off 0 (the 1/255
# skip), ln(T * (1 - alpha) / 1e-4) off 0 (the early stop), 3 * sqrt(lambda_max) off an integer (the radius' ceil),
# the tile rectangle's (x -/+ radius (+ 15)) / 16 off an integer (its int cast), relative depth gaps (the sort), and
# the SH colour before its clamp at 0. Each is 40x or more the difference between this reference run in float32 and
# in float64 on gs_scene scenes (ln alpha: 2.6e-5 at most; the others 1e-5 or less).
GS_MARGINS = {"alpha": 1e-3, "T": 2e-3, "radius": 2e-3, "rect": 2e-4, "depth": 1e-5, "sh": 1e-3}


def gs_camera(
    width: int, height: int, fovx: float, eye: tuple, target: tuple, znear: float = 0.01, zfar: float = 100.0
) -> Dict:
    """A pinhole camera in the matrices GaussianTalker hands the rasterizer (gaussian_renderer/__init__.py): row-vector
    convention, p_view = [p, 1] @ viewmatrix and p_clip = [p, 1] @ projmatrix (= viewmatrix @ P^T, P the graphdeco
    perspective with z_sign 1), view z pointing from eye to target; square pixels (tanfovy = tanfovx * H / W);
    float32 tensors and float32-representable tangents (the binding takes C floats)."""
    tanx = math.tan(fovx / 2)
    tany = tanx * height / width
    e, t = torch.tensor(eye, dtype=torch.float64), torch.tensor(target, dtype=torch.float64)
    z = torch.nn.functional.normalize(t - e, dim=0)
    x = torch.nn.functional.normalize(torch.linalg.cross(torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64), z), dim=0)
    y = torch.linalg.cross(z, x)
    rot = torch.stack([x, y, z])  # world -> camera, rows are the camera axes
    view = torch.eye(4, dtype=torch.float64)
    view[:3, :3] = rot.T
    view[3, :3] = -(rot @ e)
    persp = torch.zeros(4, 4, dtype=torch.float64)
    persp[0, 0], persp[1, 1] = 1 / tanx, 1 / tany
    persp[2, 2], persp[2, 3], persp[3, 2] = zfar / (zfar - znear), -zfar * znear / (zfar - znear), 1.0
    f32 = torch.float32
    return {
        "width": width,
        "height": height,
        "tanfovx": float(torch.tensor(tanx, dtype=f32)),
        "tanfovy": float(torch.tensor(tany, dtype=f32)),
        "view": view.to(f32),
        "proj": (view @ persp.T).to(f32),
        "campos": e.to(f32),
    }


def gs_cov3d(scales: torch.Tensor, rotations: torch.Tensor, modifier: float = 1.0) -> torch.Tensor:
    """forward.cu computeCov3D: Sigma = R S^2 R^T, S = diag(modifier * scale), R the rotation matrix formula of the
    quaternion (r, x, y, z) = rotations[:, 0..3] applied to it as given (not normalized in this fork) -> [P, 3, 3]."""
    r, x, y, z = rotations.unbind(-1)
    rot = torch.stack(
        [
            torch.stack([1 - 2 * (y * y + z * z), 2 * (x * y - r * z), 2 * (x * z + r * y)], -1),
            torch.stack([2 * (x * y + r * z), 1 - 2 * (x * x + z * z), 2 * (y * z - r * x)], -1),
            torch.stack([2 * (x * z - r * y), 2 * (y * z + r * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        -2,
    )
    m = rot * (modifier * scales)[:, None, :]
    return m @ m.transpose(1, 2)


def gs_sh_basis(d: torch.Tensor, degree: int) -> torch.Tensor:
    """The real SH basis of forward.cu computeColorFromSH for unit directions [N, 3] -> [N, (degree + 1)^2], in the
    order and with the signs of its sh[0..15] terms (degree <= 3)."""
    x, y, z = d.unbind(-1)
    out = [torch.full_like(x, 0.28209479177387814)]
    if degree > 0:
        out += [-GS_SH_C1 * y, GS_SH_C1 * z, -GS_SH_C1 * x]
    xx, yy, zz = x * x, y * y, z * z
    if degree > 1:
        c = GS_SH_C2
        out += [c[0] * x * y, c[1] * y * z, c[2] * (2 * zz - xx - yy), c[3] * x * z, c[4] * (xx - yy)]
    if degree > 2:
        c = GS_SH_C3
        out += [
            c[0] * y * (3 * xx - yy),
            c[1] * x * y * z,
            c[2] * y * (4 * zz - xx - yy),
            c[3] * z * (2 * zz - 3 * xx - 3 * yy),
            c[4] * x * (4 * zz - xx - yy),
            c[5] * z * (xx - yy),
            c[6] * x * (xx - 3 * yy),
        ]
    return torch.stack(out, -1)


def gs_sh_rgb(sh: torch.Tensor, means3D: torch.Tensor, campos: torch.Tensor, degree: int) -> tuple:
    """computeColorFromSH: the basis at dir = normalize(mean - campos) times sh [P, M, 3] (M = coefficients stored,
    the first (degree + 1)^2 used), + 0.5, clamped at 0 -> (rgb, value before the clamp). The backward zeroes a
    clamped channel's gradient (clamped[] is value < 0), as torch's clamp does."""
    d = means3D - campos
    d = d / d.norm(dim=-1, keepdim=True)
    basis = gs_sh_basis(d, degree)
    raw = (basis[:, :, None] * sh[:, : basis.shape[1]]).sum(1) + 0.5
    return raw.clamp(min=0.0), raw


def gs_frac_margin(v: torch.Tensor, lo: int, hi: int) -> float:
    """Distance of v to the nearest integer in [lo, hi] (integers outside that range decide nothing)."""
    k = v.round()
    near = (v - k).abs()
    return (
        float(torch.where((k >= lo) & (k <= hi), near, torch.full_like(near, math.inf)).min())
        if v.numel()
        else math.inf
    )


def gs_preprocess(means3D: torch.Tensor, cov3D: torch.Tensor, cam: Dict, ndc_offset: Optional[torch.Tensor]) -> Dict:
    """forward.cu preprocessCUDA per Gaussian. Near culling: view z <= 0.2 (auxiliary.h in_frustum; its x/y test is
    commented out). Pixel centre: ndc = p_clip.xy / (p_clip.w + 1e-7) (+ ndc_offset: means2D, whose gradient the
    kernel returns in NDC units), ndc2Pix ((v + 1) * S - 1) / 2. computeCov2D: t = view position with t.x/t.z and
    t.y/t.z clamped to +-1.3 tanfov, J = [[fx/tz, 0, -fx tx/tz^2], [0, fy/tz, -fy ty/tz^2]] (fx = W / (2 tanfovx)),
    cov2D = J Rv Sigma Rv^T J^T + 0.3 I, conic = its inverse. Radius: ceil(3 sqrt(mid + sqrt(max(0.1, mid^2 - det)))).
    getRect: tiles [int((x - r) / 16), int((x + r + 15) / 16)) clamped to the grid, the same in y; a Gaussian culled
    or with an empty rectangle gets radius 0 and is never rendered."""
    w, h = cam["width"], cam["height"]
    tanx, tany = cam["tanfovx"], cam["tanfovy"]
    view, proj = cam["view"].to(means3D), cam["proj"].to(means3D)
    hom = torch.cat([means3D, torch.ones_like(means3D[:, :1])], -1)
    t = (hom @ view)[:, :3]
    clip = hom @ proj
    ndc = clip[:, :2] / (clip[:, 3:] + 1e-7)
    if ndc_offset is not None:
        ndc = ndc + ndc_offset[:, :2]
    xy = ((ndc + 1.0) * torch.tensor([w, h]).to(means3D) - 1.0) * 0.5
    fx, fy = w / (2 * tanx), h / (2 * tany)
    tz = t[:, 2]
    tx = (t[:, 0] / tz).clamp(-1.3 * tanx, 1.3 * tanx) * tz
    ty = (t[:, 1] / tz).clamp(-1.3 * tany, 1.3 * tany) * tz
    zero = torch.zeros_like(tz)
    jac = torch.stack(
        [torch.stack([fx / tz, zero, -fx * tx / tz**2], -1), torch.stack([zero, fy / tz, -fy * ty / tz**2], -1)], -2
    )
    m = jac @ view[:3, :3].T  # view[:3, :3].T is the world-to-view rotation
    cov = m @ cov3D @ m.transpose(1, 2)
    a, b, c = cov[:, 0, 0] + 0.3, cov[:, 0, 1], cov[:, 1, 1] + 0.3
    det = a * c - b * b
    conic = torch.stack([c / det, -b / det, a / det], -1)
    with torch.no_grad():
        mid = 0.5 * (a + c)
        extent = 3.0 * torch.sqrt(mid + torch.sqrt(torch.clamp(mid * mid - det, min=0.1)))
        radius = torch.ceil(extent)
        grid = ((w + GS_BLOCK - 1) // GS_BLOCK, (h + GS_BLOCK - 1) // GS_BLOCK)
        lo = [((xy[:, i] - radius) / GS_BLOCK) for i in (0, 1)]
        hi = [((xy[:, i] + radius + GS_BLOCK - 1) / GS_BLOCK) for i in (0, 1)]
        rect_min = torch.stack([torch.trunc(lo[i]).clamp(0, grid[i]) for i in (0, 1)], -1).long()
        rect_max = torch.stack([torch.trunc(hi[i]).clamp(0, grid[i]) for i in (0, 1)], -1).long()
        front = tz > 0.2
        visible = front & (det != 0) & ((rect_max - rect_min).prod(-1) > 0)
        margins = {
            "radius": gs_frac_margin(extent[front], 0, 1 << 30),
            "rect": min(
                gs_frac_margin(v[front], 1, grid[i]) for i, v in ((0, lo[0]), (1, lo[1]), (0, hi[0]), (1, hi[1]))
            ),
        }
    return {
        "xy": xy,
        "depth": tz,
        "conic": conic,
        "extent": extent,
        "radii": torch.where(visible, radius, torch.zeros_like(radius)).long(),
        "rect_min": rect_min,
        "rect_max": rect_max,
        "visible": visible,
        "margins": margins,
    }


def gs_render_ref(
    means3D: torch.Tensor,
    opacities: torch.Tensor,
    scales: torch.Tensor,
    rotations: torch.Tensor,
    bg: torch.Tensor,
    cam: Dict,
    colors: Optional[torch.Tensor] = None,
    sh: Optional[torch.Tensor] = None,
    sh_degree: int = 0,
    ndc_offset: Optional[torch.Tensor] = None,
    scale_modifier: float = 1.0,
) -> tuple:
    """The rasterizer's forward -> (color [3, H, W], radii [P] int64, depth [1, H, W], info), differentiable by
    autograd the way backward.cu differentiates it. renderCUDA, per pixel (x, y) (integer coordinates are the pixel
    centres): the Gaussians whose tile rectangle holds the pixel's tile, in increasing view depth (the radix sort of
    tile | depth keys); power = -0.5 (A dx^2 + C dy^2) - B dx dy with d = mean2D - pixel and conic (A, B, C); skip
    power > 0; alpha = min(0.99, opacity exp(power)); skip alpha < 1/255; stop (this Gaussian excluded) once
    T (1 - alpha) < 1e-4; C += color alpha T, D += depth alpha T, T *= 1 - alpha. Outputs C + T bg[:, y, x] and D.
    The masks are constants of the backward, as in backward.cu, which also differentiates alpha as opacity * G
    through the 0.99 clamp (a straight-through here) and gets no gradient from the depth output (its backward
    ignores grad_depth). info: preprocess results, per-pixel final T and the margins of GS_MARGINS."""
    w, h = cam["width"], cam["height"]
    n = means3D.shape[0]
    pre = gs_preprocess(means3D, gs_cov3d(scales, rotations, scale_modifier), cam, ndc_offset)
    margins = dict(pre["margins"])
    if colors is None:
        colors, raw = gs_sh_rgb(sh, means3D, cam["campos"].to(means3D), sh_degree)
        vis_raw = raw.detach()[pre["visible"]]
        margins["sh"] = float(vis_raw.abs().min()) if vis_raw.numel() else math.inf
    else:
        margins["sh"] = math.inf
    with torch.no_grad():
        depth_key = torch.where(pre["visible"], pre["depth"], torch.full_like(pre["depth"], math.inf))
        order = torch.argsort(depth_key, stable=True)  # cub's radix sort is stable: ties keep the index order
        d_vis = pre["depth"][order][pre["visible"][order]]
        gaps = (d_vis[1:] - d_vis[:-1]) / d_vis[1:]
        margins["depth"] = float(gaps.min()) if gaps.numel() else math.inf
    ys, xs = torch.meshgrid(
        torch.arange(h, device=means3D.device), torch.arange(w, device=means3D.device), indexing="ij"
    )
    px, py = xs.reshape(-1), ys.reshape(-1)
    rmin, rmax = pre["rect_min"][order], pre["rect_max"][order]
    in_tile = (
        pre["visible"][order][None, :]
        & (rmin[None, :, 0] <= (px // GS_BLOCK)[:, None])
        & ((px // GS_BLOCK)[:, None] < rmax[None, :, 0])
        & (rmin[None, :, 1] <= (py // GS_BLOCK)[:, None])
        & ((py // GS_BLOCK)[:, None] < rmax[None, :, 1])
    )  # [H * W, P]: pixel x Gaussian (depth order)
    xy, conic = pre["xy"][order], pre["conic"][order]
    dx = xy[None, :, 0] - px[:, None].to(xy)
    dy = xy[None, :, 1] - py[:, None].to(xy)
    power = -0.5 * (conic[None, :, 0] * dx * dx + conic[None, :, 2] * dy * dy) - conic[None, :, 1] * dx * dy
    opacity = opacities.reshape(-1)[order]
    o_g = opacity[None, :] * torch.exp(torch.where(in_tile, power, torch.zeros_like(power)))
    alpha = o_g - (o_g - GS_ALPHA_MAX).clamp(min=0).detach()
    with torch.no_grad():
        taken = in_tile & (power <= 0) & (alpha >= GS_ALPHA_MIN)
        t_after = torch.cumprod(1 - torch.where(taken, alpha, torch.zeros_like(alpha)), 1)
        keep = taken & (t_after >= GS_T_MIN)  # t_after never grows: once below 1e-4, every later one is below too
        t_before = torch.cat([torch.ones_like(t_after[:, :1]), t_after[:, :-1]], 1)
        inside = in_tile & (power <= 0)
        log_a = (torch.log(opacity)[None, :] + power - math.log(GS_ALPHA_MIN))[inside]
        margins["alpha"] = float(log_a.abs().min()) if log_a.numel() else math.inf
        tested = taken & (t_before >= GS_T_MIN)  # the steps the kernel evaluates, the stopping one included
        log_t = torch.log(t_after / GS_T_MIN)[tested]
        margins["T"] = float(log_t.abs().min()) if log_t.numel() else math.inf
    a = torch.where(keep, alpha, torch.zeros_like(alpha))
    t_incl = torch.cumprod(1 - a, 1)
    t_excl = torch.cat([torch.ones_like(t_incl[:, :1]), t_incl[:, :-1]], 1)
    weight = a * t_excl
    t_final = t_incl[:, -1] if n else torch.ones(h * w, dtype=means3D.dtype)
    color = weight @ colors[order] + t_final[:, None] * bg.reshape(3, -1).T
    depth = weight @ pre["depth"][order]
    info = {
        **pre,
        "margins": margins,
        "final_T": t_final.detach().reshape(h, w),
        "stopped": int((taken & ~keep).any(1).sum()),
    }
    return color.T.reshape(3, h, w), pre["radii"], depth.reshape(1, h, w), info


def gs_safe(margins: Dict) -> bool:
    """Every discrete decision of the scene far enough from its threshold (GS_MARGINS)."""
    return all(margins[k] >= v for k, v in GS_MARGINS.items())


def gs_scene(
    gen: torch.Generator, n: int = 60, stack: int = 8, width: int = 70, height: int = 50, tries: int = 500
) -> Dict:
    """A random scene for the kernel (float32 inputs, CPU), 70 x 50 pixels (partial edge tiles): n Gaussians sampled
    in the camera's frame at depths 2 to 4.5, centres up to 6 pixels outside the image (within the 1.3 tanfov clamp:
    backward.cu's mean gradient is exact only inside it), world scales 0.02 to 0.12 (0.4 to 4.5 pixels), opacities
    0.1 to 0.9; a stack of `stack` larger ones on one line of sight, opacities 0.8 to 0.9 but one 0.995 (alpha
    clamped at 0.99), so that some pixels stop early (T < 1e-4; required); one Gaussian inside the near plane and
    one behind the camera (culled: radius 0, no gradient). Unit quaternions (as GaussianTalker passes them), colours
    in [0, 1], SH degree 3 (some channels clamped), a random background image. Redrawn until gs_safe: the reference
    then takes the kernel's decisions, and sorting ties cannot occur."""
    cam = gs_camera(width, height, math.radians(50.0), eye=(0.4, -0.3, -3.2), target=(0.0, 0.1, 0.0))
    rot = cam["view"][:3, :3].double()  # camera -> world rotation (the transpose of world -> camera)
    f64 = torch.float64
    for _ in range(tries):
        z = torch.rand(n, generator=gen, dtype=f64) * 2.5 + 2.0
        uv = torch.rand(n, 2, generator=gen, dtype=f64) * torch.tensor([width + 12, height + 12]) - 6.5
        centre = torch.rand(2, generator=gen, dtype=f64) * torch.tensor([width - 30, height - 30]) + 15
        uv = torch.cat([uv, centre + torch.rand(stack, 2, generator=gen, dtype=f64) * 3 - 1.5])
        z = torch.cat(
            [z, 2.2 + 0.25 * torch.arange(stack, dtype=f64) + torch.rand(stack, generator=gen, dtype=f64) * 0.2]
        )
        ndc = (2 * uv + 1) / torch.tensor([width, height]) - 1
        cam_pts = torch.cat([ndc * torch.tensor([cam["tanfovx"], cam["tanfovy"]]) * z[:, None], z[:, None]], -1)
        cam_pts = torch.cat([cam_pts, torch.tensor([[0.05, -0.02, 0.1], [0.1, 0.0, -1.0]], dtype=f64)])
        p = len(cam_pts)
        scales = torch.exp(torch.rand(p, 3, generator=gen) * math.log(6.0) + math.log(0.02))
        scales[n : n + stack] = torch.rand(stack, 3, generator=gen) * 0.06 + 0.08
        opacities = torch.rand(p, 1, generator=gen) * 0.8 + 0.1
        opacities[n : n + stack] = torch.rand(stack, 1, generator=gen) * 0.1 + 0.8
        if stack:
            opacities[n + int(torch.randint(stack, (1,), generator=gen))] = 0.995
        scene = {
            "means3D": (cam_pts @ rot.T + cam["campos"].double()).float(),
            "scales": scales,
            "rotations": torch.nn.functional.normalize(torch.randn(p, 4, generator=gen), dim=-1),
            "opacities": opacities,
            "colors": torch.rand(p, 3, generator=gen),
            "sh": torch.cat([torch.randn(p, 1, 3, generator=gen) * 1.5, torch.randn(p, 15, 3, generator=gen) * 0.3], 1),
            "bg": torch.rand(3, height, width, generator=gen),
        }
        d = {k: v.double() for k, v in scene.items()}
        _, _, _, info = gs_render_ref(
            d["means3D"], d["opacities"], d["scales"], d["rotations"], d["bg"], cam, sh=d["sh"], sh_degree=3
        )
        if gs_safe(info["margins"]) and (info["stopped"] > 0 or not stack):
            return {**scene, "cam": cam, "margins": info["margins"], "stopped": info["stopped"]}
    raise RuntimeError(f"gs_scene: no scene with the margins {GS_MARGINS} in {tries} draws")


def err(a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest absolute difference, relative to the reference's scale (at least 1)."""
    return float((a.double() - b.double()).abs().max() / max(1.0, float(b.double().abs().max())))


# ------------------------------------------------------------------------------------------- checks (extension vs ref)
def check_freqencoder(dev: str, gen: torch.Generator) -> Dict:
    ext = importlib.import_module("_freqencoder")
    b, d, degree = 4096, 3, 6
    c = d + d * degree * 2
    x = (torch.rand(b, d, generator=gen) * 2 - 1).to(dev)
    out = torch.empty(b, c, device=dev)
    ext.freq_encode_forward(x, b, d, degree, c, out)
    xr = x.clone().requires_grad_(True)
    ref = freq_ref(xr, degree)
    grad = torch.rand(b, c, generator=gen).to(dev)
    ref.backward(grad)
    gin = torch.zeros_like(x)
    ext.freq_encode_backward(grad, out, b, d, degree, c, gin)
    return {"forward": err(out, ref.detach()), "backward": err(gin, xr.grad)}


def check_shencoder(dev: str, gen: torch.Generator) -> Dict:
    ext = importlib.import_module("_shencoder")
    b, d, degree = 4096, 3, 3
    x = torch.nn.functional.normalize(torch.randn(b, d, generator=gen), dim=-1).to(dev)
    out = torch.empty(b, degree**2, device=dev)
    dy_dx = torch.empty(b, d * degree**2, device=dev)
    ext.sh_encode_forward(x, out, b, d, degree, dy_dx)
    xr = x.clone().requires_grad_(True)
    ref = sh_ref(xr, degree)
    grad = torch.rand(b, degree**2, generator=gen).to(dev)
    ref.backward(grad)
    gin = torch.zeros_like(x)
    ext.sh_encode_backward(grad, x, b, d, degree, dy_dx, gin)
    return {"forward": err(out, ref.detach()), "backward": err(gin, xr.grad)}


def check_gridencoder(dev: str, gen: torch.Generator) -> Dict:
    """Both grid types as ER-NeRF uses them: a 3-D hash grid whose finer levels overflow the table (hashed) and a
    2-D tiled grid (its tri-plane), each forward and backward (table and input gradients)."""
    ext = importlib.import_module("_gridencoder")
    worst = {"forward": 0.0, "backward": 0.0}
    for dim, gridtype, levels, c in ((3, 0, 5, 2), (2, 1, 4, 4)):
        per_level_scale, base, b = 2.0, 4, 4096
        offsets = grid_offsets(dim, levels, per_level_scale, base, 12, False)
        x = torch.rand(b, dim, generator=gen).to(dev)
        emb = (torch.rand(offsets[-1], c, generator=gen) * 2 - 1).to(dev)
        off = torch.tensor(offsets, dtype=torch.int32, device=dev)
        s = math.log2(per_level_scale)
        out = torch.empty(levels, b, c, device=dev)
        dy_dx = torch.empty(b, levels * dim * c, device=dev)
        ext.grid_encode_forward(x, emb, off, out, b, dim, c, levels, s, base, dy_dx, gridtype, False)
        got = out.permute(1, 0, 2).reshape(b, levels * c)
        grad = torch.rand(b, levels * c, generator=gen).to(dev)
        g_emb, g_x = torch.zeros_like(emb), torch.zeros_like(x)
        g_lbc = grad.view(b, levels, c).permute(1, 0, 2).contiguous()
        ext.grid_encode_backward(g_lbc, x, emb, off, g_emb, b, dim, c, levels, s, base, dy_dx, g_x, gridtype, False)
        xr, er = x.clone().requires_grad_(True), emb.clone().requires_grad_(True)
        ref = grid_ref(xr, er, offsets, per_level_scale, base, gridtype)
        ref.backward(grad)
        worst["forward"] = max(worst["forward"], err(got, ref.detach()))
        # Input gradients scale with the finest resolution (dy/dx ~ scale): judged relative to their own size.
        worst["backward"] = max(worst["backward"], err(g_emb, er.grad), err(g_x, xr.grad))
    return worst


def check_raymarching(dev: str, gen: torch.Generator) -> Dict:
    ext = importlib.import_module("_raymarching_face")
    n = 4096
    rays_o = (torch.rand(n, 3, generator=gen) * 4 - 2).to(dev)
    rays_d = torch.nn.functional.normalize(torch.randn(n, 3, generator=gen), dim=-1).to(dev)
    aabb = torch.tensor([-1.0, -1.0, -1.0, 1.0, 1.0, 1.0], device=dev)
    nears, fars = torch.empty(n, device=dev), torch.empty(n, device=dev)
    ext.near_far_from_aabb(rays_o, rays_d, aabb, n, 0.05, nears, fars)
    rn, rf = near_far_ref(rays_o, rays_d, aabb, 0.05)
    hit = rn < torch.finfo(rn.dtype).max
    same_misses = bool(((nears < torch.finfo(rn.dtype).max) == hit).all())
    return {
        "forward": max(err(nears[hit], rn[hit]), err(fars[hit], rf[hit])) if same_misses else math.inf,
        "backward": None,
        "note": "near_far_from_aabb has no backward (ray setup)",
    }


def check_simple_knn(dev: str, gen: torch.Generator) -> Dict:
    from simple_knn._C import distCUDA2

    points = torch.rand(2048, 3, generator=gen).to(dev)
    return {"forward": err(distCUDA2(points), dist3_ref(points)), "backward": None, "note": "distCUDA2 has no backward"}


def check_pytorch3d_knn(dev: str, gen: torch.Generator) -> Dict:
    from pytorch3d.ops import knn_points

    p1 = torch.rand(2, 512, 3, generator=gen).to(dev).requires_grad_(True)
    p2 = torch.rand(2, 700, 3, generator=gen).to(dev)
    got = knn_points(p1, p2, K=4)
    grad = torch.rand(2, 512, 4, generator=gen).to(dev)
    got.dists.backward(grad)
    g_ext = p1.grad.clone()
    p1.grad = None
    ref_d, ref_i = knn_ref(p1, p2, 4)
    ref_d.backward(grad)
    return {
        "forward": err(got.dists, ref_d.detach()) if torch.equal(got.idx, ref_i) else math.inf,
        "backward": err(g_ext, p1.grad),
    }


GS_LEAVES = {
    "colors_precomp": ("means3D", "opacities", "scales", "rotations", "colors"),
    "sh": ("means3D", "opacities", "scales", "rotations", "sh"),
}


def gs_run_kernel(mod: types.ModuleType, scene: Dict, dev: str, mode: str, grad_out: torch.Tensor) -> tuple:
    """The extension called the way GaussianTalker's gaussian_renderer calls it (GaussianRasterizer with a background
    image, scale_modifier 1, prefiltered False, means2D a zero tensor whose gradient is read), then backward of
    sum(color * grad_out) -> (color, radii, depth, gradients), on the CPU. mode: colors_precomp, or sh (degree 3)."""
    cam = scene["cam"]
    leaves = {k: scene[k].to(dev, copy=True).requires_grad_(True) for k in GS_LEAVES[mode]}
    screen = torch.zeros(len(scene["means3D"]), 3, device=dev, requires_grad=True)
    settings = mod.GaussianRasterizationSettings(
        image_height=cam["height"],
        image_width=cam["width"],
        tanfovx=cam["tanfovx"],
        tanfovy=cam["tanfovy"],
        bg=scene["bg"].to(dev),
        scale_modifier=1.0,
        viewmatrix=cam["view"].to(dev),
        projmatrix=cam["proj"].to(dev),
        sh_degree=3 if mode == "sh" else 0,
        campos=cam["campos"].to(dev),
        prefiltered=False,
        debug=False,
    )
    color, radii, depth = mod.GaussianRasterizer(raster_settings=settings)(
        means3D=leaves["means3D"],
        means2D=screen,
        opacities=leaves["opacities"],
        shs=leaves.get("sh"),
        colors_precomp=leaves.get("colors"),
        scales=leaves["scales"],
        rotations=leaves["rotations"],
    )
    (color * grad_out.to(dev)).sum().backward()
    grads = {k: v.grad for k, v in leaves.items()}
    grads["means2D"] = screen.grad
    grads = {k: None if g is None else g.detach().cpu() for k, g in grads.items()}
    return color.detach().cpu(), radii.detach().cpu(), depth.detach().cpu(), grads


def gs_run_ref(scene: Dict, mode: str, grad_out: torch.Tensor) -> tuple:
    """gs_render_ref in float64 on the CPU on the same inputs, same loss -> (color, radii, depth, gradients)."""
    leaves = {k: scene[k].to(torch.float64, copy=True).requires_grad_(True) for k in GS_LEAVES[mode]}
    offset = torch.zeros(len(scene["means3D"]), 3, dtype=torch.float64, requires_grad=True)
    color, radii, depth, _ = gs_render_ref(
        leaves["means3D"],
        leaves["opacities"],
        leaves["scales"],
        leaves["rotations"],
        scene["bg"].double(),
        scene["cam"],
        colors=leaves.get("colors"),
        sh=leaves.get("sh"),
        sh_degree=3,
        ndc_offset=offset,
    )
    (color * grad_out.double()).sum().backward()
    grads = {k: v.grad for k, v in leaves.items()}
    grads["means2D"] = offset.grad
    return color.detach(), radii, depth.detach(), grads


def gs_err(a: Optional[torch.Tensor], b: torch.Tensor) -> float:
    """err, infinite where the kernel gave no tensor or one of another shape."""
    return err(a, b) if a is not None and a.shape == b.shape else math.inf


def check_diff_gaussian_rasterization(dev: str, gen: torch.Generator) -> Dict:
    """GaussianTalker's rasterizer on gs_scene, twice: precomputed colours, and SH degree 3 (its training path).
    Forward: colour and depth images (err), radii exactly (any mismatch makes forward inf). Backward of sum(color *
    random weights): gradients of means3D, means2D, opacities, scales, rotations and colors or sh, each by err; the
    worst is "backward", each is in "parts". parts.*.pixels_off counts pixels whose colour is off by more than 1e-3:
    a few of them, with everything else near 1e-6, would be a threshold decided the other way (an alpha at 1/255)."""
    mod = importlib.import_module("diff_gaussian_rasterization")
    scene = gs_scene(gen)
    cam = scene["cam"]
    grad_out = torch.rand(3, cam["height"], cam["width"], generator=gen) * 2 - 1
    row: Dict = {"forward": 0.0, "backward": 0.0, "parts": {}}
    for mode in GS_LEAVES:
        color, radii, depth, grads = gs_run_kernel(mod, scene, dev, mode, grad_out)
        r_color, r_radii, r_depth, r_grads = gs_run_ref(scene, mode, grad_out)
        same_shape = radii.shape == r_radii.shape and color.shape == r_color.shape
        part: Dict = {
            "radii_mismatch": int((radii.long() != r_radii).sum()) if same_shape else len(r_radii),
            "color": gs_err(color, r_color),
            "depth": gs_err(depth, r_depth),
            "pixels_off": int(((color.double() - r_color).abs().amax(0) > 1e-3).sum()) if same_shape else -1,
        }
        part.update({f"grad.{k}": gs_err(grads.get(k), g) for k, g in r_grads.items()})
        row["parts"][mode] = part
        forward = max(part["color"], part["depth"]) if part["radii_mismatch"] == 0 else math.inf
        row["forward"] = max(row["forward"], forward)
        row["backward"] = max(row["backward"], *(v for k, v in part.items() if k.startswith("grad.")))
    row["scene"] = {
        "gaussians": len(scene["means3D"]),
        "rendered": int((r_radii > 0).sum()),
        "image": f"{cam['width']}x{cam['height']}",
        "stopped_pixels": scene["stopped"],
        "margins": scene["margins"],
    }
    row["note"] = (
        "depth is compared forward only (the kernel's backward ignores grad_depth); the quaternions are unit ones but "
        "the kernel does not normalize them, so grad.rotations keeps its radial part; scale_modifier 1 only "
        "(backward.cu's scale gradient leaves out the modifier factor)"
    )
    return row


CHECKS: Dict[str, Callable[[str, torch.Generator], Dict]] = {
    "ernerf.freqencoder": check_freqencoder,
    "ernerf.gridencoder": check_gridencoder,
    "ernerf.shencoder": check_shencoder,
    "ernerf.raymarching": check_raymarching,
    "gaussiantalker.diff_gaussian_rasterization": check_diff_gaussian_rasterization,
    "gaussiantalker.simple_knn": check_simple_knn,
    "pytorch3d.knn_points": check_pytorch3d_knn,
}


def grid_self_check(gen: torch.Generator) -> bool:
    """grid_ref's autograd in float64 against finite differences, hash and tiled grids."""
    ok = True
    for dim, gridtype in ((3, 0), (2, 1)):
        offsets = grid_offsets(dim, 3, 2.0, 4, 8, False)
        x = (torch.rand(16, dim, generator=gen, dtype=torch.float64) * 0.9 + 0.05).requires_grad_(True)
        emb = torch.rand(offsets[-1], 2, generator=gen, dtype=torch.float64).requires_grad_(True)
        ok &= torch.autograd.gradcheck(lambda a, e, o=offsets, t=gridtype: grid_ref(a, e, o, 2.0, 4, t), (x, emb))
    return bool(ok)


def grid_linear_check() -> bool:
    """A dense (tiled) level whose table holds a linear function of the vertex, i + 2j, blends to that function of
    pos = x * scale + 0.5 exactly: the reference's layout, corners and weights, independent of the kernel."""
    offsets = grid_offsets(2, 1, 2.0, 8, 12, False)
    res = 8  # level 0: scale = 7, resolution = 8, (res + 1)^2 vertices
    i, j = torch.meshgrid(torch.arange(res + 1), torch.arange(res + 1), indexing="ij")
    emb = torch.zeros(offsets[-1], 1, dtype=torch.float64)
    emb[(i + j * (res + 1)).flatten(), 0] = (i + 2 * j).flatten().double()
    x = torch.rand(100, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    pos = x * 7 + 0.5
    return bool(torch.allclose(grid_ref(x, emb, offsets, 2.0, 8, 1)[:, 0], pos[:, 0] + 2 * pos[:, 1]))


def gs_axis_scene(points: list, scale: list, opacity: list, colors: list, size: int = 33) -> Dict:
    """Self-test scenes: a square camera at the origin looking down +z (view = identity, 60 degree fov), isotropic
    Gaussians (world scale per Gaussian, identity quaternions) at camera-space points, background 0.2, float64."""
    cam = gs_camera(size, size, math.radians(60.0), eye=(0.0, 0.0, 0.0), target=(0.0, 0.0, 1.0))
    p = len(points)
    return {
        "means3D": torch.tensor(points, dtype=torch.float64),
        "scales": torch.tensor(scale, dtype=torch.float64)[:, None].expand(p, 3).contiguous(),
        "rotations": torch.tensor([[1.0, 0.0, 0.0, 0.0]] * p, dtype=torch.float64),
        "opacities": torch.tensor(opacity, dtype=torch.float64)[:, None],
        "colors": torch.tensor(colors, dtype=torch.float64),
        "bg": torch.full((3, size, size), 0.2, dtype=torch.float64),
        "cam": cam,
        "focal": size / (2 * cam["tanfovx"]),
    }


def gs_axis_render(s: Dict) -> tuple:
    """gs_render_ref on a gs_axis_scene."""
    return gs_render_ref(
        s["means3D"], s["opacities"], s["scales"], s["rotations"], s["bg"], s["cam"], colors=s["colors"]
    )


def gs_closed_form_check() -> bool:
    """One isotropic Gaussian (scale 0.1, opacity 0.8) on the axis at depth 3, 33 x 33 pixels: its centre is pixel
    (16, 16) (ndc2Pix of 0), its screen variance sigma^2 = (f 0.1 / 3)^2 + 0.3, so pixel (16 + dx, 16 + dy) shows
    alpha c + (1 - alpha) bg with alpha = 0.8 exp(-(dx^2 + dy^2) / (2 sigma^2)) and depth 3 alpha; its radius is
    ceil(3 sqrt(sigma^2 + sqrt(0.1))) (no eigenvalue spread: the 0.1 floor), and far pixels show the background."""
    s = gs_axis_scene([[0.0, 0.0, 3.0]], [0.1], [0.8], [[1.0, 0.5, 0.25]])
    color, radii, depth, _ = gs_axis_render(s)
    var = (s["focal"] * 0.1 / 3.0) ** 2 + 0.3
    ok = int(radii[0]) == math.ceil(3 * math.sqrt(var + math.sqrt(0.1)))
    for dx, dy in ((0, 0), (1, 0), (2, -1), (-2, 2)):
        alpha = 0.8 * math.exp(-(dx * dx + dy * dy) / (2 * var))
        want = [alpha * c + (1 - alpha) * 0.2 for c in (1.0, 0.5, 0.25)]
        ok &= torch.allclose(color[:, 16 + dy, 16 + dx], torch.tensor(want, dtype=torch.float64), atol=1e-12)
        ok &= abs(float(depth[0, 16 + dy, 16 + dx]) - 3 * alpha) < 1e-12
    return bool(ok and torch.equal(color[:, 16, 30], torch.full((3,), 0.2, dtype=torch.float64)))


def gs_order_check() -> bool:
    """Two small Gaussians on the axis, the far one (depth 4, green, opacity 0.5) listed first: the near one (depth
    2, red, 0.6) blends first, so the centre pixel is 0.6 red + 0.4 * 0.5 green + 0.4 * 0.5 bg, depth 0.6 * 2 + 0.2
    * 4 (alpha = opacity at the centre)."""
    s = gs_axis_scene([[0.0, 0.0, 4.0], [0.0, 0.0, 2.0]], [0.001, 0.001], [0.5, 0.6], [[0, 1.0, 0], [1.0, 0, 0]])
    color, _, depth, _ = gs_axis_render(s)
    want = torch.tensor([0.6 + 0.04, 0.2 + 0.04, 0.04], dtype=torch.float64)
    return bool(torch.allclose(color[:, 16, 16], want, atol=1e-12) and abs(float(depth[0, 16, 16]) - 2.0) < 1e-12)


def gs_tile_cull_check() -> bool:
    """The 3-sigma tile rectangle, not alpha, decides who reaches a pixel: a Gaussian (opacity 0.9, screen variance
    1.4, radius 4) centred at pixel (12.5, 15.5) of a 32 x 32 image covers x tiles [int(8.5 / 16), int(31.5 / 16)) =
    [0, 1), so pixel (16, 15) shows only the background although opacity * G = 0.9 exp(-12.5 / 2.8) > 1/255 there,
    while pixel (15, 15) shows it."""
    z, var = 3.0, 1.4
    s = gs_axis_scene([[0.0, 0.0, z]], [0.0], [0.9], [[1.0, 1.0, 1.0]], size=32)
    ndc_x = (2 * 12.5 + 1) / 32 - 1
    s["means3D"][0, 0] = ndc_x * s["cam"]["tanfovx"] * z
    s["scales"][:] = math.sqrt(var - 0.3) * z / s["focal"]
    color, radii, _, _ = gs_axis_render(s)
    naive = 0.9 * math.exp(-(3.5**2 + 0.5**2) / (2 * var))
    bg = torch.full((3,), 0.2, dtype=torch.float64)
    return bool(
        int(radii[0]) == 4 and naive > 1 / 255 and torch.equal(color[:, 15, 16], bg) and color[0, 15, 15] > 0.2 + 1e-3
    )


def gs_early_stop_check() -> bool:
    """Five small Gaussians of opacity 0.95 on the axis at depths 2 to 6: at the centre T falls to 0.05, 0.0025,
    1.25e-4; the fourth would take it below 1e-4, so it and the fifth are left out and the pixel is the first three
    blended over 1.25e-4 bg."""
    cols = [[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    s = gs_axis_scene([[0.0, 0.0, 2.0 + k] for k in range(5)], [0.001] * 5, [0.95] * 5, cols)
    color, _, depth, info = gs_axis_render(s)
    w = [0.95 * 0.05**k for k in range(3)]
    want = torch.tensor([w[0], w[1], w[2]], dtype=torch.float64) + 0.05**3 * 0.2
    return bool(
        torch.allclose(color[:, 16, 16], want, atol=1e-12)
        and abs(float(depth[0, 16, 16]) - (2 * w[0] + 3 * w[1] + 4 * w[2])) < 1e-12
        and info["stopped"] >= 1
    )


def gs_alpha_clamp_check() -> bool:
    """Opacity 1 at a Gaussian's centre: alpha is clamped to 0.99 (its float32 value) but, as in backward.cu, the
    opacity still gets G * dL/dalpha = (c - bg) there, not 0."""
    s = gs_axis_scene([[0.0, 0.0, 3.0]], [0.001], [1.0], [[1.0, 0.5, 0.0]])
    s["opacities"].requires_grad_(True)
    color, _, _, _ = gs_axis_render(s)
    color[0, 16, 16].backward()
    return (
        abs(float(color[0, 16, 16].detach()) - (GS_ALPHA_MAX + (1 - GS_ALPHA_MAX) * 0.2)) < 1e-12
        and abs(float(s["opacities"].grad[0, 0]) - 0.8) < 1e-12
    )


def gs_sh_basis_check() -> bool:
    """gs_sh_basis is orthonormal over the sphere (Gram matrix times 4 pi / N on a Fibonacci lattice = identity),
    which catches a wrong constant or polynomial (not a sign)."""
    n = 20000
    i = torch.arange(n, dtype=torch.float64)
    z = 1 - (2 * i + 1) / n
    phi = i * math.pi * (3 - math.sqrt(5))
    r = torch.sqrt(1 - z * z)
    y = gs_sh_basis(torch.stack([r * torch.cos(phi), r * torch.sin(phi), z], -1), 3)
    return bool(torch.allclose((y.T @ y) * (4 * math.pi / n), torch.eye(16, dtype=torch.float64), atol=1e-3))


def gs_grad_check(gen: torch.Generator) -> bool:
    """gs_render_ref's autograd against finite differences in float64 on a tiny gs_scene (4 Gaussians + 2 culled,
    20 x 18 pixels), colour output, both colour modes: every input the kernel returns a gradient for."""
    sc = gs_scene(gen, n=4, stack=0, width=20, height=18)
    d = {k: sc[k].to(torch.float64, copy=True).requires_grad_(True) for k in GS_LEAVES["colors_precomp"] + ("sh",)}
    off = torch.zeros(len(sc["means3D"]), 3, dtype=torch.float64, requires_grad=True)
    bg = sc["bg"].double()

    def with_colors(
        m: torch.Tensor, o: torch.Tensor, op: torch.Tensor, s: torch.Tensor, r: torch.Tensor, c: torch.Tensor
    ) -> torch.Tensor:
        return gs_render_ref(m, op, s, r, bg, sc["cam"], colors=c, ndc_offset=o)[0]

    def with_sh(m: torch.Tensor, sh: torch.Tensor) -> torch.Tensor:
        return gs_render_ref(m, d["opacities"], d["scales"], d["rotations"], bg, sc["cam"], sh=sh, sh_degree=3)[0]

    inputs = (d["means3D"], off, d["opacities"], d["scales"], d["rotations"], d["colors"])
    return bool(
        torch.autograd.gradcheck(with_colors, inputs, fast_mode=True)
        and torch.autograd.gradcheck(with_sh, (d["means3D"], d["sh"]), fast_mode=True)
    )


def self_test(gen: torch.Generator) -> List[Dict]:
    """--device cpu: the references against finite differences and closed forms, so a run without a GPU still
    says something true (the extensions need CUDA)."""
    x = torch.rand(64, 3, generator=gen, dtype=torch.float64) * 2 - 1
    d = torch.nn.functional.normalize(x, dim=-1)
    rows = [
        ("freq_ref.grad", torch.autograd.gradcheck(lambda t: freq_ref(t, 3), (x.clone().requires_grad_(True),))),
        ("sh_ref.grad", torch.autograd.gradcheck(lambda t: sh_ref(t, 3), (d.clone().requires_grad_(True),))),
        ("sh_ref.norm", abs(float((sh_ref(d, 3)[:, 1:4] ** 2).sum(-1).mean()) - 3 / (4 * math.pi)) < 1e-9),
        ("grid_ref.grad", grid_self_check(gen)),
        ("grid_ref.linear", grid_linear_check()),
        ("gs_ref.closed_form", gs_closed_form_check()),
        ("gs_ref.depth_order", gs_order_check()),
        ("gs_ref.tile_cull", gs_tile_cull_check()),
        ("gs_ref.early_stop", gs_early_stop_check()),
        ("gs_ref.alpha_clamp_grad", gs_alpha_clamp_check()),
        ("gs_ref.sh_basis", gs_sh_basis_check()),
        ("gs_ref.grad", gs_grad_check(gen)),
    ]
    return [{"name": n, "status": "pass" if ok else "fail"} for n, ok in rows]


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--out", type=Path, default=Path("ext_check.json"))
    parser.add_argument("--only", action="append", choices=sorted(CHECKS), help="run only this check (repeatable)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    gen = torch.Generator().manual_seed(args.seed)
    report = {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "device": args.device,
        "tolerance": TOL,
    }
    if args.device == "cpu":
        report["checks"] = self_test(gen)
    else:
        if not torch.cuda.is_available():
            print(
                "error: --device cuda but torch sees no GPU -- fix: run on the GPU machine, or --device cpu",
                file=sys.stderr,
            )
            return 2
        report["gpu"] = torch.cuda.get_device_name(0)
        report["arch_list"] = torch.cuda.get_arch_list()
        rows = []
        for name in args.only or sorted(CHECKS):
            try:
                row = CHECKS[name]("cuda", gen)
            except ImportError as exc:
                row = {"status": "missing", "error": str(exc)}
            except Exception as exc:  # one failing check must not lose the others' results (one GPU call)
                row = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
            else:
                worst = max(v for v in (row["forward"], row["backward"]) if v is not None)
                row["status"] = "pass" if worst <= TOL else "fail"
            rows.append({"name": name, **row})
        report["checks"] = rows
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    for row in report["checks"]:
        print(f"{row['status']:12} {row['name']}")
    return 0 if all(r["status"] == "pass" for r in report["checks"]) else 1


if __name__ == "__main__":
    sys.exit(main())
