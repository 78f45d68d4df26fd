#include "bwscope/model/model_cache.h"

#include <cstdlib>
#include <filesystem>

#include "bwscope/base/error.h"
#include "bwscope/model/synth.h"

namespace bwscope {

std::string cache_dir() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::string(xdg) + "/bwscope";
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.cache/bwscope";
  fail("neither XDG_CACHE_HOME nor HOME is set: no place to cache models");
}

std::string ensure_synthetic_model(const std::string& preset_name, const WeightPlan& plan,
                                   const std::function<void(const std::string&)>& on_create) {
  SynthOptions o;
  o.config = preset(preset_name);
  o.type = plan.base;
  o.k_mix = plan.k_mix;
  o.seed = 1;
  o.tokenizer_json = default_tokenizer_json();
  if (o.config.n_vocab < 128256) o.tokenizer_json.clear();  // tiny: the real vocabulary does not fit
  // The tokenizer is in the name: a model cached with another one is not reused.
  const std::string tok = o.tokenizer_json.empty()                                      ? "bytetok"
                          : o.tokenizer_json.find("/llama3_2-tokenizer/") != std::string::npos ? "llama32tok"
                                                                                          : "llama3tok";
  const auto dir = std::filesystem::path(cache_dir()) / "models";
  const auto path = dir / (preset_name + "-" + plan.name + "-" + tok + ".gguf");
  if (std::filesystem::exists(path)) return path.string();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) fail("{}: cannot create: {}", dir.string(), ec.message());
  if (on_create) on_create(path.string());
  write_synthetic_gguf(o, path.string());
  return path.string();
}

}  // namespace bwscope
