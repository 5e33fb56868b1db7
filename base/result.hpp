#pragma once
// Internal spelling of the public header: result<T> lives in include/rumor/result.hpp.
#include "rumor/result.hpp"
