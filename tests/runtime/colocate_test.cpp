// The co-location runner on the tiny preset, every mode: the instances run, overlap, bring
// their ledgers back on one clock; the device figures are the sum of the instances; fused
// mode reads each weight once per step for all requests; a killed child is reported by name.
#include <gtest/gtest.h>

#include <algorithm>

#include <signal.h>

#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <set>

#include "bwscope/base/error.h"
#include "bwscope/report/scenario.h"
#include "bwscope/runtime/colocate.h"
#include "bwscope/runtime/instance_run.h"
#include "bwscope/runtime/proc_memory.h"
#include "support/temp_dir.h"

namespace bwscope {
namespace {

class Colocate : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test_support::TempDir();
    model_ = new std::string(test_support::write_tiny_model(*dir_, DType::Q8_0, 1));
    other_ = new std::string(test_support::write_tiny_model(*dir_, DType::F16, 2));
  }
  static void TearDownTestSuite() {
    delete model_;
    delete other_;
    delete dir_;
  }
  static std::vector<InstanceSpec> specs(int n, int64_t n_gen = 96, int64_t batch = 1) {
    std::vector<InstanceSpec> out;
    for (int i = 0; i < n; ++i) {
      InstanceSpec s;
      s.name = std::string(1, char('A' + i));
      s.model_path = *model_;
      s.n_prompt = 48;
      s.n_gen = n_gen;
      s.threads = 1;
      s.batch = batch;
      s.prompt_seed = 100 * uint64_t(i + 1);
      out.push_back(s);
    }
    return out;
  }
  static ColocateOptions options(Isolation iso, CoreMode cores, WeightMode weights) {
    ColocateOptions o;
    o.isolation = iso;
    o.cores = cores;
    o.weights = weights;
    // Two logical CPUs are enough for every mode; reuse the first when the machine has one.
    std::vector<int> cpus = allowed_cpus();
    o.cpus = {cpus[0], cpus.size() > 1 ? cpus[1] : cpus[0]};
    return o;
  }
  static inline test_support::TempDir* dir_ = nullptr;
  static inline std::string* model_ = nullptr;
  static inline std::string* other_ = nullptr;
};

// Every instance completed every step, its records carry its index and lie inside the run.
void expect_complete(const ColocateResult& r, size_t n) {
  ASSERT_EQ(r.instances.size(), n);
  EXPECT_TRUE(r.all_completed()) << (r.failures().empty() ? "" : r.failures()[0]);
  for (size_t i = 0; i < n; ++i) {
    const InstanceResult& x = r.instances[i];
    EXPECT_EQ(x.steps_done(), x.n_gen) << x.name;
    ASSERT_FALSE(x.records.empty()) << x.name;
    EXPECT_EQ(x.records_dropped, 0u);
    for (const meter::Record& rec : x.records) {
      EXPECT_EQ(rec.instance, i);
      EXPECT_GE(rec.t_begin_ns, r.go_ns);
      EXPECT_LE(rec.t_end_ns, r.end_ns);
    }
  }
}

// The device series and totals are the instances' sums.
void expect_aggregate_is_sum(const report::ScenarioFigures& f) {
  double bytes = 0, tps = 0;
  for (const auto& g : f.instances) bytes += g.bytes, tps += g.decode_tokens_per_s;
  EXPECT_DOUBLE_EQ(f.bytes, bytes);
  EXPECT_DOUBLE_EQ(f.tokens_per_s, tps);
  ASSERT_EQ(f.instance_gbs.size(), f.instances.size());
  for (size_t w = 0; w < f.device_gbs.size(); ++w) {
    double sum = 0;
    for (const auto& s : f.instance_gbs) sum += s[w];
    EXPECT_NEAR(f.device_gbs[w], sum, 1e-9 * std::max(1.0, sum));
  }
  // Integrating the device series gives back every byte.
  double integrated = 0;
  for (size_t w = 0; w < f.device_gbs.size(); ++w) {
    const int64_t width = w + 1 < f.device_gbs.size() ? f.width_ns : (f.t0_ns + int64_t(f.seconds * 1e9)) - (f.t0_ns + int64_t(w) * f.width_ns);
    integrated += f.device_gbs[w] * double(width);
  }
  EXPECT_NEAR(integrated, bytes, 0.01 * bytes);
}

struct Mode {
  Isolation iso;
  CoreMode cores;
  WeightMode weights;
};

class ColocateModes : public Colocate, public ::testing::WithParamInterface<Mode> {};

TEST_P(ColocateModes, TwoInstancesOverlapAndSumUp) {
  const Mode m = GetParam();
  // Batch 8 and 300 steps: long enough (tens of ms) that scheduling noise cannot hide the overlap.
  const ColocateResult r = run_colocated(specs(2, 300, 8), options(m.iso, m.cores, m.weights));
  expect_complete(r, 2);
  const report::ScenarioFigures f = report::scenario_figures(r, "2 × parallel", "parallel", 1'000'000);
  expect_aggregate_is_sum(f);
  ASSERT_TRUE(f.overlap_s.has_value());
  // Released together at the barrier: both were busy at once for a good part of the run.
  EXPECT_GT(*f.overlap_fraction, 0.2) << "overlap " << *f.overlap_s << " s of " << f.seconds << " s";
  for (const auto& g : f.instances) {
    EXPECT_EQ(g.weights, weight_mode_name(m.weights));
    EXPECT_GT(g.ttft_ms, 0);
    EXPECT_GT(g.decode_tokens_per_s, 0);
    if (m.cores == CoreMode::Partition) {
      EXPECT_EQ(g.cpus.size(), 1u);
    } else {
      EXPECT_TRUE(g.cpus.empty());
    }
  }
  if (m.cores == CoreMode::Partition) {
    EXPECT_NE(f.instances[0].cpus, f.instances[1].cpus);
  }
  if (m.iso == Isolation::Process) {
    EXPECT_NE(f.instances[0].pid, f.instances[1].pid);
  }
  // Private weights are a second resident copy: the footprint grows by one model.
  const uint64_t kv_act = f.instances[0].kv_bytes + f.instances[0].scratch_bytes + f.instances[1].kv_bytes + f.instances[1].scratch_bytes;
  const uint64_t w = f.instances[0].weight_bytes;
  EXPECT_EQ(f.memory_bytes, kv_act + (m.weights == WeightMode::Private ? 2 * w : w));
}

INSTANTIATE_TEST_SUITE_P(EveryMode, ColocateModes,
                         ::testing::Values(Mode{Isolation::Process, CoreMode::Partition, WeightMode::Shared},
                                           Mode{Isolation::Process, CoreMode::Share, WeightMode::Shared},
                                           Mode{Isolation::Process, CoreMode::Partition, WeightMode::Private},
                                           Mode{Isolation::Thread, CoreMode::Partition, WeightMode::Shared},
                                           Mode{Isolation::Thread, CoreMode::Share, WeightMode::Private}),
                         [](const ::testing::TestParamInfo<Mode>& info) {
                           std::string name = std::string(isolation_name(info.param.iso)) + "_" + std::string(core_mode_name(info.param.cores)) +
                                              "_" + std::string(weight_mode_name(info.param.weights));
                           return name;
                         });

TEST_F(Colocate, SameSeedsGiveTheSameTokensAcrossIsolations) {
  // The engine is deterministic: a process and a thread instance with one prompt agree, so the
  // child's results travel back intact.
  auto s = specs(1, 16);
  const ColocateResult a = run_colocated(s, options(Isolation::Process, CoreMode::Partition, WeightMode::Shared));
  const ColocateResult b = run_colocated(s, options(Isolation::Thread, CoreMode::Partition, WeightMode::Private));
  expect_complete(a, 1);
  expect_complete(b, 1);
  EXPECT_EQ(a.instances[0].records.size(), b.instances[0].records.size());
  EXPECT_EQ(a.instances[0].weight_type, "q8_0");
}

TEST_F(Colocate, FusedReadsEachWeightOncePerStepForAllRequests) {
  const auto s = specs(2);
  ColocateOptions o = options(Isolation::Thread, CoreMode::Partition, WeightMode::Shared);
  const ColocateResult separate = run_colocated(s, o);
  o.fused = true;
  const ColocateResult fused = run_colocated(s, o);
  expect_complete(separate, 2);
  expect_complete(fused, 1);
  EXPECT_EQ(fused.instances[0].name, "A+B");
  EXPECT_EQ(fused.instances[0].batch, 2);
  const auto fs = report::scenario_figures(separate, "2", "parallel", 1'000'000);
  const auto ff = report::scenario_figures(fused, "fused", "fused", 1'000'000);
  EXPECT_EQ(ff.n_requests, 2);
  const double sep = fs.instances[0].decode_weight_bytes_per_step + fs.instances[1].decode_weight_bytes_per_step;
  // One pass over the weights per step instead of two (the embedding rows looked up differ by
  // one row per request, so "about half").
  EXPECT_NEAR(ff.instances[0].decode_weight_bytes_per_step / sep, 0.5, 0.02);
  // The same tokens are generated: both sequences of the fused batch produce all their steps.
  EXPECT_EQ(fused.instances[0].steps_done(), s[0].n_gen);
}

TEST_F(Colocate, TimeSlicedRunsOneInstanceAtATime) {
  ColocateOptions o = options(Isolation::Process, CoreMode::Partition, WeightMode::Shared);
  o.schedule = Schedule::TimeSliced;
  o.slice_steps = 8;
  // Batch 16 makes a turn last milliseconds, far longer than the hand-over.
  const ColocateResult r = run_colocated(specs(2, 96, 16), o);
  expect_complete(r, 2);
  const auto f = report::scenario_figures(r, "ts", "time-sliced", 1'000'000);
  // Busy periods barely intersect (only the hand-over instant), unlike parallel runs.
  EXPECT_LT(*f.overlap_fraction, 0.05) << *f.overlap_s;
  // Waiting for the other's turn shows up as long gaps between some of each one's tokens.
  for (const auto& x : r.instances) {
    auto t = x.tpot_s();  // in step order: sorted for the median (about 1 gap in 8 is a wait)
    std::sort(t.begin(), t.end());
    EXPECT_GT(t.back(), 3 * t[t.size() / 2]) << x.name;
  }
}

TEST_F(Colocate, StaggeredStartsTheNextWhenThePreviousDecodes) {
  ColocateOptions o = options(Isolation::Thread, CoreMode::Partition, WeightMode::Shared);
  o.schedule = Schedule::Staggered;
  const ColocateResult r = run_colocated(specs(2), o);
  expect_complete(r, 2);
  EXPECT_GE(r.instances[1].start_ns, r.instances[0].prefill_t1_ns);
  EXPECT_GE(r.instances[1].prefill_t0_ns, r.instances[0].prefill_t1_ns);
}

TEST_F(Colocate, DifferentModelsPerInstance) {
  auto s = specs(2);
  s[1].model_path = *other_;
  const ColocateResult r = run_colocated(s, options(Isolation::Process, CoreMode::Partition, WeightMode::Shared));
  expect_complete(r, 2);
  EXPECT_EQ(r.instances[0].weight_type, "q8_0");
  EXPECT_EQ(r.instances[1].weight_type, "f16");
  const auto f = report::scenario_figures(r, "mixed", "parallel", 1'000'000);
  EXPECT_EQ(f.memory_bytes, r.instances[0].weight_bytes + r.instances[1].weight_bytes + r.instances[0].kv_bytes +
                                r.instances[0].scratch_bytes + r.instances[1].kv_bytes + r.instances[1].scratch_bytes);
}

// Descriptors and mappings of this process that name a bwscope weights object.
int weight_objects_here() {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    if (std::filesystem::read_symlink(e.path(), ec).string().find("memfd:bwscope-weights") != std::string::npos) ++n;
  }
  if (auto m = read_process_memory(0, {"memfd:bwscope-weights"})) n += int(m->matched.size());
  return n;
}

TEST_F(Colocate, AKilledChildIsReportedByNameAndTheOthersAreKeptAndNothingIsLeftBehind) {
  const int before = weight_objects_here();
  {
    ColocateOptions o = options(Isolation::Process, CoreMode::Partition, WeightMode::Shared);
    o.progress_interval_s = 0.001;
    bool killed = false;
    o.on_progress = [&](const Progress& p) {
      if (!killed && p.instances[1].state == "decode" && p.instances[1].pid > 0) {
        ::kill(p.instances[1].pid, SIGKILL);
        killed = true;
      }
    };
    // Long enough (a second or so) that B is still decoding when the progress report sees it.
    const ColocateResult r = run_colocated(specs(2, 1900, 16), o);
    ASSERT_TRUE(killed);
    ASSERT_EQ(r.instances.size(), 2u);
    EXPECT_TRUE(r.instances[0].completed);
    EXPECT_EQ(r.instances[0].steps_done(), 1900);
    EXPECT_FALSE(r.instances[1].completed);
    EXPECT_NE(r.instances[1].error.find("killed by signal 9"), std::string::npos) << r.instances[1].error;
    EXPECT_NE(r.instances[1].error.find("during decode"), std::string::npos) << r.instances[1].error;
    ASSERT_EQ(r.failures().size(), 1u);
    EXPECT_EQ(r.failures()[0].substr(0, 3), "B: ");
    // The runner holds the shared object's descriptor while the result keeps it; it maps nothing.
    EXPECT_EQ(weight_objects_here(), before + 1);
  }
  // Gone with the result; and nothing named in a file system (shared memory, the temporary
  // directory) to clean up.
  EXPECT_EQ(weight_objects_here(), before);
  for (const char* dir : {"/dev/shm", "/tmp"}) {
    if (!std::filesystem::exists(dir)) continue;
    for (const auto& e : std::filesystem::directory_iterator(dir))
      EXPECT_EQ(e.path().filename().string().find("bwscope-weights"), std::string::npos) << e.path();
  }
}

TEST_F(Colocate, SharedWeightsAreOneObjectMappedByEveryChildProcess) {
  const ColocateResult r = run_colocated(specs(2), options(Isolation::Process, CoreMode::Partition, WeightMode::Shared));
  expect_complete(r, 2);
  ASSERT_TRUE(r.weights && r.weights->files.size() == 1);
  const SharedWeights* object = r.weights->files[0].shared.get();
  ASSERT_NE(object, nullptr);
  // Each child's smaps shows a mapping of the object itself (its inode), holding all its pages.
  for (const InstanceResult& x : r.instances) {
    EXPECT_EQ(x.weights, WeightMode::Shared);
    EXPECT_EQ(x.weights_inode, object->inode()) << x.name;
    EXPECT_GE(x.weights_rss_bytes, object->bytes()) << x.name;
    EXPECT_GT(x.pss_bytes, 0u);
    EXPECT_LE(x.pss_bytes, x.rss_bytes);
  }
  // Measured resident memory: the PSS of both, each shared page counted once.
  EXPECT_EQ(r.resident_bytes, r.instances[0].pss_bytes + r.instances[1].pss_bytes);
  EXPECT_LT(r.resident_bytes, r.instances[0].rss_bytes + r.instances[1].rss_bytes);
}

TEST_F(Colocate, PrivateWeightsMapNoSharedObject) {
  const ColocateResult r = run_colocated(specs(2), options(Isolation::Process, CoreMode::Partition, WeightMode::Private));
  expect_complete(r, 2);
  for (const InstanceResult& x : r.instances) {
    EXPECT_EQ(x.weights, WeightMode::Private);
    EXPECT_EQ(x.weights_inode, 0u) << x.name;
    EXPECT_GT(x.pss_bytes, 0u);
  }
}

TEST_F(Colocate, FileWeightsMapTheModelFile) {
  const ColocateResult r = run_colocated(specs(2), options(Isolation::Process, CoreMode::Partition, WeightMode::File));
  expect_complete(r, 2);
  struct stat st{};
  ASSERT_EQ(::stat(model_->c_str(), &st), 0);
  for (const InstanceResult& x : r.instances) {
    EXPECT_EQ(x.weights, WeightMode::File);
    EXPECT_EQ(x.weights_inode, uint64_t(st.st_ino)) << x.name;
  }
  ASSERT_EQ(r.weights->files.size(), 1u);
  EXPECT_EQ(r.weights->files[0].bytes, uint64_t(st.st_size));  // re-read into the page cache
}

TEST_F(Colocate, AStopRequestEndsEveryInstanceAndKeepsWhatWasMeasured) {
  for (Isolation iso : {Isolation::Process, Isolation::Thread}) {
    ColocateOptions o = options(iso, CoreMode::Partition, WeightMode::Shared);
    static volatile std::sig_atomic_t stop = 0;
    stop = 0;
    o.stop = &stop;
    o.progress_interval_s = 0.001;
    o.on_progress = [](const Progress& p) {
      if (p.instances[0].steps_done > 10 && p.instances[1].steps_done > 10) stop = 1;
    };
    const ColocateResult r = run_colocated(specs(2, 1900, 16), o);
    EXPECT_TRUE(r.interrupted);
    ASSERT_EQ(r.instances.size(), 2u);
    for (const auto& x : r.instances) {
      EXPECT_FALSE(x.completed);
      EXPECT_EQ(x.error, "interrupted");
      EXPECT_GT(x.steps_done(), 10);
      EXPECT_LT(x.steps_done(), 1900);
      EXPECT_FALSE(x.records.empty());
    }
  }
}

TEST_F(Colocate, RefusesWhatDoesNotFitWithTheNumbers) {
  ColocateOptions o = options(Isolation::Thread, CoreMode::Partition, WeightMode::Private);
  const MemoryPlan plan = plan_memory(specs(2), o);
  // Two private copies: the weights count twice; shared: once.
  o.weights = WeightMode::Shared;
  const MemoryPlan shared = plan_memory(specs(2), o);
  EXPECT_EQ(plan.weights_resident, 2 * shared.weights_resident);
  o.weights = WeightMode::Private;
  o.assume_available_bytes = shared.total();  // enough for shared weights, not for two copies
  try {
    run_colocated(specs(2), o);
    FAIL() << "expected a refusal";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("does not fit in memory"), std::string::npos) << m;
    EXPECT_NE(m.find("private copy"), std::string::npos) << m;
    EXPECT_NE(m.find("GiB available"), std::string::npos) << m;
  }
  o.weights = WeightMode::Shared;
  EXPECT_TRUE(run_colocated(specs(2, 4), o).all_completed());
}

TEST_F(Colocate, PlannedWeightsCountWhatStaysResident) {
  ColocateOptions o = options(Isolation::Thread, CoreMode::Partition, WeightMode::File);
  o.assume_available_bytes = uint64_t(1) << 40;
  const MemoryPlan file = plan_memory(specs(2), o);  // the file's pages, once
  o.weights = WeightMode::Shared;
  const MemoryPlan shared = plan_memory(specs(2), o);
  EXPECT_EQ(file.weights_resident, shared.weights_resident);
  // Once the shared copy exists it is what stays (its 2-D weights, 64-byte aligned per
  // tensor), and MemAvailable no longer shows the memory it took: the plan adds it back.
  o.prepared = prepare_weights(specs(2), o);
  const MemoryPlan made = plan_memory(specs(2), o);
  const uint64_t object = o.prepared->files.at(0).shared->bytes();
  EXPECT_EQ(made.weights_resident, object);
  EXPECT_EQ(made.available_bytes, o.assume_available_bytes + object);
  EXPECT_NE(made.describe().find("1 shared copy"), std::string::npos) << made.describe();
  EXPECT_NE(file.describe().find("1 file mapping"), std::string::npos) << file.describe();
}

TEST_F(Colocate, RefusesMoreThreadsThanPartitionedCpus) {
  ColocateOptions o = options(Isolation::Thread, CoreMode::Partition, WeightMode::Shared);
  auto s = specs(2);
  s[0].threads = 2;
  try {
    run_colocated(s, o);
    FAIL() << "expected a refusal";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--cores partition"), std::string::npos) << e.what();
  }
}

TEST(ColocateOverlap, IntersectsBusyIntervals) {
  using meter::Span;
  EXPECT_DOUBLE_EQ(report::overlap_seconds({{Span{0, 10}, Span{20, 30}}, {Span{5, 25}}}), 10e-9);
  EXPECT_DOUBLE_EQ(report::overlap_seconds({{Span{0, 10}}, {Span{10, 20}}}), 0);
  std::vector<meter::Record> recs(3);
  recs[0].t_begin_ns = 0, recs[0].t_end_ns = 10;
  recs[1].t_begin_ns = 11, recs[1].t_end_ns = 20;
  recs[2].t_begin_ns = 100, recs[2].t_end_ns = 120;
  const auto busy = report::busy_intervals(recs, 5);
  ASSERT_EQ(busy.size(), 2u);
  EXPECT_EQ(busy[0].t1_ns, 20);
  EXPECT_EQ(busy[1].t0_ns, 100);
}

TEST(ColocateWire, RoundTripsAndRejectsATruncatedMessage) {
  InstanceResult r;
  r.name = "B";
  r.token_ns = {5, 6, 9};
  r.records.resize(3);
  r.records[2].weight_bytes = 77;
  r.completed = true;
  const std::string bytes = colo::encode_result(r);
  InstanceResult back;
  ASSERT_TRUE(colo::decode_result(bytes, back));
  EXPECT_EQ(back.name, "B");
  EXPECT_EQ(back.token_ns, r.token_ns);
  EXPECT_EQ(back.records[2].weight_bytes, 77u);
  InstanceResult cut;
  EXPECT_FALSE(colo::decode_result(bytes.substr(0, bytes.size() - 1), cut));
  EXPECT_FALSE(colo::decode_result(bytes.substr(0, 20), cut));
}

}  // namespace
}  // namespace bwscope
