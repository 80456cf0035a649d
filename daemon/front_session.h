// The front server's internals (front_server.h): the listener and one
// connection's state machine. Everything a Session holds is touched only on
// its strand; what other threads hand it (routed bytes, a stream's writes)
// is posted there.
#pragma once

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "daemon/front_server.h"

namespace vigil::daemon {

class FrontServer::Impl {
 public:
  Impl(RouteTable* routes, FrontServerOptions o);
  ~Impl();
  void Accept();
  void ShutdownPool();

  // Destroyed after the io_context (declared first): sessions it destroys
  // still count themselves out.
  std::atomic<int64_t> open_{0}, total_{0}, streams_open_{0};
  std::atomic<bool> stopping_{false};
  RouteTable* routes_;
  FrontServerOptions opt_;
  std::map<std::pair<std::string, std::string>, StreamHandler> streams_;  // set before Serve
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer accept_retry_;
  bool accept_warned_ = false;  // on the acceptor's strand
  // Destroyed first: its workers finish before the io_context goes.
  httplib::ThreadPool pool_;
  std::atomic<bool> pool_down_{false};
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(FrontServer::Impl* srv, boost::asio::ip::tcp::socket sock);
  ~Session();
  void Start();

  // The Exchange's calls, on the strand; `seq` names the request they
  // belong to (a late call for an earlier request is ignored).
  void ExRespond(uint64_t seq, int status, const std::string& content_type, std::string body, HeaderList headers);
  void ExBegin(uint64_t seq, const std::string& content_type, HeaderList headers);
  void ExWrite(uint64_t seq, std::string data);
  void ExEnd(uint64_t seq);
  void ExOnGone(uint64_t seq, std::function<void()> fn);
  void ExEvery(uint64_t seq, std::chrono::milliseconds period, std::function<bool()> fn);
  bool Current(uint64_t seq) const { return seq == seq_ && phase_ == Phase::kStreaming && !ex_ended_; }
  const boost::asio::any_io_executor& executor() const { return ex_; }

 private:
  enum class Phase { kReading, kDraining, kRouting, kStreaming, kResuming, kClosed };
  void ReadRequest();
  void OnHeader(const boost::system::error_code& ec);
  void OnBody(const boost::system::error_code& ec);
  void Drain();
  void Dispatch();
  void OnRouted(std::string out, bool close);
  void Watch();
  void OnWatch(const boost::system::error_code& ec, size_t n);
  void Gone();
  void FinishExchange();
  void Fail(int status, const std::string& message);
  void Queue(std::string data);
  void DoWrite();
  void OnFlushed();
  void ArmReadTimer(double seconds);
  void ArmTick();
  void Close();
  std::string HeadLine(int status) const;

  FrontServer::Impl* const srv_;
  boost::asio::ip::tcp::socket sock_;
  const boost::asio::any_io_executor ex_;
  std::string peer_ip_;
  int peer_port_ = 0;
  boost::beast::flat_buffer buf_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  boost::asio::steady_timer read_timer_, write_timer_, tick_;
  uint64_t read_timer_gen_ = 0, write_timer_gen_ = 0;
  Phase phase_ = Phase::kReading;
  uint64_t drain_left_ = 0;
  // Writes: one async_write at a time, of everything queued meanwhile.
  std::deque<std::string> out_;
  std::vector<std::string> inflight_;
  size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool close_after_flush_ = false;
  // The request being answered.
  uint64_t seq_ = 0;
  bool keep_alive_ = true;
  bool http11_ = true;
  std::string path_;
  // A streamed exchange.
  bool ex_begun_ = false, ex_ended_ = false, ex_logged_ = false, chunked_ = true;
  int status_ = 0;
  bool watching_ = false;
  std::function<void()> on_gone_;
  std::function<bool()> tick_fn_;
  std::chrono::milliseconds tick_period_{0};
};

}  // namespace vigil::daemon
