#pragma once
// Text from a data file, made fit to quote in a message: valid UTF-8 is kept, control
// characters and bytes that are not UTF-8 are escaped (\0, \x7f, ...), and a long text is
// cut to `max_chars` characters with its full size noted, so that a binary file read as
// CSV or a 10 MB field gives a short, printable, valid-UTF-8 message.

#include <cstddef>
#include <string>
#include <string_view>

namespace nnspec::rt {

std::string quotableText(std::string_view text, size_t max_chars = 60);

}  // namespace nnspec::rt
