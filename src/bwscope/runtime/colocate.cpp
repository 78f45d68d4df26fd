// The co-location runner: plans cores and memory, starts the instances (child processes or
// threads), releases them together, shows progress, and collects what each brought back.
#include "bwscope/runtime/colocate.h"

#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <set>

#include "bwscope/base/error.h"
#include "bwscope/base/mapped_file.h"
#include "bwscope/engine/engine.h"
#include "bwscope/format/gguf.h"
#include "bwscope/meter/ledger.h"
#include "bwscope/model/hf_checkpoint.h"
#include "bwscope/model/llama_model.h"
#include "bwscope/runtime/instance_run.h"

namespace bwscope {

std::string_view isolation_name(Isolation v) { return v == Isolation::Process ? "process" : "thread"; }
std::string_view core_mode_name(CoreMode v) { return v == CoreMode::Partition ? "partition" : "share"; }
std::string_view weight_mode_name(WeightMode v) {
  return v == WeightMode::Shared ? "shared" : v == WeightMode::Private ? "private" : "file";
}
std::string_view schedule_name(Schedule v) {
  return v == Schedule::Parallel ? "parallel" : v == Schedule::TimeSliced ? "time-sliced" : "staggered";
}

Isolation parse_isolation(const std::string& flag, const std::string& v) {
  if (v == "process") return Isolation::Process;
  if (v == "thread") return Isolation::Thread;
  fail("{} {}: expected process or thread", flag, v);
}
CoreMode parse_core_mode(const std::string& flag, const std::string& v) {
  if (v == "partition") return CoreMode::Partition;
  if (v == "share") return CoreMode::Share;
  fail("{} {}: expected partition or share", flag, v);
}
WeightMode parse_weight_mode(const std::string& flag, const std::string& v) {
  if (v == "shared") return WeightMode::Shared;
  if (v == "private") return WeightMode::Private;
  if (v == "file") return WeightMode::File;
  fail("{} {}: expected shared, private or file", flag, v);
}
Schedule parse_schedule(const std::string& flag, const std::string& v) {
  if (v == "parallel") return Schedule::Parallel;
  if (v == "time-sliced") return Schedule::TimeSliced;
  if (v == "staggered") return Schedule::Staggered;
  fail("{} {}: expected parallel, time-sliced or staggered", flag, v);
}

double InstanceResult::decode_tokens_per_s() const {
  if (token_ns.size() < 2 || token_ns.back() <= token_ns.front()) return 0;
  return double(batch) * double(token_ns.size() - 1) / (double(token_ns.back() - token_ns.front()) * 1e-9);
}

std::vector<double> InstanceResult::tpot_s() const {
  std::vector<double> out;
  for (size_t i = 1; i < token_ns.size(); ++i) out.push_back(double(token_ns[i] - token_ns[i - 1]) * 1e-9);
  return out;
}

bool ColocateResult::all_completed() const {
  return !interrupted && std::all_of(instances.begin(), instances.end(), [](const InstanceResult& r) { return r.completed; });
}

std::vector<std::string> ColocateResult::failures() const {
  std::vector<std::string> out;
  for (const InstanceResult& r : instances)
    if (!r.completed) out.push_back(r.name + ": " + (r.error.empty() ? "did not complete" : r.error));
  return out;
}

std::vector<int> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) fail("sched_getaffinity: {}", std::strerror(errno));
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
  return cpus;
}

uint64_t mem_available_bytes() {
  std::ifstream in("/proc/meminfo");
  for (std::string key; in >> key;) {
    uint64_t kib = 0;
    std::string unit;
    in >> kib >> unit;
    if (key == "MemAvailable:") return kib * 1024;
  }
  fail("/proc/meminfo: no MemAvailable line; cannot check that the instances fit in memory");
}

namespace {
constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
}  // namespace

namespace colo {
// Turns the specs into instances to start: fused merges them into one, cores are assigned.
std::vector<InstancePlan> plan_instances(const std::vector<InstanceSpec>& specs, const ColocateOptions& o) {
  if (specs.empty()) fail("co-location: no instances to run");
  if (int(specs.size()) > colo::kMaxInstances) fail("co-location: {} instances (at most {})", specs.size(), colo::kMaxInstances);
  for (const InstanceSpec& s : specs) {
    if (s.batch < 1) fail("instance {}: batch {} (must be >= 1)", s.name, s.batch);
    if (s.n_prompt < 1) fail("instance {}: prompt of {} tokens (must be >= 1)", s.name, s.n_prompt);
    if (s.n_gen < 1) fail("instance {}: {} generated tokens (must be >= 1)", s.name, s.n_gen);
    if (s.threads < 0) fail("instance {}: {} threads", s.name, s.threads);
  }
  if (o.slice_steps < 1) fail("--slice-steps {}: must be >= 1", o.slice_steps);
  std::vector<colo::InstancePlan> plans;
  if (o.fused) {
    // N requests to one model, as one engine serving all their sequences in one batch.
    colo::InstancePlan p;
    p.spec = specs[0];
    p.spec.batch = 0;
    p.spec.name.clear();
    for (const InstanceSpec& s : specs) {
      if (s.model_path != specs[0].model_path) fail("--fused: every instance must use the same model ({} vs {})", specs[0].model_path, s.model_path);
      if (s.n_prompt != specs[0].n_prompt || s.n_gen != specs[0].n_gen) fail("--fused: every instance needs the same prompt and generation lengths");
      p.spec.name += (p.spec.name.empty() ? "" : "+") + s.name;
      p.spec.batch += s.batch;
      for (int64_t q = 0; q < s.batch; ++q) p.seq_seeds.push_back(s.prompt_seed + uint64_t(q));
    }
    plans.push_back(std::move(p));
  } else {
    for (const InstanceSpec& s : specs) {
      colo::InstancePlan p;
      p.spec = s;
      for (int64_t q = 0; q < s.batch; ++q) p.seq_seeds.push_back(s.prompt_seed + uint64_t(q));
      plans.push_back(std::move(p));
    }
  }
  const std::vector<int> cpus = o.cpus.empty() ? allowed_cpus() : o.cpus;
  const int n_cpus = int(cpus.size()), n = int(plans.size());
  if (o.cores == CoreMode::Partition) {
    // Disjoint, pinned core sets: by default the CPUs split evenly, a fused instance takes all.
    int needed = 0;
    for (colo::InstancePlan& p : plans) {
      p.threads = p.spec.threads > 0 ? p.spec.threads : std::max(1, n_cpus / n);
      needed += p.threads;
    }
    if (needed > n_cpus)
      fail("--cores partition: {} instance(s) need {} CPUs in all but this process may use {} (use --cores share or fewer threads)",
           n, needed, n_cpus);
    size_t next = 0;
    for (colo::InstancePlan& p : plans) {
      p.cpus.assign(cpus.begin() + long(next), cpus.begin() + long(next) + p.threads);
      next += size_t(p.threads);
    }
  } else {
    // Every instance on every CPU, unpinned: the OS time-slices them.
    for (colo::InstancePlan& p : plans) p.threads = p.spec.threads > 0 ? p.spec.threads : n_cpus;
  }
  for (int i = 0; i < n; ++i) plans[size_t(i)].index = i;
  return plans;
}

EngineOptions engine_options_for(const InstancePlan& p, const ColocateOptions& o) {
  EngineOptions eo;
  eo.threads = p.threads;
  eo.cpus = p.cpus;
  eo.n_seq = p.spec.batch;
  eo.n_ctx = p.spec.n_prompt + p.spec.n_gen;
  eo.max_batch = std::clamp<int64_t>(p.spec.batch * p.spec.n_prompt, p.spec.batch, 512);
  eo.kv_type = o.kv_type;
  eo.ops = &kernel_table(o);
  return eo;
}

const kernels::Ops& kernel_table(const ColocateOptions& o) {
  if (o.isa.empty()) return kernels::best_ops();
  const kernels::Ops* ops = kernels::ops_by_name(o.isa);
  if (!ops) fail("--isa {}: not available on this CPU (scalar, avx2, avx512)", o.isa);
  return *ops;
}
}  // namespace colo

namespace {

// Config and stored weight bytes from a model's header, without reading its weights.
struct ModelHeader {
  LlamaConfig config;
  uint64_t weight_bytes = 0;
};
ModelHeader read_header(const std::string& path) {
  ModelHeader h;
  if (is_hf_checkpoint_path(path)) {
    const LlamaModel m = load_llama(path);
    h.config = m.config;
    h.weight_bytes = m.weight_bytes();
    return h;
  }
  const gguf::File f = gguf::File::open(path);
  h.config = read_llama_config(f);
  for (const gguf::Tensor& t : f.tensors()) h.weight_bytes += t.n_bytes;
  return h;
}

}  // namespace

const SharedWeights* PreparedWeights::shared_for(const std::string& model_path) const {
  for (const File& f : files)
    if (f.model_path == model_path) return f.shared.get();
  return nullptr;
}

uint64_t PreparedWeights::shared_bytes() const {
  uint64_t total = 0;
  for (const File& f : files)
    if (f.shared) total += f.shared->bytes();
  return total;
}

std::shared_ptr<const PreparedWeights> prepare_weights(const std::vector<InstanceSpec>& specs, const ColocateOptions& o) {
  auto p = std::make_shared<PreparedWeights>();
  p->mode = o.weights;
  const kernels::Ops& ops = colo::kernel_table(o);
  p->isa = std::string(ops.isa);
  std::set<std::string> seen;
  for (const InstanceSpec& s : specs) {
    if (!seen.insert(s.model_path).second) continue;
    PreparedWeights::File f;
    f.model_path = s.model_path;
    const int64_t t0 = meter::now_ns();
    if (o.weights == WeightMode::Shared) {
      // Every CPU the run may use writes the copy: nothing else runs yet.
      const int threads = int((o.cpus.empty() ? allowed_cpus() : o.cpus).size());
      f.shared = SharedWeights::create(s.model_path, ops, threads);
      f.bytes = f.shared->bytes();
    } else if (o.weights == WeightMode::File && !is_hf_checkpoint_path(s.model_path)) {
      f.bytes = refresh_page_cache(s.model_path);
    }
    f.seconds = double(meter::now_ns() - t0) * 1e-9;
    p->files.push_back(std::move(f));
  }
  return p;
}

std::string MemoryPlan::describe() const {
  std::set<std::string> files;
  for (const Item& i : instances) files.insert(i.model_path);
  const std::string how = weights == WeightMode::Private ? fmt::format("a private copy for each of {} instance(s)", instances.size())
                          : weights == WeightMode::Shared ? fmt::format("{} shared cop{}", files.size(), files.size() == 1 ? "y" : "ies")
                                                          : fmt::format("{} file mapping(s)", files.size());
  return fmt::format("{} instance(s) need {:.2f} GiB: weights {:.2f} GiB ({}) + KV caches {:.2f} GiB + activations {:.2f} GiB; "
                     "{:.2f} GiB available",
                     instances.size(), double(total()) / kGiB, double(weights_resident) / kGiB, how, double(kv_bytes) / kGiB,
                     double(scratch_bytes) / kGiB, double(available_bytes) / kGiB);
}

uint64_t ledger_records_estimate(const std::vector<InstanceSpec>& specs, const ColocateOptions& o) {
  std::map<std::string, ModelHeader> headers;
  uint64_t records = 0;
  for (const colo::InstancePlan& p : colo::plan_instances(specs, o)) {
    if (!headers.count(p.spec.model_path)) headers[p.spec.model_path] = read_header(p.spec.model_path);
    const EngineOptions eo = colo::engine_options_for(p, o);
    const int64_t forwards = (p.spec.batch * p.spec.n_prompt + eo.max_batch - 1) / eo.max_batch + p.spec.n_gen;
    records += uint64_t(forwards * (3 + 8 * headers.at(p.spec.model_path).config.n_layers));
  }
  return records;
}

MemoryPlan plan_memory(const std::vector<InstanceSpec>& specs, const ColocateOptions& o) {
  const std::vector<colo::InstancePlan> plans = colo::plan_instances(specs, o);
  std::map<std::string, ModelHeader> headers;
  MemoryPlan m;
  m.weights = o.weights;
  for (const colo::InstancePlan& p : plans) {
    if (!headers.count(p.spec.model_path)) headers[p.spec.model_path] = read_header(p.spec.model_path);
    const ModelHeader& h = headers.at(p.spec.model_path);
    const EngineMemory em = engine_memory(h.config, colo::engine_options_for(p, o));
    m.instances.push_back({p.spec.name, p.spec.model_path, h.weight_bytes, em.kv_bytes, em.scratch_bytes});
    m.kv_bytes += em.kv_bytes;
    m.scratch_bytes += em.scratch_bytes;
    // A split run's rank holds about its share of the model (tensor parallel replicates the
    // embedding and the output besides).
    if (o.weights == WeightMode::Private) m.weights_resident += o.split.kind.empty() ? h.weight_bytes : h.weight_bytes / plans.size();
  }
  // Shared: each model's copy once (the object's size once it is made); file: the file's
  // pages once, whoever maps them.
  const PreparedWeights* prepared = o.prepared && o.prepared->mode == o.weights ? o.prepared.get() : nullptr;
  if (o.weights != WeightMode::Private)
    for (const auto& [path, h] : headers) {
      const SharedWeights* sw = prepared ? prepared->shared_for(path) : nullptr;
      m.weights_resident += sw ? sw->bytes() : h.weight_bytes;
    }
  m.available_bytes = o.assume_available_bytes > 0 ? o.assume_available_bytes : mem_available_bytes();
  if (prepared) m.available_bytes += prepared->shared_bytes();
  return m;
}

void InstanceResult::fold_tokens(std::span<const int32_t> ids) {
  uint64_t h = tokens_digest ? tokens_digest : 0xcbf29ce484222325ull;  // FNV-1a's offset basis
  for (int32_t id : ids)
    for (int b = 0; b < 4; ++b) h = (h ^ ((uint32_t(id) >> (8 * b)) & 0xff)) * 0x100000001b3ull;
  tokens_digest = h;
}

}  // namespace bwscope
