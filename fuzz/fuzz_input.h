// What every fuzz target shares: the input as the parsers meet users' bytes, a file. The bytes
// go into an anonymous in-memory file (memfd) opened by its /proc/self/fd path, so a run of
// millions of inputs touches no disk; targets whose parser reads a directory get a scratch one.
//
// The contract each target checks: a parser either returns or throws bwscope::Error. Any other
// exception escapes LLVMFuzzerTestOneInput and libFuzzer reports it as a crash, as it does
// sanitizer findings, leaks, timeouts and running out of memory.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "bwscope/model/config.h"

namespace bwscope::fuzz {

class InputFile {
 public:
  InputFile(const uint8_t* data, size_t size) {
    fd_ = ::memfd_create("bwscope-fuzz-input", MFD_CLOEXEC);
    if (fd_ < 0) die("memfd_create");
    write_all(fd_, data, size);
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~InputFile() { ::close(fd_); }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  const std::string& path() const { return path_; }

  [[noreturn]] static void die(const char* what) {
    std::perror(what);
    std::abort();
  }
  static void write_all(int fd, const uint8_t* data, size_t size) {
    for (size_t done = 0; done < size;) {
      const ssize_t n = ::write(fd, data + done, size - done);
      if (n <= 0) die("write");
      done += size_t(n);
    }
  }

 private:
  int fd_ = -1;
  std::string path_;
};

// A directory for the whole fuzzing process (removed by nobody: it lives under /dev/shm or
// $TMPDIR and is a few KB).
inline const std::string& scratch_dir() {
  static const std::string dir = [] {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/bwscope-fuzz-XXXXXX";
    if (!::mkdtemp(pattern.data())) InputFile::die("mkdtemp");
    return pattern;
  }();
  return dir;
}

// Writes `bytes` to `path` (replacing it).
inline void write_file(const std::string& path, const uint8_t* data, size_t size) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) InputFile::die(path.c_str());
  if (size && std::fwrite(data, 1, size, f) != size) InputFile::die("fwrite");
  std::fclose(f);
}
inline void write_file(const std::string& path, std::string_view text) {
  write_file(path, reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

// A Llama far smaller than the tiny preset (1 layer, 32 wide, 260 tokens), so that seeds and
// scratch checkpoints stay a few KB.
inline LlamaConfig small_llama() {
  LlamaConfig c = preset("tiny");
  c.n_layers = 1;
  c.n_embd = 32;
  c.n_head = 2;
  c.n_kv_head = 1;
  c.n_ff = 64;
  c.n_vocab = 260;
  return c;
}

}  // namespace bwscope::fuzz
