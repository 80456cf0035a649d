// vigild's one listening port, event-driven: Boost.Asio sockets with Beast's
// HTTP/1.1 parser. A connection is a little state on an I/O thread, never a
// thread of its own, idle or streaming. Generations stream from the engine's
// output callbacks through their connection, so no thread waits on a token;
// every other request is handed, whole, to a pool of workers that runs
// cpp-httplib's routes (RouteTable) and gives back the bytes to write.
// docs/architecture.md says why (cpp-httplib's server is thread-per-connection).
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace vigil::daemon {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// cpp-httplib's router, run over a request already read by the front server.
class RouteTable : public httplib::Server {
 public:
  using httplib::Server::process_request;
};

// One streamed answer. Every call may come from any thread: it is queued
// onto the connection's strand, in order. Calls after the answer ended, or
// after the client went away, are ignored.
class Exchange {
 public:
  virtual ~Exchange() = default;
  // A whole response (an error, mostly).
  virtual void Respond(int status, const std::string& content_type, std::string body, HeaderList headers = {}) = 0;
  // 200 with a chunked body: the headers go out at once; then Write, End.
  virtual void Begin(const std::string& content_type, HeaderList headers = {}) = 0;
  virtual void Write(std::string data) = 0;
  virtual void End() = 0;
  // Runs fn on the connection's strand (after the calls made before it).
  virtual void Post(std::function<void()> fn) = 0;
  // fn runs once, on the strand, when the client hangs up (or a write fails)
  // before the answer is complete.
  virtual void OnGone(std::function<void()> fn) = 0;
  // fn runs on the strand every period until it returns false, the answer
  // ends or the client goes away.
  virtual void Every(std::chrono::milliseconds period, std::function<bool()> fn) = 0;
};

struct FrontServerOptions {
  int worker_threads = 64;              // run the RouteTable's handlers
  int io_threads = 2;                   // run every socket
  int64_t max_request_bytes = 1 << 20;  // larger bodies: 413
  double idle_timeout_s = 60;           // a kept-alive connection with no request is closed after this
  double write_timeout_s = 30;          // a client that reads nothing for this long is dropped
  // The JSON error body for a status the front server answers itself
  // (413, 400 for malformed HTTP, 503 while stopping).
  std::function<std::string(int status, const std::string& message)> error_body;
  // Called once per streamed exchange when it is over: (path, status).
  std::function<void(const std::string& path, int status)> logger;
};

class FrontServer {
 public:
  // The handler runs on a worker; it must not wait for the answer: it starts
  // it and returns, and the Exchange carries the rest.
  using StreamHandler = std::function<void(const httplib::Request&, std::shared_ptr<Exchange>)>;

  FrontServer(RouteTable* routes, FrontServerOptions options);
  ~FrontServer();
  FrontServer(const FrontServer&) = delete;
  FrontServer& operator=(const FrontServer&) = delete;

  // Exact method and path served as a stream; the rest go to the RouteTable.
  void Stream(const std::string& method, const std::string& path, StreamHandler handler);

  Status Bind(const std::string& host, int port);
  // Serves until Stop(); the calling thread is one of the I/O threads.
  void Serve();
  // Closes the listener and every connection; Serve returns.
  void Stop();

  struct Counts {
    int64_t connections_open = 0;  // accepted and not yet closed
    int64_t connections_total = 0;
    int64_t streams_open = 0;  // exchanges in flight
  };
  Counts counts() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::daemon
