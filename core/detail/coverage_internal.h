#pragma once
// Internal to core/api: coverage of an already opened split under a resolved
// config (run_coverage opens them; the anchor search reuses one opening).
#include "api/coverage_job.h"
#include "config/detector_config.h"
#include "data/dataset.h"

namespace rcnn::api {

// The request's config (config_json, else the preset/file) with its overrides and ds's classes.
DetectorConfig resolve_config(const CoverageRequest& req, const data::Dataset& ds);

// How the per-GT facts are computed: from the anchors near each GT
// (analysis::SparseMatcher), or with the detector's Matcher on the dense
// anchors x GT IoU matrix (the reference the tests and the benchmark compare
// against; the results are equal).
enum class CoverageMethod { Windowed, Dense };

// The first n images of ds, or just `only` among them when non-empty.
CoverageReport coverage_on(const data::Dataset& ds, const DetectorConfig& cfg, int n, const std::vector<int>& only,
                           const std::function<void(int, int)>& progress = {},
                           CoverageMethod method = CoverageMethod::Windowed);

// The anchor search on an opened split (suggest_anchors opens it).
SuggestReport suggest_on(const data::Dataset& ds, const DetectorConfig& cfg, int n, const SuggestRequest& req,
                         const std::function<void(int, int)>& progress = {});

}  // namespace rcnn::api
