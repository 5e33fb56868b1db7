#pragma once
// The dashboard page served at / by http_server (http/dashboard.html, embedded at build time).

#include <string_view>

namespace rumor::http {

// The whole page (HTML with its script and style; no external resources).
std::string_view dashboard_page() noexcept;

}  // namespace rumor::http
