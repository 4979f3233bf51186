// turnpike.conf(5) documents every option the parser knows, and nothing it does not; --help
// lists every option that is not obsolete. An option added to the table without its man page
// entry fails here (server/man/turnpike.conf.5: one ".TP" entry per option).
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <regex>
#include <set>
#include <string>
#include <string_view>

#include "config/config_parser.h"
#include "config/options.h"

namespace turnpike::config {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// roff writes '-' as "\-" so that it prints as a hyphen-minus.
std::string roff_name(std::string_view name) {
  std::string s;
  for (char c : name) {
    if (c == '-') s += '\\';
    s += c;
  }
  return s;
}

// The names of the man page's option entries: a ".TP" line followed by "\fBname\fR".
std::set<std::string> documented_options(const std::string& page) {
  std::set<std::string> names;
  static const std::regex entry(R"(\n\.TP\n\\fB([A-Za-z0-9_\\-]+)\\fR)");
  for (auto it = std::sregex_iterator(page.begin(), page.end(), entry); it != std::sregex_iterator();
       ++it) {
    std::string name;
    for (char c : (*it)[1].str()) {
      if (c != '\\') name += c;
    }
    names.insert(name);
  }
  return names;
}

const std::string kPage = TURNPIKE_SOURCE_DIR "/server/man/turnpike.conf.5";

TEST(ManPage, EveryOptionIsDocumented) {
  const std::string page = read_file(kPage);
  ASSERT_FALSE(page.empty()) << kPage;
  const std::set<std::string> documented = documented_options(page);
  const OptionTable table = option_table();
  size_t options = 0;
  for (const OptionSpec* o = table.begin; o != table.end; ++o, ++options) {
    const std::string name(o->name);
    EXPECT_TRUE(documented.count(name))
        << "option '" << name << "' has no entry in " << kPage << ": add\n.TP\n\\fB"
        << roff_name(name) << "\\fR" << (o->kind == OptionKind::Value ? "=\\fIVALUE\\fR" : "")
        << "\n" << o->help << "\nin its section";
  }
  EXPECT_GT(options, 50u);
}

TEST(ManPage, DocumentsNoOptionTheParserDoesNotKnow) {
  for (const std::string& name : documented_options(read_file(kPage))) {
    EXPECT_NE(find_option(name), nullptr)
        << kPage << " documents '" << name << "', which turnpike does not accept";
  }
}

TEST(ManPage, HelpListsEveryOptionThatIsNotObsolete) {
  const std::string help = options_help();
  const OptionTable table = option_table();
  for (const OptionSpec* o = table.begin; o != table.end; ++o) {
    const std::string flag = "  --" + std::string(o->name) +
                             (o->kind == OptionKind::Value ? "=VALUE" : " ");
    if (o->obsolete) {
      EXPECT_EQ(help.find(flag), std::string::npos) << o->name << " is obsolete";
    } else {
      EXPECT_NE(help.find(flag), std::string::npos) << "--help does not list " << o->name;
    }
  }
}

}  // namespace
}  // namespace turnpike::config
