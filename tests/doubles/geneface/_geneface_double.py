"""Shared bits of the GeneFace test doubles (yerfor/GeneFace @ 15ff4e5).

Not an upstream file. It holds what several doubles need: a YAML-subset reader and
writer for the ``egs``/``checkpoints`` configs, a stand-in for the ``set_hparams``
command line of ``utils/commons/hparams.py``, checkpoint lookup as
``utils/commons/ckpt_utils.py`` does it, and small file helpers. Stdlib only.
"""

from __future__ import annotations

import argparse
import ast
import glob
import json
import os
import pickle
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import fakeupstream

# --------------------------------------------------------------------------- YAML subset

_INT = re.compile(r"^[-+]?[0-9][0-9_]*$")
_FLOAT = re.compile(r"^[-+]?(\d[\d_]*)?\.\d*([eE][-+]?\d+)?$|^[-+]?\d[\d_]*[eE][-+]?\d+$")


def _strip_comment(line: str) -> str:
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
    return line


def _scalar(text: str):
    text = text.strip()
    if text == "" or text in ("~", "null", "Null", "NULL"):
        return None
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        inner = text[1:-1]
        return inner.replace("''", "'") if text[0] == "'" else inner
    if text.startswith("[") and text.endswith("]"):
        body = text[1:-1].strip()
        return [_scalar(part) for part in body.split(",")] if body else []
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if _INT.match(text):
        return int(text.replace("_", ""))
    if _FLOAT.match(text):
        return float(text.replace("_", ""))
    return text


def load_yaml(path: os.PathLike) -> dict:
    """Read the small YAML subset used by GeneFace configs (maps, lists, scalars)."""
    root: dict = {}
    stack: List[Tuple[int, dict]] = [(-1, root)]
    last: Optional[Tuple[int, dict, str]] = None  # last key whose value was left empty
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        line = _strip_comment(raw).rstrip()
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        body = line.strip()
        if body == "-" or body.startswith("- "):
            if last is None:
                raise ValueError(f"{path}: list item without a key: {raw!r}")
            _, holder, key = last
            if not isinstance(holder[key], list):
                holder[key] = []
            holder[key].append(_scalar(body[1:]))
            continue
        key, sep, rest = body.partition(":")
        if not sep:
            raise ValueError(f"{path}: unsupported YAML line: {raw!r}")
        if last is not None and indent > last[0] and last[1][last[2]] is None:
            child: dict = {}
            last[1][last[2]] = child
            stack.append((indent, child))
        while len(stack) > 1 and indent < stack[-1][0]:
            stack.pop()
        holder = stack[-1][1]
        key = key.strip()
        if rest.strip() == "":
            holder[key] = None
            last = (indent, holder, key)
        else:
            holder[key] = _scalar(rest)
    return root


def _dump_scalar(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        if "e" in text and "." not in text.split("e")[0]:
            text = text.replace("e", ".0e", 1)
        return text
    text = str(value)
    if text == "" or _scalar(text) != text or text != text.strip() or any(c in text for c in ":#[]{},&*!|>'\"%@`"):
        return "'" + text.replace("'", "''") + "'"
    return text


def dump_yaml(data: dict, indent: int = 0) -> str:
    """Block-style YAML with sorted keys, close to ``yaml.safe_dump``."""
    pad = " " * indent
    out = []
    for key in sorted(data):
        value = data[key]
        if isinstance(value, dict):
            out.append(f"{pad}{key}:\n" + dump_yaml(value, indent + 2) if value else f"{pad}{key}: {{}}\n")
        elif isinstance(value, list):
            if value:
                out.append(f"{pad}{key}:\n" + "".join(f"{pad}- {_dump_scalar(v)}\n" for v in value))
            else:
                out.append(f"{pad}{key}: []\n")
        else:
            out.append(f"{pad}{key}: {_dump_scalar(value)}\n")
    return "".join(out)


def _override(old: dict, new: dict) -> None:
    for key, value in new.items():
        if isinstance(value, dict) and key in old and isinstance(old[key], dict):
            _override(old[key], value)
        else:
            old[key] = value


def load_config_chain(config_fn: str, seen: Optional[set] = None, chain: Optional[list] = None) -> dict:
    """Depth-first ``base_config`` inheritance; a missing base file counts as empty, as upstream."""
    seen = set() if seen is None else seen
    if not os.path.exists(config_fn):
        return {}
    own = load_yaml(config_fn) or {}
    seen.add(config_fn)
    if "base_config" not in own:
        merged = own
    else:
        bases = own["base_config"]
        if not isinstance(bases, list):
            bases = [bases]
            own["base_config"] = bases
        merged = {}
        for base in bases:
            if base.startswith("."):
                base = os.path.normpath(f"{os.path.dirname(config_fn)}/{base}")
            if base not in seen:
                _override(merged, load_config_chain(base, seen, chain))
        _override(merged, own)
    if chain is not None:
        chain.append(config_fn)
    return merged


# --------------------------------------------------------------------------- set_hparams CLI


def set_hparams(script_file: str, depth: int, argv: Sequence[str], task=None) -> Tuple[dict, argparse.Namespace]:
    """The command line of ``utils/commons/hparams.py:set_hparams()`` (parse_known_args!)."""
    parser = argparse.ArgumentParser(description="")
    parser.add_argument("--config", type=str, default="", help="location of the data corpus")
    parser.add_argument("--exp_name", type=str, default="", help="exp_name")
    parser.add_argument("-hp", "--hparams", type=str, default="", help="location of the data corpus")
    parser.add_argument("--infer", action="store_true", help="infer")
    parser.add_argument("--validate", action="store_true", help="validate")
    parser.add_argument("--reset", action="store_true", help="reset hparams")
    parser.add_argument("--remove", action="store_true", help="remove old ckpt")
    parser.add_argument("--debug", action="store_true", help="debug")
    args, unknown = parser.parse_known_args(list(argv[1:]))
    print("| Unknow hparams: ", unknown)
    fakeupstream.start(script_file, depth, argv, task=task)

    assert args.config != "" or args.exp_name != ""
    if args.config != "":
        assert os.path.exists(args.config)

    chain: list = []
    saved: dict = {}
    work_dir = ""
    ckpt_config_path = ""
    if args.exp_name != "":
        work_dir = f"checkpoints/{args.exp_name}"
        ckpt_config_path = f"{work_dir}/config.yaml"
        if os.path.exists(ckpt_config_path):
            saved.update(load_yaml(ckpt_config_path) or {})
    hp: dict = {}
    if args.config != "":
        hp.update(load_config_chain(args.config, chain=chain))
    if not args.reset:
        hp.update(saved)
    if args.exp_name != "":
        hp["work_dir"] = work_dir

    if args.hparams != "":
        for item in args.hparams.split(","):
            key, value = item.split("=")  # ValueError on a value holding '=', as upstream
            value = value.strip("'\" ")
            node = hp
            for part in key.split(".")[:-1]:
                node = node[part]
            key = key.split(".")[-1]
            old = node[key]  # KeyError for a key the config chain does not have, as upstream
            if value in ("True", "False") or type(old) in (bool, list, dict):
                if type(old) is list:
                    value = value.replace(" ", ",")
                node[key] = ast.literal_eval(value)
            else:
                node[key] = type(old)(value)

    if work_dir != "" and args.remove:
        answer = input("REMOVE old checkpoint? Y/N [Default: N]: ")
        if answer.lower() == "y":
            shutil.rmtree(work_dir, ignore_errors=True)
    if work_dir != "" and (not os.path.exists(ckpt_config_path) or args.reset) and not args.infer:
        os.makedirs(hp["work_dir"], exist_ok=True)
        Path(ckpt_config_path).write_text(dump_yaml(hp), encoding="utf-8")

    hp["infer"] = args.infer
    hp["debug"] = args.debug
    hp["validate"] = args.validate
    hp["exp_name"] = args.exp_name
    print("| Hparams chains: ", chain)
    return hp, args


# --------------------------------------------------------------------------- checkpoints


def all_ckpts(work_dir: str, steps=None) -> List[str]:
    pattern = f"{work_dir}/model_ckpt_steps_{'*' if steps is None else steps}.ckpt"
    found = glob.glob(pattern)
    return sorted(found, key=lambda p: -int(re.findall(r".*steps_(\d+)\.ckpt", p)[0]))


def require_ckpt(ckpt_base: str, steps=None) -> str:
    """``load_ckpt(..., force=True)``: a file path, or the newest (or ``steps``) ckpt of a dir."""
    if os.path.isfile(ckpt_base):
        return ckpt_base
    found = all_ckpts(ckpt_base, steps)
    if not found:
        raise AssertionError(f"| ckpt not found in {ckpt_base}.")
    print(f"| load 'model' from '{found[0]}'.")
    return found[0]


def write_ckpt(path: str, step: int) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(f"geneface-double checkpoint global_step={step}\n".encode())


# --------------------------------------------------------------------------- files


def require(*paths: str, why: str = "") -> None:
    """Crash like upstream does when it opens a missing file."""
    for path in paths:
        if not os.path.exists(path):
            raise FileNotFoundError(f"[Errno 2] No such file or directory: '{path}'" + (f" ({why})" if why else ""))


def os_system(cmd: List[str]) -> int:
    """Stand-in for upstream ``os.system(...)``: the return code is NOT checked."""
    print("[double] os.system:", " ".join(cmd))
    rc = subprocess.run(cmd, stdin=subprocess.DEVNULL, check=False).returncode
    if rc != 0:
        print(f"[double] command exited {rc}; upstream ignores this", file=sys.stderr)
    return rc


def run_ffmpeg(*args: str) -> int:
    exe = shutil.which("ffmpeg") or "ffmpeg"
    return os_system([exe, "-hide_banner", "-loglevel", "error", *args])


def run_python(root: Path, script: str, *args: str) -> int:
    """``os.system(f"python {script} ...")`` for a script of this double tree (relative path, as upstream)."""
    target = root / script
    if (Path.cwd() / script).resolve() == target.resolve():
        return os_system([sys.executable, script, *args])
    return os_system([sys.executable, str(target), *args])


def image_size(path: os.PathLike) -> Tuple[int, int]:
    """(height, width) of an image or video, via ffprobe."""
    out = (
        subprocess.run(
            [
                "ffprobe",
                "-v",
                "error",
                "-select_streams",
                "v:0",
                "-show_entries",
                "stream=width,height",
                "-of",
                "csv=p=0:s=x",
                str(path),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[0]
    )
    width, height = (int(v) for v in out.split("x")[:2])
    return height, width


def native_frame_count(video: os.PathLike) -> int:
    """Frames as ``cv2.VideoCapture`` reads them (native rate, no resampling)."""
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-count_packets",
            "-show_entries",
            "stream=nb_read_packets",
            "-of",
            "csv=p=0",
            str(video),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return int(out.split(",")[0])


def wav_samples(path: os.PathLike) -> Tuple[int, int]:
    """(samples, sample_rate) of a PCM wav."""
    import wave

    with wave.open(str(path), "rb") as wav:
        return wav.getnframes(), wav.getframerate()


def write_pickle_npy(path: os.PathLike, obj) -> None:
    """What ``np.save(path, dict, allow_pickle=True)`` writes: a 0-d object array (plain pickle here)."""
    header = "{'descr': '|O', 'fortran_order': False, 'shape': (), }"
    header += " " * (64 - (10 + len(header) + 1) % 64) + "\n"
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1"))
        pickle.dump(obj, fh, protocol=2)


def read_pickle_npy(path: os.PathLike):
    with open(path, "rb") as fh:
        if fh.read(6) != b"\x93NUMPY":
            raise ValueError(f"{path}: not a .npy file")
        major = fh.read(2)[0]
        size = struct.unpack("<H" if major == 1 else "<I", fh.read(2 if major == 1 else 4))[0]
        fh.read(size)
        return pickle.load(fh)


def npy_shape(path: os.PathLike) -> Tuple[int, ...]:
    with open(path, "rb") as fh:
        if fh.read(6) != b"\x93NUMPY":
            raise ValueError(f"{path}: not a .npy file")
        major = fh.read(2)[0]
        size = struct.unpack("<H" if major == 1 else "<I", fh.read(2 if major == 1 else 4))[0]
        header = ast.literal_eval(fh.read(size).decode("latin1"))
    return tuple(header["shape"])


def copy_many(src: Path, dests: Sequence[Path]) -> None:
    for dest in dests:
        shutil.copyfile(src, dest)


def dumps(obj) -> str:
    return json.dumps(obj, indent=2, separators=(",", ": "))


def hp_get(hp: Dict, key: str, default=None):
    value = hp.get(key, default)
    return default if value is None else value
