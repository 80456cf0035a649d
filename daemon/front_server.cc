#include "daemon/front_server.h"

#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <deque>
#include <optional>
#include <thread>

#include "daemon/front_session.h"

namespace vigil::daemon {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

FrontServer::Impl::Impl(RouteTable* routes, FrontServerOptions o)
    : routes_(routes),
      opt_(std::move(o)),
      acceptor_(asio::make_strand(ioc_)),
      accept_retry_(acceptor_.get_executor()),
      pool_(static_cast<size_t>(std::max(1, opt_.worker_threads))) {}

FrontServer::Impl::~Impl() { ShutdownPool(); }

void FrontServer::Impl::ShutdownPool() {
  if (!pool_down_.exchange(true)) pool_.shutdown();
}

void FrontServer::Impl::Accept() {
  acceptor_.async_accept(asio::make_strand(ioc_), [this](const boost::system::error_code& ec, tcp::socket s) {
    if (!acceptor_.is_open() || stopping_) return;
    if (ec) {
      // Out of descriptors (or buffers): the pending connections stay in the
      // backlog; try again shortly rather than spin.
      if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space || ec == asio::error::no_memory) {
        if (!accept_warned_) spdlog::warn("HTTP: cannot accept ({}); retrying every 100 ms", ec.message());
        accept_warned_ = true;
        accept_retry_.expires_after(std::chrono::milliseconds(100));
        accept_retry_.async_wait([this](const boost::system::error_code& e) {
          if (!e) Accept();
        });
        return;
      }
      Accept();
      return;
    }
    accept_warned_ = false;
    boost::system::error_code ignored;
    // Tokens are small writes: Nagle's algorithm would hold each one back
    // until the previous one is acknowledged (and the peer delays its ACKs).
    s.set_option(tcp::no_delay(true), ignored);
    ++open_;
    ++total_;
    std::make_shared<Session>(this, std::move(s))->Start();
    Accept();
  });
}

FrontServer::FrontServer(RouteTable* routes, FrontServerOptions options)
    : impl_(std::make_unique<Impl>(routes, std::move(options))) {}

FrontServer::~FrontServer() = default;

void FrontServer::Stream(const std::string& method, const std::string& path, StreamHandler handler) {
  impl_->streams_[{method, path}] = std::move(handler);
}

Status FrontServer::Bind(const std::string& host, int port) {
  boost::system::error_code ec;
  tcp::resolver resolver(impl_->ioc_);
  auto results = resolver.resolve(host, std::to_string(port), tcp::resolver::passive, ec);
  if (ec || results.empty()) return Status::IOError("server: cannot resolve " + host + ": " + ec.message());
  const tcp::endpoint ep = results.begin()->endpoint();
  tcp::acceptor& a = impl_->acceptor_;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  // A burst of a thousand clients connects at once: the kernel's maximum backlog.
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    boost::system::error_code ignored;
    a.close(ignored);
    return Status::IOError("server: cannot listen on " + host + ":" + std::to_string(port) + " (" + ec.message() + ")");
  }
  return Status::OK();
}

void FrontServer::Serve() {
  auto work = asio::make_work_guard(impl_->ioc_);
  asio::post(impl_->acceptor_.get_executor(), [this] { impl_->Accept(); });
  std::vector<std::thread> threads;
  for (int i = 1; i < std::max(1, impl_->opt_.io_threads); ++i) threads.emplace_back([this] { impl_->ioc_.run(); });
  impl_->ioc_.run();
  for (auto& t : threads) t.join();
  impl_->ShutdownPool();
}

void FrontServer::Stop() {
  impl_->stopping_ = true;
  asio::post(impl_->acceptor_.get_executor(), [this] {
    boost::system::error_code ignored;
    impl_->acceptor_.close(ignored);
    impl_->accept_retry_.cancel();
  });
  // Connections close as the io_context destroys their handlers.
  impl_->ioc_.stop();
}

FrontServer::Counts FrontServer::counts() const {
  return {impl_->open_.load(), impl_->total_.load(), impl_->streams_open_.load()};
}

}  // namespace vigil::daemon
