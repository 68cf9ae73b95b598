// rnnattn GPU simulator: what a .cu file sees from <cuda_runtime.h> when it is compiled as C++
// against the simulator. Each CUDA thread runs as a fiber; see sim/include/rnnattn_sim/device.hpp.
#pragma once

#include <math.h>

#include "cuda_runtime_api.h"
#include "rnnattn_sim/device.hpp"
