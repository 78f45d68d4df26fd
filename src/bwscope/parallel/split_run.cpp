#include "bwscope/parallel/split_run.h"

#include <algorithm>
#include <vector>

#include "bwscope/base/error.h"
#include "bwscope/parallel/mpi_world.h"
#include "bwscope/runtime/weight_copy.h"

namespace bwscope::parallel {

RankPart join_split(const LlamaModel& full, SplitKind kind, int ranks, const kernels::Ops& ops, int threads, HeadSplit head) {
  World& world = World::get();
  if (world.size() != ranks)
    fail("--{} {}: started with {} MPI ranks (mpirun -np {})", split_name(kind), ranks, world.size(), ranks);
  RankPart r;
  r.rank = world.rank();
  r.ranks = ranks;
  r.clock_offset_ns = world.clock_offset_ns();
  if (kind == SplitKind::Tensor) {
    std::shared_ptr<std::vector<uint8_t>> staging;
    r.model = tensor_part(full, r.rank, ranks, staging, head);
    r.weight_bytes = make_weights_private(r.model, &ops, threads);  // the column slices leave `staging`
    r.hooks.all_reduce = [&world](float* data, int64_t n) { world.all_reduce_sum(data, n); };
    if (head == HeadSplit::Vocab)
      r.hooks.gather_logits = [&world, ranks, all = std::vector<float>()](float* logits, int64_t rows, int64_t local) mutable {
        all.resize(size_t(rows * local * ranks));
        world.all_gather(logits, rows * local, all.data());
        const int64_t n_vocab = local * ranks;
        for (int64_t k = 0; k < ranks; ++k)  // rank k's [rows × local] block: columns k × local.. of each row
          for (int64_t t = 0; t < rows; ++t)
            std::copy_n(all.data() + (k * rows + t) * local, local, logits + t * n_vocab + k * local);
      };
  } else {
    r.model = pipeline_part(full, r.rank, ranks);
    r.weight_bytes = make_weights_private(r.model, &ops, threads);
    const int rank = r.rank, last = ranks - 1;
    if (rank > 0) r.hooks.recv_hidden = [&world, rank](float* data, int64_t n) { world.recv(data, n, rank - 1); };
    if (rank < last) r.hooks.send_hidden = [&world, rank](const float* data, int64_t n) { world.send(data, n, rank + 1); };
    r.hooks.share_logits = [&world, last](float* data, int64_t n) { world.broadcast(data, n, last); };
  }
  return r;
}

}  // namespace bwscope::parallel
