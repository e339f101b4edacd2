#pragma once
// Internal to core/api: the one conversion from the readers' records to the
// api's plain types.
#include "api/dataset.h"
#include "data/dataset.h"

namespace rcnn::api {

std::vector<GtObject> to_gt_objects(const data::ImageRecord& r);
DatasetInfo to_info(const data::Dataset& ds);

}  // namespace rcnn::api
