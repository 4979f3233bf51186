// A callable held by value that can only be moved (C++23's std::move_only_function, which GCC 12
// lacks): a job posted to another thread may then carry what it hands over by value, such as a
// client connection moving to the worker that owns its CONNECTION-ID (its stream object: socket,
// TLS session and buffers), instead of copies of its bytes behind a shared_ptr, which
// std::function's copyable callables require.
#pragma once

#include <memory>
#include <type_traits>
#include <utility>

namespace turnpike::net {

template <typename Signature>
class UniqueFunction;

template <typename... Args>
class UniqueFunction<void(Args...)> {
 public:
  UniqueFunction() = default;
  template <typename F>
  requires(!std::is_same_v<std::decay_t<F>, UniqueFunction> &&
           std::is_invocable_v<std::decay_t<F>&, Args...>)
      UniqueFunction(F f)  // NOLINT: implicit, as std::function's
      : impl_(std::make_unique<Holder<std::decay_t<F>>>(std::move(f))) {}

  UniqueFunction(UniqueFunction&&) noexcept = default;
  UniqueFunction& operator=(UniqueFunction&&) noexcept = default;
  UniqueFunction(const UniqueFunction&) = delete;
  UniqueFunction& operator=(const UniqueFunction&) = delete;

  explicit operator bool() const { return impl_ != nullptr; }
  void operator()(Args... args) { impl_->call(std::forward<Args>(args)...); }

 private:
  struct Callable {
    virtual ~Callable() = default;
    virtual void call(Args... args) = 0;
  };
  template <typename F>
  struct Holder final : Callable {
    explicit Holder(F g) : f(std::move(g)) {}
    void call(Args... args) override { f(std::forward<Args>(args)...); }
    F f;
  };
  std::unique_ptr<Callable> impl_;
};

}  // namespace turnpike::net
