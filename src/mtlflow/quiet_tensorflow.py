"""TensorFlow's start-up lines filtered out of stderr, every other line passed through.

TensorFlow's C++ runtime writes to file descriptor 2 directly (``I0000 … port.cc:153]
oneDNN custom operations are on …``, ``E0000 … oneDNN supports DT_BOOL only on platforms with
AVX-512``, CUDA probing on a machine without a GPU): lines that read as errors and are not.
:func:`filtered_stderr` points descriptor 2 at a pipe for the duration of a command; a thread
copies each line to the real stderr unless it matches one of :data:`KNOWN_NOISE`. Nothing else
is dropped, so a real native error (a failed op, a crash report) still shows.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading

# (source file of the log line or "", a fragment of its text): TensorFlow/XLA start-up lines
# that say nothing about the user's run on a CPU-only machine.
KNOWN_NOISE: tuple[tuple[str, str], ...] = (
    ("", "All log messages before absl::InitializeLog() is called are written to STDERR"),
    ("port.cc", "oneDNN custom operations are on"),
    ("", "oneDNN supports DT_BOOL only on platforms with AVX-512"),
    ("cpu_feature_guard.cc", "This TensorFlow binary is optimized to use available CPU instructions"),
    ("", "To enable the following instructions"),
    ("cudart_stub.cc", "Could not find cuda drivers on your machine"),
    ("cuda_platform.cc", "failed call to cuInit"),
    ("cuda_executor.cc", "failed call to cuInit"),
    ("cuda_diagnostics.cc", ""),
    ("", "Unable to register cuDNN factory"),
    ("", "Unable to register cuFFT factory"),
    ("", "Unable to register cuBLAS factory"),
    ("computation_placer.cc", "already registered"),
    ("", "TF-TRT Warning: Could not find TensorRT"),
)
_NATIVE = re.compile(r"^[IWEF]\d{4} [\d:.]+\s+\d+ ([\w.]+):\d+\] ")


def is_noise(line: str) -> bool:
    """Whether ``line`` (one stderr line) is a known TensorFlow start-up line."""
    match = _NATIVE.match(line)
    source = match.group(1) if match else ""
    for file, fragment in KNOWN_NOISE:
        if file and file != source:
            continue
        if fragment in line:
            return True
    return False


@contextlib.contextmanager
def filtered_stderr():
    """Within the block, descriptor 2 goes through :func:`is_noise`; on exit every line is flushed."""
    try:
        original = os.dup(2)
    except OSError:  # no descriptor 2 (embedded interpreters): nothing to filter
        yield
        return
    read_end, write_end = os.pipe()
    sys.stderr.flush()
    os.dup2(write_end, 2)
    os.close(write_end)

    def copy() -> None:
        with os.fdopen(read_end, "rb") as source:
            for raw in source:
                if not is_noise(raw.decode("utf-8", "replace")):
                    os.write(original, raw)

    thread = threading.Thread(target=copy, name="mtlflow-stderr-filter", daemon=True)
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(original, 2)  # closes the pipe's last write end: the thread reads to the end
        thread.join(timeout=5)
        os.close(original)


def import_tensorflow() -> None:
    """Imports TensorFlow and Keras and probes the devices once (its start-up lines, filtered)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras  # noqa: F401
    import tensorflow as tf

    tf.config.list_physical_devices()
