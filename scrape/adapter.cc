#include "scrape/adapter.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <set>
#include <unordered_map>
#include <utility>

#include "scrape/engine_rules.h"

namespace vigil::scrape {
namespace {

using internal::Agg;
using internal::From;
using internal::InputMapping;

// (engine label, model_name label): what tells engines apart. Views of
// the families' label values, which outlive every use.
using InstanceKey = std::pair<std::string_view, std::string_view>;

const std::string* Label(const Sample& s, std::string_view name) {
  for (const auto& [k, v] : s.labels)
    if (k == name) return &v;
  return nullptr;
}

// Whether two samples are one series' buckets: the same labels but `le`.
// Labels are sorted by name (ParseExposition), so one pass compares them.
bool SameSeries(const Sample& a, const Sample& b) {
  auto ia = a.labels.begin(), ib = b.labels.begin();
  while (true) {
    while (ia != a.labels.end() && ia->first == "le") ++ia;
    while (ib != b.labels.end() && ib->first == "le") ++ib;
    if (ia == a.labels.end() || ib == b.labels.end()) return ia == a.labels.end() && ib == b.labels.end();
    if (*ia != *ib) return false;
    ++ia, ++ib;
  }
}

// The labels that name the model, in order, by engine: model_name for most;
// SGLang's first metrics (late 2024) put it in `name`; Triton and Dynamo in
// `model`.
using ModelLabels = std::vector<std::string_view>;
const ModelLabels& ModelLabelsOf(EngineKind kind) {
  static const ModelLabels plain = {"model_name"}, sglang = {"model_name", "name"}, model = {"model"};
  switch (kind) {
    case EngineKind::kSglang: return sglang;
    case EngineKind::kTriton:
    case EngineKind::kDynamo: return model;
    default: return plain;
  }
}

InstanceKey KeyOf(const Sample& s, const ModelLabels& model_labels) {
  const std::string* e = Label(s, "engine");
  const std::string* m = nullptr;
  for (std::string_view l : model_labels)
    if ((m = Label(s, l))) break;
  return {e ? std::string_view(*e) : "", m ? std::string_view(*m) : ""};
}

// The labels a figure is split by, less the instance labels, `le`, and the
// replica labels (every tensor/pipeline rank reports the same figure).
// Empty (no allocation) for most series, which have none.
std::string BreakdownOf(const Sample& s, const ModelLabels& model_labels) {
  using namespace std::string_view_literals;  // compared by length first
  std::string key;
  for (const auto& [k, v] : s.labels) {
    const std::string_view n = k;
    if (n == "engine"sv || n == "le"sv || n == "tp_rank"sv || n == "pp_rank"sv || n == "moe_ep_rank"sv ||
        std::find(model_labels.begin(), model_labels.end(), n) != model_labels.end())
      continue;
    key.append(k).append(1, '\x1f').append(v).append(1, '\x1e');  // separators a label cannot hold
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

// Every name an adapter reads, in each form it may be served in (a name
// alone, with a _total/_bucket/_sum/_count/_info suffix, or less its _info:
// OpenMetrics names an info family without it), numbered. Trusted names in
// a hash table: a scrape's names are only looked up in it, so they cannot
// make its chains long; a name not in it is one no adapter asks about.
const std::unordered_map<std::string_view, size_t>& Forms() {
  static const std::unordered_map<std::string_view, size_t> forms = [] {
    static std::set<std::string> names;  // owns the strings the keys view
    for (EngineKind k : kAllEngineKinds)
      for (const internal::InputMapping& r : internal::MappingsFor(k))
        for (const std::string& n : r.names) {
          for (const char* suffix : {"", "_total", "_bucket", "_sum", "_count", "_info"}) names.insert(n + suffix);
          if (n.size() > 5 && n.compare(n.size() - 5, 5, "_info") == 0) names.insert(n.substr(0, n.size() - 5));
        }
    std::unordered_map<std::string_view, size_t> m;
    for (const std::string& n : names) m.emplace(n, m.size());
    return m;
  }();
  return forms;
}

// The form number of `name`, or kNoForm.
constexpr size_t kNoForm = static_cast<size_t>(-1);
size_t FormOf(std::string_view name) {
  const auto it = Forms().find(name);
  return it == Forms().end() ? kNoForm : it->second;
}

class Mapper {
 public:
  // Only the names an adapter may ask about are indexed, by form number.
  Mapper(const std::vector<ParsedFamily>& families, const ModelLabels& model_labels)
      : model_labels_(model_labels), present_(Forms().size()) {
    for (const ParsedFamily& f : families) {
      if (const size_t id = FormOf(f.name); id != kNoForm) present_[id] = true;
      std::string_view last;
      Series* series = nullptr;
      for (const Sample& s : f.samples) {
        if (last.data() == nullptr || s.name != last) {  // a family's samples come name by name: one lookup per run
          last = s.name;
          const size_t id = FormOf(s.name);
          series = id == kNoForm ? nullptr : &by_form_[id];
          if (series) present_[id] = true;
        }
        if (series) (*series)[KeyOf(s, model_labels_)].push_back(&s);
      }
    }
  }

  bool Exposed(const std::string& name, From from) const {
    switch (from) {
      case From::kGauge: return Has(name);
      case From::kCounter: return Has(name) || Has(name, "_total");
      default: return Has(name) || Has(name, "_bucket") || Has(name, "_sum") || Has(name, "_count");
    }
  }

  // The names of `r` this scrape serves: the first exposed alternative, or
  // all of them for sum_names (empty unless every one is exposed).
  std::vector<std::string> Chosen(const InputMapping& r) const {
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

  // The instances that have series named `name` read as `from`.
  void KeysOf(const std::string& name, From from, std::set<InstanceKey>* keys) const {
    if (const Series* s = Find(SeriesSuffix(name, from), name))
      for (const auto& [key, samples] : *s) keys->insert(key);
  }

  // A gauge or counter for one instance: replicas by max, the rest by `agg`.
  // Absent when no series matched (counters: 0, since the family is there).
  bool Scalar(const InputMapping& r, const std::vector<std::string>& names, const InstanceKey& inst,
              double* out) const {
    bool any = false;
    double total = r.agg == Agg::kMax ? -std::numeric_limits<double>::infinity() : 0;
    for (const std::string& n : names) {
      std::vector<Part>& parts = parts_;
      parts.clear();
      for (const Sample* s : Samples(n, SeriesSuffix(n, r.from), inst)) {
        if (std::isnan(s->value)) continue;
        if (!r.label.empty()) {
          const std::string* v = Label(*s, r.label);
          if (!v || std::find(r.values.begin(), r.values.end(), *v) == r.values.end()) continue;
        }
        parts.push_back({BreakdownOf(*s, model_labels_), 0, s->value});
      }
      for (const Part& p : Merged(&parts)) {
        total = r.agg == Agg::kMax ? std::max(total, p.v) : total + p.v;
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
  bool InfoBool(const InputMapping& r, const std::string& name, const InstanceKey& inst, double* out) const {
    const Series* series = Find("", name);
    if (!series) return false;
    bool any = false;
    for (const auto& [key, samples] : *series) {
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

  // One instance's histogram. A malformed one (an unparsable `le`, no +Inf
  // bucket, bounds out of order or repeated within a series) is
  // InvalidArgument with `*reason` set. Falling cumulative counts are not:
  // histogram_quantile raises them, as the deriver does.
  // vLLM's lora_requests_info for one instance: its latest series (the value
  // is when it was set), as an info gauge applies (InfoBool). The adapters
  // are comma-separated names; waiting ones already loaded do not count.
  bool LoraInfo(const std::string& name, const InstanceKey& inst, double* running, double* waiting,
                double* max_lora) const {
    const Series* series = Find("", name);
    if (!series) return false;
    const Sample* latest = nullptr;
    for (const auto& [key, samples] : *series) {
      if ((!key.first.empty() && key.first != inst.first) || (!key.second.empty() && key.second != inst.second))
        continue;
      for (const Sample* s : samples)
        if (!std::isnan(s->value) && (!latest || s->value > latest->value)) latest = s;
    }
    if (!latest) return false;
    auto names = [](const std::string* list) {
      std::set<std::string> out;
      if (!list) return out;
      size_t b = 0;
      while (b <= list->size()) {
        size_t e = list->find(',', b);
        if (e == std::string::npos) e = list->size();
        std::string n = list->substr(b, e - b);
        n.erase(0, n.find_first_not_of(' '));
        n.erase(n.find_last_not_of(' ') + 1);
        if (!n.empty()) out.insert(n);
        b = e + 1;
      }
      return out;
    };
    const std::set<std::string> run = names(Label(*latest, "running_lora_adapters"));
    std::set<std::string> wait = names(Label(*latest, "waiting_lora_adapters"));
    for (const std::string& n : run) wait.erase(n);
    double m = 0;
    const std::string* max_label = Label(*latest, "max_lora");
    if (!max_label || !ParseLe(*max_label, &m)) return false;
    *running = static_cast<double>(run.size());
    *waiting = static_cast<double>(wait.size());
    *max_lora = m;
    return true;
  }

  Status Histogram(const InputMapping& rule, const std::string& name, const InstanceKey& inst, Buckets* h, bool* found,
                   std::string* reason) const {
    std::vector<std::pair<double, double>> buckets, sum, count;
    *found = false;
    if (Status st = Sum(name, "_bucket", inst, true, &buckets, reason); !st.ok()) return st;
    *found = !buckets.empty();
    if (buckets.empty()) return Status::OK();
    if (!std::isinf(buckets.back().first) || buckets.back().first < 0) {
      *reason = "no_inf_bucket";
      return Status::InvalidArgument(name + ": histogram without a +Inf bucket");
    }
    VIGIL_RETURN_IF_ERROR(Sum(name, "_sum", inst, false, &sum, reason));
    VIGIL_RETURN_IF_ERROR(Sum(name, "_count", inst, false, &count, reason));
    h->le.reserve(buckets.size());
    h->cumulative.reserve(buckets.size());
    for (const auto& [le, c] : buckets) {
      h->le.push_back(std::isinf(le) ? le : le * rule.scale);
      h->cumulative.push_back(c);
    }
    h->sum = sum.empty() ? 0 : sum.front().second * rule.scale;
    h->count = count.empty() ? h->cumulative.back() : count.front().second;
    return Status::OK();
  }

 private:
  // Per instance, the series of one name.
  using Series = std::map<InstanceKey, std::vector<const Sample*>>;
  // One series' figure: its breakdown (BreakdownOf) and upper bound.
  struct Part {
    std::string breakdown;
    double le, v;
  };

  // The suffix of the series actually read for `name` read as `from`.
  std::string_view SeriesSuffix(const std::string& name, From from) const {
    switch (from) {
      case From::kCounter: return Find("_total", name) ? "_total" : "";
      case From::kHistSum: return "_sum";
      case From::kHistCount: return "_count";
      case From::kHistogram: return "_bucket";
      case From::kGauge:
      case From::kInfoBool:
      case From::kLoraInfo: break;
    }
    return "";
  }

  // `name` + `suffix`, spelled in a reused buffer: no allocation per lookup.
  std::string_view Spell(std::string_view name, std::string_view suffix) const {
    if (suffix.empty()) return name;
    key_.assign(name).append(suffix);
    return key_;
  }
  const Series* Find(std::string_view suffix, std::string_view name) const {
    const auto it = by_form_.find(FormOf(Spell(name, suffix)));
    return it == by_form_.end() ? nullptr : &it->second;
  }
  // The series named `name` + `suffix` of one instance.
  const std::vector<const Sample*>& Samples(std::string_view name, std::string_view suffix,
                                            const InstanceKey& inst) const {
    static const std::vector<const Sample*> kNone;
    const Series* s = Find(suffix, name);
    if (!s) return kNone;
    auto jt = s->find(inst);
    return jt == s->end() ? kNone : jt->second;
  }

  // Replicas (the same breakdown and bound) by max, in (breakdown, le) order.
  // Most series have no breakdown, and buckets come in order: then there is
  // nothing to sort.
  static const std::vector<Part>& Merged(std::vector<Part>* parts) {
    std::vector<Part>& v = *parts;
    const bool split = std::any_of(v.begin(), v.end(), [](const Part& p) { return !p.breakdown.empty(); });
    auto less = [split](const Part& a, const Part& b) {
      const int c = split ? a.breakdown.compare(b.breakdown) : 0;
      return c != 0 ? c < 0 : a.le < b.le;
    };
    if (!std::is_sorted(v.begin(), v.end(), less)) std::sort(v.begin(), v.end(), less);
    size_t n = 0;
    for (size_t k = 0; k < v.size(); ++k) {
      if (n > 0 && v[n - 1].breakdown == v[k].breakdown && v[n - 1].le == v[k].le)
        v[n - 1].v = std::max(v[n - 1].v, v[k].v);
      else if (n++ != k) v[n - 1] = std::move(v[k]);
    }
    v.resize(n);
    return *parts;
  }

  // One suffix's series summed over breakdowns for an instance, by upper
  // bound for buckets (else all at 0), ascending. Replicas by max. Buckets
  // must come in ascending order of le within each series (all its labels
  // but le), as the formats require: `*reason` bucket_order otherwise.
  Status Sum(const std::string& name, std::string_view suffix, const InstanceKey& inst, bool by_le,
             std::vector<std::pair<double, double>>* out, std::string* reason) const {
    std::vector<Part>& parts = parts_;
    parts.clear();
    const Sample* last = nullptr;
    double last_le = 0;
    for (const Sample* s : Samples(name, suffix, inst)) {
      double le = 0;
      if (by_le) {
        const std::string* t = Label(*s, "le");
        if (!t || !ParseLe(*t, &le)) {
          *reason = "bad_le";
          return Status::InvalidArgument(name + std::string(suffix) + ": bad or missing le label");
        }
        if (last && SameSeries(*last, *s) && !(le > last_le)) {
          *reason = "bucket_order";
          return Status::InvalidArgument(name + std::string(suffix) + ": le=\"" + *t +
                                         "\" after a bucket with the same or a higher bound");
        }
        last = s;
        last_le = le;
      }
      if (std::isnan(s->value)) continue;
      parts.push_back({BreakdownOf(*s, model_labels_), le, s->value});
    }
    Merged(&parts);
    // Summed per bound in breakdown order, as a map keyed (breakdown, le) would.
    auto le_less = [](const Part& a, const Part& b) { return a.le < b.le; };
    if (!std::is_sorted(parts.begin(), parts.end(), le_less)) std::stable_sort(parts.begin(), parts.end(), le_less);
    out->clear();
    for (const Part& p : parts) {
      if (out->empty() || out->back().first != p.le) out->emplace_back(p.le, 0);
      out->back().second += p.v;
    }
    return Status::OK();
  }

  bool Has(std::string_view name, std::string_view suffix = "") const {
    const size_t id = FormOf(Spell(name, suffix));
    return id != kNoForm && present_[id];
  }
  bool HasLabel(const std::string& name, const std::string& label) const {
    if (const Series* s = Find("", name))
      for (const auto& [key, samples] : *s)
        for (const Sample* sample : samples)
          if (Label(*sample, label)) return true;
    return false;
  }

  const ModelLabels& model_labels_;
  // By form number: whether a family or series has that name.
  std::vector<bool> present_;
  // Series by name (form number), then by instance: one lookup per instance and rule.
  std::unordered_map<size_t, Series> by_form_;
  mutable std::string key_;          // Spell's buffer
  mutable std::vector<Part> parts_;  // Scalar's and Sum's, reused
};

// Names instances: "" alone; else by whichever of engine/model_name varies.
std::string InstanceName(const InstanceKey& k, size_t engines, size_t models) {
  if (engines > 1 && models > 1) return std::string(k.second).append("/").append(k.first);
  if (engines > 1) return std::string(k.first);
  if (models > 1) return std::string(k.second);
  return "";
}

}  // namespace

bool AdaptersRead(std::string_view family) { return FormOf(family) != kNoForm; }

const std::vector<std::string>& CanonicalInputs() {
  // In monitor::Catalogue() order within each kind.
  static const std::vector<std::string> k = {
      // gauges
      "requests_running", "requests_waiting", "kv_cache_usage", "kv_blocks_total", "kv_blocks_used",
      "kv_blocks_orphaned", "busy_fraction", "memory_used_bytes", "avg_sequence_length", "max_num_seqs", "block_size",
      "prefix_caching_enabled", "requests_stuck", "requests_deferred", "spec_accept_rate", "lora_adapters_running",
      "lora_adapters_waiting", "lora_max",
      // counters
      "preemptions_total", "kv_evictions_total", "prefix_cache_queries_total", "prefix_cache_hits_total",
      "prompt_tokens_total", "generation_tokens_total", "requests_finished_total", "requests_aborted_total",
      "progress_total", "spec_draft_tokens_total", "spec_accepted_tokens_total",
      // histograms
      "ttft", "tbt", "e2e", "queue_time", "prefill_time"};
  return k;
}

Status Adapt(EngineKind kind, const std::vector<ParsedFamily>& families, std::vector<InstanceReading>* out,
             std::vector<std::string>* missing, std::vector<DroppedFamily>* dropped) {
  out->clear();
  if (missing) missing->clear();
  if (kind == EngineKind::kUnknown) kind = DetectEngine(families);
  if (kind == EngineKind::kUnknown)
    return Status::NotFound(
        "no vLLM, SGLang, TGI, llama.cpp, Triton (TensorRT-LLM), trtllm-serve, Dynamo or vigil metrics in the scrape");
  const Mapper m(families, ModelLabelsOf(kind));

  // Per key, the first rule the scrape exposes, with the names it reads.
  std::map<std::string, std::pair<const InputMapping*, std::vector<std::string>>> used;
  for (const InputMapping& r : internal::MappingsFor(kind)) {
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
  // Where an anchor rule is exposed, only its series name engines.
  const bool anchored = std::any_of(used.begin(), used.end(), [](const auto& u) { return u.second.first->anchor; });
  std::set<InstanceKey> keys;
  for (const auto& [key, ru] : used)
    if (ru.first->from != From::kInfoBool && ru.first->from != From::kLoraInfo && (!anchored || ru.first->anchor))
      for (const std::string& n : ru.second) m.KeysOf(n, ru.first->from, &keys);
  std::set<std::string_view> engines, models;
  for (const InstanceKey& k : keys) {
    engines.insert(k.first);
    models.insert(k.second);
  }

  for (const InstanceKey& k : keys) {
    InstanceReading r;
    r.instance = InstanceName(k, engines.size(), models.size());
    for (const auto& [key, ru] : used) {
      const InputMapping& rule = *ru.first;
      if (rule.from == From::kHistogram) {
        Buckets h;
        bool found = false;
        std::string why;
        const std::string& name = ru.second.front();
        Status st = m.Histogram(rule, name, k, &h, &found, &why);
        if (!st.ok() && !dropped) {
          out->clear();
          if (missing) missing->clear();
          return st;
        }
        if (!st.ok()) {  // this family is left out; the rest of the scrape is used
          if (std::none_of(dropped->begin(), dropped->end(), [&](const DroppedFamily& d) { return d.family == name; }))
            dropped->push_back({name, why, st.message()});
          continue;
        }
        if (found) r.histograms.emplace(key, std::move(h));
        continue;
      }
      double v = 0;
      if (rule.from == From::kInfoBool) {
        if (m.InfoBool(rule, ru.second.front(), k, &v)) r.gauges[key] = v;
        continue;
      }
      if (rule.from == From::kLoraInfo) {
        double waiting = 0, max_lora = 0;
        if (m.LoraInfo(ru.second.front(), k, &v, &waiting, &max_lora)) {
          r.gauges["lora_adapters_running"] = v;
          r.gauges["lora_adapters_waiting"] = waiting;
          r.gauges["lora_max"] = max_lora;
        }
        continue;
      }
      if (!m.Scalar(rule, ru.second, k, &v)) continue;
      (rule.from == From::kGauge ? r.gauges : r.counters)[key] = v;
    }
    // Block counts give the usage where the ratio itself is not served
    // (Triton's TensorRT-LLM backend before its `fraction`).
    auto used_blocks = r.gauges.find("kv_blocks_used"), total_blocks = r.gauges.find("kv_blocks_total");
    if (!r.gauges.count("kv_cache_usage") && used_blocks != r.gauges.end() && total_blocks != r.gauges.end() &&
        total_blocks->second > 0)
      r.gauges["kv_cache_usage"] = used_blocks->second / total_blocks->second;
    out->push_back(std::move(r));
  }
  std::sort(out->begin(), out->end(),
            [](const InstanceReading& a, const InstanceReading& b) { return a.instance < b.instance; });
  // SGLang's retraction gauge stands in for both counters (the deriver adds
  // up its publications), so neither is missing where it is served.
  const bool recent = used.count("kv_evictions_recent") > 0;
  const bool blocks = used.count("kv_blocks_used") && used.count("kv_blocks_total");
  // One rule gives the three LoRA figures; an acceptance-rate gauge (SGLang)
  // or the drafted/accepted counters (vLLM, trtllm-serve) give spec_accept_rate.
  const bool lora = used.count("lora_adapters_running") > 0;
  const bool spec_counters = used.count("spec_draft_tokens_total") && used.count("spec_accepted_tokens_total");
  const bool spec_gauge = used.count("spec_accept_rate") > 0;
  if (missing)
    for (const std::string& key : CanonicalInputs())
      if (!used.count(key) && !(recent && (key == "kv_evictions_total" || key == "preemptions_total")) &&
          !(blocks && key == "kv_cache_usage") && !(lora && (key == "lora_adapters_waiting" || key == "lora_max")) &&
          !(spec_counters && key == "spec_accept_rate") &&
          !(spec_gauge && (key == "spec_draft_tokens_total" || key == "spec_accepted_tokens_total")))
        missing->push_back(key);
  return Status::OK();
}

}  // namespace vigil::scrape
