"""Entry point of one torchrun process: ``python -m cosmodl.voids.train_cli ARGS.json``.

Written by :func:`cosmodl.voids.learn.train_void_model_distributed`; rank 0 logs to the rule's log.
"""

import json
import os
import sys

from ..logs import log_to_file
from ..training import TrainingInterrupted
from .learn import train_void_model


def main(args_file: str) -> int:
    args = json.loads(open(args_file).read())
    log_path = args.pop("log_path")
    rank = int(os.environ.get("RANK", "0"))
    log_to_file(log_path if rank == 0 else None, append=True)
    try:
        train_void_model(**args)
    except TrainingInterrupted as exc:
        return 128 + exc.signum
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
