// Starting this binary as the ranks of an MPI program on this machine: mpirun found on PATH,
// with the flags a one-machine run needs (oversubscribe, no binding: bwscope pins its own
// threads; --allow-run-as-root for root). Needs no MPI in the build.
#pragma once

#include <string>
#include <vector>

namespace bwscope::parallel {

// mpirun's path, or empty when none is on PATH.
std::string find_mpirun();

// mpirun's argv running this binary (/proc/self/exe) with `args` as `ranks` ranks. Throws
// Error when mpirun is missing or this binary cannot be found.
std::vector<std::string> mpirun_command(int ranks, const std::vector<std::string>& args);

}  // namespace bwscope::parallel
