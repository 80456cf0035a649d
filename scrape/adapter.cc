#include "scrape/adapter.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <set>
#include <utility>

#include "scrape/engine_rules.h"

namespace vigil::scrape {
namespace {

using internal::Agg;
using internal::From;
using internal::Rule;

// (engine label, model_name label): what tells engines apart.
using InstanceKey = std::pair<std::string, std::string>;

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

const std::string* Label(const Sample& s, std::string_view name) {
  for (const auto& [k, v] : s.labels)
    if (k == name) return &v;
  return nullptr;
}

InstanceKey KeyOf(const Sample& s) {
  const std::string* e = Label(s, "engine");
  const std::string* m = Label(s, "model_name");
  return {e ? *e : "", m ? *m : ""};
}

// The labels a figure is split by, less the instance labels, `le`, and the
// replica labels (every tensor/pipeline rank reports the same figure).
std::string BreakdownOf(const Sample& s) {
  std::string key;
  for (const auto& [k, v] : s.labels) {
    if (k == "engine" || k == "model_name" || k == "le" || k == "tp_rank" || k == "pp_rank" || k == "moe_ep_rank")
      continue;
    key += k + '\x1f' + v + '\x1e';  // separators a label cannot hold
  }
  return key;
}

// Python's str(bool), as vLLM writes a setting into an info label.
bool ParseBool(std::string_view t, double* v) {
  auto is = [&t](std::string_view w) {
    return t.size() == w.size() && std::equal(t.begin(), t.end(), w.begin(), [](char a, char b) {
             return std::tolower(static_cast<unsigned char>(a)) == b;
           });
  };
  if (is("true")) *v = 1;
  else if (is("false")) *v = 0;
  else return false;
  return true;
}

// An `le` value: a Go float (Prometheus writes "+Inf", "0.005", "1e-3").
bool ParseLe(std::string_view t, double* v) {
  if (t.size() > 1 && t[0] == '+') t.remove_prefix(1);
  const auto r = std::from_chars(t.data(), t.data() + t.size(), *v);
  return r.ec == std::errc() && r.ptr == t.data() + t.size() && !std::isnan(*v);
}

class Mapper {
 public:
  explicit Mapper(const std::vector<MetricFamily>& families) {
    for (const MetricFamily& f : families) {
      present_.insert(f.name);
      for (const Sample& s : f.samples) {
        present_.insert(s.name);
        by_name_[s.name][KeyOf(s)].push_back(&s);
      }
    }
  }

  bool Exposed(const std::string& name, From from) const {
    switch (from) {
      case From::kGauge: return Has(name);
      case From::kCounter: return Has(name) || Has(name + "_total");
      default: return Has(name) || Has(name + "_bucket") || Has(name + "_sum") || Has(name + "_count");
    }
  }

  // The names of `r` this scrape serves: the first exposed alternative, or
  // all of them for sum_names (empty unless every one is exposed).
  std::vector<std::string> Chosen(const Rule& r) const {
    std::vector<std::string> out;
    for (const std::string& n : r.names) {
      // An info gauge without the label (an older config class) does not expose the setting.
      if (r.from == From::kInfoBool ? HasLabel(n, r.label) : Exposed(n, r.from)) {
        out.push_back(n);
        if (!r.sum_names) break;
      } else if (r.sum_names) {
        return {};
      }
    }
    return out;
  }

  // The instances that have series named `name`.
  void KeysOf(const std::string& name, std::set<InstanceKey>* keys) const {
    auto it = by_name_.find(name);
    if (it != by_name_.end())
      for (const auto& [key, samples] : it->second) keys->insert(key);
  }

  // The series named `name` of one instance.
  const std::vector<const Sample*>& Samples(const std::string& name, const InstanceKey& inst) const {
    static const std::vector<const Sample*> kNone;
    auto it = by_name_.find(name);
    if (it == by_name_.end()) return kNone;
    auto jt = it->second.find(inst);
    return jt == it->second.end() ? kNone : jt->second;
  }

  // The series actually read for `name` read as `from`.
  std::string SeriesName(const std::string& name, From from) const {
    switch (from) {
      case From::kCounter: return by_name_.count(name + "_total") ? name + "_total" : name;
      case From::kHistSum: return name + "_sum";
      case From::kHistCount: return name + "_count";
      case From::kHistogram: return name + "_bucket";
      case From::kGauge:
      case From::kInfoBool: break;
    }
    return name;
  }

  // A gauge or counter for one instance: replicas by max, the rest by `agg`.
  // Absent when no series matched (counters: 0, since the family is there).
  bool Scalar(const Rule& r, const std::vector<std::string>& names, const InstanceKey& inst, double* out) const {
    bool any = false;
    double total = r.agg == Agg::kMax ? -std::numeric_limits<double>::infinity() : 0;
    for (const std::string& n : names) {
      std::map<std::string, double> groups;
      for (const Sample* s : Samples(SeriesName(n, r.from), inst)) {
        if (std::isnan(s->value)) continue;
        if (!r.label.empty()) {
          const std::string* v = Label(*s, r.label);
          if (!v || std::find(r.values.begin(), r.values.end(), *v) == r.values.end()) continue;
        }
        auto [it, fresh] = groups.emplace(BreakdownOf(*s), s->value);
        if (!fresh) it->second = std::max(it->second, s->value);
      }
      for (const auto& [g, v] : groups) {
        total = r.agg == Agg::kMax ? std::max(total, v) : total + v;
        any = true;
      }
    }
    if (!any && r.from == From::kGauge) return false;
    *out = any ? total : 0;
    return true;
  }

  // A setting from an info gauge for one instance: the series whose engine
  // and model_name labels are the instance's or absent (vLLM's carries
  // `engine` only). Should they disagree, the largest: on wins.
  bool InfoBool(const Rule& r, const std::string& name, const InstanceKey& inst, double* out) const {
    auto it = by_name_.find(name);
    if (it == by_name_.end()) return false;
    bool any = false;
    for (const auto& [key, samples] : it->second) {
      if ((!key.first.empty() && key.first != inst.first) || (!key.second.empty() && key.second != inst.second))
        continue;
      for (const Sample* s : samples) {
        const std::string* t = Label(*s, r.label);
        double v = 0;
        if (std::isnan(s->value) || !t || !ParseBool(*t, &v)) continue;
        *out = any ? std::max(*out, v) : v;
        any = true;
      }
    }
    return any;
  }

  // Sums one suffix's series over breakdowns for an instance; for buckets,
  // per upper bound. Replicas by max.
  Status Sum(const std::string& series, const InstanceKey& inst, bool by_le, std::map<double, double>* out,
             bool* any) const {
    std::map<std::pair<std::string, double>, double> groups;
    for (const Sample* s : Samples(series, inst)) {
      if (std::isnan(s->value)) continue;
      double le = 0;
      if (by_le) {
        const std::string* t = Label(*s, "le");
        if (!t || !ParseLe(*t, &le)) return Status::InvalidArgument(series + ": bad or missing le label");
      }
      auto [it, fresh] = groups.emplace(std::make_pair(BreakdownOf(*s), le), s->value);
      if (!fresh) it->second = std::max(it->second, s->value);
    }
    for (const auto& [g, v] : groups) (*out)[g.second] += v;
    *any = !groups.empty();
    return Status::OK();
  }

  Status Histogram(const std::string& name, const InstanceKey& inst, Buckets* h, bool* found) const {
    std::map<double, double> buckets, sum, count;
    bool any_b = false, any_s = false, any_c = false;
    VIGIL_RETURN_IF_ERROR(Sum(name + "_bucket", inst, true, &buckets, &any_b));
    *found = any_b;
    if (!any_b) return Status::OK();
    if (!std::isinf(buckets.rbegin()->first) || buckets.rbegin()->first < 0)
      return Status::InvalidArgument(name + ": histogram without a +Inf bucket");
    VIGIL_RETURN_IF_ERROR(Sum(name + "_sum", inst, false, &sum, &any_s));
    VIGIL_RETURN_IF_ERROR(Sum(name + "_count", inst, false, &count, &any_c));
    for (const auto& [le, c] : buckets) {
      h->le.push_back(le);
      h->cumulative.push_back(c);
    }
    h->sum = any_s ? sum.begin()->second : 0;
    h->count = any_c ? count.begin()->second : h->cumulative.back();
    return Status::OK();
  }

 private:
  bool Has(const std::string& name) const { return present_.count(name) > 0; }
  bool HasLabel(const std::string& name, const std::string& label) const {
    auto it = by_name_.find(name);
    if (it != by_name_.end())
      for (const auto& [key, samples] : it->second)
        for (const Sample* s : samples)
          if (Label(*s, label)) return true;
    return false;
  }

  std::set<std::string> present_;
  // Series by name, then by instance: one lookup per instance and rule.
  std::map<std::string, std::map<InstanceKey, std::vector<const Sample*>>> by_name_;
};

// Names instances: "" alone; else by whichever of engine/model_name varies.
std::string InstanceName(const InstanceKey& k, size_t engines, size_t models) {
  if (engines > 1 && models > 1) return k.second + "/" + k.first;
  if (engines > 1) return k.first;
  if (models > 1) return k.second;
  return "";
}

}  // namespace

const char* EngineKindName(EngineKind kind) {
  switch (kind) {
    case EngineKind::kVllm: return "vllm";
    case EngineKind::kSglang: return "sglang";
    case EngineKind::kTgi: return "tgi";
    case EngineKind::kLlamaCpp: return "llamacpp";
    case EngineKind::kVigil: return "vigil";
    case EngineKind::kUnknown: break;
  }
  return "unknown";
}

Status ParseEngineKind(std::string_view name, EngineKind* kind) {
  for (EngineKind k : {EngineKind::kVllm, EngineKind::kSglang, EngineKind::kTgi, EngineKind::kLlamaCpp,
                       EngineKind::kVigil}) {
    if (name == EngineKindName(k)) {
      *kind = k;
      return Status::OK();
    }
  }
  if (name == "auto") {
    *kind = EngineKind::kUnknown;
    return Status::OK();
  }
  return Status::InvalidArgument("unknown engine \"" + std::string(name.substr(0, 64)) +
                                 "\"; expected auto, vllm, sglang, tgi, llamacpp or vigil");
}

EngineKind DetectEngine(const std::vector<MetricFamily>& families) {
  static const std::pair<const char*, EngineKind> kPrefixes[] = {
      {"vllm:", EngineKind::kVllm}, {"sglang:", EngineKind::kSglang},
      {"tgi_", EngineKind::kTgi},   {"llamacpp:", EngineKind::kLlamaCpp}};
  size_t counts[4] = {0, 0, 0, 0};
  for (const MetricFamily& f : families) {
    if (StartsWith(f.name, "vigil_")) return EngineKind::kVigil;
    for (size_t i = 0; i < 4; ++i) counts[i] += StartsWith(f.name, kPrefixes[i].first);
  }
  const size_t best = std::max_element(counts, counts + 4) - counts;  // first on ties
  return counts[best] > 0 ? kPrefixes[best].second : EngineKind::kUnknown;
}

bool AdaptersRead(std::string_view family) {
  static const std::set<std::string, std::less<>> names = [] {
    std::set<std::string, std::less<>> n;
    for (EngineKind k : {EngineKind::kVllm, EngineKind::kVigil, EngineKind::kSglang, EngineKind::kTgi, EngineKind::kLlamaCpp})
      for (const internal::Rule& r : internal::RulesFor(k)) n.insert(r.names.begin(), r.names.end());
    return n;
  }();
  if (names.count(family) || names.count(std::string(family) + "_info")) return true;  // OpenMetrics info: family less _info
  for (std::string_view suffix : {"_total", "_bucket", "_sum", "_count", "_info"})
    if (family.size() > suffix.size() && family.substr(family.size() - suffix.size()) == suffix &&
        names.count(family.substr(0, family.size() - suffix.size())))
      return true;
  return false;
}

const std::vector<std::string>& CanonicalInputs() {
  // In monitor::Catalogue() order within each kind.
  static const std::vector<std::string> k = {
      // gauges
      "requests_running", "requests_waiting", "kv_cache_usage", "kv_blocks_total", "kv_blocks_used",
      "kv_blocks_orphaned", "busy_fraction", "memory_used_bytes", "avg_sequence_length", "max_num_seqs", "block_size",
      "prefix_caching_enabled", "requests_stuck",
      // counters
      "preemptions_total", "kv_evictions_total", "prefix_cache_queries_total", "prefix_cache_hits_total",
      "prompt_tokens_total", "generation_tokens_total", "requests_finished_total", "requests_aborted_total",
      "progress_total",
      // histograms
      "ttft", "tbt", "e2e", "queue_time", "prefill_time"};
  return k;
}

Status Adapt(EngineKind kind, const std::vector<MetricFamily>& families, std::vector<InstanceReading>* out,
             std::vector<std::string>* missing) {
  out->clear();
  if (missing) missing->clear();
  if (kind == EngineKind::kUnknown) kind = DetectEngine(families);
  if (kind == EngineKind::kUnknown)
    return Status::NotFound("no vLLM, SGLang, TGI, llama.cpp or vigil metrics in the scrape");
  const Mapper m(families);

  // Per key, the first rule the scrape exposes, with the names it reads.
  std::map<std::string, std::pair<const Rule*, std::vector<std::string>>> used;
  for (const Rule& r : internal::RulesFor(kind)) {
    if (used.count(r.key)) continue;
    std::vector<std::string> names = m.Chosen(r);
    if (!names.empty()) used.emplace(r.key, std::make_pair(&r, std::move(names)));
  }
  // A hit count without its query count (or the reverse) gives no hit rate.
  if (!used.count("prefix_cache_queries_total") || !used.count("prefix_cache_hits_total")) {
    used.erase("prefix_cache_queries_total");
    used.erase("prefix_cache_hits_total");
  }

  // Info gauges describe an engine found by its figures; they make none.
  std::set<InstanceKey> keys;
  for (const auto& [key, ru] : used)
    if (ru.first->from != From::kInfoBool)
      for (const std::string& n : ru.second) m.KeysOf(m.SeriesName(n, ru.first->from), &keys);
  std::set<std::string> engines, models;
  for (const InstanceKey& k : keys) {
    engines.insert(k.first);
    models.insert(k.second);
  }

  for (const InstanceKey& k : keys) {
    InstanceReading r;
    r.instance = InstanceName(k, engines.size(), models.size());
    for (const auto& [key, ru] : used) {
      const Rule& rule = *ru.first;
      if (rule.from == From::kHistogram) {
        Buckets h;
        bool found = false;
        Status st = m.Histogram(ru.second.front(), k, &h, &found);
        if (!st.ok()) {
          out->clear();
          if (missing) missing->clear();
          return st;
        }
        if (found) r.histograms.emplace(key, std::move(h));
        continue;
      }
      double v = 0;
      if (rule.from == From::kInfoBool) {
        if (m.InfoBool(rule, ru.second.front(), k, &v)) r.gauges[key] = v;
        continue;
      }
      if (!m.Scalar(rule, ru.second, k, &v)) continue;
      (rule.from == From::kGauge ? r.gauges : r.counters)[key] = v;
    }
    out->push_back(std::move(r));
  }
  std::sort(out->begin(), out->end(),
            [](const InstanceReading& a, const InstanceReading& b) { return a.instance < b.instance; });
  if (missing)
    for (const std::string& key : CanonicalInputs())
      if (!used.count(key)) missing->push_back(key);
  return Status::OK();
}

}  // namespace vigil::scrape
