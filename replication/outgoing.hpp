#pragma once
// outgoing: a message a state machine wants sent. The caller (actors/ transport, or the simulator)
// delivers it to node `to`, or — when `to` is 0, e.g. a join to a seed whose id is unknown — to
// `address`.

#include <string>
#include <vector>

#include "replication/messages.hpp"

namespace rumor::replication {

struct outgoing {
  node_id to = 0;
  std::string address;
  message msg;
};

using outbox = std::vector<outgoing>;

}  // namespace rumor::replication
