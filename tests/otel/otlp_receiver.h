// OtlpReceiver: a test OTLP/HTTP collector on 127.0.0.1:<ephemeral>. A thread accepts
// connections (keep-alive, as libcurl uses), reads each request (Content-Length bodies),
// records it and answers with the status `status_for(request index)` returns; in black-hole
// mode it reads and never answers. Test-only; blocking sockets + poll on its own thread.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace hero::testing {

class OtlpReceiver {
 public:
  struct Request {
    std::string path, content_type, body;
  };

  explicit OtlpReceiver(
      std::function<int(int)> status_for = [](int) { return 200; }, bool black_hole = false)
      : status_for_(std::move(status_for)), black_hole_(black_hole) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listen_fd_, 16);
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    if (::pipe2(wake_, O_CLOEXEC) != 0) std::abort();
    thread_ = std::thread([this] { Loop(); });
  }
  ~OtlpReceiver() {
    char c = 1;
    (void)!::write(wake_[1], &c, 1);
    thread_.join();
    for (auto& [fd, buf] : conns_) ::close(fd);
    ::close(listen_fd_);
    ::close(wake_[0]);
    ::close(wake_[1]);
  }

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  std::vector<Request> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  // Waits until `pred(requests)` holds or `timeout` passes; returns pred's last value.
  bool WaitFor(const std::function<bool(const std::vector<Request>&)>& pred,
               std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return pred(requests_); });
  }

 private:
  void Loop() {
    while (true) {
      std::vector<pollfd> fds{{wake_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
      for (auto& [fd, buf] : conns_) fds.push_back({fd, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), -1) < 0) continue;
      if (fds[0].revents) return;
      if (fds[1].revents & POLLIN) {
        int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0) conns_[c];
      }
      for (size_t i = 2; i < fds.size(); ++i) {
        if (!fds[i].revents) continue;
        int fd = fds[i].fd;
        char buf[65536];
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) {
          ::close(fd);
          conns_.erase(fd);
          continue;
        }
        conns_[fd].append(buf, static_cast<size_t>(n));
        Parse(fd);
      }
    }
  }

  static std::string Header(const std::string& head, const std::string& name) {
    std::string lower = head;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    size_t p = lower.find("\r\n" + name + ":");
    if (p == std::string::npos) return "";
    p += name.size() + 3;
    size_t e = head.find("\r\n", p);
    std::string v = head.substr(p, e - p);
    while (!v.empty() && v.front() == ' ') v.erase(0, 1);
    return v;
  }

  void Parse(int fd) {
    std::string& in = conns_[fd];
    while (true) {
      size_t end = in.find("\r\n\r\n");
      if (end == std::string::npos) return;
      std::string head = in.substr(0, end);
      size_t len = std::strtoul(Header(head, "content-length").c_str(), nullptr, 10);
      if (in.size() < end + 4 + len) return;
      Request r;
      size_t sp1 = head.find(' '), sp2 = head.find(' ', sp1 + 1);
      r.path = head.substr(sp1 + 1, sp2 - sp1 - 1);
      r.content_type = Header(head, "content-type");
      r.body = in.substr(end + 4, len);
      in.erase(0, end + 4 + len);
      int index;
      {
        std::lock_guard lock(mu_);
        index = static_cast<int>(requests_.size());
        requests_.push_back(std::move(r));
      }
      cv_.notify_all();
      if (black_hole_) continue;
      int status = status_for_(index);
      std::string reply = "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: 0\r\n\r\n";
      (void)!::write(fd, reply.data(), reply.size());
    }
  }

  std::function<int(int)> status_for_;
  bool black_hole_;
  int listen_fd_ = -1, port_ = 0;
  int wake_[2] = {-1, -1};
  std::map<int, std::string> conns_;  // receiver thread only
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Request> requests_;
  std::thread thread_;
};

}  // namespace hero::testing
