// An RCNN Studio checkpoint (LibTorch archive: format tag, meta, config,
// weights): read_checkpoint_meta returns the meta or throws CheckpointError
// naming the file; anything else is a finding. This is what the studio and
// `rcnn` read first from any checkpoint a user opens.
#include "engine/checkpoint.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = fuzz::scratch() / "last.pt";
  fuzz::write(path, data, size);
  try {
    const auto meta = rcnn::engine::read_checkpoint_meta(path.string());
    (void)meta.config_json.size();
  } catch (const rcnn::engine::CheckpointError&) {
  }
  return 0;
}
