#include "bwscope/study/progress_line.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/core.h>

namespace bwscope::study {

ProgressLine::ProgressLine(bool enabled) : enabled_(enabled), tty_(::isatty(2)) {}

void ProgressLine::start(const std::string& label) {
  label_ = label;
  last_plain_s_ = -10;
  if (enabled_ && !tty_) fmt::print(stderr, "bwscope: running {}\n", label);
}

void ProgressLine::show(const Progress& p) {
  if (!enabled_) return;
  std::string parts;
  for (const InstanceProgress& i : p.instances)
    parts += fmt::format("{}{} {} {}/{} {:5.1f} GB/s", parts.empty() ? "" : " | ", i.name, i.state, i.steps_done, i.steps_total, i.gbs_now);
  const std::string line = fmt::format("{} {:5.1f} s  {}  | total {:5.1f} GB/s", label_, p.elapsed_s, parts, p.total_gbs_now);
  if (tty_) {
    fmt::print(stderr, "\r\033[K{}", line);
  } else if (p.elapsed_s - last_plain_s_ >= 2) {
    fmt::print(stderr, "  {}\n", line);
    last_plain_s_ = p.elapsed_s;
  }
  std::fflush(stderr);
}

void ProgressLine::finish(const std::string& summary) {
  if (!enabled_) return;
  say(summary);
}

void ProgressLine::say(const std::string& line) {
  if (tty_) fmt::print(stderr, "\r\033[K");
  fmt::print(stderr, "bwscope: {}\n", line);
  std::fflush(stderr);
}

}  // namespace bwscope::study
