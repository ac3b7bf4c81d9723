"""The `station` command: run cloud-duty, an edge node, or the whole demo."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from pathlib import Path

from pydantic import ValidationError

from station.cli.language import CliSettings, _

logger = logging.getLogger(__name__)


LOG_FORMATS = ("text", "json")
_GRACEFUL_S = 5  # seconds open HTTP connections get on SIGTERM


def _setup_logging(level: str, form: str = "text") -> None:
    """Log to stderr as text lines, or as one JSON object a line for a log collector."""
    handler = logging.StreamHandler(sys.stderr)
    if form == "json":
        from pythonjsonlogger.json import JsonFormatter

        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler])


def _run_duty(args: argparse.Namespace) -> int:
    import uvicorn
    from pydantic import ValidationError

    from station.duty.app import create_app
    from station.duty.people.keys import KeyFileError
    from station.duty.settings import DutySettings

    try:
        settings = DutySettings()
        app = create_app(settings)
    except ValidationError as err:
        logger.error(_("cloud-duty settings are invalid:\n%s"), err)
        return 2
    except KeyFileError as err:
        logger.error(_("cloud-duty's keys: %s"), err)
        return 2
    # Bounded: an open console's live feed must not hold a SIGTERM for long.
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        timeout_graceful_shutdown=_GRACEFUL_S,
    )
    return 0


def _run_edge(args: argparse.Namespace) -> int:
    if not args.config:
        logger.error(_("station edge needs --config (or: station edge enrol --code ...)"))
        return 2
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "0")
    from edge.shutdown import install_stop_signals

    # Before the models' libraries are imported (seconds): a SIGTERM meanwhile is a clean stop.
    stop = threading.Event()
    restore = install_stop_signals(stop)
    try:
        return _start_edge(Path(args.config), stop)
    finally:
        restore()


def _start_edge(config_path: Path, stop: threading.Event) -> int:
    from edge.config import load_config
    from edge.errors import ConfigError

    try:
        config = load_config(config_path)
    except ConfigError as err:
        logger.error("%s", err)
        return 2
    # Imported once the environment is set: ultralytics reads it at import time.
    from edge.node import run_node
    from vision.errors import ModelLoadError

    if stop.is_set():
        return 0
    try:
        run_node(config, stop)
    except ModelLoadError as err:
        logger.error("%s", err)
        return 2
    return 0


def _export_training(args: argparse.Namespace) -> int:
    from station.cli.training import run_export_training

    return run_export_training(args)


def _train(args: argparse.Namespace) -> int:
    from station.cli.training import run_train

    return run_train(args)


def _run_demo(args: argparse.Namespace) -> int:
    from devkit.demo import DemoError, run_demo

    try:
        return run_demo(args)
    except DemoError as err:
        logger.error(_("demo cannot start: %s"), err)
        return 2


def _run_devices(args: argparse.Namespace) -> int:
    from devkit.simulator import simulate

    simulate(args.host, args.port, args.scenario, args.duration)
    return 0


def _run_eval(args: argparse.Namespace) -> int:
    from station.cli.vision import run_eval

    return run_eval(args)


def _run_export(args: argparse.Namespace) -> int:
    from station.cli.vision import run_export

    return run_export(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="station",
        description=_("The `station` command: run cloud-duty, an edge node, or the whole demo."),
    )
    parser.add_argument("--log-level", default="INFO", help=_("DEBUG, INFO, WARNING, ERROR"))
    parser.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default=os.environ.get("UWS_LOG_FORMAT", "text"),
        help=_(
            "text lines, or JSON objects for a log collector (default: $UWS_LOG_FORMAT or text)"
        ),
    )
    sub = parser.add_subparsers(dest="command", required=True)

    duty = sub.add_parser("duty", help=_("run cloud-duty (settings from UWS_* variables)"))
    duty.add_argument("--host", default="127.0.0.1")
    duty.add_argument("--port", type=int, default=8000)
    duty.set_defaults(func=_run_duty)

    edge = sub.add_parser("edge", help=_("run an edge node (or enrol it: `station edge enrol`)"))
    edge.add_argument("--config", help=_("the node's YAML file"))
    edge.set_defaults(func=_run_edge)
    from station.cli.trust import add_enrol_command, add_key_commands, add_node_commands

    add_enrol_command(edge.add_subparsers(dest="edge_command"))
    add_key_commands(sub)
    add_node_commands(sub)

    devices = sub.add_parser("devices", help=_("station devices (door, sensors, sockets, fan)"))
    devices_sub = devices.add_subparsers(dest="devices_command", required=True)
    simulate = devices_sub.add_parser("simulate", help=_("simulated devices on a broker"))
    simulate.add_argument("--host", default="127.0.0.1", help=_("station broker host"))
    simulate.add_argument("--port", type=int, default=1883, help=_("station broker port"))
    simulate.add_argument(
        "--scenario",
        default="idle",
        choices=["idle", "heatwave", "smoke", "overcurrent", "walk-in"],
        help=_("what the sensors do after start"),
    )
    simulate.add_argument("--duration", type=float, help=_("stop after this many seconds"))
    simulate.set_defaults(func=_run_devices)

    from station.cli.entry import add_entry_commands

    add_entry_commands(sub)

    from devkit.seed.cli import add_commands as add_dashboard_commands

    add_dashboard_commands(sub)

    from station.cli.vision import add_eval_arguments, add_export_arguments

    evaluate = sub.add_parser("eval", help=_("precision/recall/delay of vision over a manifest"))
    add_eval_arguments(evaluate)
    evaluate.set_defaults(func=_run_eval)

    export = sub.add_parser("export", help=_("export a model to ONNX, OpenVINO or TensorRT"))
    add_export_arguments(export)
    export.set_defaults(func=_run_export)

    demo = sub.add_parser("demo", help=_("a whole station and cloud-duty on this machine"))
    demo.add_argument("--workdir", default="var/demo", help=_("state of the demo's parts"))
    demo.add_argument("--port", type=int, default=8000, help=_("cloud-duty's HTTP port"))
    demo.add_argument(
        "--clip", help=_("the earlier one-camera demo on this video (default: the crowd clip)")
    )
    demo.add_argument(
        "--model", help=_("the earlier one-camera demo with these weights (default: COCO)")
    )
    demo.add_argument("--duration", type=float, help=_("stop after this many seconds"))
    demo.set_defaults(func=_run_demo)

    from station.cli.training import add_export_training_arguments

    training = sub.add_parser(
        "export-training",
        help=_("judged alerts (confirmed and false alarms) as a YOLO dataset for one model"),
    )
    add_export_training_arguments(training)
    training.set_defaults(func=_export_training)

    from station.cli.training import add_train_arguments

    train = sub.add_parser(
        "train", help=_("fine-tune a model; keep it only if no worse on the dev set")
    )
    add_train_arguments(train)
    train.set_defaults(func=_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `station` console script."""
    try:
        CliSettings()
    except ValidationError as err:
        # Not yet translated: the variable that chooses the language is the one that is wrong.
        sys.stderr.write(f"UWS_LANGUAGE must be zh-CN or en:\n{err}\n")
        return 2
    args = _parser().parse_args(argv)
    if args.log_format not in LOG_FORMATS:
        # The default comes from the environment, which argparse's choices do not check.
        logger.error(_("UWS_LOG_FORMAT must be one of %s"), ", ".join(LOG_FORMATS))
        return 2
    _setup_logging(args.log_level, args.log_format)
    result: int = args.func(args)
    return result
