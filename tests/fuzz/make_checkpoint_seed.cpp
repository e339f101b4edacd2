// Writes the fuzz_checkpoint seed: an archive laid out as save_checkpoint
// writes one (format tag, meta, config, a model sub-archive with two small
// tensors, an RNG state), small enough to mutate quickly.
//   make_checkpoint_seed OUT.pt
#include <torch/torch.h>

#include <fstream>
#include <sstream>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  torch::serialize::OutputArchive ar;
  ar.write("format", c10::IValue(std::string("rcnn-studio-checkpoint-v1")));
  ar.write("iteration", c10::IValue(int64_t(40)));
  ar.write("epoch", c10::IValue(int64_t(1)));
  ar.write("batch_in_epoch", c10::IValue(int64_t(3)));
  ar.write("images_in_epoch", c10::IValue(int64_t(12)));
  ar.write("world_size", c10::IValue(int64_t(2)));
  ar.write("best_map", c10::IValue(0.25));
  ar.write("last_map", c10::IValue(0.125));
  ar.write("config", c10::IValue(std::string(R"({"preset":"fast","model":{"num_classes":3}})")));
  torch::serialize::OutputArchive m;
  m.write("rpn.head.conv.weight", torch::arange(12, torch::kFloat).reshape({1, 3, 2, 2}));
  m.write("backbone.bn.running_mean", torch::ones({3}), true);
  ar.write("model", m);
  ar.write("rng", torch::make_generator<at::CPUGeneratorImpl>(7).get_state());
  std::ostringstream os;
  ar.save_to(os);
  std::ofstream(argv[1], std::ios::binary) << os.str();
  return 0;
}
