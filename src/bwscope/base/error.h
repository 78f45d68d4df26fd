// The one error type: a message that names the file (or flag) and the problem. Thrown inside
// the library, caught at the CLI boundary, printed as one line with a non-zero exit.
#pragma once

#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace bwscope {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace bwscope
