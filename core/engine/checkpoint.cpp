#include "engine/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sstream>

namespace rcnn::engine {

void atomic_write(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw CheckpointError(path + ": cannot create temporary file " + tmp + " (" + std::strerror(errno) + ")");
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
    if (n <= 0) {
      const std::string why = n < 0 ? std::strerror(errno) : "no progress";
      ::close(fd);
      std::remove(tmp.c_str());
      throw CheckpointError(path + ": write failed (" + why + ")");
    }
    off += size_t(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    throw CheckpointError(path + ": fsync failed (" + why + ")");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    throw CheckpointError(path + ": rename from " + tmp + " failed (" + why + ")");
  }
  auto dir = std::filesystem::path(path).parent_path();
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

std::vector<NamedTensor> module_tensors(torch::nn::Module& module) {
  std::vector<NamedTensor> out;
  for (const auto& p : module.named_parameters()) out.push_back({p.key(), p.value(), false});
  for (const auto& b : module.named_buffers()) out.push_back({b.key(), b.value(), true});
  return out;
}

void save_checkpoint(const std::string& path, modeling::FasterRCNN& model, torch::optim::Optimizer* optimizer,
                     const CheckpointMeta& meta, torch::Generator* gen) {
  CheckpointMeta m = meta;
  if (m.config_json.empty()) m.config_json = config_to_json_string(model->cfg);
  save_checkpoint(path, module_tensors(*model), optimizer, m, gen);
}

void save_checkpoint(const std::string& path, const std::vector<NamedTensor>& weights,
                     torch::optim::Optimizer* optimizer, const CheckpointMeta& meta, torch::Generator* gen) {
  torch::serialize::OutputArchive ar;
  ar.write("format", c10::IValue(std::string("rcnn-studio-checkpoint-v1")));
  ar.write("iteration", c10::IValue(meta.iteration));
  ar.write("epoch", c10::IValue(meta.epoch));
  ar.write("batch_in_epoch", c10::IValue(meta.batch_in_epoch));
  ar.write("images_in_epoch", c10::IValue(meta.images_in_epoch));
  ar.write("world_size", c10::IValue(meta.world_size));
  ar.write("best_map", c10::IValue(meta.best_map));
  ar.write("last_map", c10::IValue(meta.last_map));
  ar.write("config", c10::IValue(meta.config_json));
  torch::serialize::OutputArchive m;
  for (const auto& w : weights) m.write(w.name, w.tensor.detach().cpu(), w.buffer);
  ar.write("model", m);
  if (optimizer) {
    torch::serialize::OutputArchive o;
    optimizer->save(o);
    ar.write("optimizer", o);
  }
  if (gen) ar.write("rng", gen->get_state());
  std::ostringstream os;
  ar.save_to(os);
  atomic_write(path, os.str());
}

namespace {
// LibTorch's message on one line, shortened: TorchScript's ErrorReport spans
// several lines with a source excerpt.
std::string brief(const char* what, size_t max_len = 160) {
  std::string out;
  for (const char* c = what; *c && out.size() < max_len; ++c) {
    const bool space = *c == '\n' || *c == ' ' || *c == '\t';
    if (space && (out.empty() || out.back() == ' ')) continue;
    out += space ? ' ' : *c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

torch::serialize::InputArchive open_archive(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) throw CheckpointError(path + ": checkpoint not found");
  if (std::filesystem::file_size(path) == 0) throw CheckpointError(path + ": checkpoint is empty (0 bytes)");
  torch::serialize::InputArchive ar;
  try {
    ar.load_from(path);
    c10::IValue v;
    if (!ar.try_read("format", v) || !v.isString() || v.toStringRef() != "rcnn-studio-checkpoint-v1")
      throw CheckpointError(path + ": not an RCNN Studio checkpoint");
  } catch (const c10::Error& e) {
    throw CheckpointError(path + ": corrupt or truncated checkpoint (" + brief(e.what_without_backtrace()) + ")");
  } catch (const CheckpointError&) {
    throw;
  } catch (const std::exception& e) {
    // Found by scripts/fuzz.sh (checkpoint): a damaged TorchScript type in
    // the archive makes LibTorch throw torch::jit::ErrorReport, which is not
    // a c10::Error; it ended the process.
    throw CheckpointError(path + ": corrupt or truncated checkpoint (" + brief(e.what()) + ")");
  }
  return ar;
}

CheckpointMeta read_meta(torch::serialize::InputArchive& ar) {
  CheckpointMeta m;
  c10::IValue v;
  ar.read("iteration", v);
  m.iteration = v.toInt();
  ar.read("epoch", v);
  m.epoch = v.toInt();
  ar.read("batch_in_epoch", v);
  m.batch_in_epoch = v.toInt();
  if (ar.try_read("images_in_epoch", v)) m.images_in_epoch = v.toInt();
  if (ar.try_read("world_size", v)) m.world_size = v.toInt();
  ar.read("best_map", v);
  m.best_map = v.toDouble();
  ar.read("last_map", v);
  m.last_map = v.toDouble();
  ar.read("config", v);
  m.config_json = v.toStringRef();
  return m;
}
}  // namespace

CheckpointMeta read_checkpoint_meta(const std::string& path) {
  auto ar = open_archive(path);
  try {
    return read_meta(ar);
  } catch (const c10::Error& e) {
    throw CheckpointError(path + ": checkpoint lacks its metadata (" + brief(e.what_without_backtrace(), 120) + ")");
  }
}

CheckpointMeta load_checkpoint(const std::string& path, modeling::FasterRCNN& model, torch::optim::Optimizer* optimizer,
                               torch::Generator* gen) {
  return load_checkpoint(path, module_tensors(*model), optimizer, gen);
}

CheckpointMeta load_checkpoint(const std::string& path, const std::vector<NamedTensor>& weights,
                               torch::optim::Optimizer* optimizer, torch::Generator* gen) {
  auto ar = open_archive(path);
  try {
    CheckpointMeta meta = read_meta(ar);
    torch::serialize::InputArchive m;
    ar.read("model", m);
    torch::NoGradGuard ng;
    auto load_into = [&](const std::string& key, torch::Tensor dst, bool buffer) {
      torch::Tensor t;
      if (!m.try_read(key, t, buffer)) throw CheckpointError(path + ": missing tensor '" + key + "'");
      if (t.sizes() != dst.sizes()) {
        std::ostringstream os;
        os << path << ": tensor '" << key << "' has shape " << t.sizes() << ", model expects " << dst.sizes();
        throw CheckpointError(os.str());
      }
      dst.copy_(t);
    };
    for (const auto& w : weights) load_into(w.name, w.tensor, w.buffer);
    if (optimizer) {
      torch::serialize::InputArchive o;
      if (ar.try_read("optimizer", o)) optimizer->load(o);
    }
    if (gen) {
      torch::Tensor s;
      if (ar.try_read("rng", s)) gen->set_state(s);
    }
    return meta;
  } catch (const c10::Error& e) {
    throw CheckpointError(path + ": cannot read checkpoint (" + brief(e.what_without_backtrace()) + ")");
  } catch (const CheckpointError&) {
    throw;
  } catch (const std::exception& e) {
    throw CheckpointError(path + ": cannot read checkpoint (" + brief(e.what()) + ")");
  }
}

std::vector<std::string> checkpoint_tensor_names(const std::string& path) {
  auto ar = open_archive(path);
  try {
    torch::serialize::InputArchive m;
    ar.read("model", m);
    return m.keys();
  } catch (const c10::Error& e) {
    throw CheckpointError(path + ": cannot read checkpoint (" + brief(e.what_without_backtrace()) + ")");
  }
}

std::vector<NamedTensor> read_checkpoint_weights(const std::string& path) {
  auto ar = open_archive(path);
  try {
    torch::serialize::InputArchive m;
    ar.read("model", m);
    std::vector<NamedTensor> out;
    for (const auto& k : m.keys()) {
      NamedTensor t{k, torch::Tensor(), false};
      if (!m.try_read(k, t.tensor, false) && !m.try_read(k, t.tensor, true)) continue;
      out.push_back(std::move(t));
    }
    return out;
  } catch (const c10::Error& e) {
    throw CheckpointError(path + ": cannot read checkpoint (" + brief(e.what_without_backtrace()) + ")");
  }
}

modeling::FasterRCNN load_model(const std::string& path, const torch::Device& device, DetectorConfig* cfg_out) {
  auto meta = read_checkpoint_meta(path);
  DetectorConfig cfg;
  try {
    cfg = config_from_json_string(meta.config_json, path + " (embedded config)");
  } catch (const ConfigError& e) {
    throw CheckpointError(e.what());
  }
  if (cfg.is_torchvision())
    throw CheckpointError(path + ": a torchvision detector's training checkpoint (" + cfg.name +
                          "), not one of the seed's detectors");
  modeling::FasterRCNN model(cfg);
  load_checkpoint(path, model);
  model->to(device);
  model->eval();
  if (cfg_out) *cfg_out = cfg;
  return model;
}

}  // namespace rcnn::engine
