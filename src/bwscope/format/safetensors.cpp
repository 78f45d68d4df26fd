// safetensors reading (validated, memory-mapped) and writing (atomic).
#include "bwscope/format/safetensors.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "bwscope/base/error.h"
#include "bwscope/format/json_file.h"

namespace bwscope::safetensors {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the reference implementation's limit
constexpr uint64_t kDataAlignment = 64;

std::optional<uint64_t> checked_mul(uint64_t a, uint64_t b) {
  uint64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

std::string shape_text(const std::vector<uint64_t>& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

// Parses the JSON header, refusing repeated keys in the top-level object (the JSON library
// would silently keep the last one, and a repeated tensor name is a malformed file).
json parse_header(const std::string& path, std::string_view text) {
  std::set<std::string> keys;
  std::string repeated;
  auto callback = [&](int depth, json::parse_event_t event, json& parsed) {
    if (depth == 1 && event == json::parse_event_t::key && parsed.is_string() && !keys.insert(parsed.get<std::string>()).second)
      repeated = parsed.get<std::string>();
    return true;
  };
  json j;
  try {
    j = json::parse(text.begin(), text.end(), callback);
  } catch (const json::parse_error& e) {
    fail("{}: the safetensors header is not valid JSON (at byte {} of {})", path, e.byte, text.size());
  } catch (const json::out_of_range&) {  // a number past double's range, e.g. 1e999
    fail("{}: the safetensors header is not valid JSON (a number out of range)", path);
  }
  if (!repeated.empty()) fail("{}: the safetensors header names '{}' twice", path, repeated);
  if (!j.is_object()) fail("{}: the safetensors header is not a JSON object", path);
  return j;
}

uint64_t json_uint(const std::string& path, const std::string& name, const char* what, const json& v) {
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0))
    fail("{}: tensor '{}' has a {} that is not a non-negative integer", path, name, what);
  return v.get<uint64_t>();
}

}  // namespace

std::optional<uint32_t> dtype_size(std::string_view dtype) {
  static const std::pair<std::string_view, uint32_t> sizes[] = {
      {"BOOL", 1}, {"U8", 1}, {"I8", 1}, {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"I16", 2}, {"U16", 2}, {"F16", 2},
      {"BF16", 2}, {"I32", 4}, {"U32", 4}, {"F32", 4}, {"F64", 8}, {"I64", 8}, {"U64", 8}};
  for (const auto& [name, size] : sizes)
    if (name == dtype) return size;
  return std::nullopt;
}

std::string_view dtype_name_of(DType type) {
  switch (type) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    default: fail("safetensors: type {} cannot be stored (f32, f16 or bf16 only)", dtype_name(type));
  }
}

File File::open(const std::string& path) {
  File f;
  f.map_ = MappedFile(path);
  const uint64_t size = f.map_.size();
  if (size < 8) fail("{}: {} bytes is too short for a safetensors header", path, size);
  uint64_t header_len = 0;
  std::memcpy(&header_len, f.map_.data(), 8);  // little-endian, as this host
  if (header_len > size - 8) fail("{}: header length {} runs past the end of the file ({} bytes)", path, header_len, size);
  if (header_len > kMaxHeaderBytes) fail("{}: header length {} is over the {} byte limit", path, header_len, kMaxHeaderBytes);
  f.data_offset_ = 8 + header_len;
  const uint64_t data_size = size - f.data_offset_;
  const json header = parse_header(path, std::string_view(reinterpret_cast<const char*>(f.map_.data()) + 8, header_len));

  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) fail("{}: __metadata__ is not an object", path);
      for (const auto& [key, value] : entry.items()) {
        if (!value.is_string()) fail("{}: __metadata__ '{}' is not a string", path, key);
        f.metadata_[key] = value.get<std::string>();
      }
      continue;
    }
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") || !entry.contains("data_offsets"))
      fail("{}: tensor '{}' needs dtype, shape and data_offsets", path, name);
    Tensor t;
    t.name = name;
    if (!entry["dtype"].is_string()) fail("{}: tensor '{}' has a dtype that is not a string", path, name);
    t.dtype = entry["dtype"].get<std::string>();
    const auto elem_size = dtype_size(t.dtype);
    if (!elem_size) fail("{}: tensor '{}' has unknown dtype '{}'", path, name, t.dtype);
    if (t.dtype == "F32") t.type = DType::F32;
    if (t.dtype == "F16") t.type = DType::F16;
    if (t.dtype == "BF16") t.type = DType::BF16;
    if (!entry["shape"].is_array()) fail("{}: tensor '{}' has a shape that is not an array", path, name);
    uint64_t n = 1;
    for (const json& d : entry["shape"]) {
      t.shape.push_back(json_uint(path, name, "dimension", d));
      const auto m = checked_mul(n, t.shape.back());
      if (!m) fail("{}: tensor '{}' shape {} overflows", path, name, entry["shape"].dump());
      n = *m;
    }
    t.n_elements = n;
    const json& offsets = entry["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2) fail("{}: tensor '{}' data_offsets is not [begin, end]", path, name);
    const uint64_t begin = json_uint(path, name, "data offset", offsets[0]);
    const uint64_t end = json_uint(path, name, "data offset", offsets[1]);
    if (end < begin) fail("{}: tensor '{}' data_offsets [{}, {}] end before they begin", path, name, begin, end);
    const auto want = checked_mul(n, *elem_size);
    if (!want || end - begin != *want)
      fail("{}: tensor '{}' has {} bytes but dtype {} × shape {} needs {}", path, name, end - begin, t.dtype,
           shape_text(t.shape), want ? fmt::format("{}", *want) : std::string("more than 2^64"));
    if (end > data_size)
      fail("{}: tensor '{}' ends at byte {}, past the end of the file ({})", path, name, f.data_offset_ + end, size);
    t.bytes = std::span(f.map_.data() + f.data_offset_ + begin, size_t(end - begin));
    f.tensors_.push_back(std::move(t));
  }
  std::sort(f.tensors_.begin(), f.tensors_.end(), [](const Tensor& a, const Tensor& b) { return a.bytes.data() < b.bytes.data(); });
  const Tensor* previous = nullptr;
  for (const Tensor& t : f.tensors_) {
    if (t.bytes.empty()) continue;
    if (previous && t.bytes.data() < previous->bytes.data() + previous->bytes.size())
      fail("{}: tensors '{}' and '{}' overlap in the file", path, previous->name, t.name);
    previous = &t;
  }
  for (Tensor& t : f.tensors_) t.file = path;
  return f;
}

const Tensor* File::find(std::string_view name) const {
  for (const Tensor& t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}


Checkpoint Checkpoint::open(const std::string& path) {
  Checkpoint c;
  fs::path target = path;
  if (fs::is_directory(target)) {
    if (fs::exists(target / "model.safetensors.index.json")) {
      target /= "model.safetensors.index.json";
    } else if (fs::exists(target / "model.safetensors")) {
      target /= "model.safetensors";
    } else {
      std::vector<fs::path> found;
      for (const auto& e : fs::directory_iterator(target))
        if (e.path().extension() == ".safetensors") found.push_back(e.path());
      if (found.size() != 1)
        fail("{}: expected model.safetensors.index.json, model.safetensors or one .safetensors file; found {} .safetensors files",
             path, found.size());
      target = found[0];
    }
  }
  if (!fs::exists(target)) fail("{}: no such file or directory", target.string());
  c.path_ = target.string();
  c.directory_ = target.parent_path().empty() ? "." : target.parent_path().string();

  std::map<std::string, std::string> placed;  // tensor -> shard, from the index
  if (target.string().ends_with(".json")) {
    const json index = read_json_file(c.path_);
    if (!index.is_object() || !index.contains("weight_map") || !index.at("weight_map").is_object())
      fail("{}: no 'weight_map' object: not a safetensors index", c.path_);
    std::vector<std::string> shards;
    for (const auto& [name, shard] : index.at("weight_map").items()) {
      if (!shard.is_string()) fail("{}: weight_map entry '{}' is not a file name", c.path_, name);
      const std::string file = shard.get<std::string>();
      if (file.empty() || file.find('/') != std::string::npos || file == "." || file == "..")
        fail("{}: weight_map entry '{}' names '{}', not a file in the same directory", c.path_, name, file);
      placed[name] = file;
      if (std::find(shards.begin(), shards.end(), file) == shards.end()) shards.push_back(file);
    }
    if (shards.empty()) fail("{}: the weight_map is empty", c.path_);
    for (const std::string& shard : shards)
      c.files_.push_back(std::make_shared<const File>(File::open((fs::path(c.directory_) / shard).string())));
  } else {
    c.files_.push_back(std::make_shared<const File>(File::open(c.path_)));
  }
  for (const auto& file : c.files_)
    for (const Tensor& t : file->tensors()) {
      auto [it, inserted] = c.by_name_.emplace(t.name, &t);
      if (!inserted) fail("{}: tensor '{}' is in both {} and {}", c.path_, t.name, it->second->file, file->path());
    }
  for (const auto& [name, shard] : placed) {
    const Tensor* t = c.find(name);
    if (!t || fs::path(t->file).filename() != shard) fail("{}: tensor '{}' is not in {}, where the index places it", c.path_, name, shard);
  }
  return c;
}

const Tensor* Checkpoint::find(std::string_view name) const {
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

std::vector<const Tensor*> Checkpoint::tensors() const {
  std::vector<const Tensor*> all;
  for (const auto& file : files_)
    for (const Tensor& t : file->tensors()) all.push_back(&t);
  return all;
}

void Writer::set_metadata(std::string key, std::string value) { metadata_[std::move(key)] = std::move(value); }

void Writer::add_tensor(std::string name, DType type, std::vector<uint64_t> shape, Fill fill) {
  uint64_t n = 1;
  for (uint64_t d : shape) {
    const auto m = checked_mul(n, d);
    if (!m) fail("safetensors: tensor '{}' shape {} overflows", name, shape_text(shape));
    n = *m;
  }
  const auto bytes = checked_mul(n, dtype_info(type).block_bytes);
  dtype_name_of(type);  // refuses anything but F32, F16, BF16
  if (!bytes) fail("safetensors: tensor '{}' is too large", name);
  for (const Pending& p : tensors_)
    if (p.name == name) fail("safetensors: tensor '{}' added twice", name);
  tensors_.push_back({std::move(name), type, std::move(shape), *bytes, std::move(fill)});
}

void Writer::write(const std::string& path) const {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  uint64_t offset = 0;
  for (const Pending& p : tensors_) {
    header[p.name] = {{"dtype", std::string(dtype_name_of(p.type))}, {"shape", p.shape}, {"data_offsets", {offset, offset + p.n_bytes}}};
    offset += p.n_bytes;
  }
  std::string text = header.dump();
  while ((8 + text.size()) % kDataAlignment != 0) text += ' ';  // JSON allows trailing spaces
  AtomicFile out(path);
  const uint64_t len = text.size();
  out.write_all(&len, 8);
  out.write_all(text.data(), text.size());
  std::vector<uint8_t> buffer;
  for (const Pending& p : tensors_) {
    buffer.assign(size_t(p.n_bytes), 0);
    if (p.fill) p.fill(buffer);
    out.write_all(buffer.data(), buffer.size());
  }
  out.commit();
}

}  // namespace bwscope::safetensors
