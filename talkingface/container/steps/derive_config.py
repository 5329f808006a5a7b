"""Write a copy of a Python (mmcv-style) config with some dict entries overridden.

GaussianTalker merges ``--configs`` over its command line, so ``--iterations`` and ``--batch_size`` given as flags
are silently replaced by the config's values; the only way to change them is a config that says so.
"""

from __future__ import annotations

import argparse
import ast
import pprint
from typing import Any, Dict, List

from ...core.atomic import replacing
from ...core.errors import TalkingfaceError


def parse_value(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="talkingface.container.steps derive-config")
    parser.add_argument("--base", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    args = parser.parse_args(argv)
    namespace: Dict[str, Any] = {}
    with open(args.base, encoding="utf-8") as fh:
        exec(compile(fh.read(), args.base, "exec"), namespace)  # noqa: S102 - configs are Python by design (mmcv)
    config = {k: v for k, v in namespace.items() if not k.startswith("__")}
    for item in args.set:
        target, _, value = item.partition("=")
        section, _, key = target.partition(".")
        if not isinstance(config.get(section), dict) or not key:
            raise TalkingfaceError(
                f"{args.base} has no section {section!r} for {item!r}", fix="check the config", exit_code=1
            )
        config[section][key] = parse_value(value)
    with replacing(args.out, suffix=".py") as tmp:
        body = "".join(f"{name} = {pprint.pformat(value, sort_dicts=False)}\n" for name, value in config.items())
        tmp.write_text(f"# Derived from {args.base} by talkingface.\n{body}", encoding="utf-8")
    return 0
