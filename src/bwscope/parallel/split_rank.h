// One rank of a split scenario (compare --tp/--pp): the co-location runner starts the ranks
// through mpirun (`bwscope split-rank --plan FILE`, runtime/split_plan.h) and each runs this:
// join the world, map the runner's board, load and split the model, warm up, wait at the
// board's barrier, prefill and decode in step with the other ranks — a pipeline in
// micro-batches, its last stage sending the sampled ids to the first — hold until the runner
// has measured memory, then gather every rank's result, on rank 0's clock, into the plan's
// result file on rank 0.
#pragma once

#include <string>

namespace bwscope::parallel {

// Returns the exit status. A rank that fails prints one line and aborts the run (the others
// would wait for it in MPI forever).
int split_rank_main(const std::string& plan_path);

}  // namespace bwscope::parallel
