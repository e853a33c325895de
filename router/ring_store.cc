// ring_store.cc — atomic, durable replacement of the persisted ring and rebalance moves (see
// ring_store.h).
#include "router/ring_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "ring/ring_proto.h"
#include "ringcast/v1/ring.pb.h"

namespace ringcast::router {
namespace {

absl::Status ErrnoError(int error, std::string_view what) {
  return absl::InternalError(absl::StrCat(std::string(what), ": ", std::strerror(error)));
}

// Writes all of `bytes` to `fd`, retrying short writes.
bool WriteAll(int fd, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// fsync of a directory, so a rename inside it survives a crash.
absl::Status SyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(errno, absl::StrCat("open ", dir));
  const int result = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  return result == 0 ? absl::OkStatus() : ErrnoError(error, absl::StrCat("fsync ", dir));
}

// The bytes of `path`, or nullopt when it does not exist. DATA_LOSS naming `what` when it
// exists but cannot be read.
absl::StatusOr<std::optional<std::string>> ReadFileIfExists(const std::string& path,
                                                            std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (!std::filesystem::exists(path)) return std::optional<std::string>();
    return absl::DataLossError(absl::StrCat("cannot read ", std::string(what), " ", path));
  }
  std::stringstream bytes;
  bytes << in.rdbuf();
  return std::optional<std::string>(bytes.str());
}

}  // namespace

RingStore::RingStore(std::string dir, int lock_fd)
    : dir_(std::move(dir)),
      path_(dir_ + "/ring.pb"),
      rebalance_path_(dir_ + "/rebalance.pb"),
      lock_fd_(lock_fd) {}

RingStore::~RingStore() { ::close(lock_fd_); }  // closing releases the flock

absl::StatusOr<std::unique_ptr<RingStore>> RingStore::Open(const std::string& state_dir) {
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot create state_dir ", state_dir, ": ", ec.message()));
  }
  const std::string lock_path = state_dir + "/LOCK";
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError(errno, absl::StrCat("open ", lock_path));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    ::close(fd);
    if (error == EWOULDBLOCK) {
      return absl::FailedPreconditionError(
          absl::StrCat("state_dir ", state_dir, " is in use by another router (", lock_path,
                       " is locked)"));
    }
    return ErrnoError(error, absl::StrCat("flock ", lock_path));
  }
  return std::unique_ptr<RingStore>(new RingStore(state_dir, fd));
}

absl::StatusOr<std::optional<Ring>> RingStore::Load() {
  absl::StatusOr<std::optional<std::string>> bytes =
      ReadFileIfExists(path_, "the persisted ring");
  if (!bytes.ok()) return bytes.status();
  if (!bytes->has_value()) return std::optional<Ring>();
  v1::RingSnapshot snapshot;
  if (!snapshot.ParseFromString(**bytes)) {
    return absl::DataLossError(
        absl::StrCat("the persisted ring ", path_, " is corrupt (not a ringcast.v1.RingSnapshot); "
                     "restore it from a backup or move it away to seed a new cluster"));
  }
  absl::StatusOr<Ring> ring = RingFromProto(snapshot);
  if (!ring.ok()) {
    return absl::DataLossError(absl::StrCat("the persisted ring ", path_,
                                            " is invalid: ", ring.status().message()));
  }
  absl::MutexLock lock(&mu_);
  version_ = std::max(version_, ring->version());
  return std::optional<Ring>(*std::move(ring));
}

absl::Status RingStore::Save(const Ring& ring) {
  absl::MutexLock lock(&mu_);
  if (ring.version() <= version_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "ring version ", ring.version(), " is not newer than the persisted version ", version_));
  }
  if (absl::Status s = ReplaceFile(path_, RingToProto(ring).SerializeAsString()); !s.ok()) {
    return s;
  }
  version_ = ring.version();
  return absl::OkStatus();
}

absl::StatusOr<std::optional<v1::RebalanceSnapshot>> RingStore::LoadRebalance() {
  absl::StatusOr<std::optional<std::string>> bytes =
      ReadFileIfExists(rebalance_path_, "the persisted rebalance moves");
  if (!bytes.ok()) return bytes.status();
  if (!bytes->has_value()) return std::optional<v1::RebalanceSnapshot>();
  v1::RebalanceSnapshot snapshot;
  if (!snapshot.ParseFromString(**bytes)) {
    return absl::DataLossError(absl::StrCat("the persisted rebalance moves ", rebalance_path_,
                                            " are corrupt (not a ringcast.v1.RebalanceSnapshot)"));
  }
  return std::optional<v1::RebalanceSnapshot>(std::move(snapshot));
}

absl::Status RingStore::SaveRebalance(const v1::RebalanceSnapshot& snapshot) {
  absl::MutexLock lock(&mu_);
  return ReplaceFile(rebalance_path_, snapshot.SerializeAsString());
}

absl::Status RingStore::ReplaceFile(const std::string& path, const std::string& bytes) {
  const std::string temp = path + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError(errno, absl::StrCat("open ", temp));
  const bool written = WriteAll(fd, bytes) && ::fsync(fd) == 0;
  const int error = errno;
  ::close(fd);
  if (!written) return ErrnoError(error, absl::StrCat("write ", temp));
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    return ErrnoError(errno, absl::StrCat("rename ", temp, " to ", path));
  }
  return SyncDirectory(dir_);
}

}  // namespace ringcast::router
