#pragma once
// rumor::result<T> — a value or an error (a minimal std::expected for C++20).
// result<void> is the status of an operation with no value.
//
//   result<int> r = parse(x);
//   if (!r) return r.err();        // propagate
//   use(*r);

#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

#include <rumor/error.hpp>

namespace rumor {

template <class T>
class [[nodiscard]] result {
 public:
  result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  result(error e) : v_(std::in_place_index<1>, std::move(e)) { assert(std::get<1>(v_).code != errc::ok); }
  result(errc c, std::string msg) : result(error{c, std::move(msg)}) {}

  bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  // REQUIRES: has_value().
  T& value() & { assert(has_value()); return std::get<0>(v_); }
  const T& value() const& { assert(has_value()); return std::get<0>(v_); }
  T&& value() && { assert(has_value()); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // REQUIRES: !has_value().
  const error& error_value() const& { assert(!has_value()); return std::get<1>(v_); }
  error&& error_value() && { assert(!has_value()); return std::get<1>(std::move(v_)); }
  const rumor::error& err() const { return error_value(); }

 private:
  std::variant<T, rumor::error> v_;
};

template <>
class [[nodiscard]] result<void> {
 public:
  result() = default;
  result(error e) : e_(std::move(e)) { assert(e_.code != errc::ok); }
  result(errc c, std::string msg) : result(error{c, std::move(msg)}) {}

  bool has_value() const noexcept { return e_.code == errc::ok; }
  explicit operator bool() const noexcept { return has_value(); }
  // REQUIRES: !has_value().
  const rumor::error& err() const { assert(!has_value()); return e_; }
  const rumor::error& error_value() const { return err(); }

 private:
  rumor::error e_;
};

using status = result<void>;

}  // namespace rumor
