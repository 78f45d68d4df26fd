// Each subcommand registers itself on the app: options in, a callback that calls the library.
#pragma once

#include <signal.h>

#include <csignal>

#include <CLI/CLI.hpp>

#include "bwscope/base/dtype.h"

namespace bwscope::cli {

void add_synth(CLI::App& app);
void add_info(CLI::App& app);
void add_generate(CLI::App& app);
void add_quantize(CLI::App& app);
void add_bench(CLI::App& app);
void add_probe(CLI::App& app);
void add_tokenize(CLI::App& app);
void add_convert(CLI::App& app);
void add_compare(CLI::App& app);
void add_sweep(CLI::App& app);
void add_plan(CLI::App& app);
// Hidden: one rank of compare's split scenario, started by the runner through mpirun.
void add_split_rank(CLI::App& app);

// Parses a weight/KV type name from a flag; throws Error naming the flag.
DType parse_type_flag(const std::string& flag, const std::string& value);
// The default model when none is given: the cached synthetic Llama 3.2 1B, made on first use.
std::string default_model_path();
int default_threads();

// Option checks whose messages name the accepted range ("--threads: 0 is not a whole number
// from 1 to 4096"), instead of CLI11's numeric limits.
CLI::Validator whole_range(int64_t lo, int64_t hi);
CLI::Validator above_zero();
CLI::Validator number_range(double lo, double hi);
// An output file's directory must exist and be writable: checked before any work is done, so a
// typo in --html does not cost a finished measurement.
CLI::Validator output_file();
// --tp-head, the same on generate, bench and compare (parallel/split.h's HeadSplit).
void add_tp_head_option(CLI::App* sub, std::string& value);

// The command line main() was given (for relaunching it under mpirun).
void set_command_line(int argc, char** argv);
// Starts a split run (--tp/--pp) once its checks passed: refused without MPI in the build; outside
// mpirun, replaces this process with `mpirun -np <ranks>` running this same command line
// (--oversubscribe, --bind-to none, --allow-run-as-root as root), so a split run on one machine
// is one command and the exit status is mpirun's; under mpirun, returns. Throws Error when
// mpirun is missing.
void enter_split_run(std::string_view flag, int ranks);

// While alive, SIGINT (Ctrl-C) sets flag() instead of killing the process, so a run can stop
// early and still write what it measured; the previous handler comes back on destruction.
class ScopedSigint {
 public:
  ScopedSigint();
  ~ScopedSigint();
  ScopedSigint(const ScopedSigint&) = delete;
  ScopedSigint& operator=(const ScopedSigint&) = delete;
  volatile std::sig_atomic_t* flag();

 private:
  struct sigaction old_ {};
};

}  // namespace bwscope::cli
