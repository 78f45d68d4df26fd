// bwscope compare: one instance alone, then N at once (and other schedules or fused), back to
// back on the same settings; the table, ratios, verdict and conclusion, with live progress on
// stderr, and JSON / CSV / Markdown / HTML / SVG outputs.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>

#include <fmt/core.h>
#include <fmt/ranges.h>

#include "bwscope/base/error.h"
#include "bwscope/base/mapped_file.h"
#include "bwscope/cli/commands.h"
#include "bwscope/meter/probe.h"
#include "bwscope/meter/verdict.h"
#include "bwscope/model/model_cache.h"
#include "bwscope/report/compare_report.h"
#include "bwscope/runtime/colocate.h"

namespace bwscope::cli {
namespace {

volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_sigint(int) { g_stop = 1; }

struct Options {
  std::vector<std::string> models;
  std::string preset = "llama-3.2-1b", type = "q8_0", kv_type = "f16", isa;
  std::string isolation = "process", cores = "partition", weights = "shared", schedule = "parallel", prompts = "different";
  std::string probe = "cached", html, svg, json_out;
  int instances = 2, threads = 0;
  int64_t n_prompt = 128, n_gen = 64, batch = 1, slice_steps = 4;
  double window_ms = 10, threshold = 0.8, bracket_s = 0.5, assume_mem_gb = 0;
  std::optional<double> peak_bw;
  bool fused = false, seed_scenario = false, json = false, csv = false, md = false, no_progress = false;
};

// The live display: one line rewritten in place on a terminal, a plain line every two seconds
// otherwise (logs and pipes).
class ProgressLine {
 public:
  explicit ProgressLine(bool enabled) : enabled_(enabled), tty_(::isatty(2)) {}
  void start(const std::string& label) {
    label_ = label;
    last_plain_s_ = -10;
    if (enabled_ && !tty_) fmt::print(stderr, "bwscope: running {}\n", label);
  }
  void show(const Progress& p) {
    if (!enabled_) return;
    std::string parts;
    for (const InstanceProgress& i : p.instances)
      parts += fmt::format("{}{} {} {}/{} {:5.1f} GB/s", parts.empty() ? "" : " | ", i.name, i.state, i.steps_done, i.steps_total, i.gbs_now);
    const std::string line = fmt::format("{} {:5.1f} s  {}  | total {:5.1f} GB/s", label_, p.elapsed_s, parts, p.total_gbs_now);
    if (tty_) {
      fmt::print(stderr, "\r\033[K{}", line);
    } else if (p.elapsed_s - last_plain_s_ >= 2) {
      fmt::print(stderr, "  {}\n", line);
      last_plain_s_ = p.elapsed_s;
    }
    std::fflush(stderr);
  }
  void finish(const std::string& summary) {
    if (!enabled_) return;
    if (tty_) fmt::print(stderr, "\r\033[K");
    fmt::print(stderr, "bwscope: {}\n", summary);
  }

 private:
  bool enabled_, tty_;
  std::string label_;
  double last_plain_s_ = -10;
};

struct Scenario {
  std::string name, kind;
  std::vector<InstanceSpec> specs;
  ColocateOptions options;
};

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

// Where decode on the file's row layout is known to trail the interleaved kernels (bwscope_bench
// Decode, one thread, 2026-12-04; docs/engine.md): in --weights file mode those figures measure
// bwscope's kernel more than the device, and the report says so beside them.
std::optional<std::string> row_layout_caveat(std::string_view isa, const std::string& type) {
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

std::vector<std::string> mode_notes(const Options& o, const ColocateOptions& co, int n_cpus, int threads) {
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
  if (o.schedule == "time-sliced" || o.schedule == "all")
    notes.push_back(fmt::format("time-sliced: one instance runs at a time, switching every {} decode steps; the device sees one "
                                "instance's bandwidth and each request waits for the others' turns",
                                o.slice_steps));
  if (o.schedule == "staggered" || o.schedule == "all")
    notes.push_back("staggered: each instance starts when the previous one has finished its prefill, so a compute-bound prefill "
                    "overlaps a bandwidth-bound decode");
  if (o.fused)
    notes.push_back("fused: one engine serves all requests as one batch and reads each weight once per decode step");
  return notes;
}

void run_compare(Options o) {
  if (o.seed_scenario) {
    // The original comparison's setting: Llama 3.2 3B, FP16, batch 1, a 512-token prompt.
    o.preset = "llama-3.2-3b";
    o.type = "f16";
    o.batch = 1;
    o.n_prompt = 512;
  }
  if (o.instances < 2) fail("-N {}: compare needs at least 2 instances", o.instances);
  if (int(o.json) + int(o.csv) + int(o.md) > 1) fail("--json, --csv and --md choose the one format printed; give one");
  const DType type = parse_type_flag("--type", o.type);
  if (o.models.empty())
    o.models.push_back(ensure_synthetic_model(o.preset, type, [&](const std::string& path) {
      fmt::print(stderr, "bwscope: making the synthetic {} {} model at {} (once) ...\n", o.preset, o.type, path);
    }));
  for (const std::string& m : o.models)
    if (!std::filesystem::exists(m)) fail("--model {}: no such file", m);

  ColocateOptions co;
  co.isolation = parse_isolation("--isolation", o.isolation);
  co.cores = parse_core_mode("--cores", o.cores);
  co.weights = parse_weight_mode("--weights", o.weights);
  co.slice_steps = o.slice_steps;
  co.isa = o.isa;
  co.kv_type = parse_type_flag("--kv-type", o.kv_type);
  co.assume_available_bytes = uint64_t(o.assume_mem_gb * 1024 * 1024 * 1024);
  co.progress_interval_s = 0.25;
  co.stop = &g_stop;
  const int n_cpus = int(allowed_cpus().size());
  // Every instance gets the same threads in every scenario, so the single run is what each of
  // the N instances would do alone on its share of the machine.
  const int threads = o.threads > 0 ? o.threads : co.cores == CoreMode::Partition ? std::max(1, n_cpus / o.instances) : n_cpus;

  std::vector<InstanceSpec> specs;
  for (int i = 0; i < o.instances; ++i) {
    InstanceSpec s;
    s.name = i < 26 ? std::string(1, char('A' + i)) : fmt::format("I{}", i);
    s.model_path = o.models[size_t(i) % o.models.size()];
    s.batch = o.batch;
    s.n_prompt = o.n_prompt;
    s.n_gen = o.n_gen;
    s.threads = threads;
    s.prompt_seed = o.prompts == "same" ? 1 : 1000 * uint64_t(i + 1);
    specs.push_back(s);
  }

  std::vector<Scenario> scenarios;
  scenarios.push_back({"1 instance", "single", {specs[0]}, co});
  std::vector<std::string> schedules = {o.schedule};
  if (o.schedule == "all") schedules = {"parallel", "time-sliced", "staggered"};
  for (const std::string& s : schedules) {
    ColocateOptions so = co;
    so.schedule = parse_schedule("--schedule", s);
    scenarios.push_back({fmt::format("{} × {}", o.instances, s), s, specs, so});
  }
  if (o.fused) {
    ColocateOptions fo = co;
    fo.fused = true;
    // The fused engine gets the CPUs the N instances had together.
    std::vector<InstanceSpec> fs = specs;
    for (InstanceSpec& s : fs) s.threads = co.cores == CoreMode::Partition ? threads * o.instances : threads;
    scenarios.push_back({fmt::format("{} × fused", o.instances), "fused", fs, fo});
  }
  // Refuse before anything runs when the largest scenario does not fit.
  for (const Scenario& s : scenarios) {
    const MemoryPlan plan = plan_memory(s.specs, s.options);
    if (!plan.fits()) fail("{} does not fit in memory: {}", s.name, plan.describe());
  }

  // The weights every scenario computes on, made once: the shared copy (repacked) or the
  // file re-read into the page cache.
  if (co.weights != WeightMode::Private)
    fmt::print(stderr, "bwscope: {} ...\n", co.weights == WeightMode::Shared ? "writing the shared copy of the weights"
                                                                               : "re-reading the model file into the page cache");
  co.prepared = prepare_weights(specs, co);
  for (Scenario& s : scenarios) s.options.prepared = co.prepared;

  report::CompareReport rep;
  rep.weights.mode = std::string(weight_mode_name(co.weights));
  rep.weights.isa = co.prepared->isa;
  for (const PreparedWeights::File& f : co.prepared->files)
    rep.weights.files.push_back({f.model_path, f.bytes, f.shared ? f.shared->interleaved_bytes() : 0, f.seconds});
  rep.threshold = o.threshold;
  rep.window_ms = o.window_ms;
  rep.config = {{"models", o.models}, {"instances", o.instances}, {"isolation", o.isolation}, {"cores", o.cores},
                {"weights", o.weights}, {"schedule", o.schedule}, {"fused", o.fused}, {"slice_steps", o.slice_steps},
                {"prompts", o.prompts}, {"batch", o.batch}, {"n_prompt", o.n_prompt}, {"n_gen", o.n_gen},
                {"threads_per_instance", threads}, {"kv_type", o.kv_type}, {"isa", o.isa.empty() ? "best" : o.isa},
                {"window_ms", o.window_ms}, {"threshold", o.threshold}, {"probe", o.probe}, {"bracket_s", o.bracket_s},
                {"seed_scenario", o.seed_scenario}};
  const meter::DeviceInfo dev = meter::device_info();
  rep.cpu_model = dev.cpu_model;
  rep.cpus = dev.cpus;
  rep.memory_bytes = dev.memory_bytes;
  rep.notes = mode_notes(o, co, n_cpus, threads);
  rep.probe.datasheet_gbs = o.peak_bw;
  rep.probe.cpus = n_cpus;
  rep.probe.instance_threads = threads;

  std::optional<meter::ProbeResult> probe;
  if (o.probe != "none") {
    const std::string cache = meter::probe_cache_path("");
    if (o.probe == "reprobe" || !std::filesystem::exists(cache))
      fmt::print(stderr, "bwscope: probing this device's bandwidth and compute peak once (stored in {}) ...\n", cache);
    probe = meter::cached_probe(meter::ProbeOptions{}, o.probe == "reprobe");
    rep.probe.source = "cache " + cache;
    if (o.bracket_s > 0) {
      rep.probe.before_gbs = meter::quick_read_probe(n_cpus, o.bracket_s);
      if (threads < n_cpus) rep.probe.instance_before_gbs = meter::quick_read_probe(threads, o.bracket_s);
    }
  } else {
    rep.probe.source = "none";
  }

  struct sigaction sa {}, old_sa{};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, &old_sa);
  ProgressLine progress(!o.no_progress);
  const int64_t width_ns = std::max<int64_t>(1, int64_t(o.window_ms * 1e6));
  bool interrupted = false;
  for (size_t k = 0; k < scenarios.size() && !interrupted; ++k) {
    Scenario& s = scenarios[k];
    progress.start(fmt::format("[{}/{}] {}", k + 1, scenarios.size(), s.name));
    s.options.on_progress = [&progress](const Progress& p) { progress.show(p); };
    const ColocateResult result = run_colocated(s.specs, s.options);
    interrupted = result.interrupted;
    report::ScenarioFigures f = report::scenario_figures(result, s.name, s.kind, width_ns);
    progress.finish(fmt::format("{}: {:.1f} s, decode {:.1f} GB/s, {:.1f} tok/s{}", s.name, f.seconds, f.decode_gbs, f.tokens_per_s,
                                f.completed ? "" : " (incomplete)"));
    rep.scenarios.push_back(std::move(f));
  }
  ::sigaction(SIGINT, &old_sa, nullptr);

  if (probe) {
    if (o.bracket_s > 0 && !interrupted) {
      rep.probe.after_gbs = meter::quick_read_probe(n_cpus, o.bracket_s);
      if (threads < n_cpus) rep.probe.instance_after_gbs = meter::quick_read_probe(threads, o.bracket_s);
    }
    set_roofs(rep.probe, *probe, rep.scenarios[0].instances.empty() ? "" : rep.scenarios[0].instances[0].weight_type);
  }
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

  // Files first (atomically), then stdout.
  if (!o.json_out.empty()) write_file_atomic(o.json_out, report::render_json(rep).dump(2) + "\n");
  if (!o.html.empty()) write_file_atomic(o.html, report::render_html(rep));
  if (!o.svg.empty()) write_file_atomic(o.svg, report::render_svg(rep));
  if (o.json) fmt::print("{}\n", report::render_json(rep).dump(2));
  else if (o.csv) fmt::print("{}", report::render_csv(rep));
  else if (o.md) fmt::print("{}", report::render_markdown(rep));
  else fmt::print("{}", report::render_table(rep));
  std::fflush(stdout);
  if (interrupted) {
    fmt::print(stderr, "bwscope: interrupted: the report holds what was measured and is marked incomplete\n");
    std::exit(130);
  }
  if (rep.incomplete) fail("compare: {} (the other instances' results are in the report)", fmt::join(rep.failures, "; "));
}

}  // namespace

void add_compare(CLI::App& app) {
  auto o = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand("compare", "One model alone vs N side by side: bandwidth (avg, peak), latency, tokens/s, memory and verdict");
  sub->add_option("--model,-m", o->models, "GGUF model; repeat for different models per instance (default: synthetic, see --preset/--type)");
  sub->add_option("--preset", o->preset, "synthetic model when no --model: llama-3.2-1b or llama-3.2-3b")->capture_default_str();
  sub->add_option("--type", o->type, "weight type of the synthetic model: f32 f16 bf16 q8_0 q4_0")->capture_default_str();
  sub->add_option("-N,--instances", o->instances, "instances side by side")->capture_default_str()->check(CLI::Range(2, 64));
  sub->add_option("-p,--n-prompt", o->n_prompt, "prompt tokens per request")->capture_default_str()->check(CLI::Range(1, 100000));
  sub->add_option("-n,--n-gen", o->n_gen, "generated tokens per request")->capture_default_str()->check(CLI::Range(1, 100000));
  sub->add_option("-b,--batch", o->batch, "requests each instance serves at once")->capture_default_str()->check(CLI::Range(1, 256));
  sub->add_option("-t,--threads", o->threads, "threads per instance (default: CPUs / N with partition, all with share)")->check(CLI::PositiveNumber);
  sub->add_option("--isolation", o->isolation, "process (each instance a child process) or thread")->capture_default_str()
      ->check(CLI::IsMember({"process", "thread"}));
  sub->add_option("--cores", o->cores, "partition (own pinned CPUs) or share (all CPUs each)")->capture_default_str()
      ->check(CLI::IsMember({"partition", "share"}));
  sub->add_option("--weights", o->weights,
                  "shared (one copy in the layout the kernels prefer, mapped by every instance), private (a copy per instance) or "
                  "file (computed on the file's mapping)")
      ->capture_default_str()->check(CLI::IsMember({"shared", "private", "file"}));
  sub->add_option("--schedule", o->schedule, "parallel, time-sliced, staggered, or all (each, then which is best)")->capture_default_str()
      ->check(CLI::IsMember({"parallel", "time-sliced", "staggered", "all"}));
  sub->add_option("--slice-steps", o->slice_steps, "time-sliced: decode steps per turn")->capture_default_str()->check(CLI::Range(1, 100000));
  sub->add_flag("--fused", o->fused, "also run the N requests as one batch of one engine (each weight read once per step)");
  sub->add_option("--prompts", o->prompts, "same or different prompts per instance")->capture_default_str()->check(CLI::IsMember({"same", "different"}));
  sub->add_flag("--seed-scenario", o->seed_scenario, "the original comparison: Llama 3.2 3B, F16, batch 1, prompt 512");
  sub->add_option("--kv-type", o->kv_type, "KV cache type: f16 or f32")->capture_default_str();
  sub->add_option("--isa", o->isa, "kernel table: scalar, avx2 or avx512 (default: best for this CPU)");
  sub->add_option("--window-ms", o->window_ms, "bandwidth series window, ms (the peak is over this)")->capture_default_str()->check(CLI::Range(0.01, 1e5));
  sub->add_option("--threshold", o->threshold, "bandwidth-bound at or above this fraction of the attainable peak")->capture_default_str()->check(CLI::Range(0.01, 1.0));
  sub->add_option("--peak-bw", o->peak_bw, "a datasheet peak bandwidth, GB/s, shown as a second MBU")->check(CLI::PositiveNumber);
  sub->add_option("--probe", o->probe, "attainable peak: cached, reprobe or none")->capture_default_str()->check(CLI::IsMember({"cached", "reprobe", "none"}));
  sub->add_option("--bracket-s", o->bracket_s, "seconds of quick read probe before and after the runs (0: none)")->capture_default_str()->check(CLI::Range(0.0, 60.0));
  sub->add_option("--assume-mem-gb", o->assume_mem_gb, "plan against this much available memory instead of MemAvailable")->check(CLI::PositiveNumber);
  sub->add_flag("--json", o->json, "print the report as JSON (docs/compare-json.md) instead of the table");
  sub->add_flag("--csv", o->csv, "print CSV instead of the table");
  sub->add_flag("--md", o->md, "print Markdown instead of the table");
  sub->add_option("--json-out", o->json_out, "also write the JSON report to this file");
  sub->add_option("--html", o->html, "also write a self-contained HTML report with charts to this file");
  sub->add_option("--svg", o->svg, "also write the charts as one SVG file");
  sub->add_flag("--no-progress", o->no_progress, "no live progress on stderr");
  sub->callback([o] { run_compare(*o); });
}

}  // namespace bwscope::cli
