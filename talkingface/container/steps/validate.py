"""The ``validate`` verb: a table of a dataset's problems, each with its fix; exit 1 if there is any."""

from __future__ import annotations

import argparse
import sys
from typing import List

from ...adapters import get_adapter
from ...core.text import plural
from ..validate import check_dataset, format_table


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="talkingface.container.steps validate")
    parser.add_argument("--model", required=True)
    parser.add_argument("--data_dir", required=True)
    args = parser.parse_args(argv)
    problems = check_dataset(get_adapter(args.model).dataset_spec(), args.data_dir)
    if problems:
        print(format_table(problems))
        print(
            f"error: the dataset {args.data_dir} has {plural(len(problems), 'problem')} -- fix: see the table above",
            file=sys.stderr,
        )
        return 1
    print(f"dataset {args.data_dir}: ok")
    return 0
