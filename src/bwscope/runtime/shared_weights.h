// One copy of a model's weights for every co-located instance: written once, in the layout
// the kernels prefer, into a sealed memfd object that each instance maps read-only — threads
// of this process, or child processes, which inherit the descriptor across fork(). The object
// has no name in any file system and is freed with its last descriptor and mapping, so an
// instance or a runner that is killed leaves nothing behind.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "bwscope/model/llama_model.h"
#include "bwscope/runtime/weight_copy.h"

namespace bwscope {

class SharedWeights {
 public:
  // Loads the model at `model_path`, plans its copy for the kernel table `ops` and writes it
  // with `threads` threads. Throws Error naming the file when the model cannot be loaded or
  // the object cannot be made.
  static std::shared_ptr<const SharedWeights> create(const std::string& model_path, const kernels::Ops& ops, int threads);
  ~SharedWeights();
  SharedWeights(const SharedWeights&) = delete;
  SharedWeights& operator=(const SharedWeights&) = delete;

  const std::string& model_path() const { return model_path_; }
  std::string_view isa() const { return isa_; }
  uint64_t bytes() const { return plan_.bytes; }  // the object: a copy of every weight matrix
  uint64_t interleaved_bytes() const;              // of bytes(), the matrices in the interleaved layout
  // The object's inode: /proc/<pid>/maps shows it on every mapping of the object, under
  // mapping_name().
  uint64_t inode() const { return inode_; }
  static constexpr std::string_view kMappingName = "/memfd:bwscope-weights";

  // Maps the object read-only and points the model's matrices at it (the model then keeps the
  // mapping). The model must be the one the object was made from, for the same kernel table:
  // the same file (device, inode, size, modification time) and the same copy plan; throws
  // Error otherwise.
  void attach(LlamaModel& model, const kernels::Ops& ops) const;

 private:
  SharedWeights() = default;
  struct FileId {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;
    int64_t mtime_ns = 0;
    bool operator==(const FileId&) const = default;
  };
  static FileId file_id(const std::string& path);

  std::string model_path_;
  std::string isa_;
  FileId file_;
  CopyPlan plan_;
  int fd_ = -1;
  uint64_t inode_ = 0;
};

}  // namespace bwscope
