// Reading a JSON file from outside (config.json, tokenizer.json, a safetensors index, the probe
// cache): every failure is one Error naming the file — cannot open, a read error, not valid
// JSON (with the byte), or a number past double's range (nlohmann throws out_of_range for 1e999).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace bwscope {

nlohmann::json read_json_file(const std::string& path);

}  // namespace bwscope
