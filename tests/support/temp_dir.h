// A fresh temporary directory per test, removed afterwards; and a cached tiny model file.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

#include "bwscope/base/dtype.h"

namespace bwscope::test_support {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "bwscope-test-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Writes the tiny preset with `type` weights (byte-level tokenizer, given seed) into dir.
std::string write_tiny_model(const TempDir& dir, DType type, uint64_t seed = 1, const std::string& preset = "tiny");

}  // namespace bwscope::test_support
