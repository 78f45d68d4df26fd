// bwscope split-rank --plan FILE: not for people. The co-location runner starts one per rank
// through mpirun for compare's --tp/--pp scenarios (parallel/split_rank.h).
#include <memory>

#include "bwscope/cli/commands.h"
#include "bwscope/parallel/split_rank.h"

namespace bwscope::cli {

void add_split_rank(CLI::App& app) {
  auto plan = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand("split-rank", "one rank of a split scenario (started by compare through mpirun)");
  sub->group("");  // hidden from --help
  sub->add_option("--plan", *plan, "the runner's plan file")->required();
  sub->callback([plan] {
    if (int rc = parallel::split_rank_main(*plan); rc != 0) std::exit(rc);
  });
}

}  // namespace bwscope::cli
