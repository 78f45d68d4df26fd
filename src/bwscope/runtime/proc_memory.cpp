#include "bwscope/runtime/proc_memory.h"

#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>

namespace bwscope {
namespace {

// "Rss:   1234 kB" -> bytes; nullopt for any other line.
std::optional<uint64_t> field_kib(std::string_view line, std::string_view key) {
  if (line.size() <= key.size() || line.substr(0, key.size()) != key || line[key.size()] != ':') return std::nullopt;
  size_t i = key.size() + 1;
  while (i < line.size() && line[i] == ' ') ++i;
  uint64_t kib = 0;
  const auto [end, ec] = std::from_chars(line.data() + i, line.data() + line.size(), kib);
  if (ec != std::errc()) return std::nullopt;
  (void)end;
  return kib * 1024;
}

// A mapping's header: "start-end perms offset dev inode [path]", the first field hexadecimal
// with a dash (field lines start with a capitalised name and a colon instead).
bool is_header(std::string_view line) {
  const size_t dash = line.find('-'), space = line.find(' ');
  if (dash == std::string_view::npos || space == std::string_view::npos || dash > space || dash == 0) return false;
  for (size_t i = 0; i < dash; ++i)
    if (!std::isxdigit(static_cast<unsigned char>(line[i]))) return false;
  return true;
}

}  // namespace

ProcessMemory parse_smaps(std::string_view text, const std::vector<std::string>& match) {
  ProcessMemory out;
  ProcessMemory::Mapping* current = nullptr;  // the matched mapping the field lines belong to
  size_t at = 0;
  while (at < text.size()) {
    const size_t eol = text.find('\n', at);
    const std::string_view line = text.substr(at, eol == std::string_view::npos ? std::string_view::npos : eol - at);
    at = eol == std::string_view::npos ? text.size() : eol + 1;
    if (is_header(line)) {
      current = nullptr;
      std::istringstream in{std::string(line)};
      std::string range, perms, offset, dev, path;
      uint64_t inode = 0;
      in >> range >> perms >> offset >> dev >> inode;
      std::getline(in >> std::ws, path);
      for (const std::string& m : match)
        if (!m.empty() && path.find(m) != std::string::npos) {
          out.matched.push_back({path, inode, 0, 0});
          current = &out.matched.back();
          break;
        }
      continue;
    }
    if (auto v = field_kib(line, "Rss")) {
      out.rss_bytes += *v;
      if (current) current->rss_bytes += *v;
    } else if (auto p = field_kib(line, "Pss")) {
      out.pss_bytes += *p;
      if (current) current->pss_bytes += *p;
    }
  }
  return out;
}

std::optional<ProcessMemory> read_process_memory(int pid, const std::vector<std::string>& match) {
  if (pid < 0) return std::nullopt;
  std::ifstream in(pid > 0 ? "/proc/" + std::to_string(pid) + "/smaps" : std::string("/proc/self/smaps"));
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().empty()) return std::nullopt;
  return parse_smaps(text.str(), match);
}

}  // namespace bwscope
