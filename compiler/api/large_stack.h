#pragma once
// The parser and the tree walkers recurse; an embedding program's thread may have a small
// stack. Checks and runs therefore start on a thread of their own with a large stack
// (as driver::checkSource does).

#include <functional>

namespace nnspec::api {

// Runs `work` on a new thread with a 1 GiB stack (reserved, not committed) and waits for
// it; on the calling thread when no such thread can be made. An exception thrown by
// `work` is rethrown here.
void runOnLargeStack(const std::function<void()>& work);

}  // namespace nnspec::api
