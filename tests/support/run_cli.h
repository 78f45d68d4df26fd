// Runs the bwscope binary built beside the tests and captures its exit status and output.
#pragma once

#include <string>
#include <vector>

namespace bwscope::test_support {

struct CliResult {
  int exit_code = -1;     // -1 when killed by a signal
  int signal = 0;
  std::string out, err;
};

// Arguments are passed as they are (no shell).
CliResult run_cli(const std::vector<std::string>& args, int timeout_seconds = 120);

// Number of lines in s (a trailing newline does not start a new line).
int count_lines(const std::string& s);

}  // namespace bwscope::test_support
