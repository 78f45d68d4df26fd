// A small JSON Schema checker for the tests: the keywords docs/*.schema.json use (type, enum,
// minimum, required, properties, items, $ref to "#/$defs/..."). Returns the problems found,
// each as "<path>: <problem>"; empty when the document conforms.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace bwscope::test_support {

inline bool has_type(const nlohmann::json& v, const std::string& t) {
  if (t == "object") return v.is_object();
  if (t == "array") return v.is_array();
  if (t == "string") return v.is_string();
  if (t == "boolean") return v.is_boolean();
  if (t == "null") return v.is_null();
  if (t == "integer") return v.is_number_integer();
  if (t == "number") return v.is_number();
  return false;
}

inline void check_schema(const nlohmann::json& root, const nlohmann::json& schema, const nlohmann::json& v, const std::string& path,
                         std::vector<std::string>& problems) {
  if (schema.contains("$ref")) {
    const std::string ref = schema["$ref"];
    const std::string prefix = "#/$defs/";
    if (ref.rfind(prefix, 0) != 0 || !root["$defs"].contains(ref.substr(prefix.size()))) {
      problems.push_back(path + ": unresolvable $ref " + ref);
      return;
    }
    check_schema(root, root["$defs"][ref.substr(prefix.size())], v, path, problems);
    return;
  }
  if (schema.contains("type")) {
    bool ok = false;
    if (schema["type"].is_array()) {
      for (const auto& t : schema["type"]) ok = ok || has_type(v, t.get<std::string>());
    } else {
      ok = has_type(v, schema["type"].get<std::string>());
    }
    if (!ok) {
      problems.push_back(path + ": expected type " + schema["type"].dump() + ", got " + v.dump().substr(0, 60));
      return;
    }
  }
  if (schema.contains("enum")) {
    bool found = false;
    for (const auto& e : schema["enum"]) found = found || e == v;
    if (!found) problems.push_back(path + ": " + v.dump() + " is not one of " + schema["enum"].dump());
  }
  if (schema.contains("minimum") && v.is_number() && v.get<double>() < schema["minimum"].get<double>())
    problems.push_back(path + ": " + v.dump() + " is below the minimum " + schema["minimum"].dump());
  if (v.is_object()) {
    if (schema.contains("required"))
      for (const auto& key : schema["required"])
        if (!v.contains(key.get<std::string>())) problems.push_back(path + ": missing key " + key.dump());
    if (schema.contains("properties"))
      for (const auto& [key, sub] : schema["properties"].items())
        if (v.contains(key)) check_schema(root, sub, v[key], path + "." + key, problems);
  }
  if (v.is_array() && schema.contains("items"))
    for (size_t i = 0; i < v.size(); ++i) check_schema(root, schema["items"], v[i], path + "[" + std::to_string(i) + "]", problems);
}

inline std::vector<std::string> validate(const nlohmann::json& schema, const nlohmann::json& doc) {
  std::vector<std::string> problems;
  check_schema(schema, schema, doc, "$", problems);
  return problems;
}

}  // namespace bwscope::test_support
