// Writes the seed corpus of every fuzz target from small files bwscope itself makes:
//   make_seeds DIR  ->  DIR/<target>/<seed files>
// Each seed is checked to parse before it is written, so a target starts from valid input and
// mutates from there.
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bwscope/base/error.h"
#include "bwscope/format/gguf.h"
#include "bwscope/format/hf_config.h"
#include "bwscope/format/safetensors.h"
#include "bwscope/format/tokenizer_json.h"
#include "bwscope/meter/probe.h"
#include "bwscope/model/hf_checkpoint.h"
#include "bwscope/model/synth.h"
#include "bwscope/model/tokenizer.h"
#include "bwscope/runtime/colocate.h"
#include "bwscope/runtime/instance_run.h"
#include "bwscope/study/compare_run.h"
#include "bwscope/study/sweep.h"
#include "fuzz_input.h"

using namespace bwscope;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

void put(const fs::path& path, std::string_view bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}
std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void gguf_seeds(const fs::path& dir) {
  for (DType type : {DType::Q8_0, DType::F16, DType::F32}) {
    SynthOptions o;
    o.config = fuzz::small_llama();
    o.type = type;
    o.threads = 1;
    const fs::path path = dir / fmt::format("synth-{}.gguf", dtype_name(type));
    fs::create_directories(dir);
    write_synthetic_gguf(o, path.string());
    (void)load_llama(path.string());
  }
}

void safetensors_and_config_seeds(const fs::path& st_dir, const fs::path& cfg_dir, const fs::path& work) {
  SynthOptions o;
  o.config = fuzz::small_llama();
  o.type = DType::F16;
  o.threads = 1;
  fs::create_directories(work);
  const fs::path hf = work / "hf";
  write_synthetic_hf(o, hf.string());
  (void)load_hf_llama(hf.string());
  put(st_dir / "model.safetensors", slurp(hf / "model.safetensors"));
  put(st_dir / "index.json", json{{"metadata", {{"total_size", 128}}},
                                 {"weight_map", {{"model.norm.weight", "a.safetensors"}}}}.dump(2));
  put(cfg_dir / "synth-config.json", slurp(hf / "config.json"));
  put(cfg_dir / "llama-3.2-1b-config.json", hf_config_json(hf_config_from_llama(preset("llama-3.2-1b"), DType::BF16)));
  put(cfg_dir / "llama-3.2-3b-config.json", hf_config_json(hf_config_from_llama(preset("llama-3.2-3b"), DType::BF16)));
}

// A small Llama 3 style tokenizer.json: the byte tokens, two merges, the special tokens.
void tokenizer_json_seeds(const fs::path& dir) {
  const TokenizerData bytes = byte_level_tokenizer(260);
  json vocab = json::object(), added = json::array();
  for (size_t id = 0; id < bytes.tokens.size(); ++id) {
    if (!bytes.token_types.empty() && bytes.token_types[id] == 3)
      added.push_back({{"id", id}, {"content", bytes.tokens[id]}, {"special", true}});
    else
      vocab[bytes.tokens[id]] = id;
  }
  vocab["he"] = bytes.tokens.size();
  vocab["Ġt"] = bytes.tokens.size() + 1;
  json j;
  j["model"] = {{"type", "BPE"}, {"ignore_merges", true}, {"vocab", vocab}, {"merges", {"h e", "Ġ t"}}};
  j["added_tokens"] = added;
  j["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "Split"},
         {"pattern",
          {{"Regex", "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
                     "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}}},
         {"behavior", "Isolated"}},
        {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
  put(dir / "small-tokenizer.json", j.dump(1));
  (void)Tokenizer(read_tokenizer_json((dir / "small-tokenizer.json").string()));
}

// First byte: flags (bit 0: parse special tokens); the rest is the text.
void tokenize_seeds(const fs::path& dir) {
  const std::vector<std::string> texts = {
      "Hello, world! This is bwscope.",
      "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
      "    indented\n\n\ttabs\r\n and 1234567 numbers, 3.14159",
      "caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80 emoji",
      "invalid \xff\xfe\xc3 utf-8 \xed\xa0\x80 surrogate",
      "I'm sure they've said it's 'quoted' -- don't.",
  };
  int n = 0;
  for (const std::string& t : texts)
    for (char flags : {'\0', '\1'}) put(dir / fmt::format("text-{}", n++), std::string(1, flags) + t);
}

void probe_seeds(const fs::path& dir) {
  meter::ProbeResult r;
  r.machine = "Seed CPU; 2 CPUs; 24 GiB";
  r.measured_unix_s = 1764900000;
  r.buffer_bytes = size_t(1) << 30;
  r.isa = "avx512";
  r.reps = 3;
  for (int t = 1; t <= 2; ++t) {
    meter::ThreadFigures f;
    f.threads = t;
    f.read = {40.0 * t, 38.0 * t, "4 streams, prefetch"};
    f.write = {20.0 * t, 19.0 * t, "1 stream"};
    f.write_nt = {25.0 * t, 24.0 * t, "1 stream"};
    f.copy = {18.0 * t, 17.0 * t, "1 stream"};
    f.triad = {21.0 * t, 20.0 * t, "1 stream"};
    f.read_by_pattern = {f.read, {30.0 * t, 29.0 * t, "1 stream"}};
    r.per_threads.push_back(f);
  }
  r.all = r.per_threads.back();
  r.compute = {{"avx512/q8_0 matmul 2048x2048x64", 300}, {"avx512/f16 matmul 2048x2048x64", 200}};
  r.compute_peak_gflops = 300;
  put(dir / "probe.json", r.to_json().dump(2));
  (void)meter::read_probe_cache((dir / "probe.json").string());
}

void sweep_results_seeds(const fs::path& dir) {
  fs::create_directories(dir);
  const fs::path path = dir / "results.jsonl";
  fs::remove(path);
  {
    study::ResultsFile file = study::ResultsFile::create(path.string(), study::results_header(study::SweepGrid{}, study::CompareSettings{}));
    report::PointResult ok;
    ok.ok = true;
    ok.scenario = "1 instance";
    ok.model_path = "synth-q8_0.gguf";
    ok.threads = 2;
    ok.n_gen = 64;
    ok.seconds = 3.5;
    ok.decode_gbs = ok.avg_gbs = 41.5;
    ok.peak_gbs = 48.0;
    ok.tokens_per_s = 31.0;
    ok.tpot_p50_ms = 32.0;
    ok.tpot_p99_ms = 35.0;
    ok.ttft_ms = 80.0;
    ok.decode_bytes_per_token = 1.3e9;
    ok.weight_bytes = 1316000000;
    ok.device_read_gbs = 60;
    ok.cores_read_gbs = 60;
    ok.verdict = "bandwidth-bound";
    file.append(ok);
    report::PointResult failed;
    failed.point.instances = 2;
    failed.error = "out of memory";
    file.append(failed);
  }
  (void)study::ResultsFile::resume(path.string());
}

void result_wire_seeds(const fs::path& dir) {
  InstanceResult r;
  r.name = "instance 1";
  r.model_path = "synth-q8_0.gguf";
  r.weight_type = "q8_0";
  r.threads = 1;
  r.cpus = {0};
  r.n_prompt = 8;
  r.n_gen = 2;
  r.completed = true;
  r.start_ns = 1000;
  r.token_ns = {2000, 3000};
  r.prefill_t0_ns = 1100;
  r.prefill_t1_ns = 1900;
  r.end_ns = 3100;
  r.weight_bytes = 1 << 20;
  for (int i = 0; i < 3; ++i) {
    meter::Record rec;
    rec.t_begin_ns = 1000 + 100 * i;
    rec.t_end_ns = 1050 + 100 * i;
    rec.weight_bytes = 4096;
    rec.flops = 8192;
    rec.layer = int16_t(i - 1);
    rec.op = meter::Op(i);
    rec.phase = meter::Phase::Decode;
    r.records.push_back(rec);
  }
  const std::string bytes = colo::encode_result(r);
  InstanceResult back;
  if (!colo::decode_result(bytes, back)) fail("result_wire seed does not decode");
  put(dir / "result.bin", bytes);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    fmt::print(stderr, "usage: {} DIR\n", argv[0]);
    return 2;
  }
  const fs::path out = argv[1];
  try {
    gguf_seeds(out / "gguf");
    safetensors_and_config_seeds(out / "safetensors", out / "hf_config", out / ".work");
    tokenizer_json_seeds(out / "tokenizer_json");
    tokenize_seeds(out / "tokenize");
    probe_seeds(out / "probe_cache");
    sweep_results_seeds(out / "sweep_results");
    result_wire_seeds(out / "result_wire");
    fs::remove_all(out / ".work");
  } catch (const Error& e) {
    fmt::print(stderr, "make_seeds: {}\n", e.what());
    return 1;
  }
  return 0;
}
