#pragma once
// netns_enter: run a piece of code with the calling thread inside a named network namespace
// (/var/run/netns/NAME, as `ip netns add` makes), then return it to the namespace it was in.
// Sockets keep the namespace they were created in, so a connection opened by
//   in_netns("lab-n0", [&] { return client::connection::connect("198.18.0.1:7000", 500); })
// talks inside lab-n0 for the rest of its life, from any thread.
// An empty name runs fn() where the thread is. Needs CAP_SYS_ADMIN (root) for a non-empty name;
// if the namespace cannot be entered, fn() is not run and `on_error` is returned.

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <string>
#include <utility>

namespace rumor::test {

// Enters `ns` (REQUIRES: non-empty) for the calling thread; returns the fd of the namespace it left
// (to pass to leave_netns), or -1 if it could not.
inline int enter_netns(const std::string& ns) {
  int self = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0) return -1;
  int target = ::open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
  if (target < 0 || ::setns(target, CLONE_NEWNET) != 0) {
    if (target >= 0) ::close(target);
    ::close(self);
    return -1;
  }
  ::close(target);
  return self;
}

inline void leave_netns(int self) {
  if (self < 0) return;
  (void)::setns(self, CLONE_NEWNET);
  ::close(self);
}

template <class Fn, class R = std::invoke_result_t<Fn>>
R in_netns(const std::string& ns, Fn fn, R on_error) {
  if (ns.empty()) return fn();
  int self = enter_netns(ns);
  if (self < 0) return on_error;
  R r = fn();
  leave_netns(self);
  return r;
}

}  // namespace rumor::test
