// The roofline model: the step time formula on hand-made devices, how N instances share a
// device, the memory fit, and the calibration that makes the median point exact.
#include <gtest/gtest.h>

#include "bwscope/plan/predict_sweep.h"
#include "bwscope/plan/roofline.h"

namespace bwscope::plan {
namespace {

Device accelerator(double gbs, double tflops, double mem_gb) {
  Device d;
  d.id = d.name = "test";
  d.bandwidth_gbs = d.datasheet_gbs = gbs;
  d.fp16_tflops = tflops;
  d.int8_tops = 2 * tflops;
  d.memory_gb = mem_gb;
  return d;
}

Workload one_1b(const std::string& type, int64_t batch = 1) {
  Workload w;
  w.model = preset_shape("llama-3.2-1b", type);
  w.batch = batch;
  w.n_prompt = 64;
  w.n_gen = 64;
  return w;
}

TEST(Roofline, AStepIsTheLongerRoofPlusPartOfTheShorter) {
  const Device d = accelerator(1000, 100, 80);
  const Workload w = one_1b("f16");
  const ScenarioPrediction p = predict(d, w, 0.5);
  const StepCost s = mean_decode_step(w.model, 1, 64, 64);
  const double t_mem = s.bytes() / (1000e9 * 0.5), t_cmp = s.flops() / (100e12 * 0.5);
  ASSERT_GT(t_mem, t_cmp);
  EXPECT_DOUBLE_EQ(p.each.step_s, t_mem + kSerialFraction * t_cmp);
  EXPECT_DOUBLE_EQ(p.tokens_per_s, 1 / p.each.step_s);
  EXPECT_EQ(p.each.decode_bound, "bandwidth");
  // A compute-starved device flips the bound.
  EXPECT_EQ(predict(accelerator(1000, 0.01, 80), w, 0.5).each.decode_bound, "compute");
  // Efficiency scales every time: tokens/s is proportional to it.
  EXPECT_DOUBLE_EQ(predict(d, w, 1.0).tokens_per_s, 2 * p.tokens_per_s);
}

TEST(Roofline, InstancesShareTheDevicesBandwidth) {
  const Device d = accelerator(1000, 100, 80);
  Workload w = one_1b("q8_0");
  const ScenarioPrediction one = predict(d, w, 1.0);
  w.instances = 4;
  const ScenarioPrediction four = predict(d, w, 1.0);
  EXPECT_NEAR(four.tokens_per_s, one.tokens_per_s, 1e-9 * one.tokens_per_s);
  EXPECT_NEAR(four.each.tpot_ms, 4 * one.each.tpot_ms, 1e-9 * one.each.tpot_ms);
}

TEST(Roofline, OnAMeasuredCpuEachInstanceGetsItsCoresCappedByTheDevicesShare) {
  Device cpu;
  cpu.id = "this";
  cpu.cpus = 4;
  cpu.bandwidth_gbs = 100;
  cpu.read_by_threads = {40, 70, 90, 100};
  cpu.compute_gflops_by_type["q8_0"] = 400;
  const Roofs one = instance_roofs(cpu, "q8_0", 1, 1);
  EXPECT_EQ(one.bandwidth_gbs, 40);   // one core alone
  EXPECT_EQ(one.compute_gflops, 100);  // a quarter of the CPUs
  EXPECT_EQ(instance_roofs(cpu, "q8_0", 4, 1).bandwidth_gbs, 25);  // four cores share 100 GB/s
  EXPECT_EQ(instance_roofs(cpu, "q8_0", 2, 2).bandwidth_gbs, 50);
  EXPECT_EQ(instance_roofs(cpu, "q8_0", 2, 0).bandwidth_gbs, 50);  // 0: CPUs / instances
}

TEST(Roofline, PrivateWeightsNeedACopyPerInstanceAndMayNotFit) {
  Workload w = one_1b("f16");
  w.instances = 8;
  const Device small = accelerator(1000, 100, 12);
  w.shared_weights = true;
  const ScenarioPrediction shared = predict(small, w, 1.0);
  w.shared_weights = false;
  const ScenarioPrediction priv = predict(small, w, 1.0);
  EXPECT_EQ(priv.memory_bytes - shared.memory_bytes, 7 * w.model.resident_bytes());
  EXPECT_TRUE(shared.fits);
  EXPECT_FALSE(priv.fits);  // 8 × 2.5 GB
}

TEST(Roofline, CalibrationMakesTheMedianPointExact) {
  report::SweepReport r;
  r.settings = {{"preset", "llama-3.2-1b"}, {"kv_type", "f16"}, {"weights", "shared"}};
  r.cpus = 2;
  for (int i = 0; i < 5; ++i) {
    report::PointResult x;
    x.ok = true;
    x.point = report::SweepPoint{"q4_0", 1 + i, 1, 0, "parallel", 64};
    x.n_gen = 32;
    x.threads = 1;
    x.device_read_gbs = 80;
    x.cores_read_gbs = 40;
    x.compute_gflops = 1200;
    r.results.push_back(x);
  }
  // Measured at 0.7, 0.75, 0.8, 0.9, 0.95 of the model at efficiency 1.
  const double ratio[] = {0.7, 0.9, 0.8, 0.75, 0.95};
  for (int i = 0; i < 5; ++i) r.results[i].tokens_per_s = ratio[i] * predict_point(r, r.results[i], 1.0).tokens_per_s;
  EXPECT_NEAR(fit_efficiency(r), 0.8, 1e-9);
  predict_sweep(r, 0.8);
  ASSERT_EQ(r.predictions.size(), 5u);
  EXPECT_NEAR(r.predictions[2]->error_pct, 0, 1e-9);
  EXPECT_NEAR(r.predictions[0]->error_pct, 100 * (0.7 / 0.8 - 1), 1e-9);
  EXPECT_FALSE(r.predictions[0]->why.empty());  // 12.5 % off: the report says what the model leaves out
  EXPECT_TRUE(r.predictions[2]->why.empty());
}

}  // namespace
}  // namespace bwscope::plan
