// safetensors: the input as a .safetensors file (header, offsets, dtypes), as the file of an HF
// checkpoint beside a valid config.json (the loader's shape and type checks), and as a
// model.safetensors.index.json naming shards.
#include <filesystem>

#include "bwscope/base/error.h"
#include "bwscope/format/safetensors.h"
#include "bwscope/model/hf_checkpoint.h"
#include "fuzz_input.h"

using namespace bwscope;
namespace fs = std::filesystem;

namespace {

// <scratch>/ckpt: config.json of a tiny Llama, and model.safetensors (the input).
// <scratch>/index: one valid shard, a.safetensors, and model.safetensors.index.json (the input).
struct Dirs {
  std::string ckpt, index;
  Dirs() {
    ckpt = fuzz::scratch_dir() + "/ckpt";
    index = fuzz::scratch_dir() + "/index";
    fs::create_directories(ckpt);
    fs::create_directories(index);
    fuzz::write_file(ckpt + "/config.json", hf_config_json(hf_config_from_llama(fuzz::small_llama(), DType::F32)));
    safetensors::Writer w;
    w.add_tensor("model.norm.weight", DType::F32, {32}, [](std::span<uint8_t> dst) {
      for (size_t i = 0; i < dst.size(); ++i) dst[i] = uint8_t(i * 7);
    });
    w.write(index + "/a.safetensors");
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Dirs dirs;
  const fuzz::InputFile in(data, size);
  try {
    (void)safetensors::File::open(in.path());
  } catch (const Error&) {
  }
  fuzz::write_file(dirs.ckpt + "/model.safetensors", data, size);
  try {
    (void)load_hf_llama(dirs.ckpt);
  } catch (const Error&) {
  }
  fuzz::write_file(dirs.index + "/model.safetensors.index.json", data, size);
  try {
    (void)safetensors::Checkpoint::open(dirs.index);
  } catch (const Error&) {
  }
  return 0;
}
