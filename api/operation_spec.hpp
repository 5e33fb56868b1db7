#pragma once
// rumor::operation::spec — what a public rumor::operation carries: the client protocol's update
// (its key is filled in when the operation is applied). Internal to the library.

#include <rumor/node.hpp>

#include "client/client_messages.hpp"

namespace rumor {

struct operation::spec {
  client::update update;
};

}  // namespace rumor
