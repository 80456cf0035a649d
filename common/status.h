// Status: the error path of every fallible call, after LevelDB's.
// A Status is either OK or carries a code and a human-readable message that
// already names what failed (file, tensor, key, field).
#pragma once

#include <string>
#include <utility>

namespace vigil {

class Status {
 public:
  enum class Code {
    kOk = 0,
    kInvalidArgument,  // the caller's input is wrong (bad request, bad config)
    kNotFound,
    kCorruption,  // a file is malformed or inconsistent
    kIOError,
    kResourceExhausted,   // would never fit (KV cache, max_model_len) or overloaded
    kUnavailable,         // shutting down, not ready
    kFailedPrecondition,  // conflicts with the current state (a capture still running)
    kUnimplemented,       // a format or feature Vigil does not support
    kInternal,
  };

  Status() = default;
  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string m) { return Status(Code::kInvalidArgument, std::move(m)); }
  static Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
  static Status Corruption(std::string m) { return Status(Code::kCorruption, std::move(m)); }
  static Status IOError(std::string m) { return Status(Code::kIOError, std::move(m)); }
  static Status ResourceExhausted(std::string m) { return Status(Code::kResourceExhausted, std::move(m)); }
  static Status Unavailable(std::string m) { return Status(Code::kUnavailable, std::move(m)); }
  static Status FailedPrecondition(std::string m) { return Status(Code::kFailedPrecondition, std::move(m)); }
  static Status Unimplemented(std::string m) { return Status(Code::kUnimplemented, std::move(m)); }
  static Status Internal(std::string m) { return Status(Code::kInternal, std::move(m)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "InvalidArgument: <message>", or "OK".
  std::string ToString() const;

  // Prefixes the message with context, keeping the code: "loading x: <msg>".
  Status WithContext(const std::string& context) const;

 private:
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

const char* StatusCodeName(Status::Code code);

}  // namespace vigil

// Returns early from the enclosing function when `expr` is not OK.
#define VIGIL_RETURN_IF_ERROR(expr)        \
  do {                                     \
    ::vigil::Status _vigil_st = (expr);    \
    if (!_vigil_st.ok()) return _vigil_st; \
  } while (0)
