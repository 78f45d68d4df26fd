#include "bwscope/study/bench_run.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <fmt/core.h>

#include "bwscope/base/error.h"
#include "bwscope/engine/engine.h"
#include "bwscope/meter/ledger.h"

namespace bwscope::study {

double ProbeInfo::read_gbs(int threads) const {
  if (!result) return 0;
  double cached = result->attainable_read_gbs();
  for (const meter::ThreadFigures& f : result->per_threads)
    if (f.threads == threads) cached = f.read.best_gbs;
  return threads == bracket_threads ? meter::bracketed_roof(cached, before_gbs, after_gbs) : cached;
}

double ProbeInfo::attainable_gbs() const {
  if (!result) return 0;
  return bracket_threads == cpus ? meter::bracketed_roof(result->attainable_read_gbs(), before_gbs, after_gbs)
                                 : result->attainable_read_gbs();
}

ProbeInfo load_probe(const std::string& mode, const std::string& file) {
  ProbeInfo probe;
  if (!file.empty()) {
    try {  // the probe cache's strict reader: one line naming the file for anything but a sane probe
      probe.result = meter::read_probe_cache(file);
    } catch (const Error& e) {
      fail("--probe-file {}", e.what());
    }
    probe.source = "file " + file;
  } else if (mode != "none") {
    const std::string cache = meter::probe_cache_path("");
    const bool reprobe = mode == "reprobe";
    if (reprobe || !std::filesystem::exists(cache))
      fmt::print(stderr, "bwscope: probing this device's bandwidth and compute peak (stored in {}) ...\n", cache);
    probe.result = meter::cached_probe(meter::ProbeOptions{}, reprobe);
    probe.source = "cache " + cache;
  }
  return probe;
}

double compute_roof(const meter::ProbeResult& p, DType weight_type, std::string* kernel) {
  const std::string tag = fmt::format("/{} ", dtype_name(weight_type));
  for (const meter::ComputeFigure& c : p.compute)
    if (c.kernel.find(tag) != std::string::npos) {
      *kernel = c.kernel;
      return c.best_gflops;
    }
  *kernel = "best of all types";
  return p.compute_peak_gflops;
}

int64_t bench_max_batch(const BenchSettings& s) { return std::clamp<int64_t>(std::max(s.n_prompt, s.n_seq), 1, 512); }

uint64_t bench_records(const BenchSettings& s, int64_t n_layers) {
  const int64_t max_batch = bench_max_batch(s);
  return uint64_t(s.reps * (s.n_gen + (s.n_prompt + max_batch - 1) / max_batch) * (3 + 8 * n_layers));
}

BenchMeasurement measure_bench(const LlamaModel& model, const BenchSettings& s, meter::CounterSource* counter) {
  EngineOptions eo;
  eo.threads = s.threads;
  eo.n_seq = s.n_seq;
  eo.n_ctx = std::max<int64_t>({s.n_prompt, s.n_gen, 1});
  eo.max_batch = bench_max_batch(s);
  eo.kv_type = s.kv_type;
  eo.ops = s.ops;
  eo.split = s.split;
  // One record per op: (embed + 8 per layer + output norm + output) per forward call, and in a
  // split run up to 2 MPI calls per layer and 2 more per call.
  const int64_t forwards = (s.reps + 1) * (s.n_gen + (s.n_prompt + eo.max_batch - 1) / eo.max_batch);
  meter::Ledger ledger(size_t(forwards * (5 + 10 * model.config.n_layers) + 16));
  eo.ledger = &ledger;
  Engine engine(model, eo);

  BenchMeasurement m;
  m.isa = engine.ops().isa;
  m.max_batch = eo.max_batch;
  m.width_ns = std::max<int64_t>(1, int64_t(s.window_ms * 1e6));
  std::unique_ptr<meter::CounterRecorder> recorder;
  if (counter) {
    recorder = std::make_unique<meter::CounterRecorder>(*counter, m.width_ns);
    recorder->start();
  }
  BenchOptions bo;
  bo.n_prompt = s.n_prompt;
  bo.n_gen = s.n_gen;
  bo.reps = s.reps;
  m.result = run_bench(engine, bo);
  if (recorder) {
    recorder->stop();
    m.counter_used = counter->name();
    m.counter_samples = recorder->samples();
  }
  if (ledger.dropped() > 0) fail("bench: the ledger dropped {} records (capacity {})", ledger.dropped(), ledger.records().size());

  // Per-phase figures over the measured repetitions (the warm-up is left out).
  auto spans = [](const std::vector<BenchResult::RepSpan>& in) {
    std::vector<meter::Span> out;
    for (const auto& sp : in) out.push_back({sp.t0_ns, sp.t1_ns});
    return out;
  };
  m.prefill_spans = spans(m.result.prefill_spans);
  m.decode_spans = spans(m.result.decode_spans);
  const auto records = ledger.records();
  m.prefill = meter::phase_figures(records, meter::Phase::Prefill, m.prefill_spans, uint64_t(s.n_prompt * s.reps), m.width_ns);
  m.decode = meter::phase_figures(records, meter::Phase::Decode, m.decode_spans, uint64_t(s.n_gen * s.n_seq * s.reps), m.width_ns);
  std::vector<meter::Span> all = m.prefill_spans;
  all.insert(all.end(), m.decode_spans.begin(), m.decode_spans.end());
  m.run_t0_ns = all.front().t0_ns, m.run_t1_ns = all.front().t1_ns;
  for (const auto& sp : all) m.run_t0_ns = std::min(m.run_t0_ns, sp.t0_ns), m.run_t1_ns = std::max(m.run_t1_ns, sp.t1_ns);
  m.series = meter::bandwidth_series(records, m.run_t0_ns, m.run_t1_ns, m.width_ns);
  if (s.keep_records)
    for (const meter::Record& r : records)
      for (const meter::Span& sp : all)
        if (r.t_begin_ns >= sp.t0_ns && r.t_end_ns <= sp.t1_ns) {
          m.records.push_back(r);
          break;
        }
  return m;
}

void judge_bench(BenchMeasurement& m, DType weight_type, const BenchSettings& s, const ProbeInfo& probe) {
  if (probe.result) m.roof_gflops = compute_roof(*probe.result, weight_type, &m.roof_kernel);
  // One instance: its threads' roof (the brackets ran on as many threads when bracketed), the device's.
  const int cpus = probe.cpus;
  const int used = cpus > 0 ? std::min(s.threads, cpus) : s.threads;
  m.core_roof_gbs = probe.read_gbs(used);
  auto judge = [&](const meter::PhaseFigures& f) {
    meter::VerdictInput in;
    in.achieved_gbs = f.avg_gbs();
    in.achieved_gflops = f.gflops();
    in.threads = s.threads;
    in.core_roof_gbs = m.core_roof_gbs;
    in.core_roof_gflops = cpus > 0 ? m.roof_gflops * double(used) / double(cpus) : m.roof_gflops;
    in.device_gbs = f.avg_gbs();
    in.device_roof_gbs = probe.attainable_gbs();
    in.free_cpus = std::max(0, cpus - s.threads);
    in.threshold = s.threshold;
    in.datasheet_gbs = s.peak_bw;
    return meter::judge(in);
  };
  m.prefill_verdict = judge(m.prefill);
  m.decode_verdict = judge(m.decode);
}

std::string bench_model_type(const LlamaModel& model) {
  std::string size = "?B";
  switch (model.config.n_layers) {  // llama.cpp's size classes for the Llama architecture
    case 16: size = "1B"; break;
    case 28: size = "3B"; break;
    case 32: size = model.config.n_vocab >= 128000 ? "8B" : "7B"; break;
    case 80: size = "70B"; break;
  }
  std::optional<uint64_t> file_type;
  if (model.file)
    if (const gguf::Value* v = model.file->find("general.file_type")) file_type = v->as_uint();
  bool guessed = false;
  if (!file_type) {
    guessed = true;
    switch (model.layers.at(0).attn_q.type) {
      case DType::F32: file_type = 0; break;
      case DType::F16: file_type = 1; break;
      case DType::Q4_0: file_type = 2; break;
      case DType::Q8_0: file_type = 7; break;
      case DType::Q4_K: file_type = 15; break;
      case DType::Q5_K: file_type = 17; break;
      case DType::Q6_K: file_type = 18; break;
      case DType::BF16: file_type = 32; break;
      default: break;
    }
  }
  std::string name = "unknown";
  if (file_type) switch (*file_type) {  // llama.cpp's names of llama_ftype
      case 0: name = "all F32"; break;
      case 1: name = "F16"; break;
      case 2: name = "Q4_0"; break;
      case 3: name = "Q4_1"; break;
      case 7: name = "Q8_0"; break;
      case 8: name = "Q5_0"; break;
      case 9: name = "Q5_1"; break;
      case 10: name = "Q2_K - Medium"; break;
      case 11: name = "Q3_K - Small"; break;
      case 12: name = "Q3_K - Medium"; break;
      case 13: name = "Q3_K - Large"; break;
      case 14: name = "Q4_K - Small"; break;
      case 15: name = "Q4_K - Medium"; break;
      case 16: name = "Q5_K - Small"; break;
      case 17: name = "Q5_K - Medium"; break;
      case 18: name = "Q6_K"; break;
      case 32: name = "BF16"; break;
      default: name = fmt::format("ftype {}", *file_type); break;
    }
  return fmt::format("llama {} {}{}", size, name, guessed ? " (guessed)" : "");
}

report::BenchRow bench_row(const BenchRowInfo& info, const BenchSettings& s, const BenchMeasurement& m) {
  using report::FieldType;
  const bool prefill = s.n_gen == 0;
  const std::vector<meter::Span>& spans = prefill ? m.prefill_spans : m.decode_spans;
  const meter::PhaseFigures& f = prefill ? m.prefill : m.decode;
  const meter::Verdict& v = prefill ? m.prefill_verdict : m.decode_verdict;
  const int64_t tokens = prefill ? s.n_prompt : s.n_gen * s.n_seq;

  report::BenchRow r;
  double sum_ts = 0;
  int64_t sum_ns = 0;
  for (const meter::Span& sp : spans) {
    r.samples_ns.push_back(sp.t1_ns - sp.t0_ns);
    r.samples_ts.push_back(1e9 * double(tokens) / double(sp.t1_ns - sp.t0_ns));
    sum_ns += sp.t1_ns - sp.t0_ns;
    sum_ts += r.samples_ts.back();
  }
  const size_t n = spans.size();
  const int64_t avg_ns = n ? sum_ns / int64_t(n) : 0;
  const double avg_ts = n ? sum_ts / double(n) : 0;
  double ss_ns = 0, ss_ts = 0;  // sample standard deviations (n - 1), 0 for one repetition
  for (size_t i = 0; i < n; ++i) {
    ss_ns += std::pow(double(r.samples_ns[i] - avg_ns), 2);
    ss_ts += std::pow(r.samples_ts[i] - avg_ts, 2);
  }
  const double sd_ns = n > 1 ? std::sqrt(ss_ns / double(n - 1)) : 0, sd_ts = n > 1 ? std::sqrt(ss_ts / double(n - 1)) : 0;

  auto str = [&](const char* name, std::string value) { r.fields.push_back({name, FieldType::String, std::move(value)}); };
  auto integer = [&](const char* name, int64_t value) { r.fields.push_back({name, FieldType::Int, std::to_string(value)}); };
  // llama-bench's floats as it prints them ("%f"); bwscope's to the last digit (MBU is a fraction).
  auto real = [&](const char* name, double value, bool known = true) {
    r.fields.push_back({name, FieldType::Float, known ? fmt::format("{}", value) : std::string()});
  };
  const std::string kv = std::string(dtype_name(s.kv_type));
  // llama-bench's fields, where bwscope has the same thing to say.
  str("build_commit", info.build_commit);
  integer("build_number", info.build_number);
  str("cpu_info", info.cpu_info);
  str("gpu_info", "");
  str("backends", "CPU");
  str("model_filename", info.model_filename);
  str("model_type", info.model_type);
  integer("model_size", int64_t(info.model_size));
  integer("model_n_params", int64_t(info.model_n_params));
  integer("n_batch", m.max_batch);
  integer("n_ubatch", m.max_batch);
  integer("n_threads", s.threads);
  str("type_k", kv);
  str("type_v", kv);
  integer("n_gpu_layers", 0);
  integer("n_prompt", prefill ? s.n_prompt : 0);
  integer("n_gen", prefill ? 0 : s.n_gen);
  integer("n_depth", 0);
  str("test_time", info.test_time);
  integer("avg_ns", avg_ns);
  integer("stddev_ns", int64_t(sd_ns));
  r.fields.push_back({"avg_ts", FieldType::Float, fmt::format("{:f}", avg_ts)});
  r.fields.push_back({"stddev_ts", FieldType::Float, fmt::format("{:f}", sd_ts)});
  // bwscope's own.
  integer("n_seq", prefill ? 1 : s.n_seq);
  integer("reps", int64_t(n));
  str("weight_type", info.weight_type);
  str("isa", m.isa);
  str("layout", info.layout);
  real("avg_gbs", f.avg_gbs());
  real("peak_gbs", f.windows.peak_gbs);
  real("p95_gbs", f.windows.p95_gbs);
  real("window_ms", double(m.width_ns) * 1e-6);
  real("bytes_per_token", f.bytes_per_token());
  real("gflops", f.gflops());
  real("cores_roof_gbs", m.core_roof_gbs, info.has_probe);
  real("mbu", v.mbu_cores, info.has_probe);
  real("mbu_device", v.mbu_device, info.has_probe);
  real("mfu", v.mfu, info.has_probe);
  str("bound", info.has_probe ? meter::bound_name(v.bound) : "");
  str("verdict", info.has_probe ? v.reason : "no probe (--probe none): no MBU or verdict");
  return r;
}

}  // namespace bwscope::study
