// The verdict: which roof a phase is under, with the numbers that led to it.
#include <gtest/gtest.h>

#include <limits>

#include "bwscope/base/error.h"
#include "bwscope/meter/verdict.h"

namespace bwscope::meter {
namespace {

VerdictInput input(double gbs, double attainable, double gflops, double peak) {
  VerdictInput in;
  in.achieved_gbs = gbs;
  in.attainable_gbs = attainable;
  in.achieved_gflops = gflops;
  in.peak_gflops = peak;
  return in;
}

TEST(Verdict, BandwidthBoundAtOrAboveTheThreshold) {
  const Verdict v = judge(input(40, 50, 10, 500));
  EXPECT_DOUBLE_EQ(v.mbu, 0.8);
  EXPECT_DOUBLE_EQ(v.mfu, 0.02);
  EXPECT_EQ(v.bound, Bound::Bandwidth);
  EXPECT_NE(v.reason.find("40.00 GB/s is 80.0 % of the attainable 50.00 GB/s"), std::string::npos) << v.reason;
  EXPECT_FALSE(v.mbu_datasheet.has_value());
}

TEST(Verdict, JustBelowTheThresholdIsNotBandwidthBound) {
  const Verdict v = judge(input(39.9, 50, 10, 500));
  EXPECT_NE(v.bound, Bound::Bandwidth);
  EXPECT_EQ(v.bound, Bound::Neither);  // MBU 79.8 % > MFU 2 %: no roof reached
  EXPECT_NE(v.reason.find("neither roof"), std::string::npos) << v.reason;
}

TEST(Verdict, ThresholdIsConfigurable) {
  VerdictInput in = input(30, 50, 10, 500);
  EXPECT_EQ(judge(in).bound, Bound::Neither);
  in.threshold = 0.6;
  EXPECT_EQ(judge(in).bound, Bound::Bandwidth);
}

TEST(Verdict, ComputeWhenItsRoofIsNearer) {
  // Prefill: 5 GB/s of 50 (10 %), 300 GFLOP/s of 500 (60 %).
  const Verdict v = judge(input(5, 50, 300, 500));
  EXPECT_EQ(v.bound, Bound::Compute);
  EXPECT_DOUBLE_EQ(v.mfu, 0.6);
  EXPECT_NE(v.reason.find("300.0 GFLOP/s is 60.0 % of the compute probe's 500.0 GFLOP/s"), std::string::npos) << v.reason;
}

TEST(Verdict, DatasheetIsASecondReference) {
  VerdictInput in = input(45, 50, 1, 100);
  in.datasheet_gbs = 90;
  const Verdict v = judge(in);
  ASSERT_TRUE(v.mbu_datasheet.has_value());
  EXPECT_DOUBLE_EQ(*v.mbu_datasheet, 0.5);
  EXPECT_DOUBLE_EQ(v.mbu, 0.9);
  EXPECT_NE(v.reason.find("50.0 % of the datasheet 90.0 GB/s"), std::string::npos) << v.reason;
}

TEST(Verdict, MbuAboveOneBlamesTheProbe) {
  const Verdict v = judge(input(60, 50, 1, 100));
  EXPECT_EQ(v.bound, Bound::Bandwidth);
  EXPECT_DOUBLE_EQ(v.mbu, 1.2);
  EXPECT_NE(v.reason.find("probe underestimates"), std::string::npos) << v.reason;
}

TEST(Verdict, WithoutProbeFiguresItSaysSo) {
  const Verdict v = judge(input(20, 0, 5, 0));
  EXPECT_EQ(v.bound, Bound::Neither);
  EXPECT_EQ(v.mbu, 0);
  EXPECT_EQ(v.mfu, 0);
  EXPECT_NE(v.reason.find("no probe figures"), std::string::npos) << v.reason;
}

TEST(Verdict, RejectsImpossibleInputs) {
  EXPECT_THROW(judge(input(-1, 50, 1, 100)), Error);
  EXPECT_THROW(judge(input(std::numeric_limits<double>::quiet_NaN(), 50, 1, 100)), Error);
  VerdictInput in = input(1, 50, 1, 100);
  in.threshold = 0;
  EXPECT_THROW(judge(in), Error);
  in.threshold = 1.5;
  EXPECT_THROW(judge(in), Error);
  in.threshold = 0.8;
  in.datasheet_gbs = 0;
  EXPECT_THROW(judge(in), Error);
}

TEST(Verdict, BoundNames) {
  EXPECT_EQ(bound_name(Bound::Bandwidth), "bandwidth");
  EXPECT_EQ(bound_name(Bound::Compute), "compute");
  EXPECT_EQ(bound_name(Bound::Neither), "neither");
}

}  // namespace
}  // namespace bwscope::meter
