// compare's run logic below the CLI: the settings, the scenarios they make, the weights every
// scenario computes on, the roofs (cached probe + quick probes bracketing the runs), the
// scenarios run one after another with a live display, and the finished report. `bwscope
// compare` is parse → run_compare → print; `bwscope sweep` runs its grid's points with the
// same pieces.
#pragma once

#include <csignal>
#include <optional>
#include <string>
#include <vector>

#include "bwscope/meter/probe.h"
#include "bwscope/report/compare_report.h"
#include "bwscope/report/trace.h"
#include "bwscope/runtime/colocate.h"
#include "bwscope/study/progress_line.h"

namespace bwscope::study {

struct CompareSettings {
  std::vector<std::string> models;       // empty: the synthetic `preset` in `type`
  std::string preset = "llama-3.2-1b", type = "q8_0", kv_type = "f16", isa;
  std::string isolation = "process", cores = "partition", weights = "shared", schedule = "parallel", prompts = "different";
  std::string probe = "cached";          // cached, reprobe, none
  int instances = 2, threads = 0;        // threads per instance; 0: CPUs / N (partition) or all (share)
  int64_t n_prompt = 128, n_gen = 64, batch = 1, slice_steps = 4;
  double window_ms = 10, threshold = 0.8, bracket_s = 0.5, assume_mem_gb = 0;
  std::optional<double> peak_bw;
  bool fused = false, seed_scenario = false;
  // Also one model split over ranks started by mpirun: tensor parallel over `tp` ranks and/or
  // pipeline parallel over `pp` (0: none), beside one instance on as many CPUs as the ranks.
  int tp = 0, pp = 0;
  int64_t micro_batches = 0;             // pp: micro-batches per step (0: min(batch, ranks))
  std::string tp_head;                   // tp: the output head vocab (empty: the default) or replicate (parallel/split.h)
  std::string trace;                     // a Trace Event Format timeline of every scenario (report/trace.h), or none
  double trace_max_mb = 512;             // refused before running when the trace would be larger
};

// The original comparison's setting (Llama 3.2 3B, FP16, batch 1, a 512-token prompt) over
// `s` when s.seed_scenario.
void apply_seed_scenario(CompareSettings& s);

// The runner's options from the settings' names (throws Error naming the flag).
ColocateOptions colocate_options(const CompareSettings& s);
// Threads each of `n_instances` instances gets: the settings' count, else CPUs / N on
// partitioned cores and every CPU on shared ones.
int threads_per_instance(const CompareSettings& s, CoreMode cores, int n_instances, int n_cpus);
// The instances "A", "B", ...: the settings' models in turn, each with `threads` threads.
std::vector<InstanceSpec> instance_specs(const CompareSettings& s, int n_instances, int threads);
// Makes the synthetic model when the settings name none; refuses a model path that is not there.
void resolve_models(CompareSettings& s, ProgressLine& display);

struct Scenario {
  std::string name, kind;                // "1 instance" / single, "2 × parallel" / parallel, ...
  std::vector<InstanceSpec> specs;
  ColocateOptions options;
};

// The scenarios compare runs: one instance alone, then the N under each schedule asked for,
// then fused if asked; with --tp/--pp, one instance on the ranks' CPUs together, then each split.
std::vector<Scenario> compare_scenarios(const CompareSettings& s, const ColocateOptions& co, int threads);
// Refuses a split compare cannot run, in one line, before anything loads: a split the model
// cannot take, no MPI in the build, no mpirun, or compare itself started by mpirun.
void check_splits(const CompareSettings& s);
// Throws Error when a scenario does not fit in memory.
void check_memory(const std::vector<Scenario>& scenarios);
// Writes the shared copy (or re-reads the file) once, saying so on the display.
std::shared_ptr<const PreparedWeights> prepare_for(const std::vector<InstanceSpec>& specs, const ColocateOptions& co, ProgressLine& display);
// What the instances computed on, for the report.
report::WeightsSummary weights_summary(const ColocateOptions& co);

// Why the modes behave as they do, in sentences for the report's notes.
std::vector<std::string> mode_notes(const CompareSettings& s, const ColocateOptions& co, int n_cpus, int threads);
// Where decode on the file's row layout trails the interleaved kernels (docs/engine.md).
std::optional<std::string> row_layout_caveat(std::string_view isa, const std::string& type);

// The roofs runs are judged against: the cached probe (made once when absent), with quick read
// probes on every CPU and on `instance_threads` pinned CPUs before and after the runs.
class Roofs {
 public:
  // s.probe "none": no roofs. Brackets run only when s.bracket_s > 0.
  Roofs(const CompareSettings& s, int instance_threads, ProgressLine& display);
  bool available() const { return probe_.has_value(); }
  const std::optional<meter::ProbeResult>& probe() const { return probe_; }
  // The quick probes after the runs (skip when interrupted).
  void bracket_after();
  // The summary for a report whose instances compute on `weight_type` (the compute roof).
  report::ProbeSummary summary(const std::string& weight_type) const;
  // Every quick probe taken, in order, for the trace.
  struct Mark {
    std::string name;
    int64_t t0_ns = 0, t1_ns = 0;
    int threads = 0;
    double gbs = 0;
  };
  const std::vector<Mark>& marks() const { return marks_; }

 private:
  double quick(const char* name, int threads);
  std::vector<Mark> marks_;
  report::ProbeSummary summary_;
  std::optional<meter::ProbeResult> probe_;
  double bracket_s_ = 0;
};

// Runs one scenario with the display, labelled "[k/total] name"; sets `interrupted`. With a
// trace, the run's instances, series and start barrier are added to it.
report::ScenarioFigures run_scenario(Scenario& scenario, const std::string& label, int64_t width_ns, ProgressLine& display,
                                     bool& interrupted, report::Trace* trace = nullptr);

// compare from settings to finished report: resolve, assemble, prepare, probe, run every
// scenario, judge. `stop` (set by a SIGINT handler) ends the runs early; the report is then
// marked incomplete. Throws Error on bad settings.
report::CompareReport run_compare(CompareSettings s, ProgressLine& display, volatile std::sig_atomic_t* stop, bool& interrupted);

}  // namespace bwscope::study
