// Starts the planned instances as child processes or threads, releases them together at a
// barrier, passes turns (time-sliced), reports progress, handles a stop request and children
// that die, and gathers every instance's result.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <thread>
#include <tuple>

#include "bwscope/base/error.h"
#include "bwscope/base/mapped_file.h"
#include "bwscope/parallel/launch.h"
#include "bwscope/runtime/colocate.h"
#include "bwscope/runtime/instance_run.h"
#include "bwscope/runtime/live_rate.h"
#include "bwscope/runtime/proc_memory.h"
#include "bwscope/runtime/split_plan.h"

namespace bwscope {
namespace {

using colo::Board;
using colo::InstancePlan;

// A child process: its pid, the read end of its result pipe, and how it ended.
struct Child {
  pid_t pid = -1;
  int fd = -1;
  std::string bytes;
  bool exited = false;
  int status = 0;
  uint64_t peak_rss_bytes = 0;
};

bool write_all(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    const ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += size_t(n);
  }
  return true;
}

[[noreturn]] void child_main(const InstancePlan& plan, const ColocateOptions& o, Board& board, int fd) {
  // Ctrl-C reaches the whole process group: the child leaves it to the parent, which stops
  // every instance through the board so each still sends what it measured.
  ::signal(SIGINT, SIG_IGN);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a parent that was killed
  InstanceResult r;
  colo::run_instance(plan, o, board, r);
  r.pid = int(::getpid());
  const bool ok = write_all(fd, colo::encode_result(r));
  ::close(fd);
  ::_exit(ok ? 0 : 3);  // _exit: no atexit handlers or buffers of the parent run twice
}

std::string describe_exit(int status) {
  if (WIFSIGNALED(status)) return fmt::format("killed by signal {} ({})", WTERMSIG(status), ::strsignal(WTERMSIG(status)));
  if (WIFEXITED(status)) return fmt::format("exited with status {} before reporting", WEXITSTATUS(status));
  return "ended before reporting";
}

class Monitor {
 public:
  Monitor(const std::vector<InstancePlan>& plans, const ColocateOptions& o, Board& board)
      : plans_(plans), o_(o), board_(board), rates_(plans.size()), last_state_(plans.size(), colo::kLoading),
        last_steps_(plans.size(), 0), memory_(plans.size()) {
    // The weights' mappings as smaps names them: the shared object, or the model files (a
    // private copy is anonymous).
    if (o.weights == WeightMode::Shared) weight_mappings_.push_back(std::string(SharedWeights::kMappingName));
    if (o.weights == WeightMode::File)
      for (const InstancePlan& p : plans) {
        std::error_code ec;
        const auto path = std::filesystem::weakly_canonical(p.spec.model_path, ec);
        weight_mappings_.push_back(ec ? p.spec.model_path : path.string());
      }
    if (o.isolation == Isolation::Thread)
      if (auto m = read_process_memory(0)) baseline_pss_ = m->pss_bytes;
  }

  // Remembers where each unfinished instance is, to say where a child died.
  void snapshot() {
    for (size_t i = 0; i < plans_.size(); ++i) {
      const int32_t state = board_.slots[i].state.load();
      if (colo::finished(state)) continue;
      last_state_[i] = state;
      last_steps_[i] = board_.slots[i].steps_done.load();
    }
  }

  // One pass of the runner's loop: stop request, barrier, time-slice turn, progress.
  void tick(bool* interrupted, const std::vector<int>& pids) {
    const int n = int(plans_.size());
    if (o_.stop && *o_.stop && !board_.stop.load()) {
      board_.stop.store(1);
      *interrupted = true;
    }
    if (board_.go_ns.load() == 0) {
      bool all_ready = true;
      for (int i = 0; i < n; ++i) all_ready = all_ready && board_.slots[i].state.load() >= colo::kReady;
      // A little ahead, so every instance sees it before it passes.
      if (all_ready) board_.go_ns.store(meter::now_ns() + 20'000'000);
    }
    if (o_.schedule == Schedule::TimeSliced) {
      const int holder = board_.turn.load();
      if (colo::finished(board_.slots[holder].state.load())) colo::pass_turn(board_, holder);
    }
    const int64_t now = meter::now_ns();
    if (o_.on_progress) {
      for (size_t i = 0; i < plans_.size(); ++i) rates_[i].sample(now, board_.slots[i].bytes.load(), board_.slots[i].steps_done.load());
      if (now - last_report_ns_ >= int64_t(o_.progress_interval_s * 1e9)) report(now, pids);
    }
    if (!board_.release.load()) {
      bool all_finished = true;
      for (int i = 0; i < n; ++i) all_finished = all_finished && colo::finished(board_.slots[i].state.load());
      if (all_finished) {
        measure(pids);
        board_.release.store(1);
      }
    }
  }

  // Fills what was measured of the instances' memory into the result.
  void apply_memory(ColocateResult& result) const {
    if (o_.isolation == Isolation::Thread) {
      if (process_ && process_->pss_bytes > baseline_pss_) {
        result.resident_bytes = process_->pss_bytes - baseline_pss_;
        result.resident_how = "this process's PSS at the end of the run minus its PSS before the instances started (smaps)";
      }
      return;
    }
    uint64_t total = 0;
    for (size_t i = 0; i < memory_.size() && i < result.instances.size(); ++i) {
      if (!memory_[i]) continue;
      InstanceResult& r = result.instances[i];
      r.rss_bytes = memory_[i]->rss_bytes;
      r.pss_bytes = memory_[i]->pss_bytes;
      total += r.pss_bytes;
      // The weights' mapping: the largest matched one (a file mapping also holds the header).
      for (const ProcessMemory::Mapping& m : memory_[i]->matched)
        if (m.rss_bytes >= r.weights_rss_bytes) r.weights_inode = m.inode, r.weights_rss_bytes = m.rss_bytes;
    }
    if (total > 0) {
      result.resident_bytes = total;
      result.resident_how = "the sum of the instances' PSS at the end of the run (smaps), shared pages counted once";
    }
  }

  void report(int64_t now, const std::vector<int>& pids) {
    if (!o_.on_progress) return;
    Progress p;
    const int64_t go = board_.go_ns.load();
    p.elapsed_s = go > 0 && now > go ? double(now - go) * 1e-9 : 0;
    for (size_t i = 0; i < plans_.size(); ++i) {
      const colo::Slot& s = board_.slots[i];
      InstanceProgress ip;
      ip.name = plans_[i].spec.name;
      ip.pid = i < pids.size() ? pids[i] : 0;
      ip.state = std::string(colo::slot_state_name(s.state.load()));
      ip.steps_done = s.steps_done.load();
      ip.steps_total = plans_[i].spec.n_gen;
      rates_[i].sample(now, s.bytes.load(), ip.steps_done);
      std::tie(ip.gbs_now, ip.window_s) = rates_[i].rate(now);
      p.total_gbs_now += ip.gbs_now;
      p.instances.push_back(std::move(ip));
    }
    last_report_ns_ = now;
    o_.on_progress(p);
  }

  // Every instance has finished; those that completed still hold their engines (hold()).
  void measure(const std::vector<int>& pids) {
    if (o_.isolation == Isolation::Thread) {
      process_ = read_process_memory(0, weight_mappings_);
      return;
    }
    for (size_t i = 0; i < plans_.size() && i < pids.size(); ++i)
      if (pids[i] > 0 && board_.slots[i].state.load() == colo::kDone) memory_[i] = read_process_memory(pids[i], weight_mappings_);
  }

  // "during decode, step 12 of 48" for a child that died: where the board last saw it.
  std::string where(size_t i) const {
    return fmt::format("during {}, step {} of {}", colo::slot_state_name(last_state_[i]), last_steps_[i], plans_[i].spec.n_gen);
  }

 private:
  const std::vector<InstancePlan>& plans_;
  const ColocateOptions& o_;
  Board& board_;
  std::vector<LiveRate> rates_;
  std::vector<int32_t> last_state_;
  std::vector<int64_t> last_steps_;
  int64_t last_report_ns_ = 0;
  std::vector<std::string> weight_mappings_;
  std::vector<std::optional<ProcessMemory>> memory_;  // per instance (process isolation)
  std::optional<ProcessMemory> process_;              // this process (thread isolation)
  uint64_t baseline_pss_ = 0;
};

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

void run_threads(const std::vector<InstancePlan>& plans, const ColocateOptions& o, Board& board, ColocateResult& result) {
  result.instances.resize(plans.size());
  Monitor monitor(plans, o, board);  // first: it takes this process's memory before the instances load
  std::vector<std::thread> threads;
  for (size_t i = 0; i < plans.size(); ++i)
    threads.emplace_back([&, i] { colo::run_instance(plans[i], o, board, result.instances[i]); });
  for (;;) {
    monitor.tick(&result.interrupted, {});
    bool all_done = true;
    for (size_t i = 0; i < plans.size(); ++i) all_done = all_done && colo::finished(board.slots[i].state.load());
    if (all_done) break;
    sleep_ms(10);
  }
  for (std::thread& t : threads) t.join();
  monitor.report(meter::now_ns(), {});
  monitor.apply_memory(result);
}

void run_processes(const std::vector<InstancePlan>& plans, const ColocateOptions& o, Board& board, ColocateResult& result) {
  std::vector<Child> children(plans.size());
  std::fflush(stdout);  // a child must not flush the parent's pending output a second time
  std::fflush(stderr);
  for (size_t i = 0; i < plans.size(); ++i) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) fail("co-location: pipe: {}", std::strerror(errno));
    const pid_t pid = ::fork();
    if (pid < 0) {
      ::close(fds[0]);
      ::close(fds[1]);
      board.stop.store(1);  // the ones already started stop; their results are collected below
      result.interrupted = true;
      break;
    }
    if (pid == 0) {
      ::close(fds[0]);
      for (size_t j = 0; j < i; ++j) ::close(children[j].fd);
      child_main(plans[i], o, board, fds[1]);
    }
    ::close(fds[1]);
    children[i].pid = pid;
    children[i].fd = fds[0];
  }
  std::vector<int> pids;
  for (const Child& c : children) pids.push_back(int(c.pid));
  Monitor monitor(plans, o, board);
  int64_t kill_at_ns = 0;
  for (;;) {
    monitor.snapshot();
    std::vector<pollfd> pfds;
    std::vector<size_t> owner;
    for (size_t i = 0; i < children.size(); ++i)
      if (children[i].fd >= 0) {
        pfds.push_back({children[i].fd, POLLIN, 0});
        owner.push_back(i);
      }
    if (!pfds.empty()) ::poll(pfds.data(), pfds.size(), 20);
    for (size_t k = 0; k < pfds.size(); ++k) {
      if (!(pfds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      Child& c = children[owner[k]];
      char buf[1 << 16];
      const ssize_t got = ::read(c.fd, buf, sizeof buf);
      if (got > 0) {
        c.bytes.append(buf, size_t(got));
      } else if (got == 0 || errno != EINTR) {
        ::close(c.fd);
        c.fd = -1;
      }
    }
    bool all_exited = true;
    for (size_t i = 0; i < children.size(); ++i) {
      Child& c = children[i];
      if (c.pid < 0 || c.exited) continue;
      rusage ru{};
      if (::wait4(c.pid, &c.status, WNOHANG, &ru) == c.pid) {
        c.exited = true;
        c.peak_rss_bytes = uint64_t(ru.ru_maxrss) * 1024;
        // A child that died without saying so: mark its slot, so the barrier, a staggered
        // successor and the time-slice turn do not wait for it.
        if (!colo::finished(board.slots[i].state.load())) board.slots[i].state.store(colo::kFailed);
      } else {
        all_exited = false;
      }
    }
    monitor.tick(&result.interrupted, pids);
    if (board.stop.load() && kill_at_ns == 0) kill_at_ns = meter::now_ns() + 15'000'000'000;
    if (kill_at_ns > 0 && meter::now_ns() > kill_at_ns)
      for (Child& c : children)
        if (c.pid > 0 && !c.exited) ::kill(c.pid, SIGKILL);  // did not stop within 15 s
    bool all_closed = true;
    for (const Child& c : children) all_closed = all_closed && c.fd < 0;
    if (all_exited && all_closed) break;
    if (pfds.empty()) sleep_ms(20);
  }
  monitor.report(meter::now_ns(), pids);
  for (size_t i = 0; i < children.size(); ++i) {
    const Child& c = children[i];
    InstanceResult r;
    const bool clean_exit = c.exited && WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0;
    if (c.pid < 0 || !(clean_exit && colo::decode_result(c.bytes, r))) {
      // What we know without its message: the plan, and how and where it ended.
      r = colo::planned_result(plans[i]);
      r.error = c.pid < 0 ? "not started: fork failed" : describe_exit(c.status) + " " + monitor.where(i);
    }
    r.pid = int(c.pid);
    r.peak_rss_bytes = c.peak_rss_bytes;
    result.instances.push_back(std::move(r));
  }
  monitor.apply_memory(result);
}

// A directory of its own under $TMPDIR (or /tmp), removed with everything in it.
class TempDir {
 public:
  explicit TempDir(const char* prefix) {
    const char* base = std::getenv("TMPDIR");
    std::string templ = fmt::format("{}/{}-XXXXXX", base && *base ? base : "/tmp", prefix);
    if (!::mkdtemp(templ.data())) fail("cannot make a directory in {}: {}", base && *base ? base : "/tmp", std::strerror(errno));
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// What a failed split run said in its log, in one line: a rank's own "bwscope: …" line (the
// last one), else Open MPI's last line with words in it (not its banners of dashes), or "".
std::string log_reason(const std::string& path) {
  std::string text;
  try {
    text = read_file(path);
  } catch (const Error&) {
    return "";
  }
  std::string ours, theirs;
  size_t at = 0;
  while (at < text.size()) {
    size_t nl = text.find('\n', at);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(at, nl - at);
    at = nl + 1;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.rfind("bwscope: ", 0) == 0) ours = line.substr(9);
    else if (std::any_of(line.begin(), line.end(), [](unsigned char c) { return std::isalpha(c); })) theirs = line;
  }
  return ours.empty() ? theirs : ours;
}

// A split run: one mpirun starting the ranks (`bwscope split-rank --plan FILE`, one per
// plan), which map the board from its file; they run in step through MPI, so a stop is a step
// every rank stops before (Board::stop_at_step) rather than the flag alone.
void run_split(const std::vector<InstancePlan>& plans, const ColocateOptions& o, Board& board, const std::string& dir,
               ColocateResult& result) {
  colo::SplitPlan sp;
  sp.ranks = plans;
  sp.isa = o.isa;
  sp.kv_type = o.kv_type;
  sp.split = o.split;
  sp.board = dir + "/board";
  sp.result = dir + "/result";
  const std::string plan_path = dir + "/plan.json", log_path = dir + "/log";
  write_file_atomic(plan_path, colo::encode_split_plan(sp));
  std::vector<std::string> cmd = parallel::mpirun_command(int(plans.size()), {"split-rank", "--plan", plan_path});
  std::vector<char*> argv;
  for (std::string& a : cmd) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  if (pid < 0) fail("co-location: cannot start mpirun: {}", std::strerror(errno));
  if (pid == 0) {
    // Its own process group: Ctrl-C reaches the runner, which stops the ranks through the board
    // (mpirun would kill them and lose what they measured).
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    const int in = ::open("/dev/null", O_RDONLY), out = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in >= 0) ::dup2(in, 0);
    if (out >= 0) ::dup2(out, 1), ::dup2(out, 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  Monitor monitor(plans, o, board);
  int status = 0;
  int64_t kill_at_ns = 0;
  std::vector<int> pids(plans.size(), 0);
  for (;;) {
    monitor.snapshot();
    for (size_t i = 0; i < plans.size(); ++i) pids[i] = board.slots[i].pid.load();
    const bool exited = ::waitpid(pid, &status, WNOHANG) == pid;
    if (exited) {
      for (size_t i = 0; i < plans.size(); ++i)
        if (!colo::finished(board.slots[i].state.load())) board.slots[i].state.store(colo::kFailed);
    }
    monitor.tick(&result.interrupted, pids);
    if (board.stop.load() && board.stop_at_step.load() == 0) {
      // Ahead of every rank: the ranks are at most a step apart (each step ends in a collective).
      int64_t most = 0;
      for (size_t i = 0; i < plans.size(); ++i) most = std::max(most, board.slots[i].steps_done.load());
      board.stop_at_step.store(most + 2);
      kill_at_ns = meter::now_ns() + 15'000'000'000;
    }
    if (kill_at_ns > 0 && meter::now_ns() > kill_at_ns && !exited) ::kill(pid, SIGKILL);  // did not stop within 15 s
    if (exited) break;
    sleep_ms(20);
  }
  monitor.report(meter::now_ns(), pids);
  std::vector<InstanceResult> ranks;
  std::string bytes;
  try {
    bytes = read_file(sp.result);
  } catch (const Error&) {
  }
  const bool clean_exit = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (!(clean_exit && colo::decode_results(bytes, ranks) && ranks.size() == plans.size())) {
    const std::string said = log_reason(log_path);
    ranks.clear();
    for (size_t i = 0; i < plans.size(); ++i) {
      InstanceResult r = colo::planned_result(plans[i]);
      r.error = fmt::format("mpirun {} {}{}", describe_exit(status), monitor.where(i), said.empty() ? "" : ": " + said);
      ranks.push_back(std::move(r));
    }
  }
  for (size_t i = 0; i < ranks.size(); ++i) ranks[i].pid = pids[i];
  result.instances = std::move(ranks);
  monitor.apply_memory(result);
}

}  // namespace

int64_t split_micro_batches(const ColocateOptions::Split& split, int64_t batch, int ranks) {
  if (split.kind != "pp") return 0;
  return std::clamp<int64_t>(split.micro_batches > 0 ? split.micro_batches : ranks, 1, batch);
}

ColocateResult run_colocated(const std::vector<InstanceSpec>& specs, const ColocateOptions& options) {
  const std::vector<InstancePlan> plans = colo::plan_instances(specs, options);
  const MemoryPlan memory = plan_memory(specs, options);
  if (!memory.fits()) fail("does not fit in memory: {}", memory.describe());
  ColocateOptions o = options;
  if (!o.prepared || o.prepared->mode != o.weights) o.prepared = prepare_weights(specs, o);
  const bool split = !o.split.kind.empty();
  std::optional<TempDir> dir;
  if (split) dir.emplace("bwscope-split");
  colo::SharedBoard board(int(plans.size()), split ? dir->path() + "/board" : "");
  ColocateResult result;
  result.fused = o.fused;
  result.weights = o.prepared;
  result.split = o.split.kind;
  result.micro_batches = split_micro_batches(o.split, specs[0].batch, int(specs.size()));
  if (split) run_split(plans, o, *board, dir->path(), result);
  else if (o.isolation == Isolation::Thread) run_threads(plans, o, *board, result);
  else run_processes(plans, o, *board, result);
  result.go_ns = board->go_ns.load();
  for (const InstanceResult& r : result.instances) result.end_ns = std::max(result.end_ns, r.end_ns);
  if (result.end_ns < result.go_ns) result.end_ns = result.go_ns;
  if (o.stop && *o.stop) result.interrupted = true;
  return result;
}

}  // namespace bwscope
