#include "support/temp_dir.h"

#include "bwscope/model/synth.h"

namespace bwscope::test_support {

std::string write_tiny_model(const TempDir& dir, DType type, uint64_t seed, const std::string& preset_name) {
  SynthOptions o;
  o.config = preset(preset_name);
  o.type = type;
  o.seed = seed;
  o.threads = 1;
  std::string path = dir.file(preset_name + "-" + std::string(dtype_name(type)) + "-" + std::to_string(seed) + ".gguf");
  write_synthetic_gguf(o, path);
  return path;
}

}  // namespace bwscope::test_support
