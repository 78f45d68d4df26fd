// Counter plumbing shared by every source: sysfs event parsing, the periodic recorder, and the
// series drawn from cumulative samples.
#include "bwscope/meter/counters.h"

#include <charconv>
#include <cmath>

#include "bwscope/base/error.h"
#include "bwscope/meter/ledger.h"

namespace bwscope::meter {
namespace {

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    const size_t at = s.find(sep, start);
    parts.push_back(s.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) return parts;
    start = at + 1;
  }
}

// Decimal, or hexadecimal with 0x; the whole text must be the number.
bool parse_u64(const std::string& text, uint64_t& out) {
  const std::string t = trim(text);
  int base = 10;
  size_t skip = 0;
  if (t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) base = 16, skip = 2;
  if (t.size() == skip) return false;
  auto [p, ec] = std::from_chars(t.data() + skip, t.data() + t.size(), out, base);
  return ec == std::errc() && p == t.data() + t.size();
}

int parse_int(const std::string& text, const std::string& what) {
  uint64_t v = 0;
  if (!parse_u64(text, v) || v > 1u << 20) fail("{}: '{}' is not a small non-negative integer", what, text);
  return int(v);
}

}  // namespace

FormatField parse_format_field(const std::string& text) {
  const std::string t = trim(text);
  const size_t colon = t.find(':');
  if (colon == std::string::npos) fail("perf format '{}': expected 'config:LO-HI'", t);
  FormatField f;
  f.config = t.substr(0, colon);
  if (f.config != "config" && f.config != "config1" && f.config != "config2")
    fail("perf format '{}': unknown config word '{}'", t, f.config);
  for (const std::string& range : split(t.substr(colon + 1), ',')) {
    const size_t dash = range.find('-');
    const int lo = parse_int(range.substr(0, dash), "perf format '" + t + "'");
    const int hi = dash == std::string::npos ? lo : parse_int(range.substr(dash + 1), "perf format '" + t + "'");
    if (hi < lo || hi > 63) fail("perf format '{}': bit range {}-{} is outside 0-63", t, lo, hi);
    f.bit_ranges.push_back({lo, hi});
  }
  return f;
}

uint64_t encode_event(const std::string& terms, const std::map<std::string, FormatField>& formats) {
  uint64_t config = 0;
  for (const std::string& raw : split(trim(terms), ',')) {
    const std::string term = trim(raw);
    if (term.empty()) continue;
    const size_t eq = term.find('=');
    const std::string key = trim(term.substr(0, eq));
    uint64_t value = 1;
    if (eq != std::string::npos && !parse_u64(term.substr(eq + 1), value)) fail("perf event '{}': bad value in '{}'", terms, term);
    auto it = formats.find(key);
    if (it == formats.end()) fail("perf event '{}': the PMU has no format field '{}'", terms, key);
    if (it->second.config != "config") fail("perf event '{}': field '{}' lives in {}, which bwscope does not set", terms, key, it->second.config);
    // The value's bits fill the field's ranges from the lowest up (perf's own rule).
    int used = 0;
    for (auto [lo, hi] : it->second.bit_ranges) {
      const int width = hi - lo + 1;
      const uint64_t part = used >= 64 ? 0 : (value >> used) & (width >= 64 ? ~0ull : ((1ull << width) - 1));
      config |= part << lo;
      used += width;
    }
    if (used < 64 && (value >> used) != 0) fail("perf event '{}': value of '{}' does not fit its {} bits", terms, key, used);
  }
  return config;
}

std::vector<int> parse_cpu_list(const std::string& text) {
  std::vector<int> cpus;
  const std::string t = trim(text);
  if (t.empty()) fail("cpu list is empty");
  for (const std::string& part : split(t, ',')) {
    const size_t dash = part.find('-');
    const int lo = parse_int(part.substr(0, dash), "cpu list '" + t + "'");
    const int hi = dash == std::string::npos ? lo : parse_int(part.substr(dash + 1), "cpu list '" + t + "'");
    if (hi < lo) fail("cpu list '{}': range {}-{} runs backwards", t, lo, hi);
    for (int c = lo; c <= hi; ++c) cpus.push_back(c);
  }
  return cpus;
}

CounterRecorder::CounterRecorder(CounterSource& source, int64_t period_ns) : source_(source), period_ns_(period_ns) {
  if (period_ns <= 0) fail("counter recorder: period must be positive, not {} ns", period_ns);
}

CounterRecorder::~CounterRecorder() { stop(); }

void CounterRecorder::start() {
  if (running_.exchange(true)) return;
  source_.start();
  {
    std::lock_guard lock(mutex_);
    samples_.clear();
    samples_.push_back(source_.sample());
  }
  thread_ = std::thread([this] {
    int64_t next = now_ns() + period_ns_;
    while (running_.load(std::memory_order_acquire)) {
      const int64_t wait = next - now_ns();
      if (wait > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(std::min<int64_t>(wait, period_ns_)));
      if (now_ns() < next) continue;
      const CounterSample s = source_.sample();
      std::lock_guard lock(mutex_);
      samples_.push_back(s);
      next += period_ns_;
    }
  });
}

void CounterRecorder::stop() {
  if (!running_.exchange(false)) return;
  if (thread_.joinable()) thread_.join();
  const CounterSample last = source_.sample();
  source_.stop();
  std::lock_guard lock(mutex_);
  samples_.push_back(last);
}

std::vector<CounterSample> CounterRecorder::samples() const {
  std::lock_guard lock(mutex_);
  return samples_;
}

Series counter_series(std::span<const CounterSample> samples, int64_t t0, int64_t t1, int64_t width, CounterBytes which) {
  // Each interval between samples becomes one record, so the ledger's spreading rule (and its
  // tests) apply unchanged.
  auto bytes = [which](const CounterSample& s) {
    return which == CounterBytes::Read ? s.read_bytes : which == CounterBytes::Write ? s.write_bytes : s.total_bytes;
  };
  std::vector<Record> records;
  for (size_t i = 1; i < samples.size(); ++i) {
    const CounterSample &a = samples[i - 1], &b = samples[i];
    if (b.t_ns < a.t_ns) fail("counter samples: sample {} at {} ns is before the one at {} ns", i, b.t_ns, a.t_ns);
    const double delta = bytes(b) - bytes(a);
    if (delta < 0 || !std::isfinite(delta)) fail("counter samples: sample {} decreases ({} → {} bytes)", i, bytes(a), bytes(b));
    Record r;
    r.t_begin_ns = a.t_ns;
    r.t_end_ns = b.t_ns;
    r.weight_bytes = uint64_t(std::llround(delta));
    records.push_back(r);
  }
  return bandwidth_series(records, t0, t1, width, kWeights);
}

}  // namespace bwscope::meter
