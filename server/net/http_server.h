// A small HTTP/1.1 server on libevent's evhttp, in a thread of its own: the metrics and health
// endpoints, the check page. Handlers run on that thread, never on a worker; what they need from
// the workers they ask through the workers' mailboxes. Plain HTTP, or HTTPS when a listener is
// given an SSL_CTX (evhttp_set_bevcb with an OpenSSL bufferevent). GET and HEAD only; no
// request bodies; a connection that stays silent or slow is closed after `timeout_s`.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/socket_address.h"
#include "net/libevent_ptr.h"
#include "net/mailbox.h"
#include "net/unique_fd.h"

struct evhttp;
struct evhttp_request;
struct bufferevent;

namespace turnpike::net {

struct HttpRequest {
  std::string method;  // "GET", "HEAD" or "POST"
  std::string path;    // decoded, without the query: "/metrics"
  std::string query;   // raw, without '?'; empty when there is none
  core::SocketAddress peer;
  std::map<std::string, std::string> headers;  // names in lower case
  bool tls = false;                            // arrived on an HTTPS listener
  std::string body;                            // POST only

  // The header's value, or "" when absent.
  const std::string& header(const std::string& lower_case_name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;  // not sent for HEAD (Content-Length still says its size)
  std::vector<std::pair<std::string, std::string>> headers;  // added as they are

  static HttpResponse text(int status, std::string body);
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// A TLS certificate for an HTTPS listener. Shared: a reload swaps it for new connections while
// connections made before keep theirs (their SSL holds its own reference to the SSL_CTX).
using SslCtxShared = std::shared_ptr<SSL_CTX>;

class HttpServer {
 public:
  // `name` appears in log lines ("metrics", "check page").
  explicit HttpServer(std::string name, int timeout_s = 10);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  static constexpr size_t kMaxBody = 16 * 1024;  // a larger POST body is refused (413)

  // Before start(): the handler of one exact path, for GET and HEAD, and for POST too when
  // `post`. A path without a handler is 404; a method it does not take is 405.
  void handle(const std::string& path, HttpHandler h, bool post = false);

  // Before start() (and before privileges are dropped, for ports below 1024): binds and listens
  // on `address` (port 0: any free port; see port()), HTTPS when `tls` is set. Returns an error
  // naming the address, or "".
  std::string listen(const core::SocketAddress& address, SslCtxShared tls = nullptr);
  // The same with a socket that is already bound and listening (a hand-over passes it on).
  std::string adopt(UniqueFd listening, SslCtxShared tls = nullptr);
  // The address listener `i` (in listen() order) is bound to, and its socket.
  core::SocketAddress bound(size_t i) const { return listeners_.at(i)->address; }
  int listening_fd(size_t i) const { return listeners_.at(i)->fd; }
  size_t listener_count() const { return listeners_.size(); }

  // The certificate of HTTPS listener `i` for connections accepted from now on. Thread-safe.
  void set_tls(size_t i, SslCtxShared tls);

  void start();
  // Stops serving, joins the thread and closes the listeners (a hand-over dups listening_fd()
  // first); requests under way are dropped. Idempotent.
  void stop();
  // Runs `f` on the server's thread. Thread-safe.
  void post(Mailbox::Job f) { mailbox_->post(std::move(f)); }

 private:
  struct Listener {
    std::unique_ptr<evhttp, void (*)(evhttp*)> http{nullptr, nullptr};
    SslCtxShared tls;
    core::SocketAddress address;
    int fd = -1;  // owned by evhttp once accepted
    HttpServer* owner = nullptr;
  };
  static void on_request(evhttp_request* req, void* arg);
  static ::bufferevent* make_tls_bufferevent(event_base* base, void* arg);
  std::string add(UniqueFd fd, const core::SocketAddress& address, SslCtxShared tls);
  void serve(Listener& l, evhttp_request* req);

  std::string name_;
  int timeout_s_;
  EventBasePtr base_;
  std::unique_ptr<Mailbox> mailbox_;
  struct Route {
    HttpHandler handler;
    bool post = false;
  };
  std::map<std::string, Route> routes_;
  std::vector<std::unique_ptr<Listener>> listeners_;  // callbacks hold their address
  std::thread thread_;
};

}  // namespace turnpike::net
