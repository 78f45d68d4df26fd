// bwscope bench: llama-bench's way of measuring prefill and decode tokens/s, with what the meter
// makes of them. Axes as llama-bench takes them (-m repeated, -p/-n/-b/-t lists and ranges,
// --type for synthetic models), one row per test, printed as llama-bench prints (-o md, csv,
// json, jsonl, sql) plus bandwidth, bytes per token, MBU and the verdict; or, for one
// configuration, the full single-run report (--json, -o text): the ledger's bandwidth per phase
// (average, windowed peak/p50/p95), MBU and MFU against this device's probe, the series, and
// hardware counters where the platform has them.
#include <algorithm>
#include <chrono>
#include <cstdio>
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
#include "bwscope/model/model_cache.h"
#include "bwscope/model/weight_plan.h"
#include "bwscope/parallel/mpi_world.h"
#include "bwscope/parallel/split_run.h"
#include "bwscope/report/bench_table.h"
#include "bwscope/report/trace.h"
#include "bwscope/runtime/weight_copy.h"
#include "bwscope/study/bench_grid.h"
#include "bwscope/study/bench_run.h"
#include "build_info.h"

namespace bwscope::cli {
namespace {

using ojson = nlohmann::ordered_json;

// Bumped when a key changes meaning or disappears; docs/bench-json.md describes each version.
constexpr int kBenchSchemaVersion = 3;

ojson samples_json(const Samples& s) {
  return {{"tokens_per_s", s.median()}, {"mean", s.mean()}, {"stddev", s.stddev()},
          {"min", s.min()}, {"max", s.max()}, {"samples", s.values}};
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

struct Options {
  std::string model, kv_type = "f16", isa, probe = "cached", probe_file, layout = "auto", output, preset = "llama-3.2-1b",
                     runs_json, trace, tp_head;
  double trace_max_mb = 512;
  std::vector<std::string> models, types, n_prompt = {"512"}, n_gen = {"128"}, batch = {"1"}, threads, kv_types;
  int64_t reps = 3;
  int tp = 0, pp = 0;
  double window_ms = 10, threshold = 0.8, bracket_s = 0.5;
  std::optional<double> peak_bw;
  bool json = false;
};

// What a single run reports besides the measurement.
struct RunContext {
  std::string path;
  const LlamaModel* model = nullptr;
  bool interleaved = false;
  const study::ProbeInfo* probe = nullptr;
  const std::vector<std::unique_ptr<meter::CounterSource>>* sources = nullptr;
};

// bench --json: one configuration's full report (docs/bench-json.md).
ojson single_run_json(const Options& o, const study::BenchSettings& s, const RunContext& c, const study::BenchMeasurement& m) {
  const study::ProbeInfo& probe = *c.probe;
  ojson j;
  j["schema_version"] = kBenchSchemaVersion;
  j["model"] = c.path;
  j["config"] = {{"threads", s.threads}, {"n_prompt", s.n_prompt}, {"n_gen", s.n_gen}, {"batch", s.n_seq},
                 {"reps", s.reps}, {"kv_type", dtype_name(s.kv_type)}, {"isa", m.isa},
                 {"layout", c.interleaved ? "interleaved" : "file"},
                 {"weight_type", dtype_name(c.model->layers.at(0).attn_q.type)}, {"window_ms", s.window_ms},
                 {"threshold", s.threshold}, {"peak_bw_gbs", s.peak_bw ? ojson(*s.peak_bw) : ojson(nullptr)},
                 {"probe", o.probe_file.empty() ? o.probe : "file"}, {"bracket_s", o.bracket_s}};
  const meter::DeviceInfo dev = meter::device_info();
  j["device"] = {{"kind", "cpu"}, {"cpu_model", dev.cpu_model}, {"cpus", dev.cpus}, {"memory_bytes", dev.memory_bytes}};
  if (probe.result) {
    ojson p = ojson::parse(probe.result->to_json().dump());
    p["source"] = probe.source;
    p["bracket_before_gbs"] = probe.before_gbs ? ojson(*probe.before_gbs) : ojson(nullptr);
    p["bracket_after_gbs"] = probe.after_gbs ? ojson(*probe.after_gbs) : ojson(nullptr);
    p["attainable_read_gbs"] = probe.attainable_gbs();
    p["cores_read_gbs"] = m.core_roof_gbs;
    p["cores_threads"] = probe.bracket_threads;
    p["compute_roof_gflops"] = m.roof_gflops;
    p["compute_roof_kernel"] = m.roof_kernel;
    j["probe"] = p;
  } else {
    j["probe"] = nullptr;
  }
  const BenchResult& r = m.result;
  if (s.n_prompt > 0) {
    j["prefill"] = samples_json(r.prefill_tokens_per_s);
    j["prefill"]["ledger"] = phase_json(m.prefill, m.prefill_verdict);
  }
  if (s.n_gen > 0) {
    auto d = samples_json(r.decode_tokens_per_s);
    d["bytes_per_token"] = r.decode_bytes_per_token();
    d["weight_bytes_per_step"] = r.traffic.weight_bytes_per_step;
    d["kv_read_bytes_per_step"] = r.traffic.kv_read_bytes_per_step;
    d["kv_write_bytes_per_step"] = r.traffic.kv_write_bytes_per_step;
    d["avg_bandwidth_gbs"] = r.decode_bandwidth_gbs();
    d["ledger"] = phase_json(m.decode, m.decode_verdict);
    j["decode"] = d;
  }
  ojson series;
  series["window_ms"] = s.window_ms;
  series["t0_ns"] = m.series.t0_ns;
  series["t1_ns"] = m.series.t1_ns;
  std::vector<double> gbs(m.series.size());
  for (size_t i = 0; i < m.series.size(); ++i) gbs[i] = m.series.gbs(i);
  series["gbs"] = gbs;
  series["spans"] = ojson::array();
  for (const auto& sp : m.prefill_spans) series["spans"].push_back({{"phase", "prefill"}, {"t0_ns", sp.t0_ns}, {"t1_ns", sp.t1_ns}});
  for (const auto& sp : m.decode_spans) series["spans"].push_back({{"phase", "decode"}, {"t0_ns", sp.t0_ns}, {"t1_ns", sp.t1_ns}});
  j["series"] = series;
  ojson counters;
  counters["sources"] = ojson::array();
  for (auto& src : *c.sources) counters["sources"].push_back({{"name", src->name()}, {"status", src->status()}});
  counters["used"] = m.counter_used.empty() ? ojson(nullptr) : ojson(m.counter_used);
  if (!m.counter_used.empty()) {
    const meter::Series cs = meter::counter_series(m.counter_samples, m.run_t0_ns, m.run_t1_ns, m.width_ns);
    std::vector<double> cgbs(cs.size());
    for (size_t i = 0; i < cs.size(); ++i) cgbs[i] = cs.gbs(i);
    counters["gbs"] = cgbs;
    counters["bytes"] = cs.total_bytes();
    // Below 1: caches absorbed traffic the ledger counts; above 1: traffic the model did
    // not ask for (other processes included: the counters see the whole controller).
    counters["ratio_to_ledger"] = m.series.total_bytes() > 0 ? cs.total_bytes() / m.series.total_bytes() : 0.0;
  }
  j["counters"] = counters;
  return j;
}

// bench -o text: the same report for a person.
void print_single_run(const study::BenchSettings& s, const RunContext& c, const study::BenchMeasurement& m) {
  const BenchResult& r = m.result;
  const study::ProbeInfo& probe = *c.probe;
  fmt::print("{}: {} threads, {} kernels{}, batch {}, {} reps\n", c.path, s.threads, m.isa,
             c.interleaved ? " on interleaved weights" : "", s.n_seq, s.reps);
  if (s.n_prompt > 0)
    fmt::print("  pp{:<5} {:9.2f} ± {:6.2f} tokens/s  (median {:.2f})\n", s.n_prompt, r.prefill_tokens_per_s.mean(),
               r.prefill_tokens_per_s.stddev(), r.prefill_tokens_per_s.median());
  if (s.n_gen > 0)
    fmt::print("  tg{:<5} {:9.2f} ± {:6.2f} tokens/s  (median {:.2f}); {:.1f} MB per token → {:.2f} GB/s\n", s.n_gen,
               r.decode_tokens_per_s.mean(), r.decode_tokens_per_s.stddev(), r.decode_tokens_per_s.median(),
               r.decode_bytes_per_token() / 1e6, r.decode_bandwidth_gbs());
  fmt::print("meter (ledger: weights + KV cache bytes over the measured repetitions):\n");
  if (s.n_prompt > 0) print_phase("prefill", m.prefill, m.prefill_verdict);
  if (s.n_gen > 0) print_phase("decode", m.decode, m.decode_verdict);
  if (probe.result) {
    fmt::print("probe ({}): attainable read {:.2f} GB/s = best of probe {:.2f}", probe.source, probe.attainable_gbs(),
               probe.result->attainable_read_gbs());
    if (probe.before_gbs && probe.after_gbs)
      fmt::print(", before {:.2f}, after {:.2f} (drift {:+.1f} %)", *probe.before_gbs, *probe.after_gbs,
                 100 * (*probe.after_gbs / *probe.before_gbs - 1));
    fmt::print("; compute roof {:.1f} GFLOP/s ({})\n", m.roof_gflops, m.roof_kernel);
  } else {
    fmt::print("probe: none (--probe none): no MBU or MFU\n");
  }
  for (auto& src : *c.sources) fmt::print("counters: {}: {}\n", src->name(), src->status());
}

// A model ready to measure: loaded, and its weights placed as the kernels compute on them.
struct PreparedModel {
  LlamaModel model;
  bool interleaved = false;
  EngineOptions::Split split;  // a split run's hooks; empty otherwise
  std::string model_type;      // of the whole model ("llama 1B Q8_0"), split or not
};
PreparedModel prepare_model(const std::string& path, const Options& o, const kernels::Ops& ops) {
  if (o.tp || o.pp) {  // this rank's part, its slices copied into the kernels' layout
    const LlamaModel full = load_llama(path);
    const parallel::SplitKind kind = o.tp ? parallel::SplitKind::Tensor : parallel::SplitKind::Pipeline;
    parallel::RankPart part =
        parallel::join_split(full, kind, o.tp ? o.tp : o.pp, ops, default_threads(), parallel::head_split_for(kind, o.tp_head));
    PreparedModel p;
    p.model = std::move(part.model);
    p.model_type = study::bench_model_type(full);
    p.interleaved = p.model.layers.at(0).attn_q.interleaved;
    p.split = std::move(part.hooks);
    return p;
  }
  if (o.layout == "file" && !is_hf_checkpoint_path(path)) {
    // The file's pages as readahead caches them (see refresh_page_cache), not as a writer left them.
    const int64_t t0 = meter::now_ns();
    const uint64_t bytes = refresh_page_cache(path);
    fmt::print(stderr, "bwscope: {}: {:.2f} GB re-read into the page cache in {:.1f} s\n", path, double(bytes) * 1e-9,
               double(meter::now_ns() - t0) * 1e-9);
  }
  PreparedModel p;
  p.model = load_llama(path);
  p.model_type = study::bench_model_type(p.model);
  if (o.layout == "auto" && ops.prefers_interleaved(p.model.layers.at(0).attn_q.type)) {
    make_weights_private(p.model, &ops, default_threads());
    p.interleaved = p.model.layers.at(0).attn_q.interleaved;
  }
  return p;
}

// One test on the trace: its process (the repetitions' op slices, a marker and a new phase
// slice at each repetition's start), its bandwidth series, and the same as the device's (one
// instance is all the device runs).
void trace_test(report::Trace& trace, const std::string& name, const study::BenchMeasurement& m) {
  std::vector<report::TraceMarker> markers;
  std::vector<int64_t> breaks;
  for (const auto* spans : {&m.prefill_spans, &m.decode_spans})
    for (size_t k = 0; k < spans->size(); ++k) {
      markers.push_back({fmt::format("rep {} {}", k + 1, spans == &m.prefill_spans ? "prefill" : "decode"), (*spans)[k].t0_ns});
      breaks.push_back((*spans)[k].t0_ns);
    }
  std::sort(breaks.begin(), breaks.end());
  const int pid = trace.add_instance(name, m.records, markers, breaks);
  std::vector<double> gbs(m.series.size());
  for (size_t i = 0; i < gbs.size(); ++i) gbs[i] = m.series.gbs(i);
  trace.add_counter(pid, "GB/s", m.series.t0_ns, m.width_ns, gbs);
  trace.add_counter(trace.device_pid(), "device GB/s", m.series.t0_ns, m.width_ns, gbs);
}

std::string utc_now() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%FT%TZ", &tm);
  return buf;
}

// The axes and outputs asked for, checked before anything loads; a bad list or a conflict is a
// usage error (exit 2), as CLI11's own are.
struct Axes {
  std::vector<int64_t> n_prompt, n_gen, batch, threads;
  std::vector<DType> kv_types;
  std::vector<study::BenchTest> tests;
  std::vector<std::string> paths;  // files given; empty: synthetic models of `plans`
  std::vector<WeightPlan> plans;
  const kernels::Ops* isa_ops = nullptr;
  bool single = false;  // --json or -o text: one configuration's full report
  report::BenchFormat format = report::BenchFormat::Md;
};

Axes read_axes(const Options& o) {
  Axes a;
  // The axes, as llama-bench takes them.
  a.n_prompt = study::parse_int_list("--n-prompt", o.n_prompt, 0, 1000000);
  a.n_gen = study::parse_int_list("--n-gen", o.n_gen, 0, 1000000);
  a.batch = study::parse_int_list("--batch", o.batch, 1, 256);
  a.threads =
      o.threads.empty() ? std::vector<int64_t>{default_threads()} : study::parse_int_list("--threads", o.threads, 1, 4096);
  for (const std::string& k : o.kv_types.empty() ? std::vector<std::string>{o.kv_type} : study::split_list("--kv-type", o.kv_types))
    a.kv_types.push_back(parse_type_flag("--kv-type", k));
  a.tests = study::bench_tests(a.n_prompt, a.n_gen);
  if (a.tests.empty()) fail("nothing to measure: -p and -n are both 0");

  if (!o.model.empty()) a.paths.push_back(o.model);
  for (const std::string& m : study::split_list("--model", o.models)) a.paths.push_back(m);
  if (!o.types.empty() && !a.paths.empty())
    fail("--type chooses the synthetic model's weight type; a model given by path has its own (convert it with bwscope quantize)");
  for (const std::string& t : study::split_list("--type", o.types)) {
    const std::optional<WeightPlan> plan = parse_weight_plan(t);
    if (!plan) fail("--type {}: not a type bench can make a model of ({})", t, kWeightPlanNames);
    a.plans.push_back(*plan);
  }

  if (!o.isa.empty()) {
    a.isa_ops = kernels::ops_by_name(o.isa);
    if (!a.isa_ops) fail("--isa {}: not available on this CPU (scalar, avx2, avx512)", o.isa);
  }
  a.single = o.json || o.output == "text";
  if (o.json && !o.output.empty()) fail("--json and -o both choose the output; give one");
  if (!a.single && !o.output.empty() && !report::parse_bench_format(o.output, &a.format))
    fail("-o {}: not an output format (md, csv, json, jsonl, sql, or text for one configuration)", o.output);
  if (a.single && (a.paths.size() + a.plans.size() > 1 || a.n_prompt.size() > 1 || a.n_gen.size() > 1 ||
                   a.batch.size() > 1 || a.threads.size() > 1 || a.kv_types.size() > 1))
    fail("{} reports one configuration; for several give -o md, csv, json, jsonl or sql", o.json ? "--json" : "-o text");
  if (a.single && !o.runs_json.empty()) fail("--runs-json goes with the table outputs; --json already prints the run");
  if (o.tp && o.pp) fail("give --tp or --pp, not both");
  if ((o.tp || o.pp) && !o.trace.empty()) fail("--trace does not take a split run yet (--tp/--pp)");
  return a;
}

void run_bench_cmd(const Options& o) {
  Axes axes;
  try {
    axes = read_axes(o);
  } catch (const Error& e) {
    throw CLI::ValidationError(e.what());
  }
  auto& [n_prompt, n_gen, batch, threads, kv_types, tests, paths, plans, isa_ops, single, format] = axes;
  const kernels::Ops& ops = isa_ops ? *isa_ops : kernels::best_ops();

  // Synthetic models (made once per machine) when no path is given.
  if (paths.empty()) {
    if (plans.empty()) paths.push_back(default_model_path());
    for (const WeightPlan& plan : plans)
      paths.push_back(ensure_synthetic_model(o.preset, plan, [&](const std::string& path) {
        fmt::print(stderr, "bwscope: making the synthetic {} {} model at {} (once) ...\n", o.preset, plan.name, path);
      }));
  }
  // Every file is read before anything is measured: a typo in the last -m costs nothing.
  std::vector<int64_t> n_layers;
  const parallel::SplitKind split_kind = o.tp ? parallel::SplitKind::Tensor : o.pp ? parallel::SplitKind::Pipeline : parallel::SplitKind::None;
  const int ranks = o.tp ? o.tp : o.pp;
  const parallel::HeadSplit head = parallel::head_split_for(split_kind, o.tp_head);  // refuses --tp-head without --tp
  for (const std::string& path : paths) {
    const LlamaModel m = load_llama(path);
    n_layers.push_back(m.config.n_layers);
    if (split_kind != parallel::SplitKind::None) parallel::check_split(m, split_kind, ranks, path, head);
  }
  // A split run: every rank runs the same tests in step; rank 0 prints and writes.
  const bool split_run = split_kind != parallel::SplitKind::None;
  if (split_run) enter_split_run(parallel::split_name(split_kind), ranks);
  parallel::World* world = split_run ? &parallel::World::get() : nullptr;
  const bool rank0 = !world || world->rank() == 0;

  // The ranks share the cores: rank 0 probes (or reads the cache) first, the others then read
  // what it stored. No quick brackets in a split run: the ranks would probe against each other.
  if (world && !rank0) world->barrier();
  study::ProbeInfo probe = study::load_probe(o.probe, o.probe_file);
  if (world && rank0) world->barrier();
  const double bracket_s = split_run ? 0.0 : o.bracket_s;
  probe.cpus = default_threads();
  auto sources = meter::counter_sources();
  meter::CounterSource* counter = nullptr;  // hardware counters beside the ledger, when the platform has any
  for (auto& src : sources)
    if (!counter && src->available()) counter = src.get();
  auto settings_for = [&](int64_t t, int64_t b, DType kv, int64_t p, int64_t n) {
    study::BenchSettings s;
    s.threads = int(t);
    s.n_seq = b;
    s.kv_type = kv;
    s.ops = isa_ops;
    s.n_prompt = p;
    s.n_gen = n;
    s.reps = o.reps;
    s.window_ms = o.window_ms;
    s.threshold = o.threshold;
    s.peak_bw = o.peak_bw;
    s.keep_records = !o.trace.empty();
    return s;
  };
  // The trace, sized first from the records every test will write.
  std::optional<report::Trace> trace;
  if (!o.trace.empty()) {
    uint64_t ops_total = 0;
    for (int64_t layers : n_layers)
      for (int64_t kv = 0; kv < int64_t(kv_types.size()); ++kv)
        for (int64_t b : batch)
          for (int64_t t : threads)
            for (const study::BenchTest& test : tests)
              if (single || test.n_gen > 0 || b == batch.front())
                ops_total += study::bench_records(settings_for(t, b, DType::F16, single ? n_prompt[0] : test.n_prompt,
                                                               single ? n_gen[0] : test.n_gen), layers);
    const double mb = double(ops_total * report::kTraceBytesPerOp) / 1e6;
    if (mb > o.trace_max_mb)
      fail("--trace {}: about {:.0f} MB of trace ({} op slices, docs/trace.md), over the cap of {:.0f} MB; "
           "trace fewer tokens or repetitions (-p, -n, -r) or raise --trace-max-mb", o.trace, mb, ops_total, o.trace_max_mb);
    trace.emplace(uint64_t(o.trace_max_mb * 1e6));
  }
  // The quick read probe before a run, on as many threads as it uses (after it too for one run).
  auto bracket = [&](int t, bool before) {
    probe.bracket_threads = std::min(t, probe.cpus);  // the cores the run uses, bracketed or not
    if (!probe.result || bracket_s <= 0) return;
    const int64_t t0 = meter::now_ns();
    const double gbs = meter::quick_read_probe(probe.bracket_threads, bracket_s);
    (before ? probe.before_gbs : probe.after_gbs) = gbs;
    if (trace) trace->add_probe(before ? "probe before" : "probe after", t0, meter::now_ns(), probe.bracket_threads, gbs);
  };

  if (single) {
    PreparedModel pm = prepare_model(paths.front(), o, ops);
    study::BenchSettings s = settings_for(threads[0], batch[0], kv_types[0], n_prompt[0], n_gen[0]);
    s.split = pm.split;
    bracket(s.threads, true);
    study::BenchMeasurement m = study::measure_bench(pm.model, s, counter);
    bracket(s.threads, false);
    study::judge_bench(m, pm.model.layers.at(0).attn_q.type, s, probe);
    if (!rank0) return;  // a split run's other ranks: rank 0 reports (its own ledger)
    const RunContext c{paths.front(), &pm.model, pm.interleaved, &probe, &sources};
    if (trace) {
      trace_test(*trace, "bench · " + paths.front(), m);
      trace->write(o.trace, "bwscope bench");
    }
    if (o.json) fmt::print("{}\n", single_run_json(o, s, c, m).dump(2));
    else print_single_run(s, c, m);
    return;
  }

  // The table: model outermost, then KV type, batch and threads, then the tests (llama-bench's order).
  std::FILE* runs = nullptr;
  std::string runs_tmp;
  if (!o.runs_json.empty() && rank0) {
    runs_tmp = o.runs_json + ".partial";
    runs = std::fopen(runs_tmp.c_str(), "w");
    if (!runs) fail("{}: cannot write: {}", runs_tmp, std::strerror(errno));
  }
  report::BenchColumns columns;
  columns.n_seq = batch.size() > 1 || batch[0] != 1;
  columns.type_k = kv_types.size() > 1 || kv_types[0] != DType::F16;
  columns.split = split_run;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> devnull(rank0 ? nullptr : std::fopen("/dev/null", "w"), &std::fclose);
  report::BenchPrinter printer(rank0 ? stdout : devnull.get(), format, columns, BWSCOPE_BUILD_COMMIT, BWSCOPE_BUILD_NUMBER);
  const meter::DeviceInfo dev = meter::device_info();
  for (const std::string& path : paths) {
    PreparedModel pm = prepare_model(path, o, ops);
    study::BenchRowInfo info;
    info.build_commit = BWSCOPE_BUILD_COMMIT;
    info.build_number = BWSCOPE_BUILD_NUMBER;
    info.cpu_info = dev.cpu_model;
    info.model_filename = path;
    info.model_type = pm.model_type;
    info.model_size = pm.model.weight_bytes();
    info.model_n_params = pm.model.n_params();
    info.weight_type = dtype_name(pm.model.layers.at(0).attn_q.type);
    info.layout = pm.interleaved ? "interleaved" : "file";
    info.has_probe = probe.result.has_value();
    for (DType kv : kv_types)
      for (int64_t b : batch)
        for (int64_t t : threads)
          for (const study::BenchTest& test : tests) {
            if (test.n_gen == 0 && b != batch.front()) continue;  // -b is decode's: one prefill row per other combination
            study::BenchSettings s = settings_for(t, b, kv, test.n_prompt, test.n_gen);
            s.split = pm.split;
            info.test_time = utc_now();
            probe.before_gbs.reset(), probe.after_gbs.reset();
            bracket(s.threads, true);
            if (world) world->reset_stats();
            const int64_t run_t0 = meter::now_ns();
            study::BenchMeasurement m = study::measure_bench(pm.model, s, counter);
            const int64_t run_ns = meter::now_ns() - run_t0;
            study::judge_bench(m, pm.model.layers.at(0).attn_q.type, s, probe);
            report::BenchRow row = study::bench_row(info, s, m);
            if (world) {  // the split's columns: every rank's bandwidth summed, rank 0's time in MPI
              const int64_t mpi_ns = world->total().ns;
              const std::vector<double> gbs = world->gather((test.n_gen == 0 ? m.prefill : m.decode).avg_gbs());
              double total = 0;
              for (double g : gbs) total += g;
              using report::FieldType;
              row.fields.push_back({"split", FieldType::String, std::string(parallel::split_name(split_kind))});
              row.fields.push_back({"ranks", FieldType::Int, std::to_string(ranks)});
              row.fields.push_back({"tp_head", FieldType::String, o.tp ? std::string(parallel::head_split_name(head)) : std::string()});
              row.fields.push_back({"ranks_gbs", FieldType::Float, fmt::format("{}", total)});
              row.fields.push_back({"mpi_share", FieldType::Float, fmt::format("{}", double(mpi_ns) / double(std::max<int64_t>(1, run_ns)))});
            }
            printer.row(row);
            if (trace)
              trace_test(*trace, fmt::format("{} · {} · t{}{}{}", info.model_type, test.name(), t, s.n_gen > 0 && b > 1 ? fmt::format(" · b{}", b) : "",
                                             kv_types.size() > 1 ? fmt::format(" · kv {}", dtype_name(kv)) : ""),
                         m);
            if (runs) {
              const RunContext c{path, &pm.model, pm.interleaved, &probe, &sources};
              fmt::print(runs, "{}\n", single_run_json(o, s, c, m).dump());
              std::fflush(runs);
            }
          }
  }
  printer.finish();
  if (trace) trace->write(o.trace, "bwscope bench");
  if (runs) {
    const bool ok = std::fclose(runs) == 0;
    if (!ok || std::rename(runs_tmp.c_str(), o.runs_json.c_str()) != 0) fail("{}: cannot write: {}", o.runs_json, std::strerror(errno));
  }
}

}  // namespace

void add_bench(CLI::App& app) {
  auto o = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand(
      "bench", "Prefill and decode tokens/s the way llama-bench measures them, with bandwidth, bytes per token, MBU and the verdict");
  // Lists: comma-separated, the flag repeated appends, integers take ranges (A-B, A-B+S, A-B*M).
  auto list = [&](const char* name, std::vector<std::string>& v, const char* help) {
    return sub->add_option(name, v, help)
        ->expected(1)
        ->allow_extra_args(false)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
        ->type_name("LIST");
  };
  sub->add_option("model", o->model, "GGUF model or Hugging Face checkpoint (default: the synthetic Llama 3.2 1B Q8_0)");
  list("-m,--model", o->models, "more models, each measured in turn");
  list("--type", o->types, std::string("synthetic models of these weight types instead of a file: ").append(kWeightPlanNames).c_str());
  sub->add_option("--preset", o->preset, "the synthetic model's shape: llama-3.2-1b or llama-3.2-3b")->capture_default_str();
  list("-p,--n-prompt", o->n_prompt, "prompt tokens of each prefill test, 0: none (default 512)");
  list("-n,--n-gen", o->n_gen, "generated tokens of each decode test, 0: none (default 128)");
  list("-b,--batch", o->batch, "sequences decoded together, each step one token per sequence (default 1)");
  list("-t,--threads", o->threads, "threads (default: every CPU)");
  list("--kv-type", o->kv_types, "KV cache types: f16, f32 (default f16)");
  sub->add_option("-r,--reps", o->reps, "repetitions of each test (after one warm-up)")->capture_default_str()->check(whole_range(1, 100));
  sub->add_option("-o,--output", o->output,
                  "md (default), csv, json, jsonl or sql: one row per test as llama-bench prints them; text: one configuration's full report");
  sub->add_flag("--json", o->json, "one configuration's full report as JSON (docs/bench-json.md)");
  sub->add_option("--runs-json", o->runs_json, "with the table outputs, also write each row's full report (--json's object) to FILE, one per line")
      ->check(output_file());
  sub->add_option("--trace", o->trace, "also write a timeline of the measured repetitions for Perfetto / chrome://tracing (docs/trace.md)")
      ->check(output_file());
  sub->add_option("--trace-max-mb", o->trace_max_mb, "refuse before running when the trace would be larger")
      ->capture_default_str()->check(number_range(1, 1e6));
  sub->add_option("--tp", o->tp, "tensor parallel over N MPI ranks (launches mpirun when not under it; docs/parallel.md)")
      ->check(whole_range(2, 64));
  sub->add_option("--pp", o->pp, "pipeline parallel over N MPI ranks (launches mpirun when not under it)")->check(whole_range(2, 64));
  add_tp_head_option(sub, o->tp_head);
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
  sub->add_option("--bracket-s", o->bracket_s, "seconds of quick read probe before each run (and after, for one configuration; 0: none)")
      ->capture_default_str()->check(number_range(0.0, 60.0));
  sub->callback([o] { run_bench_cmd(*o); });
}

}  // namespace bwscope::cli
