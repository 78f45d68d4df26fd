// The embedded default models: synthetic presets made on first use and kept in the user's
// cache directory ($XDG_CACHE_HOME/bwscope/models, else ~/.cache/bwscope/models).
#pragma once

#include <functional>
#include <string>

#include "bwscope/model/weight_plan.h"

namespace bwscope {

std::string cache_dir();  // $XDG_CACHE_HOME/bwscope or ~/.cache/bwscope

// Path of the cached synthetic model for (preset, weight plan — one type or a K-quant mix —,
// seed 1), writing it first when absent. `on_create` is told before a model is written (it
// takes seconds to tens of seconds).
std::string ensure_synthetic_model(const std::string& preset, const WeightPlan& plan,
                                   const std::function<void(const std::string& path)>& on_create = {});

}  // namespace bwscope
