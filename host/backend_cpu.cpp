// The CPU backends: "reference", the plain oracle (host/reference.cpp), and "cpu", the fast path
// (host/cpu_fast.cpp) wherever it wins over the reference for the shape (fast::preferred).
#include "backend_cpu.hpp"

#include <algorithm>
#include <string>

#include "cpu_fast.hpp"
#include "model_math.hpp"
#include "rnnattn/error.hpp"
#include "rnnattn/params.hpp"
#include "rnnattn/reference.hpp"

namespace rnnattn {
namespace {

class CpuTrainingSession final : public TrainingSession {
 public:
  CpuTrainingSession(bool fast, const ModelConfig& config, const AdamConfig& adam,
                     const std::vector<float>& params, const AdamState& state)
      : fast_(fast),
        full_(config),
        config_(config.recurrent_part()),
        adam_(adam),
        params_(params),
        state_(state) {
    const ParamLayout layout(full_);
    const std::size_t n = layout.size();
    emb_ = layout.emb;
    if (params_.size() != n) {
      throw InvalidArgument("params: expected " + std::to_string(n) + " values for " +
                            describe(config) + ", got " + std::to_string(params_.size()));
    }
    adam_.validate();
    if (state_.m.empty() && state_.v.empty() && state_.step == 0) state_.reset(n);
    grads_.resize(n);
  }

  void set_dataset(const float* x, const float* y, int n, const int* lengths) override {
    if (full_.embedded()) {
      throw InvalidArgument("this model embeds token ids: train it with set_token_dataset");
    }
    if (n < 1) throw InvalidArgument("dataset: need at least one window, got " + std::to_string(n));
    check_lengths(config_, lengths, n);
    if (!x || !y) throw InvalidArgument("dataset: x or y is null");
    const std::size_t xs = static_cast<std::size_t>(config_.steps) * config_.input_size;
    x_.assign(x, x + n * xs);
    set_targets(y, n, lengths);
  }

  void set_token_dataset(const int* tokens, const float* y, int n, const int* lengths) override {
    if (n < 1) throw InvalidArgument("dataset: need at least one window, got " + std::to_string(n));
    check_tokens(full_, tokens, n, lengths);
    if (!y) throw InvalidArgument("dataset: y is null");
    tokens_.assign(tokens, tokens + static_cast<std::size_t>(n) * full_.steps);
    set_targets(y, n, lengths);
  }

  int train_batches(const std::vector<int>& order, int batch_size, double* loss_sum) override {
    if (batch_size < 1) {
      throw InvalidArgument("batch size must be >= 1, got " + std::to_string(batch_size));
    }
    if (count_ == 0) throw InvalidArgument("train_batches: no dataset was set");
    const std::size_t xs = static_cast<std::size_t>(config_.steps) * config_.input_size;
    const std::size_t os = config_.output_size;
    int batches = 0;
    for (std::size_t start = 0; start < order.size(); start += batch_size) {
      const int b = static_cast<int>(std::min<std::size_t>(batch_size, order.size() - start));
      const bool tok = full_.embedded();
      const std::size_t T = config_.steps;
      bx_.resize(b * xs);
      if (tok) btok_.resize(b * T);
      bl_.resize(b);
      by_.resize(b * os);
      for (int i = 0; i < b; ++i) {
        const int k = order[start + i];
        if (k < 0 || k >= count_) {
          throw InvalidArgument("train_batches: index " + std::to_string(k) + " outside [0, " +
                                std::to_string(count_) + ")");
        }
        if (tok) {
          std::copy_n(&tokens_[k * T], T, &btok_[i * T]);
        } else {
          std::copy_n(&x_[k * xs], xs, &bx_[i * xs]);
        }
        std::copy_n(&y_[k * os], os, &by_[i * os]);
        if (!lengths_.empty()) bl_[i] = lengths_[k];
      }
      const int* bl = lengths_.empty() ? nullptr : bl_.data();
      pred_.resize(b * os);
      dy_.resize(b * os);
      // A token model: the batch's rows of the table, and dL/dx for the table's gradient.
      float* dx = nullptr;
      // (The ids were checked once, by set_token_dataset.)
      if (tok) {
        embed_rows(params_.data() + emb_, btok_.data(), bl, b, config_.steps, config_.input_size,
                   bx_.data());
        dx_.resize(b * xs);
        dx = dx_.data();
      }
      // This step's dropout masks: the run's seed and the updates made so far.
      const DropoutKey key{seed_, state_.step};
      const DropoutKey* dk = config_.any_dropout() ? &key : nullptr;
      if (fast_ && fast::preferred(config_, b)) {
        fast::forward(config_, params_.data(), bx_.data(), b, bl, ws_, dk);
        *loss_sum +=
            reference_loss<float>(config_.loss, ws_.y.data(), by_.data(), b * os, dy_.data(), os);
        fast::backward(config_, params_.data(), bx_.data(), b, bl, dy_.data(), grads_.data(), dx,
                       ws_);
      } else {
        reference_forward<float>(config_, params_.data(), bx_.data(), b, pred_.data(), nullptr,
                                 nullptr, nullptr, bl, dk);
        *loss_sum +=
            reference_loss<float>(config_.loss, pred_.data(), by_.data(), b * os, dy_.data(), os);
        reference_backward<float>(config_, params_.data(), bx_.data(), b, dy_.data(), grads_.data(),
                                  dx, bl, dk);
      }
      if (tok) {
        embed_grad_rows(btok_.data(), bl, b, config_.steps, config_.input_size, full_.vocab_size,
                        dx, grads_.data() + emb_);
      }
      adam_update(adam_, state_, params_.data(), grads_.data(), params_.size());
      ++batches;
    }
    return batches;
  }

  std::vector<float> parameters() const override { return params_; }
  AdamState adam_state() const override { return state_; }

 private:
  void set_targets(const float* y, int n, const int* lengths) {
    y_.assign(y, y + static_cast<std::size_t>(n) * config_.output_size);
    if (lengths) {
      lengths_.assign(lengths, lengths + n);
    } else {
      lengths_.clear();
    }
    count_ = n;
  }

  bool fast_;
  fast::Workspace ws_;
  ModelConfig full_;     // the model, its embedding included
  ModelConfig config_;   // its recurrent part (full_ without the embedding)
  std::size_t emb_ = 0;  // the table's offset in params_ (a model with an embedding)
  AdamConfig adam_;
  std::vector<float> params_, grads_;
  AdamState state_;
  std::vector<float> x_, y_;
  std::vector<int> tokens_;   // [n, T] (token models) instead of x_
  std::vector<int> lengths_;  // empty: every window has T steps
  int count_ = 0;
  std::vector<float> bx_, by_, pred_, dy_, dx_;  // per-batch scratch
  std::vector<int> bl_, btok_;
};

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(bool fast) : fast_(fast) {}
  std::string name() const override { return fast_ ? "cpu" : "reference"; }

  void forward(const ModelConfig& config, const float* params, const float* x, int batch, float* y,
               float* attention, float* hidden, const int* lengths) override {
    if (!fast_ || !fast::preferred(config, batch)) {
      reference_forward<float>(config, params, x, batch, y, attention, hidden, nullptr, lengths);
      return;
    }
    check_forward_args(config, params, x, batch, y, attention);
    check_lengths(config, lengths, batch);
    fast::forward(config, params, x, batch, lengths, ws_);
    std::copy(ws_.y.begin(), ws_.y.end(), y);
    fast::copy_outputs(ws_, attention, hidden);
  }

  void backward(const ModelConfig& config, const float* params, const float* x, int batch,
                const float* dy, float* dparams, float* dx, const int* lengths) override {
    if (!fast_ || !fast::preferred(config, batch)) {
      reference_backward<float>(config, params, x, batch, dy, dparams, dx, lengths);
      return;
    }
    check_inputs(config, params, x, batch);
    check_lengths(config, lengths, batch);
    if (!dy) throw InvalidArgument("dy [B,O] is null");
    if (!dparams) throw InvalidArgument("dparams is null");
    fast::forward(config, params, x, batch, lengths, ws_);
    fast::backward(config, params, x, batch, lengths, dy, dparams, dx, ws_);
  }

  std::unique_ptr<TrainingSession> start_training(const ModelConfig& config, const AdamConfig& adam,
                                                  const std::vector<float>& params,
                                                  const AdamState& state) override {
    return std::make_unique<CpuTrainingSession>(fast_, config, adam, params, state);
  }

 private:
  bool fast_;
  fast::Workspace ws_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(bool fast) { return std::make_unique<CpuBackend>(fast); }

}  // namespace rnnattn
