#include "net/offload/kernel_offload.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/capability.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <sstream>
#include <string_view>
#include <utility>

#include "net/offload/channel_relay.skel.h"
#include "net/unique_fd.h"

namespace turnpike::net {

uint64_t monotonic_ns() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return uint64_t(t.tv_sec) * 1'000'000'000u + uint64_t(t.tv_nsec);
}

namespace {

// BPF_TCX_INGRESS of enum bpf_attach_type (Linux 6.6, include/uapi/linux/bpf.h): newer than the
// headers of Debian 12, so spelled out here. Older kernels answer EINVAL and get a cls_bpf filter.
constexpr auto kTcxIngress = static_cast<bpf_attach_type>(46);

// The cls_bpf fallback: our filters use handle 1 and priorities from here on, so that several
// turnpike processes in one network namespace (and other TC users) can coexist, and filters left
// by a turnpike that died can be found again.
constexpr uint32_t kTcHandle = 1;
constexpr uint32_t kTcFirstPriority = 0x3478;
constexpr uint32_t kTcPriorities = 16;
// A filter whose heartbeat is older than this belongs to a turnpike that is gone.
constexpr uint64_t kStaleNs = 10'000'000'000ull;
// The program's name as the kernel keeps it (BPF_OBJ_NAME_LEN - 1 characters).
constexpr const char* kProgName = "turnpike_ingres";

constexpr unsigned kCapBpf = 39;  // CAP_BPF, Linux 5.8 (newer than some headers)

bool effective_capability(unsigned cap) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (syscall(SYS_capget, &header, data) != 0) return false;
  return (data[cap / 32].effective & (1u << (cap % 32))) != 0;
}

// Runs `f` with this thread's effective capabilities cleared (the permitted ones stay, so they
// come back afterwards).
template <typename F>
auto without_effective_capabilities(F&& f) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct saved[2]{};
  syscall(SYS_capget, &header, saved);
  __user_cap_data_struct none[2] = {saved[0], saved[1]};
  none[0].effective = none[1].effective = 0;
  syscall(SYS_capset, &header, none);
  auto result = f();
  header = {_LINUX_CAPABILITY_VERSION_3, 0};
  syscall(SYS_capset, &header, saved);
  return result;
}

// libbpf reports through a process-wide callback; during load() it is collected here, so that
// a verifier refusal can be told in one line.
std::string* g_libbpf_log = nullptr;

int collect_libbpf_log(enum libbpf_print_level level, const char* format, va_list args) {
  if (!g_libbpf_log || level == LIBBPF_DEBUG) return 0;
  char line[2048];
  std::vsnprintf(line, sizeof line, format, args);
  g_libbpf_log->append(line);
  return 0;
}

// The verifier's complaint is the last line of its log that is not an instruction trace or the
// closing statistics; failing that, libbpf's own last word.
std::string summarize_libbpf_log(const std::string& log) {
  std::istringstream in(log);
  std::string line, verdict, last_libbpf;
  bool in_verifier_log = false;
  while (std::getline(in, line)) {
    if (line.find("-- BEGIN PROG LOAD LOG --") != std::string::npos) {
      in_verifier_log = true;
    } else if (line.find("-- END PROG LOAD LOG --") != std::string::npos) {
      in_verifier_log = false;
    } else if (in_verifier_log) {
      if (!line.empty() && !std::isdigit(static_cast<unsigned char>(line[0])) && line[0] != ';' &&
          line.rfind("processed ", 0) != 0 && line.rfind("verification time", 0) != 0 &&
          line.rfind("stack depth", 0) != 0) {
        verdict = line;
      }
    } else if (line.rfind("libbpf: ", 0) == 0) {
      last_libbpf = line.substr(8);
    }
  }
  return !verdict.empty() ? verdict : last_libbpf;
}

struct Interface {
  std::string name;
  int index = 0;
};

// Every interface of this network namespace that is up, is not loopback and carries Ethernet
// frames (the program parses an Ethernet header), or the ones named, which must be such.
std::vector<Interface> interfaces(const std::vector<std::string>& named, std::string* why) {
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  auto eligible = [&](const std::string& name, std::string* reason) {
    ifreq r{};
    std::strncpy(r.ifr_name, name.c_str(), IFNAMSIZ - 1);
    if (ioctl(s.get(), SIOCGIFFLAGS, &r) != 0) {
      *reason = std::strerror(errno);
      return false;
    }
    const short flags = r.ifr_flags;
    if (flags & IFF_LOOPBACK) {
      *reason = "it is the loopback interface";
      return false;
    }
    if (!(flags & IFF_UP)) {
      *reason = "it is down";
      return false;
    }
    if (ioctl(s.get(), SIOCGIFHWADDR, &r) != 0 || r.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
      *reason = "it does not carry Ethernet frames";
      return false;
    }
    return true;
  };
  std::vector<Interface> out;
  if (!named.empty()) {
    for (const auto& name : named) {
      const int index = int(if_nametoindex(name.c_str()));
      std::string reason = "no such interface";
      if (index == 0 || !eligible(name, &reason)) {
        *why = "kernel-offload-interface=" + name + ": " + reason;
        return {};
      }
      out.push_back({name, index});
    }
    return out;
  }
  struct if_nameindex* all = if_nameindex();
  if (!all) {
    *why = std::string("cannot list the network interfaces: ") + std::strerror(errno);
    return {};
  }
  for (struct if_nameindex* i = all; i->if_index != 0; ++i) {
    std::string reason;
    if (eligible(i->if_name, &reason)) out.push_back({i->if_name, int(i->if_index)});
  }
  if_freenameindex(all);
  if (out.empty()) *why = "no Ethernet interface is up (loopback traffic is never offloaded)";
  return out;
}

struct SkeletonDeleter {
  void operator()(turnpike_channel_relay* s) const { turnpike_channel_relay__destroy(s); }
};

// One attachment of the program to one interface's ingress: a TCX link (closing it detaches),
// or a cls_bpf filter (detached explicitly).
class Attachment {
 public:
  static Attachment tcx(int ifindex, UniqueFd link) {
    Attachment a;
    a.ifindex_ = ifindex;
    a.link_ = std::move(link);
    return a;
  }
  static Attachment tc(int ifindex, uint32_t priority) {
    Attachment a;
    a.ifindex_ = ifindex;
    a.priority_ = priority;
    return a;
  }
  Attachment(Attachment&& o) noexcept
      : ifindex_(o.ifindex_), priority_(std::exchange(o.priority_, 0)), link_(std::move(o.link_)) {}
  Attachment& operator=(Attachment&&) = delete;
  ~Attachment() {
    if (priority_ == 0) return;  // a TCX link (closed by UniqueFd) or moved from
    bpf_tc_hook hook{};
    hook.sz = sizeof hook;
    hook.ifindex = ifindex_;
    hook.attach_point = BPF_TC_INGRESS;
    bpf_tc_opts opts{};
    opts.sz = sizeof opts;
    opts.handle = kTcHandle;
    opts.priority = priority_;
    bpf_tc_detach(&hook, &opts);
  }

 private:
  Attachment() = default;
  int ifindex_ = 0;
  uint32_t priority_ = 0;
  UniqueFd link_;
};

// The heartbeat of program `prog_id` (its .bss holds only tp_heartbeat_ns), or nothing when it
// is not turnpike's program.
std::optional<uint64_t> turnpike_heartbeat(uint32_t prog_id) {
  UniqueFd prog(bpf_prog_get_fd_by_id(prog_id));
  if (!prog) return std::nullopt;
  bpf_prog_info info{};
  std::array<uint32_t, 16> map_ids{};
  info.nr_map_ids = map_ids.size();
  info.map_ids = reinterpret_cast<uintptr_t>(map_ids.data());
  uint32_t len = sizeof info;
  if (bpf_obj_get_info_by_fd(prog.get(), &info, &len) != 0) return std::nullopt;
  if (std::strcmp(info.name, kProgName) != 0) return std::nullopt;
  for (uint32_t i = 0; i < std::min<uint32_t>(info.nr_map_ids, map_ids.size()); ++i) {
    UniqueFd map(bpf_map_get_fd_by_id(map_ids[i]));
    if (!map) continue;
    bpf_map_info minfo{};
    uint32_t mlen = sizeof minfo;
    if (bpf_obj_get_info_by_fd(map.get(), &minfo, &mlen) != 0) continue;
    const std::string_view name(minfo.name);
    if (name.size() < 4 || name.substr(name.size() - 4) != ".bss" || minfo.value_size < 8)
      continue;
    std::vector<uint8_t> value(minfo.value_size);
    const uint32_t key = 0;
    if (bpf_map_lookup_elem(map.get(), &key, value.data()) != 0) return std::nullopt;
    uint64_t beat;
    std::memcpy(&beat, value.data(), sizeof beat);  // tp_heartbeat_ns is all of .bss
    return beat;
  }
  return std::nullopt;
}

// Attaches `prog` as a cls_bpf filter on the clsact ingress of `ifindex`, first removing filters
// of turnpike processes that are gone (their heartbeat stopped).
std::optional<Attachment> attach_tc(int prog, int ifindex, std::string* why) {
  bpf_tc_hook hook{};
  hook.sz = sizeof hook;
  hook.ifindex = ifindex;
  hook.attach_point = BPF_TC_INGRESS;
  const int created = bpf_tc_hook_create(&hook);  // the clsact qdisc; it stays when we leave
  if (created != 0 && created != -EEXIST) {
    *why = std::string("cannot create the clsact qdisc: ") + std::strerror(-created);
    return std::nullopt;
  }
  const uint64_t now = monotonic_ns();
  uint32_t free_priority = 0;
  for (uint32_t p = kTcFirstPriority; p < kTcFirstPriority + kTcPriorities; ++p) {
    bpf_tc_opts q{};
    q.sz = sizeof q;
    q.handle = kTcHandle;
    q.priority = p;
    if (bpf_tc_query(&hook, &q) != 0) {
      if (!free_priority) free_priority = p;
      continue;
    }
    const auto beat = turnpike_heartbeat(q.prog_id);
    if (beat && now - *beat > kStaleNs) {
      bpf_tc_opts d{};
      d.sz = sizeof d;
      d.handle = kTcHandle;
      d.priority = p;
      if (bpf_tc_detach(&hook, &d) == 0 && !free_priority) free_priority = p;
    }
  }
  if (!free_priority) {
    *why = "every cls_bpf priority turnpike uses is taken (" + std::to_string(kTcPriorities) +
           " turnpike processes in this network namespace?)";
    return std::nullopt;
  }
  bpf_tc_opts opts{};
  opts.sz = sizeof opts;
  opts.prog_fd = prog;
  opts.handle = kTcHandle;
  opts.priority = free_priority;
  if (int err = bpf_tc_attach(&hook, &opts); err != 0) {
    *why = std::string("cannot attach the cls_bpf filter: ") + std::strerror(-err);
    return std::nullopt;
  }
  return Attachment::tc(ifindex, free_priority);
}

}  // namespace

struct KernelOffload::Impl {
  std::unique_ptr<turnpike_channel_relay, SkeletonDeleter> skel;
  uint32_t capacity = 0;
  void* flows = MAP_FAILED;
  size_t flows_size = 0;
  std::vector<Attachment> attachments;  // detached before the skeleton goes
  std::string description;

  ~Impl() {
    attachments.clear();
    if (flows != MAP_FAILED) munmap(flows, flows_size);
  }
};

KernelOffload::KernelOffload(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KernelOffload::~KernelOffload() = default;

std::unique_ptr<KernelOffload> KernelOffload::load(const OffloadOptions& o, std::string* why) {
  // A SCHED_CLS program needs CAP_BPF and CAP_NET_ADMIN (Linux 5.8+; CAP_SYS_ADMIN before).
  const bool sys_admin = effective_capability(CAP_SYS_ADMIN);
  const bool bpf = sys_admin || effective_capability(kCapBpf);
  const bool net_admin = sys_admin || effective_capability(CAP_NET_ADMIN);
  if (!bpf || !net_admin) {
    *why = std::string("turnpike lacks ") +
           (!bpf && !net_admin ? "CAP_BPF and CAP_NET_ADMIN"
            : !bpf             ? "CAP_BPF"
                               : "CAP_NET_ADMIN") +
           " (run it as root or grant them, e.g. AmbientCapabilities= in its systemd unit)";
    return nullptr;
  }
  std::vector<Interface> ifaces;
  if (o.attach) {
    ifaces = interfaces(o.interfaces, why);
    if (ifaces.empty()) return nullptr;
  }

  auto impl = std::make_unique<Impl>();
  impl->capacity = std::max<uint32_t>(o.flows, 1);
  std::string log;
  g_libbpf_log = &log;
  const libbpf_print_fn_t previous = libbpf_set_print(collect_libbpf_log);
  impl->skel.reset(turnpike_channel_relay__open());
  int err = impl->skel ? 0 : -errno;
  if (impl->skel) {
    bpf_map__set_max_entries(impl->skel->maps.tp_flows, impl->capacity);
    bpf_map__set_max_entries(impl->skel->maps.tp_client_index, impl->capacity);
    bpf_map__set_max_entries(impl->skel->maps.tp_peer_index, impl->capacity);
    err = turnpike_channel_relay__load(impl->skel.get());
  }
  libbpf_set_print(previous);
  g_libbpf_log = nullptr;
  if (err != 0) {
    const std::string detail = summarize_libbpf_log(log);
    *why = std::string("the kernel refused the program (") + std::strerror(-err) + ")" +
           (detail.empty() ? "" : ": " + detail);
    return nullptr;
  }

  impl->flows_size = size_t(impl->capacity) * sizeof(tp_flow);
  const size_t page = size_t(sysconf(_SC_PAGESIZE));
  impl->flows_size = (impl->flows_size + page - 1) / page * page;
  impl->flows = mmap(nullptr, impl->flows_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                     bpf_map__fd(impl->skel->maps.tp_flows), 0);
  if (impl->flows == MAP_FAILED) {
    *why = std::string("cannot map the flow table: ") + std::strerror(errno);
    return nullptr;
  }
  impl->skel->bss->tp_heartbeat_ns = monotonic_ns();

  // TCX links (Linux 6.6) go away with the process however it ends; older kernels get a
  // cls_bpf filter. TURNPIKE_OFFLOAD_ATTACH=tc takes the older way on any kernel (its test).
  const char* force = std::getenv("TURNPIKE_OFFLOAD_ATTACH");
  bool tcx = !(force && std::string_view(force) == "tc");
  const int prog = bpf_program__fd(impl->skel->progs.turnpike_ingress);
  std::string names;
  for (const Interface& i : ifaces) {
    if (tcx) {
      UniqueFd link(bpf_link_create(prog, i.index, kTcxIngress, nullptr));
      if (link) {
        impl->attachments.push_back(Attachment::tcx(i.index, std::move(link)));
        names += (names.empty() ? "" : ", ") + i.name;
        continue;
      }
      if (errno != EINVAL) {
        *why = "cannot attach to " + i.name + ": " + std::strerror(errno);
        return nullptr;
      }
      tcx = false;  // no TCX on this kernel
    }
    std::string reason;
    auto a = attach_tc(prog, i.index, &reason);
    if (!a) {
      *why = "cannot attach to " + i.name + ": " + reason;
      return nullptr;
    }
    impl->attachments.push_back(std::move(*a));
    names += (names.empty() ? "" : ", ") + i.name;
  }
  impl->description = (names.empty() ? std::string("attached nowhere")
                                      : std::string(tcx ? "tcx" : "cls_bpf") + " ingress on " + names) +
                      ", " + std::to_string(impl->capacity) + " flows";
  return std::unique_ptr<KernelOffload>(new KernelOffload(std::move(impl)));
}

uint32_t KernelOffload::capacity() const {
  return impl_->capacity;
}

tp_flow* KernelOffload::flows() const {
  return static_cast<tp_flow*>(impl_->flows);
}

int KernelOffload::client_index_fd() const {
  return bpf_map__fd(impl_->skel->maps.tp_client_index);
}

int KernelOffload::peer_index_fd() const {
  return bpf_map__fd(impl_->skel->maps.tp_peer_index);
}

int KernelOffload::program_fd() const {
  return bpf_program__fd(impl_->skel->progs.turnpike_ingress);
}

void KernelOffload::heartbeat() {
  // Workers beat from their own threads: one relaxed 8-byte store, read by the program.
  __atomic_store_n(&impl_->skel->bss->tp_heartbeat_ns, monotonic_ns(), __ATOMIC_RELAXED);
}

KernelOffload::Stats KernelOffload::stats() const {
  Stats out{};
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return out;
  std::vector<uint64_t> per_cpu(static_cast<size_t>(cpus));
  const int fd = bpf_map__fd(impl_->skel->maps.tp_stats);
  for (uint32_t k = 0; k < TP_STAT_COUNT; ++k) {
    if (bpf_map_lookup_elem(fd, &k, per_cpu.data()) != 0) continue;
    for (uint64_t v : per_cpu) out[k] += v;
  }
  return out;
}

const std::string& KernelOffload::description() const {
  return impl_->description;
}

std::vector<unsigned> KernelOffload::needed_capabilities() const {
  std::vector<unsigned> caps;
  const int fd = bpf_map__fd(impl_->skel->maps.tp_client_index);
  const bool map_ops_need_bpf = without_effective_capabilities([fd] {
    tp_client_key key{};
    uint32_t slot;
    return bpf_map_lookup_elem(fd, &key, &slot) != 0 && errno == EPERM;
  });
  if (map_ops_need_bpf) caps.push_back(kCapBpf);
  if (impl_->description.rfind("cls_bpf", 0) == 0) caps.push_back(CAP_NET_ADMIN);
  return caps;
}

}  // namespace turnpike::net
