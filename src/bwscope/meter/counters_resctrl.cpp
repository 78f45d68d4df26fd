// resctrl memory-bandwidth monitoring (Intel RDT MBM, AMD PQoS): the root group's
// mon_data/mon_L3_*/mbm_total_bytes, summed over L3 domains. It counts bytes between L3 and
// memory without telling reads from writes.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "bwscope/base/error.h"
#include "bwscope/meter/counters.h"
#include "bwscope/meter/ledger.h"

namespace bwscope::meter {
namespace {

namespace fs = std::filesystem;

class ResctrlSource final : public CounterSource {
 public:
  explicit ResctrlSource(const std::string& root) : root_(root) {
    std::error_code ec;
    if (!fs::exists(fs::path(root_) / "info", ec)) {
      status_ = fmt::format("unavailable: resctrl is not mounted at {} (it needs RDT/PQoS monitoring in the CPU, "
                            "then: mount -t resctrl resctrl {})", root_, root_);
      return;
    }
    std::ifstream features(fs::path(root_) / "info/L3_MON/mon_features");
    std::string line;
    bool mbm = false;
    while (std::getline(features, line)) mbm = mbm || line == "mbm_total_bytes";
    if (!mbm) {
      status_ = fmt::format("unavailable: {}/info/L3_MON/mon_features does not list mbm_total_bytes (no memory-bandwidth monitoring)", root_);
      return;
    }
    for (const auto& e : fs::directory_iterator(fs::path(root_) / "mon_data", ec))
      if (e.path().filename().string().rfind("mon_L3_", 0) == 0) files_.push_back((e.path() / "mbm_total_bytes").string());
    std::sort(files_.begin(), files_.end());
    if (files_.empty()) {
      status_ = fmt::format("unavailable: no mon_data/mon_L3_* domains under {}", root_);
      return;
    }
    try {
      total();
    } catch (const Error& e) {
      status_ = std::string("unavailable: ") + e.what();
      return;
    }
    available_ = true;
    status_ = fmt::format("available: mbm_total_bytes over {} L3 domain{}", files_.size(), files_.size() == 1 ? "" : "s");
  }

  std::string name() const override { return "resctrl mbm"; }
  bool available() const override { return available_; }
  std::string status() const override { return status_; }
  bool splits_read_write() const override { return false; }
  void start() override {
    if (!available_) fail("resctrl mbm: {}", status_);
    base_ = total();
  }
  CounterSample sample() override {
    CounterSample s;
    s.t_ns = now_ns();
    s.total_bytes = total() - base_;
    return s;
  }
  void stop() override {}

 private:
  // The kernel prints a byte count, or "Unavailable" when the hardware could not read it.
  double total() const {
    double sum = 0;
    for (const std::string& f : files_) {
      std::ifstream in(f);
      std::string text;
      if (!(in >> text)) fail("{}: cannot be read", f);
      uint64_t v = 0;
      try {
        size_t used = 0;
        v = std::stoull(text, &used);
        if (used != text.size()) throw std::invalid_argument(text);
      } catch (const std::exception&) {
        fail("{}: '{}' is not a byte count", f, text);
      }
      sum += double(v);
    }
    return sum;
  }

  std::string root_, status_;
  std::vector<std::string> files_;
  bool available_ = false;
  double base_ = 0;
};

}  // namespace

std::unique_ptr<CounterSource> make_resctrl_source(const std::string& root) { return std::make_unique<ResctrlSource>(root); }

}  // namespace bwscope::meter
