#pragma once
// How TrainJob takes its place in a data-parallel run (train_dist.cpp).
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "api/train_job.h"
#include "distributed/dist_env.h"
#include "distributed/launcher.h"

namespace rcnn::dist {
class DistGroup;
}

namespace rcnn::api {

struct DistSetup {
  std::optional<dist::DistEnv> env;              // unset: one process
  std::unique_ptr<dist::LocalWorkers> workers;  // the local ranks this process started
  std::shared_ptr<dist::DistGroup> group;
  bool lead() const { return !env || env->rank == 0; }
  // A failure message with what the launcher saw of its workers added.
  std::string explain(const std::string& error);
};

// Where this process sits: a torchrun-style worker (the environment says),
// the launcher of req.nproc local ranks (it is local rank 0), or alone.
// Resolves `device` for the rank (CUDA: cuda:LOCAL_RANK) and joins the
// group. Throws dist::DistError / std::invalid_argument with the reason.
DistSetup setup_distributed(const TrainRequest& req, std::string& device,
                            const std::function<void(const std::string&)>& say);

}  // namespace rcnn::api
