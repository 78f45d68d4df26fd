#include "bwscope/format/json_file.h"

#include <fstream>
#include <sstream>

#include "bwscope/base/error.h"

namespace bwscope {

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open", path);
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) fail("{}: read error", path);
  try {
    return nlohmann::json::parse(ss.str());
  } catch (const nlohmann::json::parse_error& e) {
    fail("{}: not valid JSON (at byte {})", path, e.byte);
  } catch (const nlohmann::json::out_of_range&) {  // a number past double's range, e.g. 1e999
    fail("{}: not valid JSON (a number out of range)", path);
  }
}

}  // namespace bwscope
