#include "bwscope/parallel/mpi_world.h"

#include <cstdlib>
#include <limits>

#include "bwscope/base/error.h"
#include "bwscope/meter/ledger.h"

#ifdef BWSCOPE_HAVE_MPI
#include <mpi.h>
#endif

namespace bwscope::parallel {

bool mpi_built() {
#ifdef BWSCOPE_HAVE_MPI
  return true;
#else
  return false;
#endif
}

bool under_mpirun() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"})
    if (std::getenv(v)) return true;
  return false;
}

const CommStats& World::stats(const std::string& kind) const {
  if (kind == "allreduce") return allreduce_;
  if (kind == "bcast") return bcast_;
  if (kind == "send") return send_;
  if (kind == "recv") return recv_;
  if (kind == "allgather") return allgather_;
  fail("no MPI call kind '{}'", kind);
}

CommStats World::total() const {
  CommStats t;
  for (const CommStats* s : {&allreduce_, &bcast_, &send_, &recv_, &allgather_}) {
    t.calls += s->calls, t.bytes_sent += s->bytes_sent, t.bytes_received += s->bytes_received;
    t.ns += s->ns;
  }
  return t;
}

void World::reset_stats() { allreduce_ = bcast_ = send_ = recv_ = allgather_ = CommStats{}; }

#ifdef BWSCOPE_HAVE_MPI

namespace {

void check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) {
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, text, &len);
    fail("{}: {}", what, std::string(text, size_t(len)));
  }
}

int count_of(int64_t n) {
  if (n < 0 || n > std::numeric_limits<int>::max()) fail("MPI: a message of {} floats is too large", n);
  return int(n);
}

// Times one call into `s`.
template <typename F>
void timed(CommStats& s, uint64_t sent, uint64_t received, F&& call) {
  const int64_t t0 = meter::now_ns();
  call();
  s.ns += meter::now_ns() - t0;
  ++s.calls;
  s.bytes_sent += sent;
  s.bytes_received += received;
}

}  // namespace

World::World() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    std::atexit([] {
      int finalized = 0;
      MPI_Finalized(&finalized);
      if (!finalized) MPI_Finalize();
    });
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
}

World& World::get() {
  static World world;
  return world;
}

void World::all_reduce_sum(float* data, int64_t n) {
  // A ring all-reduce sends and receives about 2 (p-1)/p of the data; counted as that.
  const uint64_t moved = uint64_t(n) * sizeof(float) * 2 * uint64_t(size_ - 1) / uint64_t(size_);
  timed(allreduce_, moved, moved, [&] {
    check(MPI_Allreduce(MPI_IN_PLACE, data, count_of(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
  });
}

void World::broadcast(float* data, int64_t n, int root) {
  const uint64_t bytes = uint64_t(n) * sizeof(float);
  timed(bcast_, rank_ == root ? bytes * uint64_t(size_ - 1) : 0, rank_ == root ? 0 : bytes,
        [&] { check(MPI_Bcast(data, count_of(n), MPI_FLOAT, root, MPI_COMM_WORLD), "MPI_Bcast"); });
}

void World::send(const float* data, int64_t n, int to) {
  timed(send_, uint64_t(n) * sizeof(float), 0,
        [&] { check(MPI_Send(data, count_of(n), MPI_FLOAT, to, 0, MPI_COMM_WORLD), "MPI_Send"); });
}

void World::recv(float* data, int64_t n, int from) {
  timed(recv_, 0, uint64_t(n) * sizeof(float),
        [&] { check(MPI_Recv(data, count_of(n), MPI_FLOAT, from, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "MPI_Recv"); });
}

void World::send_ids(const int32_t* ids, int64_t n, int to) {
  timed(send_, uint64_t(n) * sizeof(int32_t), 0,
        [&] { check(MPI_Send(ids, count_of(n), MPI_INT32_T, to, 3, MPI_COMM_WORLD), "MPI_Send"); });
}

void World::recv_ids(int32_t* ids, int64_t n, int from) {
  timed(recv_, 0, uint64_t(n) * sizeof(int32_t),
        [&] { check(MPI_Recv(ids, count_of(n), MPI_INT32_T, from, 3, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "MPI_Recv"); });
}

void World::all_gather(const float* data, int64_t n, float* all) {
  const uint64_t bytes = uint64_t(n) * sizeof(float);
  timed(allgather_, bytes * uint64_t(size_ - 1), bytes * uint64_t(size_ - 1), [&] {
    check(MPI_Allgather(data, count_of(n), MPI_FLOAT, all, count_of(n), MPI_FLOAT, MPI_COMM_WORLD), "MPI_Allgather");
  });
}

void World::abort(int code) {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

void World::barrier() { check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }

std::vector<double> World::gather(double value) {
  std::vector<double> all(rank_ == 0 ? size_t(size_) : 0);
  check(MPI_Gather(&value, 1, MPI_DOUBLE, all.data(), 1, MPI_DOUBLE, 0, MPI_COMM_WORLD), "MPI_Gather");
  return all;
}

std::vector<std::string> World::gather_text(const std::string& text) {
  int len = int(text.size());
  std::vector<int> lens(rank_ == 0 ? size_t(size_) : 0), offsets(lens.size());
  check(MPI_Gather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, 0, MPI_COMM_WORLD), "MPI_Gather");
  std::string all;
  if (rank_ == 0) {
    int total = 0;
    for (size_t i = 0; i < lens.size(); ++i) offsets[i] = total, total += lens[i];
    all.resize(size_t(total));
  }
  check(MPI_Gatherv(text.data(), len, MPI_CHAR, all.data(), lens.data(), offsets.data(), MPI_CHAR, 0, MPI_COMM_WORLD), "MPI_Gatherv");
  std::vector<std::string> out;
  for (size_t i = 0; i < lens.size(); ++i) out.push_back(all.substr(size_t(offsets[i]), size_t(lens[i])));
  return out;
}

int64_t World::clock_offset_ns() {
  barrier();
  int64_t best_offset = 0, best_rtt = std::numeric_limits<int64_t>::max();
  for (int peer = 1; peer < size_; ++peer)
    for (int round = 0; round < 16; ++round) {
      if (rank_ == 0) {
        int64_t ping = 0;
        check(MPI_Recv(&ping, 1, MPI_INT64_T, peer, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "MPI_Recv");
        const int64_t now = meter::now_ns();
        check(MPI_Send(&now, 1, MPI_INT64_T, peer, 2, MPI_COMM_WORLD), "MPI_Send");
      } else if (rank_ == peer) {
        const int64_t t1 = meter::now_ns();
        check(MPI_Send(&t1, 1, MPI_INT64_T, 0, 1, MPI_COMM_WORLD), "MPI_Send");
        int64_t t0 = 0;
        check(MPI_Recv(&t0, 1, MPI_INT64_T, 0, 2, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "MPI_Recv");
        const int64_t t2 = meter::now_ns();
        if (t2 - t1 < best_rtt) best_rtt = t2 - t1, best_offset = t0 - (t1 + t2) / 2;
      }
    }
  round_trip_ns_ = rank_ == 0 ? 0 : best_rtt;
  barrier();
  return rank_ == 0 ? 0 : best_offset;
}

#else  // built without MPI

namespace {
[[noreturn]] void unavailable() { fail("unavailable: built without MPI"); }
}  // namespace

World::World() { unavailable(); }
World& World::get() { unavailable(); }
void World::all_reduce_sum(float*, int64_t) { unavailable(); }
void World::broadcast(float*, int64_t, int) { unavailable(); }
void World::send(const float*, int64_t, int) { unavailable(); }
void World::recv(float*, int64_t, int) { unavailable(); }
void World::barrier() { unavailable(); }
void World::send_ids(const int32_t*, int64_t, int) { unavailable(); }
void World::recv_ids(int32_t*, int64_t, int) { unavailable(); }
void World::all_gather(const float*, int64_t, float*) { unavailable(); }
void World::abort(int code) { std::_Exit(code); }
std::vector<double> World::gather(double) { unavailable(); }
std::vector<std::string> World::gather_text(const std::string&) { unavailable(); }
int64_t World::clock_offset_ns() { unavailable(); }

#endif

}  // namespace bwscope::parallel
