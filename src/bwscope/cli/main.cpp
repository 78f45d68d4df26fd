// bwscope: measures how much memory bandwidth LLM inference uses, one model alone and several
// side by side. This file only wires the subcommands and turns errors into one line + exit 1.
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <new>
#include <thread>

#include <fmt/core.h>

#include "bwscope/base/error.h"
#include "bwscope/cli/commands.h"
#include "bwscope/model/model_cache.h"
#include "bwscope/parallel/launch.h"
#include "bwscope/parallel/mpi_world.h"

namespace bwscope::cli {

namespace {
volatile std::sig_atomic_t g_sigint = 0;
extern "C" void on_sigint(int) { g_sigint = 1; }
}  // namespace

ScopedSigint::ScopedSigint() {
  g_sigint = 0;
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, &old_);
}
ScopedSigint::~ScopedSigint() { ::sigaction(SIGINT, &old_, nullptr); }
volatile std::sig_atomic_t* ScopedSigint::flag() { return &g_sigint; }

CLI::Validator whole_range(int64_t lo, int64_t hi) {
  return CLI::Validator(
      [lo, hi](std::string& text) -> std::string {
        int64_t v = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (ec != std::errc() || end != text.data() + text.size() || v < lo || v > hi)
          return fmt::format("{} is not a whole number from {} to {}", text, lo, hi);
        return "";
      },
      fmt::format("INT in [{} - {}]", lo, hi));
}

CLI::Validator above_zero() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (end == text.c_str() || *end != '\0' || !(v > 0) || !std::isfinite(v)) return fmt::format("{} is not a number above 0", text);
        return "";
      },
      "NUMBER > 0");
}

CLI::Validator number_range(double lo, double hi) {
  return CLI::Validator(
      [lo, hi](std::string& text) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (end == text.c_str() || *end != '\0' || !(v >= lo && v <= hi)) return fmt::format("{} is not a number from {:g} to {:g}", text, lo, hi);
        return "";
      },
      fmt::format("NUMBER in [{:g} - {:g}]", lo, hi));
}

CLI::Validator output_file() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        namespace fs = std::filesystem;
        if (text.empty()) return "an empty file name";
        const fs::path path(text);
        std::error_code ec;
        if (fs::is_directory(path, ec)) return fmt::format("{} is a directory, not a file", text);
        const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
        if (!fs::is_directory(dir, ec)) return fmt::format("{}: the directory {} does not exist", text, dir.string());
        if (::access(dir.c_str(), W_OK) != 0) return fmt::format("{}: cannot write in {}: {}", text, dir.string(), std::strerror(errno));
        return "";
      },
      "FILE");
}

void add_tp_head_option(CLI::App* sub, std::string& value) {
  sub->add_option("--tp-head", value,
                  "--tp: the output head split by vocabulary with the logits gathered (vocab, the default: faster here, "
                  "docs/parallel.md) or whole on every rank (replicate)")
      ->check(CLI::IsMember({"replicate", "vocab"}));
}

DType parse_type_flag(const std::string& flag, const std::string& value) {
  return parse_dtype_flag(flag, value);
}

std::string default_model_path() {
  return ensure_synthetic_model("llama-3.2-1b", single_type_plan(DType::Q8_0), [](const std::string& path) {
    fmt::print(stderr, "bwscope: making the default model (synthetic Llama 3.2 1B, Q8_0) at {} ...\n", path);
  });
}

namespace {
std::vector<std::string> g_command_line;
}  // namespace

void set_command_line(int argc, char** argv) { g_command_line.assign(argv, argv + argc); }

namespace {

[[noreturn]] void exec_under_mpirun(int ranks) {
  std::vector<std::string> args = parallel::mpirun_command(ranks, {g_command_line.begin() + 1, g_command_line.end()});
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::fflush(stdout);
  std::fflush(stderr);
  ::execv(argv[0], argv.data());
  fail("cannot run {}: {}", args[0], std::strerror(errno));
}

}  // namespace

void enter_split_run(std::string_view flag, int ranks) {
  if (!parallel::mpi_built()) fail("--{} {}: unavailable: built without MPI", flag, ranks);
  if (!parallel::under_mpirun()) exec_under_mpirun(ranks);
}

int default_threads() { return int(std::max(1u, std::thread::hardware_concurrency())); }

}  // namespace bwscope::cli

int main(int argc, char** argv) {
  CLI::App app{"bwscope: how much memory bandwidth does LLM inference use on this device, one model "
               "alone and several side by side, and is bandwidth the bottleneck?"};
  app.set_version_flag("--version", "bwscope 0.1.0");
  app.require_subcommand(1);
  bwscope::cli::add_synth(app);
  bwscope::cli::add_info(app);
  bwscope::cli::add_generate(app);
  bwscope::cli::add_quantize(app);
  bwscope::cli::add_bench(app);
  bwscope::cli::add_probe(app);
  bwscope::cli::add_tokenize(app);
  bwscope::cli::add_convert(app);
  bwscope::cli::add_compare(app);
  bwscope::cli::add_sweep(app);
  bwscope::cli::add_plan(app);
  bwscope::cli::add_split_rank(app);
  bwscope::cli::set_command_line(argc, argv);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    fmt::print(stderr, "bwscope: {}\n", e.what());  // one line; --help lists the options
    return 2;
  } catch (const bwscope::Error& e) {
    std::fflush(stdout);
    fmt::print(stderr, "bwscope: {}\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fflush(stdout);
    fmt::print(stderr, "bwscope: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    fmt::print(stderr, "bwscope: internal error: {}\n", e.what());
    return 1;
  }
  return 0;
}
