#include "pipeline/target.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>

namespace vigil::pipeline {

Status SplitTargetUrl(const std::string& url, std::string* base, std::string* path) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos)
    return Status::InvalidArgument("\"" + url + "\": expected a URL such as http://127.0.0.1:8000");
  const std::string scheme = url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https")
    return Status::InvalidArgument("\"" + url + "\": only http:// and https:// are scraped");
  const size_t host_begin = scheme_end + 3;
  const size_t slash = url.find('/', host_begin);
  const std::string host = url.substr(host_begin, slash == std::string::npos ? std::string::npos : slash - host_begin);
  if (host.empty() || host.find_first_of("?#@ ") != std::string::npos)
    return Status::InvalidArgument("\"" + url + "\": no host (or a user, query or space in it)");
  std::string p = slash == std::string::npos ? "" : url.substr(slash);
  if (p.find_first_of("?#") != std::string::npos)
    return Status::InvalidArgument("\"" + url + "\": a query or fragment is not supported");
  if (p.empty() || p == "/") p = "/metrics";
  *base = scheme + "://" + host;
  *path = p;
  return Status::OK();
}

namespace {

using Clock = std::chrono::steady_clock;

void SetTimeouts(httplib::Client& c, double timeout_s) {
  const auto sec = static_cast<time_t>(timeout_s);
  const auto usec = static_cast<time_t>((timeout_s - static_cast<double>(sec)) * 1e6);
  c.set_connection_timeout(sec, usec);
  c.set_read_timeout(sec, usec);
  c.set_write_timeout(sec, usec);
}

std::string ErrorReason(httplib::Error e) {
  switch (e) {
    case httplib::Error::Connection:
    case httplib::Error::SSLConnection:
    case httplib::Error::SSLServerVerification: return "connect";
    case httplib::Error::ConnectionTimeout: return "timeout";
    case httplib::Error::Read: return "read";
    default: return "http";
  }
}

}  // namespace

struct ScrapeSession::Conn {
  std::string base;
  double timeout_s = 0;
  httplib::Client client;
  Conn(const std::string& b, double timeout) : base(b), timeout_s(timeout), client(b) {
    SetTimeouts(client, timeout);
    client.set_keep_alive(true);
  }
};

ScrapeSession::ScrapeSession() = default;
ScrapeSession::~ScrapeSession() = default;

ScrapeResult FetchTarget(const TargetConfig& t, const std::string& token, double now) {
  return ScrapeSession().Fetch(t, token, now);
}

ScrapeResult ScrapeSession::Fetch(const TargetConfig& t, const std::string& token, double now) {
  ScrapeResult r;
  r.started = now;
  const auto t0 = Clock::now();
  const auto deadline =
      t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(t.scrape_timeout_s));
  auto finish = [&](std::string reason, std::string error) {
    r.reason = std::move(reason);
    r.error = std::move(error);
    r.duration_s = std::chrono::duration<double>(Clock::now() - t0).count();
    return r;
  };
  std::string base, path;
  if (Status st = SplitTargetUrl(t.url, &base, &path); !st.ok()) return finish("config", st.message());
  bool reused = conn_ && conn_->base == base && conn_->timeout_s == t.scrape_timeout_s;
  if (!reused) conn_ = std::make_unique<Conn>(base, t.scrape_timeout_s);
  httplib::Headers headers = {
      {"Accept", "text/plain;version=0.0.4;q=0.9,application/openmetrics-text;version=1.0.0;q=0.5"}};
  if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
  int status = 0;
  std::string content_type, body;
  bool too_large = false, too_slow = false;
  auto get = [&] {
    return conn_->client.Get(
        path, headers,
        [&](const httplib::Response& resp) {
          status = resp.status;
          content_type = resp.get_header_value("Content-Type");
          // Grown once to the announced size (within the limit), not by doubling.
          const uint64_t length = resp.get_header_value<uint64_t>("Content-Length");
          if (resp.status == 200 && length > 0) body.reserve(std::min<uint64_t>(length, t.limits.max_bytes));
          return resp.status == 200;  // an error page is not read
        },
        [&](const char* data, size_t n) {
          if (body.size() + n > t.limits.max_bytes) return !(too_large = true);
          if (Clock::now() > deadline) return !(too_slow = true);
          body.append(data, n);
          return true;
        });
  };
  auto res = get();
  // The target may have closed the kept-alive connection just as it was
  // reused (servers cap a connection's requests or idle time): once more,
  // on a new one.
  if (!res && reused && status == 0 && !too_large && !too_slow &&
      Clock::now() + std::chrono::milliseconds(50) < deadline) {
    conn_ = std::make_unique<Conn>(base, t.scrape_timeout_s);
    body.clear();
    res = get();
  }
  httplib::Client& c = conn_->client;
  if (too_large || too_slow || !res) conn_.reset();  // a cancelled or broken exchange leaves the socket unusable
  if (too_large)
    return finish("too_large", "the body is over the " + std::to_string(t.limits.max_bytes) + "-byte limit");
  if (too_slow) return finish("timeout", "the body took longer than scrape_timeout");
  if (status != 0 && status != 200)
    return finish("http_status", "GET " + path + " answered HTTP " + std::to_string(status));
  if (!res) {
    const std::string reason = ErrorReason(res.error());
    return finish(reason, "GET " + base + path + ": " + httplib::to_string(res.error()));
  }
  // One per scrape worker, reused: ParseExposition then rebuilds the
  // families in the last scrape's objects instead of allocating them anew.
  thread_local std::vector<scrape::ParsedFamily> families;
  scrape::ScrapeError why{};
  // Every line is checked; only the families an adapter reads are kept.
  static const scrape::FamilyFilter keep = [](std::string_view f) { return scrape::AdaptersRead(f); };
  if (Status st = scrape::ParseExposition(body, scrape::FormatFromContentType(content_type), t.limits, &families, &why,
                                          &keep, &r.dropped);
      !st.ok())
    return finish(scrape::ScrapeErrorName(why), st.message());
  for (const auto& f : families) r.samples += f.sample_count;
  r.kind = t.engine == scrape::EngineKind::kUnknown ? scrape::DetectEngine(families) : t.engine;
  if (Status st = scrape::Adapt(r.kind, families, &r.readings, &r.missing, &r.dropped); !st.ok())
    return finish(st.code() == Status::Code::kNotFound ? "unknown_engine" : "adapt", st.message());
  // Each engine becomes an instance with its own series and rules: a target
  // must not be able to make vigild allocate without bound.
  if (r.readings.size() > kMaxEnginesPerTarget) {
    const size_t n = r.readings.size();
    r.readings.clear();
    return finish("too_many_engines", std::to_string(n) +
                                          " engines (engine/model_name label values) in one exposition; at most " +
                                          std::to_string(kMaxEnginesPerTarget) + " are monitored per target");
  }
  r.ok = true;
  // The health path less often than the metrics: HealthEndpointFailing
  // waits 30 s anyway, and each probe is a request to the target too.
  if (!t.health_path.empty() && (last_probe_ < 0 || now - last_probe_ >= t.health_interval_s || now < last_probe_)) {
    last_probe_ = now;
    // Its body is not needed: read at most 64 KiB, within scrape_timeout.
    const auto probe_deadline =
        Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(t.scrape_timeout_s));
    size_t got = 0;
    auto probe = [&](httplib::Client& client) {
      got = 0;
      return client.Get(t.health_path, headers, [&](const char*, size_t n) {
        got += n;
        return got <= (64u << 10) && Clock::now() < probe_deadline;
      });
    };
    auto h = probe(c);
    if (!h && h.error() != httplib::Error::Canceled) {  // as above: a kept-alive connection the target had just closed
      conn_ = std::make_unique<Conn>(base, t.scrape_timeout_s);
      h = probe(conn_->client);
    }
    if (!h) conn_.reset();
    r.health = h && h->status == 200 ? 1 : 0;
    if (!h) r.health_error = "GET " + t.health_path + ": " + httplib::to_string(h.error());
    else if (h->status != 200) r.health_error = "GET " + t.health_path + " answered HTTP " + std::to_string(h->status);
  }
  r.duration_s = std::chrono::duration<double>(Clock::now() - t0).count();  // both requests
  return r;
}

}  // namespace vigil::pipeline
