// bwscope bench: llama-bench-like prefill and decode tokens/s of one instance, and what the meter
// makes of them: the ledger's bandwidth per phase (average, windowed peak/p50/p95), bytes per
// token, MBU and MFU against this device's probe, the verdict, the series, and hardware
// counters where the platform has them.
#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "bwscope/base/error.h"
#include "bwscope/base/mapped_file.h"
#include "bwscope/cli/commands.h"
#include "bwscope/engine/bench.h"
#include "bwscope/meter/counters.h"
#include "bwscope/meter/phase_figures.h"
#include "bwscope/meter/probe.h"
#include "bwscope/meter/verdict.h"
#include "bwscope/model/hf_checkpoint.h"
#include "bwscope/model/llama_model.h"
#include "bwscope/runtime/weight_copy.h"

namespace bwscope::cli {
namespace {

using ojson = nlohmann::ordered_json;

// Bumped when a key changes meaning or disappears; docs/bench-json.md describes each version.
constexpr int kBenchSchemaVersion = 3;

ojson samples_json(const Samples& s) {
  return {{"tokens_per_s", s.median()}, {"mean", s.mean()}, {"stddev", s.stddev()},
          {"min", s.min()}, {"max", s.max()}, {"samples", s.values}};
}

struct ProbeInfo {
  std::optional<meter::ProbeResult> result;
  std::string source;                  // "cache <path>", "measured now", "file <path>", "none"
  std::optional<double> before_gbs, after_gbs;  // the quick read probes bracketing the run
  int bracket_threads = 0, cpus = 0;   // the brackets ran on this many threads, of this many CPUs
  // What `threads` threads read: bracketed by the quick probes when they ran on that many,
  // else the probe's figure for that many (the device's past its thread counts).
  double read_gbs(int threads) const {
    if (!result) return 0;
    double cached = result->attainable_read_gbs();
    for (const meter::ThreadFigures& f : result->per_threads)
      if (f.threads == threads) cached = f.read.best_gbs;
    return threads == bracket_threads ? meter::bracketed_roof(cached, before_gbs, after_gbs) : cached;
  }
  // The device's roof: what every CPU reads.
  double attainable_gbs() const {
    if (!result) return 0;
    return bracket_threads == cpus ? meter::bracketed_roof(result->attainable_read_gbs(), before_gbs, after_gbs)
                                   : result->attainable_read_gbs();
  }
};

// The compute roof for a model: the probe's figure for the model's weight type when it has one
// (a Q4_0 matmul's peak differs from an F32 one's several times), else the best of all.
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

ojson phase_json(const meter::PhaseFigures& f, const meter::Verdict& v) {
  ojson j;
  j["seconds"] = f.seconds;
  j["tokens"] = f.tokens;
  j["records"] = f.n_records;
  j["weight_bytes"] = f.weight_bytes;
  j["kv_read_bytes"] = f.kv_read_bytes;
  j["kv_write_bytes"] = f.kv_write_bytes;
  j["activation_bytes"] = f.act_bytes;
  j["bytes_per_token"] = f.bytes_per_token();
  j["avg_gbs"] = f.avg_gbs();
  j["peak_gbs"] = f.windows.peak_gbs;
  j["p50_gbs"] = f.windows.p50_gbs;
  j["p95_gbs"] = f.windows.p95_gbs;
  j["window_ms"] = double(f.windows.width_ns) * 1e-6;
  j["n_windows"] = f.windows.n_windows;
  j["gflops"] = f.gflops();
  j["mbu"] = v.mbu_device;
  j["mbu_cores"] = v.mbu_cores;
  j["mfu"] = v.mfu;
  j["mbu_datasheet"] = v.mbu_datasheet ? ojson(*v.mbu_datasheet) : ojson(nullptr);
  j["verdict"] = {{"bound", meter::bound_name(v.bound)}, {"reason", v.reason}};
  return j;
}

void print_phase(const char* name, const meter::PhaseFigures& f, const meter::Verdict& v) {
  fmt::print("  {:<8} avg {:.2f} GB/s; {:.2f} ms windows: peak {:.2f}, p50 {:.2f}, p95 {:.2f} GB/s; {:.2f} MB per token; {:.1f} GFLOP/s\n",
             name, f.avg_gbs(), double(f.windows.width_ns) * 1e-6, f.windows.peak_gbs, f.windows.p50_gbs, f.windows.p95_gbs,
             f.bytes_per_token() / 1e6, f.gflops());
  fmt::print("           MBU {:.1f} % of the device, {:.1f} % of the cores used; MFU {:.1f} %{} → {}\n", 100 * v.mbu_device,
             100 * v.mbu_cores, 100 * v.mfu,
             v.mbu_datasheet ? fmt::format(", MBU vs datasheet {:.1f} %", 100 * *v.mbu_datasheet) : "", v.reason);
}

}  // namespace

void add_bench(CLI::App& app) {
  struct Options {
    std::string model, kv_type = "f16", isa, probe = "cached", probe_file, layout = "auto";
    int64_t n_prompt = 512, n_gen = 128, batch = 1, reps = 3;
    int threads = default_threads();
    double window_ms = 10, threshold = 0.8, bracket_s = 0.5;
    std::optional<double> peak_bw;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand("bench", "Measure prefill and decode tokens/s of one instance, and the meter's bandwidth figures");
  sub->add_option("model", o->model, "GGUF model (default: the synthetic Llama 3.2 1B Q8_0)");
  sub->add_option("-p,--n-prompt", o->n_prompt, "prompt tokens (prefill)")->capture_default_str()->check(whole_range(0, 1000000));
  sub->add_option("-n,--n-gen", o->n_gen, "generated tokens (decode)")->capture_default_str()->check(whole_range(0, 1000000));
  sub->add_option("-b,--batch", o->batch, "sequences decoded together (each step one token per sequence)")->capture_default_str()->check(whole_range(1, 256));
  sub->add_option("-t,--threads", o->threads, "threads")->capture_default_str()->check(whole_range(1, 4096));
  sub->add_option("-r,--reps", o->reps, "repetitions (after one warm-up)")->capture_default_str()->check(whole_range(1, 100));
  sub->add_option("--kv-type", o->kv_type, "KV cache type: f16 or f32")->capture_default_str();
  sub->add_option("--isa", o->isa, "kernel table: scalar, avx2 or avx512 (default: best for this CPU)");
  sub->add_option("--layout", o->layout,
                  "weights: auto (a private copy, interleaved where the kernels prefer it) or file (computed on the file mapping)")
      ->capture_default_str()->check(CLI::IsMember({"auto", "file"}));
  sub->add_option("--window-ms", o->window_ms, "width of the bandwidth series' windows, ms")->capture_default_str()->check(number_range(0.001, 1e6));
  sub->add_option("--peak-bw", o->peak_bw, "a datasheet peak bandwidth, GB/s, shown as a second MBU")->check(above_zero());
  sub->add_option("--threshold", o->threshold, "bandwidth-bound at or above this MBU")->capture_default_str()->check(number_range(0.01, 1.0));
  sub->add_option("--probe", o->probe, "attainable peak: cached (measured once per machine), reprobe, or none")
      ->capture_default_str()->check(CLI::IsMember({"cached", "reprobe", "none"}));
  sub->add_option("--probe-file", o->probe_file, "read the probe from this JSON file (bwscope probe --json)");
  sub->add_option("--bracket-s", o->bracket_s, "seconds of quick read probe before and after the run (0: none)")
      ->capture_default_str()->check(number_range(0.0, 60.0));
  sub->add_flag("--json", o->json, "print one JSON object");
  sub->callback([o] {
    if (o->n_prompt == 0 && o->n_gen == 0) fail("nothing to measure: -p and -n are both 0");
    const std::string path = o->model.empty() ? default_model_path() : o->model;
    if (o->layout == "file" && !is_hf_checkpoint_path(path)) {
      // The file's pages as readahead caches them (see refresh_page_cache), not as a writer left them.
      const int64_t t0 = meter::now_ns();
      const uint64_t bytes = refresh_page_cache(path);
      fmt::print(stderr, "bwscope: {}: {:.2f} GB re-read into the page cache in {:.1f} s\n", path, double(bytes) * 1e-9,
                 double(meter::now_ns() - t0) * 1e-9);
    }
    LlamaModel model = load_llama(path);
    EngineOptions eo;
    eo.threads = o->threads;
    eo.n_seq = o->batch;
    eo.n_ctx = std::max<int64_t>({o->n_prompt, o->n_gen, 1});
    eo.max_batch = std::clamp<int64_t>(std::max(o->n_prompt, o->batch), 1, 512);
    eo.kv_type = parse_type_flag("--kv-type", o->kv_type);
    if (!o->isa.empty()) {
      eo.ops = kernels::ops_by_name(o->isa);
      if (!eo.ops) fail("--isa {}: not available on this CPU (scalar, avx2, avx512)", o->isa);
    }
    const kernels::Ops& ops = eo.ops ? *eo.ops : kernels::best_ops();
    bool interleaved = false;
    if (o->layout == "auto" && ops.prefers_interleaved(model.layers.at(0).attn_q.type)) {
      make_weights_private(model, &ops, o->threads);
      interleaved = model.layers.at(0).attn_q.interleaved;
    }
    // One record per op: (embed + 8 per layer + output norm + output) per forward call.
    const int64_t forwards = (o->reps + 1) * (o->n_gen + (o->n_prompt + eo.max_batch - 1) / eo.max_batch);
    meter::Ledger ledger(size_t(forwards * (3 + 8 * model.config.n_layers) + 16));
    eo.ledger = &ledger;
    Engine engine(model, eo);

    ProbeInfo probe;
    if (!o->probe_file.empty()) {
      try {  // the probe cache's strict reader: one line naming the file for anything but a sane probe
        probe.result = meter::read_probe_cache(o->probe_file);
      } catch (const Error& e) {
        fail("--probe-file {}", e.what());
      }
      probe.source = "file " + o->probe_file;
    } else if (o->probe != "none") {
      const std::string cache = meter::probe_cache_path("");
      const bool reprobe = o->probe == "reprobe";
      if (reprobe || !std::filesystem::exists(cache))
        fmt::print(stderr, "bwscope: probing this device's bandwidth and compute peak (stored in {}) ...\n", cache);
      probe.result = meter::cached_probe(meter::ProbeOptions{}, reprobe);
      probe.source = "cache " + cache;
    }
    const int bracket_threads = std::min(o->threads, default_threads());
    probe.bracket_threads = bracket_threads;
    probe.cpus = default_threads();
    if (probe.result && o->bracket_s > 0) probe.before_gbs = meter::quick_read_probe(bracket_threads, o->bracket_s);

    // Hardware counters beside the ledger, sampled once per window, when the platform has any.
    auto sources = meter::counter_sources();
    meter::CounterSource* counter = nullptr;
    for (auto& s : sources)
      if (!counter && s->available()) counter = s.get();
    std::unique_ptr<meter::CounterRecorder> recorder;
    const int64_t width_ns = std::max<int64_t>(1, int64_t(o->window_ms * 1e6));
    if (counter) {
      recorder = std::make_unique<meter::CounterRecorder>(*counter, width_ns);
      recorder->start();
    }

    BenchOptions bo;
    bo.n_prompt = o->n_prompt;
    bo.n_gen = o->n_gen;
    bo.reps = o->reps;
    BenchResult r = run_bench(engine, bo);
    if (recorder) recorder->stop();
    if (probe.result && o->bracket_s > 0) probe.after_gbs = meter::quick_read_probe(bracket_threads, o->bracket_s);
    if (ledger.dropped() > 0) fail("bench: the ledger dropped {} records (capacity {})", ledger.dropped(), ledger.records().size());

    // Per-phase figures over the measured repetitions (the warm-up is left out).
    auto spans = [](const std::vector<BenchResult::RepSpan>& in) {
      std::vector<meter::Span> out;
      for (const auto& s : in) out.push_back({s.t0_ns, s.t1_ns});
      return out;
    };
    const auto prefill_spans = spans(r.prefill_spans), decode_spans = spans(r.decode_spans);
    const auto records = ledger.records();
    const meter::PhaseFigures prefill = meter::phase_figures(records, meter::Phase::Prefill, prefill_spans,
                                                             uint64_t(o->n_prompt * o->reps), width_ns);
    const meter::PhaseFigures decode = meter::phase_figures(records, meter::Phase::Decode, decode_spans,
                                                            uint64_t(o->n_gen * o->batch * o->reps), width_ns);
    std::string roof_kernel = "no probe";
    const double roof_gflops = probe.result ? compute_roof(*probe.result, model.layers.at(0).attn_q.type, &roof_kernel) : 0;
    // One instance: its threads' roof (the brackets ran on as many threads), the device's.
    const int cpus = probe.cpus;
    auto judge = [&](const meter::PhaseFigures& f) {
      meter::VerdictInput in;
      in.achieved_gbs = f.avg_gbs();
      in.achieved_gflops = f.gflops();
      in.threads = o->threads;
      in.core_roof_gbs = probe.read_gbs(bracket_threads);
      in.core_roof_gflops = cpus > 0 ? roof_gflops * double(bracket_threads) / double(cpus) : roof_gflops;
      in.device_gbs = f.avg_gbs();
      in.device_roof_gbs = probe.attainable_gbs();
      in.free_cpus = std::max(0, cpus - o->threads);
      in.threshold = o->threshold;
      in.datasheet_gbs = o->peak_bw;
      return meter::judge(in);
    };
    const meter::Verdict prefill_v = judge(prefill), decode_v = judge(decode);

    // The run's series: every measured repetition, prefill and decode, on one time axis.
    std::vector<meter::Span> all_spans = prefill_spans;
    all_spans.insert(all_spans.end(), decode_spans.begin(), decode_spans.end());
    int64_t run_t0 = all_spans.front().t0_ns, run_t1 = all_spans.front().t1_ns;
    for (const auto& s : all_spans) run_t0 = std::min(run_t0, s.t0_ns), run_t1 = std::max(run_t1, s.t1_ns);
    const meter::Series series = meter::bandwidth_series(records, run_t0, run_t1, width_ns);

    if (o->json) {
      ojson j;
      j["schema_version"] = kBenchSchemaVersion;
      j["model"] = path;
      j["config"] = {{"threads", o->threads}, {"n_prompt", o->n_prompt}, {"n_gen", o->n_gen}, {"batch", o->batch},
                     {"reps", o->reps}, {"kv_type", o->kv_type}, {"isa", engine.ops().isa},
                     {"layout", interleaved ? "interleaved" : "file"},
                     {"weight_type", dtype_name(model.layers.at(0).attn_q.type)}, {"window_ms", o->window_ms},
                     {"threshold", o->threshold}, {"peak_bw_gbs", o->peak_bw ? ojson(*o->peak_bw) : ojson(nullptr)},
                     {"probe", o->probe_file.empty() ? o->probe : "file"}, {"bracket_s", o->bracket_s}};
      const meter::DeviceInfo dev = meter::device_info();
      j["device"] = {{"kind", "cpu"}, {"cpu_model", dev.cpu_model}, {"cpus", dev.cpus}, {"memory_bytes", dev.memory_bytes}};
      if (probe.result) {
        ojson p = ojson::parse(probe.result->to_json().dump());
        p["source"] = probe.source;
        p["bracket_before_gbs"] = probe.before_gbs ? ojson(*probe.before_gbs) : ojson(nullptr);
        p["bracket_after_gbs"] = probe.after_gbs ? ojson(*probe.after_gbs) : ojson(nullptr);
        p["attainable_read_gbs"] = probe.attainable_gbs();
        p["cores_read_gbs"] = probe.read_gbs(bracket_threads);
        p["cores_threads"] = bracket_threads;
        p["compute_roof_gflops"] = roof_gflops;
        p["compute_roof_kernel"] = roof_kernel;
        j["probe"] = p;
      } else {
        j["probe"] = nullptr;
      }
      if (o->n_prompt > 0) {
        j["prefill"] = samples_json(r.prefill_tokens_per_s);
        j["prefill"]["ledger"] = phase_json(prefill, prefill_v);
      }
      if (o->n_gen > 0) {
        auto d = samples_json(r.decode_tokens_per_s);
        d["bytes_per_token"] = r.decode_bytes_per_token();
        d["weight_bytes_per_step"] = r.traffic.weight_bytes_per_step;
        d["kv_read_bytes_per_step"] = r.traffic.kv_read_bytes_per_step;
        d["kv_write_bytes_per_step"] = r.traffic.kv_write_bytes_per_step;
        d["avg_bandwidth_gbs"] = r.decode_bandwidth_gbs();
        d["ledger"] = phase_json(decode, decode_v);
        j["decode"] = d;
      }
      ojson s;
      s["window_ms"] = o->window_ms;
      s["t0_ns"] = series.t0_ns;
      s["t1_ns"] = series.t1_ns;
      std::vector<double> gbs(series.size());
      for (size_t i = 0; i < series.size(); ++i) gbs[i] = series.gbs(i);
      s["gbs"] = gbs;
      s["spans"] = ojson::array();
      for (const auto& sp : prefill_spans) s["spans"].push_back({{"phase", "prefill"}, {"t0_ns", sp.t0_ns}, {"t1_ns", sp.t1_ns}});
      for (const auto& sp : decode_spans) s["spans"].push_back({{"phase", "decode"}, {"t0_ns", sp.t0_ns}, {"t1_ns", sp.t1_ns}});
      j["series"] = s;
      ojson c;
      c["sources"] = ojson::array();
      for (auto& src : sources) c["sources"].push_back({{"name", src->name()}, {"status", src->status()}});
      c["used"] = counter ? ojson(counter->name()) : ojson(nullptr);
      if (recorder) {
        const auto samples = recorder->samples();
        const meter::Series cs = meter::counter_series(samples, run_t0, run_t1, width_ns);
        std::vector<double> cgbs(cs.size());
        for (size_t i = 0; i < cs.size(); ++i) cgbs[i] = cs.gbs(i);
        c["gbs"] = cgbs;
        c["bytes"] = cs.total_bytes();
        // Below 1: caches absorbed traffic the ledger counts; above 1: traffic the model did
        // not ask for (other processes included: the counters see the whole controller).
        c["ratio_to_ledger"] = series.total_bytes() > 0 ? cs.total_bytes() / series.total_bytes() : 0.0;
      }
      j["counters"] = c;
      fmt::print("{}\n", j.dump(2));
      return;
    }
    fmt::print("{}: {} threads, {} kernels{}, batch {}, {} reps\n", path, o->threads, engine.ops().isa,
               interleaved ? " on interleaved weights" : "", o->batch, o->reps);
    if (o->n_prompt > 0)
      fmt::print("  pp{:<5} {:9.2f} ± {:6.2f} tokens/s  (median {:.2f})\n", o->n_prompt, r.prefill_tokens_per_s.mean(),
                 r.prefill_tokens_per_s.stddev(), r.prefill_tokens_per_s.median());
    if (o->n_gen > 0)
      fmt::print("  tg{:<5} {:9.2f} ± {:6.2f} tokens/s  (median {:.2f}); {:.1f} MB per token → {:.2f} GB/s\n", o->n_gen,
                 r.decode_tokens_per_s.mean(), r.decode_tokens_per_s.stddev(), r.decode_tokens_per_s.median(),
                 r.decode_bytes_per_token() / 1e6, r.decode_bandwidth_gbs());
    fmt::print("meter (ledger: weights + KV cache bytes over the measured repetitions):\n");
    if (o->n_prompt > 0) print_phase("prefill", prefill, prefill_v);
    if (o->n_gen > 0) print_phase("decode", decode, decode_v);
    if (probe.result) {
      fmt::print("probe ({}): attainable read {:.2f} GB/s = best of probe {:.2f}", probe.source, probe.attainable_gbs(),
                 probe.result->attainable_read_gbs());
      if (probe.before_gbs && probe.after_gbs)
        fmt::print(", before {:.2f}, after {:.2f} (drift {:+.1f} %)", *probe.before_gbs, *probe.after_gbs,
                   100 * (*probe.after_gbs / *probe.before_gbs - 1));
      fmt::print("; compute roof {:.1f} GFLOP/s ({})\n", roof_gflops, roof_kernel);
    } else {
      fmt::print("probe: none (--probe none): no MBU or MFU\n");
    }
    for (auto& src : sources) fmt::print("counters: {}: {}\n", src->name(), src->status());
  });
}

}  // namespace bwscope::cli
