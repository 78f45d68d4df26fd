// MPI, when bwscope is built with it (Debian's Open MPI): the ranks of one split run, the
// collectives the split engine calls, and the time and bytes each kind of call took. Without
// MPI the same calls throw Error("unavailable: built without MPI").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bwscope::parallel {

// Whether this binary was built with MPI.
bool mpi_built();
// Whether this process was started by mpirun (Open MPI's or another's environment).
bool under_mpirun();

// What one kind of call cost this rank.
struct CommStats {
  uint64_t calls = 0, bytes_sent = 0, bytes_received = 0;
  int64_t ns = 0;  // wall time inside the MPI calls
};

class World {
 public:
  // MPI_Init on first use (MPI_THREAD_FUNNELED: only the main thread calls MPI); finalized at
  // exit. Throws Error without MPI.
  static World& get();

  int rank() const { return rank_; }
  int size() const { return size_; }

  // Sums n floats over the ranks, in place, on every rank (MPI_Allreduce).
  void all_reduce_sum(float* data, int64_t n);
  // Rank `root`'s n floats to every rank (MPI_Bcast).
  void broadcast(float* data, int64_t n, int root);
  void send(const float* data, int64_t n, int to);
  void recv(float* data, int64_t n, int from);
  // Token ids (a pipeline's last stage tells the first what it sampled); counted as send/recv.
  void send_ids(const int32_t* ids, int64_t n, int to);
  void recv_ids(int32_t* ids, int64_t n, int from);
  // Every rank's `n` floats, in rank order, into `all` (n × size) on every rank (MPI_Allgather).
  void all_gather(const float* data, int64_t n, float* all);
  // Ends every rank of the run (MPI_Abort): for a rank that cannot go on while the others
  // wait for it in a collective.
  [[noreturn]] void abort(int code);
  void barrier();
  // Every rank's value, on rank 0 (MPI_Gather); empty elsewhere.
  std::vector<double> gather(double value);
  // Bytes on rank 0 from every rank, in rank order (for per-rank reports); empty elsewhere.
  std::vector<std::string> gather_text(const std::string& text);

  // Rank 0's CLOCK_MONOTONIC minus this rank's, from ping-pongs after a barrier (the one with
  // the shortest round trip): add it to this rank's times to put them on rank 0's clock. 0 on
  // rank 0. Sets round_trip_ns() too.
  int64_t clock_offset_ns();
  int64_t round_trip_ns() const { return round_trip_ns_; }

  // Per call kind: "allreduce", "bcast", "send", "recv", "allgather".
  const CommStats& stats(const std::string& kind) const;
  CommStats total() const;  // every kind together
  void reset_stats();

 private:
  World();
  int rank_ = 0, size_ = 1;
  int64_t round_trip_ns_ = 0;
  CommStats allreduce_, bcast_, send_, recv_, allgather_;
};

}  // namespace bwscope::parallel
