// ring_bench.cc — ringcast::Ring beside a ketama vnode ring: lookup cost, rebuild cost, and how
// well each layout balances the keyspace and moves it when a node joins or leaves.
//
// Both rings hash topics with XXH3-64 and have members node-0 .. node-(N-1), weight 1. ringcast
// uses its default Q = 16384 partitions; the baseline (bench/ketama_ring.h) has 160 points per
// node. Timed, in one run:
//   BM_{Ringcast,Ketama}Lookup/nodes:N    the owner of a 32-byte topic, XXH3 included, for
//                                         N = 3, 10, 100, 1000 (4096 distinct topics, cycled).
//   BM_RingcastLookupLatency/nodes:N      the same as a dependent chain (no overlap in the CPU).
//   BM_RingcastWithNodeAdded/nodes:100    100 -> 101 members (node-100 joins).
//   BM_RingcastWithNodeRemoved/nodes:100  100 -> 99 members (node-99 leaves).
//   BM_RingcastBuild/nodes:100            a first build, for reference.
//   BM_KetamaBuild/nodes:{99,100,101}     ketama has no incremental change: its rebuild after a
//                                         join or leave is building the point list anew.
// Untimed, printed before the timed runs for N = 10 and 100, beside the DESIGN.md targets:
// keyspace peak-to-mean, moved/ideal when one node joins and when one leaves, bystander moves.
// The rebuild and lookup benchmarks also carry these figures as counters.
//
// Run (medians of 5 repetitions; pin to one core, e.g. taskset -c 1, for steadier numbers):
// cmake --preset release && cmake --build --preset release --target ring_bench &&
// build/release/bench/ring_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
// Benchmarks never gate CI: nothing runs this binary automatically or checks its numbers.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "bench/ketama_ring.h"
#include "ring/ring.h"

namespace ringcast::bench {
namespace {

constexpr size_t kTopicCount = 4096;  // a power of two: the lookup loops wrap with a mask
constexpr size_t kTopicBytes = 32;
constexpr int kSampleTopics = 1'000'000;  // topics hashed to check ketama's moves by sampling
constexpr int kRebuildNodes = 100;
constexpr uint32_t kPartitions = Ring::kDefaultPartitionCount;
constexpr long double kKeyspace = 18446744073709551616.0L;  // 2^64, exact in long double

// DESIGN.md "The ring" targets.
constexpr double kPeakToMeanTarget = 1.01;
constexpr double kMovedPerIdealTarget = 1.01;

template <typename T>
T ValueOrDie(absl::StatusOr<T> result, std::string_view what) {
  if (!result.ok()) {
    std::fprintf(stderr, "ring_bench: %.*s: %s\n", static_cast<int>(what.size()), what.data(),
                 result.status().ToString().c_str());
    std::abort();
  }
  return *std::move(result);
}

// kTopicCount distinct topics of kTopicBytes bytes ("room/00042/" + random letters), back to back
// in one buffer so that the lookup loops measure the ring, not scattered string allocations.
class Topics {
 public:
  Topics() {
    constexpr std::string_view kAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
    std::mt19937_64 random(20240601);
    bytes_.reserve(kTopicCount * kTopicBytes);
    for (size_t i = 0; i < kTopicCount; ++i) {
      std::string topic = absl::StrCat("room/", absl::Dec(i, absl::kZeroPad5), "/");
      while (topic.size() < kTopicBytes) topic.push_back(kAlphabet[random() % kAlphabet.size()]);
      bytes_ += topic;
    }
  }

  // i < kTopicCount.
  std::string_view operator[](size_t i) const {
    return std::string_view(bytes_.data() + i * kTopicBytes, kTopicBytes);
  }

 private:
  std::string bytes_;
};

const Topics& SharedTopics() {
  static const Topics* const topics = new Topics();
  return *topics;
}

std::string NodeId(int i) { return absl::StrCat("node-", i); }

// node-0 .. node-(n-1).
std::vector<std::string> NodeIds(int n) {
  std::vector<std::string> ids;
  ids.reserve(n);
  for (int i = 0; i < n; ++i) ids.push_back(NodeId(i));
  return ids;
}

// Member node-i, weight 1, no addresses.
Member NodeMember(int i) {
  Member member;
  member.id = NodeId(i);
  return member;
}

std::vector<Member> NodeMembers(int n) {
  std::vector<Member> members;
  members.reserve(n);
  for (int i = 0; i < n; ++i) members.push_back(NodeMember(i));
  return members;
}

Ring BuildRing(int n) {
  std::vector<Member> members = NodeMembers(n);
  return ValueOrDie(Ring::Build(std::move(members)), "Ring::Build");
}

// ---------------------------------------------------------------------------------------------
// Quality figures.

// What one membership change did. `changed` is the node that joined or left; `ideal` is its fair
// share (Q / (N + 1) partitions on a join, Q / N on a leave; as keyspace fractions for ketama).
struct ChangeFigures {
  double moved_per_ideal = 0;
  double bystanders = 0;  // ringcast: partitions; ketama: fraction of the keyspace
};

ChangeFigures RingcastChange(const Ring& before, const Ring& after, std::string_view changed,
                             double ideal_partitions) {
  const std::vector<PartitionMove> moves = ValueOrDie(Diff(before, after), "Diff");
  const auto bystanders = std::count_if(moves.begin(), moves.end(), [&](const PartitionMove& m) {
    return m.from != changed && m.to != changed;
  });
  return {static_cast<double>(moves.size()) / ideal_partitions, static_cast<double>(bystanders)};
}

// The exact length of keyspace each node owns: point k owns (point k-1, point k], and point 0
// owns the wrap-around arc (last point, 2^64) + [0, point 0]. In uint64_t arithmetic (mod 2^64)
// every one of these arcs is point k - point k-1, including the wrap-around one.
std::vector<absl::uint128> KeyspacePerNode(const KetamaRing& ring) {
  const std::vector<KetamaRing::Point>& points = ring.points();
  std::vector<absl::uint128> owned(ring.nodes().size(), 0);
  absl::uint128 total = 0;
  for (size_t k = 0; k < points.size(); ++k) {
    const uint64_t previous = points[(k + points.size() - 1) % points.size()].hash;
    const uint64_t arc = points[k].hash - previous;
    owned[points[k].node] += arc;
    total += arc;
  }
  if (total != absl::MakeUint128(1, 0)) {
    std::fprintf(stderr, "ring_bench: ketama arcs do not cover the keyspace\n");
    std::abort();
  }
  return owned;
}

double KetamaPeakToMean(const KetamaRing& ring) {
  const std::vector<absl::uint128> owned = KeyspacePerNode(ring);
  const absl::uint128 peak = *std::max_element(owned.begin(), owned.end());
  // max share / mean share = peak / (2^64 / N).
  return static_cast<double>(static_cast<long double>(peak) *
                             static_cast<long double>(owned.size()) / kKeyspace);
}

// Exact: cut the circle at every point of both rings; within each piece both owners are fixed
// (the owner of the piece's upper end), so the moved keyspace is a sum of piece lengths.
ChangeFigures KetamaExactChange(const KetamaRing& before, const KetamaRing& after,
                                std::string_view changed, double ideal_fraction) {
  std::vector<uint64_t> cuts;
  cuts.reserve(before.points().size() + after.points().size());
  for (const KetamaRing::Point& p : before.points()) cuts.push_back(p.hash);
  for (const KetamaRing::Point& p : after.points()) cuts.push_back(p.hash);
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());

  absl::uint128 moved = 0;
  absl::uint128 bystander = 0;
  for (size_t j = 0; j < cuts.size(); ++j) {
    const uint64_t piece = cuts[j] - cuts[(j + cuts.size() - 1) % cuts.size()];  // mod 2^64
    const std::string& from = before.nodes()[before.NodeIndexFor(cuts[j])];
    const std::string& to = after.nodes()[after.NodeIndexFor(cuts[j])];
    if (from == to) continue;
    moved += piece;
    if (from != changed && to != changed) bystander += piece;
  }
  const auto fraction = [](absl::uint128 x) {
    return static_cast<double>(static_cast<long double>(x) / kKeyspace);
  };
  return {fraction(moved) / ideal_fraction, fraction(bystander)};
}

// Estimate by looking up kSampleTopics topics in both rings; bystanders counts sampled topics.
ChangeFigures KetamaSampledChange(const KetamaRing& before, const KetamaRing& after,
                                  std::string_view changed, double ideal_fraction) {
  int moved = 0;
  int bystanders = 0;
  for (int i = 0; i < kSampleTopics; ++i) {
    const std::string topic = absl::StrCat("sample/", i);
    const std::string& from = before.Lookup(topic);
    const std::string& to = after.Lookup(topic);
    if (from == to) continue;
    ++moved;
    if (from != changed && to != changed) ++bystanders;
  }
  return {moved / (kSampleTopics * ideal_fraction), static_cast<double>(bystanders)};
}

std::string Fixed4(double x) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.4f", x);
  return buffer;
}

const char* Verdict(bool met) { return met ? "ok" : "MISSED"; }

void PrintRatioRow(const char* figure, int n, double ringcast, double ketama_exact,
                   const std::string& ketama_sampled, double target) {
  std::printf("%-26s %4d   %8.4f %-6s   %8.4f %-6s   %-14s <= %.2f\n", figure, n, ringcast,
              Verdict(ringcast <= target), ketama_exact, Verdict(ketama_exact <= target),
              ketama_sampled.c_str(), target);
}

void PrintBystanderRow(const char* figure, int n, double ringcast_partitions,
                       double ketama_fraction, double ketama_sampled) {
  std::printf("%-26s %4d   %8.0f %-6s   %8.2g %-6s   %-14s 0\n", figure, n, ringcast_partitions,
              Verdict(ringcast_partitions == 0), ketama_fraction, Verdict(ketama_fraction == 0),
              absl::StrCat(ketama_sampled, " of ", kSampleTopics).c_str());
}

void PrintQualityTable() {
  std::printf(
      "Ring quality (not timed). ringcast: Q = %u partitions; ketama: %d points per node.\n"
      "Join: node-N joins N nodes (ideal move 1/(N+1) of the keyspace). Leave: node-(N-1) leaves\n"
      "(ideal 1/N). ketama exact = arc lengths over 2^64; sampled = %d topics looked up.\n"
      "Bystander moves: ringcast in partitions, ketama exact as a keyspace fraction.\n"
      "moved/ideal < 1: the changed node took or gave less than its share (see peak-to-mean).\n"
      "\n",
      kPartitions, KetamaRing::kPointsPerNode, kSampleTopics);
  std::printf("%-26s %4s   %-15s   %-15s   %-14s %s\n", "figure", "N", "ringcast", "ketama exact",
              "ketama sampled", "target");
  for (const int n : {10, 100}) {
    const std::string joining = NodeId(n);
    const std::string leaving = NodeId(n - 1);

    const Ring ring = BuildRing(n);
    const Ring ring_joined = ValueOrDie(ring.WithNodeAdded(NodeMember(n)), "Ring::WithNodeAdded");
    const Ring ring_left = ValueOrDie(ring.WithNodeRemoved(leaving), "Ring::WithNodeRemoved");
    const ChangeFigures ring_join =
        RingcastChange(ring, ring_joined, joining, kPartitions / (n + 1.0));
    const ChangeFigures ring_leave =
        RingcastChange(ring, ring_left, leaving, kPartitions / static_cast<double>(n));

    const KetamaRing ketama(NodeIds(n));
    const KetamaRing ketama_joined(NodeIds(n + 1));
    const KetamaRing ketama_left(NodeIds(n - 1));
    const double join_ideal = 1.0 / (n + 1);
    const double leave_ideal = 1.0 / n;
    const ChangeFigures ketama_join = KetamaExactChange(ketama, ketama_joined, joining, join_ideal);
    const ChangeFigures ketama_leave = KetamaExactChange(ketama, ketama_left, leaving, leave_ideal);
    const ChangeFigures sampled_join =
        KetamaSampledChange(ketama, ketama_joined, joining, join_ideal);
    const ChangeFigures sampled_leave =
        KetamaSampledChange(ketama, ketama_left, leaving, leave_ideal);

    PrintRatioRow("keyspace peak-to-mean", n, ring.PeakToMean(), KetamaPeakToMean(ketama), "-",
                  kPeakToMeanTarget);
    PrintRatioRow("moved/ideal, join", n, ring_join.moved_per_ideal, ketama_join.moved_per_ideal,
                  Fixed4(sampled_join.moved_per_ideal), kMovedPerIdealTarget);
    PrintBystanderRow("bystander moves, join", n, ring_join.bystanders, ketama_join.bystanders,
                      sampled_join.bystanders);
    PrintRatioRow("moved/ideal, leave", n, ring_leave.moved_per_ideal, ketama_leave.moved_per_ideal,
                  Fixed4(sampled_leave.moved_per_ideal), kMovedPerIdealTarget);
    PrintBystanderRow("bystander moves, leave", n, ring_leave.bystanders, ketama_leave.bystanders,
                      sampled_leave.bystanders);
  }
  std::printf(
      "\nTimed targets (read the _median rows): BM_*Lookup <= 20 ns; "
      "BM_RingcastWithNode{Added,Removed}/nodes:%d < 1 ms.\n\n",
      kRebuildNodes);
  std::fflush(stdout);
}

// ---------------------------------------------------------------------------------------------
// Lookups: one topic's owner per iteration, XXH3 of the 32-byte topic included.

void BM_RingcastLookup(benchmark::State& state) {
  const Ring ring = BuildRing(static_cast<int>(state.range(0)));
  const Topics& topics = SharedTopics();
  size_t i = 0;
  for (auto _ : state) {
    const Member* owner = &ring.Lookup(topics[i]);
    benchmark::DoNotOptimize(owner);
    i = (i + 1) & (kTopicCount - 1);
  }
  state.counters["peak_to_mean"] = ring.PeakToMean();
}
BENCHMARK(BM_RingcastLookup)->ArgName("nodes")->Arg(3)->Arg(10)->Arg(100)->Arg(1000);

// The same, but each lookup's topic depends on the previous owner, so lookups cannot overlap in
// the CPU: the latency of one lookup rather than the throughput of many.
void BM_RingcastLookupLatency(benchmark::State& state) {
  const Ring ring = BuildRing(static_cast<int>(state.range(0)));
  const Topics& topics = SharedTopics();
  size_t i = 0;
  for (auto _ : state) {
    const Member& owner = ring.Lookup(topics[i]);
    i = (i + 1 + owner.id.size()) & (kTopicCount - 1);
  }
  benchmark::DoNotOptimize(i);
}
BENCHMARK(BM_RingcastLookupLatency)->ArgName("nodes")->Arg(3)->Arg(10)->Arg(100)->Arg(1000);

void BM_KetamaLookup(benchmark::State& state) {
  const KetamaRing ring(NodeIds(static_cast<int>(state.range(0))));
  const Topics& topics = SharedTopics();
  size_t i = 0;
  for (auto _ : state) {
    const std::string* owner = &ring.Lookup(topics[i]);
    benchmark::DoNotOptimize(owner);
    i = (i + 1) & (kTopicCount - 1);
  }
  state.counters["peak_to_mean"] = KetamaPeakToMean(ring);
}
BENCHMARK(BM_KetamaLookup)->ArgName("nodes")->Arg(3)->Arg(10)->Arg(100)->Arg(1000);

// ---------------------------------------------------------------------------------------------
// Rebuilds after one membership change at N = kRebuildNodes.

void BM_RingcastWithNodeAdded(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const Ring before = BuildRing(n);
  const Member joining = NodeMember(n);
  for (auto _ : state) {
    absl::StatusOr<Ring> after = before.WithNodeAdded(joining);
    benchmark::DoNotOptimize(after);
  }
  const Ring after = ValueOrDie(before.WithNodeAdded(joining), "Ring::WithNodeAdded");
  const ChangeFigures figures = RingcastChange(before, after, joining.id, kPartitions / (n + 1.0));
  state.counters["moved_per_ideal"] = figures.moved_per_ideal;
  state.counters["bystanders"] = figures.bystanders;
}
BENCHMARK(BM_RingcastWithNodeAdded)
    ->ArgName("nodes")
    ->Arg(kRebuildNodes)
    ->Unit(benchmark::kMicrosecond);

void BM_RingcastWithNodeRemoved(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const Ring before = BuildRing(n);
  const std::string leaving = NodeId(n - 1);
  for (auto _ : state) {
    absl::StatusOr<Ring> after = before.WithNodeRemoved(leaving);
    benchmark::DoNotOptimize(after);
  }
  const Ring after = ValueOrDie(before.WithNodeRemoved(leaving), "Ring::WithNodeRemoved");
  const ChangeFigures figures =
      RingcastChange(before, after, leaving, kPartitions / static_cast<double>(n));
  state.counters["moved_per_ideal"] = figures.moved_per_ideal;
  state.counters["bystanders"] = figures.bystanders;
}
BENCHMARK(BM_RingcastWithNodeRemoved)
    ->ArgName("nodes")
    ->Arg(kRebuildNodes)
    ->Unit(benchmark::kMicrosecond);

void BM_RingcastBuild(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const std::vector<Member> members = NodeMembers(n);
  for (auto _ : state) {
    absl::StatusOr<Ring> ring = Ring::Build(members);  // the copy of `members` is part of it
    benchmark::DoNotOptimize(ring);
  }
  state.counters["peak_to_mean"] = BuildRing(n).PeakToMean();
}
BENCHMARK(BM_RingcastBuild)->ArgName("nodes")->Arg(kRebuildNodes)->Unit(benchmark::kMicrosecond);

// At kRebuildNodes +- 1 this is ketama's rebuild after a join or leave; the counters compare the
// result with the kRebuildNodes ring.
void BM_KetamaBuild(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const std::vector<std::string> ids = NodeIds(n);
  for (auto _ : state) {
    KetamaRing ring(ids);  // the copy of `ids` is part of it
    benchmark::DoNotOptimize(ring);
  }
  const KetamaRing after(ids);
  state.counters["peak_to_mean"] = KetamaPeakToMean(after);
  if (n != kRebuildNodes) {
    const KetamaRing before(NodeIds(kRebuildNodes));
    const bool join = n > kRebuildNodes;
    const ChangeFigures figures =
        KetamaExactChange(before, after, NodeId(join ? kRebuildNodes : kRebuildNodes - 1),
                          join ? 1.0 / (kRebuildNodes + 1) : 1.0 / kRebuildNodes);
    state.counters["moved_per_ideal"] = figures.moved_per_ideal;
    state.counters["bystanders"] = figures.bystanders;
  }
}
BENCHMARK(BM_KetamaBuild)
    ->ArgName("nodes")
    ->Arg(kRebuildNodes - 1)
    ->Arg(kRebuildNodes)
    ->Arg(kRebuildNodes + 1)
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace ringcast::bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  ringcast::bench::PrintQualityTable();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
