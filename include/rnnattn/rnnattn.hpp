// Umbrella header: the whole public API of rnnattn. Host-only: any C++17 compiler can include it.
#pragma once

#include "rnnattn/adam.hpp"
#include "rnnattn/backend.hpp"
#include "rnnattn/checkpoint.hpp"
#include "rnnattn/config.hpp"
#include "rnnattn/data.hpp"
#include "rnnattn/error.hpp"
#include "rnnattn/params.hpp"
#include "rnnattn/random.hpp"
#include "rnnattn/reference.hpp"
#include "rnnattn/safetensors.hpp"
#include "rnnattn/text.hpp"
#include "rnnattn/trainer.hpp"
#include "rnnattn/version.hpp"
