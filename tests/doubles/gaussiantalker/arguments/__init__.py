"""Test double for arguments/__init__.py @ 8ec613b: same flags, fake outputs.

Upstream builds each argument group from the attributes of a class: the option is
``--<name>``, ``type`` is ``type(default)``, bools become ``store_true`` (even when the
default is True), and names upstream writes with a leading underscore also get the
one-letter short form ``-<first letter>``. With ``sentinel=True`` (render.py) the
ModelParams defaults become None. Declarations below are the upstream names and
defaults in upstream order.
"""

import os
import sys
from argparse import ArgumentParser, Namespace

# (name, default, has_short_form)
MODEL_PARAMS = [
    ("sh_degree", 3, False),
    ("source_path", "", True),
    ("model_path", "", True),
    ("images", "images", True),
    ("resolution", -1, True),
    ("white_background", True, True),
    ("data_device", "cuda", False),
    ("eval", True, False),
    ("render_process", False, False),
    ("add_points", False, False),
    ("extension", ".png", False),
    ("llffhold", 8, False),
]

PIPELINE_PARAMS = [
    ("convert_SHs_python", False, False),
    ("compute_cov3D_python", False, False),
    ("debug", True, False),
]

HIDDEN_PARAMS = [
    ("net_width", 64, False),
    ("timebase_pe", 4, False),
    ("defor_depth", 1, False),
    ("posebase_pe", 10, False),
    ("scale_rotation_pe", 2, False),
    ("opacity_pe", 2, False),
    ("timenet_width", 64, False),
    ("timenet_output", 32, False),
    ("bounds", 1.6, False),
    ("plane_tv_weight", 0.0001, False),
    ("time_smoothness_weight", 0.01, False),
    ("l1_time_planes", 0.0001, False),
    (
        "kplanes_config",
        {"grid_dimensions": 2, "input_coordinate_dim": 4, "output_coordinate_dim": 32, "resolution": [64, 64, 64, 25]},
        False,
    ),
    ("multires", [1, 2, 4, 8], False),
    ("no_dx", False, False),
    ("no_grid", False, False),
    ("no_ds", False, False),
    ("no_dr", False, False),
    ("no_do", True, False),
    ("no_dshs", True, False),
    ("empty_voxel", False, False),
    ("grid_pe", 0, False),
    ("static_mlp", False, False),
    ("apply_rotation", False, False),
    ("only_infer", False, False),
    ("d_model", 512, False),
    ("n_head", 8, False),
    ("drop_prob", 0.3, False),
    ("ffn_hidden", 2048, False),
    ("n_layer", 1, False),
    ("visualize_attention", False, False),
    ("train_tri_plane", False, False),
    ("pos_emb", True, False),
]

OPTIMIZATION_PARAMS = [
    ("dataloader", False, False),
    ("zerostamp_init", False, False),
    ("custom_sampler", None, False),
    ("iterations", 30000, False),
    ("coarse_iterations", 3000, False),
    ("position_lr_init", 0.00016, False),
    ("position_lr_final", 0.0000016, False),
    ("position_lr_delay_mult", 0.01, False),
    ("position_lr_max_steps", 20000, False),
    ("deformation_lr_init", 0.00016, False),
    ("deformation_lr_final", 0.000016, False),
    ("deformation_lr_delay_mult", 0.01, False),
    ("grid_lr_init", 0.0016, False),
    ("grid_lr_final", 0.00016, False),
    ("feature_lr", 0.0025, False),
    ("opacity_lr", 0.05, False),
    ("scaling_lr", 0.005, False),
    ("rotation_lr", 0.001, False),
    ("percent_dense", 0.01, False),
    ("lambda_dssim", 0, False),
    ("lambda_lpips", 0, False),
    ("weight_constraint_init", 1, False),
    ("weight_constraint_after", 0.2, False),
    ("weight_decay_iteration", 5000, False),
    ("opacity_reset_interval", 3000, False),
    ("densification_interval", 100, False),
    ("densify_from_iter", 500, False),
    ("densify_until_iter", 15000, False),
    ("densify_grad_threshold_coarse", 0.0002, False),
    ("densify_grad_threshold_fine_init", 0.0002, False),
    ("densify_grad_threshold_after", 0.0002, False),
    ("pruning_from_iter", 500, False),
    ("pruning_interval", 100, False),
    ("opacity_threshold_coarse", 0.005, False),
    ("opacity_threshold_fine_init", 0.005, False),
    ("opacity_threshold_fine_after", 0.005, False),
    ("batch_size", 1, False),
    ("add_point", False, False),
    ("lip_fine_tuning", False, False),
    ("depth_fine_tuning", False, False),
    ("split_gs_in_fine_stage", False, False),
    ("canonical_tri_plane_factor_list", ["scales", "rotations", "opacity", "shs"], False),
    ("train_l", ["xyz", "deformation", "grid", "f_dc", "f_rest", "opacity", "scaling", "rotation"], False),
]


def _add_group(parser: ArgumentParser, title: str, spec, fill_none: bool = False) -> list:
    group = parser.add_argument_group(title)
    for name, default, short in spec:
        kind = type(default)  # upstream: type(default), so list/dict/NoneType flags parse oddly, as there
        value = None if fill_none else default
        names = ["--" + name] + (["-" + name[0]] if short else [])
        if kind is bool:
            group.add_argument(*names, default=value, action="store_true")
        else:
            group.add_argument(*names, default=value, type=kind)
    return [name for name, _, _ in spec]


class _Group:
    spec: tuple = ()
    title = ""

    def __init__(self, parser: ArgumentParser, fill_none: bool = False):
        self.names = _add_group(parser, self.title, self.spec, fill_none)

    def extract(self, args: Namespace) -> Namespace:
        return Namespace(**{k: v for k, v in vars(args).items() if k in self.names})


class ModelParams(_Group):
    spec = MODEL_PARAMS
    title = "Loading Parameters"

    def __init__(self, parser: ArgumentParser, sentinel: bool = False):
        super().__init__(parser, sentinel)

    def extract(self, args: Namespace) -> Namespace:
        group = super().extract(args)
        group.source_path = os.path.abspath(group.source_path)
        return group


class PipelineParams(_Group):
    spec = PIPELINE_PARAMS
    title = "Pipeline Parameters"


class ModelHiddenParams(_Group):
    spec = HIDDEN_PARAMS
    title = "ModelHiddenParams"


class OptimizationParams(_Group):
    spec = OPTIMIZATION_PARAMS
    title = "Optimization Parameters"


def get_combined_args(parser: ArgumentParser) -> Namespace:
    """CLI values that are not None win over ``<model_path>/cfg_args`` (written by train.py)."""
    cli = parser.parse_args(sys.argv[1:])
    saved = "Namespace()"
    if cli.model_path is not None:  # upstream: os.path.join(None) -> TypeError -> no cfg_args
        path = os.path.join(cli.model_path, "cfg_args")
        print("Looking for config file in", path)
        with open(path) as fh:  # missing file: FileNotFoundError, as upstream
            saved = fh.read()
    merged = dict(vars(eval(saved, {"Namespace": Namespace})))
    merged.update({k: v for k, v in vars(cli).items() if v is not None})
    return Namespace(**merged)


def load_config(path: str) -> dict:
    """What mmcv.Config.fromfile gives for a python config: its public top-level names."""
    import runpy

    if not os.path.isfile(path):
        raise FileNotFoundError(f'file "{path}" does not exist')
    if not path.endswith(".py"):
        raise OSError("[double] only .py configs are supported by this double")
    return {k: v for k, v in runpy.run_path(path).items() if not k.startswith("__")}


def merge_hparams(args: Namespace, config: dict) -> Namespace:
    """Upstream utils/params_utils.merge_hparams: config values overwrite args, CLI included."""
    for group in ("OptimizationParams", "ModelHiddenParams", "ModelParams", "PipelineParams"):
        for key, value in config.get(group, {}).items():
            if hasattr(args, key):
                setattr(args, key, value)
    return args
