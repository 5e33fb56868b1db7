#include "persistence/lmdb_util.hpp"

#include <cerrno>

namespace rumor::persistence::lmdb {

error to_error(int rc, std::string_view what, std::string_view dir) {
  errc code = errc::io_error;
  switch (rc) {
    case MDB_MAP_FULL:
    case ENOSPC:  // the file system is full: as full as a map that cannot grow
    case EDQUOT:
      code = errc::map_full;
      break;
    case MDB_TXN_FULL:
      code = errc::too_large;
      break;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
      code = errc::corrupt;
      break;
    case MDB_VERSION_MISMATCH:
      code = errc::unsupported_version;
      break;
    case MDB_READERS_FULL:
      code = errc::busy;
      break;
    default:
      break;
  }
  std::string msg{what};
  msg += " in '";
  msg += dir;
  msg += "': ";
  msg += mdb_strerror(rc);
  return error{code, std::move(msg)};
}

}  // namespace rumor::persistence::lmdb
