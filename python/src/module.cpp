// rnnattn._core: the library's host API for Python (nanobind). The Python package (python/rnnattn)
// builds its Keras-like Model, its data functions and its PyTorch module on these bindings:
//   - Config: a ModelConfig; Data: a SplitData (the data functions' result); Model: a model with
//     its optimiser state and, after load, the data record of its checkpoint;
//   - forward / backward: one pass of a backend on caller-owned arrays (NumPy arrays or PyTorch
//     CPU tensors through DLPack: nothing is copied), written in place;
//   - CudaHandle (CUDA builds): the device API on caller-owned device buffers and stream.
// Work runs with the GIL released; every array is checked here (dtype, layout, shape) with an
// error naming the argument, so that nothing reaches the library with a wrong shape.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <cstdint>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <streambuf>
#include <string>
#include <utility>
#include <vector>

#include "rnnattn/backend.hpp"
#include "rnnattn/checkpoint.hpp"
#include "rnnattn/config.hpp"
#include "rnnattn/data.hpp"
#include "rnnattn/error.hpp"
#include "rnnattn/params.hpp"
#include "rnnattn/reference.hpp"
#include "rnnattn/trainer.hpp"
#ifdef RNNATTN_PYTHON_CUDA
#include "rnnattn/cuda.hpp"
#endif

namespace nb = nanobind;
using namespace nb::literals;

namespace rnnattn::python {
namespace {

// Arrays in: any dtype and layout, checked by name below (nanobind's own mismatch error does not
// say which argument was wrong). A PyTorch tensor arrives through DLPack without a copy.
using Array = nb::ndarray<nb::ro>;
using MutableArray = nb::ndarray<>;

std::string shape_text(const std::vector<std::size_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

template <typename A>
std::vector<std::size_t> shape_of(const A& a) {
  std::vector<std::size_t> s(a.ndim());
  for (std::size_t i = 0; i < a.ndim(); ++i) s[i] = a.shape(i);
  return s;
}

template <typename A>
bool c_contiguous(const A& a) {
  std::int64_t expect = 1;
  for (std::size_t i = a.ndim(); i-- > 0;) {
    if (a.shape(i) != 1 && a.stride(i) != expect) return false;
    expect *= static_cast<std::int64_t>(a.shape(i));
  }
  return true;
}

// Checks dtype (float32 or int32), C-contiguity, the device and the shape of an argument; throws
// InvalidArgument (ValueError in Python) naming it.
enum class Kind { kFloat32, kInt32 };
template <typename A>
void check_array(const A& a, const char* name, Kind kind, const std::vector<std::size_t>& shape,
                 int device = nb::device::cpu::value) {
  const bool dtype_ok = kind == Kind::kFloat32 ? a.dtype() == nb::dtype<float>()
                                               : a.dtype() == nb::dtype<std::int32_t>();
  if (!dtype_ok) {
    throw InvalidArgument(std::string(name) + ": expected " +
                          (kind == Kind::kFloat32 ? "float32" : "int32") + " elements");
  }
  if (a.device_type() != device) {
    throw InvalidArgument(std::string(name) + ": on the wrong device (expected " +
                          (device == nb::device::cpu::value ? "the CPU" : "a CUDA device") + ")");
  }
  if (shape_of(a) != shape) {
    throw InvalidArgument(std::string(name) + ": shape " + shape_text(shape_of(a)) + ", expected " +
                          shape_text(shape));
  }
  if (!c_contiguous(a)) throw InvalidArgument(std::string(name) + ": not C-contiguous");
}

template <typename T>
const T* cdata(const Array& a) {
  return static_cast<const T*>(a.data());
}
template <typename T>
T* mdata(const MutableArray& a) {
  return static_cast<T*>(a.data());
}

// A NumPy array that owns a vector's storage.
template <typename T>
nb::ndarray<nb::numpy, T> to_numpy(std::vector<T> v, std::vector<std::size_t> shape) {
  auto* owned = new std::vector<T>(std::move(v));
  nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<std::vector<T>*>(p); });
  return nb::ndarray<nb::numpy, T>(owned->data(), shape.size(), shape.data(), owner);
}

std::size_t count(const ModelConfig& c) { return ParamLayout(c).size(); }
std::size_t sz(int v) { return static_cast<std::size_t>(v); }

// The model's input: x [B, T, D] float32, or token ids [B, T] int32 for a model with an
// embedding. Returns B.
int check_input(const ModelConfig& c, const Array& x, const char* name = "x") {
  if (x.ndim() < 1) throw InvalidArgument(std::string(name) + ": a 0-d array");
  const std::size_t b = x.shape(0);
  if (b < 1 || b > static_cast<std::size_t>(1) << 30) {
    throw InvalidArgument(std::string(name) + ": batch of " + std::to_string(b));
  }
  if (c.embedded()) {
    check_array(x, name, Kind::kInt32, {b, sz(c.steps)});
  } else {
    check_array(x, name, Kind::kFloat32, {b, sz(c.steps), sz(c.input_size)});
  }
  return static_cast<int>(b);
}

const int* lengths_of(const ModelConfig& c, const std::optional<Array>& lengths, int batch) {
  if (!lengths) return nullptr;
  check_array(*lengths, "lengths", Kind::kInt32, {sz(batch)});
  const int* l = cdata<int>(*lengths);
  check_lengths(c, l, batch);
  return l;
}

// A WindowSet from arrays (copied: the trainer keeps its dataset), checked by name.
WindowSet windows(const ModelConfig& c, const Array& x, const Array& y,
                  const std::optional<Array>& lengths) {
  const int n = check_input(c, x);
  check_array(y, "y", Kind::kFloat32, {sz(n), sz(c.output_size)});
  WindowSet w;
  w.count = n;
  w.steps = c.steps;
  w.features = c.input_size;
  const std::size_t cells = sz(n) * sz(c.steps);
  if (c.embedded()) {
    w.tokens.assign(cdata<int>(x), cdata<int>(x) + cells);
  } else {
    w.x.assign(cdata<float>(x), cdata<float>(x) + cells * sz(c.input_size));
  }
  w.y.assign(cdata<float>(y), cdata<float>(y) + sz(n) * sz(c.output_size));
  if (const int* l = lengths_of(c, lengths, n)) w.lengths.assign(l, l + n);
  w.index.resize(sz(n));
  for (int i = 0; i < n; ++i) w.index[sz(i)] = i;
  return w;
}

// Keras' per-epoch lines, written to Python's sys.stdout (a notebook shows them; C++'s std::cout
// would bypass it) a line at a time, taking the GIL only to write.
class PythonStdout : public std::streambuf {
 protected:
  int_type overflow(int_type ch) override {
    if (ch == traits_type::eof()) return ch;
    line_ += static_cast<char>(ch);
    if (ch == '\n' || ch == '\r') flush_line();
    return ch;
  }
  int sync() override {
    flush_line();
    return 0;
  }

 private:
  void flush_line() {
    if (line_.empty()) return;
    nb::gil_scoped_acquire gil;
    nb::object out = nb::module_::import_("sys").attr("stdout");
    out.attr("write")(line_);
    out.attr("flush")();
    line_.clear();
  }
  std::string line_;
};

// A model and what its checkpoint records beside it (kept from load, written by save).
struct PyModel {
  Model model;
  Checkpoint record;  // its `model` unused: the data and training record of a loaded file
};

nb::dict windows_dict(const WindowSet& w) {
  nb::dict d;
  if (w.tokens.empty()) {
    d["x"] = to_numpy(w.x, {sz(w.count), sz(w.steps), sz(w.features)});
  } else {
    d["x"] = to_numpy(w.tokens, {sz(w.count), sz(w.steps)});
  }
  d["y"] = to_numpy(w.y, {sz(w.count), w.count ? w.y.size() / sz(w.count) : 1});
  if (!w.lengths.empty()) {
    d["lengths"] = to_numpy(w.lengths, {sz(w.count)});
  } else {
    d["lengths"] = nb::none();
  }
  d["index"] = to_numpy(w.index, {sz(w.count)});
  return d;
}

void bind_config(nb::module_& m) {
  nb::class_<ModelConfig>(m, "Config")
      .def(nb::init<>())
      .def_rw("input_size", &ModelConfig::input_size)
      .def_rw("hidden_size", &ModelConfig::hidden_size)
      .def_rw("steps", &ModelConfig::steps)
      .def_rw("output_size", &ModelConfig::output_size)
      .def_rw("attention", &ModelConfig::attention)
      .def_rw("layers", &ModelConfig::layers)
      .def_rw("bidirectional", &ModelConfig::bidirectional)
      .def_rw("vocab_size", &ModelConfig::vocab_size)
      .def_rw("dropout", &ModelConfig::dropout)
      .def_rw("input_dropout", &ModelConfig::input_dropout)
      .def_rw("recurrent_dropout", &ModelConfig::recurrent_dropout)
      .def_prop_rw(
          "cell", [](const ModelConfig& c) { return std::string(to_string(c.cell)); },
          [](ModelConfig& c, const std::string& s) { c.cell = parse_cell(s); })
      .def_prop_rw(
          "score", [](const ModelConfig& c) { return std::string(to_string(c.score)); },
          [](ModelConfig& c, const std::string& s) { c.score = parse_score(s); })
      .def_prop_rw(
          "head", [](const ModelConfig& c) { return std::string(to_string(c.head)); },
          [](ModelConfig& c, const std::string& s) { c.head = parse_activation(s); })
      .def_prop_rw(
          "loss", [](const ModelConfig& c) { return std::string(to_string(c.loss)); },
          [](ModelConfig& c, const std::string& s) { c.loss = parse_loss(s); })
      .def("validate", &ModelConfig::validate)
      .def("context_size", &ModelConfig::context_size)
      .def("parameter_count", [](const ModelConfig& c) { return count(c); })
      // The flat layout's tensors: (name, rows, cols, offset) in buffer order.
      .def("layout",
           [](const ModelConfig& c) {
             std::vector<std::tuple<std::string, int, int, std::size_t>> out;
             const ParamLayout layout(c);  // named: a temporary's tensors() would dangle
             for (const TensorInfo& t : layout.tensors()) {
               out.emplace_back(t.name, t.rows, t.cols, t.offset);
             }
             return out;
           })
      .def("__eq__", [](const ModelConfig& a, const ModelConfig& b) { return a == b; })
      .def("__repr__", [](const ModelConfig& c) { return "<rnnattn.Config " + describe(c) + ">"; });
  m.def(
      "init_parameters",
      [](const ModelConfig& c, std::uint64_t seed) {
        c.validate();
        return to_numpy(init_parameters(c, seed), {count(c)});
      },
      "config"_a, "seed"_a);
}

// The trainer's early stopping from the Python side's names (rnnattn.callbacks.EarlyStopping's, or
// fit's early_stopping): patience, what it monitors, min_delta, and when the best epoch returns.
void set_early_stopping(TrainOptions& opt, int patience, const std::string& monitor,
                        double min_delta, const std::string& restore) {
  using Monitor = TrainOptions::Monitor;
  using Restore = TrainOptions::Restore;
  if (monitor != "auto" && monitor != "loss" && monitor != "val_loss") {
    throw InvalidArgument("monitor: 'loss' or 'val_loss', not '" + monitor + "'");
  }
  if (restore != "always" && restore != "on_stop" && restore != "never") {
    throw InvalidArgument("restore: 'always', 'on_stop' or 'never', not '" + restore + "'");
  }
  opt.early_stopping = patience;
  opt.monitor = monitor == "loss"       ? Monitor::kLoss
                : monitor == "val_loss" ? Monitor::kValLoss
                                        : Monitor::kAuto;
  opt.min_delta = min_delta;
  opt.restore = restore == "on_stop" ? Restore::kOnStop
                : restore == "never" ? Restore::kNever
                                     : Restore::kAlways;
}

// The backend device by name, refused (naming it and its limit) where it cannot run the model.
Device device_for(const ModelConfig& c, const std::string& name) {
  const Device dev = parse_device(name);
  check_device_supports(dev, c);
  return dev;
}

// A forward pass of `be` on x (features, or token ids for a model with an embedding: the library
// checks the ids), into y [B, O] and attention [B, T] (nullable). Called without the GIL.
void run_forward(Backend& be, const ModelConfig& c, const float* params, const Array& x, int b,
                 float* y, float* attention, const int* lengths) {
  if (c.embedded()) {
    be.forward_tokens(c, params, cdata<int>(x), b, y, attention, nullptr, lengths);
  } else {
    be.forward(c, params, cdata<float>(x), b, y, attention, nullptr, lengths);
  }
}

// One pass on caller-owned arrays: y [B, O] (and attention [B, T]) written in place.
void forward(const ModelConfig& c, const std::string& device, const Array& params, const Array& x,
             MutableArray y, std::optional<MutableArray> attention,
             const std::optional<Array>& lengths) {
  c.validate();
  check_array(params, "params", Kind::kFloat32, {count(c)});
  const int b = check_input(c, x);
  check_array(y, "y", Kind::kFloat32, {sz(b), sz(c.output_size)});
  if (attention) {
    if (!c.attention) throw InvalidArgument("attention: the plain model has no attention weights");
    check_array(*attention, "attention", Kind::kFloat32, {sz(b), sz(c.steps)});
  }
  const int* l = lengths_of(c, lengths, b);
  const Device dev = device_for(c, device);
  nb::gil_scoped_release release;
  run_forward(*make_backend(dev), c, cdata<float>(params), x, b, mdata<float>(y),
              attention ? mdata<float>(*attention) : nullptr, l);
}

// The gradients of a pass from dy [B, O]: dparams [P] and, when given, dx [B, T, D] overwritten.
void backward(const ModelConfig& c, const std::string& device, const Array& params, const Array& x,
              const Array& dy, MutableArray dparams, std::optional<MutableArray> dx,
              const std::optional<Array>& lengths) {
  c.validate();
  check_array(params, "params", Kind::kFloat32, {count(c)});
  const int b = check_input(c, x);
  check_array(dy, "dy", Kind::kFloat32, {sz(b), sz(c.output_size)});
  check_array(dparams, "dparams", Kind::kFloat32, {count(c)});
  if (dx) {
    if (c.embedded()) throw InvalidArgument("dx: a token model's input has no gradient");
    check_array(*dx, "dx", Kind::kFloat32, {sz(b), sz(c.steps), sz(c.input_size)});
  }
  const int* l = lengths_of(c, lengths, b);
  const Device dev = device_for(c, device);
  nb::gil_scoped_release release;
  std::unique_ptr<Backend> be = make_backend(dev);
  if (c.embedded()) {  // the library checks the ids
    be->backward_tokens(c, cdata<float>(params), cdata<int>(x), b, cdata<float>(dy),
                        mdata<float>(dparams), l);
  } else {
    be->backward(c, cdata<float>(params), cdata<float>(x), b, cdata<float>(dy),
                 mdata<float>(dparams), dx ? mdata<float>(*dx) : nullptr, l);
  }
}

// fit's validation windows: validation_data's (x, y) or (x, y, lengths), else the last
// validation_split of the training windows (taken out of them); false: none.
bool validation_windows(const ModelConfig& c, WindowSet& train, double validation_split,
                        const std::optional<nb::tuple>& validation_data, WindowSet* out) {
  if (validation_data) {
    if (validation_split > 0) {
      throw InvalidArgument("validation_split: give it or validation_data, not both");
    }
    const nb::tuple& v = *validation_data;
    if (v.size() != 2 && v.size() != 3) {
      throw InvalidArgument("validation_data: (x, y) or (x, y, lengths)");
    }
    std::optional<Array> vl;
    if (v.size() == 3 && !v[2].is_none()) vl = nb::cast<Array>(v[2]);
    *out = windows(c, nb::cast<Array>(v[0]), nb::cast<Array>(v[1]), vl);
    return true;
  }
  if (validation_split < 0) throw InvalidArgument("validation_split: must be in [0, 1)");
  if (validation_split == 0) return false;
  *out = split_validation(train, validation_split);
  return true;
}

// A fit's history as the Python side reads it.
nb::dict history_dict(const TrainHistory& h, int initial_epoch) {
  nb::dict d;
  d["loss"] = h.epoch_loss;
  d["val_loss"] = h.val_loss;
  d["val_accuracy"] = h.val_accuracy;
  d["epoch_seconds"] = h.epoch_seconds;
  d["best_epoch"] = h.best_epoch;
  d["monitored_best_epoch"] = h.monitored_best_epoch;
  d["stopped_early"] = h.stopped_early;
  d["seconds"] = h.seconds;
  d["initial_epoch"] = initial_epoch;
  return d;
}

void bind_model(nb::module_& m) {
  nb::class_<PyModel>(m, "Model")
      .def(
          "__init__",
          [](PyModel* self, const ModelConfig& c, std::uint64_t seed, float lr, float beta1,
             float beta2, float epsilon) {
            AdamConfig adam{lr, beta1, beta2, epsilon};
            adam.validate();
            c.validate();
            new (self) PyModel{make_model(c, seed, adam), Checkpoint{}};
            self->record.training.seed = seed;
          },
          "config"_a, "seed"_a, "learning_rate"_a, "beta1"_a, "beta2"_a, "epsilon"_a)
      .def_prop_ro("config", [](const PyModel& p) { return p.model.config; })
      .def_prop_ro("epochs_trained", [](const PyModel& p) { return p.model.epochs_trained; })
      .def_prop_ro("optimizer_steps", [](const PyModel& p) { return p.model.adam.step; })
      .def_prop_ro("seed", [](const PyModel& p) { return p.record.training.seed; })
      .def_prop_ro("learning_rate",
                   [](const PyModel& p) { return p.model.adam_config.learning_rate; })
      .def("get_params",
           [](const PyModel& p) { return to_numpy(p.model.params, {p.model.params.size()}); })
      .def(
          "set_params",
          [](PyModel& p, const Array& a) {
            check_array(a, "params", Kind::kFloat32, {p.model.params.size()});
            p.model.params.assign(cdata<float>(a), cdata<float>(a) + p.model.params.size());
          },
          "params"_a)
      // Trains with rnnattn::fit: `epochs` more epochs (Keras' fit), continuing the shuffle stream
      // of the epochs already trained, so that fit(5) then fit(5) gives the bits of fit(10).
      .def(
          "fit",
          [](PyModel& p, const Array& x, const Array& y, std::optional<Array> lengths, int epochs,
             int batch_size, double validation_split, std::optional<nb::tuple> validation_data,
             int early_stopping, const std::string& monitor, double min_delta,
             const std::string& restore, const std::string& device, int verbose, bool progress) {
            const ModelConfig& c = p.model.config;
            if (epochs < 0) throw InvalidArgument("epochs: must be >= 0");
            WindowSet train = windows(c, x, y, lengths);
            WindowSet validation;
            const bool validate =
                validation_windows(c, train, validation_split, validation_data, &validation);
            TrainOptions opt;
            opt.initial_epoch = static_cast<int>(p.model.epochs_trained);
            opt.epochs = opt.initial_epoch + epochs;
            opt.batch_size = batch_size;
            opt.seed = p.record.training.seed;
            opt.validation = validate ? &validation : nullptr;
            set_early_stopping(opt, early_stopping, monitor, min_delta, restore);
            const Device dev = device_for(c, device);
            PythonStdout buf;
            std::ostream log(&buf);
            if (verbose > 0) opt.log = &log;
            opt.progress = progress;
            TrainHistory h;
            {
              nb::gil_scoped_release release;
              std::unique_ptr<Backend> be = make_backend(dev);
              h = fit(*be, p.model, train, opt);
            }
            log.flush();
            // The run's record (seed, batch size, validation split): `rnnattn train --resume`
            // and a later load continue it as the CLI's own runs.
            p.record.training.recorded = true;
            p.record.training.batch_size = batch_size;
            p.record.training.validation_split = validation_data ? 0.0 : validation_split;
            return history_dict(h, opt.initial_epoch);
          },
          "x"_a, "y"_a, "lengths"_a.none(), "epochs"_a, "batch_size"_a, "validation_split"_a,
          "validation_data"_a.none(), "early_stopping"_a, "monitor"_a, "min_delta"_a, "restore"_a,
          "device"_a, "verbose"_a, "progress"_a)
      .def(
          "predict",
          [](const PyModel& p, const Array& x, std::optional<Array> lengths, bool return_attention,
             const std::string& device) {
            const ModelConfig& c = p.model.config;
            if (return_attention && !c.attention) {
              throw InvalidArgument(
                  "return_attention: the model has no attention (attention=False)");
            }
            const int b = check_input(c, x);
            const int* l = lengths_of(c, lengths, b);
            const Device dev = device_for(c, device);
            std::vector<float> y(sz(b) * sz(c.output_size));
            std::vector<float> att(return_attention ? sz(b) * sz(c.steps) : 0);
            {
              nb::gil_scoped_release release;
              run_forward(*make_backend(dev), c, p.model.params.data(), x, b, y.data(),
                          return_attention ? att.data() : nullptr, l);
            }
            nb::object yo = nb::cast(to_numpy(std::move(y), {sz(b), sz(c.output_size)}));
            if (!return_attention) return yo;
            return nb::object(nb::make_tuple(yo, to_numpy(std::move(att), {sz(b), sz(c.steps)})));
          },
          "x"_a, "lengths"_a.none(), "return_attention"_a, "device"_a)
      .def(
          "evaluate",
          [](const PyModel& p, const Array& x, const Array& y, std::optional<Array> lengths,
             const std::string& device) {
            WindowSet w = windows(p.model.config, x, y, lengths);
            const Device dev = device_for(p.model.config, device);
            nb::gil_scoped_release release;
            std::unique_ptr<Backend> be = make_backend(dev);
            return evaluate_loss(*be, p.model, w);
          },
          "x"_a, "y"_a, "lengths"_a.none(), "device"_a)
      // Writes the checkpoint (atomically: a temporary file renamed over `path`), with the data
      // record of `data` when given (else the one it was loaded with, if any).
      .def(
          "save",
          [](const PyModel& p, const std::string& path, const SplitData* data) {
            Checkpoint ck = p.record;
            ck.model = p.model;
            if (data) record_data(ck, *data);
            nb::gil_scoped_release release;
            save_checkpoint(path, ck);
          },
          "path"_a, "data"_a.none())
      .def_static(
          "load",
          [](const std::string& path) {
            Checkpoint ck;
            {
              nb::gil_scoped_release release;
              ck = load_checkpoint(path);
            }
            auto* p = new PyModel{ck.model, ck};
            p->record.model = Model{};
            if (!ck.training.recorded) p->record.training.seed = 1;
            return p;
          },
          "path"_a, nb::rv_policy::take_ownership)
      .def_prop_ro("data_source", [](const PyModel& p) { return p.record.data_source; })
      .def_prop_ro("data_column", [](const PyModel& p) { return p.record.column; })
      .def_prop_ro("scaler", [](const PyModel& p) {
        return std::make_pair(p.record.scaler.min, p.record.scaler.max);
      });
}

void bind_data(nb::module_& m) {
  nb::class_<SplitData>(m, "Data")
      .def_ro("source", &SplitData::source)
      .def_ro("column", &SplitData::column)
      .def_ro("features", &SplitData::features)
      .def_ro("note", &SplitData::note)
      .def_prop_ro("scaler",
                   [](const SplitData& d) { return std::make_pair(d.scaler.min, d.scaler.max); })
      .def_prop_ro("train", [](const SplitData& d) { return windows_dict(d.train); })
      .def_prop_ro("test", [](const SplitData& d) { return windows_dict(d.test); });
  m.def(
      "fibonacci",
      [](int steps) {
        nb::gil_scoped_release release;
        return fibonacci_data(steps);
      },
      "steps"_a);
  m.def(
      "sentiment",
      [](int train, int test, int dim, int min_length, int max_length, std::uint64_t seed) {
        SentimentOptions o;
        o.train = train;
        o.test = test;
        o.dim = dim;
        o.min_length = min_length;
        o.max_length = max_length;
        o.seed = seed;
        nb::gil_scoped_release release;
        return sentiment_data(o);
      },
      "train"_a, "test"_a, "dim"_a, "min_length"_a, "max_length"_a, "seed"_a);
  m.def(
      "read_csv",
      [](const std::string& path, int steps, const std::vector<std::string>& columns,
         const std::string& target, double train_fraction, const std::string& scaling,
         bool difference, const std::string& missing) {
        SeriesOptions o;
        o.scaling = parse_scaling(scaling);
        o.difference = difference;
        o.missing = parse_missing(missing);
        nb::gil_scoped_release release;
        return series_data(read_csv_series(path, columns, target, o.missing), steps, train_fraction,
                           o);
      },
      "path"_a, "steps"_a, "columns"_a, "target"_a, "train_fraction"_a, "scaling"_a, "difference"_a,
      "missing"_a);
}

#ifdef RNNATTN_PYTHON_CUDA
// The device API on PyTorch's CUDA tensors: every buffer (workspace and reserve included) is the
// caller's, from PyTorch's caching allocator; the stream is PyTorch's current one, given per call.
void bind_cuda(nb::module_& m) {
  using cuda::Handle;
  constexpr int kCuda = nb::device::cuda::value;
  auto lengths_dev = [](const std::optional<Array>& l, int b) -> const int* {
    if (!l) return nullptr;
    check_array(*l, "lengths", Kind::kInt32, {sz(b)}, kCuda);
    return cdata<int>(*l);
  };
  auto stream_of = [](std::uintptr_t s) { return reinterpret_cast<cudaStream_t>(s); };
  nb::class_<Handle>(m, "CudaHandle")
      .def(nb::init<const ModelConfig&>(), "config"_a)
      .def("workspace_size", [](const Handle& h, int b) { return h.workspace_size(b); })
      .def("reserve_size", [](const Handle& h, int b) { return h.reserve_size(b); })
      .def("forward_training",
           [=](Handle& h, std::uintptr_t stream, const Array& params, const Array& x,
               MutableArray y, std::optional<MutableArray> attention, MutableArray reserve,
               MutableArray workspace, std::optional<Array> lengths) {
             const ModelConfig& c = h.config();
             check_array(params, "params", Kind::kFloat32, {count(c)}, kCuda);
             const int b = static_cast<int>(x.ndim() ? x.shape(0) : 0);
             check_array(x, "x", Kind::kFloat32, {sz(b), sz(c.steps), sz(c.input_size)}, kCuda);
             check_array(y, "y", Kind::kFloat32, {sz(b), sz(c.output_size)}, kCuda);
             if (attention) {
               check_array(*attention, "attention", Kind::kFloat32, {sz(b), sz(c.steps)}, kCuda);
             }
             const int* l = lengths_dev(lengths, b);
             h.set_stream(stream_of(stream));
             nb::gil_scoped_release release;
             h.forward_training(cdata<float>(params), cdata<float>(x), b, mdata<float>(y),
                                attention ? mdata<float>(*attention) : nullptr, nullptr,
                                reserve.data(), reserve.nbytes(), workspace.data(),
                                workspace.nbytes(), l);
           })
      .def("backward", [=](Handle& h, std::uintptr_t stream, const Array& params, const Array& x,
                           const Array& y, const Array& dy, const Array& reserve,
                           MutableArray dparams, std::optional<MutableArray> dx,
                           MutableArray workspace, std::optional<Array> lengths) {
        const ModelConfig& c = h.config();
        const int b = static_cast<int>(x.ndim() ? x.shape(0) : 0);
        check_array(dy, "dy", Kind::kFloat32, {sz(b), sz(c.output_size)}, kCuda);
        check_array(dparams, "dparams", Kind::kFloat32, {count(c)}, kCuda);
        if (dx) {
          check_array(*dx, "dx", Kind::kFloat32, {sz(b), sz(c.steps), sz(c.input_size)}, kCuda);
        }
        const int* l = lengths_dev(lengths, b);
        h.set_stream(stream_of(stream));
        nb::gil_scoped_release release;
        h.backward(cdata<float>(params), cdata<float>(x), b, cdata<float>(y), cdata<float>(dy),
                   reserve.data(), reserve.nbytes(), mdata<float>(dparams),
                   dx ? mdata<float>(*dx) : nullptr, cuda::GradMode::kOverwrite, workspace.data(),
                   workspace.nbytes(), l);
      });
}
#endif

}  // namespace
}  // namespace rnnattn::python

NB_MODULE(_core, m) {
  using namespace rnnattn;
  using namespace rnnattn::python;
  m.doc() = "rnnattn's C++ library (the Python package's private layer)";
  // The library's errors as Python's: a bad argument is a ValueError, a bad file an OSError-like
  // error of its own, a missing backend a RuntimeError; each keeps the library's message.
  // The base first: nanobind tries the translators registered last first.
  nb::exception<Error>(m, "Error", PyExc_RuntimeError);
  nb::exception<InvalidArgument>(m, "InvalidArgument", PyExc_ValueError);
  nb::exception<DataError>(m, "DataError", PyExc_ValueError);
  nb::exception<CheckpointError>(m, "CheckpointError", PyExc_OSError);
  nb::exception<Unavailable>(m, "Unavailable", PyExc_RuntimeError);
  nb::exception<CudaError>(m, "CudaError", PyExc_RuntimeError);
  m.attr("__version__") = RNNATTN_VERSION_STRING;
  m.def("built_with_cuda", &built_with_cuda);
  m.def("cuda_device_count", &cuda_device_count);
  m.def("set_cpu_threads", &set_cpu_threads, "n"_a);
  m.def("cpu_threads", &cpu_threads);
  bind_config(m);
  bind_model(m);
  bind_data(m);
  m.def("forward", &forward, "config"_a, "device"_a, "params"_a, "x"_a, "y"_a, "attention"_a.none(),
        "lengths"_a.none());
  m.def("backward", &backward, "config"_a, "device"_a, "params"_a, "x"_a, "dy"_a, "dparams"_a,
        "dx"_a.none(), "lengths"_a.none());
#ifdef RNNATTN_PYTHON_CUDA
  bind_cuda(m);
#endif
}
