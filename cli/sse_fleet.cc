#include "cli/sse_fleet.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace vigil::cli {

namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct Conn {
  int fd = -1;
  bool connected = false;
  std::string out;  // the request, from `sent` on
  size_t sent = 0;
  std::string in;  // response bytes not yet parsed
  bool have_head = false;
  int status = 0;
  bool chunked = false;
  int64_t content_left = -1;  // with Content-Length
  int64_t chunk_left = -1;    // chunked: bytes left in the current chunk (-1: at a size line)
  std::string body;           // decoded body
  bool done = false;          // the body is complete
  Clock::time_point start;
  double ttfb = -1;
  bool retry_after = false;
  bool server_closes = false;  // Connection: close
};

// Decodes what `c.in` holds; false on a malformed response.
bool Parse(Conn& c) {
  if (!c.have_head) {
    const size_t end = c.in.find("\r\n\r\n");
    if (end == std::string::npos) return true;
    const std::string head = c.in.substr(0, end + 2);
    c.in.erase(0, end + 4);
    if (head.compare(0, 5, "HTTP/") != 0) return false;
    c.status = std::atoi(head.c_str() + head.find(' ') + 1);
    if (c.status == 100) return Parse(c);  // 100 Continue: the real head follows
    c.have_head = true;
    size_t pos = 0;
    while ((pos = head.find("\r\n", pos)) != std::string::npos && pos + 2 < head.size()) {
      pos += 2;
      const size_t colon = head.find(':', pos), eol = head.find("\r\n", pos);
      if (colon == std::string::npos || colon > eol) continue;
      std::string name = head.substr(pos, colon - pos);
      for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      std::string value = head.substr(colon + 1, eol - colon - 1);
      value.erase(0, value.find_first_not_of(' '));
      if (name == "transfer-encoding" && value.find("chunked") != std::string::npos) c.chunked = true;
      if (name == "content-length") c.content_left = std::atoll(value.c_str());
      if (name == "retry-after") c.retry_after = true;
      if (name == "connection" && value.find("close") != std::string::npos) c.server_closes = true;
    }
    if (!c.chunked && c.content_left == 0) c.done = true;
  }
  // The first token: the first SSE event, not the keep-alive comments a
  // waiting request gets every second.
  struct FirstEvent {
    Conn& c;
    ~FirstEvent() {
      if (c.ttfb < 0 && c.body.find("data: ") != std::string::npos) c.ttfb = Since(c.start);
    }
  } first_event{c};
  while (!c.done && !c.in.empty()) {
    if (!c.chunked) {
      const size_t n = c.content_left < 0 ? c.in.size() : std::min<size_t>(c.in.size(), c.content_left);
      c.body.append(c.in, 0, n);
      c.in.erase(0, n);
      if (c.content_left >= 0 && (c.content_left -= static_cast<int64_t>(n)) == 0) c.done = true;
      continue;
    }
    if (c.chunk_left < 0) {
      const size_t eol = c.in.find("\r\n");
      if (eol == std::string::npos) return true;
      c.chunk_left = std::strtoll(c.in.c_str(), nullptr, 16);
      c.in.erase(0, eol + 2);
      if (c.chunk_left == 0) {
        if (c.in.size() < 2) {
          c.chunk_left = -1;
          c.in.insert(0, "0\r\n");  // wait for the final CRLF
          return true;
        }
        c.done = true;
      }
      continue;
    }
    const size_t n = std::min<size_t>(c.in.size(), c.chunk_left);
    c.body.append(c.in, 0, n);
    c.in.erase(0, n);
    c.chunk_left -= static_cast<int64_t>(n);
    if (c.chunk_left == 0) {
      if (c.in.size() < 2) {
        c.chunk_left = 0;
        return true;  // the chunk's CRLF is still to come
      }
      c.in.erase(0, 2);
      c.chunk_left = -1;
    }
  }
  return true;
}

int Connect(const sockaddr_in& addr) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

FleetResult RunFleet(const FleetOptions& o, const std::function<void(int)>& tick) {
  FleetResult r;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(o.port));
  if (::inet_pton(AF_INET, o.host == "localhost" ? "127.0.0.1" : o.host.c_str(), &addr.sin_addr) != 1) {
    r.errors["connect"] = o.requests;
    return r;
  }
  std::string request = o.method + " " + o.path + " HTTP/1.1\r\nHost: " + o.host + ":" + std::to_string(o.port) +
                        "\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\n";
  if (!o.api_key.empty()) request += "Authorization: Bearer " + o.api_key + "\r\n";
  request += "Content-Length: " + std::to_string(o.body.size()) + (o.keep_alive ? "" : "\r\nConnection: close") +
             "\r\n\r\n" + o.body;

  const auto t0 = Clock::now();
  std::vector<Conn> conns(static_cast<size_t>(std::max(1, o.concurrency)));
  int64_t started = 0, finished = 0;
  auto fail = [&](Conn& c, const std::string& why) {
    ++r.errors[why];
    ++finished;
    if (c.fd >= 0) ::close(c.fd);
    c = Conn{};
  };
  auto finish = [&](Conn& c) {
    ++finished;
    ++r.status[c.status];
    if (c.retry_after) ++r.retry_after;
    if (c.status == 200) {
      if (c.ttfb < 0) c.ttfb = Since(c.start);  // a whole JSON answer: its end
      const bool stream = c.body.find("data: ") != std::string::npos;
      if (!stream || c.body.find("data: [DONE]") != std::string::npos) {
        ++r.ok;
        r.ttfb_s.push_back(c.ttfb);
        r.e2e_s.push_back(Since(c.start));
      } else {
        ++r.errors["incomplete"];
      }
      for (size_t p = 0; (p = c.body.find("data: {", p)) != std::string::npos; ++p) ++r.events;
    } else if (r.error_bodies.size() < 8) {
      r.error_bodies.push_back(std::to_string(c.status) + " " + c.body.substr(0, 300));
    }
    if (o.keep_alive && !c.server_closes && c.in.empty() && started < o.requests) {
      Conn next;  // the slot's next request, on the same connection
      next.fd = c.fd;
      next.connected = true;
      next.out = request;
      next.start = Clock::now();
      c = std::move(next);
      ++started;
      return;
    }
    ::close(c.fd);
    c = Conn{};
  };
  auto last_tick = Clock::now();
  std::vector<pollfd> fds;
  while (finished < o.requests) {
    if (Since(t0) > o.timeout_s) {
      for (auto& c : conns)
        if (c.fd >= 0) fail(c, "timeout");
      r.errors["timeout"] += o.requests - started;
      break;
    }
    int open = 0;
    for (auto& c : conns) {
      if (c.fd < 0 && started < o.requests) {
        c.fd = Connect(addr);
        ++started;
        if (c.fd < 0) {
          fail(c, "connect");
          continue;
        }
        c.out = request;
        c.start = Clock::now();
      }
      open += c.fd >= 0;
    }
    r.max_open = std::max(r.max_open, open);
    fds.clear();
    for (auto& c : conns) {
      if (c.fd < 0) continue;
      short ev = POLLIN;
      if (!c.connected || c.sent < c.out.size()) ev |= POLLOUT;
      fds.push_back({c.fd, ev, 0});
    }
    if (fds.empty()) break;
    ::poll(fds.data(), fds.size(), 100);
    size_t k = 0;
    for (auto& c : conns) {
      if (c.fd < 0) continue;
      const pollfd& p = fds[k++];
      if (p.revents == 0) continue;
      if (!c.connected && (p.revents & (POLLOUT | POLLERR | POLLHUP))) {
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
          fail(c, "connect");
          continue;
        }
        c.connected = true;
      }
      if (c.connected && c.sent < c.out.size()) {
        const ssize_t n = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
        if (n > 0) c.sent += static_cast<size_t>(n);
        else if (n < 0 && errno != EAGAIN) {
          fail(c, "reset");
          continue;
        }
        if (c.sent == c.out.size()) {
          c.out.clear();
          c.sent = 0;
        }
      }
      if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
        char buf[16384];
        const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
        if (n > 0) {
          c.in.append(buf, static_cast<size_t>(n));
          if (!Parse(c)) {
            fail(c, "bad_response");
            continue;
          }
          if (c.done) finish(c);
        } else if (n == 0 || errno != EAGAIN) {
          if (c.have_head && !c.chunked && c.content_left < 0) {
            c.done = true;  // the body ended with the connection
            finish(c);
          } else {
            fail(c, n == 0 ? "incomplete" : "reset");
          }
        }
      }
    }
    if (tick && Since(last_tick) >= 0.1) {
      last_tick = Clock::now();
      tick(static_cast<int>(started - finished));
    }
  }
  r.wall_s = Since(t0);
  return r;
}

}  // namespace vigil::cli
