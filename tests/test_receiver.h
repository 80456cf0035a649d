// A real HTTP receiver for alert tests: records every request, and can be
// told to fail (status), hang past the client's timeout, close connections
// without answering, or go down and come back on the same port.
#pragma once

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"

namespace vigil::testing {

class TestReceiver {
 public:
  struct Request {
    std::string path;
    httplib::Headers headers;
    std::string body;
  };

  TestReceiver() { StartServer(0); }
  ~TestReceiver() {
    StopServer();
    StopCloser();
  }

  int port() const { return port_; }
  std::string Url(const std::string& path = "/hook") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  // The next `n` requests get `status` (after `delay_ms`).
  void FailNext(int n, int status = 500, int delay_ms = 0) {
    fail_left_ = n;
    fail_status_ = status;
    fail_delay_ms_ = delay_ms;
  }
  // Stops listening: connections are refused.
  void Down() { StopServer(); }
  void Up() { StartServer(port_); }
  // Accepts connections and closes them without a response, until Up().
  void Closing() {
    StopServer();
    StartCloser();
  }
  void UpFromClosing() {
    StopCloser();
    StartServer(port_);
  }

  std::vector<Request> Requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return got_;
  }
  // Requests answered 2xx, by Idempotency-Key.
  std::map<std::string, int> AcceptedKeys() {
    std::lock_guard<std::mutex> lock(mu_);
    return accepted_;
  }
  size_t Count() {
    std::lock_guard<std::mutex> lock(mu_);
    return got_.size();
  }
  bool WaitAccepted(size_t unique, std::chrono::milliseconds timeout) {
    return WaitFor([&] { return AcceptedKeys().size() >= unique; }, static_cast<int>(timeout.count()));
  }

 private:
  void StartServer(int port) {
    server_ = std::make_unique<httplib::Server>();
    auto handler = [this](const httplib::Request& q, httplib::Response& r) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        got_.push_back({q.path, q.headers, q.body});
      }
      if (fail_left_.fetch_sub(1) > 0) {
        if (fail_delay_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(fail_delay_ms_));
        r.status = fail_status_;
        if (fail_status_ == 429) r.set_header("Retry-After", "0");
        r.set_content("{\"error\":\"injected\"}", "application/json");
        return;
      }
      std::lock_guard<std::mutex> lock(mu_);
      ++accepted_[q.get_header_value("Idempotency-Key")];
      r.status = 200;
      r.set_content("{}", "application/json");
    };
    server_->Post(".*", handler);
    if (port == 0) port_ = server_->bind_to_any_port("127.0.0.1");
    else {
      bool bound = false;
      for (int i = 0; i < 200 && !(bound = server_->bind_to_port("127.0.0.1", port)); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      if (!bound) ADD_FAILURE() << "the receiver could not bind port " << port << " again";
    }
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  void StopServer() {
    if (!server_) return;
    server_->stop();
    thread_.join();
    server_.reset();
  }
  void StartCloser() {
    closer_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(closer_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    // httplib's listener sets SO_REUSEPORT: without it here, bind fails next
    // to its sockets in TIME_WAIT and listen() picks a random port, so the
    // phase would test a refused connection, not a hang-up.
    setsockopt(closer_fd_, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port_));
    bool bound = false;
    for (int i = 0; i < 200 && !(bound = bind(closer_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (!bound) ADD_FAILURE() << "the closer could not bind port " << port_ << ": " << std::strerror(errno);
    listen(closer_fd_, 16);
    closer_stop_ = false;
    closer_ = std::thread([this] {
      while (!closer_stop_) {
        int c = accept(closer_fd_, nullptr, nullptr);
        if (c < 0) break;
        char buf[1024];
        (void)!recv(c, buf, sizeof buf, MSG_DONTWAIT);
        closes_++;
        close(c);
      }
    });
  }
  void StopCloser() {
    if (closer_fd_ < 0) return;
    closer_stop_ = true;
    shutdown(closer_fd_, SHUT_RDWR);
    close(closer_fd_);
    closer_.join();
    closer_fd_ = -1;
  }

  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  std::vector<Request> got_;
  std::map<std::string, int> accepted_;
  std::atomic<int> fail_left_{0}, fail_status_{500}, fail_delay_ms_{0};
  int closer_fd_ = -1;
  std::atomic<bool> closer_stop_{false};
  std::atomic<int> closes_{0};
  std::thread closer_;
};

}  // namespace vigil::testing
