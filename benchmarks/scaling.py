"""Multi-worker scaling: one worker on one core against two workers on one core each, same global batch.

Usage::

    python benchmarks/scaling.py                       # every setting below, writes the results
    python benchmarks/scaling.py --settings text-256   # one setting, writes nothing unless --write
    python benchmarks/scaling.py --quick               # a smoke run (seconds per block, 2 rounds)

Settings (``MODEL-GLOBAL_BATCH``):

* ``text-*``: the demo's model (``mtlflow demo``: character BiLSTM, 64-d embeddings, 96 units
  per direction, intent + BIO slots + masked sentiment) on the demo's generated corpus
  (written to ``benchmarks/.cache/customer_service``; 4,320 of its 4,800 training rows, the
  default 10 % held out), the project's own data, so the benchmark runs on any machine;
* ``census-*``: the census-income MMoE of ``benchmarks/census.py`` (8 experts × 16 units, two
  binary tasks, 31 categorical embeddings + 7 numeric inputs, 16 steps per execution) on
  the 50 % training split of ``../shared/data/census-income`` (skipped when it is absent).

Every setting starts four contenders, each a process (or two) of the project's own
trainer (``Trainer.train_function``, the compiled unit ``Trainer.fit`` runs, on the same
input pipeline, ``SplitData.batches`` and, across workers, ``distribute_batches``):

* ``one``: ``strategy: none``, the global batch, pinned to core 0 (``taskset -c 0``);
* ``two``: ``strategy: multi_worker`` over 127.0.0.1 (``TF_CONFIG``, ``communication:
  ring``), pinned to cores 0 and 1, each computing half of every global batch and
  all-reducing the label counts, losses and gradients over gRPC;
* ``half``: ``strategy: none``, pinned to core 0, every global batch cut to its first half
  (worker 0's rows, padding included): one worker's share of the work without any collective;
* ``pair``: two ``half`` processes at once, on cores 0 and 1, independent of each other:
  the two workers' compute without the all-reduces. ``two`` − ``pair`` per step is what the
  all-reduces and the wait for the slower worker cost; ``half`` / ``pair`` is what running
  both cores at once costs on this machine.

While a one-core contender (``one``, ``half``) runs, a spinning process at the same
niceness keeps core 1 busy (``Ballast``; ``--no-ballast`` leaves it idle): on a machine
shared with other work, the scheduler otherwise crowds the other processes onto the idle
core and a one-core contender gets its core nearly to itself, while two workers share both
cores with everything else.

Every process runs TensorFlow with one intra-op and one inter-op thread. After tracing and
a warm-up, the contenders take turns in blocks of steps (each block about
``--block-seconds``), in the order one, half, pair, two and reversed every other round (ABBA), so
load from other processes lands on every contender. The per-step wall and CPU time
(``time.process_time`` of the process, summed over both workers) is the median over blocks;
the load average is recorded beside each block.

Efficiency = throughput(two) / (2 × throughput(one)) = wall(one) / (2 × wall(two)) per step,
also per round (paired). CPU efficiency = CPU(one) / (CPU(worker 0) + CPU(worker 1)) per
step. Bytes all-reduced per step: every all-reduce the traced step of the two-worker chief
makes, with the shapes and types it carries, recorded while it is traced; beside them,
what the embedding gradients would carry as rows (indices and touched rows of one worker's
half batch, measured on 20 batches).

Writes ``benchmarks/results/scaling.json`` and the "Scaling" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import yaml  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, save  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "benchmarks" / "results" / "scaling.json"
SECTION = "## Scaling"
CACHE = ROOT / "benchmarks" / ".cache"
CENSUS_RAW = ROOT.parent / "shared" / "data" / "census-income" / "census-income.test.gz"
MMOE = {"type": "mmoe", "experts": 8, "expert_units": [16]}
DEFAULT_SETTINGS = ["text-256", "text-1024", "census-4096", "census-32768"]
STARTUP_TIMEOUT = 600  # seconds a contender may take to read the data, build and trace


# ---- configs ---------------------------------------------------------------------------
def text_config(batch_size: int, distributed: bool) -> dict:
    """The demo's config (``mtlflow demo``), on the cached demo corpus."""
    import mtlflow
    from mtlflow.data.customer_service import write_corpus

    folder = CACHE / "customer_service"
    if not (folder / "train.jsonl").is_file():
        write_corpus(folder, n=6000, seed=0)
    raw = yaml.safe_load((Path(mtlflow.__file__).parent / "templates" / "customer_service.yaml").read_text("utf-8"))
    raw["data"] = {"format": "jsonl", "train": str(folder / "train.jsonl")}
    raw["training"].update({"batch_size": batch_size, "early_stopping": None, "steps_per_execution": 4, "seed": 0,
                            "diagnostics_every": None})
    raw["export"] = {"base_dir": None}
    return with_distribution(raw, distributed)


def census_config(batch_size: int, distributed: bool) -> dict:
    """``benchmarks/census.py``'s MMoE on the census training split."""
    from mtlflow.data.census import CATEGORICAL, NUMERIC, prepare_census

    paths = prepare_census(CENSUS_RAW, CACHE / "census", seed=0)
    raw = {
        "data": {"format": "csv", "train": str(paths["train"]), "validation_split": 0.0},
        "inputs": {"numeric": NUMERIC, "categorical": CATEGORICAL},
        "encoder": {"categorical_dim": 4, "mlp": []},
        "sharing": MMOE,
        "tasks": [{"name": t, "type": "binary", "tower": [8]} for t in ("income", "never_married")],
        "training": {"batch_size": batch_size, "learning_rate": 1e-3, "seed": 0, "early_stopping": None,
                     "clip_norm": None, "steps_per_execution": 16, "diagnostics_every": None},
        "export": {"base_dir": None},
    }
    return with_distribution(raw, distributed)


def with_distribution(raw: dict, distributed: bool) -> dict:
    if distributed:
        raw["training"]["distribution"] = {"strategy": "multi_worker", "communication": "ring"}
    return raw


CONFIGS = {"text": text_config, "census": census_config}
DESCRIPTIONS = {
    "text": "demo BiLSTM (character embeddings 64, 96 units per direction; intent, slots, sentiment), "
            "4,320 generated training utterances, 4 steps per execution",
    "census": "census MMoE (8 experts × 16; income, never_married), 49,881 rows, 16 steps per execution",
}


# ---- the contender processes ----------------------------------------------------------
class Contender:
    """One or two processes of the same contender, driven over stdin/stdout (one JSON line each)."""

    def __init__(self, name: str, config: dict, workdir: Path, cores: list[int], record_traffic: bool = False,
                 share: int = 1, cluster: bool = False):
        self.name, self.processes, self.logs = name, [], []
        path = workdir / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config), "utf-8")
        addresses = [f"127.0.0.1:{p}" for p in free_ports(len(cores))] if cluster else []
        for i, core in enumerate(cores):
            env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
            env.update(TF_CPP_MIN_LOG_LEVEL="3", TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1")
            if addresses:
                env["TF_CONFIG"] = json.dumps({"cluster": {"worker": addresses},
                                               "task": {"type": "worker", "index": i}})
            command = [sys.executable, __file__, "--serve", str(path), "--share", str(share)]
            if record_traffic and i == 0:
                command.append("--traffic")
            if shutil.which("taskset"):
                command = ["taskset", "-c", str(core)] + command
            log = workdir / f"{name}-{i}.log"
            self.logs.append(log)
            self.processes.append(subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                                   stderr=log.open("w"), env=env, text=True, bufsize=1))

    def ready(self) -> list[dict]:
        return [self._read(p, STARTUP_TIMEOUT) for p in self.processes]

    def run(self, calls: int) -> dict:
        """``calls`` compiled calls on every process; wall = the slowest process's, CPU summed."""
        for p in self.processes:
            p.stdin.write(json.dumps({"calls": calls}) + "\n")
            p.stdin.flush()
        replies = [self._read(p, STARTUP_TIMEOUT) for p in self.processes]
        return {"steps": replies[0]["steps"], "wall": max(r["wall"] for r in replies),
                "cpu": sum(r["cpu"] for r in replies), "cpu_per_process": [r["cpu"] for r in replies]}

    def _read(self, process, timeout: float) -> dict:
        line = process.stdout.readline()
        if not line:
            process.wait(timeout=timeout)
            raise RuntimeError(f"{self.name}: a process ended (exit {process.returncode}):\n"
                               + "\n".join(log.read_text()[-3000:] for log in self.logs))
        return json.loads(line)

    def close(self) -> None:
        for p in self.processes:
            if p.poll() is None:
                try:
                    p.stdin.write(json.dumps({"quit": True}) + "\n")
                    p.stdin.flush()
                except (BrokenPipeError, OSError):
                    pass
        for p in self.processes:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def serve(config_path: str, record_traffic: bool, share: int = 1) -> None:
    """A contender process: builds the trainer of ``config_path``, traces and warms up, then runs
    blocks of compiled calls as asked on stdin, answering with their wall and CPU seconds.

    ``share`` > 1: every global batch is built and then cut to its first ``1/share`` of rows,
    as worker 0 of ``share`` workers keeps them (:func:`mtlflow.train.sharding.distribute_batches`),
    so the step computes exactly that worker's part, padding included, without a collective."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from mtlflow.config import load_config
    from mtlflow.run import absolute_config
    from mtlflow.train.distribution import is_multi_worker, make_strategy

    path = Path(config_path)
    config = absolute_config(load_config(path), path.parent)
    strategy = make_strategy(config.training.distribution)  # before TensorFlow runs any op
    from mtlflow.data.vocabulary import fit_vocabularies
    from mtlflow.model.build import build_model
    from mtlflow.model.preprocessor import Preprocessor
    from mtlflow.run import Run, read_config_table, read_splits, settle_config_tokenizer
    from mtlflow.tasks import create_task
    from mtlflow.train.sharding import distribute_batches
    from mtlflow.train.trainer import Trainer

    tasks = {spec.name: create_task(spec) for spec in config.tasks}
    table = read_config_table(config, config.data.train)
    config, _ = settle_config_tokenizer(config, table)
    train_split, _, _ = read_splits(config, tasks, None, table)
    vocab = fit_vocabularies(train_split.features, config.inputs)
    preprocessor = Preprocessor(config.inputs, vocab, config.encoder)
    if strategy is not None:
        with strategy.scope():
            model = build_model(config, vocab, tasks)
    else:
        model = build_model(config, vocab, tasks)
    data = Run(path.parent, config, tasks, vocab, model, preprocessor).split_data(train_split)
    trainer = Trainer(model, tasks, config.training, None, strategy=strategy)
    batch, per_call = config.training.batch_size, config.training.steps_per_execution
    batches = data.batches(batch, shuffle_seed=config.training.seed).repeat()
    if share > 1:
        batches = batches.map(lambda *b: tf.nest.map_structure(lambda t: t[: tf.shape(t)[0] // share], b))
    if strategy is not None:
        batches = distribute_batches(strategy, batches, is_multi_worker(strategy))
    iterator = iter(batches)
    calls: list[list[dict]] = []
    if record_traffic:
        record_all_reduces(tf, calls)
    began = time.perf_counter()
    for _ in range(3):  # tracing, then two calls to settle the input pipeline and the collectives
        sums, _ = trainer.train_function(iterator, per_call)
    float(next(iter(sums.values())))
    ready = {"ready": True, "warmup_seconds": round(time.perf_counter() - began, 2),
             "parameters": {v.path: v.shape.as_list() for v in model.trainable_variables}}
    if record_traffic:
        ready["all_reduces"] = calls
        ready["sparse_rows"] = sparse_rows(tf, model, tasks, data, batch // 2)
    elif strategy is None:
        ready["pipeline_ms_per_batch"] = pipeline_cost(data, batch, config.training.seed)
    reply(ready)
    for line in sys.stdin:
        command = json.loads(line)
        if command.get("quit"):
            break
        wall, cpu, steps = time.perf_counter(), time.process_time(), 0
        for _ in range(command["calls"]):
            sums, ran = trainer.train_function(iterator, per_call)
            steps += ran
        float(next(iter(sums.values())))  # the block ends when its last step has run
        reply({"steps": steps, "wall": time.perf_counter() - wall,
               "cpu": time.process_time() - cpu})


def pipeline_cost(data, batch: int, seed: int, count: int = 20) -> dict:
    """Wall and CPU ms per global batch of the input pipeline alone (``SplitData.batches``,
    which every worker runs for every global batch before keeping its slice)."""
    iterator = iter(data.batches(batch, shuffle_seed=seed + 1).repeat())
    next(iterator)
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(count):
        next(iterator)
    return {"wall": round(1e3 * (time.perf_counter() - wall) / count, 3),
            "cpu": round(1e3 * (time.process_time() - cpu) / count, 3)}


def reply(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def record_all_reduces(tf, calls: list) -> None:
    """Notes, while a step is traced, what every all-reduce of replica 0 carries."""
    context = tf.distribute.ReplicaContext
    original = context.all_reduce

    def all_reduce(self, reduce_op, value, *args, **kwargs):
        if getattr(self, "_replica_id_in_sync_group", 0) == 0:
            calls.append([describe(tf, t) for t in tf.nest.flatten(value)])
        return original(self, reduce_op, value, *args, **kwargs)

    context.all_reduce = all_reduce


def describe(tf, value) -> dict:
    if isinstance(value, tf.IndexedSlices):
        return {"sparse": True, "shape": value.values.shape.as_list(), "dtype": value.values.dtype.name}
    return {"sparse": False, "shape": value.shape.as_list(), "dtype": value.dtype.name}


def sparse_rows(tf, model, tasks: dict, data, batch: int) -> dict:
    """For every variable whose gradient is sparse (``IndexedSlices``): the distinct rows one
    worker's batch of ``batch`` examples touches (mean over 20 batches) and the row width."""
    out: dict[str, dict] = {}
    for inputs, labels, masks in data.batches(batch, shuffle_seed=1).take(20):
        with tf.GradientTape() as tape:
            predictions = model(inputs, training=True)
            loss = tf.add_n([tf.reduce_sum(task.per_example_loss(labels[n], predictions[n])
                                           * tf.cast(masks[n], tf.float32)) for n, task in tasks.items()])
        for v, g in zip(model.trainable_variables, tape.gradient(loss, model.trainable_variables)):
            if isinstance(g, tf.IndexedSlices):
                entry = out.setdefault(v.path, {"table": v.shape.as_list(), "rows": [],
                                                "lookups": []})
                entry["rows"].append(int(tf.size(tf.unique(g.indices)[0])))
                entry["lookups"].append(int(tf.size(g.indices)))
    return {k: {"table": e["table"], "rows": statistics.mean(e["rows"]), "lookups": statistics.mean(e["lookups"])}
            for k, e in out.items()}


# ---- one setting: three contenders, interleaved blocks ---------------------------------------
def measure(model: str, batch: int, rounds: int, block_seconds: float, workdir: Path, ballast: bool = True) -> dict:
    make = CONFIGS[model]
    contenders = {
        "one": Contender("one", make(batch, False), workdir, [0]),
        "half": Contender("half", make(batch, False), workdir, [0], share=2),
        "pair": Contender("pair", make(batch, False), workdir, [0, 1], share=2),
        "two": Contender("two", make(batch, True), workdir, [0, 1], record_traffic=True, cluster=True),
    }
    spinner = Ballast(core=1) if ballast and shutil.which("taskset") else None
    try:
        readies = {name: c.ready() for name, c in contenders.items()}
        calls = {}
        for name, c in contenders.items():  # calibrate: calls per block of about block_seconds
            with spinner.running(name in ("one", "half")) if spinner else contextlib.nullcontext():
                probe = c.run(1)
            calls[name] = max(1, round(block_seconds / max(probe["wall"], 1e-3)))
        blocks = {name: [] for name in contenders}
        for r in range(rounds):
            order = list(contenders) if r % 2 == 0 else list(reversed(contenders))
            for name in order:
                load = os.getloadavg()[0]
                with spinner.running(name in ("one", "half")) if spinner else contextlib.nullcontext():
                    result = contenders[name].run(calls[name])
                result.update(round=r, load=round(load, 2))
                blocks[name].append(result)
    finally:
        for c in contenders.values():
            c.close()
        if spinner:
            spinner.close()
    (CACHE / "scaling").mkdir(parents=True, exist_ok=True)
    (CACHE / "scaling" / f"{model}-{batch}.json").write_text(json.dumps({"readies": readies, "blocks": blocks}))
    result = summarise(model, batch, readies, blocks)
    result["ballast"] = spinner is not None
    return result


class Ballast:
    """A process spinning on ``core`` while a one-core contender runs, stopped otherwise.

    On a machine shared with other work, the scheduler crowds the other processes onto the
    core a pinned contender leaves idle, so one worker on one core gets that core nearly to
    itself while two workers share both cores with everything else (measured here at load
    ≈ 9: one process ran at 97 % of its core, two independent processes on both cores at
    10–30 %). Keeping the other core busy during the one-core blocks makes other processes
    share the cores the same way in every configuration; on an idle machine it changes nothing.
    """

    def __init__(self, core: int):
        self.process = subprocess.Popen(["taskset", "-c", str(core), sys.executable, "-c", "while True: pass"])
        os.kill(self.process.pid, signal.SIGSTOP)

    @contextlib.contextmanager
    def running(self, on: bool):
        if on:
            os.kill(self.process.pid, signal.SIGCONT)
        try:
            yield
        finally:
            if on:
                os.kill(self.process.pid, signal.SIGSTOP)

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


def per_step(blocks: list[dict], key: str) -> float:
    return statistics.median(b[key] / b["steps"] for b in blocks)


def summarise(model: str, batch: int, readies: dict, blocks: dict) -> dict:
    """Per-step medians and the efficiency, factored as

    ``one / (2 two) = [one / (2 half)] × [half / pair] × [pair / two]`` (wall time per step):
    what halving the batch costs, what running two cores at once costs on this machine, and
    what the all-reduces and the wait for the slower worker cost (communication = two − pair).
    """
    wall = {n: per_step(b, "wall") for n, b in blocks.items()}
    cpu = {n: per_step(b, "cpu") for n, b in blocks.items()}
    best = {n: min(x["wall"] / x["steps"] for x in b) for n, b in blocks.items()}
    paired = sorted(blocks["one"][r]["wall"] / blocks["one"][r]["steps"]
                    / (2 * blocks["two"][r]["wall"] / blocks["two"][r]["steps"]) for r in range(len(blocks["one"])))
    communication = wall["two"] - wall["pair"]
    return {
        "setting": f"{model}-{batch}", "model": model, "global_batch": batch,
        "examples_per_second": {"one": round(batch / wall["one"], 1), "two": round(batch / wall["two"], 1)},
        "wall_ms_per_step": {n: round(1e3 * w, 3) for n, w in wall.items()},
        "cpu_ms_per_step": {n: round(1e3 * c, 3) for n, c in cpu.items()},
        "best_block_wall_ms_per_step": {n: round(1e3 * w, 3) for n, w in best.items()},
        "efficiency": round(wall["one"] / (2 * wall["two"]), 3),
        "efficiency_per_round": [round(p, 3) for p in paired],
        "efficiency_best_blocks": round(best["one"] / (2 * best["two"]), 3),
        "cpu_efficiency": round(cpu["one"] / cpu["two"], 3),
        "factors": {"halving": round(wall["one"] / (2 * wall["half"]), 3),
                    "two_cores_at_once": round(wall["half"] / wall["pair"], 3),
                    "communication": round(wall["pair"] / wall["two"], 3)},
        "compute_ms": round(1e3 * wall["pair"], 3),
        "communication_ms": round(1e3 * communication, 3),
        "compute_to_communication": round(wall["pair"] / communication, 2) if communication > 0 else None,
        "all_reduce": all_reduce_traffic(readies["two"][0]),
        "parameters": sum(_size(s) for s in readies["one"][0]["parameters"].values()),
        "input_pipeline_ms_per_global_batch": readies["one"][0].get("pipeline_ms_per_batch"),
        "warmup_seconds": {n: [r["warmup_seconds"] for r in rs] for n, rs in readies.items()},
        "load": [b["load"] for bs in blocks.values() for b in bs],
        "blocks": blocks,
    }


def _size(shape: list[int]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def all_reduce_traffic(ready: dict) -> dict:
    """Bytes one worker hands to the all-reduces of one ordinary step (per the traced step),
    and what the sparse gradients would be as rows."""
    width = {"float32": 4, "float64": 8, "int32": 4, "int64": 8, "float16": 2, "bfloat16": 2}
    shapes = list(ready["parameters"].values())
    calls = [[dict(t, shape=shapes[i]) if None in t["shape"] and len(c) == len(shapes) else t
              for i, t in enumerate(c)] for c in ready["all_reduces"]]  # densified rows: the table's shape
    dense = sum(_size(t["shape"]) * width[t["dtype"]] for c in calls for t in c if not t["sparse"])
    sparse_tensors = sum(1 for c in calls for t in c if t["sparse"])
    tables = ready.get("sparse_rows", {})
    densified = sum(_size(e["table"]) * 4 for e in tables.values())
    as_rows = sum(e["rows"] * (_size(e["table"][1:]) * 4 + 8) for e in tables.values())
    as_lookups = sum(e["lookups"] * (_size(e["table"][1:]) * 4 + 8) for e in tables.values())
    return {"collectives": len(calls), "tensors": sum(len(c) for c in calls), "bytes": dense,
            "sparse_tensors": sparse_tensors, "embedding_tables": tables,
            "embedding_bytes_dense": densified, "embedding_bytes_as_distinct_rows": round(as_rows),
            "embedding_bytes_as_lookups": round(as_lookups)}


# ---- report ------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--settings", nargs="+", default=None, help=f"default: {' '.join(DEFAULT_SETTINGS)}")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--block-seconds", type=float, default=3.0)
    parser.add_argument("--quick", action="store_true", help="2 rounds of 1-second blocks, text-256 only")
    parser.add_argument("--no-ballast", action="store_true",
                        help="leave core 1 idle during the one-core contenders' blocks (see Ballast)")
    parser.add_argument("--write", action="store_true", help="write the results even for chosen settings")
    parser.add_argument("--render", action="store_true",
                        help="rewrite BENCHMARKS.md's section from benchmarks/results/scaling.json, running nothing")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--traffic", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--share", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.traffic, args.share)
        return 0
    if args.render:
        report = json.loads(RESULT.read_text("utf-8"))
        save(report, markdown(report), None, ROOT / "BENCHMARKS.md", SECTION)
        return 0
    settings = args.settings or (["text-256"] if args.quick else DEFAULT_SETTINGS)
    rounds, block = (2, 1.0) if args.quick else (args.rounds, args.block_seconds)
    if not CENSUS_RAW.is_file():
        skipped = [s for s in settings if s.startswith("census")]
        settings = [s for s in settings if s not in skipped]
        if skipped:
            print(f"{CENSUS_RAW} not found: skipping {', '.join(skipped)}", file=sys.stderr)
    load_before = os.getloadavg()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for setting in settings:
            model, batch = setting.rsplit("-", 1)
            result = measure(model, int(batch), rounds, block, Path(tmp), ballast=not args.no_ballast)
            results.append(result)
            print(json.dumps({k: v for k, v in result.items() if k != "blocks"}), flush=True)
    load_after = os.getloadavg()
    command = "python benchmarks/scaling.py " + " ".join(sys.argv[1:])
    report = {"benchmark": "scaling", "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "command": command.strip(), "machine": machine(), "load_average_before": load_before,
              "load_average_after": load_after, "rounds": rounds, "block_seconds": block,
              "models": DESCRIPTIONS, "results": results}
    write = args.write or (args.settings is None and not args.quick)
    save(report, markdown(report), RESULT if write else None, ROOT / "BENCHMARKS.md" if write else None, SECTION)
    return 0


def markdown(report: dict) -> str:
    results = report["results"]
    loads = [x for r in results for x in r["load"]]
    lines = [
        SECTION, "",
        "One worker pinned to one core (`taskset -c 0`) against two `multi_worker` workers on 127.0.0.1 pinned to "
        "cores 0 and 1 (`TF_CONFIG`, `communication: ring`), the same global batch; every process runs "
        "TensorFlow with one intra-op and one inter-op thread; " + (
            "while a one-core contender runs, a spinning process at the same niceness keeps core 1 busy, so "
            "that other processes on this shared machine crowd no idle core and share the cores the same way "
            "in every configuration. " if all(r.get("ballast") for r in results) else
            "core 1 is left idle while a one-core contender runs (`--no-ballast`), so on a loaded machine the "
            "other processes crowd onto it and the one-core contender gets its core nearly to itself. ")
        + "Two more contenders take the collective out: "
        "`half`, one process on core 0 computing exactly worker 0's half of every global batch (padding "
        "included) with no strategy, and `pair`, two such processes at once on cores 0 and 1. Each contender "
        "is the project's trainer (`Trainer.train_function` on `SplitData.batches`, across workers "
        "`distribute_batches`); after tracing and warm-up the contenders take turns in blocks of about "
        f"{report['block_seconds']:g} s, in the order one, half, pair, two and reversed every other round "
        f"(ABBA, {report['rounds']} rounds), and each number is the median per step over the blocks. "
        "Efficiency = throughput(two) / (2 × throughput(one)); CPU efficiency = CPU seconds per step of one / "
        "of both workers together. Efficiency = halving × two cores at once × communication, where halving = "
        "one / (2 × half) (a half batch is less work per example), two cores at once = half / pair (what "
        "running both cores costs on this machine) and communication = pair / two (the all-reduces and the "
        "wait for the slower worker; two − pair per step, in ms). Bytes: what one worker hands to the "
        "all-reduces of one step, recorded while the step is traced.", "",
        "```", report["command"], "```", "",
        f"Run of {report['date']}: {report['machine']}; load average {report['load_average_before'][0]:.2f} "
        f"before, {report['load_average_after'][0]:.2f} after, {min(loads):.1f}–{max(loads):.1f} at the blocks "
        "(the machine is shared with other work: the load is other processes, and two synchronous workers "
        "suffer more from it than one, since every step waits for whichever worker was descheduled). "
        f"Share of a core (median CPU time / wall time over the blocks): {core_share(results, ('one', 'half')):.0%} "
        f"for the one-core contenders, {core_share(results, ('pair', 'two')):.0%} for each process of the two-core "
        "ones: at this load the wall-clock ratios compare the shares the scheduler hands out as much as the "
        "step itself, and CPU efficiency is the number that carries over to a machine whose cores are free. "
        "Per-block numbers: `benchmarks/results/scaling.json`.", "",
        "| setting | examples/s, one / two | efficiency (per round; best blocks) | CPU efficiency "
        "| halving × two cores × communication | ms/step one / half / pair / two | compute : communication "
        "| bytes all-reduced per step |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        w, e, f = r["wall_ms_per_step"], r["efficiency_per_round"], r["factors"]
        ratio = f"{r['compute_to_communication']:.1f}" if r["compute_to_communication"] is not None else "–"
        lines.append(
            f"| {r['setting']} | {r['examples_per_second']['one']:,.0f} / {r['examples_per_second']['two']:,.0f} | "
            f"{r['efficiency']:.2f} ({min(e):.2f}–{max(e):.2f}; {r['efficiency_best_blocks']:.2f}) | "
            f"**{r['cpu_efficiency']:.2f}** | {f['halving']:.2f} × {f['two_cores_at_once']:.2f} × "
            f"{f['communication']:.2f} | {w['one']:.1f} / {w['half']:.1f} / {w['pair']:.1f} / {w['two']:.1f} | "
            f"{ratio} | {kb(r['all_reduce']['bytes'])} in {r['all_reduce']['collectives']} all-reduces |")
    lines += ["", "Models: " + "; ".join(f"`{k}`: {v}" for k, v in report["models"].items()
                                         if any(r["model"] == k for r in results)) + ".", ""]
    lines += [headline(results, report.get("without_ballast")), "", findings(results), ""]
    if "without_ballast" in report:
        lines += without_ballast(report["without_ballast"])
    return "\n".join(lines)


def core_share(results: list[dict], names: tuple[str, ...]) -> float:
    """Median over the blocks of ``names`` of CPU time / (processes × wall time)."""
    return statistics.median(b["cpu"] / (len(b["cpu_per_process"]) * b["wall"])
                             for r in results for n in names for b in r["blocks"][n])


def headline(results: list[dict], earlier: dict | None) -> str:
    """What the run shows, led by CPU efficiency: the one number this shared machine measures
    the same way however the scheduler hands out the cores."""
    def cpu(rows):
        return ", ".join(f"`{r['setting']}` {r['cpu_efficiency']:.2f}" for r in rows)

    def wall(rows):
        return ", ".join(f"`{r['setting']}` {r['efficiency']:.2f}" for r in rows)

    text = ("**Headline.** CPU efficiency (CPU seconds per step of one worker / of both workers together): "
            + cpu(results))
    if earlier:
        text += " (without the spinning process: " + cpu(earlier["results"]) + ")"
    text += (". Wall-clock efficiency at this load says more about how the scheduler shared the cores than "
             "about the step: " + wall(results))
    if earlier:
        text += " with core 1 kept busy in the one-core blocks, " + wall(earlier["results"]) + " without"
    return text + ("; read it only from a run on a quiet machine, whose cores are free (the wall and CPU "
                   "numbers then agree).")


def without_ballast(earlier: dict) -> list[str]:
    """The same benchmark with core 1 left idle in the one-core blocks (``--no-ballast``)."""
    rows = earlier["results"]
    loads = [x for r in rows for x in r["load"]]
    single, double = core_share(rows, ("one", "half")), core_share(rows, ("pair", "two"))
    lines = [f"Without the spinning process (`{earlier['command']}`, run of {earlier['date']}, load "
             f"{min(loads):.1f}–{max(loads):.1f} at the blocks), the one-core contenders got {single:.0%} of their "
             f"core (median CPU time / wall time over their blocks), each process of a two-core contender "
             f"{double:.0%}:", "",
             "| setting | efficiency (per round) | CPU efficiency | halving × two cores × communication "
             "| ms/step one / half / pair / two | CPU ms/step one / half / pair / two |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        w, c, e, f = r["wall_ms_per_step"], r["cpu_ms_per_step"], r["efficiency_per_round"], r["factors"]
        lines.append(f"| {r['setting']} | {r['efficiency']:.2f} ({min(e):.2f}–{max(e):.2f}) | "
                     f"{r['cpu_efficiency']:.2f} | {f['halving']:.2f} × {f['two_cores_at_once']:.2f} × "
                     f"{f['communication']:.2f} | {w['one']:.1f} / {w['half']:.1f} / {w['pair']:.1f} / "
                     f"{w['two']:.1f} | {c['one']:.1f} / {c['half']:.1f} / {c['pair']:.1f} / {c['two']:.1f} |")
    return lines + [""]


def findings(results: list[dict]) -> str:
    """What the numbers say: compute against communication, and what the all-reduce carries."""
    parts = []
    for r in results:
        t, c = r["all_reduce"], r["cpu_ms_per_step"]
        compute, communication = c["pair"] / 2, (c["two"] - c["pair"]) / 2
        parts.append(
            f"`{r['setting']}`: per worker and step, {compute:.1f} ms of CPU computing its half (`pair`) and "
            f"{communication:.1f} ms more as a worker of `two` (compute : communication "
            f"{compute / communication:.1f} in CPU time) for {kb(t['bytes'])} in {t['collectives']} all-reduces; "
            f"halving the batch costs {2 * c['half'] / c['one']:.2f}× the CPU per example"
            + (f"; the input pipeline alone, which every worker runs for every global batch before keeping its "
               f"half, {r['input_pipeline_ms_per_global_batch']['cpu']:.1f} ms of CPU per global batch"
               if r.get("input_pipeline_ms_per_global_batch") else ""))
    tables = [(r["setting"], name, e, r["all_reduce"]) for r in results
              for name, e in r["all_reduce"]["embedding_tables"].items()]
    embedding = "; ".join(
        f"`{s}` {name.split('/')[-2]} {e['table'][0]:,} × {e['table'][1]}: {kb(t['embedding_bytes_dense'])} "
        f"dense, {e['rows']:,.0f} distinct rows per worker batch ({kb(t['embedding_bytes_as_distinct_rows'])} "
        f"as rows with their indices, {kb(t['embedding_bytes_as_lookups'])} as the raw per-lookup slices)"
        for s, name, e, t in tables)
    walls = "; ".join(
        f"`{r['setting']}` {r['efficiency']:.2f}, of which two cores at once {r['factors']['two_cores_at_once']:.2f} "
        f"and halving × communication {r['factors']['halving'] * r['factors']['communication']:.2f}"
        for r in results)
    return ("**Findings.** Wall-clock efficiency: " + walls + ". `pair`, two processes with no collective at all, "
            "shows what this machine gives two pinned processes at once at the measured load; where two cores "
            "at once is far below 1 the loss is the machine's, not the all-reduce's, and where communication "
            "is above 1 the medians are load noise (`two` and `pair` ran in different blocks). Wall-clock medians "
            "move with other processes' load, so the split into compute and communication is read from CPU "
            "time, which moves far less: " + "; ".join(parts) + ". **Embedding gradients.** "
            + (embedding or "none") + ". "
            "Tables up to `DENSE_ALL_REDUCE_LIMIT` (1M elements) travel dense inside the one gradient pack: "
            "at these sizes a batch touches most rows, so rows would save little, and a collective of their "
            "own costs a round trip. Larger tables across workers travel as the union of the rows the workers "
            "touched (`train/replica_gradients.py`): 4 bytes per table row for the marks plus the touched rows.")


def kb(n: float) -> str:
    return f"{n / 1e3:,.1f} KB" if n < 1e6 else f"{n / 1e6:,.2f} MB"


if __name__ == "__main__":
    sys.exit(main())
