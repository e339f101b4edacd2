#pragma once
// The trainer's pieces that are not the loop (engine/trainer.cpp): the
// optimizer, the per-iteration sampler seed, the metrics line, and what two
// ranks' configs differ in.
#include <torch/torch.h>

#include <memory>
#include <string>

#include "config/detector_config.h"
#include "engine/trainer.h"

namespace rcnn::engine {

// SGD (momentum) or AdamW (solver.optimizer) over the parameters that take
// gradients, in two groups: weights with solver.weight_decay, and norm
// layers' scales and every bias (one-dimensional) without it (standard
// practice; decaying BatchNorm scales hurts small from-scratch models).
std::unique_ptr<torch::optim::Optimizer> make_optimizer(torch::nn::Module& model, const SolverOptions& s);
// The learning rate of every group.
void set_learning_rate(torch::optim::Optimizer& opt, double lr);

// The sampling generator's seed for one iteration on one rank: a pure
// function of (seed, iteration, rank), so a resumed run draws what the
// uninterrupted one would have, whatever happened in between.
uint64_t step_seed(uint64_t seed, int64_t iter, int rank);

// One metrics.jsonl line {"type": "train", ...}.
std::string status_json(const TrainStatus& st);

// Names the first keys where two configs (JSON) differ, for a rank mismatch.
std::string config_diff(const std::string& a, const std::string& b);

}  // namespace rcnn::engine
