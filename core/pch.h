// Precompiled header for the torch part of core (LibTorch headers cost
// ~20 s per translation unit without it).
#pragma once
#include <torch/torch.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>
