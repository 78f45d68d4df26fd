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

// Starts the CLI in the background in a process group of its own (as a terminal's foreground
// job, so kill(-pid, SIGINT) is Ctrl-C); stdout and stderr go to the two files.
int spawn_cli(const std::vector<std::string>& args, const std::string& out_path, const std::string& err_path);
// The pids of a process's children (Linux /proc).
std::vector<int> children_of(int pid);
// A whole file ("" when it cannot be read).
std::string read_text(const std::string& path);
void sleep_ms(int ms);

// Number of lines in s (a trailing newline does not start a new line).
int count_lines(const std::string& s);

}  // namespace bwscope::test_support
