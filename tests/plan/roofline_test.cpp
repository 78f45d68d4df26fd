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
  EXPECT_EQ(p.each.decode_bound, "bandwidth (cores)");
  // A compute-starved device flips the bound.
  EXPECT_EQ(predict(accelerator(1000, 0.01, 80), w, 0.5).each.decode_bound, "compute");
  // Alone on an accelerator the device is the instance's own roof.
  EXPECT_EQ(p.each.roofs.cores_gbs, 1000);
  // Efficiency scales every time: tokens/s is proportional to it.
  EXPECT_DOUBLE_EQ(predict(d, w, 1.0).tokens_per_s, 2 * p.tokens_per_s);
}

TEST(Roofline, DecodeIsBoundByTheDecodeKernelsOwnRateWhereMeasured) {
  Device cpu;
  cpu.id = "this";
  cpu.cpus = 2;
  cpu.bandwidth_gbs = 80;
  cpu.read_by_threads = {40, 80};
  cpu.compute_gflops_by_type["f16"] = 1000;  // the prefill kernel
  Workload w = one_1b("f16", 4);
  w.threads = 1;
  const double fast = predict(cpu, w, 1.0).tokens_per_s;
  cpu.decode_gflops_per_thread["f16 b4"] = 100;  // the decode kernel at batch 4, one thread
  const ScenarioPrediction slow = predict(cpu, w, 1.0);
  EXPECT_LT(slow.tokens_per_s, fast);
  EXPECT_EQ(slow.each.decode_bound, "compute");  // 9.9 GFLOP at 100 GFLOP/s > 2.5 GB at 40 GB/s
  const StepCost s = mean_decode_step(w.model, 4, 64, 64);
  EXPECT_DOUBLE_EQ(slow.each.step_s, s.flops() / 100e9 + kSerialFraction * s.bytes() / 40e9);
}

TEST(Roofline, InstancesShareTheDevicesBandwidth) {
  const Device d = accelerator(1000, 100, 80);
  Workload w = one_1b("q8_0");
  const ScenarioPrediction one = predict(d, w, 1.0);
  w.instances = 4;
  const ScenarioPrediction four = predict(d, w, 1.0);
  // Together they move exactly the device's bandwidth: each token is 4 tokens' bytes long, and
  // the arithmetic that kept one instance from the roof overlaps the others' loads.
  const double bytes = mean_decode_step(w.model, 1, 64, 64).bytes();
  EXPECT_EQ(four.each.decode_bound, "bandwidth (device)");
  EXPECT_DOUBLE_EQ(four.each.step_s, 4 * bytes / 1000e9);
  EXPECT_NEAR(four.decode_gbs, 1000, 1e-6);
  EXPECT_GT(four.tokens_per_s, one.tokens_per_s);
  EXPECT_LT(one.decode_gbs, 1000);
}

TEST(Roofline, OnAMeasuredCpuEachInstanceGetsItsCoresCappedByTheDevicesShare) {
  Device cpu;
  cpu.id = "this";
  cpu.cpus = 4;
  cpu.bandwidth_gbs = 100;
  cpu.read_by_threads = {40, 70, 90, 100};
  cpu.compute_gflops_by_type["q8_0"] = 400;
  cpu.decode_gflops_per_thread["q8_0 b4"] = 30;
  const Roofs one = instance_roofs(cpu, "q8_0", 1, 1, 1);
  EXPECT_EQ(one.cores_gbs, 40);       // one core alone
  EXPECT_EQ(one.device_gbs, 100);
  EXPECT_EQ(one.compute_gflops, 100);  // a quarter of the CPUs
  EXPECT_EQ(one.decode_compute_gflops, 0);  // not measured at batch 1
  EXPECT_EQ(instance_roofs(cpu, "q8_0", 1, 2, 2).cores_gbs, 70);
  EXPECT_EQ(instance_roofs(cpu, "q8_0", 1, 2, 0).cores_gbs, 70);  // 0: CPUs / instances
  // Four one-core instances: 40 GB/s each alone, 100 together.
  Workload w = one_1b("q8_0");
  w.instances = 4;
  w.threads = 1;
  const ScenarioPrediction four = predict(cpu, w, 1.0);
  EXPECT_EQ(four.each.decode_bound, "bandwidth (device)");
  EXPECT_NEAR(four.decode_gbs, 100, 1e-6);
  w.instances = 2;
  EXPECT_EQ(predict(cpu, w, 1.0).each.decode_bound, "bandwidth (cores)");  // 2 × 40 < 100
  EXPECT_EQ(instance_roofs(cpu, "q8_0", 4, 2, 2).decode_compute_gflops, 60);  // the decode kernel, per thread × 2
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
