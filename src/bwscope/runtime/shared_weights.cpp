#include "bwscope/runtime/shared_weights.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "bwscope/base/error.h"

namespace bwscope {

SharedWeights::FileId SharedWeights::file_id(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) fail("{}: cannot stat: {}", path, std::strerror(errno));
  return {st.st_dev, st.st_ino, st.st_size, int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

std::shared_ptr<const SharedWeights> SharedWeights::create(const std::string& model_path, const kernels::Ops& ops, int threads) {
  std::shared_ptr<SharedWeights> w(new SharedWeights());
  w->model_path_ = model_path;
  w->isa_ = std::string(ops.isa);
  w->file_ = file_id(model_path);
  LlamaModel model = load_llama(model_path);
  w->plan_ = plan_copy(model, &ops);
  const std::string name = "bwscope-weights:" + std::filesystem::path(model_path).filename().string().substr(0, 200);
  w->fd_ = ::memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (w->fd_ < 0) fail("{}: shared weights: memfd_create failed: {} (use --weights private or file)", model_path, std::strerror(errno));
  struct stat st{};
  if (::fstat(w->fd_, &st) != 0) fail("{}: shared weights: fstat: {}", model_path, std::strerror(errno));
  w->inode_ = uint64_t(st.st_ino);
  const size_t size = size_t(std::max<uint64_t>(w->plan_.bytes, 1));
  if (::ftruncate(w->fd_, off_t(size)) != 0)
    fail("{}: shared weights: cannot size a {} byte object: {}", model_path, size, std::strerror(errno));
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, w->fd_, 0);
  if (p == MAP_FAILED) fail("{}: shared weights: cannot map the object: {}", model_path, std::strerror(errno));
  // Allocate the pages at once rather than one fault per page during the copy (as the private
  // copy does); without the advice (kernels before 5.14) the copy faults them in.
#ifdef MADV_POPULATE_WRITE
  if (::madvise(p, size, MADV_POPULATE_WRITE) != 0 && errno == ENOMEM) {
    ::munmap(p, size);
    fail("{}: shared weights: not enough memory for the {:.2f} GiB copy", model_path, double(size) / (1 << 30));
  }
#endif
  try {
    write_copy(model, w->plan_, static_cast<uint8_t*>(p), threads);
  } catch (...) {
    ::munmap(p, size);
    throw;
  }
  ::munmap(p, size);
  // Sealed: nobody can write, grow or shrink it any more (F_SEAL_WRITE needs the writable
  // mapping gone).
  if (::fcntl(w->fd_, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0)
    fail("{}: shared weights: cannot seal the object: {}", model_path, std::strerror(errno));
  return w;
}

SharedWeights::~SharedWeights() {
  if (fd_ >= 0) ::close(fd_);
}

uint64_t SharedWeights::interleaved_bytes() const {
  uint64_t total = 0;
  for (size_t i = 0; i < plan_.items.size(); ++i)
    if (plan_.items[i].interleaved && (i == 0 || plan_.items[i].offset != plan_.items[0].offset)) total += plan_.items[i].bytes;
  return total;
}

void SharedWeights::attach(LlamaModel& model, const kernels::Ops& ops) const {
  if (ops.isa != isa_)
    fail("{}: shared weights were laid out for the {} kernels, this instance runs {}", model_path_, isa_, ops.isa);
  // The plan is computed before the matrices move, and must match the object's byte for byte.
  if (!(file_id(model_path_) == file_) || !(plan_copy(model, &ops) == plan_))
    fail("{}: changed since its shared weights were made (or is another model)", model_path_);
  const size_t size = size_t(std::max<uint64_t>(plan_.bytes, 1));
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd_, 0);
  if (p == MAP_FAILED) fail("{}: shared weights: cannot map the object: {}", model_path_, std::strerror(errno));
  bind_copy(model, plan_, p, size);
}

}  // namespace bwscope
