#include "bwscope/study/compare_run.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include <fmt/core.h>
#include <fmt/ranges.h>

#include "bwscope/base/error.h"
#include "bwscope/meter/verdict.h"
#include "bwscope/model/model_cache.h"
#include "bwscope/parallel/launch.h"
#include "bwscope/parallel/mpi_world.h"
#include "bwscope/parallel/split.h"

namespace bwscope::study {
namespace {

double compute_roof(const meter::ProbeResult& p, const std::string& weight_type) {
  for (const meter::ComputeFigure& c : p.compute)
    if (c.kernel.find("/" + weight_type + " ") != std::string::npos) return c.best_gflops;
  return p.compute_peak_gflops;
}

// The roofs: for a thread count the brackets ran on (every CPU, one instance's threads), the
// better bracket (meter::bracketed_roof); the cached probe's figure otherwise. Judged against
// an hours-old cached probe, an instance at its core's rate read as "neither".
void set_roofs(report::ProbeSummary& roofs, const meter::ProbeResult& probe, const std::string& weight_type) {
  roofs.attainable_read_gbs = meter::bracketed_roof(probe.attainable_read_gbs(), roofs.before_gbs, roofs.after_gbs);
  roofs.read_by_threads.clear();
  for (const meter::ThreadFigures& f : probe.per_threads) {
    double gbs = f.read.best_gbs;
    if (f.threads == roofs.instance_threads && f.threads < roofs.cpus) gbs = meter::bracketed_roof(gbs, roofs.instance_before_gbs, roofs.instance_after_gbs);
    if (f.threads == roofs.cpus) gbs = roofs.attainable_read_gbs;
    if (f.threads == int(roofs.read_by_threads.size()) + 1) roofs.read_by_threads.push_back(gbs);
  }
  roofs.compute_roof_gflops = compute_roof(probe, weight_type);
}

// The tp ranks' output head: --tp-head, or its default (refused without --tp).
parallel::HeadSplit tp_head(const CompareSettings& s) {
  return parallel::head_split_for(s.tp > 0 ? parallel::SplitKind::Tensor : parallel::SplitKind::None, s.tp_head);
}

}  // namespace

void apply_seed_scenario(CompareSettings& s) {
  if (!s.seed_scenario) return;
  s.preset = "llama-3.2-3b";
  s.type = "f16";
  s.batch = 1;
  s.n_prompt = 512;
}

ColocateOptions colocate_options(const CompareSettings& s) {
  ColocateOptions co;
  co.isolation = parse_isolation("--isolation", s.isolation);
  co.cores = parse_core_mode("--cores", s.cores);
  co.weights = parse_weight_mode("--weights", s.weights);
  co.slice_steps = s.slice_steps;
  co.isa = s.isa;
  co.kv_type = parse_dtype_flag("--kv-type", s.kv_type);
  co.assume_available_bytes = uint64_t(s.assume_mem_gb * 1024 * 1024 * 1024);
  co.progress_interval_s = 0.25;
  return co;
}

int threads_per_instance(const CompareSettings& s, CoreMode cores, int n_instances, int n_cpus) {
  if (s.threads > 0) return s.threads;
  return cores == CoreMode::Partition ? std::max(1, n_cpus / std::max(1, n_instances)) : n_cpus;
}

std::vector<InstanceSpec> instance_specs(const CompareSettings& s, int n_instances, int threads) {
  std::vector<InstanceSpec> specs;
  for (int i = 0; i < n_instances; ++i) {
    InstanceSpec spec;
    spec.name = i < 26 ? std::string(1, char('A' + i)) : fmt::format("I{}", i);
    spec.model_path = s.models[size_t(i) % s.models.size()];
    spec.batch = s.batch;
    spec.n_prompt = s.n_prompt;
    spec.n_gen = s.n_gen;
    spec.threads = threads;
    spec.prompt_seed = s.prompts == "same" ? 1 : 1000 * uint64_t(i + 1);
    specs.push_back(spec);
  }
  return specs;
}

void resolve_models(CompareSettings& s, ProgressLine& display) {
  if (s.models.empty()) {
    const auto plan = parse_weight_plan(s.type);
    if (!plan) fail("--type {}: unknown weight type ({})", s.type, kWeightPlanNames);
    s.models.push_back(ensure_synthetic_model(s.preset, *plan, [&](const std::string& path) {
      display.say(fmt::format("making the synthetic {} {} model at {} (once) ...", s.preset, s.type, path));
    }));
  }
  for (const std::string& m : s.models)
    if (!std::filesystem::exists(m)) fail("--model {}: no such file", m);
}

std::vector<Scenario> compare_scenarios(const CompareSettings& s, const ColocateOptions& co, int threads) {
  const std::vector<InstanceSpec> specs = instance_specs(s, s.instances, threads);
  std::vector<Scenario> scenarios;
  scenarios.push_back({"1 instance", "single", {specs[0]}, co});
  std::vector<std::string> schedules = {s.schedule};
  if (s.schedule == "all") schedules = {"parallel", "time-sliced", "staggered"};
  for (const std::string& name : schedules) {
    ColocateOptions so = co;
    so.schedule = parse_schedule("--schedule", name);
    scenarios.push_back({fmt::format("{} × {}", s.instances, name), name, specs, so});
  }
  if (s.fused) {
    ColocateOptions fo = co;
    fo.fused = true;
    // The fused engine gets the CPUs the N instances had together.
    std::vector<InstanceSpec> fs = specs;
    for (InstanceSpec& f : fs) f.threads = co.cores == CoreMode::Partition ? threads * s.instances : threads;
    scenarios.push_back({fmt::format("{} × fused", s.instances), "fused", fs, fo});
  }
  const int ranks = std::max(s.tp, s.pp);
  if (ranks > 0) {
    // One instance on every CPU the ranks use: the latency a split has to beat.
    InstanceSpec wide = specs[0];
    wide.threads = threads * ranks;
    scenarios.push_back({fmt::format("1 instance · {} threads", wide.threads), "wide", {wide}, co});
  }
  for (const auto& [kind, n] : {std::pair<std::string, int>{"tp", s.tp}, {"pp", s.pp}}) {
    if (n <= 0) continue;
    ColocateOptions so = co;
    so.split.kind = kind;
    so.split.micro_batches = s.micro_batches;
    so.split.vocab_split = kind == "tp" && tp_head(s) == parallel::HeadSplit::Vocab;
    so.weights = WeightMode::Private;  // each rank copies its own part
    so.isolation = Isolation::Process;
    std::vector<InstanceSpec> rank_specs;
    for (int k = 0; k < n; ++k) {
      InstanceSpec r = specs[0];
      r.name = fmt::format("rank {}", k);
      r.threads = threads;
      rank_specs.push_back(r);
    }
    scenarios.push_back({fmt::format("{} {}", kind, n), kind, rank_specs, so});
  }
  return scenarios;
}

void check_splits(const CompareSettings& s) {
  tp_head(s);  // refuses --tp-head without --tp
  if (s.pp == 0 && s.micro_batches > 0) fail("--micro-batches {}: a pipeline's; give --pp", s.micro_batches);
  for (const auto& [kind, n] : {std::pair<parallel::SplitKind, int>{parallel::SplitKind::Tensor, s.tp}, {parallel::SplitKind::Pipeline, s.pp}}) {
    if (n <= 0) continue;
    const std::string flag = fmt::format("--{} {}", parallel::split_name(kind), n);
    if (s.models.size() > 1) fail("{}: a split runs one model; give one --model", flag);
    parallel::check_split(load_llama(s.models[0]), kind, n, s.models[0],
                          kind == parallel::SplitKind::Tensor ? tp_head(s) : parallel::HeadSplit::Replicate);
    if (!parallel::mpi_built()) fail("{}: unavailable: built without MPI", flag);
    if (parallel::under_mpirun())
      fail("{}: compare starts mpirun itself for its split scenarios; run it without mpirun", flag);
    if (parallel::find_mpirun().empty())
      fail("{}: mpirun not found on PATH: a split run needs Open MPI (scripts/setup.sh installs openmpi-bin)", flag);
  }
}

void check_memory(const std::vector<Scenario>& scenarios) {
  for (const Scenario& s : scenarios) {
    const MemoryPlan plan = plan_memory(s.specs, s.options);
    if (!plan.fits()) fail("{} does not fit in memory: {}", s.name, plan.describe());
  }
}

std::shared_ptr<const PreparedWeights> prepare_for(const std::vector<InstanceSpec>& specs, const ColocateOptions& co, ProgressLine& display) {
  if (co.weights != WeightMode::Private)
    display.say(co.weights == WeightMode::Shared ? "writing the shared copy of the weights ..."
                                                 : "re-reading the model file into the page cache ...");
  return prepare_weights(specs, co);
}

report::WeightsSummary weights_summary(const ColocateOptions& co) {
  report::WeightsSummary w;
  w.mode = std::string(weight_mode_name(co.weights));
  if (!co.prepared) return w;
  w.isa = co.prepared->isa;
  for (const PreparedWeights::File& f : co.prepared->files)
    w.files.push_back({f.model_path, f.bytes, f.shared ? f.shared->interleaved_bytes() : 0, f.seconds});
  return w;
}

std::optional<std::string> row_layout_caveat(std::string_view isa, const std::string& type) {
  // bwscope_bench Decode, one thread, 2026-12-04 (docs/engine.md).
  std::string how;
  if (isa == "avx512" && type == "q4_0") how = "about 0.65-0.70× (23-26 against 35-36 GB/s, one thread)";
  else if (isa == "avx2" && type == "q8_0") how = "about 0.4× (8.6 against 21-23 GB/s, one thread)";
  else if (isa == "avx2" && type == "q4_0") how = "about 0.25× (4.8 against 19.7 GB/s, one thread)";
  else if (isa == "scalar") how = "a small fraction (the scalar kernels are the reference, not a fast path)";
  if (how.empty()) return std::nullopt;
  return fmt::format("weights file: the {} kernels' decode on the row layout of {} reads {} of what they read on the interleaved "
                     "layout, so these figures measure bwscope's kernel more than the device; --weights shared shows what the "
                     "device delivers",
                     isa, type, how);
}

std::vector<std::string> mode_notes(const CompareSettings& s, const ColocateOptions& co, int n_cpus, int threads) {
  std::vector<std::string> notes;
  notes.push_back(co.isolation == Isolation::Process
                      ? "isolation: each instance is a child process; its ledger returns over a pipe, timed on the one CLOCK_MONOTONIC"
                      : "isolation: the instances are threads of one process");
  if (co.cores == CoreMode::Partition)
    notes.push_back(fmt::format("cores partitioned: each instance is pinned to its own {} CPU(s), so they compete only for memory "
                                "bandwidth and the shared last-level cache",
                                threads));
  else
    notes.push_back(fmt::format("cores shared: every instance runs {} threads on all {} CPUs and the OS time-slices them; bwscope's "
                                "workers spin only briefly before sleeping on a futex, so a waiting worker gives its CPU to the other "
                                "instance instead of burning it (spinning workers are why llama.cpp drops several-fold in this mode)",
                                threads, n_cpus));
  if (co.weights == WeightMode::Shared)
    notes.push_back("weights shared: one copy in the layout the kernels prefer (Q8_0/Q4_0 rows interleaved by 8, F32/F16/BF16 by 16), "
                    "written once before the runs into a sealed memory object that every instance maps read-only, so it is resident "
                    "once and a cache line one instance fetched can serve another");
  else if (co.weights == WeightMode::Private)
    notes.push_back("weights private: each instance streams its own copy in anonymous memory (in the layout the kernels prefer), so a "
                    "cache line one instance fetched cannot serve another, and memory grows by one model per instance");
  else
    notes.push_back("weights file: every instance computes on the model file's own mapping (the page cache, resident once), in the "
                    "file's row layout; the file is re-read first, so that its pages are the large ones readahead makes rather than "
                    "what a writer left");
  if (s.schedule == "time-sliced" || s.schedule == "all")
    notes.push_back(fmt::format("time-sliced: one instance runs at a time, switching every {} decode steps; the device sees one "
                                "instance's bandwidth and each request waits for the others' turns",
                                s.slice_steps));
  if (s.schedule == "staggered" || s.schedule == "all")
    notes.push_back("staggered: each instance starts when the previous one has finished its prefill, so a compute-bound prefill "
                    "overlaps a bandwidth-bound decode");
  if (s.fused) notes.push_back("fused: one engine serves all requests as one batch and reads each weight once per decode step");
  if (s.tp > 0)
    notes.push_back(fmt::format("tp {}: one model split over {} MPI ranks started by mpirun (Megatron-style: attention by heads, the FFN by "
                                "its hidden units, one all-reduce after attn_output and one after down; embedding replicated, "
                                "output head {}); each rank is pinned like an instance, copies only its part (private weights), and "
                                "all ranks make the same tokens, so tokens/s and latency are rank 0's while bandwidth is every "
                                "rank's together",
                                s.tp, s.tp,
                                tp_head(s) == parallel::HeadSplit::Vocab ? "split by vocabulary with the logits gathered (MPI_Allgather) after it" : "replicated"));
  if (s.pp > 0)
    notes.push_back(fmt::format("pp {}: the layers split over {} MPI ranks in consecutive stages; the hidden state goes stage to stage "
                                "and the last stage sends the sampled ids back to the first; the batch goes through in micro-batches "
                                "(--micro-batches, default min(batch, ranks)) so stages can work at once; 'bubble' is the mean "
                                "rank's share of a decode step spent not computing",
                                s.pp, s.pp));
  return notes;
}

Roofs::Roofs(const CompareSettings& s, int instance_threads, ProgressLine& display) : bracket_s_(s.bracket_s) {
  summary_.datasheet_gbs = s.peak_bw;
  summary_.cpus = int(allowed_cpus().size());
  summary_.instance_threads = instance_threads;
  if (s.probe == "none") {
    summary_.source = "none";
    return;
  }
  const std::string cache = meter::probe_cache_path("");
  if (s.probe == "reprobe" || !std::filesystem::exists(cache))
    display.say(fmt::format("probing this device's bandwidth and compute peak once (stored in {}) ...", cache));
  probe_ = meter::cached_probe(meter::ProbeOptions{}, s.probe == "reprobe");
  summary_.source = "cache " + cache;
  if (bracket_s_ > 0) {
    summary_.before_gbs = quick("probe before (every CPU)", summary_.cpus);
    if (instance_threads < summary_.cpus) summary_.instance_before_gbs = quick("probe before (an instance's CPUs)", instance_threads);
  }
}

void Roofs::bracket_after() {
  if (!probe_ || bracket_s_ <= 0) return;
  summary_.after_gbs = quick("probe after (every CPU)", summary_.cpus);
  if (summary_.instance_threads < summary_.cpus) summary_.instance_after_gbs = quick("probe after (an instance's CPUs)", summary_.instance_threads);
}

double Roofs::quick(const char* name, int threads) {
  const int64_t t0 = meter::now_ns();
  const double gbs = meter::quick_read_probe(threads, bracket_s_);
  marks_.push_back({name, t0, meter::now_ns(), threads, gbs});
  return gbs;
}

report::ProbeSummary Roofs::summary(const std::string& weight_type) const {
  report::ProbeSummary s = summary_;
  if (probe_) set_roofs(s, *probe_, weight_type);
  return s;
}

report::ScenarioFigures run_scenario(Scenario& scenario, const std::string& label, int64_t width_ns, ProgressLine& display,
                                     bool& interrupted, report::Trace* trace) {
  display.start(label);
  scenario.options.on_progress = [&display](const Progress& p) { display.show(p); };
  const ColocateResult result = run_colocated(scenario.specs, scenario.options);
  interrupted = result.interrupted;
  report::ScenarioFigures f = report::scenario_figures(result, scenario.name, scenario.kind, width_ns);
  if (trace) report::trace_scenario(*trace, result, f);
  display.finish(fmt::format("{}: {:.1f} s, decode {:.1f} GB/s, {:.1f} tok/s{}", scenario.name, f.seconds, f.decode_gbs,
                             f.tokens_per_s, f.completed ? "" : " (incomplete)"));
  return f;
}

report::CompareReport run_compare(CompareSettings s, ProgressLine& display, volatile std::sig_atomic_t* stop, bool& interrupted) {
  apply_seed_scenario(s);
  if (s.instances < 2) fail("-N {}: compare needs at least 2 instances", s.instances);
  resolve_models(s, display);
  check_splits(s);

  ColocateOptions co = colocate_options(s);
  co.stop = stop;
  const int n_cpus = int(allowed_cpus().size());
  // Every instance gets the same threads in every scenario, so the single run is what each of
  // the N instances would do alone on its share of the machine.
  const int threads = threads_per_instance(s, co.cores, s.instances, n_cpus);
  std::vector<Scenario> scenarios = compare_scenarios(s, co, threads);
  check_memory(scenarios);  // before anything runs
  std::optional<report::Trace> trace;
  if (!s.trace.empty()) {
    uint64_t ops = 0;
    for (const Scenario& sc : scenarios) ops += ledger_records_estimate(sc.specs, sc.options);
    const double mb = double(ops * report::kTraceBytesPerOp) / 1e6;
    if (mb > s.trace_max_mb)
      fail("--trace {}: about {:.0f} MB of trace ({} op slices, docs/trace.md), over the cap of {:.0f} MB; "
           "trace fewer tokens (-p, -n) or raise --trace-max-mb", s.trace, mb, ops, s.trace_max_mb);
    trace.emplace(uint64_t(s.trace_max_mb * 1e6));
  }
  // The weights every scenario computes on, made once.
  co.prepared = prepare_for(scenarios.back().specs, co, display);
  for (Scenario& sc : scenarios) sc.options.prepared = co.prepared;

  report::CompareReport rep;
  rep.weights = weights_summary(co);
  rep.threshold = s.threshold;
  rep.window_ms = s.window_ms;
  rep.config = {{"models", s.models}, {"instances", s.instances}, {"isolation", s.isolation}, {"cores", s.cores},
                {"weights", s.weights}, {"schedule", s.schedule}, {"fused", s.fused}, {"slice_steps", s.slice_steps},
                {"prompts", s.prompts}, {"batch", s.batch}, {"n_prompt", s.n_prompt}, {"n_gen", s.n_gen},
                {"threads_per_instance", threads}, {"kv_type", s.kv_type}, {"isa", s.isa.empty() ? "best" : s.isa},
                {"window_ms", s.window_ms}, {"threshold", s.threshold}, {"probe", s.probe}, {"bracket_s", s.bracket_s},
                {"seed_scenario", s.seed_scenario}, {"tp", s.tp}, {"pp", s.pp}, {"micro_batches", s.micro_batches},
                {"tp_head", s.tp > 0 ? std::string(parallel::head_split_name(tp_head(s))) : std::string()}};
  const meter::DeviceInfo dev = meter::device_info();
  rep.cpu_model = dev.cpu_model;
  rep.cpus = dev.cpus;
  rep.memory_bytes = dev.memory_bytes;
  rep.notes = mode_notes(s, co, n_cpus, threads);

  Roofs roofs(s, threads, display);
  const int64_t width_ns = std::max<int64_t>(1, int64_t(s.window_ms * 1e6));
  interrupted = false;
  for (size_t k = 0; k < scenarios.size() && !interrupted; ++k)
    rep.scenarios.push_back(
        run_scenario(scenarios[k], fmt::format("[{}/{}] {}", k + 1, scenarios.size(), scenarios[k].name), width_ns, display,
                     interrupted, trace ? &*trace : nullptr));

  if (!interrupted) roofs.bracket_after();
  if (trace) {
    for (const Roofs::Mark& m : roofs.marks()) trace->add_probe(m.name, m.t0_ns, m.t1_ns, m.threads, m.gbs);
    trace->write(s.trace, "bwscope compare");
  }
  rep.probe = roofs.summary(rep.scenarios[0].instances.empty() ? "" : rep.scenarios[0].instances[0].weight_type);
  if (co.weights == WeightMode::File) {
    std::set<std::string> types;
    for (const report::ScenarioFigures& f : rep.scenarios)
      for (const report::InstanceFigures& g : f.instances) types.insert(g.weight_type);
    for (const std::string& t : types)
      if (auto caveat = row_layout_caveat(rep.weights.isa, t)) rep.notes.push_back(*caveat);
  }
  report::finish_report(rep);
  if (interrupted) {
    rep.incomplete = true;
    if (std::find(rep.failures.begin(), rep.failures.end(), "interrupted (Ctrl-C)") == rep.failures.end())
      rep.failures.push_back("interrupted (Ctrl-C)");
  }
  return rep;
}

}  // namespace bwscope::study
