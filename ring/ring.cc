// ring.cc — building the partition table and changing it with the fewest moves.
//
// Quotas. With total weight W, member i's ideal share is Q * w_i / W partitions. Every member
// must end with floor(ideal) or ceil(ideal). All quota arithmetic is exact integer arithmetic on
// Q * w_i = floor_i * W + rem_i, so ties and orderings never depend on floating point.
//
// First build: the largest-remainder (Hamilton) method picks who gets ceil(ideal); partitions are
// then dealt out in partition order by earliest deadline (member i's k-th partition is due at
// (k + 1/2) * Q / target_i), so every member's partitions are spread over the whole hash space.
//
// One member X changes (add, remove, weight): the others' ideals all move the same way, so a
// change is either
//   Take: X's ideal grows, the others' shrink. X takes partitions; no other member gains any.
//   Give: X's ideal shrinks (to 0 when it leaves). X gives partitions; no other member loses any.
// Each bystander keeps as close to its old count as its new [floor, ceil] allows, so partitions
// move only between X and the rest: zero bystander moves, and the count moved is X's change.
#include "ring/ring.h"

#include <algorithm>
#include <bit>
#include <numeric>
#include <queue>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace ringcast {
namespace {

// Member i's ideal share as floor + rem / total_weight.
struct Quota {
  int64_t floor = 0;
  int64_t rem = 0;
  int64_t ceil() const { return floor + (rem > 0 ? 1 : 0); }
};

std::vector<Quota> QuotasFor(absl::Span<const Member> members, uint32_t partition_count,
                             int64_t* total_weight) {
  int64_t weight_sum = 0;
  for (const Member& m : members) weight_sum += m.weight;
  std::vector<Quota> quotas;
  quotas.reserve(members.size());
  for (const Member& m : members) {
    const int64_t scaled = int64_t{partition_count} * m.weight;
    quotas.push_back({scaled / weight_sum, scaled % weight_sum});
  }
  *total_weight = weight_sum;
  return quotas;
}

// The integer nearest to quota (halves round up).
int64_t Nearest(const Quota& quota, int64_t total_weight) {
  return quota.floor + (2 * quota.rem >= total_weight ? 1 : 0);
}

bool IsIdByte(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
}

absl::Status ValidateWeight(std::string_view id, int32_t weight) {
  if (weight < 1 || weight > Ring::kMaxWeight) {
    return absl::InvalidArgumentError(absl::StrCat("member '", std::string(id), "' has weight ",
                                                   weight, "; weights must be 1..",
                                                   Ring::kMaxWeight));
  }
  return absl::OkStatus();
}

// Empty, or an http(s) base URL without a trailing slash, query or fragment (ring.proto).
absl::Status ValidatePublicUrl(const Member& m) {
  const std::string& url = m.public_url;
  if (url.empty()) return absl::OkStatus();
  const bool scheme_ok = absl::StartsWith(url, "http://") || absl::StartsWith(url, "https://");
  const size_t host_start = url.find("://") + 3;
  if (!scheme_ok || url.size() == host_start || url.back() == '/' ||
      url.find_first_of("?# ") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "member '", m.id, "' has public_url '", url,
        "'; it must be http:// or https:// with a host, no trailing slash, query or fragment"));
  }
  return absl::OkStatus();
}

absl::Status ValidateMember(const Member& m) {
  if (m.id.empty() || m.id.size() > Ring::kMaxIdBytes ||
      !std::all_of(m.id.begin(), m.id.end(), IsIdByte)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "member id '", m.id, "' must not be empty and be at most ", Ring::kMaxIdBytes,
        " bytes of A-Z a-z 0-9 . _ -"));
  }
  if (absl::Status s = ValidatePublicUrl(m); !s.ok()) return s;
  return ValidateWeight(m.id, m.weight);
}

// Checks ids and non-empty addresses for duplicates; `code` is the error to report.
absl::Status CheckUnique(absl::Span<const Member> members, absl::StatusCode code) {
  absl::flat_hash_set<std::string_view> ids;
  absl::flat_hash_set<std::string_view> addresses;
  for (const Member& m : members) {
    if (!ids.insert(m.id).second) {
      return absl::Status(code, absl::StrCat("duplicate member id '", m.id, "'"));
    }
    for (const std::string& address : {std::cref(m.http_address), std::cref(m.grpc_address)}) {
      if (!address.empty() && !addresses.insert(address).second) {
        return absl::Status(code, absl::StrCat("member '", m.id, "' reuses address '", address,
                                               "' of another member"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateShape(size_t member_count, uint32_t partition_count) {
  if (!std::has_single_bit(partition_count) || partition_count > Ring::kMaxPartitionCount) {
    return absl::InvalidArgumentError(absl::StrCat("partition count ", partition_count,
                                                   " is not a power of two in 1..",
                                                   Ring::kMaxPartitionCount));
  }
  if (member_count == 0) return absl::InvalidArgumentError("a ring needs at least one member");
  if (member_count > partition_count) {
    return absl::InvalidArgumentError(absl::StrCat(member_count, " members do not fit in ",
                                                   partition_count, " partitions"));
  }
  return absl::OkStatus();
}

absl::Status ValidateMembers(absl::Span<const Member> members, uint32_t partition_count) {
  if (absl::Status s = ValidateShape(members.size(), partition_count); !s.ok()) return s;
  for (const Member& m : members) {
    if (absl::Status s = ValidateMember(m); !s.ok()) return s;
  }
  return CheckUnique(members, absl::StatusCode::kInvalidArgument);
}

void SortById(std::vector<Member>& members) {
  std::sort(members.begin(), members.end(),
            [](const Member& a, const Member& b) { return a.id < b.id; });
}

// Deals partitions 0..Q-1 to members so that member i gets targets[i] of them, spread evenly:
// each next partition goes to the member whose next share is due earliest.
std::vector<uint32_t> DealPartitions(absl::Span<const int64_t> targets) {
  // Due time of member i's k-th partition is (2k + 1) / (2 * target_i), compared exactly.
  struct Next {
    int64_t k, target;
    uint32_t member;
    bool operator>(const Next& o) const {
      // Both products stay below 2^42: k and targets are at most Q <= 2^20.
      const int64_t lhs = (2 * k + 1) * o.target;
      const int64_t rhs = (2 * o.k + 1) * target;
      return lhs != rhs ? lhs > rhs : member > o.member;
    }
  };
  std::priority_queue<Next, std::vector<Next>, std::greater<Next>> due;
  int64_t total = 0;
  for (uint32_t i = 0; i < targets.size(); ++i) {
    if (targets[i] > 0) due.push({0, targets[i], i});
    total += targets[i];
  }
  std::vector<uint32_t> owners;
  owners.reserve(total);
  while (!due.empty()) {
    Next next = due.top();
    due.pop();
    owners.push_back(next.member);
    if (++next.k < next.target) due.push(next);
  }
  return owners;
}

// k of the sorted partitions in `owned`, spread evenly over the list.
std::vector<uint32_t> SpreadPick(absl::Span<const uint32_t> owned, int64_t k) {
  std::vector<uint32_t> picked;
  picked.reserve(k);
  const int64_t n = static_cast<int64_t>(owned.size());
  for (int64_t j = 0; j < k; ++j) picked.push_back(owned[(2 * j + 1) * n / (2 * k)]);
  return picked;
}

// Partitions owned by each member, in partition order.
std::vector<std::vector<uint32_t>> PartitionsByMember(absl::Span<const uint32_t> owners,
                                                      size_t member_count) {
  std::vector<std::vector<uint32_t>> owned(member_count);
  for (uint32_t p = 0; p < owners.size(); ++p) owned[owners[p]].push_back(p);
  return owned;
}

// Final counts for one change. `counts` and `quotas` are indexed like the new member list;
// `changed` is X's index (X's quota is zero when X is leaving). `take` says X grows.
// Bystanders move towards their quota only in the direction the change allows; X absorbs the
// difference, clamped so that every bystander can stay within [floor, ceil].
std::vector<int64_t> FinalCounts(absl::Span<const int64_t> counts, absl::Span<const Quota> quotas,
                                 int64_t total_weight, size_t changed, bool take,
                                 uint32_t partition_count) {
  const size_t n = counts.size();
  std::vector<int64_t> lo(n), hi(n);  // bystander i ends in [lo_i, hi_i]; hi_i - lo_i <= 1
  int64_t lo_sum = 0, hi_sum = 0;
  for (size_t i = 0; i < n; ++i) {
    if (i == changed) continue;
    if (take) {
      lo[i] = std::min(counts[i], quotas[i].floor);
      hi[i] = std::min(counts[i], quotas[i].ceil());
    } else {
      lo[i] = std::max(counts[i], quotas[i].floor);
      hi[i] = std::max(counts[i], quotas[i].ceil());
    }
    lo_sum += lo[i];
    hi_sum += hi[i];
  }
  const int64_t q = partition_count;
  const int64_t changed_count =
      std::clamp(Nearest(quotas[changed], total_weight), q - hi_sum, q - lo_sum);

  // Bystanders that may end at either bound; the `extra` of them that end away from their
  // current count are those whose quota points that way most strongly.
  std::vector<size_t> flexible;
  for (size_t i = 0; i < n; ++i) {
    if (i != changed && hi[i] > lo[i]) flexible.push_back(i);
  }
  // Take: shed first where the fractional part is smallest (count furthest above ideal).
  // Give: gain first where the fractional part is largest (count furthest below ideal).
  std::stable_sort(flexible.begin(), flexible.end(), [&](size_t a, size_t b) {
    return take ? quotas[a].rem < quotas[b].rem : quotas[a].rem > quotas[b].rem;
  });
  std::vector<int64_t> final_counts(n);
  final_counts[changed] = changed_count;
  for (size_t i = 0; i < n; ++i) {
    if (i != changed) final_counts[i] = take ? hi[i] : lo[i];
  }
  const int64_t extra = take ? hi_sum - (q - changed_count) : (q - changed_count) - lo_sum;
  for (int64_t j = 0; j < extra; ++j) final_counts[flexible[j]] += take ? -1 : 1;
  return final_counts;
}

}  // namespace

uint64_t Ring::HashTopic(std::string_view topic) {
  return XXH3_64bits(topic.data(), topic.size());
}

Ring::Ring(uint64_t version, uint32_t partition_count, std::vector<Member> members,
           std::vector<uint32_t> owners)
    : version_(version),
      partition_count_(partition_count),
      hash_shift_(64 - std::countr_zero(partition_count)),
      members_(std::move(members)),
      owners_(std::move(owners)),
      partitions_per_member_(members_.size(), 0) {
  for (uint32_t owner : owners_) ++partitions_per_member_[owner];
}

absl::StatusOr<Ring> Ring::Build(std::vector<Member> members, uint32_t partition_count,
                                 uint64_t version) {
  if (absl::Status s = ValidateMembers(members, partition_count); !s.ok()) return s;
  SortById(members);
  int64_t total_weight = 0;
  const std::vector<Quota> quotas = QuotasFor(members, partition_count, &total_weight);

  // Largest remainders get the partitions left over after everyone's floor.
  std::vector<int64_t> targets(members.size());
  int64_t left_over = partition_count;
  for (size_t i = 0; i < members.size(); ++i) {
    targets[i] = quotas[i].floor;
    left_over -= quotas[i].floor;
  }
  std::vector<size_t> by_remainder(members.size());
  std::iota(by_remainder.begin(), by_remainder.end(), 0);
  std::stable_sort(by_remainder.begin(), by_remainder.end(),
                   [&](size_t a, size_t b) { return quotas[a].rem > quotas[b].rem; });
  for (int64_t j = 0; j < left_over; ++j) ++targets[by_remainder[j]];

  return Ring(version, partition_count, std::move(members), DealPartitions(targets));
}

absl::StatusOr<Ring> Ring::FromTable(uint64_t version, uint32_t partition_count,
                                     std::vector<Member> members, std::vector<uint32_t> owners) {
  if (absl::Status s = ValidateMembers(members, partition_count); !s.ok()) return s;
  if (owners.size() != partition_count) {
    return absl::InvalidArgumentError(absl::StrCat("owner table has ", owners.size(),
                                                   " entries for ", partition_count,
                                                   " partitions"));
  }
  // Re-index owners for the id-sorted member order.
  std::vector<uint32_t> order(members.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](uint32_t a, uint32_t b) { return members[a].id < members[b].id; });
  std::vector<uint32_t> new_index(members.size());
  for (uint32_t i = 0; i < order.size(); ++i) new_index[order[i]] = i;
  for (uint32_t& owner : owners) {
    if (owner >= members.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("owner index ", owner, " is not one of ", members.size(), " members"));
    }
    owner = new_index[owner];
  }
  SortById(members);
  return Ring(version, partition_count, std::move(members), std::move(owners));
}

absl::StatusOr<Ring> Ring::WithNodeAdded(Member member) const {
  if (absl::Status s = ValidateMember(member); !s.ok()) return s;
  std::vector<Member> members = members_;
  members.push_back(std::move(member));
  if (absl::Status s = CheckUnique(members, absl::StatusCode::kAlreadyExists); !s.ok()) return s;
  if (members.size() > partition_count_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a ring of ", partition_count_, " partitions has no room for member ", members.size()));
  }
  const std::string added_id = members.back().id;
  SortById(members);
  const auto added = static_cast<size_t>(
      std::find_if(members.begin(), members.end(),
                   [&](const Member& m) { return m.id == added_id; }) -
      members.begin());
  // Old index i becomes i, or i + 1 at and after the insertion point.
  std::vector<uint32_t> old_to_new(members_.size());
  for (uint32_t i = 0; i < members_.size(); ++i) old_to_new[i] = i < added ? i : i + 1;
  return WithMemberChanged(std::move(members), old_to_new, added, /*take=*/true);
}

absl::StatusOr<Ring> Ring::WithNodeRemoved(std::string_view id) const {
  const Member* removed_member = FindMember(id);
  if (removed_member == nullptr) {
    return absl::NotFoundError(absl::StrCat("no member '", std::string(id), "' in ring version ", version_));
  }
  if (members_.size() == 1) {
    return absl::FailedPreconditionError(
        absl::StrCat("member '", std::string(id), "' is the last one; a ring cannot be empty"));
  }
  const auto removed = static_cast<size_t>(removed_member - members_.data());
  // The leaving member keeps a slot with weight zero while its partitions are given away.
  std::vector<Member> members = members_;
  members[removed].weight = 0;
  std::vector<uint32_t> identity(members_.size());
  std::iota(identity.begin(), identity.end(), 0);
  absl::StatusOr<Ring> with_zero = WithMemberChanged(std::move(members), identity, removed, /*take=*/false);
  if (!with_zero.ok()) return with_zero.status();

  std::vector<Member> remaining = with_zero->members_;
  remaining.erase(remaining.begin() + static_cast<std::ptrdiff_t>(removed));
  std::vector<uint32_t> owners = std::move(with_zero->owners_);
  for (uint32_t& owner : owners) {
    if (owner > removed) --owner;
  }
  return Ring(version_ + 1, partition_count_, std::move(remaining), std::move(owners));
}

absl::StatusOr<Ring> Ring::WithWeight(std::string_view id, int32_t weight) const {
  const Member* member = FindMember(id);
  if (member == nullptr) {
    return absl::NotFoundError(absl::StrCat("no member '", std::string(id), "' in ring version ", version_));
  }
  if (absl::Status s = ValidateWeight(id, weight); !s.ok()) return s;
  const auto changed = static_cast<size_t>(member - members_.data());
  const bool take = weight > member->weight;
  std::vector<Member> members = members_;
  members[changed].weight = weight;
  std::vector<uint32_t> identity(members_.size());
  std::iota(identity.begin(), identity.end(), 0);
  return WithMemberChanged(std::move(members), identity, changed, take);
}

absl::StatusOr<Ring> Ring::WithMemberChanged(std::vector<Member> members,
                                   absl::Span<const uint32_t> old_to_new, size_t changed,
                                   bool take) const {
  // A weight-0 member (one that is leaving) counts as weight 0 in the quotas.
  int64_t total_weight = 0;
  const std::vector<Quota> quotas = QuotasFor(members, partition_count_, &total_weight);

  std::vector<uint32_t> owners(owners_.size());
  for (uint32_t p = 0; p < owners_.size(); ++p) owners[p] = old_to_new[owners_[p]];
  std::vector<int64_t> counts(members.size(), 0);
  for (uint32_t owner : owners) ++counts[owner];

  const std::vector<int64_t> final_counts =
      FinalCounts(counts, quotas, total_weight, changed, take, partition_count_);
  const std::vector<std::vector<uint32_t>> owned = PartitionsByMember(owners, members.size());
  if (take) {
    for (size_t i = 0; i < members.size(); ++i) {
      if (i == changed) continue;
      for (uint32_t p : SpreadPick(owned[i], counts[i] - final_counts[i])) {
        owners[p] = static_cast<uint32_t>(changed);
      }
    }
  } else {
    std::vector<int64_t> gains(members.size(), 0);
    for (size_t i = 0; i < members.size(); ++i) {
      if (i != changed) gains[i] = final_counts[i] - counts[i];
    }
    // Deal the given partitions out like a first build, so each gainer's share is spread.
    const std::vector<uint32_t> given =
        SpreadPick(owned[changed], counts[changed] - final_counts[changed]);
    const std::vector<uint32_t> receivers = DealPartitions(gains);
    for (size_t j = 0; j < given.size(); ++j) owners[given[j]] = receivers[j];
  }
  return Ring(version_ + 1, partition_count_, std::move(members), std::move(owners));
}

std::vector<const Member*> Ring::PreferenceList(uint32_t partition, size_t k) const {
  std::vector<const Member*> list;
  const size_t wanted = std::min(k, members_.size());
  list.reserve(wanted);
  for (uint32_t step = 0; step < partition_count_ && list.size() < wanted; ++step) {
    const Member* candidate = &OwnerOf((partition + step) & (partition_count_ - 1));
    if (std::find(list.begin(), list.end(), candidate) == list.end()) list.push_back(candidate);
  }
  return list;
}

const Member* Ring::FindMember(std::string_view id) const {
  auto it = std::lower_bound(members_.begin(), members_.end(), id,
                             [](const Member& m, std::string_view key) { return m.id < key; });
  return it != members_.end() && it->id == id ? &*it : nullptr;
}

double Ring::PeakToMean() const {
  int64_t total_weight = 0;
  for (const Member& m : members_) total_weight += m.weight;
  double peak = 0;
  for (size_t i = 0; i < members_.size(); ++i) {
    const double ideal =
        static_cast<double>(partition_count_) * members_[i].weight / static_cast<double>(total_weight);
    peak = std::max(peak, partitions_per_member_[i] / ideal);
  }
  return peak;
}

absl::StatusOr<std::vector<PartitionMove>> Diff(const Ring& from, const Ring& to) {
  if (from.partition_count() != to.partition_count()) {
    return absl::InvalidArgumentError(
        absl::StrCat("rings have different partition counts: ", from.partition_count(), " and ",
                     to.partition_count()));
  }
  std::vector<PartitionMove> moves;
  for (uint32_t p = 0; p < from.partition_count(); ++p) {
    const Member& old_owner = from.OwnerOf(p);
    const Member& new_owner = to.OwnerOf(p);
    if (old_owner.id != new_owner.id) moves.push_back({p, old_owner.id, new_owner.id});
  }
  return moves;
}

}  // namespace ringcast
