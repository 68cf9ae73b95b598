#!/usr/bin/env python3
"""Pictures of an `rnnattn train --json` run, as PNG files.

usage: tools/plot.py RUN.json [OUT_DIR] [--run N]

Writes into OUT_DIR (default: beside RUN.json):
  loss.png        the training loss (and the validation loss, when the run had one) per epoch,
                  one pair of curves per run, log scale; for a classifier (--loss bce) also the
                  validation accuracy per epoch, when the run had a validation set
  predictions.png a series: the predictions against the truth on the test part, in original
                  units, one line per model (its first run), x labelled by the target's row;
                  a binary classifier: the predicted probability of each test sequence by its
                  true class, one panel per model, with the 0.5 threshold and the test accuracy;
                  a softmax over K classes (--loss cce): the test confusion matrix, one panel
                  per model, each true class's row as fractions, with the counts
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


def save(fig, out_dir, name, what):
    path = os.path.join(out_dir, name)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}: {what}")


def is_classifier(doc):
    return doc.get("task") == "classification" or doc["config"].get("loss") in ("bce", "cce")


def first_run_per_model(doc):
    runs, seen = [], set()
    for run in doc["runs"]:
        if run["model"] not in seen:
            seen.add(run["model"])
            runs.append(run)
    return runs


def plot_loss(doc, out_dir):
    classify = is_classifier(doc)
    with_accuracy = classify and any("val_accuracy" in h for r in doc["runs"]
                                     for h in r.get("history", []))
    if with_accuracy:
        fig, (ax, acc) = plt.subplots(1, 2, figsize=(11, 4))
    else:
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
        if with_accuracy:
            acc.plot(epochs, [h.get("val_accuracy") for h in hist], color=line.get_color(),
                     label=label)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    # A classifier's loss is a cross-entropy on its labels: no scaling involved.
    loss = doc["config"]["loss"]
    ax.set_ylabel(f"loss ({loss})" if classify else f"loss ({loss}, scaled units)")
    if with_accuracy:
        acc.set_xlabel("epoch")
        acc.set_ylabel("validation accuracy")
        if doc["config"]["loss"] == "bce":
            acc.axhline(0.5, color="grey", linewidth=0.8, linestyle=":")
        acc.set_title("validation accuracy per epoch")
        acc.legend(fontsize=7)
    ax.set_title(f'training history: {os.path.basename(doc["data"])}')
    ax.legend(fontsize=7)
    save(fig, out_dir, "loss.png",
         "loss per epoch" + (" and validation accuracy per epoch" if with_accuracy else ""))


def plot_probabilities(doc, out_dir):
    """A classifier: the predicted probability of each test sequence, split by its true class."""
    truth = doc["test"]["target"]
    runs = first_run_per_model(doc)
    fig, axes = plt.subplots(1, len(runs), figsize=(4.5 * len(runs), 3.8), squeeze=False)
    bins = [i / 20 for i in range(21)]
    for ax, run in zip(axes[0], runs):
        p = run["test_predictions"]
        for cls, colour in ((0, "tab:blue"), (1, "tab:orange")):
            ax.hist([q for q, t in zip(p, truth) if round(t) == cls], bins=bins, alpha=0.6,
                    color=colour, label=f"true class {cls}")
        ax.axvline(0.5, color="black", linewidth=0.8, linestyle="--")
        ax.set_xlabel("predicted probability of class 1")
        ax.set_ylabel("test sequences")
        ax.set_title(f'{run["model"]} (seed {run["seed"]}): test accuracy '
                     f'{run.get("test_accuracy", float("nan")):.3f}', fontsize=9)
        ax.legend(fontsize=7)
    save(fig, out_dir, "predictions.png", "predicted probability by true class")


def plot_confusion(doc, out_dir):
    """A softmax over K classes: each model's test confusion matrix, rows the true class as
    fractions of it, each cell with its count."""
    runs = [r for r in first_run_per_model(doc) if "confusion" in r]
    fig, axes = plt.subplots(1, len(runs), figsize=(4.8 * len(runs), 4.4), squeeze=False)
    for ax, run in zip(axes[0], runs):
        cm = run["confusion"]
        names, matrix = cm["classes"], cm["matrix"]
        fractions = [[n / max(1, sum(row)) for n in row] for row in matrix]
        ax.imshow(fractions, cmap="Blues", vmin=0.0, vmax=1.0)
        for t, row in enumerate(matrix):
            for p, n in enumerate(row):
                ax.text(p, t, str(n), ha="center", va="center", fontsize=8,
                        color="white" if fractions[t][p] > 0.5 else "black")
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=45, fontsize=7)
        ax.set_yticks(range(len(names)))
        ax.set_yticklabels(names, fontsize=7)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        ax.set_title(f'{run["model"]} (seed {run["seed"]}): test accuracy '
                     f'{run.get("test_accuracy", float("nan")):.3f}, macro F1 '
                     f'{cm.get("macro_f1") or float("nan"):.3f}', fontsize=9)
    save(fig, out_dir, "predictions.png", "test confusion matrix per model")


def plot_predictions(doc, out_dir):
    if is_classifier(doc):
        if doc["config"].get("loss") == "cce":
            plot_confusion(doc, out_dir)
        else:
            plot_probabilities(doc, out_dir)
        return
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
    save(fig, out_dir, "predictions.png", "predictions against the truth")


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
    save(fig, out_dir, "attention.png", "attention weights")


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
