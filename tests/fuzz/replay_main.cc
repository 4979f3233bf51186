// Replays every file of a corpus directory through a libFuzzer entry point, for compilers
// without libFuzzer and for `make test`. Also feeds each file's every prefix, which covers the
// truncation cases that matter most for wire parsers.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  size_t files = 0;
  for (int i = 1; i < argc; ++i) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(argv[i])) {
      if (!entry.is_regular_file()) continue;
      std::ifstream in(entry.path(), std::ios::binary);
      std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                 std::istreambuf_iterator<char>());
      for (size_t n = 0; n <= bytes.size(); ++n) LLVMFuzzerTestOneInput(bytes.data(), n);
      ++files;
    }
  }
  std::printf("replayed %zu corpus files (every prefix of each)\n", files);
  return files > 0 ? 0 : 1;
}
