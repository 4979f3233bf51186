#include "loadgen/proc_stats.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <utility>

#include "common/clock.h"

namespace bench {

namespace {

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

ProcSample sample_process(pid_t pid) {
  ProcSample s;
  s.t_ns = now_ns();
  const std::string base = "/proc/" + std::to_string(pid);
  const std::string stat = read_file(base + "/stat");
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return s;
  std::istringstream in(stat.substr(close + 2));
  std::string field;
  unsigned long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::stoul(field);
    if (i == 15) stime = std::stoul(field);
  }
  s.cpu_s = double(utime + stime) / double(sysconf(_SC_CLK_TCK));
  const std::string status = read_file(base + "/status");
  if (const size_t p = status.find("VmRSS:"); p != std::string::npos) {
    s.rss_kb = std::strtoull(status.c_str() + p + 6, nullptr, 10);
  }
  if (DIR* d = opendir((base + "/task").c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      const std::string sched = read_file(base + "/task/" + e->d_name + "/schedstat");
      if (!sched.empty())
        s.thread_ns[std::atol(e->d_name)] = std::strtoull(sched.c_str(), nullptr, 10);
    }
    closedir(d);
  }
  s.ok = true;
  return s;
}

double busiest_thread(const ProcSample& a, const ProcSample& b) {
  const double dt = double(b.t_ns - a.t_ns);
  if (dt <= 0) return 0;
  double best = 0;
  for (const auto& [tid, ns] : b.thread_ns) {
    auto it = a.thread_ns.find(tid);
    const double used = double(ns - (it == a.thread_ns.end() ? 0 : it->second));
    if (used / dt > best) best = used / dt;
  }
  return best;
}

uint64_t udp_socket_drops(pid_t pid) {
  std::set<unsigned long> inodes;
  const std::string fds = "/proc/" + std::to_string(pid) + "/fd";
  if (DIR* d = opendir(fds.c_str())) {
    char target[64];
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      const ssize_t n = readlink((fds + "/" + e->d_name).c_str(), target, sizeof target - 1);
      if (n <= 0) continue;
      target[n] = 0;
      if (std::strncmp(target, "socket:[", 8) == 0)
        inodes.insert(std::strtoul(target + 8, nullptr, 10));
    }
    closedir(d);
  }
  uint64_t drops = 0;
  for (const char* table : {"/proc/net/udp", "/proc/net/udp6"}) {
    std::ifstream f(table);
    std::string line;
    std::getline(f, line);  // header
    while (std::getline(f, line)) {
      // sl local rem st tx:rx tr:tm retrnsmt uid timeout inode ref pointer drops
      std::istringstream in(line);
      std::string col[13];
      int n = 0;
      while (n < 13 && in >> col[n]) ++n;
      if (n < 13) continue;
      if (inodes.count(std::strtoul(col[9].c_str(), nullptr, 10)))
        drops += std::strtoull(col[12].c_str(), nullptr, 10);
    }
  }
  return drops;
}

MachineSample sample_machine() {
  MachineSample m;
  std::ifstream f("/proc/stat");
  std::string cpu;
  f >> cpu;
  uint64_t v[10] = {};
  for (auto& x : v) f >> x;
  for (int i = 0; i < 8; ++i) m.total += v[i];  // guest time is already in user
  m.busy = m.total - v[3] - v[4];               // minus idle and iowait
  std::ifstream snmp("/proc/net/snmp");
  std::string header, values;
  while (std::getline(snmp, header) && std::getline(snmp, values)) {
    if (header.rfind("Udp:", 0) != 0) continue;
    std::istringstream h(header), val(values);
    std::string name, number;
    while (h >> name && val >> number) {
      if (name == "RcvbufErrors") m.udp_rcvbuf_errors = std::stoull(number);
      if (name == "SndbufErrors") m.udp_sndbuf_errors = std::stoull(number);
    }
    break;
  }
  return m;
}

double machine_busy(const MachineSample& a, const MachineSample& b) {
  const double total = double(b.total - a.total);
  return total > 0 ? double(b.busy - a.busy) / total : 0;
}

}  // namespace bench
