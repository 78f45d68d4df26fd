// Hugging Face safetensors: a validating, memory-mapped reader (one file, or the shards a
// model.safetensors.index.json names) with zero-copy tensor views, and an atomic writer.
// File layout: u64 little-endian header length N, N bytes of JSON
//   {"__metadata__": {str: str}, "<name>": {"dtype": "BF16", "shape": [rows, cols],
//    "data_offsets": [begin, end]}, ...}
// then the data; offsets count from the first byte after the header. Shapes list the slowest
// dimension first (row-major), the reverse of GGUF's ne[].
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bwscope/base/dtype.h"
#include "bwscope/base/mapped_file.h"

namespace bwscope::safetensors {

struct Tensor {
  std::string name;
  std::string dtype;               // as written: "F32", "BF16", "I64", ...
  std::optional<DType> type;       // bwscope's type for F32, F16, BF16; nullopt for the others
  std::vector<uint64_t> shape;     // slowest dimension first
  uint64_t n_elements = 0;
  std::span<const uint8_t> bytes;  // view into the mapping
  std::string file;                // path of the file holding it
};

// One .safetensors file.
class File {
 public:
  // Maps and validates `path`. Throws Error("<path>: <problem>") for: a header length past the
  // end of the file or over 100 MB, a header that is not a JSON object, a tensor entry without
  // a known dtype, an integer shape or two data_offsets, element counts that overflow, a byte
  // size that does not match dtype × shape, data past the end of the file, and two tensors whose
  // bytes overlap.
  static File open(const std::string& path);

  const std::string& path() const { return map_.path(); }
  uint64_t data_offset() const { return data_offset_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::vector<Tensor>& tensors() const { return tensors_; }  // in data order
  const Tensor* find(std::string_view name) const;

 private:
  MappedFile map_;
  uint64_t data_offset_ = 0;
  std::map<std::string, std::string> metadata_;
  std::vector<Tensor> tensors_;
};

// A whole checkpoint: one file, or every shard of a sharded one.
class Checkpoint {
 public:
  // `path` is a .safetensors file, a model.safetensors.index.json, or a directory holding one
  // of those (the index first, else model.safetensors, else its only *.safetensors file).
  // For an index, every shard it names is opened; a tensor the index places in one shard must
  // be there, and no tensor may appear in two shards. Throws Error("<path>: <problem>").
  static Checkpoint open(const std::string& path);

  const std::string& path() const { return path_; }        // what was opened (file or index)
  const std::string& directory() const { return directory_; }
  const std::vector<std::shared_ptr<const File>>& files() const { return files_; }
  const Tensor* find(std::string_view name) const;
  std::vector<const Tensor*> tensors() const;  // every tensor of every file

 private:
  std::string path_, directory_;
  std::vector<std::shared_ptr<const File>> files_;
  std::map<std::string, const Tensor*, std::less<>> by_name_;
};

// Bytes per element of a safetensors dtype name; nullopt for an unknown one.
std::optional<uint32_t> dtype_size(std::string_view dtype);
// The safetensors name of a float type ("F32", "F16", "BF16"); Error for any other.
std::string_view dtype_name_of(DType type);

// Writes one .safetensors file atomically. Tensors are laid out back to back in the order added
// (as the reference implementation requires: no gaps), and the header is padded with spaces so
// the data starts at a multiple of 64 bytes.
class Writer {
 public:
  using Fill = std::function<void(std::span<uint8_t> dst)>;
  void set_metadata(std::string key, std::string value);
  // `type` must be F32, F16 or BF16; `fill` writes exactly the tensor's bytes.
  void add_tensor(std::string name, DType type, std::vector<uint64_t> shape, Fill fill);
  void write(const std::string& path) const;

 private:
  struct Pending {
    std::string name;
    DType type;
    std::vector<uint64_t> shape;
    uint64_t n_bytes;
    Fill fill;
  };
  std::map<std::string, std::string> metadata_;
  std::vector<Pending> tensors_;
};

}  // namespace bwscope::safetensors
