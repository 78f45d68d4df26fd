// A rank of a split run: its part of the model, with its weights copied (only its slices) into
// the layout the kernels prefer, and the engine hooks that call MPI (parallel/mpi_world.h).
#pragma once

#include "bwscope/engine/engine.h"
#include "bwscope/parallel/split.h"

namespace bwscope::parallel {

struct RankPart {
  LlamaModel model;              // this rank's part, weights private
  EngineOptions::Split hooks;    // to put in EngineOptions::split
  int rank = 0, ranks = 1;
  int64_t clock_offset_ns = 0;   // rank 0's clock minus this rank's (World::clock_offset_ns)
  uint64_t weight_bytes = 0;     // the part's weights, as copied
};

// Joins the MPI world (whose size must be `ranks`), splits `full` and wires the hooks: tensor
// parallel all-reduces after attn_output and down; pipeline parallel passes the hidden state
// to the next rank and broadcasts the last rank's logits. Throws Error naming the problem.
// With HeadSplit::Vocab (tensor parallel) each rank holds its share of the output head and the
// logits are gathered (MPI_Allgather) after it.
RankPart join_split(const LlamaModel& full, SplitKind kind, int ranks, const kernels::Ops& ops, int threads,
                    HeadSplit head = HeadSplit::Replicate);

}  // namespace bwscope::parallel
