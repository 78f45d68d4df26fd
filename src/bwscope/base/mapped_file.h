// A read-only memory mapping of a whole file (RAII). Two instances mapping one file share its
// pages, which is what co-located models with shared weights rely on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace bwscope {

class MappedFile {
 public:
  MappedFile() = default;
  // Throws Error naming the path when it cannot be opened or mapped.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  std::span<const uint8_t> bytes() const { return {data_, size_t(size_)}; }
  // Unmaps the pages this process has touched, so they no longer count in its resident set
  // (they stay in the page cache, reclaimable; a later read maps them again).
  void release_pages() const;

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

// Reads a file into the page cache as a first read does: writes its dirty pages back, drops
// its cached pages that no process maps, then reads it once from start to end, so that
// readahead caches it in large (2 MiB) folios. The write path leaves a file it has just
// written (synth's output, a download, a copy) in small folios scattered over memory, and
// decode on its mapping ran at half speed (3B F16, one core, 2026-12-04: 11-15 GB/s on the
// file as synth left it, 31-35 GB/s after this, the private copy's 33-38). Returns the bytes
// read. Throws Error naming the path when it cannot be read.
uint64_t refresh_page_cache(const std::string& path);

// Writes a file atomically: the content goes to PATH.tmp.<pid>, which is renamed to PATH only
// when complete. Destroying it without commit() removes the temporary file.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }
  void write_all(const void* data, size_t n);
  void commit();  // fsync-free close + rename; throws Error on failure

 private:
  std::string path_, temp_path_;
  int fd_ = -1;
  bool committed_ = false;
};

// Writes `text` to `path` atomically.
void write_file_atomic(const std::string& path, std::string_view text);
// A whole file's bytes; throws Error naming it.
std::string read_file(const std::string& path);

}  // namespace bwscope
