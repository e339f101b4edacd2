#include "pipeline/tv_train_io.h"

#include <filesystem>
#include <set>

#include "config/torchvision_options.h"
#include "engine/checkpoint.h"
#include "modeling/torchvision/tv_layers.h"
#include "serialize/state_dict.h"

namespace rcnn::pipeline::tv_train {
namespace mt = modeling::tv;

void start(mt::TvFasterRCNNImpl& m, const std::string& path, const std::function<void(const std::string&)>& say) {
  if (!path.empty()) {
    auto sd = serialize::read_state_dict(path);
    const auto* cls = sd.find("roi_heads.box_predictor.cls_score.weight");
    if (cls && cls->size(0) != m.opts.num_classes) {
      serialize::StateDict kept;
      for (auto& [k, v] : sd.entries)
        if (k.rfind("roi_heads.box_predictor.", 0) != 0) kept.entries.emplace_back(k, v);
      for (const auto& p : m.box_predictor->named_parameters())
        kept.entries.emplace_back("roi_heads.box_predictor." + p.key(), p.value().detach().clone());
      say(path + ": " + std::to_string(cls->size(0) - 1) + " classes in the checkpoint, " +
          std::to_string(m.opts.num_classes - 1) + " in the dataset: the box predictor starts fresh");
      sd = kept;
    }
    m.load(sd, path);
  }
  mt::freeze_backbone(m, m.opts.trainable_backbone_layers);
  int64_t trainable = 0, norms = 0, frozen_norms = 0;
  for (const auto& p : m.parameters())
    if (p.requires_grad()) trainable += p.numel();
  for (const auto& mod : m.modules(false))
    if (const auto* n = mod->as<mt::Norm2d>()) ++norms, frozen_norms += n->frozen;
  say("torchvision " + m.opts.preset + ": " + std::to_string(trainable) + " trainable parameters (trainable_backbone_layers " +
      std::to_string(m.opts.trainable_backbone_layers) + "); " +
      (norms == 0 ? std::string("no norm layers")
       : frozen_norms == norms
           ? std::to_string(norms) + " FrozenBatchNorm2d layers (fixed statistics)"
           : std::to_string(norms - frozen_norms) + " BatchNorm2d layers (train mode updates their statistics)" +
                 (frozen_norms ? ", " + std::to_string(frozen_norms) + " FrozenBatchNorm2d" : std::string())));
}

void to_tv_batch(const LossBatch& b, const torch::Device& device, std::vector<torch::Tensor>& images,
                 std::vector<mt::TvTarget>& targets) {
  if (b.inputs.defined())
    throw std::invalid_argument("torchvision training takes decoded images (its transform resizes them), not a "
                                "resized batch");
  for (size_t i = 0; i < b.images.size(); ++i) {
    const auto& im = b.images[i];
    auto hwc = torch::from_blob(const_cast<uint8_t*>(im.rgb.data()), {im.height, im.width, 3}, torch::kByte);
    images.push_back(mt::image_from_rgb8(hwc.clone()).to(device));
    std::vector<float> boxes;
    std::vector<int64_t> labels;
    for (const auto& o : b.objects[i]) {
      if (o.crowd) continue;
      boxes.insert(boxes.end(), {o.box.x1, o.box.y1, o.box.x2, o.box.y2});
      labels.push_back(o.label + 1);  // torchvision's labels start after the background
    }
    targets.push_back({torch::tensor(boxes, torch::kFloat).view({-1, 4}).to(device),
                       torch::tensor(labels, torch::kLong).to(device)});
  }
}

std::vector<std::vector<api::Detection>> detect(mt::TvFasterRCNNImpl& m, const std::vector<api::Image>& images,
                                                const torch::Device& device) {
  torch::NoGradGuard ng;
  std::vector<std::vector<api::Detection>> out;
  for (const auto& im : images) {
    auto hwc = torch::from_blob(const_cast<uint8_t*>(im.rgb.data()), {im.height, im.width, 3}, torch::kByte);
    const auto r = m.infer({mt::image_from_rgb8(hwc.clone()).to(device)});
    const auto& d = r.detections[0];
    auto bx = d.boxes.to(torch::kCPU, torch::kFloat).contiguous();
    auto sc = d.scores.to(torch::kCPU, torch::kFloat).contiguous();
    auto lb = d.labels.to(torch::kCPU, torch::kLong).contiguous();
    auto b = bx.accessor<float, 2>();
    std::vector<api::Detection> one;
    for (int64_t j = 0; j < bx.size(0); ++j) {
      api::Detection det;
      det.box = det.box_original = {b[j][0], b[j][1], b[j][2], b[j][3]};
      det.label = int(lb[j].item<int64_t>()) - 1;
      det.score = sc[j].item<float>();
      one.push_back(det);
    }
    out.push_back(std::move(one));
  }
  return out;
}

std::string export_state_dict(mt::TvFasterRCNNImpl& m, const std::string& checkpoint) {
  const std::string path = std::filesystem::path(checkpoint).replace_extension(".pth").string();
  serialize::write_state_dict(path, m.state_dict());
  return path;
}

std::vector<engine::NamedTensor> state_tensors(mt::TvFasterRCNNImpl& m) {
  std::vector<engine::NamedTensor> out;
  std::set<const void*> params;
  for (const auto& p : m.parameters()) params.insert(p.unsafeGetTensorImpl());
  for (auto& [k, v] : m.state_dict().entries) out.push_back({k, v, !params.count(v.unsafeGetTensorImpl())});
  return out;
}

bool is_training_checkpoint(const std::string& path) {
  try {
    return config_from_json_string(engine::read_checkpoint_meta(path).config_json, path).is_torchvision();
  } catch (const std::exception&) {
    return false;
  }
}

mt::TvFasterRCNN load_training_checkpoint(const std::string& path, DetectorConfig& cfg) {
  cfg = config_from_json_string(engine::read_checkpoint_meta(path).config_json, path + " (embedded config)");
  if (!cfg.is_torchvision()) throw engine::CheckpointError(path + ": not a torchvision detector's checkpoint");
  mt::TvFasterRCNN m(torchvision_options(cfg));
  std::set<std::string> names;
  for (auto& n : engine::checkpoint_tensor_names(path)) names.insert(n);
  for (const auto& mod : m->named_modules())
    if (auto* n = mod.value()->as<mt::Norm2d>())
      n->set_frozen(!names.count(mod.key() + ".num_batches_tracked"), cfg.torchvision.frozen_bn_eps);
  engine::load_checkpoint(path, state_tensors(*m));
  return m;
}

}  // namespace rcnn::pipeline::tv_train
