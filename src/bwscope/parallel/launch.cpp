#include "bwscope/parallel/launch.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string_view>

#include "bwscope/base/error.h"

namespace bwscope::parallel {

std::string find_mpirun() {
  const char* path = std::getenv("PATH");
  if (!path) return "";
  std::string_view rest = path;
  while (!rest.empty()) {
    const size_t colon = rest.find(':');
    const std::string dir(rest.substr(0, colon));
    if (!dir.empty() && ::access((dir + "/mpirun").c_str(), X_OK) == 0) return dir + "/mpirun";
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  return "";
}

std::vector<std::string> mpirun_command(int ranks, const std::vector<std::string>& args) {
  const std::string mpirun = find_mpirun();
  if (mpirun.empty()) fail("mpirun not found on PATH: a split run (--tp/--pp) needs Open MPI (scripts/setup.sh installs openmpi-bin)");
  std::vector<std::string> cmd = {mpirun, "-np", std::to_string(ranks), "--oversubscribe", "--bind-to", "none"};
  if (::geteuid() == 0) cmd.push_back("--allow-run-as-root");
  std::error_code ec;
  const std::string self = std::filesystem::read_symlink("/proc/self/exe", ec).string();  // this binary, not mpirun's
  if (ec) fail("cannot find this program's path (/proc/self/exe): {}", ec.message());
  cmd.push_back(self);
  cmd.insert(cmd.end(), args.begin(), args.end());
  return cmd;
}

}  // namespace bwscope::parallel
