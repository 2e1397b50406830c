"""``mtlflow serve``: TF Serving–compatible REST and gRPC model server.

Wired into ``mtlflow`` as a subcommand with :func:`add_arguments` and :func:`main`; also
runnable alone as ``python -m mtlflow.serving.cli --model-base-path DIR --model-name NAME``.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from mtlflow.errors import MtlflowError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``mtlflow serve`` (TF Serving's names, with dashes)."""
    models = parser.add_argument_group("models")
    models.add_argument("--model-base-path", help="directory of numbered SavedModel versions (BASE/<version>/)")
    models.add_argument("--model-name", help="the model's name in request URLs and model specs")
    models.add_argument("--model-config-file", help="TF Serving ModelServerConfig text file (several models, "
                        "version policies and labels); instead of --model-base-path/--model-name")
    models.add_argument("--version-policy", default="latest",
                        help="for --model-base-path: latest, latest:N, all or specific:V1,V2 (default latest)")
    models.add_argument("--version-labels", default="",
                        help="for --model-base-path: LABEL=VERSION pairs, e.g. stable=1,canary=2 "
                        "(default: canary = newest loaded version, stable = the one before)")
    models.add_argument("--file-system-poll-wait-seconds", type=float, default=2.0,
                        help="seconds between scans for new versions; 0 scans once at start (default 2)")
    models.add_argument("--model-config-file-poll-wait-seconds", type=float, default=0.0,
                        help="seconds between re-reads of --model-config-file: models added, removed or "
                        "re-configured without a restart (default 0: read once)")
    models.add_argument("--max-num-load-retries", type=int, default=5,
                        help="further attempts to load a version that failed (default 5)")
    models.add_argument("--load-retry-interval-micros", type=int, default=60_000_000,
                        help="microseconds between load attempts (default 60000000: one minute)")

    net = parser.add_argument_group("network")
    net.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1, loopback only)")
    net.add_argument("--port", type=int, default=8501, help="REST port (default 8501; 0 = any free port, -1 = off)")
    net.add_argument("--grpc-port", type=int, default=8500, help="gRPC port (default 8500; 0 = any free port, -1 = off)")
    net.add_argument("--drain-seconds", type=float, default=30.0,
                     help="on SIGTERM/SIGINT, time in-flight requests get to finish (default 30)")
    net.add_argument("--rest-api-num-threads", type=int, default=32,
                     help="threads decoding and running REST requests (default 32; connections cost none)")
    net.add_argument("--rest-api-timeout-seconds", type=float, default=30.0,
                     help="idle connections, slow headers and stalled bodies are cut off after this (default 30)")
    net.add_argument("--grpc-max-threads", type=int, default=16, help="threads answering gRPC calls (default 16)")
    net.add_argument("--grpc-max-concurrent-rpcs", type=int, default=256,
                     help="gRPC calls in progress at once; more get RESOURCE_EXHAUSTED (default 256)")

    limits = parser.add_argument_group("limits (checked on declared sizes, before decoding)")
    limits.add_argument("--max-body-bytes", type=int, default=8 * 1024 * 1024,
                        help="larger REST bodies get 413 unread; also the largest gRPC message in (default 8 MiB)")
    limits.add_argument("--max-response-bytes", type=int, default=64 * 1024 * 1024,
                        help="largest gRPC message out (default 64 MiB)")
    limits.add_argument("--max-request-rows", type=int, default=1024,
                        help="rows per request without batching (default 1024)")
    limits.add_argument("--max-request-elements", type=int, default=4 * 1024 * 1024,
                        help="values per input tensor (default 4194304)")
    limits.add_argument("--max-string-bytes", type=int, default=1024 * 1024, help="bytes per string (default 1 MiB)")

    batching = parser.add_argument_group("batching")
    batching.add_argument("--enable-batching", action="store_true", help="run concurrent requests as one batch")
    batching.add_argument("--max-batch-size", type=int, default=32, help="rows per batch, and per request (default 32)")
    batching.add_argument("--batch-timeout-micros", type=int, default=2000,
                          help="longest wait for a batch to fill (default 2000)")
    batching.add_argument("--num-batch-threads", type=int, default=2, help="model calls at once (default 2)")
    batching.add_argument("--batch-deadline-seconds", type=float, default=30.0,
                          help="longest wait for a batch's answer; then DEADLINE_EXCEEDED / 503 (default 30)")

    watch = parser.add_argument_group("routing and monitoring")
    watch.add_argument("--ab", help='weighted split between version labels, e.g. "stable=90,canary=10" '
                       "(sticky per X-Mtlflow-Key header / mtlflow_key body field)")
    watch.add_argument("--drift-threshold", type=float, default=0.2, help="PSI above which drift is alerted (default 0.2)")
    watch.add_argument("--drift-window", type=int, default=1000, help="recent examples per drift window (default 1000)")
    watch.add_argument("--drift-min-examples", type=int, default=200,
                       help="examples a window needs before it can alert (default 200)")
    watch.add_argument("--request-log-file", help="append sampled requests to this file as JSON lines "
                       "(time, model, version, signature, latency, status)")
    watch.add_argument("--request-log-sample-rate", type=float, default=1.0,
                       help="share of requests logged, 0..1 (default 1)")
    watch.add_argument("--request-log-inputs", action="store_true", help="also log each logged request's inputs")


def build(args) -> tuple[list, object]:
    """The model configs and :class:`ServerOptions` the arguments describe."""
    from pathlib import Path

    from mtlflow.serving.ab import ABRouter
    from mtlflow.serving.config_file import ModelConfig, load_model_config
    from mtlflow.serving.options import ServerOptions
    from mtlflow.serving.version_policy import VersionPolicy

    if args.model_config_file and (args.model_base_path or args.model_name):
        raise MtlflowError("give either --model-config-file or --model-base-path/--model-name, not both")
    if args.model_config_file_poll_wait_seconds and not args.model_config_file:
        raise MtlflowError("--model-config-file-poll-wait-seconds needs --model-config-file")
    if args.model_config_file:
        models = load_model_config(args.model_config_file)
    elif args.model_base_path and args.model_name:
        try:
            policy = VersionPolicy.parse(args.version_policy)
        except ValueError as exc:
            raise MtlflowError(f"--version-policy: {exc}") from None
        models = [ModelConfig(args.model_name, _path(args.model_base_path), policy, _labels(args.version_labels))]
    else:
        raise MtlflowError("nothing to serve: give --model-base-path and --model-name, or --model-config-file")
    try:
        options = ServerOptions(
            host=args.host, rest_port=args.port, grpc_port=args.grpc_port,
            enable_batching=args.enable_batching, max_batch_size=args.max_batch_size,
            batch_timeout_micros=args.batch_timeout_micros, num_batch_threads=args.num_batch_threads,
            poll_seconds=args.file_system_poll_wait_seconds,
            ab=ABRouter.parse(args.ab) if args.ab else None,
            drift_threshold=args.drift_threshold, drift_window=args.drift_window,
            drift_min_examples=args.drift_min_examples, max_body_bytes=args.max_body_bytes,
            max_request_rows=args.max_request_rows, drain_seconds=args.drain_seconds,
            batch_deadline_seconds=args.batch_deadline_seconds, max_num_load_retries=args.max_num_load_retries,
            load_retry_interval_seconds=args.load_retry_interval_micros / 1e6,
            config_file=Path(args.model_config_file) if args.model_config_file else None,
            config_poll_seconds=args.model_config_file_poll_wait_seconds,
            max_response_bytes=args.max_response_bytes, max_request_elements=args.max_request_elements,
            max_string_bytes=args.max_string_bytes, grpc_workers=args.grpc_max_threads,
            grpc_max_concurrent_rpcs=args.grpc_max_concurrent_rpcs, rest_workers=args.rest_api_num_threads,
            rest_keepalive_seconds=args.rest_api_timeout_seconds,
            rest_body_timeout_seconds=args.rest_api_timeout_seconds,
            request_log=Path(args.request_log_file) if args.request_log_file else None,
            request_log_sample_rate=args.request_log_sample_rate, request_log_inputs=args.request_log_inputs,
        )
    except ValueError as exc:
        raise MtlflowError(str(exc)) from None
    return models, options


def _path(text: str):
    from pathlib import Path

    path = Path(text)
    if not path.is_dir():
        raise MtlflowError(f"--model-base-path {text}: no such directory")
    return path


def _labels(text: str) -> dict[str, int]:
    labels = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        label, _, version = part.partition("=")
        if not label or not version.strip().isdigit():
            raise MtlflowError(f"--version-labels {text!r}: expected LABEL=VERSION pairs, e.g. stable=1,canary=2")
        labels[label.strip()] = int(version)
    return labels


def main(args) -> int:
    """Runs the server until SIGTERM or SIGINT, then drains in-flight requests; returns 0."""
    models, options = build(args)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="mtlflow serve: %(levelname)s: %(message)s", stream=sys.stderr)
    logging.getLogger("mtlflow.serving").setLevel(logging.INFO)
    from mtlflow.serving.server import ModelServer

    server = ModelServer(models, options)
    try:
        server.start()
    except OSError as exc:
        raise MtlflowError(f"cannot listen on {options.host}: {exc.strerror or exc}") from None
    for manager in server.core.managers.values():
        versions = ", ".join(map(str, sorted(manager.available))) or "none yet"
        print(f"mtlflow serve: model {manager.name!r} from {manager.base_path} "
              f"(policy {manager.policy.describe()}): versions {versions}", flush=True)
    apis = []
    if server.rest_port is not None:
        apis.append(f"REST {server.rest_url} (port {server.rest_port})")
    if server.grpc_port is not None:
        apis.append(f"gRPC {server.grpc_target} (port {server.grpc_port})")
    print(f"mtlflow serve: listening: {'; '.join(apis)}", flush=True)

    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("mtlflow serve: shutting down, draining in-flight requests", flush=True)
    drained = server.stop()
    print(f"mtlflow serve: stopped{'' if drained else ' (some requests were cut off)'}", flush=True)
    return 0


def _standalone(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mtlflow serve", description="Serve SavedModels over REST and gRPC.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return main(args)
    except MtlflowError as exc:
        print(f"mtlflow: {exc.kind}: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(_standalone())
