#include <torch/torch.h>

#include <filesystem>

#include "detail/train_dist_internal.h"
#include "distributed/process_group.h"
#include "engine/device.h"

namespace fs = std::filesystem;

namespace rcnn::api {

std::vector<std::string> train_worker_args(const TrainRequest& r) {
  auto abs = [](const std::string& p) { return p.empty() ? p : fs::absolute(p).lexically_normal().string(); };
  // A preset name stays a name; a file becomes an absolute path.
  auto cfg = [&](const std::string& c) { return fs::exists(c) ? abs(c) : c; };
  std::vector<std::string> a{"train", "--run-dir", abs(r.run_dir), "--config", cfg(r.config), "--device", r.device};
  if (!r.dataset.empty()) a.insert(a.end(), {"--dataset", abs(r.dataset)});
  if (!r.init_checkpoint.empty()) a.insert(a.end(), {"--checkpoint", abs(r.init_checkpoint)});
  for (const auto& o : r.overrides) a.insert(a.end(), {"--set", o});
  if (r.resume) a.push_back("--resume");
  if (r.epochs > 0) a.insert(a.end(), {"--epochs", std::to_string(r.epochs)});
  if (r.max_iters > 0) a.insert(a.end(), {"--iters", std::to_string(r.max_iters)});
  if (r.minutes > 0) a.insert(a.end(), {"--minutes", std::to_string(r.minutes)});
  if (r.eval_max_images > 0) a.insert(a.end(), {"--eval-images", std::to_string(r.eval_max_images)});
  if (r.val_fraction > 0) a.insert(a.end(), {"--val-fraction", std::to_string(r.val_fraction)});
  if (r.folds >= 2) a.insert(a.end(), {"--folds", std::to_string(r.folds), "--fold", std::to_string(r.fold)});
  a.insert(a.end(), {"--dist-timeout", std::to_string(r.dist_timeout_s)});
  return a;
}

std::string DistSetup::explain(const std::string& error) {
  if (!workers) return error;
  // A worker that died is the cause; the collective error is its echo.
  const std::string dead = workers->wait_all(2.0);
  return dead.empty() ? error : dead + " (rank 0 saw: " + error + ")";
}

DistSetup setup_distributed(const TrainRequest& req, std::string& device,
                            const std::function<void(const std::string&)>& say) {
  DistSetup s;
  s.env = dist::env_from_environment();
  const bool launcher = !s.env;
  if (s.env) {
    if (req.nproc > 1 || req.nnodes > 1)
      say("the environment (RANK/WORLD_SIZE) makes this process rank " + std::to_string(s.env->rank) +
          "; --nproc/--nnodes are left to the launcher that set it");
    s.env->timeout_s = req.dist_timeout_s;
  } else if (req.nproc > 1 || req.nnodes > 1) {
    if (req.nproc < 1 || req.nnodes < 1) throw dist::DistError("--nproc and --nnodes must be >= 1");
    if (req.node_rank < 0 || req.node_rank >= req.nnodes)
      throw dist::DistError("--node-rank " + std::to_string(req.node_rank) + " is outside [0, --nnodes " +
                            std::to_string(req.nnodes) + ")");
    dist::DistEnv e;
    e.world_size = req.nproc * req.nnodes;
    e.local_world_size = req.nproc;
    e.rank = req.node_rank * req.nproc;
    e.local_rank = 0;
    e.timeout_s = req.dist_timeout_s;
    if (!req.master.empty())
      dist::parse_master(req.master, e);
    else if (req.nnodes > 1)
      throw dist::DistError("--nnodes " + std::to_string(req.nnodes) +
                            " needs --master HOST:PORT (node 0's address, the same on every node)");
    else
      e.master_port = dist::free_local_port();
    dist::validate(e);
    s.env = e;
  } else {
    return s;  // alone
  }
  const auto& e = *s.env;
  // One process per GPU: the rank's device is cuda:LOCAL_RANK.
  if (device.rfind("cuda:", 0) == 0 && e.local_world_size > 1)
    throw dist::DistError("--device " + device + " with " + std::to_string(e.local_world_size) +
                          " processes on this machine: each process takes its own GPU (cuda:LOCAL_RANK); "
                          "pass --device cuda");
  if (device == "cuda" || (device == "auto" && torch::cuda::is_available())) {
    if (e.local_rank >= int(torch::cuda::device_count()))
      throw dist::DistError("local rank " + std::to_string(e.local_rank) + " needs GPU " +
                            std::to_string(e.local_rank) + ", and this machine has " +
                            std::to_string(torch::cuda::device_count()));
    device = "cuda:" + std::to_string(e.local_rank);
  } else if (device == "auto") {
    device = "cpu";
  }
  if (launcher && req.nproc > 1) {
    // This process is local rank 0: start local ranks 1 .. nproc-1.
    fs::create_directories(req.run_dir);
    const auto exe = dist::worker_executable();
    const auto args = train_worker_args(req);
    s.workers = std::make_unique<dist::LocalWorkers>();
    for (int lr = 1; lr < req.nproc; ++lr) {
      const int rank = e.rank + lr;
      std::map<std::string, std::string> env{{"RANK", std::to_string(rank)},
                                             {"WORLD_SIZE", std::to_string(e.world_size)},
                                             {"LOCAL_RANK", std::to_string(lr)},
                                             {"LOCAL_WORLD_SIZE", std::to_string(e.local_world_size)},
                                             {"MASTER_ADDR", e.master_addr},
                                             {"MASTER_PORT", std::to_string(e.master_port)}};
      s.workers->spawn(rank, exe, args, env, (fs::path(req.run_dir) / ("rank" + std::to_string(rank) + ".log")).string());
    }
    say("started local ranks " + std::to_string(e.rank + 1) + ".." + std::to_string(e.rank + req.nproc - 1) +
        " (logs in " + req.run_dir + "/rank*.log); rendezvous on " + e.master_addr + ":" +
        std::to_string(e.master_port));
  }
  auto* workers = s.workers.get();
  s.group = dist::DistGroup::connect(e, engine::resolve_device(device), [workers]() -> std::string {
    return workers ? workers->failure() : std::string();
  });
  return s;
}

}  // namespace rcnn::api
