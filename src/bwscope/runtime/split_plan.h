// A split run's plan, as a file: what the co-location runner tells the ranks it starts through
// mpirun (they are not its forks, so they read it): the ranks' plans, the options they need,
// where the board is and where rank 0 writes every rank's result.
#pragma once

#include <string>
#include <vector>

#include "bwscope/runtime/colocate.h"
#include "bwscope/runtime/instance_run.h"

namespace bwscope::colo {

struct SplitPlan {
  std::vector<InstancePlan> ranks;  // rank r runs ranks[r]
  std::string isa;
  DType kv_type = DType::F16;
  ColocateOptions::Split split;
  std::string board;                // the board's file (SharedBoard::attach)
  std::string result;               // rank 0 writes every rank's result here (encode_results)
};

std::string encode_split_plan(const SplitPlan& plan);
// Throws Error naming `path` when the text is not a plan.
SplitPlan decode_split_plan(const std::string& text, const std::string& path);
// The options a rank runs under (the rest stay at their defaults).
ColocateOptions rank_options(const SplitPlan& plan);

// Every rank's result in one message (rank order), and back; decode_results returns false on
// a truncated or malformed message.
std::string encode_results(const std::vector<std::string>& encoded);
bool decode_results(const std::string& bytes, std::vector<InstanceResult>& out);

}  // namespace bwscope::colo
