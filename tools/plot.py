#!/usr/bin/env python3
"""Pictures of an `rnnattn train --json` run, as PNG files.

usage: tools/plot.py RUN.json [OUT_DIR] [--run N]

Writes into OUT_DIR (default: beside RUN.json):
  loss.png        the training loss (and the validation loss, when the run had one) per epoch,
                  one pair of curves per run, log scale
  predictions.png the predictions against the truth on the test part, in original units, one line
                  per model (its first run), x labelled by the target's row (YEAR, ...)
  attention.png   the attention weights of run N (default: the first attention run) as a heatmap,
                  test windows x steps (absent when no attention run is in the file)
Needs matplotlib (tools/build.sh installs it when missing).
"""
import argparse
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")  # files only: no display needed
import matplotlib.pyplot as plt  # noqa: E402


def load(path):
    with open(path) as f:
        doc = json.load(f)
    if "runs" not in doc or "test" not in doc:
        sys.exit(f"plot.py: {path} is not an 'rnnattn train --json' file (no runs or test part)")
    return doc


def save(fig, out_dir, name):
    path = os.path.join(out_dir, name)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")


def plot_loss(doc, out_dir):
    fig, ax = plt.subplots(figsize=(7, 4))
    for run in doc["runs"]:
        hist = run.get("history", [])
        epochs = [h["epoch"] for h in hist]
        label = f'{run["model"]} seed {run["seed"]}'
        line, = ax.plot(epochs, [h["loss"] for h in hist], label=f"{label} loss")
        if any("val_loss" in h for h in hist):
            ax.plot(epochs, [h.get("val_loss") for h in hist], linestyle="--", color=line.get_color(),
                    label=f"{label} val_loss")
        if run.get("best_epoch") and run["best_epoch"] < len(hist):
            ax.axvline(run["best_epoch"], color=line.get_color(), linewidth=0.8, alpha=0.5)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(f'loss ({doc["config"]["loss"]}, scaled units)')
    ax.set_title(f'training history: {os.path.basename(doc["data"])}')
    ax.legend(fontsize=7)
    save(fig, out_dir, "loss.png")


def plot_predictions(doc, out_dir):
    test = doc["test"]
    labels = test["labels"]
    x = list(range(len(labels)))
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.plot(x, test["target"], color="black", linewidth=1.5, label="truth")
    seen = set()
    for run in doc["runs"]:
        if run["model"] in seen:
            continue
        seen.add(run["model"])
        ax.plot(x, run["test_predictions"], linewidth=1.0,
                label=f'{run["model"]} (seed {run["seed"]}, test RMSE {run["test_rmse"]:.3g})')
    step = max(1, len(x) // 10)
    ax.set_xticks(x[::step])
    ax.set_xticklabels(labels[::step], rotation=45, fontsize=7)
    ax.set_xlabel(test["label_name"])
    ax.set_ylabel(doc.get("column") or "value")
    ax.set_title(f'test part of {os.path.basename(doc["data"])}: predictions against the truth')
    ax.legend(fontsize=7)
    save(fig, out_dir, "predictions.png")


def plot_attention(doc, out_dir, run_index):
    runs = doc["runs"]
    if run_index is None:
        run_index = next((i for i, r in enumerate(runs) if "test_attention" in r), None)
    if run_index is None:
        print("no attention run in the file: attention.png not drawn")
        return
    run = runs[run_index]
    if "test_attention" not in run:
        sys.exit(f"plot.py: run {run_index} ({run['model']}) has no attention weights")
    weights = run["test_attention"]
    fig, ax = plt.subplots(figsize=(7, 6))
    im = ax.imshow(weights, aspect="auto", cmap="viridis", interpolation="nearest")
    steps = len(weights[0])
    ax.set_xlabel(f"step t of the window (1 = oldest, {steps} = latest)")
    ax.set_xticks(range(0, steps, max(1, steps // 10)))
    ax.set_xticklabels([str(t + 1) for t in range(0, steps, max(1, steps // 10))])
    labels = doc["test"]["labels"]
    rows = list(range(0, len(weights), max(1, len(weights) // 12)))
    ax.set_yticks(rows)
    ax.set_yticklabels([labels[r] for r in rows], fontsize=7)
    ax.set_ylabel(f'test window (its target\'s {doc["test"]["label_name"]})')
    ax.set_title(f'attention weights a_t, {run["model"]} seed {run["seed"]}')
    fig.colorbar(im, ax=ax, label="a_t")
    save(fig, out_dir, "attention.png")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("json")
    p.add_argument("out_dir", nargs="?")
    p.add_argument("--run", type=int, default=None, help="the run whose attention is drawn")
    a = p.parse_args()
    doc = load(a.json)
    out_dir = a.out_dir or os.path.dirname(os.path.abspath(a.json))
    os.makedirs(out_dir, exist_ok=True)
    plot_loss(doc, out_dir)
    plot_predictions(doc, out_dir)
    plot_attention(doc, out_dir, a.run)


if __name__ == "__main__":
    main()
