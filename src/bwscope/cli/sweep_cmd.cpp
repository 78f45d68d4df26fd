// bwscope sweep: a grid over weight type × batch × instances × threads × schedule × prompt
// length, point by point with progress and an ETA, each point appended to a results file at
// once (--resume continues it); table, CSV, JSON and an HTML report with charts. With
// --predict, the roofline model's prediction beside every point.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>

#include <fmt/core.h>

#include "bwscope/base/error.h"
#include "bwscope/base/mapped_file.h"
#include "bwscope/cli/commands.h"
#include "bwscope/plan/cost.h"
#include "bwscope/plan/predict_sweep.h"
#include "bwscope/study/sweep.h"

namespace bwscope::cli {
namespace {

struct Options {
  study::CompareSettings settings;
  std::string types = "f16,q8_0,q4_0", batches = "1,4", instances = "1,2", threads = "0", schedules = "parallel", prompts = "64";
  std::string results = "bwscope-sweep.jsonl", resume, html, json_out, csv_out;
  std::optional<double> efficiency;
  bool predict = false, calibrate = false, json = false, csv = false, no_progress = false;
};

std::string duration(double s) {
  if (s < 90) return fmt::format("{:.0f} s", s);
  return fmt::format("{} min {:02.0f} s", int(s / 60), s - 60 * int(s / 60));
}

void run_sweep_cmd(const Options& o, const CLI::App& sub) {
  if (o.json && o.csv) fail("--json and --csv choose the one format printed; give one");
  const int n_cpus = int(allowed_cpus().size());
  study::SweepGrid grid;
  study::CompareSettings settings = o.settings;
  std::optional<study::ResultsFile> file;
  if (!o.resume.empty()) {
    for (const char* axis : {"--types", "--batch", "--instances", "--threads", "--schedules", "--n-prompt", "--n-gen", "--preset", "--model",
                             "--isolation", "--cores", "--weights", "--results"})
      if (sub.count(axis)) fail("--resume {}: the grid and settings come from the file; drop {}", o.resume, axis);
    file.emplace(study::ResultsFile::resume(o.resume));
    try {
      grid = study::grid_from_json(file->header().at("grid"));
      settings = study::sweep_settings_from_json(file->header().at("settings"));
    } catch (const std::exception&) {  // json's errors, or a count not an integer in range
      fail("{}: the header's grid or settings are malformed", o.resume);
    }
  } else {
    grid.types = study::parse_list("--types", o.types);
    if (!settings.models.empty()) {
      if (sub.count("--types")) fail("--types: the model file {} has its own weight type; drop --types or --model", settings.models[0]);
      if (!std::filesystem::exists(settings.models[0])) fail("--model {}: no such file", settings.models[0]);
      grid.types = {plan::gguf_shape(settings.models[0]).weight_type};
    }
    for (std::string& t : grid.types)
      for (char& c : t) c = char(std::tolower(static_cast<unsigned char>(c)));
    grid.batches = study::parse_int_list("--batch", o.batches, 1, 256);
    grid.instances.clear();
    for (int64_t v : study::parse_int_list("--instances", o.instances, 1, 64)) grid.instances.push_back(int(v));
    grid.threads.clear();
    for (int64_t v : study::parse_int_list("--threads", o.threads, 0, 4096)) grid.threads.push_back(int(v));
    grid.schedules = study::parse_list("--schedules", o.schedules);
    grid.prompts = study::parse_int_list("--n-prompt", o.prompts, 1, 100000);
  }
  const std::vector<report::SweepPoint> points = study::expand_grid(grid, n_cpus, settings.cores == "partition");  // refuses a bad grid before any file is made
  if (!file) file.emplace(study::ResultsFile::create(o.results, study::results_header(grid, settings)));

  study::ProgressLine display(!o.no_progress);
  study::SweepRun run;
  {
    ScopedSigint sigint;
    study::PointRuns runs(settings, *std::max_element(grid.instances.begin(), grid.instances.end()), display, sigint.flag());
    display.say(fmt::format("sweep: {} points, {} already in {}", points.size(), file->done().size(), file->path()));
    run = study::run_sweep(
        points, *file, [&](const report::SweepPoint& p, bool& interrupted) { return runs.run(p, interrupted); }, sigint.flag(),
        [&](const study::SweepProgress& p) {
          display.say(fmt::format("point {}/{}: {} ({} to run{})", p.index + 1, p.total, points[size_t(p.index)].key(), p.remaining,
                                  p.eta_s ? ", about " + duration(*p.eta_s) + " left" : ""));
        });
  }

  report::SweepReport rep = study::sweep_report(file->header(), points, run.results);
  if (o.predict) plan::predict_sweep(rep, o.efficiency);
  if (o.calibrate && !run.interrupted) {
    const double e = plan::fit_efficiency(rep);
    if (e <= 0) fail("--calibrate: no point ran with a probe to calibrate against");
    int n = 0;
    for (const report::PointResult& x : rep.results) n += x.ok;
    plan::store_calibration(e, n, file->path());
    display.say(fmt::format("calibrated the plan's efficiency: {:.3f} from {} points (stored; plan and sweep --predict use it)", e, n));
  }
  report::finish_sweep_report(rep);
  if (!o.json_out.empty()) write_file_atomic(o.json_out, report::render_sweep_json(rep).dump(2) + "\n");
  if (!o.csv_out.empty()) write_file_atomic(o.csv_out, report::render_sweep_csv(rep));
  if (!o.html.empty()) write_file_atomic(o.html, report::render_sweep_html(rep));
  if (o.json) fmt::print("{}\n", report::render_sweep_json(rep).dump(2));
  else if (o.csv) fmt::print("{}", report::render_sweep_csv(rep));
  else fmt::print("{}", report::render_sweep_table(rep));
  std::fflush(stdout);
  if (run.interrupted) {
    fmt::print(stderr, "bwscope: interrupted: {} of {} points are in {}; continue with: bwscope sweep --resume {}\n", run.results.size(),
               points.size(), file->path(), file->path());
    std::exit(130);
  }
}

}  // namespace

void add_sweep(CLI::App& app) {
  auto o = std::make_shared<Options>();
  study::CompareSettings& s = o->settings;
  s.n_prompt = 64;
  s.n_gen = 64;
  CLI::App* sub = app.add_subcommand("sweep", "A grid of runs over the levers (type, batch, instances, threads, schedule, prompt): "
                                              "curves, the knee, and the roofline model's prediction beside each point");
  sub->add_option("--preset", s.preset, "synthetic model: llama-3.2-1b or llama-3.2-3b")->capture_default_str()
      ->check(CLI::IsMember({"llama-3.2-1b", "llama-3.2-3b"}));
  sub->add_option("--model,-m", s.models, "a GGUF model instead of the synthetic preset (its own weight type; no --types)")->expected(1);
  sub->add_option("--types", o->types, "weight types, a comma list (f32 f16 bf16 q8_0 q4_0 q4_k q5_k q6_k q4_k_m q5_k_m)")->capture_default_str();
  sub->add_option("-b,--batch", o->batches, "requests each instance serves at once, a comma list")->capture_default_str();
  sub->add_option("-N,--instances", o->instances, "instances side by side, a comma list (1: alone)")->capture_default_str();
  sub->add_option("-t,--threads", o->threads, "threads per instance, a comma list (0: CPUs / instances)")->capture_default_str();
  sub->add_option("--schedules", o->schedules, "parallel, time-sliced, staggered, a comma list (for 2+ instances)")->capture_default_str();
  sub->add_option("-p,--n-prompt", o->prompts, "prompt tokens per request, a comma list")->capture_default_str();
  sub->add_option("-n,--n-gen", s.n_gen, "generated tokens per request")->capture_default_str()->check(whole_range(1, 100000));
  sub->add_option("--isolation", s.isolation, "process or thread")->capture_default_str()->check(CLI::IsMember({"process", "thread"}));
  sub->add_option("--cores", s.cores, "partition or share")->capture_default_str()->check(CLI::IsMember({"partition", "share"}));
  sub->add_option("--weights", s.weights, "shared, private or file")->capture_default_str()->check(CLI::IsMember({"shared", "private", "file"}));
  sub->add_option("--results", o->results, "the results file each finished point is appended to (must not exist)")->capture_default_str()->check(output_file());
  sub->add_option("--resume", o->resume, "continue the sweep in this results file (its grid and settings); a complete one is only reported");
  sub->add_flag("--predict", o->predict, "put the roofline model's prediction (bwscope plan) beside every point, with its error");
  sub->add_flag("--calibrate", o->calibrate, "fit the plan's efficiency factor to this sweep's points and store it for plan and later --predict");
  sub->add_option("--efficiency", o->efficiency, "the model's efficiency factor (default: calibrated, see docs/plan.md)")->check(number_range(0.05, 1.5));
  sub->add_option("--probe", s.probe, "roofs: cached or none")->capture_default_str()->check(CLI::IsMember({"cached", "reprobe", "none"}));
  sub->add_option("--bracket-s", s.bracket_s, "seconds of quick read probe before each point (0: the cached probe)")->capture_default_str()->check(number_range(0.0, 60.0));
  sub->add_option("--kv-type", s.kv_type, "KV cache type: f16 or f32")->capture_default_str();
  sub->add_option("--isa", s.isa, "kernel table: scalar, avx2 or avx512 (default: best for this CPU)");
  sub->add_flag("--json", o->json, "print the report as JSON (docs/sweep-json.md)");
  sub->add_flag("--csv", o->csv, "print CSV");
  sub->add_option("--json-out", o->json_out, "also write the JSON report to this file")->check(output_file());
  sub->add_option("--csv-out", o->csv_out, "also write the CSV to this file")->check(output_file());
  sub->add_option("--html", o->html, "also write a self-contained HTML report with charts to this file")->check(output_file());
  sub->add_flag("--no-progress", o->no_progress, "no live progress on stderr");
  sub->callback([o, sub] { run_sweep_cmd(*o, *sub); });
}

}  // namespace bwscope::cli
