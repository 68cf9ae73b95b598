#!/usr/bin/env python3
"""Keras peer of rnnattn's notebook benchmark: the IMDB notebook's model as the notebook writes it,
in Keras 3 on TensorFlow's CPU backend, timed per training step at rnnattn_bench's shape.

    Embedding(10000, 100) -> Bidirectional(LSTM(256, return_sequences=True))
    -> Attention()([h, h]) -> reduce_sum(attention * h, axis=1) -> Dropout(0.5)
    -> Dense(1, sigmoid);  Adam(1e-3), binary cross-entropy

at B128 T200 on token ids drawn as bench_torch.py draws them (Zipf-like, zero past each sequence's
length). The notebook pads without a mask (its padding is read as tokens), and so does this model:
its recurrence and attention run over all T steps, as the recurrences of rnnattn's and PyTorch's
rows do (their attention leaves the padding out).

Writes Google Benchmark-style JSON: train_step_embedding/keras_cpu/notebook/dot-lstm/manual_time,
the mean of train_on_batch calls after warm-up (the first compiles the step).
Usage: bench/bench_keras.py OUT.json [--threads N] [--inter-op M]
  (TensorFlow's intra-op threads N, and inter-op threads M, by default N)
TensorFlow comes from PyPI (tensorflow-cpu); it is never a dependency of the C++ library.
"""
import argparse
import json
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--threads", type=int, default=1, help="TensorFlow's intra-op threads")
    ap.add_argument("--inter-op", type=int, default=0,
                    help="TensorFlow's inter-op threads (default: --threads; the two directions "
                         "of the bidirectional layer can run side by side)")
    ap.add_argument("--min-seconds", type=float, default=20.0)
    a = ap.parse_args()

    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(a.threads)
    tf.config.threading.set_inter_op_parallelism_threads(a.inter_op or a.threads)
    import keras
    from keras import layers, ops

    B, T, D, H, V = 128, 200, 100, 256, 10000
    rng = np.random.default_rng(1)
    lengths = np.array([T // 4 + (b * 37) % (T - T // 4 + 1) for b in range(B)])
    valid = np.arange(T)[None, :] < lengths[:, None]
    ids = (np.minimum(1 + np.floor((V - 1.0) ** rng.random((B, T))), V - 1) * valid).astype("int32")
    y = (rng.random((B, 1)) > 0.5).astype("float32")

    tokens = keras.Input(shape=(T,), dtype="int32")
    h = layers.Bidirectional(layers.LSTM(H, return_sequences=True))(layers.Embedding(V, D)(tokens))
    context = ops.sum(layers.Attention()([h, h]) * h, axis=1)
    out = layers.Dense(1, activation="sigmoid")(layers.Dropout(0.5)(context))
    model = keras.Model(tokens, out)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")

    model.train_on_batch(ids, y)  # warm-up: traces and compiles the step
    times = []
    start = time.perf_counter()
    while len(times) < 3 or time.perf_counter() - start < a.min_seconds:
        t0 = time.perf_counter()
        model.train_on_batch(ids, y)
        times.append((time.perf_counter() - t0) * 1e6)
    us = sum(times) / len(times)
    name = "train_step_embedding/keras_cpu/notebook/dot-lstm/manual_time"
    print(f"{name}: {us:.1f} us ({len(times)} iterations; TensorFlow {tf.__version__}, "
          f"Keras {keras.__version__}, {a.threads} thread(s))")
    result = {"context": {"tensorflow": tf.__version__, "keras": keras.__version__,
                          "threads": a.threads},
              "benchmarks": [{"name": name, "real_time": us, "time_unit": "us",
                              "iterations": len(times)}]}
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
