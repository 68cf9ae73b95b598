// rnnattn profile: one pass of the CUDA backend with per-kernel launches and times (GPU) or
// memory counters (GPU simulator). Built with CUDA only (profile_unavailable.cpp otherwise).
#include <iostream>
#include <sstream>

#include "cli/common.hpp"
#include "cli/json.hpp"
#include "cuda/runtime.hpp"
#include "io.hpp"
#include "rnnattn/cuda.hpp"

namespace rnnattn::cli {
namespace {

// Stacked and bidirectional Elman models: what follows the design's choice for their blocks.
constexpr const char* kLayeredPlan =
    "; layer by layer, a layer's directions side by side (one launch of the segment or cluster "
    "kernels, one grid of the persistent ones where it is co-resident), then the "
    "attention-and-head kernels";

// Where a gated model's attention and head run on the fused path: inside the segment kernels of
// a one-layer, one-direction model, else (stacked, bidirectional or persistent) after them.
std::string head_note(const ModelConfig& c, bool persistent) {
  return c.layers == 1 && !c.bidirectional && !persistent
             ? "; one layer, one direction: the attention and head inside the recurrence's kernels"
             : "; then the attention-and-head kernels over the top layer's states";
}

// What the options ask for: the model, the batch, the pass, the path and the recurrence.
struct ProfileSetup {
  ModelConfig cfg;
  int B = 1;
  std::string pass, device, rec_name;
  cuda::Recurrence rec = cuda::Recurrence::kAuto;
  bool gated = false, layered = false;
};

ProfileSetup parse_profile(const Args& a) {
  for (const char* need : {"--batch", "--steps", "--input", "--hidden"}) {
    if (!a.has(need))
      throw UsageError(std::string(need) + " is required (see 'rnnattn profile --help')");
  }
  ProfileSetup s;
  ModelConfig& cfg = s.cfg;
  s.B = static_cast<int>(a.get_int("--batch", 1));
  cfg.steps = static_cast<int>(a.get_int("--steps", 1));
  cfg.input_size = static_cast<int>(a.get_int("--input", 1));
  cfg.hidden_size = static_cast<int>(a.get_int("--hidden", 1));
  const std::string model = a.get("--model", "attention");
  if (model != "attention" && model != "plain") {
    throw UsageError("--model must be attention or plain, got '" + model + "'");
  }
  cfg.attention = model == "attention";
  cfg.score = parse_score(a.get("--attention", "additive"));
  if (a.has("--attention") && !cfg.attention) {
    throw UsageError("--attention applies to attention models, not --model plain");
  }
  cfg.cell = parse_cell(a.get("--cell", "elman"));
  cfg.layers = static_cast<int>(a.get_int("--layers", 1));
  cfg.bidirectional = a.has("--bidirectional");
  cfg.validate();
  s.pass = a.get("--pass", "forward");
  if (s.pass != "forward" && s.pass != "backward" && s.pass != "train") {
    throw UsageError("--pass must be forward, backward or train, got '" + s.pass + "'");
  }
  s.device = a.get("--device", "cuda");
  if (s.device != "cuda" && s.device != "cuda-unfused") {
    throw UsageError("--device must be cuda or cuda-unfused, got '" + s.device + "'");
  }
  check_device_supports(parse_device(s.device), cfg);  // the CUDA paths' H limit, --plan included
  s.rec_name = a.get("--recurrence", "auto");
  const std::string& r = s.rec_name;
  if (r != "auto" && r != "segment" && r != "persistent" && r != "cluster") {
    throw UsageError("--recurrence must be auto, segment, persistent or cluster, got '" + r + "'");
  }
  s.rec = r == "segment"      ? cuda::Recurrence::kSegment
          : r == "persistent" ? cuda::Recurrence::kPersistent
          : r == "cluster"    ? cuda::Recurrence::kCluster
                              : cuda::Recurrence::kAuto;
  s.gated = cfg.cell != Cell::kElman;
  s.layered = cfg.layers > 1 || cfg.bidirectional || cfg.dot_attention();  // as the Handle runs it
  if (s.gated && s.rec == cuda::Recurrence::kCluster) {
    throw UsageError("--recurrence cluster: the cluster kernels are the Elman cell's; the " +
                     std::string(to_string(cfg.cell)) + " runs its segment or persistent kernels");
  }
  return s;
}

// --plan: the model's choice and predicted times, on this GPU or an H100's defaults.
void print_plan(const ProfileSetup& s) {
  const ModelConfig& cfg = s.cfg;
  const bool gpu = cuda_backend_available();
  const cuda::GpuLimits limits = gpu ? cuda::current_gpu_limits() : cuda::GpuLimits{};
  std::string plan;
  if (s.gated) {
    const cuda::GatedPlan p =
        cuda::plan_gated(s.B, cfg.hidden_size, gates_of(cfg.cell), limits, cfg.directions());
    plan = p.describe() + head_note(cfg, p.persistent);
  } else {
    plan = s.layered ? cuda::plan_layer(s.B, cfg.hidden_size, cfg.directions(), limits).describe() +
                           kLayeredPlan
                     : cuda::plan_recurrence(s.B, cfg.hidden_size, limits).describe();
  }
  std::printf("plan: B=%d H=%d%s on %s: %s\n", s.B, cfg.hidden_size,
              s.gated ? (std::string(" cell=") + to_string(cfg.cell)).c_str() : "",
              gpu ? "this GPU" : "an H100 (no GPU visible)", plan.c_str());
  std::string resident;
  for (int n = 1; n <= kernels::kClusterMaxBlocks; ++n) {
    if (n > 1) resident += '/';
    resident += std::to_string(limits.resident_clusters[n]);
  }
  std::printf(
      "gpu (%s): %d SMs, %zu bytes of shared memory a block, cooperative %s, clusters of "
      "1..8 blocks resident at once (one block an SM): %s\n",
      gpu ? "queried" : "an H100 SXM's defaults", limits.sms, limits.smem_per_block,
      limits.cooperative ? "yes" : "no", limits.clusters ? resident.c_str() : "none");
  cuda::PassShape shape;
  shape.batch = s.B;
  shape.steps = cfg.steps;
  shape.input = cfg.input_size;
  shape.hidden = cfg.hidden_size;
  shape.layers = cfg.layers;
  shape.directions = cfg.directions();
  shape.gates = gates_of(cfg.cell);
  const cuda::PassPrediction pass = cuda::predict_passes(shape, limits);
  std::printf(
      "passes (model, T=%d, D=%d): forward %.3g ms (recurrence %.3g ms, input projections %.3g "
      "ms), training step %.3g ms (docs/performance.md, \"Whole passes\")\n",
      cfg.steps, cfg.input_size, pass.forward_ms, pass.recurrence_ms, pass.gemm_ms,
      pass.training_ms);
}

// One pass on random inputs through the device API, after an unrecorded warm-up, profiled.
std::vector<cuda::KernelProfile> profile_pass(const ProfileSetup& s, cuda::Handle& h,
                                              cudaStream_t st) {
  const ModelConfig& cfg = s.cfg;
  const int B = s.B;
  const std::size_t P = h.parameter_count();
  const std::size_t nx = static_cast<std::size_t>(B) * cfg.steps * cfg.input_size;
  Rng rng(1);
  auto upload = [&](const std::vector<float>& v) {
    DeviceBuffer<float> d(v.size(), "profile input");
    RNNATTN_CUDA_CHECK(
        cudaMemcpyAsync(d.get(), v.data(), v.size() * sizeof(float), cudaMemcpyHostToDevice, st));
    return d;
  };
  auto random = [&](std::size_t n, double lo, double hi) {
    std::vector<float> v(n);
    for (float& f : v) f = static_cast<float>(rng.uniform(lo, hi));
    return upload(v);
  };
  DeviceBuffer<float> params = upload(init_parameters(cfg, 1)), x = random(nx, -1, 1),
                      target = random(B, -0.5, 0.5), m = upload(std::vector<float>(P, 0.f)),
                      v = upload(std::vector<float>(P, 0.f));
  DeviceBuffer<float> y(B, "y"), dy(B, "dy"), grads(P, "grads");
  const bool forward = s.pass == "forward", train = s.pass == "train";
  DeviceBuffer<unsigned char> work(
      h.workspace_size(B, forward ? cuda::Pass::kInference : cuda::Pass::kTraining), "workspace");
  DeviceBuffer<unsigned char> reserve(forward ? 0 : h.reserve_size(B), "reserve");
  DeviceBuffer<std::int64_t> step(1, "adam step");
  RNNATTN_CUDA_CHECK(cudaMemsetAsync(step.get(), 0, sizeof(std::int64_t), st));
  auto run = [&] {
    if (forward) {
      h.forward_inference(params.get(), x.get(), B, y.get(), nullptr, work.get(), work.size());
      return;
    }
    h.forward_training(params.get(), x.get(), B, y.get(), nullptr, nullptr, reserve.get(),
                       reserve.size(), work.get(), work.size());
    if (train) h.loss_gradient(y.get(), target.get(), B, dy.get(), nullptr);
    h.backward(params.get(), x.get(), B, y.get(), train ? dy.get() : target.get(), reserve.get(),
               reserve.size(), grads.get(), nullptr, cuda::GradMode::kOverwrite, work.get(),
               work.size());
    if (train) h.adam_update(AdamConfig{}, params.get(), grads.get(), m.get(), v.get(), step.get());
  };
  run();  // warm-up: module loading, first-use attribute calls
  RNNATTN_CUDA_CHECK(cudaStreamSynchronize(st));
  cuda::Profiler profiler;
  run();
  return profiler.results();
}

// Which recurrence ran, beside the model's choice.
void print_recurrence(const ProfileSetup& s, const cuda::Handle& h) {
  const ModelConfig& cfg = s.cfg;
  const int B = s.B;
  if (s.device != "cuda") return;
  const cuda::GpuLimits limits = cuda::current_gpu_limits();
  if (s.gated) {
    const bool persistent = h.recurrence_for(B) == cuda::Recurrence::kPersistent;
    std::printf("recurrence: %s (--recurrence %s)%s; the model: %s\n",
                persistent ? "persistent" : "segment", s.rec_name.c_str(),
                head_note(cfg, persistent).c_str(),
                cuda::plan_gated(B, cfg.hidden_size, gates_of(cfg.cell), limits, cfg.directions())
                    .describe()
                    .c_str());
    return;
  }
  const cuda::Recurrence runs = h.recurrence_for(B);
  const char* name = runs == cuda::Recurrence::kPersistent ? "persistent"
                     : runs == cuda::Recurrence::kCluster  ? "cluster"
                                                           : "segment";
  const std::string model =
      s.layered
          ? cuda::plan_layer(B, cfg.hidden_size, cfg.directions(), limits).describe() + kLayeredPlan
          : cuda::plan_recurrence(B, cfg.hidden_size, limits).describe();
  std::printf("recurrence: %s (--recurrence %s); the model: %s\n", name, s.rec_name.c_str(),
              model.c_str());
}

// The table of kernels (times on a GPU, memory counters in the simulator), and its JSON.
std::string print_profile(const std::vector<cuda::KernelProfile>& prof) {
  const bool sim = cuda::Profiler::simulated();
  if (sim) {
    std::printf(
        "| kernel | launches | global load efficiency | global store efficiency | "
        "shared wavefronts / request | shared wavefronts / ideal |\n|---|---|---|---|---|---|\n");
  } else {
    std::printf("| kernel | launches | ms |\n|---|---|---|\n");
  }
  Json j;
  j.begin_array();
  for (const cuda::KernelProfile& k : prof) {
    j.begin_object().value("kernel", k.kernel).value("launches", k.launches);
    if (sim) {
      std::printf("| %s | %d | %.3f | %.3f | %.3f | %.3f |\n", k.kernel.c_str(), k.launches,
                  k.global_load_efficiency(), k.global_store_efficiency(),
                  k.shared_wavefronts_per_request(), k.shared_wavefronts_per_ideal());
      j.value("global_load_efficiency", k.global_load_efficiency())
          .value("global_store_efficiency", k.global_store_efficiency())
          .value("shared_wavefronts_per_request", k.shared_wavefronts_per_request())
          .value("shared_wavefronts_per_ideal", k.shared_wavefronts_per_ideal());
    } else {
      std::printf("| %s | %d | %.4f |\n", k.kernel.c_str(), k.launches, k.ms);
      j.value("ms", k.ms);
    }
    j.end_object();
  }
  j.end_array();
  return j.str();
}

}  // namespace

int cmd_profile(const std::vector<std::string>& argv) {
  if (wants_help(argv)) {
    std::cout << help_text(kProfile);
    return 0;
  }
  const Args a(kProfile, argv);
  const ProfileSetup s = parse_profile(a);
  if (a.has("--plan")) {
    print_plan(s);
    return 0;
  }
  const std::string json_path = a.get("--json", "");
  check_outputs({{"--json", json_path}}, {});
  if (!cuda_backend_available()) {
    throw Unavailable(
        "profile: no CUDA GPU is visible on this machine (the GPU simulator build "
        "profiles without one)");
  }
  CudaStream stream;
  cuda::Handle h(s.cfg, stream.get(), nullptr,
                 s.device == "cuda" ? cuda::Path::kFused : cuda::Path::kUnfused);
  h.set_recurrence(s.rec);
  const std::vector<cuda::KernelProfile> prof = profile_pass(s, h, stream.get());
  std::printf("profile: %s, %s pass, B=%d, device %s%s\n", describe(s.cfg).c_str(), s.pass.c_str(),
              s.B, s.device.c_str(),
              cuda::Profiler::simulated() ? " (GPU simulator: memory counters, no times)" : "");
  print_recurrence(s, h);
  const std::string json = print_profile(prof);
  if (!json_path.empty()) write_file_atomic(json_path, json);
  return 0;
}

}  // namespace rnnattn::cli
