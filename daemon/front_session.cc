// One connection of the front server: read a request, answer it (through the
// route table on a worker, or as a stream fed by the engine), keep alive.
#include "daemon/front_session.h"

#include <spdlog/spdlog.h>

#include <cstring>
#include <limits>

namespace vigil::daemon {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

constexpr size_t kHeaderLimit = 64 * 1024;
// A client that reads nothing while its stream's output piles up is dropped
// (and its request aborted) past this.
constexpr size_t kMaxQueuedBytes = 8 << 20;

const char* Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

// The request, already read, as cpp-httplib's reader expects it; what the
// route writes is collected in `out`.
class MemoryStream : public httplib::Stream {
 public:
  MemoryStream(const std::string& in, std::string* out, std::string ip, int port)
      : in_(in), out_(out), ip_(std::move(ip)), port_(port) {}
  bool is_readable() const override { return pos_ < in_.size(); }
  bool is_writable() const override { return true; }
  ssize_t read(char* ptr, size_t size) override {
    const size_t n = std::min(size, in_.size() - pos_);
    std::memcpy(ptr, in_.data() + pos_, n);
    pos_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    out_->append(ptr, size);
    return static_cast<ssize_t>(size);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = ip_;
    port = port_;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = "";
    port = 0;
  }
  socket_t socket() const override { return INVALID_SOCKET; }

 private:
  const std::string& in_;
  size_t pos_ = 0;
  std::string* out_;
  std::string ip_;
  int port_;
};

bool Iequals(beast::string_view a, beast::string_view b) { return beast::iequals(a, b); }

// Accept-Encoding without "br". cpp-httplib compresses a whole body before it
// sends the headers, and prefers brotli when offered, at brotli's default
// quality 11: about 0.5 MB/s, so a browser (which offers br) waited hundreds
// of milliseconds for the headers of the dashboard's JSON (35 KB of /metrics:
// 66 ms against 2 ms uncompressed or 3 ms gzip). gzip stays.
std::string WithoutBrotli(beast::string_view v) {
  std::string out;
  size_t pos = 0;
  while (pos <= v.size()) {
    size_t end = v.find(',', pos);
    if (end == beast::string_view::npos) end = v.size();
    beast::string_view tok = v.substr(pos, end - pos);
    while (!tok.empty() && (tok.front() == ' ' || tok.front() == '\t')) tok.remove_prefix(1);
    while (!tok.empty() && (tok.back() == ' ' || tok.back() == '\t')) tok.remove_suffix(1);
    beast::string_view name = tok.substr(0, tok.find(';'));
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    if (!tok.empty() && !Iequals(name, "br")) {
      if (!out.empty()) out += ", ";
      out.append(tok.data(), tok.size());
    }
    pos = end + 1;
  }
  return out;
}

class ExchangeImpl : public Exchange {
 public:
  ExchangeImpl(std::shared_ptr<Session> s, uint64_t seq) : s_(std::move(s)), seq_(seq) {}
  void Respond(int status, const std::string& content_type, std::string body, HeaderList headers) override {
    asio::post(s_->executor(), [s = s_, q = seq_, status, content_type, body = std::move(body),
                                headers = std::move(headers)]() mutable {
      s->ExRespond(q, status, content_type, std::move(body), std::move(headers));
    });
  }
  void Begin(const std::string& content_type, HeaderList headers) override {
    asio::post(s_->executor(), [s = s_, q = seq_, content_type, headers = std::move(headers)]() mutable {
      s->ExBegin(q, content_type, std::move(headers));
    });
  }
  // The generation writes from the strand already (its drain): dispatch
  // runs these inline there, one handler fewer per token; from elsewhere it posts.
  void Write(std::string data) override {
    asio::dispatch(s_->executor(),
                   [s = s_, q = seq_, data = std::move(data)]() mutable { s->ExWrite(q, std::move(data)); });
  }
  void End() override {
    asio::dispatch(s_->executor(), [s = s_, q = seq_] { s->ExEnd(q); });
  }
  void Post(std::function<void()> fn) override { asio::post(s_->executor(), std::move(fn)); }
  void OnGone(std::function<void()> fn) override {
    asio::post(s_->executor(), [s = s_, q = seq_, fn = std::move(fn)]() mutable { s->ExOnGone(q, std::move(fn)); });
  }
  void Every(std::chrono::milliseconds period, std::function<bool()> fn) override {
    asio::post(s_->executor(),
               [s = s_, q = seq_, period, fn = std::move(fn)]() mutable { s->ExEvery(q, period, std::move(fn)); });
  }

 private:
  std::shared_ptr<Session> s_;
  const uint64_t seq_;
};

}  // namespace

Session::Session(FrontServer::Impl* srv, tcp::socket sock)
    : srv_(srv), sock_(std::move(sock)), ex_(sock_.get_executor()), read_timer_(ex_), write_timer_(ex_), tick_(ex_) {
  error_code ec;
  const auto ep = sock_.remote_endpoint(ec);
  if (!ec) {
    peer_ip_ = ep.address().to_string();
    peer_port_ = ep.port();
  }
}

Session::~Session() {
  if (phase_ == Phase::kStreaming && !ex_logged_) --srv_->streams_open_;
  --srv_->open_;
}

void Session::Start() {
  asio::dispatch(ex_, [self = shared_from_this()] { self->ReadRequest(); });
}

void Session::ArmReadTimer(double seconds) {
  const uint64_t gen = ++read_timer_gen_;
  read_timer_.expires_after(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds)));
  read_timer_.async_wait([self = shared_from_this(), gen](const error_code& ec) {
    if (ec || gen != self->read_timer_gen_) return;
    if (self->phase_ == Phase::kReading || self->phase_ == Phase::kDraining) self->Close();
  });
}

void Session::ReadRequest() {
  if (phase_ == Phase::kClosed) return;
  phase_ = Phase::kReading;
  // An idle connection keeps no parser and no buffer: a few hundred bytes.
  if (buf_.size() == 0) buf_.shrink_to_fit();
  parser_.emplace();
  parser_->header_limit(kHeaderLimit);
  // No body limit yet: Beast would refuse a large Content-Length at the
  // header, before the body could be read away (OnHeader sets it).
  parser_->body_limit(
      std::numeric_limits<std::uint64_t>::max());  // not boost::none: Beast 1.74 compares len > none as true
  ArmReadTimer(srv_->opt_.idle_timeout_s);
  http::async_read_header(sock_, buf_, *parser_,
                          [self = shared_from_this()](const error_code& ec, size_t) { self->OnHeader(ec); });
}

void Session::OnHeader(const error_code& ec) {
  if (phase_ == Phase::kClosed) return;
  if (ec) {
    spdlog::debug("HTTP: {}:{}: reading a request: {}", peer_ip_, peer_port_, ec.message());
    if (ec == http::error::header_limit) return Fail(431, "request header fields too large");
    if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset || buf_.size() == 0)
      return Close();
    return Fail(400, "malformed HTTP request (" + ec.message() + ")");
  }
  const auto& h = parser_->get();
  const auto len = parser_->content_length();
  if (len && *len > static_cast<uint64_t>(srv_->opt_.max_request_bytes)) {
    // Read the body away before answering, so the client (still sending)
    // sees the 413 rather than a reset.
    phase_ = Phase::kDraining;
    drain_left_ = *len;
    const size_t have = std::min<uint64_t>(buf_.size(), drain_left_);
    buf_.consume(have);
    drain_left_ -= have;
    return Drain();
  }
  parser_->body_limit(static_cast<uint64_t>(srv_->opt_.max_request_bytes));  // a chunked body's limit
  if (Iequals(h[http::field::expect], "100-continue")) {
    Queue("HTTP/1.1 100 Continue\r\n\r\n");
    DoWrite();
  }
  if (parser_->is_done()) return OnBody({});  // no body
  http::async_read(sock_, buf_, *parser_,
                   [self = shared_from_this()](const error_code& e, size_t) { self->OnBody(e); });
}

void Session::Drain() {
  if (drain_left_ == 0) return Fail(413, "request body too large");
  const size_t n = static_cast<size_t>(std::min<uint64_t>(drain_left_, 64 * 1024));
  sock_.async_read_some(buf_.prepare(n), [self = shared_from_this()](const error_code& ec, size_t got) {
    if (self->phase_ == Phase::kClosed) return;
    if (ec) return self->Close();
    self->buf_.commit(got);
    self->buf_.consume(got);
    self->drain_left_ -= got;
    self->Drain();
  });
}

void Session::OnBody(const error_code& ec) {
  if (phase_ == Phase::kClosed) return;
  if (ec == http::error::body_limit) return Fail(413, "request body too large");
  if (ec) {
    if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset)
      return Close();
    return Fail(400, "malformed HTTP request (" + ec.message() + ")");
  }
  ++read_timer_gen_;
  read_timer_.cancel();
  Dispatch();
}

void Session::Dispatch() {
  auto& req = parser_->get();
  const std::string target(req.target());
  path_ = target.substr(0, target.find('?'));
  const std::string method(req.method_string());
  keep_alive_ = req.keep_alive();
  http11_ = req.version() >= 11;
  ++seq_;
  status_ = 0;
  auto it = srv_->streams_.find({method, path_});
  if (it != srv_->streams_.end()) {
    auto hr = std::make_shared<httplib::Request>();
    hr->method = method;
    hr->path = path_;
    hr->version = http11_ ? "HTTP/1.1" : "HTTP/1.0";
    for (const auto& f : req) hr->headers.emplace(std::string(f.name_string()), std::string(f.value()));
    hr->body = std::move(req.body());
    hr->remote_addr = peer_ip_;
    hr->remote_port = peer_port_;
    parser_.reset();
    phase_ = Phase::kStreaming;
    ex_begun_ = ex_ended_ = ex_logged_ = false;
    chunked_ = http11_;
    on_gone_ = nullptr;
    tick_fn_ = nullptr;
    ++srv_->streams_open_;
    auto ex = std::make_shared<ExchangeImpl>(shared_from_this(), seq_);
    Watch();  // a hang-up is noticed at once, not at the next write
    srv_->pool_.enqueue([handler = it->second, hr, ex] {
      try {
        handler(*hr, ex);
      } catch (const std::exception& e) {
        spdlog::error("HTTP handler failed: {}", e.what());
        ex->Respond(500, "application/json", R"({"error":{"message":"internal error","type":"internal_error"}})", {});
      }
    });
    return;
  }
  // Everything else: cpp-httplib's routes, on a worker, over the request
  // re-serialized with its body's length.
  std::string raw;
  raw.reserve(req.body().size() + 1024);
  raw.append(method).append(" ").append(target).append(http11_ ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n");
  for (const auto& f : req) {
    const auto name = f.name();
    if (name == http::field::content_length || name == http::field::transfer_encoding || name == http::field::expect)
      continue;
    if (name == http::field::accept_encoding) {
      const std::string enc = WithoutBrotli(f.value());
      if (!enc.empty()) raw.append("Accept-Encoding: ").append(enc).append("\r\n");
      continue;
    }
    raw.append(f.name_string().data(), f.name_string().size()).append(": ");
    raw.append(f.value().data(), f.value().size()).append("\r\n");
  }
  raw.append("Content-Length: ").append(std::to_string(req.body().size())).append("\r\n\r\n");
  raw.append(req.body());
  parser_.reset();
  phase_ = Phase::kRouting;
  srv_->pool_.enqueue([self = shared_from_this(), raw = std::move(raw)] {
    std::string out;
    bool closed = false;
    MemoryStream stream(raw, &out, self->peer_ip_, self->peer_port_);
    try {
      self->srv_->routes_->process_request(stream, false, closed, nullptr);
    } catch (const std::exception& e) {
      spdlog::error("HTTP route failed: {}", e.what());
      closed = true;
    }
    asio::post(self->ex_, [self, out = std::move(out), closed]() mutable { self->OnRouted(std::move(out), closed); });
  });
}

void Session::OnRouted(std::string out, bool close) {
  if (phase_ != Phase::kRouting) return;
  if (out.empty()) close = true;
  if (close) close_after_flush_ = true;
  Queue(std::move(out));
  DoWrite();
}

void Session::Watch() {
  if (watching_ || phase_ == Phase::kClosed) return;
  if (buf_.size() > kHeaderLimit) return;  // a pipelining client: read it after this answer
  watching_ = true;
  sock_.async_read_some(buf_.prepare(4096),
                        [self = shared_from_this()](const error_code& ec, size_t n) { self->OnWatch(ec, n); });
}

void Session::OnWatch(const error_code& ec, size_t n) {
  watching_ = false;
  if (phase_ == Phase::kClosed) return;
  if (!ec) buf_.commit(n);
  if (phase_ == Phase::kResuming) {
    if (ec && ec != asio::error::operation_aborted) return Close();
    return ReadRequest();
  }
  if (ec) return Gone();
  if (phase_ == Phase::kStreaming) Watch();
}

void Session::Gone() {
  if (phase_ == Phase::kStreaming && !ex_ended_) {
    ex_ended_ = true;
    if (auto f = std::move(on_gone_)) f();
    if (!ex_logged_) {
      ex_logged_ = true;
      --srv_->streams_open_;
      if (srv_->opt_.logger) srv_->opt_.logger(path_, ex_begun_ ? 200 : 499);
    }
  }
  Close();
}

void Session::FinishExchange() {
  if (!ex_logged_) {
    ex_logged_ = true;
    --srv_->streams_open_;
    if (srv_->opt_.logger) srv_->opt_.logger(path_, status_);
  }
  on_gone_ = nullptr;
  tick_fn_ = nullptr;
  tick_.cancel();
  if (close_after_flush_ || !keep_alive_ || srv_->stopping_) return Close();
  if (watching_) {
    phase_ = Phase::kResuming;  // OnWatch reads the next request once the watch read ends
    error_code ignored;
    sock_.cancel(ignored);  // no write is pending: only the watch read is cancelled
    return;
  }
  ReadRequest();
}

std::string Session::HeadLine(int status) const {
  return std::string("HTTP/1.1 ") + std::to_string(status) + " " + Reason(status) + "\r\n";
}

void Session::Fail(int status, const std::string& message) {
  phase_ = Phase::kRouting;
  ++read_timer_gen_;
  read_timer_.cancel();
  const std::string body = srv_->opt_.error_body ? srv_->opt_.error_body(status, message) : message;
  std::string r = HeadLine(status);
  r += "Content-Type: application/json\r\nConnection: close\r\nContent-Length: " + std::to_string(body.size()) +
       "\r\n\r\n" + body;
  close_after_flush_ = true;
  Queue(std::move(r));
  DoWrite();
}

void Session::ExRespond(uint64_t seq, int status, const std::string& content_type, std::string body,
                        HeaderList headers) {
  if (!Current(seq) || ex_begun_) return;
  status_ = status;
  ex_ended_ = true;
  std::string r = HeadLine(status);
  for (const auto& [k, v] : headers) r += k + ": " + v + "\r\n";
  r += "Content-Type: " + content_type + "\r\n";
  r += keep_alive_ ? "Keep-Alive: timeout=" + std::to_string(static_cast<int>(srv_->opt_.idle_timeout_s)) + "\r\n"
                   : std::string("Connection: close\r\n");
  r += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  r += body;
  Queue(std::move(r));
  DoWrite();
}

void Session::ExBegin(uint64_t seq, const std::string& content_type, HeaderList headers) {
  if (!Current(seq) || ex_begun_) return;
  ex_begun_ = true;
  status_ = 200;
  std::string r = HeadLine(200);
  for (const auto& [k, v] : headers) r += k + ": " + v + "\r\n";
  r += "Content-Type: " + content_type + "\r\n";
  if (!chunked_) {
    keep_alive_ = false;  // HTTP/1.0: the body ends with the connection
    r += "Connection: close\r\n\r\n";
  } else {
    r += keep_alive_ ? "Keep-Alive: timeout=" + std::to_string(static_cast<int>(srv_->opt_.idle_timeout_s)) + "\r\n"
                     : std::string("Connection: close\r\n");
    r += "Transfer-Encoding: chunked\r\n\r\n";
  }
  Queue(std::move(r));
  DoWrite();
}

void Session::ExWrite(uint64_t seq, std::string data) {
  if (!Current(seq) || !ex_begun_ || data.empty()) return;
  if (chunked_) {
    char head[24];
    std::snprintf(head, sizeof head, "%zx\r\n", data.size());
    data.insert(0, head);
    data += "\r\n";
  }
  Queue(std::move(data));
  if (queued_bytes_ > kMaxQueuedBytes) {
    spdlog::warn("HTTP: {}:{} reads nothing while its stream's output piles up; dropping it", peer_ip_, peer_port_);
    return Gone();
  }
  DoWrite();
}

void Session::ExEnd(uint64_t seq) {
  if (!Current(seq) || !ex_begun_) return;
  ex_ended_ = true;
  if (chunked_) Queue("0\r\n\r\n");
  else close_after_flush_ = true;
  DoWrite();
}

void Session::ExOnGone(uint64_t seq, std::function<void()> fn) {
  if (seq != seq_) return;
  if (!Current(seq)) {
    // Already gone (or over) before the handler asked: tell it now.
    if (phase_ == Phase::kClosed && fn) fn();
    return;
  }
  on_gone_ = std::move(fn);
}

void Session::ExEvery(uint64_t seq, std::chrono::milliseconds period, std::function<bool()> fn) {
  if (!Current(seq)) return;
  tick_fn_ = std::move(fn);
  tick_period_ = period;
  ArmTick();
}

void Session::ArmTick() {
  tick_.expires_after(tick_period_);
  tick_.async_wait([self = shared_from_this(), seq = seq_](const error_code& ec) {
    if (ec || !self->Current(seq) || !self->tick_fn_) return;
    if (self->tick_fn_()) self->ArmTick();
  });
}

void Session::Queue(std::string data) {
  queued_bytes_ += data.size();
  out_.push_back(std::move(data));
}

void Session::DoWrite() {
  if (writing_ || phase_ == Phase::kClosed) return;
  if (out_.empty()) return OnFlushed();
  writing_ = true;
  inflight_.clear();
  std::vector<asio::const_buffer> bufs;
  while (!out_.empty() && bufs.size() < 64) {
    inflight_.push_back(std::move(out_.front()));
    out_.pop_front();
  }
  for (const auto& s : inflight_) bufs.emplace_back(asio::buffer(s));
  const uint64_t gen = ++write_timer_gen_;
  write_timer_.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(srv_->opt_.write_timeout_s)));
  write_timer_.async_wait([self = shared_from_this(), gen](const error_code& ec) {
    if (ec || gen != self->write_timer_gen_) return;
    self->Gone();  // the client stopped reading
  });
  asio::async_write(sock_, bufs, [self = shared_from_this()](const error_code& ec, size_t n) {
    self->writing_ = false;
    ++self->write_timer_gen_;
    self->write_timer_.cancel();
    self->queued_bytes_ -= std::min(self->queued_bytes_, n);
    self->inflight_.clear();
    if (self->phase_ == Phase::kClosed) return;
    if (ec) return self->Gone();
    self->DoWrite();
  });
}

void Session::OnFlushed() {
  switch (phase_) {
    case Phase::kRouting:
      if (close_after_flush_) return Close();
      return ReadRequest();
    case Phase::kStreaming:
      if (ex_ended_) return FinishExchange();
      return;
    default: return;  // a 100 Continue went out; the body is being read
  }
}

void Session::Close() {
  if (phase_ == Phase::kClosed) return;
  if (phase_ == Phase::kStreaming && !ex_ended_) return Gone();
  phase_ = Phase::kClosed;
  error_code ignored;
  sock_.shutdown(tcp::socket::shutdown_both, ignored);
  sock_.close(ignored);
  read_timer_.cancel();
  write_timer_.cancel();
  tick_.cancel();
  on_gone_ = nullptr;
  tick_fn_ = nullptr;
  parser_.reset();
}

}  // namespace vigil::daemon
