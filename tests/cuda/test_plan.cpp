// The recurrence plan (host/cuda/plan.hpp): the persistent and cluster kernels' tilings and the
// performance model's choice between them and the segment kernels. Plain host code: runs in every
// build.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <tuple>

#include "cuda/plan.hpp"

namespace rnnattn::cuda {
namespace {

using namespace kernels;  // the tilings and the kernels' constants the plan is checked against

// Every tiling covers the units and the batch exactly once, keeps each thread within 4 rows, uses
// all 256 threads, fits the shared memory, and is co-resident on the GPU it was planned for.
TEST(Plan, TilingsCoverTheWorkAndFit) {
  const GpuLimits h100;
  int possible = 0;
  for (int hidden : {1, 2, 15, 16, 17, 33, 64, 100, 129, 255, 256, 257, 512, 1000, 1024}) {
    for (int batch : {1, 2, 3, 7, 31, 32, 33, 128, 129, 500, 826, 4096}) {
      SCOPED_TRACE("B = " + std::to_string(batch) + " H = " + std::to_string(hidden));
      PersistentTiling t;
      if (!persistent_tiling(batch, hidden, h100, &t)) continue;
      ++possible;
      EXPECT_EQ(t.hidden, hidden);
      EXPECT_GE(t.slices * kPersistentSlice, hidden);
      EXPECT_LT((t.slices - 1) * kPersistentSlice, hidden);
      EXPECT_GE(t.groups * t.group, batch);
      EXPECT_LT((t.groups - 1) * t.group, batch);  // no empty group
      EXPECT_EQ(t.split * kPersistentSlice * t.row_lanes, kPersistentThreads * t.units);
      // Several units a thread only in the Elman kernels' variants for grids of at most one
      // block an SM (registers to spare); one in the 64-register variants for larger grids.
      EXPECT_TRUE(t.units == 1 || t.units == 2 || t.units == 4) << t.units;
      EXPECT_LE(t.units, t.max_units(h100.sms));
      if (t.blocks() > h100.sms) {
        EXPECT_EQ(t.units, 1);
      }
      EXPECT_GE(t.split, 2 * t.units);  // a warp within one row lane
      EXPECT_GE(t.split, 2);
      EXPECT_LE(t.rows, kPersistentMaxRows);
      EXPECT_GE(t.rows * t.row_lanes, t.group);
      EXPECT_EQ(t.padded_hidden() % t.split, 0);
      EXPECT_LE(t.smem_forward_bytes(), h100.smem_per_block);
      EXPECT_LE(t.smem_backward_bytes(), h100.smem_per_block);
      const std::size_t smem = std::max(t.smem_forward_bytes(), t.smem_backward_bytes());
      const int per_sm = static_cast<int>(
          std::min<std::size_t>(kPersistentMinBlocksPerSm, h100.smem_per_sm / smem));
      EXPECT_LE(t.blocks(), per_sm * h100.sms);
    }
  }
  EXPECT_GT(possible, 100);
}

// Every cluster tiling: clusters of at most 8 blocks of at most 4 slices that cover the units
// with no block wholly past H, groups of at most 32 sequences that cover the batch with no empty
// group, each thread within 4 rows, all 256 threads, and the shared memory of both kernels (their
// static arrays included). H > 512 or a GPU without clusters has none.
TEST(Plan, ClusterTilingsCoverTheWorkAndFit) {
  const GpuLimits h100;
  int possible = 0;
  for (int hidden : {1, 2, 15, 16, 17, 33, 64, 100, 129, 255, 256, 257, 300, 511, 512, 513, 1024}) {
    for (int batch : {1, 2, 3, 7, 31, 32, 33, 128, 129, 500, 826, 4096}) {
      SCOPED_TRACE("B = " + std::to_string(batch) + " H = " + std::to_string(hidden));
      ClusterTiling c;
      if (!cluster_tiling(batch, hidden, h100, &c)) {
        EXPECT_GT(hidden, 512);
        continue;
      }
      ++possible;
      const PersistentTiling& t = c.tile;
      EXPECT_EQ(t.hidden, hidden);
      EXPECT_GE(c.cluster, 1);
      EXPECT_LE(c.cluster, kClusterMaxBlocks);
      EXPECT_GE(c.subs, 1);
      EXPECT_LE(c.subs, kClusterMaxSubs);
      EXPECT_GE(c.cluster * c.subs * kPersistentSlice, hidden);
      EXPECT_LT((c.cluster - 1) * c.subs * kPersistentSlice, hidden);  // no block of padding only
      EXPECT_GE(t.groups * t.group, batch);
      EXPECT_LT((t.groups - 1) * t.group, batch);
      EXPECT_LE(t.group, kClusterMaxRows);
      EXPECT_EQ(c.clusters(), t.groups);
      EXPECT_EQ(c.blocks(), c.cluster * t.groups);
      EXPECT_EQ(t.split * kPersistentSlice * t.row_lanes, kPersistentThreads * t.units);
      EXPECT_TRUE(t.units == 1 || t.units == 2 || t.units == 4) << t.units;
      EXPECT_LE(t.units, kClusterMaxUnits);
      EXPECT_GE(t.split, 2 * t.units);  // a warp within one row lane
      EXPECT_LE(t.rows, kPersistentMaxRows);
      EXPECT_GE(t.rows * t.row_lanes, t.group);
      EXPECT_LE(c.smem_forward_bytes() + kMappingStaticBytes, h100.smem_per_block);
      EXPECT_LE(c.smem_backward_bytes() + kMappingStaticBytes, h100.smem_per_block);
    }
  }
  EXPECT_GT(possible, 150);
  ClusterTiling c;
  GpuLimits ampere = h100;
  ampere.clusters = false;
  EXPECT_FALSE(cluster_tiling(128, 256, ampere, &c));
  EXPECT_FALSE(plan_recurrence(128, 256, ampere).cluster_possible);
  EXPECT_FALSE(cluster_tiling(1, 513, h100, &c));
  EXPECT_TRUE(cluster_tiling(1, 512, h100, &c));
  EXPECT_EQ(c.cluster, 8);
  EXPECT_EQ(c.subs, 4);
}

// The Wh slice's layout: at every chunk of the dot product and for each of a thread's units, the
// 32 lanes of a warp (split lanes x 32/split unit lanes, one row lane: split >= 2 units) read
// float4s that put 4 words on every bank (4 wavefronts, the least for 512 bytes), each quarter
// warp (8 lanes: how a 16-byte access is served) on 8 different 16-byte bank groups; and a
// staged row's float4s of the split lanes, shared by the unit lanes, take one wavefront up to 32
// words and 2 at split 16 (as persistent_wavefronts charges). slice_index lays out every (k, j)
// of the padded slice once, within split parts of wh_part floats.
TEST(Plan, SliceLayoutIsFreeOfBankConflicts) {
  for (int units : {1, 2, 4}) {
    for (int split : {2, 4, 8, 16}) {
      if (split < 2 * units) continue;
      for (int hidden : {16, 33, 256, 1024}) {
        PersistentTiling t;
        t.hidden = hidden;
        t.split = split;
        t.units = units;
        const int part = static_cast<int>(t.wh_part_floats());
        ASSERT_EQ(part % kPersistentChunk, 0);  // every float4 16-byte aligned
        ASSERT_EQ(t.padded_hidden() % (split * kPersistentChunk), 0);
        const int unit_lanes = kPersistentSlice / units;
        const int chunks = t.padded_hidden() / (split * kPersistentChunk);
        for (int warp = 0; warp < kPersistentThreads / 32; ++warp) {
          for (int i = 0; i < chunks; ++i) {
            for (int u = 0; u < units; ++u) {
              std::set<int> rows;
              int per_bank[32] = {};
              std::set<int> row_words;
              for (int lane = 0; lane < 32; ++lane) {
                const int tid = warp * 32 + lane;  // persistent_common.cuh's tile_lanes
                const int kk = tid % split, jj = tid / split % unit_lanes;
                rows.insert(tid / (split * unit_lanes));
                // staged_products: float4 (kk part, chunk row i, unit jj + u unit_lanes).
                const int word = kk * part + (i * kPersistentSlice + jj + u * unit_lanes) * 4;
                for (int e = 0; e < 4; ++e) ++per_bank[(word + e) % 32];
                for (int e = 0; e < 4; ++e) row_words.insert(4 * (kk + i * split) + e);
              }
              std::set<int> groups[4];  // the 16-byte bank groups of each quarter warp
              for (int lane = 0; lane < 32; ++lane) {
                const int tid = warp * 32 + lane;
                const int kk = tid % split, jj = tid / split % unit_lanes;
                const int word = kk * part + (i * kPersistentSlice + jj + u * unit_lanes) * 4;
                groups[lane / 8].insert(word / 4 % 8);
              }
              SCOPED_TRACE("split " + std::to_string(split) + " units " + std::to_string(units) +
                           " H " + std::to_string(hidden) + " chunk row " + std::to_string(i));
              EXPECT_EQ(rows.size(), 1u);
              for (int b = 0; b < 32; ++b) EXPECT_EQ(per_bank[b], 4) << "bank " << b;
              for (const auto& q : groups) EXPECT_EQ(q.size(), 8u);
              EXPECT_EQ(static_cast<int>(row_words.size()), split * 4);
            }
          }
        }
        // The layout covers the padded slice exactly once, inside the split parts.
        std::set<int> at;
        for (int k = 0; k < t.padded_hidden(); ++k) {
          for (int jj = 0; jj < kPersistentSlice; ++jj) {
            const int c = k / kPersistentChunk;
            const int idx = (c % split) * part +
                            ((c / split) * kPersistentSlice + jj) * kPersistentChunk +
                            k % kPersistentChunk;  // persistent_common.cuh's slice_index
            EXPECT_LT(idx, split * part);
            EXPECT_LT(idx % part, part);
            at.insert(idx);
          }
        }
        EXPECT_EQ(static_cast<int>(at.size()), t.padded_hidden() * kPersistentSlice);
      }
    }
  }
}

// Register tiling: the cluster kernels' products take several units a thread, summed
// over the split lanes by a reduce-scatter, where the model predicts fewer shared-memory and
// shuffle cycles, which it does for groups of 32 (B512 H256: split 8 x 4 units); and the
// products' 16-byte reads put the large shape's step (B128 H256: groups of 8, 2 slices a block)
// below its one-word-a-term 1.81 us.
TEST(Plan, ClusterProductsTileUnitsInRegisters) {
  const GpuLimits h100;
  ClusterTiling c;
  ASSERT_TRUE(cluster_tiling(512, 256, h100, &c));
  EXPECT_EQ(c.tile.group, 32);
  EXPECT_GT(c.tile.units, 1);
  EXPECT_TRUE(c.tile.scatter);  // 16 products a lane over 8 lanes: 14 shuffles, not 48
  // Where the GPCs hold 16 eight-block clusters, the large shape runs 16 groups of 8 in one wave.
  GpuLimits sixteen = h100;
  sixteen.resident_clusters[8] = 16;
  const RecurrencePlan even = plan_recurrence(128, 256, sixteen);
  ASSERT_TRUE(even.cluster_possible);
  EXPECT_EQ(even.cluster_tiling.tile.group, 8);
  EXPECT_LT(even.cluster_us, 1.6);
  // The default H100 SXM's GPCs hold 15: groups of 9 in one wave, not 16 groups in two.
  const RecurrencePlan large = plan_recurrence(128, 256, h100);
  ASSERT_TRUE(large.cluster_possible);
  EXPECT_EQ(large.cluster_tiling.clusters(), 15);
  EXPECT_EQ(large.cluster_tiling.tile.group, 9);
  EXPECT_LT(large.cluster_us, 1.85);
  GpuLimits fourteen = h100;
  fourteen.resident_clusters = clusters_in_gpcs({18, 18, 18, 18, 16, 16, 14, 14});
  EXPECT_LE(plan_recurrence(128, 256, fourteen).cluster_tiling.clusters(), 14);
}

// Register tiling in the persistent kernels: where the grid is at most one block an SM
// (the Elman kernels' variants with registers to spare), the products take several units a thread
// and the reduce-scatter where the model predicts fewer cycles, as at the wide shape (B32 H1024:
// 64 slices x 2 groups of 16), whose step then meets the target of 0.5 ms for T = 100
// (docs/performance.md); grids larger than the SMs and the gated cells keep one unit (their
// kernels' 64 registers).
TEST(Plan, PersistentProductsTileUnitsInRegisters) {
  const GpuLimits h100;
  const RecurrencePlan wide = plan_recurrence(32, 1024, h100);
  ASSERT_TRUE(wide.persistent);
  EXPECT_LE(wide.tiling.blocks(), h100.sms);
  EXPECT_GT(wide.tiling.units, 1);
  EXPECT_TRUE(wide.tiling.scatter);
  EXPECT_LT(wide.persistent_us, 5.0);  // 10.1 us a step with one unit and scalar staging
  PersistentTiling capped;
  ASSERT_TRUE(persistent_tiling(600, 129, h100, &capped));
  EXPECT_GT(capped.blocks(), h100.sms);
  EXPECT_EQ(capped.units, 1);
  PersistentTiling gated;
  ASSERT_TRUE(persistent_tiling(128, 256, h100, &gated, 4));
  EXPECT_LE(gated.blocks(), h100.sms);
  EXPECT_EQ(gated.units, 1);
}

// Whole passes from the step model: the forward is T steps of the chosen design plus the input
// projections' GEMMs, training adds the backward's steps and weight-gradient GEMMs; longer
// sequences and more layers cost more. The performance targets (docs/performance.md) in the model:
// large forward <= 0.35 ms and training step <= 1.5 ms, wide forward <= 0.5 ms, the notebook's
// shape (bidirectional Elman) training step <= 2 ms.
TEST(Plan, PassPredictionsAddTheStepsAndGemms) {
  const GpuLimits h100;
  PassShape large;
  large.batch = 128;
  large.steps = 200;
  large.input = 100;
  large.hidden = 256;
  const PassPrediction l = predict_passes(large, h100);
  const RecurrencePlan step = plan_recurrence(128, 256, h100);
  EXPECT_NEAR(l.recurrence_ms, 200 * step.cluster_us * 1e-3, 1e-9);
  EXPECT_NEAR(l.forward_ms, l.recurrence_ms + l.gemm_ms, 1e-12);
  EXPECT_GT(l.gemm_ms, 0.02);                     // 1.3 GFLOP
  EXPECT_GT(l.training_ms, 2 * l.recurrence_ms);  // the backward's steps and GEMMs
  // The large forward's 0.35 ms target holds where the GPCs hold 16 eight-block clusters; on the
  // default H100 SXM (15) the forward is 0.39 ms (docs/performance.md).
  GpuLimits sixteen = h100;
  sixteen.resident_clusters[8] = 16;
  EXPECT_LE(predict_passes(large, sixteen).forward_ms, 0.35);
  EXPECT_LE(l.forward_ms, 0.4);
  EXPECT_LE(l.training_ms, 1.5);
  PassShape longer = large;
  longer.steps = 400;
  EXPECT_GT(predict_passes(longer, h100).training_ms, 1.9 * l.training_ms);
  PassShape stacked = large;
  stacked.layers = 2;
  EXPECT_GT(predict_passes(stacked, h100).training_ms, l.training_ms);
  PassShape wide;
  wide.batch = 32;
  wide.steps = 100;
  wide.input = 256;
  wide.hidden = 1024;
  EXPECT_LE(predict_passes(wide, h100).forward_ms, 0.5);
  PassShape notebook = large;
  notebook.directions = 2;
  EXPECT_LE(predict_passes(notebook, h100).training_ms, 2.0);
  // The notebook's bidirectional LSTM: 4 gates' products a step, the forward's two directions in
  // one grid, the backward's one at a time (each step by its own model): above the Elman
  // layer's (and above the 2 ms, docs/performance.md).
  const double elman_ms = predict_passes(notebook, h100).training_ms;
  notebook.gates = 4;
  const PassPrediction lstm = predict_passes(notebook, h100);
  EXPECT_GT(lstm.training_ms, elman_ms);
  const GatedPlan gated = plan_gated(128, 256, 4, h100, 2);
  EXPECT_NEAR(lstm.recurrence_ms, 200 * gated.persistent_all_us * 1e-3, 1e-9);
  EXPECT_GT(lstm.training_ms - lstm.forward_ms, 200 * gated.persistent_backward_all_us * 1e-3);
}

// The model's choices at the benchmark shapes where it is not close (docs/performance.md): the
// seed and long sequences of small H stay on the segment kernels (a grid barrier per step costs
// more than their whole step), H = 1024 goes persistent (Wh cannot be re-read from L2 every step
// by every block); no cooperative launch, or a GPU too small for the grid, means segment.
TEST(Plan, ModelChoosesByBatchAndHidden) {
  const GpuLimits h100;
  EXPECT_FALSE(plan_recurrence(1, 2, h100).persistent);     // seed
  EXPECT_FALSE(plan_recurrence(826, 2, h100).persistent);   // seed, whole batch
  EXPECT_FALSE(plan_recurrence(16, 64, h100).persistent);   // long
  EXPECT_FALSE(plan_recurrence(64, 128, h100).persistent);  // medium
  EXPECT_TRUE(plan_recurrence(32, 1024, h100).persistent);  // wide: too wide for a cluster
  EXPECT_TRUE(plan_recurrence(1, 1024, h100).persistent);
  for (int b : {1, 826}) EXPECT_EQ(plan_recurrence(b, 2, h100).design, Design::kSegment);
  EXPECT_EQ(plan_recurrence(64, 128, h100).design, Design::kSegment);
  // Large (the notebook's shape) and B32 H512: the cluster kernels, ahead of both others (no
  // grid barrier; Wh on chip where the segment kernels read it from L2).
  const RecurrencePlan large = plan_recurrence(128, 256, h100);
  EXPECT_EQ(large.design, Design::kCluster);
  EXPECT_FALSE(large.persistent);
  EXPECT_TRUE(large.persistent_possible);
  EXPECT_TRUE(large.cluster_possible);
  EXPECT_GT(large.segment_us, 0);
  EXPECT_GT(large.persistent_us, 0);
  EXPECT_LT(large.cluster_us, large.persistent_us);
  EXPECT_LT(large.cluster_us, large.segment_us);
  EXPECT_EQ(plan_recurrence(32, 512, h100).design, Design::kCluster);
  EXPECT_NE(large.describe().find("us/step"), std::string::npos);
  EXPECT_EQ(large.describe().rfind("cluster (model: segment", 0), 0u) << large.describe();
  EXPECT_NE(large.describe().find(", persistent "), std::string::npos) << large.describe();
  EXPECT_NE(large.describe().find(", cluster "), std::string::npos) << large.describe();

  GpuLimits no_coop = h100;
  no_coop.cooperative = false;
  EXPECT_FALSE(plan_recurrence(32, 1024, no_coop).persistent_possible);
  GpuLimits small = h100;
  small.sms = 8;  // 64 slices of H = 1024 cannot be resident on 8 SMs
  EXPECT_FALSE(plan_recurrence(1, 1024, small).persistent_possible);
  EXPECT_FALSE(plan_recurrence(1, 1024, small).persistent);
}

// Memory-level parallelism: where a segment block reads Wh from L2, an SM with
// one 256-thread block (8 warps, 11 loads in flight each) pulls it at well under the L2's 64 B a
// cycle, while 1024-thread blocks (32 warps) reach it; a persistent step pays one L2 round trip per
// batch of staging loads in flight, so staging 16 rows of 1024 (64 elements a thread) costs more
// round trips than one row.
TEST(Plan, MemoryLevelParallelismBoundsL2Reads) {
  const GpuLimits h100;
  const auto at_l2_rate = [](int hidden) {  // us to pull Wh [H,H] at 64 B a cycle
    return static_cast<double>(hidden) * hidden * 4 / 64 / 1755.0;
  };
  EXPECT_GT(plan_recurrence(128, 256, h100).segment_us, 2.5 * at_l2_rate(256));
  EXPECT_LT(plan_recurrence(32, 1024, h100).segment_us, 1.1 * at_l2_rate(1024));
  EXPECT_GT(plan_recurrence(32, 1024, h100).segment_us, at_l2_rate(1024));
  const RecurrencePlan one = plan_recurrence(1, 1024, h100), wide = plan_recurrence(32, 1024, h100);
  ASSERT_TRUE(one.persistent_possible && wide.persistent_possible);
  EXPECT_EQ(wide.tiling.group, 16);
  // Rows of a multiple of 4 floats are staged as 16-byte loads, 16 in flight: H = 1024's 64
  // floats a thread in one round trip, where H = 1022's (4-byte loads, 16 in flight) take 4.
  const RecurrencePlan odd = plan_recurrence(32, 1022, h100);
  ASSERT_TRUE(odd.persistent_possible);
  EXPECT_EQ(odd.tiling.group, 16);
  EXPECT_EQ(odd.tiling.padded_hidden(), wide.tiling.padded_hidden());
  EXPECT_GT(odd.persistent_us - wide.persistent_us, 2.5 * 0.3);
  EXPECT_LT(odd.persistent_us - wide.persistent_us, 3.5 * 0.3);
}

// The segment kernels' prediction grows with H and, past what one wave holds, with B.
TEST(Plan, SegmentPredictionIsMonotone) {
  const GpuLimits h100;
  double last = 0;
  for (int hidden : {2, 16, 64, 128, 256, 512, 1024}) {
    const double us = plan_recurrence(32, hidden, h100).segment_us;
    EXPECT_GT(us, last) << "H = " << hidden;
    last = us;
  }
  EXPECT_GT(plan_recurrence(100000, 64, h100).segment_us, plan_recurrence(64, 64, h100).segment_us);
}

// The gated cells' segment kernels: Wh [H, G*H] staged in shared memory exactly where it fits
// next to the buffers (an H100's 227 KB: LSTM up to H = 120 forward / 119 backward, GRU 138 /
// 137), and a step that costs at least the Elman cell's, more with more gates.
TEST(Plan, GatedCellsStageWhWhereItFits) {
  const GpuLimits h100;
  for (const auto& [gates, fwd, bwd] : {std::tuple{4, 120, 119}, std::tuple{3, 138, 137}}) {
    SCOPED_TRACE(gates);
    EXPECT_TRUE(plan_gated(1, fwd, gates, h100).forward_wh_in_smem);
    EXPECT_FALSE(plan_gated(1, fwd + 1, gates, h100).forward_wh_in_smem);
    EXPECT_TRUE(plan_gated(1, bwd, gates, h100).backward_wh_in_smem);
    EXPECT_FALSE(plan_gated(1, bwd + 1, gates, h100).backward_wh_in_smem);
    // The one-layer kernels with the attention and head inside (their reduction scratch next to
    // the buffers) stage Wh up to the same H.
    for (bool backward : {false, true}) {
      const int h = backward ? bwd : fwd;
      EXPECT_LE(segment_smem_bytes(segment_geometry(h, 1), h, gates, backward, true, true),
                h100.smem_per_block);
      EXPECT_GT(segment_smem_bytes(segment_geometry(h + 1, 1), h + 1, gates, backward, true, true),
                h100.smem_per_block);
    }
  }
  for (int hidden : {2, 64, 128, 256, 1024}) {
    SCOPED_TRACE(hidden);
    const double elman = plan_recurrence(128, hidden, h100).segment_us;
    const double gru = plan_gated(128, hidden, 3, h100).segment_us;
    const double lstm = plan_gated(128, hidden, 4, h100).segment_us;
    EXPECT_GE(gru, elman);
    EXPECT_GE(lstm, gru);
  }
  // The persistent gated kernels: G slices of Wh a block (the forward) and a [G*H,16] slice of
  // Wh^T with rows of G*H staged (the backward) within a block's shared memory; the model picks
  // them where the segment kernels read Wh through L2 at a large batch (the notebook's shape, per
  // direction), not at the seed's size, and they do not fit at H = 1024.
  for (int gates : {3, 4}) {
    SCOPED_TRACE(gates);
    const GatedPlan large = plan_gated(128, 256, gates, h100);
    ASSERT_TRUE(large.persistent_possible);
    EXPECT_TRUE(large.persistent);
    EXPECT_LT(large.persistent_us, large.segment_us);
    EXPECT_EQ(large.tiling.gates, gates);
    EXPECT_LE(large.tiling.smem_forward_bytes(), h100.smem_per_block);
    EXPECT_LE(large.tiling.smem_backward_bytes(), h100.smem_per_block);
    // G times the Elman tiling's products a step, the same staging.
    PersistentTiling elman;
    ASSERT_TRUE(persistent_tiling(128, 256, h100, &elman));
    EXPECT_GT(large.tiling.smem_backward_bytes(), elman.smem_backward_bytes());
    EXPECT_GT(large.persistent_us, plan_recurrence(128, 256, h100).persistent_us);
    EXPECT_FALSE(plan_gated(1, 2, gates, h100).persistent);
    EXPECT_FALSE(plan_gated(32, 1024, gates, h100).persistent_possible);
    EXPECT_NE(large.describe().find("persistent ("), std::string::npos) << large.describe();
  }
  // The notebook's bidirectional layer (B128 H256, 128 blocks a direction): the forward's two
  // directions in one grid of 256 blocks, 2 an SM (a block's slices and rows ~87 KB for the
  // LSTM), one barrier a step for both, so less than two directions one after the other. The
  // LSTM backward's blocks (Wh^T's [4H,16] slice and rows of 4H values, ~134 KB) do not fit two
  // an SM with whole rows: staged in 2 pieces (~102 KB) they do, and the model takes that. The
  // backward's step (rows of G*H values staged, products over G*H terms) costs more than the
  // forward's, whose G products share each staged row.
  for (int gates : {3, 4}) {
    SCOPED_TRACE(gates);
    const GatedPlan one = plan_gated(128, 256, gates, h100);
    const GatedPlan both = plan_gated(128, 256, gates, h100, 2);
    ASSERT_TRUE(both.persistent_possible);
    EXPECT_TRUE(both.persistent);
    EXPECT_EQ(both.persistent_us, one.persistent_us);
    EXPECT_GT(one.persistent_backward_us, one.persistent_us);
    EXPECT_TRUE(both.forward_planes);
    EXPECT_LT(both.persistent_all_us, 2 * both.persistent_us);
    EXPECT_GT(both.persistent_all_us, both.persistent_us);
    EXPECT_TRUE(both.backward_planes);
    EXPECT_LT(both.persistent_backward_all_us, 2 * one.persistent_backward_us);
    // The backward's own products: 2 units a thread at split 8 (16 sequences over 4 row lanes),
    // where the forward's fused gates take split 4; the blocks are the forward's.
    const PersistentTiling b = one.tiling.for_backward();
    EXPECT_EQ(b.split, 8);
    EXPECT_EQ(b.units, 2);
    EXPECT_EQ(one.tiling.split, 4);
    EXPECT_EQ(b.blocks(), one.tiling.blocks());
    EXPECT_GE(b.rows * b.row_lanes, b.group);
    EXPECT_LE(b.rows, kPersistentMaxRows);
    EXPECT_EQ(one.tiling.pieces, 1);
    if (gates == 4) {
      EXPECT_GT(one.tiling.smem_backward_bytes(), h100.smem_per_sm / 2);
      EXPECT_EQ(both.tiling.pieces, 2);
      EXPECT_LT(both.tiling.smem_backward_bytes(), h100.smem_per_sm / 2);
      // In pieces, a step takes a round trip and two block barriers more.
      EXPECT_GT(both.persistent_backward_us, one.persistent_backward_us);
    }
    EXPECT_FALSE(one.forward_planes);  // one direction: nothing to share
    EXPECT_NE(both.describe().find("2 directions: forward"), std::string::npos) << both.describe();
  }
  // Past shared memory each block pulls G*H*H*4 bytes from L2 every step: 4x the Elman cell's.
  EXPECT_NEAR(plan_gated(32, 1024, 4, h100).segment_us / plan_recurrence(32, 1024, h100).segment_us,
              4.0, 0.1);
}

}  // namespace
}  // namespace rnnattn::cuda
