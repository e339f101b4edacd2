#include "api/train_job.h"

#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "api/dataset_convert.h"
#include "data/loader.h"
#include "detail/eval_internal.h"
#include "detail/train_dist_internal.h"
#include "distributed/process_group.h"
#include "engine/checkpoint.h"
#include "engine/device.h"
#include "engine/trainer.h"
#include "pipeline/families.h"
#include "pipeline/train_probes.h"

namespace fs = std::filesystem;

namespace rcnn::api {

TrainJob::TrainJob(TrainRequest req) : req_(std::move(req)) {}

namespace {
// Moves a deterministic fraction of `train` (by a hash of each image id) into
// the returned validation set; at least one image each side.
// A loader batch as the trainer's LossBatch: the seed's tensors, or the
// decoded images and objects (LoaderOptions::decoded).
pipeline::LossBatch loss_batch(const data::Batch& b) {
  pipeline::LossBatch out;
  if (!b.rgb.empty() || !b.images.defined()) {
    for (size_t k = 0; k < b.rgb.size(); ++k) {
      const cv::Mat& m = b.rgb[k];
      Image im;
      im.width = m.cols;
      im.height = m.rows;
      im.rgb.assign(m.data, m.data + m.total() * 3);
      out.images.push_back(std::move(im));
      std::vector<GtObject> objs;
      for (const auto& a : b.objects[k]) objs.push_back({{a.x1, a.y1, a.x2, a.y2}, a.label, a.difficult, a.crowd});
      out.objects.push_back(std::move(objs));
    }
    return out;
  }
  out.inputs = b.images;
  out.gt = b.gt;
  return out;
}

data::Dataset hold_out(data::Dataset& train, double fraction) {
  data::Dataset val = train;
  val.images.clear();
  std::vector<data::ImageRecord> keep;
  for (const auto& im : train.images) {
    uint64_t h = 1469598103934665603ULL;  // FNV-1a of the id
    for (unsigned char c : im.id.empty() ? im.path : im.id) h = (h ^ c) * 1099511628211ULL;
    (double(h % 1000003ULL) / 1000003.0 < fraction ? val.images : keep).push_back(im);
  }
  if (val.images.empty() && keep.size() > 1) val.images.push_back(keep.back()), keep.pop_back();
  if (keep.empty() && val.images.size() > 1) keep.push_back(val.images.back()), val.images.pop_back();
  train.images = std::move(keep);
  return val;
}
}  // namespace

int fold_of(const std::string& image_id, int folds) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (unsigned char c : image_id) h = (h ^ c) * 1099511628211ULL;
  return folds > 0 ? int(h % uint64_t(folds)) : 0;
}

RunData read_run_data(const std::string& run_dir) {
  RunData d;
  std::ifstream in(fs::path(run_dir) / "data.json");
  if (!in) return d;
  try {
    const auto j = nlohmann::json::parse(in);
    d.dataset = j.at("dataset").get<std::string>();
    d.train_split = j.at("train_split").get<std::string>();
    d.folds = j.value("folds", 0);
    d.fold = j.value("fold", -1);
    d.images = j.value("images", 0);
    d.found = true;
  } catch (const nlohmann::json::exception&) {
    d.found = false;  // not ours: as if absent
  }
  return d;
}

namespace {

using Say = std::function<void(const std::string&)>;

// Keeps the images of the train split outside the fold the run leaves out.
void leave_out_fold(const TrainRequest& req, data::Dataset& train, const Say& say) {
  if (req.folds < 2) return;
  if (req.fold < 0 || req.fold >= req.folds)
    throw data::DataError("--fold must be in 0.." + std::to_string(req.folds - 1));
  const size_t before = train.images.size();
  std::vector<data::ImageRecord> keep;
  for (auto& im : train.images)
    if (fold_of(im.id, req.folds) != req.fold) keep.push_back(std::move(im));
  train.images = std::move(keep);
  if (train.images.empty())
    throw data::DataError(train.root + ": no images left outside fold " + std::to_string(req.fold));
  say("fold " + std::to_string(req.fold) + " of " + std::to_string(req.folds) + " left out: training on " +
      std::to_string(train.images.size()) + " of " + std::to_string(before) + " images");
}

void write_run_data(const TrainRequest& req, const std::string& dataset, const data::Dataset& train) {
  fs::create_directories(req.run_dir);
  nlohmann::json j{{"dataset", fs::weakly_canonical(fs::absolute(dataset)).string()},
                   {"train_split", req.train_split},
                   {"folds", req.folds >= 2 ? req.folds : 0},
                   {"fold", req.folds >= 2 ? req.fold : -1},
                   {"images", train.size()}};
  std::ofstream(fs::path(req.run_dir) / "data.json") << j.dump(1) << "\n";
}

// Processes on this machine share its cores.
void share_cores(const TrainRequest& req) {
  const auto env = dist::env_from_environment();
  const int local = env ? env->local_world_size : std::max(1, req.nproc);
  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  engine::init_threads(local > 1 && !std::getenv("RCNN_THREADS") ? std::max(1, cores / local) : 0);
}

struct Splits {
  std::string path;
  data::Dataset train;
  std::optional<data::Dataset> val;
};

// The train split and the validation set: the val split, a held-out fraction, or none.
Splits open_splits(const TrainRequest& req, const Say& say) {
  Splits s;
  s.path = req.dataset.empty() ? data::default_dataset_dir() : req.dataset;
  data::LoadOptions lo;
  lo.split = req.train_split;
  s.train = data::open_dataset(s.path, lo);
  if (s.train.format == data::Format::Folder)
    throw data::DataError(s.path + ": a folder of images has no annotations to train on");
  for (const auto& i : s.train.issues) say("dataset: " + i);
  leave_out_fold(req, s.train, say);
  const bool single_coco = fs::is_regular_file(s.path) && s.train.format == data::Format::COCO;
  if (req.val_fraction > 0) {
    if (req.val_fraction >= 1) throw data::DataError("--val-fraction must be in (0, 1)");
    s.val = hold_out(s.train, req.val_fraction);
    say("validation: " + std::to_string(s.val->size()) + " images held out of the train split (--val-fraction " +
        std::to_string(req.val_fraction) + ")");
  } else if (single_coco) {
    // Its "val" split would be the same images: val mAP and best.pt would be chosen on training images.
    throw data::DataError(s.path +
                          ": a single COCO file has no separate val split (validation would reuse the training "
                          "images); pass --val-fraction F to hold out a fraction, or use a directory with "
                          "annotations/instances_train.json and instances_val.json");
  } else {
    try {
      lo.split = req.val_split;
      lo.class_names = s.train.class_names;
      s.val = data::open_dataset(s.path, lo);
    } catch (const data::DataError& e) {
      say(std::string("no validation split, periodic evaluation off: ") + e.what());
    }
  }
  return s;
}

// The run's config: the checkpoint's (--resume), or the preset with the dataset's classes and the overrides.
DetectorConfig run_config(const TrainRequest& req, const data::Dataset& train) {
  const std::string last = (fs::path(req.run_dir) / "last.pt").string();
  if (req.resume && fs::exists(fs::path(req.run_dir) / "run.json") && !fs::exists(last))
    throw engine::CheckpointError(req.run_dir + ": a torchvision run of an older RCNN Studio (run.json, last.pth) "
                                  "holds no optimizer state to resume; start a new run with --checkpoint " +
                                  (fs::path(req.run_dir) / "last.pth").string());
  if (req.resume) return config_from_json_string(engine::read_checkpoint_meta(last).config_json, last);
  DetectorConfig cfg = load_preset(req.config);
  cfg.num_classes = int(train.class_names.size());
  cfg.class_names = train.class_names;
  for (const auto& o : req.overrides) apply_override(cfg, o);
  return cfg;
}

// The loader for this rank's shard, in the form the family trains on.
data::LoaderOptions loader_options(const DetectorConfig& cfg, int world, int rank, const pipeline::Family& family) {
  data::LoaderOptions L;
  L.batch_size = cfg.solver.batch_size;
  L.shuffle = true;
  L.drop_last = true;
  L.hflip = cfg.input.hflip_train;
  L.color_jitter = cfg.input.color_jitter;
  L.scale_jitter = cfg.input.scale_jitter;
  L.seed = cfg.solver.seed;
  L.num_workers = cfg.solver.num_workers;
  L.input_size = cfg.input.size;
  L.resize = cfg.input.resize;
  L.mean = cfg.input.mean;
  L.std = cfg.input.std;
  L.world_size = world;
  L.rank = rank;
  L.decoded = family.train_input == pipeline::TrainInput::Decoded;
  return L;
}

engine::DataSource data_source(data::DataLoader& loader, const data::Dataset& train) {
  engine::DataSource src;
  src.start_epoch = [&loader](int64_t epoch, int64_t first_image) { loader.start_epoch(epoch, first_image); };
  src.next = [&loader]() -> std::optional<pipeline::LossBatch> {
    auto b = loader.next();
    if (!b) return std::nullopt;
    return loss_batch(*b);
  };
  src.global_batch = loader.global_batch();
  uint64_t h = 1469598103934665603ULL;  // FNV-1a over the ids, in order
  for (const auto& im : train.images)
    for (unsigned char c : im.id + "\n") h = (h ^ c) * 1099511628211ULL;
  src.fingerprint = std::to_string(train.size()) + " training images, ids hash " + std::to_string(h);
  return src;
}

// The trainer's hooks as the job's events.
engine::TrainHooks hooks_for(const TrainEvents& ev, const Say& say) {
  auto conv = [](const engine::TrainStatus& s) {
    TrainProgress p;
    p.iter = s.iter;
    p.max_iters = s.max_iters;
    p.epoch = s.epoch;
    p.losses = s.losses;
    p.loss = s.loss;
    p.lr = s.lr;
    p.images_per_s = s.images_per_s;
    p.eta_s = s.eta_s;
    p.elapsed_s = s.elapsed_s;
    return p;
  };
  engine::TrainHooks hooks;
  if (ev.on_progress) hooks.after_step = [&ev, conv](const engine::TrainStatus& s) { ev.on_progress(conv(s)); };
  if (ev.on_log) hooks.on_log = [&ev, conv](const engine::TrainStatus& s) { ev.on_log(conv(s)); };
  hooks.on_message = say;
  hooks.on_eval = [&ev](int64_t it, double m, const std::string&) {
    if (ev.on_eval) ev.on_eval(it, m);
  };
  hooks.on_checkpoint = ev.on_checkpoint;
  return hooks;
}

const char* state_name(engine::TrainResult::State s) {
  return s == engine::TrainResult::State::Completed ? "completed"
         : s == engine::TrainResult::State::Stopped ? "stopped"
                                                    : "failed";
}

}  // namespace

TrainOutcome TrainJob::run(const TrainEvents& ev) {
  TrainOutcome out;
  out.run_dir = req_.run_dir;
  const Say say = [&](const std::string& m) {
    if (ev.on_message) ev.on_message(m);
  };
  DistSetup ds;
  // Several processes on this machine share its cores for the run; the
  // caller (the studio) gets its thread count back afterwards.
  struct RestoreThreads {
    int n = torch::get_num_threads();
    ~RestoreThreads() { torch::set_num_threads(n); }
  } restore_threads;
  try {
    share_cores(req_);
    auto splits = open_splits(req_, say);
    const auto& train = splits.train;
    const DetectorConfig cfg = run_config(req_, train);
    const auto& family = pipeline::family_of(cfg);
    std::string device_spec = req_.device;
    ds = setup_distributed(req_, device_spec, say);
    const int world = ds.env ? ds.env->world_size : 1, rank = ds.env ? ds.env->rank : 0;
    out.rank = rank;
    out.world_size = world;
    if (world > 1 && train.size() < size_t(cfg.solver.batch_size) * size_t(world))
      throw data::DataError(splits.path + ": the train split has " + std::to_string(train.size()) +
                            " images, fewer than one global batch (" + std::to_string(cfg.solver.batch_size) +
                            " per process x " + std::to_string(world) + " processes)");
    if (ds.lead()) write_run_data(req_, splits.path, train);
    say("train: " + std::to_string(train.size()) + " images, " + std::to_string(train.num_objects()) + " objects, " +
        std::to_string(cfg.num_classes) + " classes; " + family.name + " detector; " +
        std::to_string(torch::get_num_threads()) + " threads; BLAS " + engine::blas_name());

    data::DataLoader loader(train, loader_options(cfg, world, rank, family));
    engine::DataSource src = data_source(loader, train);
    engine::TrainOptions to;
    to.run_dir = req_.run_dir;
    to.resume = req_.resume;
    to.max_iters = req_.epochs > 0 ? int64_t(req_.epochs) * int64_t(loader.batches_per_epoch()) : req_.max_iters;
    to.minutes = req_.minutes;
    to.device = device_spec;
    to.group = ds.group;
    to.init_weights = req_.init_checkpoint;
    if (splits.val && ds.lead()) {
      to.evaluate = [&](pipeline::Detector& det, std::string* details) {
        auto rep = evaluate_detector(det, *splits.val, req_.eval_max_images, 16);
        if (details) *details = evaluation::eval_to_json(rep.result);
        return rep.result.map50;
      };
    }
    std::unique_ptr<ProbeRecorder> probes;
    if (splits.val && ds.lead() && req_.probe_images > 0) {
      probes = std::make_unique<ProbeRecorder>(cfg, to_info(*splits.val), req_.probe_images, req_.run_dir, req_.resume);
      to.probe = [&](pipeline::Detector& det, int64_t iter) {
        try {
          probes->record(det, iter);
        } catch (const std::exception& e) {
          say(std::string("probes: ") + e.what());  // training goes on without this capture
        }
      };
    }
    const auto started = std::chrono::steady_clock::now();
    engine::Trainer trainer(cfg, to);
    const auto r = trainer.run(src, hooks_for(ev, say), &stop_);
    if (probes) {
      const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      char m[160];
      std::snprintf(m, sizeof m, "probes: %d images, %.1f s of %.1f s (%.1f %%) in %s/probes", req_.probe_images,
                    probes->seconds(), total, total > 0 ? 100 * probes->seconds() / total : 0.0, req_.run_dir.c_str());
      say(m);
    }
    for (const auto& i : loader.issues()) say("loader: " + i);
    out.state = state_name(r.state);
    out.message = r.message;
    out.iterations = r.iterations;
    out.best_map = r.best_map;
    out.last_map = r.last_map;
    if (ds.workers) {
      const std::string bad = ds.workers->wait_all(60);
      if (!bad.empty() && out.state != "failed") out.state = "failed", out.message = bad;
    }
  } catch (const std::exception& e) {
    out.state = "failed";
    out.message = ds.explain(e.what());
    if (ds.workers) ds.workers->terminate_all();
  }
  return out;
}

}  // namespace rcnn::api
