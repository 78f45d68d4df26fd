// Reading a JSON file from outside (config.json, tokenizer.json, a safetensors index, the probe
// cache): every failure is one Error naming the file — cannot open, a read error, not valid
// JSON (with the byte), or a number past double's range (nlohmann throws out_of_range for 1e999).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace bwscope {

nlohmann::json read_json_file(const std::string& path);

// An integer field of type T from JSON bwscope did not write itself (a results file, a child's
// result message). json's own get<T>() casts a float such as 1e59 to T, which is undefined past
// T's range; here a value that is not an integer, or is one out of T's range, throws
// std::invalid_argument for the caller to turn into its own message.
template <class T>
T json_integer(const nlohmann::json& v) {
  if (v.is_number_unsigned()) {
    if (const auto x = v.get<uint64_t>(); std::in_range<T>(x)) return T(x);
  } else if (v.is_number_integer()) {
    if (const auto x = v.get<int64_t>(); std::in_range<T>(x)) return T(x);
  }
  throw std::invalid_argument("not an integer in range: " + v.dump());
}

template <class T>
std::vector<T> json_integers(const nlohmann::json& v) {
  if (!v.is_array()) throw std::invalid_argument("not a list: " + v.dump());
  std::vector<T> out;
  for (const auto& x : v) out.push_back(json_integer<T>(x));
  return out;
}

}  // namespace bwscope
