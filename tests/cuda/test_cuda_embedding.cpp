// The embedding on the GPU (kernels/embedding.cu, through the device API) against the CPU
// reference: the gather, the table's gradient as CUB's sorted segmented sum (repeated ids in one
// batch, ids that occur nowhere, padding, the sort's bit widths), and training a token model on the
// GPU against the CPU. Every test skips, saying why, where no GPU exists (the simulator runs them).
//
// Tolerances: the gather is a copy (exact). The table's gradient sums each id's dx rows in
// position order, as the reference does, so it matches the reference to the bit; training
// compares with the CPU's within the float32 tolerances of test_gpu_recurrence.cpp.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cuda/backend_cuda.hpp"
#include "cuda/cuda_test_util.hpp"
#include "rnnattn/cuda.hpp"
#include "rnnattn/rnnattn.hpp"
#include "test_util.hpp"

namespace rnnattn {
namespace {

using test::all_close;
using test::poisoned;
using test::random_vector;
using test::to_device;
using test::to_host;

struct EmbedShape {
  int b, t, d, v;
  bool lengths;
  int distinct;  // ids drawn from [0, distinct): repeats, and rows that occur nowhere
};

std::string shape_name(const ::testing::TestParamInfo<EmbedShape>& info) {
  const EmbedShape& s = info.param;
  return "B" + std::to_string(s.b) + "_T" + std::to_string(s.t) + "_D" + std::to_string(s.d) +
         "_V" + std::to_string(s.v) + (s.lengths ? "_lengths" : "") + "_ids" +
         std::to_string(s.distinct);
}

class CudaEmbedding : public ::testing::TestWithParam<EmbedShape> {};

TEST_P(CudaEmbedding, MatchesTheReference) {
  SKIP_WITHOUT_GPU();
  const EmbedShape& s = GetParam();
  ModelConfig cfg;
  cfg.vocab_size = s.v;
  cfg.input_size = s.d;
  cfg.steps = s.t;
  cfg.hidden_size = 3;
  const ParamLayout layout(cfg);
  const std::vector<float> params = random_vector<float>(layout.size(), 17);
  Rng rng(29);
  std::vector<int> lengths(s.b, s.t), tokens(static_cast<std::size_t>(s.b) * s.t);
  for (int b = 0; b < s.b; ++b) {
    if (s.lengths) lengths[b] = 1 + static_cast<int>(rng.below(s.t));
    for (int t = 0; t < s.t; ++t) {
      // Padding steps hold ids outside [0, V): they must be ignored.
      tokens[b * s.t + t] =
          t >= lengths[b] ? (t % 2 ? -3 : s.v + 5) : static_cast<int>(rng.below(s.distinct));
    }
  }
  const int* len = s.lengths ? lengths.data() : nullptr;
  const std::size_t nx = static_cast<std::size_t>(s.b) * s.t * s.d;
  const std::vector<float> dx = random_vector<float>(nx, 31);

  std::vector<float> x_ref(nx), g_ref(layout.size(), 0.f);
  embedding_forward<float>(cfg, params.data(), tokens.data(), s.b, x_ref.data(), len);
  embedding_backward<float>(cfg, tokens.data(), s.b, dx.data(), g_ref.data(), len);

  CudaStream stream;
  const cudaStream_t st = stream.get();
  cuda::Handle h(cfg, st);
  const DeviceBuffer<float> d_p = to_device(params, st), d_dx = to_device(dx, st);
  const DeviceBuffer<int> d_tok = to_device(tokens, st), d_len = to_device(lengths, st);
  DeviceBuffer<float> d_x = poisoned(nx, st), d_g = poisoned(layout.size(), st);
  DeviceBuffer<unsigned char> ws(h.workspace_size(s.b), "workspace");
  h.embed(d_p.get(), d_tok.get(), s.b, d_x.get(), s.lengths ? d_len.get() : nullptr);
  h.embedding_backward(d_tok.get(), s.b, d_dx.get(), d_g.get(), cuda::GradMode::kOverwrite,
                       ws.get(), ws.size(), s.lengths ? d_len.get() : nullptr);
  EXPECT_EQ(to_host(d_x, st), x_ref);
  const std::vector<float> g = to_host(d_g, st);
  const std::vector<float> demb(g.begin() + layout.emb, g.end());
  const std::vector<float> want(g_ref.begin() + layout.emb, g_ref.end());
  EXPECT_EQ(demb, want);  // every row: the ids' sums, zero elsewhere (the output was poisoned)
  // The rest of dparams is left alone (still the poison).
  for (std::size_t i = 0; i < layout.emb; ++i) ASSERT_TRUE(std::isnan(g[i])) << i;
  // Accumulating adds the same sums again.
  h.embedding_backward(d_tok.get(), s.b, d_dx.get(), d_g.get(), cuda::GradMode::kAccumulate,
                       ws.get(), ws.size(), s.lengths ? d_len.get() : nullptr);
  const std::vector<float> g2 = to_host(d_g, st);
  std::vector<float> twice(want);
  for (float& v : twice) v += v;
  EXPECT_EQ(std::vector<float>(g2.begin() + layout.emb, g2.end()), twice);
}

// 1 of everything; odd sizes; D around the reduce block (128 +- 1) and a warp; one id repeated
// everywhere (one long run); a vocabulary whose ids need 13 bits; many sequences.
INSTANTIATE_TEST_SUITE_P(
    Gpu, CudaEmbedding,
    ::testing::Values(EmbedShape{1, 1, 1, 1, false, 1}, EmbedShape{3, 5, 7, 11, true, 6},
                      EmbedShape{2, 9, 33, 5, false, 1}, EmbedShape{4, 6, 127, 20, true, 20},
                      EmbedShape{5, 3, 128, 9, false, 4}, EmbedShape{3, 4, 129, 40, true, 13},
                      EmbedShape{70, 13, 3, 5000, true, 4999}, EmbedShape{6, 40, 2, 3, true, 3}),
    shape_name);

TEST(CudaEmbeddingApi, RefusesBadCalls) {
  SKIP_WITHOUT_GPU();
  ModelConfig plain;
  CudaStream stream;
  cuda::Handle h(plain, stream.get());
  DeviceBuffer<float> p(8), x(8);
  DeviceBuffer<int> tok(8);
  EXPECT_THROW(h.embed(p.get(), tok.get(), 1, x.get()), InvalidArgument);  // no embedding
  ModelConfig cfg;
  cfg.vocab_size = 4;
  cfg.steps = 2;
  cuda::Handle e(cfg, stream.get());
  EXPECT_EQ(e.parameter_count(), ParamLayout(cfg).size());
  EXPECT_THROW(e.embed(p.get(), nullptr, 1, x.get()), InvalidArgument);
  EXPECT_THROW(e.embed(p.get(), tok.get(), 0, x.get()), InvalidArgument);
  DeviceBuffer<unsigned char> small(1);
  EXPECT_THROW(e.embedding_backward(tok.get(), 2, x.get(), p.get(), cuda::GradMode::kOverwrite,
                                    small.get(), small.size()),
               InvalidArgument);
}

// A token model trained on the GPU (the whole step captured: gather ids, embed, forward, loss,
// backward, table gradient, Adam) against the CPU session: losses and every parameter.
TEST(CudaEmbeddingTraining, MatchesTheCpu) {
  SKIP_WITHOUT_GPU();
  for (const Cell cell : {Cell::kElman, Cell::kLstm}) {
    SCOPED_TRACE(to_string(cell));
    ModelConfig cfg;
    cfg.cell = cell;
    cfg.vocab_size = 23;
    cfg.input_size = 5;
    cfg.hidden_size = 6;
    cfg.steps = 7;
    cfg.bidirectional = cell == Cell::kLstm;
    cfg.head = Activation::kSigmoid;
    cfg.loss = Loss::kBce;
    const int n = 29;
    Rng rng(8);
    std::vector<int> tokens(static_cast<std::size_t>(n) * cfg.steps), lengths(n);
    std::vector<float> y(n);
    for (int i = 0; i < n; ++i) {
      lengths[i] = 1 + static_cast<int>(rng.below(cfg.steps));
      for (int t = 0; t < cfg.steps; ++t) {
        tokens[i * cfg.steps + t] = t < lengths[i] ? static_cast<int>(rng.below(15)) : 0;
      }
      y[i] = static_cast<float>(i % 2);
    }
    std::vector<int> order(n);
    for (int i = 0; i < n; ++i) order[i] = (i * 11) % n;
    const std::vector<float> params = init_parameters(cfg, 4);
    auto run = [&](Backend& be, std::vector<double>& losses) {
      auto session = be.start_training(cfg, AdamConfig{0.01f}, params, AdamState{});
      session->set_token_dataset(tokens.data(), y.data(), n, lengths.data());
      losses.push_back(session->train_epoch(order, 4));  // graph replays, a tail of 1
      losses.push_back(session->train_epoch(order, 4));
      losses.push_back(session->train_epoch(order, 7));  // another batch size
      return session->parameters();
    };
    std::vector<double> cpu_losses, gpu_losses;
    auto cpu_be = make_backend(Device::kCpu);
    CudaBackend gpu_be(cuda::Path::kFused);
    const std::vector<float> cpu_params = run(*cpu_be, cpu_losses);
    const std::vector<float> gpu_params = run(gpu_be, gpu_losses);
    for (std::size_t i = 0; i < cpu_losses.size(); ++i) {
      EXPECT_NEAR(gpu_losses[i], cpu_losses[i], 1e-4 * cpu_losses[i] + 1e-9) << "epoch " << i;
    }
    EXPECT_TRUE(all_close("params", gpu_params, cpu_params, 1e-5, 1e-4));
    const std::size_t emb = ParamLayout(cfg).emb;
    // Ids 15..22 never occur: their rows never move.
    for (std::size_t i = emb + 15 * cfg.input_size; i < gpu_params.size(); ++i) {
      EXPECT_EQ(gpu_params[i], params[i]) << i;
    }
    // The host-pointer passes run the same model.
    std::vector<float> yc(n), yg(n);
    cpu_be->forward_tokens(cfg, params.data(), tokens.data(), n, yc.data(), nullptr, nullptr,
                           lengths.data());
    gpu_be.forward_tokens(cfg, params.data(), tokens.data(), n, yg.data(), nullptr, nullptr,
                          lengths.data());
    EXPECT_TRUE(all_close("y", yg, yc, 1e-5, 1e-5));
  }
}

}  // namespace
}  // namespace rnnattn
