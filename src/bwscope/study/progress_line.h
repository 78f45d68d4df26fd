// The live display of a run on stderr: one line rewritten in place on a terminal, a plain line
// every two seconds otherwise (logs and pipes). compare and sweep both draw with it.
#pragma once

#include <string>

#include "bwscope/runtime/colocate.h"

namespace bwscope::study {

class ProgressLine {
 public:
  explicit ProgressLine(bool enabled);
  bool enabled() const { return enabled_; }
  // A new run: `label` prefixes every line until the next start().
  void start(const std::string& label);
  void show(const Progress& p);
  // The run's one-line summary, kept on screen.
  void finish(const std::string& summary);
  // A line of its own (a status message), clearing a line in progress first.
  void say(const std::string& line);

 private:
  bool enabled_, tty_;
  std::string label_;
  double last_plain_s_ = -10;
};

}  // namespace bwscope::study
