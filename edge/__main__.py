"""Run an edge node: `python -m edge path/to/edge.yaml`."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from edge.config import ConfigError, load_config


def main(argv: list[str] | None = None) -> int:
    """Load the configuration and run the node until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m edge", description=__doc__)
    parser.add_argument("config", help="edge node YAML file")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ...")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Models are files from configuration: ultralytics must never reach for the network.
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "0")
    try:
        config = load_config(args.config)
    except ConfigError as err:
        logging.getLogger("edge").error("%s", err)
        return 2
    # Imported after the environment is set: ultralytics reads it at import time.
    from edge.node import run_node  # noqa: PLC0415
    from vision.detector import ModelLoadError  # noqa: PLC0415

    try:
        run_node(config)
    except ModelLoadError as err:
        logging.getLogger("edge").error("%s", err)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
