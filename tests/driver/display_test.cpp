// How the terminal shows point keys: float noise shortened, everything else as stored.
#include <catch2/catch.hpp>

#include "compiler/driver/run.h"

namespace nnspec::driver {
namespace {

TEST_CASE("display points shorten float noise and leave the rest of a key alone", "[driver]") {
  CHECK(displayPoint("decay=0.0005005000000000001") == "decay=0.0005005");
  CHECK(displayPoint("decay=0.00025075") == "decay=0.00025075");
  CHECK(displayPoint("lr=0.1, hidden=[50, 25]") == "lr=0.1, hidden=[50, 25]");
  CHECK(displayPoint("x=-1.2345678901234, y=3.0000000000000004e-05") == "x=-1.23457, y=3e-05");
  CHECK(displayPoint("units_1=172, lr=0.0021400000000000004, optimizer=adam(lr: 0.0021400000000000004)") ==
        "units_1=172, lr=0.00214, optimizer=adam(lr: 0.00214)");
  CHECK(displayPoint("") == "");
}

}  // namespace
}  // namespace nnspec::driver
