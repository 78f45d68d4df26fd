#include <gtest/gtest.h>

#include <cmath>

#include "bwscope/base/error.h"
#include "bwscope/engine/sampler.h"

namespace bwscope {
namespace {

const std::vector<float> kLogits{0.1f, 2.5f, -1.0f, 2.4f, 0.7f};

TEST(Sampler, GreedyPicksTheLargestLogit) {
  Sampler s({});
  EXPECT_EQ(s.sample(kLogits), 1);
}

TEST(Sampler, TopKOfOneIsGreedyAtAnyTemperature) {
  Sampler s({5.0f, 1, 1.0f, 3});
  for (int i = 0; i < 100; ++i) EXPECT_EQ(s.sample(kLogits), 1);
}

TEST(Sampler, TinyTopPKeepsOnlyTheMostLikely) {
  Sampler s({1.0f, 0, 0.01f, 3});
  for (int i = 0; i < 100; ++i) EXPECT_EQ(s.sample(kLogits), 1);
}

TEST(Sampler, FrequenciesFollowTheSoftmax) {
  const std::vector<float> logits{std::log(0.5f), std::log(0.3f), std::log(0.2f)};
  Sampler s({1.0f, 0, 1.0f, 11});
  int counts[3] = {};
  const int n = 30000;
  for (int i = 0; i < n; ++i) ++counts[s.sample(logits)];
  EXPECT_NEAR(counts[0] / double(n), 0.5, 0.015);
  EXPECT_NEAR(counts[1] / double(n), 0.3, 0.015);
  EXPECT_NEAR(counts[2] / double(n), 0.2, 0.015);
}

TEST(Sampler, TopKTwoNeverPicksTheThird) {
  Sampler s({1.0f, 2, 1.0f, 5});
  for (int i = 0; i < 500; ++i) {
    int32_t t = s.sample(kLogits);
    EXPECT_TRUE(t == 1 || t == 3) << t;
  }
}

TEST(Sampler, RejectsBadParameters) {
  EXPECT_THROW(Sampler({-1.0f, 0, 1.0f, 1}), Error);
  EXPECT_THROW(Sampler({1.0f, -2, 1.0f, 1}), Error);
  EXPECT_THROW(Sampler({1.0f, 0, 0.0f, 1}), Error);
  EXPECT_THROW(Sampler({1.0f, 0, 1.5f, 1}), Error);
}

}  // namespace
}  // namespace bwscope
