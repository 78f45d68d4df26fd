// bwscope compare: one instance alone, then N at once (and other schedules or fused), back to
// back on the same settings; the table, ratios, verdict and conclusion, with live progress on
// stderr, and JSON / CSV / Markdown / HTML / SVG outputs. The run itself is study::run_compare.
#include <signal.h>

#include <csignal>
#include <cstdio>
#include <memory>

#include <fmt/core.h>
#include <fmt/ranges.h>

#include "bwscope/base/error.h"
#include "bwscope/base/mapped_file.h"
#include "bwscope/cli/commands.h"
#include "bwscope/report/compare_report.h"
#include "bwscope/study/compare_run.h"

namespace bwscope::cli {
namespace {

struct Options : study::CompareSettings {
  std::string html, svg, json_out;
  bool json = false, csv = false, md = false, no_progress = false;
};

void run_compare(const Options& o) {
  if (int(o.json) + int(o.csv) + int(o.md) > 1) fail("--json, --csv and --md choose the one format printed; give one");
  study::ProgressLine progress(!o.no_progress);
  bool interrupted = false;
  report::CompareReport rep;
  {
    ScopedSigint sigint;
    rep = study::run_compare(o, progress, sigint.flag(), interrupted);
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
  sub->add_option("--type", o->type, "weight type of the synthetic model: f32 f16 bf16 q8_0 q4_0 q4_k q5_k q6_k, or llama.cpp's q4_k_m / q5_k_m mix")->capture_default_str();
  sub->add_option("-N,--instances", o->instances, "instances side by side")->capture_default_str()->check(whole_range(2, 64));
  sub->add_option("-p,--n-prompt", o->n_prompt, "prompt tokens per request")->capture_default_str()->check(whole_range(1, 100000));
  sub->add_option("-n,--n-gen", o->n_gen, "generated tokens per request")->capture_default_str()->check(whole_range(1, 100000));
  sub->add_option("-b,--batch", o->batch, "requests each instance serves at once")->capture_default_str()->check(whole_range(1, 256));
  sub->add_option("-t,--threads", o->threads, "threads per instance (default: CPUs / N with partition, all with share)")->check(whole_range(1, 4096));
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
  sub->add_option("--slice-steps", o->slice_steps, "time-sliced: decode steps per turn")->capture_default_str()->check(whole_range(1, 100000));
  sub->add_flag("--fused", o->fused, "also run the N requests as one batch of one engine (each weight read once per step)");
  sub->add_option("--prompts", o->prompts, "same or different prompts per instance")->capture_default_str()->check(CLI::IsMember({"same", "different"}));
  sub->add_flag("--seed-scenario", o->seed_scenario, "the original comparison: Llama 3.2 3B, F16, batch 1, prompt 512");
  sub->add_option("--tp", o->tp, "also the model split over N MPI ranks by tensor parallelism (mpirun started for it)")
      ->check(whole_range(2, 64));
  sub->add_option("--pp", o->pp, "also the model split over N MPI ranks by pipeline parallelism (mpirun started for it)")
      ->check(whole_range(2, 64));
  add_tp_head_option(sub, o->tp_head);
  sub->add_option("--micro-batches", o->micro_batches, "--pp: micro-batches per step (default: min(batch, ranks))")
      ->check(whole_range(1, 256));
  sub->add_option("--kv-type", o->kv_type, "KV cache type: f16 or f32")->capture_default_str();
  sub->add_option("--isa", o->isa, "kernel table: scalar, avx2 or avx512 (default: best for this CPU)");
  sub->add_option("--window-ms", o->window_ms, "bandwidth series window, ms (the peak is over this)")->capture_default_str()->check(number_range(0.01, 1e5));
  sub->add_option("--threshold", o->threshold, "bandwidth-bound at or above this fraction of the attainable peak")->capture_default_str()->check(number_range(0.01, 1.0));
  sub->add_option("--peak-bw", o->peak_bw, "a datasheet peak bandwidth, GB/s, shown as a second MBU")->check(above_zero());
  sub->add_option("--probe", o->probe, "attainable peak: cached, reprobe or none")->capture_default_str()->check(CLI::IsMember({"cached", "reprobe", "none"}));
  sub->add_option("--bracket-s", o->bracket_s, "seconds of quick read probe before and after the runs (0: none)")->capture_default_str()->check(number_range(0.0, 60.0));
  sub->add_option("--assume-mem-gb", o->assume_mem_gb, "plan against this much available memory instead of MemAvailable")->check(above_zero());
  sub->add_flag("--json", o->json, "print the report as JSON (docs/compare-json.md) instead of the table");
  sub->add_flag("--csv", o->csv, "print CSV instead of the table");
  sub->add_flag("--md", o->md, "print Markdown instead of the table");
  sub->add_option("--json-out", o->json_out, "also write the JSON report to this file")->check(output_file());
  sub->add_option("--html", o->html, "also write a self-contained HTML report with charts to this file")->check(output_file());
  sub->add_option("--trace", o->trace, "also write a timeline of every scenario for Perfetto / chrome://tracing (docs/trace.md)")
      ->check(output_file());
  sub->add_option("--trace-max-mb", o->trace_max_mb, "refuse before running when the trace would be larger")
      ->capture_default_str()->check(number_range(1, 1e6));
  sub->add_option("--svg", o->svg, "also write the charts as one SVG file")->check(output_file());
  sub->add_flag("--no-progress", o->no_progress, "no live progress on stderr");
  sub->callback([o] { run_compare(*o); });
}

}  // namespace bwscope::cli
