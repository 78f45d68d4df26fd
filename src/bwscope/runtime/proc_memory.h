// What a process holds in memory, read from /proc/<pid>/smaps: resident bytes (Rss) and the
// proportional set (Pss: each page divided among the processes that map it, so the PSS of
// several processes sums to what they hold together), in all and for chosen mappings.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bwscope {

struct ProcessMemory {
  uint64_t rss_bytes = 0, pss_bytes = 0;
  struct Mapping {
    std::string path;          // as smaps names it ("/memfd:bwscope-weights:… (deleted)", a file)
    uint64_t inode = 0;
    uint64_t rss_bytes = 0, pss_bytes = 0;
  };
  std::vector<Mapping> matched;  // the mappings whose path contains one of the strings asked for
};

// pid 0: this process. nullopt for a negative pid or when the file cannot be read (the process
// is gone, no /proc).
std::optional<ProcessMemory> read_process_memory(int pid, const std::vector<std::string>& match = {});

// The text of an smaps file, parsed (for tests and for read_process_memory).
ProcessMemory parse_smaps(std::string_view text, const std::vector<std::string>& match);

}  // namespace bwscope
