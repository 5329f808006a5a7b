"""setup.py for one CUDA op that upstream JIT-compiles at first run, built into a wheel with the image instead.

build-upstream.sh copies this beside an ``op.json``: {"name": module, "sources": [absolute paths], "cxx": [flags],
"nvcc": [flags]}. The module keeps upstream's name (``bias_act_plugin``, ``nvdiffrast_plugin``, ...), which the
compat edits import before they would compile.
"""

import json
from pathlib import Path

from setuptools import setup
from torch.utils.cpp_extension import BuildExtension, CUDAExtension


def unique_sources(sources: list, folder: Path) -> list:
    """Each source behind a one-line wrapper of its own name. Upstream pairs bias_act.cpp with bias_act.cu (and
    nvdiffrast texture.cpp with texture.cu): torch's JIT loader names their objects apart, setuptools' ninja build
    makes both bias_act.o and stops ("multiple rules generate"), as the first real build did. A quoted #include
    searches the included file's own folder first, so upstream's relative includes still resolve."""
    folder.mkdir(parents=True, exist_ok=True)
    wrapped = []
    for number, source in enumerate(sources):
        wrapper = folder / f"{number:02d}_{Path(source).name}"
        wrapper.write_text(f'#include "{source}"\n')
        wrapped.append(str(wrapper))
    return wrapped


def main() -> None:
    here = Path(__file__).resolve().parent
    op = json.loads((here / "op.json").read_text())
    sources = unique_sources(op["sources"], here / "sources")
    setup(
        name=f"talkingface-{op['name'].replace('_', '-')}",
        version="0",
        ext_modules=[CUDAExtension(op["name"], sources, extra_compile_args={"cxx": op["cxx"], "nvcc": op["nvcc"]})],
        cmdclass={"build_ext": BuildExtension},
    )


if __name__ == "__main__":
    main()
