#include "net/http_server.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <signal.h>
#include <sys/socket.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "net/log.h"
#include "net/sockets.h"

namespace turnpike::net {
namespace {

const char* reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return status < 400 ? "OK" : "Error";
  }
}

std::string lower(const char* s) {
  std::string out(s);
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

const std::string& HttpRequest::header(const std::string& lower_case_name) const {
  static const std::string kNone;
  auto it = headers.find(lower_case_name);
  return it == headers.end() ? kNone : it->second;
}

HttpResponse HttpResponse::text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  if (r.body.empty() || r.body.back() != '\n') r.body.push_back('\n');
  return r;
}

HttpServer::HttpServer(std::string name, int timeout_s)
    : name_(std::move(name)), timeout_s_(timeout_s), base_(event_base_new()) {
  mailbox_ = std::make_unique<Mailbox>(base_.get());
}

HttpServer::~HttpServer() {
  stop();  // evhttp_free: its bound sockets and connections, while the base lives
  mailbox_.reset();
}

void HttpServer::handle(const std::string& path, HttpHandler h, bool post) {
  routes_[path] = Route{std::move(h), post};
}

std::string HttpServer::listen(const core::SocketAddress& address, SslCtxShared tls) {
  UniqueFd fd = new_socket(address.ip().family(), SOCK_STREAM, {.reuseaddr = true});
  if (!fd) return name_ + ": socket(): " + std::strerror(errno);
  if (!bind_to(fd.get(), address)) {
    const int e = errno;
    std::string err = name_ + ": cannot bind " + address.to_string() + "/tcp: " + std::strerror(e);
    if (e == EADDRINUSE) err += " (choose another port, or stop what listens there)";
    return err;
  }
  if (::listen(fd.get(), 128) != 0) {
    return name_ + ": cannot listen on " + address.to_string() + ": " + std::strerror(errno);
  }
  return adopt(std::move(fd), std::move(tls));
}

std::string HttpServer::adopt(UniqueFd listening, SslCtxShared tls) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(listening.get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return name_ + ": getsockname(): " + std::strerror(errno);
  }
  auto address = core::SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
  if (!address) return name_ + ": not an IPv4 or IPv6 socket";
  return add(std::move(listening), *address, std::move(tls));
}

std::string HttpServer::add(UniqueFd fd, const core::SocketAddress& address, SslCtxShared tls) {
  auto l = std::make_unique<Listener>();
  l->http = {evhttp_new(base_.get()), &evhttp_free};
  if (!l->http) return name_ + ": evhttp_new() failed";
  l->tls = std::move(tls);
  l->address = address;
  l->owner = this;
  evhttp* http = l->http.get();
  evhttp_set_gencb(http, &HttpServer::on_request, l.get());
  evhttp_set_timeout(http, timeout_s_);
  evhttp_set_max_headers_size(http, 16 * 1024);
  evhttp_set_max_body_size(http, kMaxBody);
  // Every method reaches serve(), which answers 405 to those a path does not take (evhttp
  // itself would say 501).
  evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                       EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                                       EVHTTP_REQ_PATCH);
  if (l->tls) evhttp_set_bevcb(http, &HttpServer::make_tls_bufferevent, l.get());
  l->fd = fd.get();
  if (!evhttp_accept_socket_with_handle(http, fd.get())) {
    return name_ + ": cannot accept on " + address.to_string();
  }
  fd.release();  // evhttp owns it now
  listeners_.push_back(std::move(l));
  return {};
}

void HttpServer::set_tls(size_t i, SslCtxShared tls) {
  Listener* l = listeners_.at(i).get();
  post([l, tls = std::move(tls)]() mutable { l->tls = std::move(tls); });
}

::bufferevent* HttpServer::make_tls_bufferevent(event_base* base, void* arg) {
  auto* l = static_cast<Listener*>(arg);
  SSL* ssl = SSL_new(l->tls.get());
  if (!ssl) return nullptr;  // evhttp falls back to a plain bufferevent; the handshake fails
  // The relay's TLS context reads ahead (its stream code drains SSL_pending); libevent 2.1's
  // OpenSSL bufferevent waits for the socket instead, so a request already inside the SSL
  // object would sit there until the timeout. Off for this connection only.
  SSL_set_read_ahead(ssl, 0);
  // BEV_OPT_CLOSE_ON_FREE: the SSL object and the socket go with the bufferevent.
  return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                        BEV_OPT_CLOSE_ON_FREE);
}

void HttpServer::on_request(evhttp_request* req, void* arg) {
  auto* l = static_cast<Listener*>(arg);
  l->owner->serve(*l, req);
}

void HttpServer::serve(Listener& l, evhttp_request* req) {
  HttpRequest r;
  r.tls = l.tls != nullptr;
  const evhttp_cmd_type method = evhttp_request_get_command(req);
  r.method = method == EVHTTP_REQ_HEAD ? "HEAD" : method == EVHTTP_REQ_POST ? "POST" : "GET";
  if (const evhttp_uri* uri = evhttp_request_get_evhttp_uri(req)) {
    if (const char* path = evhttp_uri_get_path(uri)) {
      size_t n = 0;
      if (char* decoded = evhttp_uridecode(path, 0, &n)) {
        r.path.assign(decoded, n);
        std::free(decoded);
      }
    }
    if (const char* q = evhttp_uri_get_query(uri)) r.query = q;
  }
  // push_back, not = "/": GCC 12 at -O2 reports a false -Wrestrict for a one-character literal.
  if (r.path.empty()) r.path.push_back('/');
  if (evhttp_connection* c = evhttp_request_get_connection(req)) {
    if (const sockaddr* sa = evhttp_connection_get_addr(c)) {
      const socklen_t len =
          sa->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : socklen_t(sizeof(sockaddr_in));
      if (auto a = core::SocketAddress::from_sockaddr(sa, len)) r.peer = *a;
    }
  }
  if (const evkeyvalq* in = evhttp_request_get_input_headers(req)) {
    for (const evkeyval* h = in->tqh_first; h; h = h->next.tqe_next) {
      r.headers[lower(h->key)] = h->value;
    }
  }

  HttpResponse resp;
  auto route = routes_.find(r.path);
  const bool post_ok = route != routes_.end() && route->second.post;
  if (method == EVHTTP_REQ_POST && post_ok) {
    evbuffer* in = evhttp_request_get_input_buffer(req);
    const size_t n = evbuffer_get_length(in);
    r.body.resize(n);
    if (n) evbuffer_copyout(in, r.body.data(), n);
  }
  if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD &&
      !(method == EVHTTP_REQ_POST && post_ok)) {
    resp = HttpResponse::text(405, post_ok ? "only GET, HEAD and POST" : "only GET and HEAD");
    resp.headers.emplace_back("Allow", post_ok ? "GET, HEAD, POST" : "GET, HEAD");
  } else if (route == routes_.end()) {
    resp = HttpResponse::text(404, "no such page; try /metrics, /health or /ready");
  } else {
    try {
      resp = route->second.handler(r);
    } catch (const std::exception& e) {
      log(LogLevel::Error, name_, ": ", r.path, ": ", e.what());
      resp = HttpResponse::text(500, "internal error");
    }
  }
  evkeyvalq* out = evhttp_request_get_output_headers(req);
  evhttp_add_header(out, "Content-Type", resp.content_type.c_str());
  evhttp_add_header(out, "Cache-Control", "no-store");
  for (const auto& [k, v] : resp.headers) evhttp_add_header(out, k.c_str(), v.c_str());
  evbuffer* body = evbuffer_new();
  if (method == EVHTTP_REQ_HEAD) {
    // The size of what GET would send, and no body.
    evhttp_add_header(out, "Content-Length", std::to_string(resp.body.size()).c_str());
  } else {
    evbuffer_add(body, resp.body.data(), resp.body.size());
  }
  evhttp_send_reply(req, resp.status, reason_phrase(resp.status), body);
  evbuffer_free(body);
}

void HttpServer::start() {
  if (thread_.joinable()) return;
  // Signals go to the main thread, never to this one.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  thread_ = std::thread([this] { event_base_dispatch(base_.get()); });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void HttpServer::stop() {
  if (thread_.joinable()) {
    post([this] { event_base_loopexit(base_.get(), nullptr); });
    thread_.join();
  }
  listeners_.clear();  // closes the listening sockets and the connections
}

}  // namespace turnpike::net
