#include "actors/admission.hpp"

#include "client/host_port.hpp"
#include "security/tokens.hpp"

namespace rumor::actors {

std::optional<std::string> peer_refusal(const security::tls_session* tls, const replication::hello& h) {
  if (tls == nullptr) return std::nullopt;
  const auto& id = tls->peer();
  if (!id.has_certificate()) return std::string("it presented no certificate");
  if (id.role() != security::cert_role::node) return "its certificate (" + id.describe() + ") is not a node certificate";
  auto hp = client::parse_host_port(h.address);
  if (!hp) return "it announces '" + h.address + "', not a HOST:PORT";
  if (!id.names_host(hp->host))
    return "it announces " + h.address + ", and its certificate (" + id.describe() + ") does not name " + hp->host;
  return std::nullopt;
}

std::optional<std::string> client_refusal(const transport_credentials& cred, const security::tls_session* tls,
                                          const replication::hello& h) {
  if (tls != nullptr && tls->peer().has_certificate()) return std::nullopt;  // verified against our CA by TLS
  if (!cred.client_tokens.empty()) {
    if (h.token.empty()) return std::string("no client certificate and no token");
    if (!security::token_matches(h.token, cred.client_tokens)) return std::string("a wrong token");
    return std::nullopt;
  }
  if (tls != nullptr) return std::string("no client certificate (and this node takes no tokens)");
  return std::nullopt;  // plaintext, no tokens: anyone
}

std::string security_mode(const transport_credentials& cred) {
  bool tokens = !cred.client_tokens.empty();
  if (cred.tls) return tokens ? "tls+token" : "tls";
  return tokens ? "token" : "none";
}

}  // namespace rumor::actors
