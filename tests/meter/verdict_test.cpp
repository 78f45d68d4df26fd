// The verdict: which roof a phase is under — the device's read bandwidth, the instance's
// cores', their compute, or none — with the numbers that led to it. Probe figures are made up
// by hand: a 2-CPU machine whose one core reads 33 GB/s and whose two read 66.
#include <gtest/gtest.h>

#include <limits>

#include "bwscope/base/error.h"
#include "bwscope/meter/verdict.h"

namespace bwscope::meter {
namespace {

// n instances of one thread each, every one reaching `gbs` and `gflops`; the device reads
// 66 GB/s, one core 33 GB/s and computes 100 GFLOP/s; `free` CPUs left over.
VerdictInput instances(int n, double gbs, double gflops, int free_cpus) {
  VerdictInput in;
  in.achieved_gbs = gbs;
  in.achieved_gflops = gflops;
  in.threads = 1;
  in.core_roof_gbs = 33;
  in.core_roof_gflops = 100;
  in.n_instances = n;
  in.device_gbs = n * gbs;
  in.device_roof_gbs = 66;
  in.free_cpus = free_cpus;
  return in;
}

TEST(Verdict, CoreBoundWhenAnInstanceReadsWhatItsCoreCanAndTheDeviceHasHeadroom) {
  // One instance on one of two cores: 28 of 33 GB/s (84.8 %, printed rounded down so that a
  // figure beside the threshold reads as it was judged), 28 of the device's 66 (42.4 %).
  const Verdict v = judge(instances(1, 28, 5, 1));
  EXPECT_EQ(v.bound, Bound::Cores);
  EXPECT_NEAR(v.mbu_cores, 28.0 / 33, 1e-12);
  EXPECT_NEAR(v.mbu_device, 28.0 / 66, 1e-12);
  EXPECT_NE(v.reason.find("84 % of what its core can (28.0 of 33.0 GB/s)"), std::string::npos) << v.reason;
  EXPECT_NE(v.reason.find("42 % of the device's 66.0 GB/s"), std::string::npos) << v.reason;
  EXPECT_NE(v.reason.find("another model on the free cores would add bandwidth"), std::string::npos) << v.reason;
}

TEST(Verdict, CoreBoundWithNoFreeCoresAsksForMoreCoresPerInstance) {
  // Two instances of one core each at 27 GB/s (81.8 % of a core's 33) on a device that reads
  // 80: 54 of 80 is 67.5 %, so the cores bind.
  VerdictInput in = instances(2, 27, 5, 0);
  in.device_roof_gbs = 80;
  const Verdict v = judge(in);
  EXPECT_EQ(v.bound, Bound::Cores);
  EXPECT_NE(v.reason.find("each instance reads 81 %"), std::string::npos) << v.reason;
  EXPECT_NE(v.reason.find("the 2 together use 67 %"), std::string::npos) << v.reason;
  EXPECT_NE(v.reason.find("more cores per instance would add bandwidth"), std::string::npos) << v.reason;
}

TEST(Verdict, DeviceBoundWhenTheInstancesTogetherSaturateIt) {
  // Two instances at 30 GB/s each: 60 of 66 (90.9 %); each also at 90.9 % of its core, but the
  // device is the roof that binds.
  const Verdict v = judge(instances(2, 30, 5, 0));
  EXPECT_EQ(v.bound, Bound::Device);
  EXPECT_NEAR(v.mbu_device, 60.0 / 66, 1e-12);
  EXPECT_NE(v.reason.find("device-bound: the 2 together use 90 % of the device's 66.0 GB/s"), std::string::npos) << v.reason;
  EXPECT_NE(v.reason.find("saturated"), std::string::npos) << v.reason;
}

TEST(Verdict, ComputeBoundWhenItsRoofIsNearer) {
  // Prefill: 5 GB/s of a core's 33 (15 %), 60 of its 100 GFLOP/s (60 %).
  const Verdict v = judge(instances(1, 5, 60, 1));
  EXPECT_EQ(v.bound, Bound::Compute);
  EXPECT_DOUBLE_EQ(v.mfu, 0.6);
  EXPECT_NE(v.reason.find("60.0 GFLOP/s is 60 % of what its core compute (100.0)"), std::string::npos) << v.reason;
}

TEST(Verdict, NeitherWhenNoRoofIsNearSaysWhichIsNearer) {
  // One instance at 10 GB/s: 30 % of its core's 33, 15 % of the device's 66; MFU 5 %.
  Verdict v = judge(instances(1, 10, 5, 1));
  EXPECT_EQ(v.bound, Bound::Neither);
  EXPECT_NE(v.reason.find("neither roof reached"), std::string::npos) << v.reason;
  EXPECT_NE(v.reason.find("the nearer is that of its core"), std::string::npos) << v.reason;
  // Two at 25 each on a device that reads 64: 75.8 % of a core, 78.1 % of the device.
  VerdictInput two = instances(2, 25, 5, 0);
  two.device_roof_gbs = 64;
  v = judge(two);
  EXPECT_EQ(v.bound, Bound::Neither);
  EXPECT_NE(v.reason.find("the nearer is the device's"), std::string::npos) << v.reason;
  EXPECT_NE(v.reason.find("78 % of the device's 64.0 GB/s"), std::string::npos) << v.reason;
}

TEST(Verdict, ThresholdIsTheBoundaryAndConfigurable) {
  // 32 of a core's 40 GB/s is exactly 80 % (both exact in binary); the device reads 100.
  VerdictInput in = instances(1, 32, 1, 1);
  in.core_roof_gbs = 40;
  in.device_roof_gbs = 100;
  EXPECT_EQ(judge(in).bound, Bound::Cores);
  in.achieved_gbs = in.device_gbs = 31.9;
  EXPECT_EQ(judge(in).bound, Bound::Neither);
  in.achieved_gbs = in.device_gbs = 24;  // 60 %
  EXPECT_EQ(judge(in).bound, Bound::Neither);
  in.threshold = 0.6;
  EXPECT_EQ(judge(in).bound, Bound::Cores);
  // The device's line the same way: two instances at 40 of 100 is exactly 80 %.
  in = instances(2, 40, 1, 0);
  in.core_roof_gbs = 80;
  in.device_roof_gbs = 100;
  EXPECT_EQ(judge(in).bound, Bound::Device);
}

TEST(Verdict, MoreThreadsAreNamedAsCores) {
  VerdictInput in = instances(1, 50, 1, 0);
  in.threads = 2;
  in.core_roof_gbs = 60;
  in.device_roof_gbs = 100;
  const Verdict v = judge(in);
  EXPECT_EQ(v.bound, Bound::Cores);
  EXPECT_NE(v.reason.find("what its 2 cores can"), std::string::npos) << v.reason;
}

TEST(Verdict, DatasheetIsASecondDeviceReference) {
  VerdictInput in = instances(1, 30, 1, 1);
  in.datasheet_gbs = 120;
  const Verdict v = judge(in);
  ASSERT_TRUE(v.mbu_datasheet.has_value());
  EXPECT_DOUBLE_EQ(*v.mbu_datasheet, 0.25);
  EXPECT_NE(v.reason.find("25 % of the datasheet 120.0 GB/s"), std::string::npos) << v.reason;
}

TEST(Verdict, AboveOneBlamesTheProbe) {
  const Verdict v = judge(instances(1, 40, 1, 1));  // 40 of a core's 33
  EXPECT_EQ(v.bound, Bound::Cores);
  EXPECT_NEAR(v.mbu_cores, 40.0 / 33, 1e-12);
  EXPECT_NE(v.reason.find("probe underestimates"), std::string::npos) << v.reason;
}

TEST(Verdict, WithoutProbeFiguresItSaysSo) {
  VerdictInput in;
  in.achieved_gbs = in.device_gbs = 20;
  in.achieved_gflops = 5;
  const Verdict v = judge(in);
  EXPECT_EQ(v.bound, Bound::Neither);
  EXPECT_EQ(v.mbu_cores, 0);
  EXPECT_EQ(v.mbu_device, 0);
  EXPECT_EQ(v.mfu, 0);
  EXPECT_NE(v.reason.find("no probe figures"), std::string::npos) << v.reason;
}

TEST(Verdict, OnlyADeviceFigureStillJudgesTheDevice) {
  VerdictInput in = instances(1, 60, 1, 0);
  in.core_roof_gbs = 0;
  in.core_roof_gflops = 0;
  const Verdict v = judge(in);
  EXPECT_EQ(v.bound, Bound::Device);
  EXPECT_NE(v.reason.find("no figure for its core"), std::string::npos) << v.reason;
}

TEST(Verdict, RejectsImpossibleInputs) {
  EXPECT_THROW(judge(instances(1, -1, 1, 1)), Error);
  EXPECT_THROW(judge(instances(1, std::numeric_limits<double>::quiet_NaN(), 1, 1)), Error);
  VerdictInput in = instances(1, 1, 1, 1);
  in.core_roof_gbs = std::numeric_limits<double>::infinity();
  EXPECT_THROW(judge(in), Error);
  in = instances(1, 1, 1, 1);
  in.threshold = 0;
  EXPECT_THROW(judge(in), Error);
  in.threshold = 1.5;
  EXPECT_THROW(judge(in), Error);
  in.threshold = 0.8;
  in.datasheet_gbs = 0;
  EXPECT_THROW(judge(in), Error);
}

TEST(Verdict, BoundNames) {
  EXPECT_EQ(bound_name(Bound::Device), "device");
  EXPECT_EQ(bound_name(Bound::Cores), "cores");
  EXPECT_EQ(bound_name(Bound::Compute), "compute");
  EXPECT_EQ(bound_name(Bound::Neither), "neither");
}

}  // namespace
}  // namespace bwscope::meter
