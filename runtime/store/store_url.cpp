#include "runtime/store/store_url.h"

#include <algorithm>
#include <cctype>
#include <vector>

namespace nnspec::rt {
namespace {

constexpr std::string_view kSchemes[] = {"postgresql://", "postgres://"};

bool startsWith(std::string_view text, std::string_view prefix) { return text.substr(0, prefix.size()) == prefix; }

bool isPasswordParameter(std::string_view parameter) {
  constexpr std::string_view kKey = "password=";
  if (parameter.size() < kKey.size()) return false;
  for (size_t k = 0; k < kKey.size(); ++k) {
    if (std::tolower(static_cast<unsigned char>(parameter[k])) != kKey[k]) return false;
  }
  return true;
}

// "user:secret@host:port" → "user@host:port". libpq splits the user information at the
// first '@'; a password holding an unescaped '@' is cut at the last one, so that no part
// of it stays.
std::string redactAuthority(std::string_view authority) {
  const size_t at = authority.rfind('@');
  if (at == std::string_view::npos) return std::string(authority);
  const std::string_view user_info = authority.substr(0, at);
  const size_t colon = user_info.find(':');
  if (colon == std::string_view::npos) return std::string(authority);
  return std::string(user_info.substr(0, colon)) + std::string(authority.substr(at));
}

// "password=x&sslmode=y" → "sslmode=y".
std::string redactQuery(std::string_view query) {
  std::vector<std::string_view> kept;
  size_t start = 0;
  while (start <= query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    const std::string_view parameter = query.substr(start, end - start);
    if (!parameter.empty() && !isPasswordParameter(parameter)) kept.push_back(parameter);
    start = end + 1;
  }
  std::string out;
  for (std::string_view parameter : kept) {
    if (!out.empty()) out += '&';
    out.append(parameter);
  }
  return out;
}

}  // namespace

bool isPostgresUrl(std::string_view location) {
  for (std::string_view scheme : kSchemes) {
    if (startsWith(location, scheme)) return true;
  }
  return false;
}

std::string redactStoreUrl(std::string_view location) {
  if (!isPostgresUrl(location)) return std::string(location);
  const size_t authority_start = location.find("://") + 3;
  const size_t authority_end = std::min(location.find_first_of("/?", authority_start), location.size());
  std::string out(location.substr(0, authority_start));
  out += redactAuthority(location.substr(authority_start, authority_end - authority_start));
  const size_t query_start = location.find('?', authority_start);
  if (query_start == std::string_view::npos) {
    out.append(location.substr(authority_end));
    return out;
  }
  out.append(location.substr(authority_end, query_start - authority_end));
  const std::string query = redactQuery(location.substr(query_start + 1));
  if (!query.empty()) out += '?' + query;
  return out;
}

}  // namespace nnspec::rt
