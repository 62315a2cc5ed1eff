#pragma once
// Label slots of one worker of a multi-rater pass (multirater_driver, curvas_driver): each
// label value gets a row of W int64 statistics the first time the worker sees it (a direct
// table below kDense, a hash map above), and after the pass the workers' rows are merged into
// one table sorted by label value.  Integer rows: the merge gives the same numbers for any
// split of the volume between workers.

#include <algorithm>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace segscore {

struct LabelSlots {
  static constexpr int64_t kDense = 1 << 16;    // labels below this get a slot by direct lookup
  int64_t W = 0;
  std::vector<int32_t> dense;                   // value -> slot (-1: none), values < kDense
  std::unordered_map<int64_t, int32_t> sparse;  // the other values
  std::vector<int64_t> values;                  // slot -> value
  std::vector<int64_t> stats;                   // slot x W
  bool used = false;

  void init_slots(int64_t w) {
    W = w;
    dense.assign(kDense, -1);
    used = true;
  }
  int64_t slot(int64_t v) {
    if (v >= 0 && v < kDense) {
      int32_t& s = dense[size_t(v)];
      if (s < 0) s = fresh(v);
      return s;
    }
    auto it = sparse.find(v);
    if (it != sparse.end()) return it->second;
    const int32_t s = fresh(v);
    sparse.emplace(v, s);
    return s;
  }
  int32_t fresh(int64_t v) {
    values.push_back(v);
    stats.resize(stats.size() + size_t(W), 0);
    return int32_t(values.size() - 1);
  }
};

// The label values seen by the used workers (plus `seed`), sorted and unique, into `labels`,
// and each value's row summed over the workers into `stats` (labels.size() x W).
template <typename Worker>
void merge_label_slots(const std::vector<Worker>& work, int64_t W, std::vector<int64_t> seed,
                       std::vector<int64_t>& labels, std::vector<int64_t>& stats) {
  labels = std::move(seed);
  for (const Worker& w : work)
    if (w.used) labels.insert(labels.end(), w.values.begin(), w.values.end());
  std::sort(labels.begin(), labels.end());
  labels.erase(std::unique(labels.begin(), labels.end()), labels.end());
  stats.assign(labels.size() * size_t(W), 0);
  for (const Worker& w : work) {
    if (!w.used) continue;
    for (size_t s = 0; s < w.values.size(); ++s) {
      const size_t row = size_t(std::lower_bound(labels.begin(), labels.end(), w.values[s]) - labels.begin());
      for (int64_t i = 0; i < W; ++i) stats[row * size_t(W) + size_t(i)] += w.stats[s * size_t(W) + size_t(i)];
    }
  }
}

}  // namespace segscore
