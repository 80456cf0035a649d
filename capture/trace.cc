#include "capture/trace.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

namespace vigil::capture {

using json = nlohmann::json;

Event FromRecord(const engine::TraceRecord& r) {
  Event e{r.name, r.cat, r.ts_us, r.dur_us, r.pid, r.tid, nullptr};
  if (!r.num_args.empty() || !r.str_args.empty()) {
    e.args = json::object();
    for (const auto& [k, v] : r.num_args) e.args[k] = v;
    for (const auto& [k, v] : r.str_args) e.args[k] = v;
  }
  return e;
}

namespace {

void AppendEscaped(std::string* out, const std::string& s) {
  out->push_back('"');
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      *out += buf;
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
  out->push_back('"');
}

// By hand: a capture holds around a million events, and building a json
// object per event would dominate the time from trigger to file.
std::string EventJson(const Event& e) {
  std::string s;
  s.reserve(128 + e.name.size());
  s += "{\"ph\":\"X\",\"name\":";
  AppendEscaped(&s, e.name);
  s += ",\"cat\":";
  AppendEscaped(&s, e.cat);
  char buf[128];
  std::snprintf(buf, sizeof buf, ",\"ts\":%.3f,\"dur\":%.3f,\"pid\":%lld,\"tid\":%lld", e.ts, e.dur,
                static_cast<long long>(e.pid), static_cast<long long>(e.tid));
  s += buf;
  if (!e.args.is_null()) {
    s += ",\"args\":";
    s += e.args.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  s += '}';
  return s;
}

// Track names so Perfetto shows "vigild" / "engine" / "GPU 0 stream 7".
std::vector<json> NameEvents(const std::vector<Event>& events) {
  std::set<std::pair<int64_t, int64_t>> tracks;
  for (const auto& e : events) tracks.insert({e.pid, e.tid});
  std::vector<json> out;
  std::set<int64_t> pids;
  for (const auto& [pid, tid] : tracks) {
    if (pids.insert(pid).second) {
      out.push_back({{"ph", "M"},
                     {"name", "process_name"},
                     {"pid", pid},
                     {"tid", 0},
                     {"args", {{"name", pid == 0 ? "vigild" : "GPU " + std::to_string(pid - 1)}}}});
    }
    out.push_back({{"ph", "M"},
                   {"name", "thread_name"},
                   {"pid", pid},
                   {"tid", tid},
                   {"args", {{"name", pid == 0 ? "thread " + std::to_string(tid) : "stream " + std::to_string(tid)}}}});
  }
  return out;
}

class GzWriter {
 public:
  explicit GzWriter(const std::string& path) : f_(gzopen(path.c_str(), "wb1")) {}
  ~GzWriter() {
    if (f_) gzclose(f_);
  }
  bool ok() const { return f_ != nullptr && ok_; }
  void Write(const std::string& s) {
    if (!ok() || s.empty()) return;
    if (gzwrite(f_, s.data(), static_cast<unsigned>(s.size())) != static_cast<int>(s.size())) ok_ = false;
    bytes_ += static_cast<int64_t>(s.size());
  }
  bool Close() {
    if (!f_) return false;
    const int rc = gzclose(f_);
    f_ = nullptr;
    return ok_ && rc == Z_OK;
  }
  int64_t bytes() const { return bytes_; }

 private:
  gzFile f_;
  bool ok_ = true;
  int64_t bytes_ = 0;
};

}  // namespace

Status WriteTrace(const std::string& path, std::vector<Event> events, json metadata, int64_t max_bytes,
                  WriteResult* out) {
  *out = WriteResult();
  std::stable_sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
    return a.ts != b.ts ? a.ts < b.ts : a.dur > b.dur;  // parents before children
  });
  GzWriter w(path);
  if (!w.ok()) return Status::IOError(path + ": cannot create the trace file");
  // Reserve room for the metadata and the closing brackets.
  metadata["truncated"] = true;  // the longest form, for the estimate
  const int64_t tail = static_cast<int64_t>(metadata.dump().size()) + 64;
  w.Write("{\"traceEvents\":[");
  bool first = true;
  auto put = [&](const std::string& body) {
    const std::string s = (first ? "" : ",\n") + body;
    if (w.bytes() + static_cast<int64_t>(s.size()) + tail > max_bytes) return false;
    w.Write(s);
    first = false;
    return true;
  };
  for (const json& m : NameEvents(events)) put(m.dump(-1, ' ', false, json::error_handler_t::replace));
  size_t i = 0;
  for (; i < events.size(); ++i) {
    if (!put(EventJson(events[i]))) break;
  }
  out->events_written = static_cast<int64_t>(i);
  out->events_dropped = static_cast<int64_t>(events.size() - i);
  out->truncated = i < events.size();
  metadata["truncated"] = out->truncated;
  metadata["events_dropped"] = out->events_dropped;
  w.Write("],\n\"displayTimeUnit\":\"ms\",\n\"vigil\":" +
          metadata.dump(-1, ' ', false, json::error_handler_t::replace) + "}\n");
  out->bytes = w.bytes();
  if (!w.Close()) {
    std::remove(path.c_str());
    return Status::IOError(path + ": writing the trace failed (disk full or read-only?)");
  }
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f) {
    std::fseek(f, 0, SEEK_END);
    out->compressed_bytes = std::ftell(f);
    std::fclose(f);
  }
  return Status::OK();
}

Status ReadTrace(const std::string& path, std::vector<Event>* events, json* metadata) {
  gzFile f = gzopen(path.c_str(), "rb");  // reads plain files too
  if (!f) return Status::NotFound(path + ": cannot open");
  std::string text;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  const bool bad = n < 0;
  gzclose(f);
  if (bad) return Status::Corruption(path + ": not a readable gzip file");
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return Status::Corruption(path + ": not JSON");
  const json* list = nullptr;
  if (j.is_array()) list = &j;  // the JSON Array Format
  else if (j.is_object() && j.contains("traceEvents") && j["traceEvents"].is_array()) list = &j["traceEvents"];
  if (!list) return Status::Corruption(path + ": no traceEvents (not a Chrome trace)");
  if (metadata) *metadata = j.is_object() && j.contains("vigil") ? j["vigil"] : json();
  events->clear();
  auto num = [](const json& e, const char* k) -> double {
    if (!e.contains(k)) return 0;
    const json& v = e[k];
    if (v.is_number()) return v.get<double>();
    if (v.is_string()) {
      try {
        return std::stod(v.get<std::string>());
      } catch (...) {}
    }
    return 0;
  };
  auto id = [](const json& e, const char* k) -> int64_t {
    if (!e.contains(k)) return 0;
    const json& v = e[k];
    if (v.is_number_integer()) return v.get<int64_t>();
    if (v.is_number()) {
      // Casting a double outside int64's range (or NaN) is undefined.
      const double d = v.get<double>();
      return d > -9.2e18 && d < 9.2e18 ? static_cast<int64_t>(d) : 0;
    }
    if (v.is_string()) return static_cast<int64_t>(std::hash<std::string>()(v.get<std::string>()) & 0x7fffffff);
    return 0;
  };
  std::map<std::pair<int64_t, int64_t>, std::vector<Event>> open;  // B events awaiting their E
  for (const json& e : *list) {
    if (!e.is_object() || !e.contains("ph") || !e["ph"].is_string()) continue;
    const std::string ph = e["ph"];
    Event ev;
    // value() throws on a non-string name; a target's trace is outside input.
    ev.name = e.contains("name") && e["name"].is_string() ? e["name"].get<std::string>() : "";
    ev.cat = e.contains("cat") && e["cat"].is_string() ? e["cat"].get<std::string>() : "";
    ev.ts = num(e, "ts");
    ev.pid = id(e, "pid");
    ev.tid = id(e, "tid");
    if (e.contains("args")) ev.args = e["args"];
    if (ph == "X") {
      ev.dur = num(e, "dur");
      events->push_back(std::move(ev));
    } else if (ph == "B") {
      open[{ev.pid, ev.tid}].push_back(std::move(ev));
    } else if (ph == "E") {
      auto& stack = open[{ev.pid, ev.tid}];
      if (stack.empty()) continue;
      Event b = std::move(stack.back());
      stack.pop_back();
      b.dur = ev.ts - b.ts;
      events->push_back(std::move(b));
    }
  }
  return Status::OK();
}

}  // namespace vigil::capture
