#pragma once
// Internal spelling of the public header: the error vocabulary lives in include/rumor/error.hpp.
#include "rumor/error.hpp"
