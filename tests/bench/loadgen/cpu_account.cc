#include "loadgen/cpu_account.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace bench {

namespace {

constexpr unsigned long kPfKthread = 0x00200000;  // include/linux/sched.h PF_KTHREAD

struct TaskTimes {
  bool ok = false;
  bool kthread = false;
  double own_s = 0;       // utime + stime
  double children_s = 0;  // cutime + cstime (waited-for children)
};

TaskTimes read_times(pid_t pid) {
  TaskTimes t;
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string stat = ss.str();
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return t;
  std::istringstream in(stat.substr(close + 2));
  std::string field;
  unsigned long flags = 0, v[4] = {};
  // proc_pid_stat(5): 3 state ... 9 flags ... 14 utime 15 stime 16 cutime 17 cstime
  for (int i = 3; i <= 17 && in >> field; ++i) {
    if (i == 9) flags = std::strtoul(field.c_str(), nullptr, 10);
    if (i >= 14) v[i - 14] = std::strtoul(field.c_str(), nullptr, 10);
  }
  const double hz = double(sysconf(_SC_CLK_TCK));
  t.ok = true;
  t.kthread = flags & kPfKthread;
  t.own_s = double(v[0] + v[1]) / hz;
  t.children_s = double(v[2] + v[3]) / hz;
  return t;
}

// Time on CPU of every thread of `pid` (/proc/PID/task/*/schedstat, first field, ns).
double run_time_s(pid_t pid) {
  const std::string base = "/proc/" + std::to_string(pid) + "/task";
  double sum = 0;
  if (DIR* d = opendir(base.c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      std::ifstream f(base + "/" + e->d_name + "/schedstat");
      unsigned long long ns = 0;
      if (f >> ns) sum += double(ns) / 1e9;
    }
    closedir(d);
  }
  return sum;
}

}  // namespace

bool CpuAccount::add_group(const std::string& spec, std::string* error) {
  const size_t eq = spec.find('=');
  if (eq == std::string::npos || eq == 0) {
    *error = "--account wants LABEL=PID[,PID...], got " + spec;
    return false;
  }
  std::vector<pid_t> pids;
  std::istringstream in(spec.substr(eq + 1));
  std::string p;
  while (std::getline(in, p, ',')) {
    if (p.empty()) continue;
    char* end = nullptr;
    const long v = std::strtol(p.c_str(), &end, 10);
    if (*end || v <= 0) {
      *error = "--account: bad pid " + p;
      return false;
    }
    pids.push_back(pid_t(v));
  }
  groups_.emplace_back(spec.substr(0, eq), std::move(pids));
  return true;
}

CpuAccountSample CpuAccount::sample() const {
  CpuAccountSample s;
  const double hz = double(sysconf(_SC_CLK_TCK));
  {
    // cpu user nice system idle iowait irq softirq steal guest guest_nice (USER_HZ)
    std::ifstream f("/proc/stat");
    std::string cpu;
    f >> cpu;
    unsigned long long v[8] = {};
    for (auto& x : v) f >> x;
    s.machine_total_s = double(v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7]) / hz;
    s.machine_busy_s = double(v[0] + v[1] + v[2] + v[5] + v[6]) / hz;
    s.machine_softirq_s = double(v[6]) / hz;
  }
  std::set<pid_t> grouped{getpid()};
  for (const auto& [label, pids] : groups_) {
    double sum = 0, run = 0;
    for (pid_t pid : pids) {
      grouped.insert(pid);
      const TaskTimes t = read_times(pid);
      if (t.ok) sum += t.own_s;
      run += run_time_s(pid);
    }
    s.group_s[label] = sum;
    s.group_run_s[label] = run;
  }
  s.group_s["self"] = read_times(getpid()).own_s;
  s.group_run_s["self"] = run_time_s(getpid());
  if (DIR* d = opendir("/proc")) {
    while (dirent* e = readdir(d)) {
      char* end = nullptr;
      const long pid = std::strtol(e->d_name, &end, 10);
      if (*end || pid <= 0 || grouped.count(pid_t(pid))) continue;
      const TaskTimes t = read_times(pid_t(pid));
      if (!t.ok) continue;
      if (t.kthread)
        s.other_kernel_s += t.own_s;
      else
        s.other_user_s += t.own_s + t.children_s;
    }
    closedir(d);
  }
  return s;
}

}  // namespace bench
