#pragma once
// Plain types shared by every front end. No torch here.
#include <cstdint>
#include <string>
#include <vector>

#include "api/stages.h"

namespace rcnn::api {

struct Box {
  float x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  float width() const { return x2 - x1; }
  float height() const { return y2 - y1; }
};

struct GtObject {
  Box box;  // original-image coordinates
  int label = 0;
  bool difficult = false;
  bool crowd = false;
  int source_index = -1;  // its 0-based position in the annotation file (data/dataset.h), -1 where unknown
};

// 8-bit RGB, row-major, width * height * 3 bytes.
struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;
};

struct Detection {
  Box box;           // model-input coordinates
  Box box_original;  // original-image coordinates
  int label = 0;
  float score = 0;
  int proposal = -1;  // index into PipelineTrace::kept
};

// The stages in pipeline order (api/stages.h has the list).
#define RCNN_STAGE_ENUM(id, name, train) id,
enum class Stage : int { RCNN_STAGE_LIST(RCNN_STAGE_ENUM) };
#undef RCNN_STAGE_ENUM
#define RCNN_STAGE_COUNT(id, name, train) +1
constexpr int kNumStages = 0 RCNN_STAGE_LIST(RCNN_STAGE_COUNT);
#undef RCNN_STAGE_COUNT
const char* stage_name(Stage s);
// Whether the stage shows the training step on the current image
// (Session::set_train_view: computed only while such a stage is open).
bool stage_shows_training_step(Stage s);

float box_iou(const Box& a, const Box& b);

// The class colour of every front end (Sasha Trubetskoy's 10 distinct colours), RGB.
struct Rgb8 {
  uint8_t r, g, b;
};
inline Rgb8 class_rgb(int label) {
  static const Rgb8 pal[] = {{230, 25, 75},  {60, 180, 75},  {255, 225, 25}, {67, 99, 216},  {245, 130, 49},
                             {145, 30, 180}, {66, 212, 244}, {240, 50, 230}, {191, 239, 69}, {250, 190, 212}};
  return pal[(label < 0 ? -label : label) % 10];
}

}  // namespace rcnn::api
