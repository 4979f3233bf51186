// exposed_secret_files(): a config or key holding a secret that every user can read is named,
// with the command that fixes it; one readable only by owner and group is not.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "config/config_parser.h"
#include "config/secret_files.h"

namespace turnpike::config {
namespace {

class SecretFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/turnpike-secret-files-XXXXXX";
    ASSERT_TRUE(mkdtemp(tmpl));
    dir = tmpl;
  }
  void TearDown() override {
    for (const auto& f : files) ::unlink(f.c_str());
    ::rmdir(dir.c_str());
  }
  std::string write(const std::string& name, const std::string& text, mode_t mode) {
    const std::string path = dir + "/" + name;
    std::ofstream(path) << text;
    ::chmod(path.c_str(), mode);
    files.push_back(path);
    return path;
  }
  Config load(const std::string& path) {
    Config c;
    auto e = parse_config_file(path, c);
    EXPECT_FALSE(e) << e->to_string();
    return c;
  }
  std::string dir;
  std::vector<std::string> files;
};

TEST_F(SecretFiles, AWorldReadableSecretIsNamed) {
  const std::string key = write("key.pem", "-----BEGIN PRIVATE KEY-----\n", 0644);
  const std::string conf =
      write("t.conf", "use-auth-secret\nstatic-auth-secret=s\ncert=" + key + "\n", 0644);
  const auto w = exposed_secret_files(load(conf));
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0], conf + " holds the static-auth-secret secret and every user of this host can "
                         "read it (mode 0644): run chmod o-rwx " + conf +
                      " (turnpike and Prosody read it through the group)");
  EXPECT_NE(w[1].find(key + " holds the TLS private key"), std::string::npos) << w[1];
}

TEST_F(SecretFiles, OwnerAndGroupOnlyIsFine) {
  const std::string conf = write("t.conf", "use-auth-secret\nstatic-auth-secret=s\n", 0640);
  EXPECT_TRUE(exposed_secret_files(load(conf)).empty());
  // A readable config without any secret in it is fine too.
  const std::string open = write("open.conf", "user=a:b\n", 0600);
  EXPECT_TRUE(exposed_secret_files(load(open)).empty());
}

}  // namespace
}  // namespace turnpike::config
