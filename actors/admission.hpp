#pragma once
// admission: who may use a connection, decided at its hello once TLS (if any) has verified the
// other side's certificate chain. The transport broker asks; these functions only read. See
// actors/transport.hpp, "Security", and README "Security".
//
//   - A peer over TLS must hold a node certificate (OU rumor-node) whose subjectAltNames name the
//     host of the address its hello announces. Without TLS any peer of the cluster is admitted.
//   - A client over TLS with a verified certificate (any role) is admitted. Otherwise, when the
//     node has client tokens, the hello must carry one of them; without tokens, a TLS client
//     without a certificate is refused and a plaintext client admitted.
//
// A refusal is a reason for the log (it names the certificate or "a wrong token", never the token).

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "replication/messages.hpp"
#include "security/tls_context.hpp"
#include "security/tls_session.hpp"

namespace rumor::actors {

// Who may connect to a node. Default: plaintext, anyone.
struct transport_credentials {
  std::shared_ptr<const security::tls_context> tls;  // null: plaintext TCP
  std::vector<std::string> client_tokens;            // non-empty: clients without a certificate need one
};

// Why the peer that said `h` on a connection with session `tls` (null: plaintext) is refused;
// nullopt: it is admitted.
std::optional<std::string> peer_refusal(const security::tls_session* tls, const replication::hello& h);

// Why the client that said `h` is refused; nullopt: admitted.
std::optional<std::string> client_refusal(const transport_credentials& cred, const security::tls_session* tls,
                                          const replication::hello& h);

// "tls", "tls+token", "token" or "none": what `rumor status` says of who may connect.
std::string security_mode(const transport_credentials& cred);

}  // namespace rumor::actors
