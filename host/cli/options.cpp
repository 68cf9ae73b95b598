// The option table of every rnnattn command and the help texts generated from it.
#include "cli/options.hpp"

#include <iterator>
#include <sstream>

namespace rnnattn::cli {

namespace {

constexpr unsigned kRuns = kTrain | kPredict | kForecast;  // the commands that run a model
constexpr OnResume kModel = OnResume::kFromCheckpoint;
constexpr OnResume kRecord = OnResume::kFromRecord;
constexpr AppliesTo kForTexts = AppliesTo::kTexts;
constexpr AppliesTo kForSeries = AppliesTo::kSeries;

// What each command's help says before its options and after them.
struct CommandText {
  Command command;
  const char* name;
  const char* intro;   // the usage lines and what the command does
  const char* footer;  // closing notes ("" for none)
};

const CommandText kTexts[] = {
    {kTrain, "train",
     R"(usage: rnnattn train [options]

Train an Elman RNN (tanh) with additive attention, or the plain RNN, and report train and test MSE
(accuracy for classification: --loss bce or cce).
)",
     R"(
MSE is reported in scaled units ([0, 1] over the scaling data), RMSE in the data's original units.
With --loss bce the targets are 0/1 labels, and accuracy (prediction >= 0.5) is reported; with
--loss cce (a text file of more than two labels chooses it) a softmax over the K classes, and
accuracy (the most probable class). A single run prints the test confusion matrix and each class's
precision, recall and F1; --json holds them for every run.
)"},
    {kPredict, "predict",
     R"(usage: rnnattn predict --model FILE --data fib|FILE.csv [options]
       rnnattn predict --model FILE --text "TEXT" | --data FILE.csv   (a model trained on texts)

Print the model's predictions for the test part of the data, in original units and at the data's
precision, each labelled by its target's row (the YEAR, DATE or TIME column, else the line), and
the test MSE and RMSE; for a classifier (--loss bce or cce), the predicted probabilities, the
accuracy, the confusion matrix and each class's precision, recall and F1. The data is read as the
model's training data was (its columns, scalings, differences and missing-value policy; for
sentiment, its sizes).
)",
     ""},
    {kForecast, "forecast",
     R"(usage: rnnattn forecast --model FILE --data fib|FILE.csv --horizon N [options]

Forecast N steps past the end of the series: the model predicts the next value from the last T,
which is then fed back as an input for the step after, and so on (a model of differences predicts
changes, summed onto the last value). Each step is printed with its label and its value in
original units at the data's precision. Labels continue: dates (YYYY-MM-DD, YYYYMMDD, YYYY-MM) by
the series' own calendar step when its last intervals are regular, numbers (a YEAR) by their
last step, anything else as +k after the last row.
)",
     ""},
    {kProfile, "profile",
     R"(usage: rnnattn profile --batch B --steps T --input D --hidden H [options]

Run one pass of the CUDA backend on random data (after one unrecorded warm-up pass) and print, per
kernel, its launches and: on a GPU, the time from CUDA events (cuBLAS GEMMs included, as
cublasSgemm); in the GPU simulator build, the memory counters as global load and store efficiency
(bytes asked for / (sectors x 32); above 1 when lanes share words) and shared-memory wavefronts per
request and per ideal wavefront (the least the request's distinct words take: 1 is conflict-free).
)",
     ""},
    {kInspect, "inspect",
     R"(usage: rnnattn inspect --model FILE [--json]

Print a checkpoint's configuration, training state and every parameter tensor.
)",
     ""},
    {kExport, "export",
     R"(usage: rnnattn export --model FILE --output FILE.safetensors [--format safetensors]

Write a checkpoint's weights in the safetensors layout, under PyTorch's names for the recurrent
layers (weight_ih_l0 [H, D], weight_hh_l0 [H, H], bias_ih_l0, bias_hh_l0, ..._reverse for the
backward direction), attention.weight [C], attention.bias [T], head.weight [O, C] and head.bias
[O], with the configuration and scalings in the header's metadata. Load them in PyTorch with
safetensors.torch.load_file and nn.RNN.load_state_dict (docs/safetensors.md). Adam's moments stay
in the checkpoint.
)",
     ""},
    {kImport, "import",
     R"(usage: rnnattn import --input FILE.safetensors --save FILE [options]

Build a checkpoint from a safetensors file: one written by 'rnnattn export', or a PyTorch state
dict saved with safetensors (nn.RNN's weight_ih_l0 etc., attention.weight, attention.bias,
head.weight, head.bias; docs/safetensors.md). The structure (layers, directions, D, H, O and T)
comes from the tensors; the rest from rnnattn's metadata in the file, or, for a file without it,
from the options below. Adam's moments start afresh.
)",
     R"(
A file without rnnattn's metadata carries no scaling: the model then reads values as they are
(the identity scaling, [0, 1]).
)"},
};

// clang-format off
const Option kOptionTable[] = {
    // ---- train: the data
    {"--data", kTrain, "fib|FILE.csv|sentiment",
     "the tutorial's Fibonacci windows (default), a CSV series, a CSV of labelled texts (with "
     "--text-column), or the generated sentiment task (docs/sentiment.md: 100-d token vectors, "
     "sequences of T/4..T steps, label = majority polarity; sigmoid head, BCE and T = 200 by "
     "default, as for texts)"},
    {"--text-column", kTrain, "NAME",
     "FILE.csv holds texts in column NAME (quoted as RFC 4180 allows): tokenized as Keras' "
     "Tokenizer (lower case, punctuation stripped, split on whitespace), padded or truncated to "
     "--steps tokens (--padding, --truncating), and read through a trainable embedding; split "
     "70/30 by a fixed shuffle", 0, 0, kModel},
    {"--label-column", kTrain, "NAME",
     "texts: the label column; each label is a class, in numeric order where all are numbers, "
     "else sorted (two: a sigmoid with BCE; more: a softmax with CCE); rows without one are "
     "refused", 0, 0, kModel, kForTexts},
    {"--classes", kTrain, "A,B[,...]",
     "texts: the labels to train on, class 0, 1, ... in this order (rows with another label are "
     "refused, or dropped with --drop-other-labels)", 0, 0, kModel, kForTexts},
    {"--drop-other-labels", kTrain, nullptr, "texts: drop the rows with another label instead",
     0, 0, kModel, kForTexts},
    {"--encoding", kTrain | kPredict, "NAME",
     "texts: the file's encoding, utf-8 (default), latin-1 or windows-1252", 0, 0,
     OnResume::kAllowed, kForTexts},
    {"--padding", kTrain, "pre|post",
     "texts: the end of the --steps tokens the padding goes to (default post: the recurrence stops "
     "at each text's end; pre, Keras' default, puts the padding first, read as tokens)", 0, 0,
     kModel, kForTexts},
    {"--truncating", kTrain, "pre|post",
     "texts: the end a longer text loses (default post: its first --steps tokens are kept; pre: "
     "its last)", 0, 0, kModel, kForTexts},
    {"--vocab", kTrain, "N",
     "texts: the vocabulary's size in ids, padding (0) and out-of-vocabulary (1) included, from "
     "the training texts' most frequent words (default 10000, Keras' num_words)", 3, 1L << 22,
     kModel, kForTexts},
    {"--embedding", kTrain, "DIM",
     "the embedding's width (texts: default 100, the notebook's); with --data sentiment, trains "
     "an embedding of the task's token ids instead of reading its fixed token vectors", 1,
     1L << 16, kModel},
    {"--column", kTrain, "NAME[,NAME...]",
     "the CSV input column(s) (default: the only one, or the one after YEAR/DATE/TIME); several "
     "give D > 1 features per step", 0, 0, kModel, kForSeries},
    {"--target", kTrain, "NAME", "the column to predict (default: the only input column)", 0, 0,
     kModel, kForSeries},
    // ---- train: the models
    {"--model", kTrain, "attention|plain", "which model (default attention)", 0, 0, kModel},
    {"--attention", kTrain, "additive|dot|dot-scaled",
     "how the attention scores the states: additive (the tutorial's, e_t = tanh(h_t . w + b_t); "
     "the default), dot (Keras' dot-product Attention()([h, h]), the notebook's, with its context "
     "sum_t o_t * h_t) or dot-scaled (the same with use_scale=True); not on --device cuda yet",
     0, 0, kModel},
    {"--compare", kTrain, nullptr,
     "train both models and print the tutorial's comparison table (sentiment: plain, attention, "
     "bidirectional attention and, for the Elman cell, the notebook's bidirectional LSTM with "
     "attention)", 0, 0, kModel},
    {"--cell", kTrain, "elman|lstm|gru",
     "the recurrent cell, as Keras' SimpleRNN, LSTM, GRU (reset_after) (default elman)", 0, 0,
     kModel},
    {"--layers", kTrain, "L", "stacked recurrent layers (default 1)", 1, 16, kModel},
    {"--bidirectional", kTrain, nullptr,
     "two directions per layer (Keras' Bidirectional), states concatenated", 0, 0, kModel},
    {"--train-sequences", kTrain, "N", "sentiment: training sequences (default 2000)", 1, 1 << 20,
     kModel},
    {"--test-sequences", kTrain, "N", "sentiment: test sequences (default 1000)", 1, 1 << 20,
     kModel},
    {"--seeds", kTrain, "N",
     "repeat every run for seeds S..S+N-1; report min / median / max (default 1)", 1, 1000,
     kModel},
    {"--hidden", kTrain, "H", "hidden units (default 2)", 1, 1 << 14, kModel},
    {"--steps", kTrain, "T", "window length (default 20)", 1, 1 << 20, kModel},
    {"--epochs", kTrain, "N", "epochs (default 30)", 1, 1000000},
    {"--batch", kTrain, "B", "mini-batch size (default 1, as the tutorial)", 1, 1 << 24, kRecord},
    {"--lr", kTrain, "X", "Adam learning rate (default 0.001)", 0, 0, kModel},
    {"--dropout", kTrain, "RATE",
     "Keras' Dropout(RATE) on the context before the head, in training (the notebook's 0.5; "
     "default 0: none); masks keyed by the seed, the step and the element, the same on every "
     "device",
     0, 0, kModel},
    {"--input-dropout", kTrain, "RATE",
     "the recurrent layers' dropout on their inputs, Keras' LSTM(dropout=RATE): one mask per "
     "sequence for all its steps (default 0); trains on the CPU",
     0, 0, kModel},
    {"--recurrent-dropout", kTrain, "RATE",
     "the recurrent layers' dropout on the previous state, Keras' recurrent_dropout (default 0); "
     "trains on the CPU",
     0, 0, kModel},
    {"--head", kTrain, "tanh|linear|sigmoid|softmax",
     "head activation (default tanh; sigmoid for bce, softmax for cce)", 0, 0, kModel},
    {"--loss", kTrain, "mse|bce|cce",
     "loss (default mse; bce for texts and sentiment, cce for texts of more than two labels; bce "
     "needs --head sigmoid, cce --head softmax)", 0, 0, kModel},
    {"--seed", kTrain, "S", "first seed: initialisation and shuffling (default 1)", 0, 1L << 40,
     kRecord},
    {"--scale", kTrain, "minmax|standard",
     "CSV: scale each column to [0, 1] over the training part (default), or to mean 0 and "
     "standard deviation 1", 0, 0, kModel, kForSeries},
    {"--difference", kTrain, nullptr,
     "CSV: model the changes between rows (first differences) instead of the values; "
     "predictions are reported as values (last value + change), and forecast sums the changes. "
     "Helps a series that trends past its training range", 0, 0, kModel, kForSeries},
    {"--missing", kTrain, "error|drop|interpolate",
     "CSV: missing values (empty, NA, NaN, null, \".\") are an error naming where they are "
     "(default), drop their rows, or are filled linearly in row order", 0, 0, kModel, kForSeries},
    {"--validation-split", kTrain, "F",
     "hold out the last F of the training windows (in time order) and report val_loss after "
     "every epoch", 0, 0, kRecord},
    {"--early-stopping", kTrain, "P",
     "stop once the val_loss (else the loss) has not improved for P epochs, and keep the best "
     "epoch's weights (reported as \"epoch kept\")", 0, 1000000},
    // ---- predict and forecast: the model and the data
    {"--model", kPredict, "FILE", "a checkpoint written by 'rnnattn train --save'"},
    {"--data", kPredict, "fib|FILE.csv",
     "the data (windows of the model's T; scaled as at training time)"},
    {"--column", kPredict, "NAME",
     "for a one-column model: read this column instead of the one it was trained on (default: "
     "the checkpoint's columns)"},
    {"--attention", kPredict, nullptr, "also print the attention weights of each window"},
    {"--text", kPredict, "\"TEXT\"",
     "a model trained on texts: classify this text with the model's tokenizer and vocabulary; "
     "with --data FILE.csv instead, every row's text (its text column), and where the file has "
     "the model's label column, the accuracy and confusion over the rows labelled with its "
     "classes"},
    {"--model", kForecast, "FILE", "a checkpoint of a one-column model ('rnnattn train --save')"},
    {"--data", kForecast, "fib|FILE.csv",
     "the series (default column: the one the model was trained on)"},
    {"--column", kForecast, "NAME", "another column of the same meaning"},
    {"--horizon", kForecast, "N", "steps to forecast (1 to 100000)", 1, 100000},
    // ---- where the commands that run a model run it
    {"--device", kRuns, "cpu|reference|cuda|cuda-unfused|auto",
     "where to run (default auto: the GPU when there is one and the CUDA kernels are verified on "
     "it, else the CPU); cpu is the fast CPU path (batched, BLAS), reference the plain "
     "per-sequence oracle it is tested against, cuda-unfused the classic "
     "one-launch-per-operation GPU path"},
    {"--threads", kRuns, "N",
     "the fast CPU path's threads (default 0: one per core); the same count gives the same bits, "
     "another count may change the last bits; train's runs (--seeds, --compare) side by side, "
     "on the CPU or the GPU", 0, 4096},
    // ---- train's files
    {"--save", kTrain, "FILE", "write the trained model (one run only) as a checkpoint"},
    {"--resume", kTrain, "FILE",
     "continue the run saved in FILE (a checkpoint from --save): its model, Adam state, data and "
     "training settings; --epochs is the total to reach (as Keras' epochs with initial_epoch), "
     "so resuming after N of N+M epochs gives the bits of one N+M-epoch run. --save may name "
     "FILE itself (it is replaced only once the run has finished)"},
    {"--json", kTrain, "FILE", "write the results as JSON"},
    {"--quiet", kTrain, nullptr, "no per-epoch lines"},
    {"--verbose", kTrain, nullptr, "per-epoch lines even for several runs"},
    {"--json", kPredict, "FILE", "write predictions (and weights) as JSON"},
    {"--json", kForecast, "FILE", "write the forecast as JSON"},
    // ---- profile
    {"--batch", kProfile, "B", "the batch (required)", 1, 1 << 20},
    {"--steps", kProfile, "T", "the time steps (required)", 1, 1 << 20},
    {"--input", kProfile, "D", "the input features (required)", 1, 1 << 16},
    {"--hidden", kProfile, "H", "the hidden units (required)", 1, 1 << 14},
    {"--model", kProfile, "attention|plain", "(default attention)"},
    {"--attention", kProfile, "additive|dot|dot-scaled",
     "the attention model's scores (default additive; dot: Keras' dot-product Attention, run "
     "after the recurrence by kernels/attention_head.cu's dot kernels)"},
    {"--cell", kProfile, "elman|lstm|gru",
     "the recurrent cell (default elman); a gated cell runs its segment kernels "
     "(kernels/rnn_segment.cu; one layer: with its attention and head inside) or its persistent "
     "ones (kernels/rnn_persistent.cu) block by block"},
    {"--layers", kProfile, "N", "stacked layers (default 1)", 1, 16},
    {"--bidirectional", kProfile, nullptr, "two directions per layer"},
    {"--pass", kProfile, "forward|backward|train",
     "forward: inference; backward: the training forward and backward; train: a whole training "
     "step (forward, loss, backward, Adam)"},
    {"--device", kProfile, "cuda|cuda-unfused", "(default cuda)"},
    {"--recurrence", kProfile, "auto|segment|persistent|cluster",
     "how the fused path runs the recurrence (default auto: the performance model's choice for "
     "this B and H, docs/performance.md; cluster: thread-block clusters, Elman models with "
     "H <= 512, kernels/rnn_cluster.cu)"},
    {"--plan", kProfile, nullptr,
     "print the model's choice and predicted step times, run nothing (no GPU needed: without "
     "one, an H100's limits)"},
    {"--json", kProfile, "FILE", "one object per kernel: kernel, launches, and ms or the counters"},
    // ---- inspect, export, import
    {"--model", kInspect | kExport, "FILE", "a checkpoint written by 'rnnattn train --save'"},
    {"--json", kInspect, nullptr, "print JSON instead of text"},
    {"--output", kExport, "FILE", "the safetensors file to write (replaced atomically)"},
    {"--format", kExport, "NAME", "safetensors (the only format, and the default)"},
    {"--input", kImport, "FILE", "the safetensors file"},
    {"--save", kImport, "FILE", "the checkpoint to write"},
    {"--head", kImport, "tanh|linear|sigmoid|softmax", "the head's activation (default tanh)"},
    {"--loss", kImport, "mse|bce|cce", "the loss (default mse)"},
    {"--steps", kImport, "T", "the window length of a model without attention", 1, 1 << 20},
};
// clang-format on

}  // namespace

const std::vector<Option>& options() {
  static const std::vector<Option> table(std::begin(kOptionTable), std::end(kOptionTable));
  return table;
}

const char* command_name(Command c) {
  for (const CommandText& t : kTexts) {
    if (t.command == c) return t.name;
  }
  return "?";
}

const Option* find_option(Command c, const std::string& name) {
  for (const Option& o : options()) {
    if ((o.commands & c) && name == o.name) return &o;
  }
  return nullptr;
}

namespace {

// `text` wrapped to lines of at most `width` characters, each after `indent` spaces; the first
// line continues `out` (which holds `column` characters of the current line).
void wrap(std::ostringstream& out, std::size_t column, const std::string& text, std::size_t indent,
          std::size_t width) {
  std::istringstream words(text);
  std::string word;
  bool first = true;
  while (words >> word) {
    if (!first && column + 1 + word.size() > width) {
      out << '\n' << std::string(indent, ' ');
      column = indent;
    } else if (!first) {
      out << ' ';
      ++column;
    }
    out << word;
    column += word.size();
    first = false;
  }
  out << '\n';
}

}  // namespace

std::string help_text(Command c) {
  constexpr std::size_t kHelpColumn = 27, kWidth = 100;
  const CommandText* t = nullptr;
  for (const CommandText& x : kTexts) {
    if (x.command == c) t = &x;
  }
  std::ostringstream out;
  out << t->intro << '\n';
  for (const Option& o : options()) {
    if (!(o.commands & c)) continue;
    std::string head = std::string("  ") + o.name + (o.value ? std::string(" ") + o.value : "");
    if (head.size() + 1 >= kHelpColumn) {  // the help goes on the next line
      out << head << '\n' << std::string(kHelpColumn, ' ');
    } else {
      out << head << std::string(kHelpColumn - head.size(), ' ');
    }
    wrap(out, kHelpColumn, o.help, kHelpColumn, kWidth);
  }
  out << t->footer;
  return out.str();
}

}  // namespace rnnattn::cli
