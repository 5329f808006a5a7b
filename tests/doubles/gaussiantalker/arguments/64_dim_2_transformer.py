"""Test double for arguments/64_dim_2_transformer.py @ 8ec613b: same keys we rely on, not the full config.

mmcv-style python config; train.py/render.py read it with --configs and copy every key that
names an existing argument over the parsed value (config beats CLI).
"""
# ruff: noqa: N999, C408  (upstream file name and upstream dict(...) style)

ModelHiddenParams = dict(
    net_width=128,
    defor_depth=2,
    d_model=64,
    n_head=2,
    drop_prob=0.2,
    ffn_hidden=128,
    n_layer=2,
    train_tri_plane=True,
    no_do=False,
    no_dshs=False,
    pos_emb=False,
)
OptimizationParams = dict(
    dataloader=True,
    iterations=10000,
    coarse_iterations=7999,
    batch_size=32,
    densify_from_iter=1000,
    densify_until_iter=7000,
    lip_fine_tuning=True,
    depth_fine_tuning=True,
    canonical_tri_plane_factor_list=["opacity", "shs"],
)
