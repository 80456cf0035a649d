#include "capture/summary.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

namespace vigil::capture {

using json = nlohmann::json;

namespace {

const char* const kCategories[] = {"attention", "matmul",        "normalization", "activation",
                                   "sampling",  "host_overhead", "other_ops",     "idle"};

bool Has(const std::string& s, const char* sub) { return s.find(sub) != std::string::npos; }

bool DeviceEvent(const Event& e) {
  return e.cat == "kernel" || e.cat == "gpu_memcpy" || e.cat == "gpu_memset" || e.cat == "gpu_user_annotation" ||
         e.cat == "Kernel" || e.cat == "Memcpy" || e.cat == "Memset";
}

// Categories that claim everything inside them (an aten::bmm inside the
// attention core is attention, an aten::mul inside a norm is normalization).
bool Claims(const std::string& c) {
  return c == "attention" || c == "normalization" || c == "activation" || c == "sampling";
}

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

// Total length of the union of [start, end) intervals.
double UnionLength(std::vector<std::pair<double, double>> iv) {
  std::sort(iv.begin(), iv.end());
  double total = 0, cur_s = 0, cur_e = -1;
  bool have = false;
  for (const auto& [s, e] : iv) {
    if (!have || s > cur_e) {
      if (have) total += cur_e - cur_s;
      cur_s = s;
      cur_e = e;
      have = true;
    } else {
      cur_e = std::max(cur_e, e);
    }
  }
  if (have) total += cur_e - cur_s;
  return total;
}

}  // namespace

std::string Category(const std::string& raw, bool vigil_span) {
  std::string n = raw;
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
  if (vigil_span) {
    if (n == "attention_core") return "attention";
    if (n == "norm") return "normalization";
    if (n == "activation") return "activation";
    if (n == "sample") return "sampling";
    if (n == "step" || n == "schedule" || n == "prepare_inputs" || n == "update") return "host_overhead";
    return "";  // forward, layer, attention (incl. projections), mlp, lm_head: structure only
  }
  if (Has(n, "attention") || Has(n, "attn") || Has(n, "sdpa") || Has(n, "flash") || Has(n, "softmax") ||
      Has(n, "paged"))
    return "attention";
  if (Has(n, "sampl") || Has(n, "multinomial") || Has(n, "topk") || Has(n, "top_k") || Has(n, "top_p") ||
      Has(n, "argmax") || Has(n, "argsort") || n == "aten::sort")
    return "sampling";
  if (Has(n, "norm")) return "normalization";
  if (Has(n, "silu") || Has(n, "gelu") || Has(n, "relu") || Has(n, "tanh") || Has(n, "sigmoid") || Has(n, "swiglu") ||
      Has(n, "act_and_mul"))
    return "activation";
  if (Has(n, "::mm") || Has(n, "addmm") || Has(n, "bmm") || Has(n, "matmul") || Has(n, "linear") || Has(n, "gemm") ||
      Has(n, "cutlass") || n == "mm")
    return "matmul";
  return "other_ops";
}

json Summarize(const std::vector<Event>& all, double w0, double w1) {
  // The host thread to analyse: the one with Vigil's step spans, else the
  // busiest non-device thread.
  std::map<std::pair<int64_t, int64_t>, double> busy;
  std::pair<int64_t, int64_t> main{-1, -1};
  for (const auto& e : all) {
    if (DeviceEvent(e)) continue;
    if (e.cat == "vigil" && e.name == "step") main = {e.pid, e.tid};
    busy[{e.pid, e.tid}] += e.dur;
  }
  if (main.first < 0) {
    double best = -1;
    for (const auto& [k, v] : busy)
      if (v > best) best = v, main = k;
  }
  std::vector<const Event*> ev;
  std::vector<std::pair<double, double>> kernels;
  std::map<std::string, std::pair<double, int64_t>> kernel_time;
  double lo = 1e300, hi = -1e300;
  for (const auto& e : all) {
    if (e.dur < 0) continue;
    lo = std::min(lo, e.ts);
    hi = std::max(hi, e.ts + e.dur);
    if (e.cat == "kernel" || e.cat == "Kernel") {
      kernels.emplace_back(e.ts, e.ts + e.dur);
      auto& k = kernel_time[e.name];
      k.first += e.dur;
      ++k.second;
    }
    if (!DeviceEvent(e) && std::make_pair(e.pid, e.tid) == main) ev.push_back(&e);
  }
  if (w1 <= w0) {
    w0 = all.empty() ? 0 : lo;
    w1 = all.empty() ? 0 : hi;
  }
  const double window = std::max(w1 - w0, 1e-9);
  std::sort(ev.begin(), ev.end(),
            [](const Event* a, const Event* b) { return a->ts != b->ts ? a->ts < b->ts : a->dur > b->dur; });

  // Nest by time on the one thread; self time goes to the event's category,
  // or to the claiming category of an ancestor.
  struct Frame {
    const Event* e;
    double end;
    double child = 0;
    std::string cat;  // effective
  };
  std::map<std::string, double> cat_us;
  std::map<std::string, std::pair<double, int64_t>> op_self;  // name -> (self us, calls)
  std::vector<std::pair<double, double>> top_level;
  std::vector<Frame> stack;
  auto close = [&](Frame& f) {
    const double self = std::max(0.0, f.e->dur - f.child);
    const std::string c = f.cat.empty() ? "host_overhead" : f.cat;
    cat_us[c] += self;
    if (f.e->cat != "vigil") {
      auto& o = op_self[f.e->name];
      o.first += self;
      ++o.second;
    }
  };
  for (const Event* e : ev) {
    const double end = e->ts + e->dur;
    while (!stack.empty() && stack.back().end <= e->ts + 1e-3) {
      close(stack.back());
      stack.pop_back();
    }
    // A partial overlap is not nesting: treat the older one as finished.
    while (!stack.empty() && end > stack.back().end + 1e-3) {
      close(stack.back());
      stack.pop_back();
    }
    std::string cat = Category(e->name, e->cat == "vigil");
    if (!stack.empty()) {
      stack.back().child += e->dur;
      if (Claims(stack.back().cat)) cat = stack.back().cat;
      else if (cat.empty()) cat = stack.back().cat;
    } else {
      top_level.emplace_back(std::max(e->ts, w0), std::min(end, w1));
    }
    stack.push_back({e, end, 0, cat});
  }
  while (!stack.empty()) {
    close(stack.back());
    stack.pop_back();
  }
  // Top-level busy time that no event's self time covers cannot exist;
  // what is left of the window is idle.
  double busy_us = 0;
  for (const auto& [c, us] : cat_us) busy_us += us;
  const double covered = UnionLength(top_level);
  cat_us["idle"] = std::max(0.0, window - covered);
  // Top-level events that overlap each other (foreign traces) would double
  // count; scale the busy categories onto the covered time.
  if (busy_us > covered && busy_us > 0) {
    for (auto& [c, us] : cat_us)
      if (c != "idle") us *= covered / busy_us;
  }

  json cats = json::object(), secs = json::object();
  double sum = 0;
  for (const char* c : kCategories) {
    cats[c] = cat_us[c] / window;
    secs[c] = cat_us[c] / 1e6;
    sum += cat_us[c] / window;
  }

  // Steps, their times and the prefill/decode split.
  std::vector<double> step_ms;
  std::map<std::string, std::pair<int64_t, double>> phase;
  for (const Event* e : ev) {
    if (e->cat != "vigil" || e->name != "step") continue;
    step_ms.push_back(e->dur / 1e3);
    const json& a = e->args;
    const double pt = a.is_object() ? a.value("prefill_tokens", 0.0) : 0;
    const double ds = a.is_object() ? a.value("decode_seqs", 0.0) : 0;
    const std::string p = pt > 0 && ds > 0 ? "mixed" : pt > 0 ? "prefill" : "decode";
    ++phase[p].first;
    phase[p].second += e->dur;
  }
  json split = nullptr;
  if (!step_ms.empty()) {
    split = json::object();
    double total = 0;
    for (const auto& [p, v] : phase) total += v.second;
    for (const char* p : {"prefill", "decode", "mixed"}) {
      const auto v = phase[p];
      split[p] = {
          {"steps", v.first}, {"seconds", v.second / 1e6}, {"fraction_of_step_time", total > 0 ? v.second / total : 0}};
    }
  }
  std::vector<std::pair<std::string, std::pair<double, int64_t>>> ops(op_self.begin(), op_self.end());
  std::sort(ops.begin(), ops.end(), [](const auto& a, const auto& b) { return a.second.first > b.second.first; });
  json top = json::array();
  for (size_t i = 0; i < ops.size() && i < 10; ++i) {
    top.push_back({{"name", ops[i].first},
                   {"category", Category(ops[i].first, false)},
                   {"self_ms", ops[i].second.first / 1e3},
                   {"calls", ops[i].second.second},
                   {"fraction", ops[i].second.first / window}});
  }
  double mean = 0;
  for (double s : step_ms) mean += s;
  if (!step_ms.empty()) mean /= static_cast<double>(step_ms.size());
  json out = {{"wall_time_s", window / 1e6},
              {"thread", {{"pid", main.first}, {"tid", main.second}}},
              {"steps", step_ms.size()},
              {"step_time_ms", {{"p50", Percentile(step_ms, 0.5)}, {"p95", Percentile(step_ms, 0.95)}, {"mean", mean}}},
              {"categories", cats},
              {"categories_seconds", secs},
              {"categories_sum", sum},
              {"prefill_decode", split},
              {"top_ops", top}};
  if (!kernels.empty()) {
    std::vector<std::pair<std::string, std::pair<double, int64_t>>> ks(kernel_time.begin(), kernel_time.end());
    std::sort(ks.begin(), ks.end(), [](const auto& a, const auto& b) { return a.second.first > b.second.first; });
    json topk = json::array();
    double ksum = 0;
    for (const auto& k : ks) ksum += k.second.first;
    for (size_t i = 0; i < ks.size() && i < 10; ++i)
      topk.push_back({{"name", ks[i].first}, {"ms", ks[i].second.first / 1e3}, {"calls", ks[i].second.second}});
    out["gpu"] = {{"kernels", kernels.size()},
                  {"kernel_seconds", ksum / 1e6},
                  {"busy_fraction", UnionLength(kernels) / window},
                  {"top_kernels", topk}};
  } else {
    out["gpu"] = nullptr;
  }
  return out;
}

}  // namespace vigil::capture
