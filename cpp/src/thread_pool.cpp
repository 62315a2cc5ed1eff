#include "thread_pool.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace segscore {

int default_threads() {
  if (const char* env = std::getenv("SEGSCORE_NUM_THREADS")) {
    int v = std::atoi(env);
    // capped as segscore._core.backends.max_threads caps it (4 per core): a pool thread lives
    // as long as the process
    const unsigned hc = std::thread::hardware_concurrency();
    const int cap = 4 * int(hc ? hc : 1);
    if (v > 0) return std::min(v, cap);
  }
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int c = CPU_COUNT(&set);
    if (c > 0) return c;
  }
  unsigned hc = std::thread::hardware_concurrency();
  return hc ? int(hc) : 1;
}

namespace {

// A small persistent pool.  Jobs are "run this callable on worker ids
// 1..k-1"; worker 0 is the caller.
class Pool {
 public:
  // Leaked on purpose (no join at exit).  A forked child gets a fresh pool:
  // the parent's worker threads do not exist there.
  static Pool& get() {
    static std::once_flag once;
    std::call_once(once, [] { pthread_atfork(nullptr, nullptr, [] { instance() = nullptr; }); });
    if (!instance()) instance() = new Pool();
    return *instance();
  }
  static Pool*& instance() {
    static Pool* p = nullptr;
    return p;
  }

  void run(int k, const std::function<void(int)>& job) {
    if (k <= 1) {
      job(0);
      return;
    }
    std::unique_lock<std::mutex> call_lock(call_mutex_);  // one job at a time
    ensure(k - 1);
    {
      std::lock_guard<std::mutex> lk(m_);
      job_ = &job;
      active_ = k - 1;
      pending_ = k - 1;
      ++generation_;
    }
    cv_.notify_all();
    std::exception_ptr err;
    try {
      job(0);
    } catch (...) {
      err = std::current_exception();
    }
    std::unique_lock<std::mutex> lk(m_);
    done_cv_.wait(lk, [&] { return pending_ == 0; });
    job_ = nullptr;
    if (!err && worker_error_) err = worker_error_;
    worker_error_ = nullptr;
    lk.unlock();
    if (err) std::rethrow_exception(err);
  }

 private:
  void ensure(int n) {
    while (int(threads_.size()) < n) {
      int id = int(threads_.size()) + 1;
      threads_.emplace_back([this, id] { loop(id); });
      threads_.back().detach();
    }
  }

  void loop(int id) {
    uint64_t seen = 0;
    for (;;) {
      const std::function<void(int)>* job;
      {
        std::unique_lock<std::mutex> lk(m_);
        cv_.wait(lk, [&] { return generation_ != seen && id <= active_; });
        seen = generation_;
        job = job_;
      }
      std::exception_ptr err;
      try {
        (*job)(id);
      } catch (...) {
        err = std::current_exception();
      }
      std::lock_guard<std::mutex> lk(m_);
      if (err && !worker_error_) worker_error_ = err;
      if (--pending_ == 0) done_cv_.notify_all();
    }
  }

  std::mutex call_mutex_;
  std::mutex m_;
  std::condition_variable cv_, done_cv_;
  std::vector<std::thread> threads_;
  const std::function<void(int)>* job_ = nullptr;
  int active_ = 0;
  int pending_ = 0;
  uint64_t generation_ = 0;
  std::exception_ptr worker_error_;
};

}  // namespace

void parallel_for(int64_t n, int threads, const std::function<void(int64_t, int64_t, int)>& fn,
                  int64_t min_chunk) {
  if (n <= 0) return;
  if (threads <= 0) threads = default_threads();
  int64_t k = std::min<int64_t>(threads, std::max<int64_t>(1, n / std::max<int64_t>(1, min_chunk)));
  if (k <= 1) {
    fn(0, n, 0);
    return;
  }
  Pool::get().run(int(k), [&](int w) {
    int64_t b = n * w / k, e = n * (w + 1) / k;
    if (b < e) fn(b, e, w);
  });
}

void parallel_items(int64_t n, int threads, const std::function<void(int64_t, int)>& fn) {
  if (n <= 0) return;
  if (threads <= 0) threads = default_threads();
  int64_t k = std::min<int64_t>(threads, n);
  if (k <= 1) {
    for (int64_t i = 0; i < n; ++i) fn(i, 0);
    return;
  }
  std::atomic<int64_t> next{0};
  Pool::get().run(int(k), [&](int w) {
    for (;;) {
      int64_t i = next.fetch_add(1);
      if (i >= n) break;
      fn(i, w);
    }
  });
}

}  // namespace segscore
