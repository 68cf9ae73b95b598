// rnnattn train's runs: each (model, seed) trained and scored, side by side where the backend
// allows (host/side_by_side.hpp), reported in order.
#include <unistd.h>

#include <iostream>
#include <sstream>

#include "cli/train.hpp"
#include "side_by_side.hpp"

namespace rnnattn::cli {

ModelConfig ModelSpec::config(const ModelConfig& base) const {
  ModelConfig c = base;
  c.attention = attention;
  c.bidirectional = bidirectional;
  c.cell = cell;
  return c;
}

namespace {

struct Job {
  std::size_t spec;
  long seed;
};

// One run: trained from its seed (or from the checkpoint), then scored on the training windows
// and the test part.
Outcome run_one(const TrainSetup& s, const TrainData& d, const ModelSpec& spec, long seed,
                Backend& be, std::ostream* log, bool progress) {
  const ModelConfig mc = spec.config(s.cfg);
  Outcome out;
  out.model =
      s.resumed ? s.resumed->model : make_model(mc, static_cast<std::uint64_t>(seed), s.adam);
  TrainOptions o = s.opt;
  o.validation = s.val_split > 0 ? &d.validation : nullptr;
  o.seed = static_cast<std::uint64_t>(seed);  // shuffles as fit() documents
  o.log = log;
  o.progress = progress;
  const TrainHistory h = fit(be, out.model, d.train, o);
  RunResult& r = out.result;
  r = RunResult{};
  r.model = spec.name;
  r.seed = seed;
  r.seconds = h.seconds;
  r.final_loss = h.epoch_loss.empty() ? NAN : h.epoch_loss.back();
  r.history = h;
  const std::vector<float> fit_pred = predict(be, out.model, d.train);
  r.train_mse = mean_squared_error(fit_pred, d.train);
  r.train_loss = reference_loss<float>(mc.loss, fit_pred.data(), d.train.y.data(),
                                       static_cast<long>(fit_pred.size()), nullptr, mc.output_size);
  const std::vector<float> pred =
      predict(be, out.model, d.data.test, mc.attention ? &r.test_attention : nullptr);
  r.test_mse = mean_squared_error(pred, d.data.test);
  r.test_rmse = std::sqrt(r.test_mse) * d.data.scaler.range();
  const int O = mc.output_size;
  for (int i = 0; i < d.data.test.count; ++i) {
    // A softmax's: the probability of the predicted class.
    const float* row = &pred[static_cast<std::size_t>(i) * O];
    r.test_pred.push_back(O > 1 && s.classify ? static_cast<double>(*std::max_element(row, row + O))
                                              : d.data.to_original(row[0], d.data.test.index[i]));
  }
  if (s.classify) {
    r.train_accuracy = accuracy(fit_pred, d.train);
    r.test_accuracy = accuracy(pred, d.data.test);
    r.test_confusion = confusion(pred, d.data.test.y, O);
    r.test_loss = reference_loss<float>(mc.loss, pred.data(), d.data.test.y.data(),
                                        static_cast<long>(pred.size()), nullptr, mc.output_size);
  }
  return out;
}

// The lines before a model's first run: its configuration and size, a warning where it has more
// parameters than training windows, and where a resumed run starts.
void announce_model(const TrainSetup& s, const TrainData& d, const ModelSpec& spec) {
  const ModelConfig mc = spec.config(s.cfg);
  const std::size_t n_params = ParamLayout(mc).size();
  // The embedding's rows are trained only by the texts that hold their word: the warning counts
  // the other parameters.
  const std::size_t dense = ParamLayout(mc.recurrent_part()).size();
  std::cout << "model: " << describe(mc) << ", " << n_params << " parameters"
            << (mc.embedded()
                    ? " (" + std::to_string(n_params - dense) + " of them the embedding's)"
                    : std::string())
            << std::endl;
  if (dense > static_cast<std::size_t>(d.train.count)) {
    std::cerr << "rnnattn train: warning: " << dense << " parameters for " << d.train.count
              << " training windows: the model can memorise them rather than learn; expect "
                 "test scores well below the training ones (a smaller --hidden, or more data)"
              << std::endl;
  }
  if (s.resumed) {
    std::cout << "resumed: " << s.resume_path << " after " << s.opt.initial_epoch
              << " epochs; epochs " << s.opt.initial_epoch + 1 << ".." << s.opt.epochs << std::endl;
  }
}

}  // namespace

std::vector<RunResult> run_all(const TrainSetup& s, const TrainData& d,
                               const std::vector<ModelSpec>& specs, Backend& backend,
                               Model* last_model) {
  std::vector<Job> jobs;
  for (std::size_t m = 0; m < specs.size(); ++m) {
    for (long seed = s.first_seed; seed < s.first_seed + s.seeds; ++seed) jobs.push_back({m, seed});
  }
  // Every run is independent: side by side they are reported in order, each run's epoch lines
  // (with --verbose) kept until its turn.
  const auto run = [&](Backend& be, std::size_t i, bool alone) {
    const ModelSpec& spec = specs[jobs[i].spec];
    if (alone) {
      const bool tty = ::isatty(STDOUT_FILENO) != 0;
      return run_one(s, d, spec, jobs[i].seed, be, s.verbose ? &std::cout : nullptr,
                     s.verbose && tty);
    }
    std::ostringstream log;
    Outcome out = run_one(s, d, spec, jobs[i].seed, be, s.log_each ? &log : nullptr, false);
    out.log = log.str();
    return out;
  };
  const auto announce = [&](std::size_t i) {
    if (i == 0 || jobs[i - 1].spec != jobs[i].spec) announce_model(s, d, specs[jobs[i].spec]);
  };
  std::vector<RunResult> results;
  const auto deliver = [&](std::size_t, Outcome& out) {
    std::cout << out.log << std::flush;
    print_run_line(s, out.result);
    results.push_back(std::move(out.result));
    *last_model = std::move(out.model);
  };
  run_side_by_side<Outcome>(jobs.size(), side_by_side_width(backend, jobs.size()), backend, run,
                            announce, deliver);
  return results;
}

}  // namespace rnnattn::cli
