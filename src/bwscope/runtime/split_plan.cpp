#include "bwscope/runtime/split_plan.h"

#include <cstring>

#include <nlohmann/json.hpp>

#include "bwscope/base/error.h"
#include "bwscope/format/json_file.h"

namespace bwscope::colo {

std::string encode_split_plan(const SplitPlan& p) {
  nlohmann::json ranks = nlohmann::json::array();
  for (const InstancePlan& r : p.ranks)
    ranks.push_back({{"index", r.index}, {"name", r.spec.name}, {"model_path", r.spec.model_path}, {"batch", r.spec.batch},
                     {"n_prompt", r.spec.n_prompt}, {"n_gen", r.spec.n_gen}, {"seq_seeds", r.seq_seeds}, {"threads", r.threads},
                     {"cpus", r.cpus}});
  const nlohmann::json j = {{"ranks", ranks}, {"isa", p.isa}, {"kv_type", std::string(dtype_name(p.kv_type))},
                            {"kind", p.split.kind}, {"micro_batches", p.split.micro_batches}, {"vocab_split", p.split.vocab_split},
                            {"board", p.board}, {"result", p.result}};
  return j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace);
}

SplitPlan decode_split_plan(const std::string& text, const std::string& path) {
  SplitPlan p;
  try {
    const auto j = nlohmann::json::parse(text);
    for (const auto& r : j.at("ranks")) {
      InstancePlan ip;
      ip.index = json_integer<int>(r.at("index"));
      ip.spec.name = r.at("name");
      ip.spec.model_path = r.at("model_path");
      ip.spec.batch = json_integer<int64_t>(r.at("batch"));
      ip.spec.n_prompt = json_integer<int64_t>(r.at("n_prompt"));
      ip.spec.n_gen = json_integer<int64_t>(r.at("n_gen"));
      ip.seq_seeds = json_integers<uint64_t>(r.at("seq_seeds"));
      ip.threads = json_integer<int>(r.at("threads"));
      ip.cpus = json_integers<int>(r.at("cpus"));
      ip.spec.threads = ip.threads;
      p.ranks.push_back(std::move(ip));
    }
    p.isa = j.at("isa");
    p.kv_type = parse_dtype_flag("kv_type", j.at("kv_type").get<std::string>());
    p.split.kind = j.at("kind");
    p.split.micro_batches = json_integer<int64_t>(j.at("micro_batches"));
    p.split.vocab_split = j.at("vocab_split");
    p.board = j.at("board");
    p.result = j.at("result");
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail("{}: not a split run's plan: {}", path, e.what());
  }
  if (p.ranks.empty() || (p.split.kind != "tp" && p.split.kind != "pp")) fail("{}: not a split run's plan", path);
  return p;
}

ColocateOptions rank_options(const SplitPlan& plan) {
  ColocateOptions o;
  o.isa = plan.isa;
  o.kv_type = plan.kv_type;
  o.weights = WeightMode::Private;
  o.split = plan.split;
  return o;
}

namespace {
void put_u64(std::string& s, uint64_t v) { s.append(reinterpret_cast<const char*>(&v), sizeof v); }
}  // namespace

std::string encode_results(const std::vector<std::string>& encoded) {
  std::string s;
  put_u64(s, encoded.size());
  for (const std::string& e : encoded) {
    put_u64(s, e.size());
    s += e;
  }
  return s;
}

bool decode_results(const std::string& s, std::vector<InstanceResult>& out) {
  size_t at = 0;
  auto get = [&](uint64_t& v) {
    if (s.size() - at < sizeof v) return false;
    std::memcpy(&v, s.data() + at, sizeof v);
    at += sizeof v;
    return true;
  };
  uint64_t n = 0;
  if (!get(n) || n > 4096) return false;
  out.clear();
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t len = 0;
    if (!get(len) || len > s.size() - at) return false;
    InstanceResult r;
    if (!decode_result(s.substr(at, size_t(len)), r)) return false;
    at += size_t(len);
    out.push_back(std::move(r));
  }
  return at == s.size();
}

}  // namespace bwscope::colo
