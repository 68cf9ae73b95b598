// The command-line tests' fixture: runs the rnnattn binary in a fresh scratch folder and
// captures its exit status, stdout and stderr (test_cli.cpp, test_cli_results.cpp).
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include "rnnattn/rnnattn.hpp"
#include "test_util.hpp"

#ifndef RNNATTN_CLI
#define RNNATTN_CLI ""
#endif

namespace rnnattn::test {

struct Result {
  int code;
  std::string out, err;
};

inline bool exists(const std::string& p) { return std::ifstream(p).good(); }

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string(RNNATTN_CLI).empty()) GTEST_SKIP() << "the CLI was not built";
    scratch_ = std::make_unique<rnnattn::test::ScratchDir>("rnnattn_cli");
    dir_ = scratch_->path();
  }
  Result run(const std::string& args) {
    const std::string cmd =
        std::string("cd '") + dir_ + "' && '" + RNNATTN_CLI + "' " + args + " > out.txt 2> err.txt";
    const int status = std::system(cmd.c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(dir_ + "/out.txt"),
            slurp(dir_ + "/err.txt")};
  }
  std::string file(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/" + name) << text;
    return name;
  }
  // A bad invocation: non-zero exit, every fragment in stderr, no --json / --save file written.
  void expect_refused(const std::string& args, const std::vector<std::string>& fragments) {
    SCOPED_TRACE(args);
    const Result r = run(args + " --json out.json --save model.bin");
    EXPECT_NE(r.code, 0);
    for (const auto& f : fragments) {
      EXPECT_NE(r.err.find(f), std::string::npos) << "stderr: " << r.err << "\nlacks: " << f;
    }
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one message: " << r.err;
    EXPECT_FALSE(exists(dir_ + "/out.json"));
    EXPECT_FALSE(exists(dir_ + "/model.bin"));
  }
  std::unique_ptr<rnnattn::test::ScratchDir> scratch_;
  std::string dir_;
};

inline const std::string kSun = std::string(RNNATTN_SOURCE_DIR) + "/data/sunspots.csv";

}  // namespace rnnattn::test
