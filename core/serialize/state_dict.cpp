#include "serialize/state_dict.h"

#include <caffe2/serialize/inline_container.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "serialize/pickle_reader.h"
#include "serialize/pickle_writer.h"

namespace rcnn::serialize {

const torch::Tensor* StateDict::find(const std::string& key) const {
  for (const auto& [k, v] : entries)
    if (k == key) return &v;
  return nullptr;
}

namespace {

bool is_zip(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error(path + ": cannot open");
  char magic[4] = {};
  f.read(magic, 4);
  return f.gcount() == 4 && std::memcmp(magic, "PK\x03\x04", 4) == 0;
}

bool all_tensors(const PyValue& d) {
  if (d.kind != PyValue::Kind::Dict || d.entries.empty()) return false;
  for (const auto& [k, v] : d.entries)
    if (k->kind != PyValue::Kind::Str || v->kind != PyValue::Kind::Tensor) return false;
  return true;
}


StateDict read_state_dict_unguarded(const std::string& path) {
  if (!is_zip(path))
    throw std::runtime_error(path +
                             ": not a torch.save zip archive (files from torch < 1.6 or "
                             "_use_new_zipfile_serialization=False: load and save it again with a newer torch)");
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> zip;
  try {
    zip = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": unreadable zip archive: " + std::string(e.what()).substr(0, 200));
  }
  if (zip->hasRecord("byteorder")) {
    auto [ptr, n] = zip->getRecord("byteorder");
    if (std::string(static_cast<const char*>(ptr.get()), n) != "little")
      throw std::runtime_error(path + ": big-endian tensors are not supported");
  }
  if (!zip->hasRecord("data.pkl")) throw std::runtime_error(path + ": no data.pkl in the archive");
  auto [pkl, pkl_size] = zip->getRecord("data.pkl");
  auto load = [&](const std::string& key, torch::ScalarType dtype, int64_t numel) {
    const std::string rec = "data/" + key;
    if (key.find('/') != std::string::npos || !zip->hasRecord(rec))
      throw std::runtime_error(path + ": storage record " + rec + " missing");
    auto [ptr, n] = zip->getRecord(rec);
    const size_t elem = c10::elementSize(dtype);
    if (numel < 0 || n != size_t(numel) * elem)
      throw std::runtime_error(path + ": storage " + key + " has " + std::to_string(n) + " bytes, expected " +
                               std::to_string(numel) + " x " + std::to_string(elem));
    auto t = torch::empty({numel}, torch::TensorOptions().dtype(dtype));
    if (n) std::memcpy(t.data_ptr(), ptr.get(), n);
    return t;
  };
  const auto root = read_pickle(static_cast<const char*>(pkl.get()), pkl_size, load, path);
  PyRef sd = root;
  if (!all_tensors(*sd))
    for (const char* k : {"model", "state_dict", "model_state_dict"})
      if (auto v = root->get(k); v && all_tensors(*v)) {
        sd = v;
        break;
      }
  if (!all_tensors(*sd))
    throw std::runtime_error(path + ": holds a " + std::string(root->kind_name()) +
                             ", not a state dict (a dict of tensors, or a checkpoint dict with a \"model\" key)");
  StateDict out;
  for (const auto& [k, v] : sd->entries) out.entries.emplace_back(k->s, v->tensor);
  return out;
}

}  // namespace

StateDict read_state_dict(const std::string& path) {
  try {
    return read_state_dict_unguarded(path);
  } catch (const c10::Error& e) {
    // Found by scripts/fuzz.sh (pth): a record whose local header is damaged
    // passes the archive's directory check and fails in getRecord with a
    // c10::Error, which is not a std::runtime_error and named no file.
    std::string what = e.what_without_backtrace();
    if (what.size() > 200) what.resize(200);
    throw std::runtime_error(path + ": damaged zip archive: " + what);
  }
}

void write_state_dict(const std::string& path, const StateDict& sd) {
  std::vector<std::string> keys;
  std::vector<torch::Tensor> data;
  for (size_t i = 0; i < sd.entries.size(); ++i) {
    keys.push_back(std::to_string(i));
    data.push_back(sd.entries[i].second.detach().to(torch::kCPU).contiguous());
  }
  std::vector<std::pair<std::string, torch::Tensor>> entries;
  for (size_t i = 0; i < sd.entries.size(); ++i) entries.emplace_back(sd.entries[i].first, data[i]);
  const std::string pkl = pickle_state_dict(entries, keys);
  const std::string tmp = path + ".tmp";
  try {
    caffe2::serialize::PyTorchStreamWriter w(tmp);
    w.writeRecord("data.pkl", pkl.data(), pkl.size());
    w.writeRecord("byteorder", "little", 6);
    for (size_t i = 0; i < data.size(); ++i)
      w.writeRecord("data/" + keys[i], data[i].data_ptr(), size_t(data[i].numel()) * data[i].element_size());
    w.writeEndOfFile();
  } catch (const std::exception& e) {
    std::remove(tmp.c_str());
    throw std::runtime_error(path + ": cannot write: " + std::string(e.what()).substr(0, 200));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw std::runtime_error(path + ": cannot write: " + ec.message());
  }
}

}  // namespace rcnn::serialize
