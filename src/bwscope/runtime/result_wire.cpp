// An instance's result on the pipe from a child process: a length-prefixed JSON header with
// the scalar fields, then the ledger records as raw bytes (parent and child are the same
// binary, so the layout agrees), then an end mark that tells a complete message from a child
// that died while writing.
#include <cstring>

#include <nlohmann/json.hpp>

#include "bwscope/format/json_file.h"
#include "bwscope/runtime/instance_run.h"

namespace bwscope::colo {
namespace {

constexpr uint64_t kBegin = 0x62777363'6f6c6f31ull;  // "bwscolo1"
constexpr uint64_t kEnd = 0x656e645f'6f665f72ull;

void put_u64(std::string& s, uint64_t v) { s.append(reinterpret_cast<const char*>(&v), sizeof v); }
bool get_u64(const std::string& s, size_t& at, uint64_t& v) {
  if (at > s.size() || s.size() - at < sizeof v) return false;
  std::memcpy(&v, s.data() + at, sizeof v);
  at += sizeof v;
  return true;
}

}  // namespace

std::string encode_result(const InstanceResult& r) {
  nlohmann::json j = {{"name", r.name}, {"model_path", r.model_path}, {"weight_type", r.weight_type},
                      {"threads", r.threads}, {"cpus", r.cpus}, {"batch", r.batch}, {"n_prompt", r.n_prompt},
                      {"n_gen", r.n_gen}, {"completed", r.completed}, {"error", r.error}, {"start_ns", r.start_ns},
                      {"token_ns", r.token_ns}, {"prefill_t0_ns", r.prefill_t0_ns}, {"prefill_t1_ns", r.prefill_t1_ns},
                      {"end_ns", r.end_ns}, {"weight_bytes", r.weight_bytes}, {"weights", std::string(weight_mode_name(r.weights))},
                      {"kv_bytes", r.kv_bytes}, {"scratch_bytes", r.scratch_bytes}, {"records_dropped", r.records_dropped},
                      {"clock_offset_ns", r.clock_offset_ns}, {"clock_round_trip_ns", r.clock_round_trip_ns},
                      {"tokens_digest", r.tokens_digest}};
  const std::string header = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string s;
  put_u64(s, kBegin);
  put_u64(s, header.size());
  s += header;
  put_u64(s, r.records.size());
  s.append(reinterpret_cast<const char*>(r.records.data()), r.records.size() * sizeof(meter::Record));
  put_u64(s, kEnd);
  return s;
}

bool decode_result(const std::string& s, InstanceResult& r) {
  size_t at = 0;
  uint64_t v = 0, header_size = 0, n_records = 0;
  if (!get_u64(s, at, v) || v != kBegin || !get_u64(s, at, header_size) || header_size > s.size() - at) return false;
  try {
    const auto j = nlohmann::json::parse(s.substr(at, header_size));
    at += header_size;
    r.name = j.at("name");
    r.model_path = j.at("model_path");
    r.weight_type = j.at("weight_type");
    r.threads = json_integer<int>(j.at("threads"));
    r.cpus = json_integers<int>(j.at("cpus"));
    r.batch = json_integer<int64_t>(j.at("batch"));
    r.n_prompt = json_integer<int64_t>(j.at("n_prompt"));
    r.n_gen = json_integer<int64_t>(j.at("n_gen"));
    r.completed = j.at("completed");
    r.error = j.at("error");
    r.start_ns = json_integer<int64_t>(j.at("start_ns"));
    r.token_ns = json_integers<int64_t>(j.at("token_ns"));
    r.prefill_t0_ns = json_integer<int64_t>(j.at("prefill_t0_ns"));
    r.prefill_t1_ns = json_integer<int64_t>(j.at("prefill_t1_ns"));
    r.end_ns = json_integer<int64_t>(j.at("end_ns"));
    r.weight_bytes = json_integer<uint64_t>(j.at("weight_bytes"));
    r.weights = parse_weight_mode("weights", j.at("weights").get<std::string>());
    r.kv_bytes = json_integer<uint64_t>(j.at("kv_bytes"));
    r.scratch_bytes = json_integer<uint64_t>(j.at("scratch_bytes"));
    r.records_dropped = json_integer<uint64_t>(j.at("records_dropped"));
    r.clock_offset_ns = json_integer<int64_t>(j.at("clock_offset_ns"));
    r.clock_round_trip_ns = json_integer<int64_t>(j.at("clock_round_trip_ns"));
    r.tokens_digest = json_integer<uint64_t>(j.at("tokens_digest"));
  } catch (const std::exception&) {  // a malformed header: json's errors, a field not an integer in range, a bad weights mode
    return false;
  }
  if (!get_u64(s, at, n_records) || n_records > (s.size() - at) / sizeof(meter::Record)) return false;
  r.records.resize(size_t(n_records));
  if (n_records > 0) std::memcpy(r.records.data(), s.data() + at, size_t(n_records) * sizeof(meter::Record));
  at += size_t(n_records) * sizeof(meter::Record);
  // Every record names an op and a phase the ledger knows (reports index tables by them).
  for (const meter::Record& rec : r.records)
    if (uint8_t(rec.op) >= uint8_t(meter::Op::kCount) || uint8_t(rec.phase) > uint8_t(meter::Phase::Other)) return false;
  return get_u64(s, at, v) && v == kEnd && at == s.size();
}

}  // namespace bwscope::colo
