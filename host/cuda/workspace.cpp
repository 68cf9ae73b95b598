// The layout of the caller's workspace and reserve (handle_impl.hpp): one function carves both
// into 256-byte-aligned tensors and answers the size queries, so the two cannot disagree.
#include <algorithm>
#include <cstdint>
#include <string>

#include "cuda/handle_impl.hpp"
#include "model_math.hpp"
#include "rnnattn/error.hpp"

namespace rnnattn::cuda {

// A caller's workspace or reserve for a call: present, large enough and aligned, else
// InvalidArgument naming the call and what it needs.
void check_region(const char* call, const char* what, const void* base, std::size_t bytes,
                  std::size_t need, int batch) {
  if (need > 0 && base == nullptr) {
    throw InvalidArgument(std::string(call) + ": " + what + " is null; it needs " +
                          std::to_string(need) + " bytes at B = " + std::to_string(batch));
  }
  if (bytes < need) {
    throw InvalidArgument(std::string(call) + ": " + what + " of " + std::to_string(bytes) +
                          " bytes; B = " + std::to_string(batch) + " needs " +
                          std::to_string(need) + " (" + what + "_size)");
  }
  if (reinterpret_cast<std::uintptr_t>(base) % kAlign != 0) {
    throw InvalidArgument(std::string(call) + ": " + what +
                          " must be aligned to 256 bytes (as cudaMalloc returns)");
  }
}

std::size_t Handle::Impl::layout_layered(Region region, int batch, Pass pass, Carver& cv,
                                         Buffers& b) const {
  const ModelConfig& c = config;
  const std::size_t B = batch, bt = B * c.steps, H = c.hidden_size, O = c.output_size,
                    C = c.context_size(), GH = gates_of(c.cell) * H,
                    kept = static_cast<std::size_t>(aux_width(c.cell)) * H;
  const std::size_t blocks = static_cast<std::size_t>(c.layers) * c.directions();
  const bool unfused = path == Path::kUnfused;
  if (region == Region::kReserve || pass == Pass::kInference) {
    b.hidden = cv.take<float>(c.layers * bt * C);
    b.scores = cv.take<float>(bt);
    b.expsum = cv.take<float>(B);
    b.context = cv.take<float>(B * C);
    if (c.dot_attention()) b.rowsum = cv.take<float>(bt);
  }
  if (region == Region::kReserve) {
    if (gated()) b.aux = cv.take<float>(blocks * bt * kept);
    if (c.dropout > 0.f) b.kept = cv.take<float>(B * C);
    return cv.used();
  }
  // A layer's two directions run in one launch (the segment and cluster kernels), each with its
  // own input projection, Wh^T, dz and dz_next (and the GRU's drec_first): `planes` of each.
  const std::size_t planes = c.directions();
  if (!gated() && path == Path::kFused)
    b.order = cv.take<int>(B);  // the cluster kernels' groups by length
  b.xw = cv.take<float>(planes * bt * GH);
  if (gated() && unfused) {
    b.rec = cv.take<float>(B * GH);
    if (pass == Pass::kInference) b.aux = cv.take<float>(bt * kept);
  }
  if (pass == Pass::kTraining) {
    if (!(gated() && unfused)) b.wh_t = cv.take<float>(planes * GH * H);
    b.dpre = cv.take<float>(B * O);
    b.du = cv.take<float>(bt);
    b.dtop = cv.take<float>(bt * C);
    b.din = cv.take<float>(bt * C);
    b.dz = cv.take<float>(planes * bt * GH);
    b.dz_next = cv.take<float>(planes * bt * GH);
    b.ones = cv.take<float>(std::max<std::size_t>(bt, B));
    if (c.score == AttentionScore::kDotScaled && c.attention) b.dscale = cv.take<float>(B);
    if (c.cell == Cell::kGru) b.drec_first = cv.take<float>(planes * B * GH);
    if (gated() && unfused) {
      b.carry = cv.take<float>(B * H);
      if (c.cell == Cell::kLstm) b.carry_c = cv.take<float>(B * H);
    }
  }
  return cv.used();
}

std::size_t Handle::Impl::layout(Region region, int batch, Pass pass, void* base,
                                 Buffers& b) const {
  const ModelConfig& c = config;
  const std::size_t B = batch, bt = B * c.steps, H = c.hidden_size, O = c.output_size;
  Carver cv(base);
  if (layered()) return layout_layered(region, batch, pass, cv, b);
  const bool unfused = path == Path::kUnfused;
  auto kept = [&] {  // the forward's stored tensors (the fused backward needs no weights)
    b.hidden = cv.take<float>(bt * H);
    b.scores = cv.take<float>(bt);
    b.expsum = cv.take<float>(B);
    b.context = cv.take<float>(B * H);
    if (unfused) b.attention = cv.take<float>(bt);
  };
  if (region == Region::kReserve) {
    kept();
    return cv.used();
  }
  if (pass == Pass::kInference && unfused) kept();
  if (persistent_capable()) {
    b.persist = cv.take<float>(kernels::persistent_scratch_floats(kernels::shape_of(c, batch)));
    b.order = cv.take<int>(B);
  }
  if (unfused) {
    b.ex = cv.take<float>(bt);
    std::size_t cub = 0;
    kernels::unfused_row_sums(nullptr, batch, c.steps, nullptr, nullptr, &cub, nullptr);
    b.cub_bytes = cub;
    b.cub_temp = cv.take<unsigned char>(cub);
    b.rec = cv.take<float>(B * H);  // h_{t-1} Wh of one step
  }
  b.xw = cv.take<float>(bt * H);
  if (pass == Pass::kTraining) {
    if (!unfused) b.wh_t = cv.take<float>(H * H);
    b.dpre = cv.take<float>(B * O);
    b.du = cv.take<float>(bt);
    b.dz = cv.take<float>(bt * H);
    b.dz_next = cv.take<float>(bt * H);
    b.ones = cv.take<float>(std::max<std::size_t>(bt, B));
    if (unfused) {
      b.dc = cv.take<float>(B * H);
      b.g_dot_c = cv.take<float>(B);
      b.dh = cv.take<float>(bt * H);
      b.carry = cv.take<float>(B * H);
    }
  }
  return cv.used();
}

void Handle::Impl::carve(Region region, int batch, Pass pass, void* base, std::size_t bytes,
                         const char* call, Buffers& b) const {
  const char* what = region == Region::kReserve ? "reserve" : "workspace";
  check_region(call, what, base, bytes, layout(region, batch, pass, nullptr, b), batch);
  layout(region, batch, pass, base, b);
}

}  // namespace rnnattn::cuda
