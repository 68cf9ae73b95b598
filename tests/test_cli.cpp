// The command line end to end: bad input gets one clear message, a non-zero exit and no output
// file; good runs write their JSON and checkpoints; predict and inspect read them back.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include "rnnattn/backend.hpp"

#ifndef RNNATTN_CLI
#define RNNATTN_CLI ""
#endif

namespace {

struct Result {
  int code;
  std::string out, err;
};

std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
bool exists(const std::string& p) { return std::ifstream(p).good(); }

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string(RNNATTN_CLI).empty()) GTEST_SKIP() << "the CLI was not built";
    dir_ = ::testing::TempDir() + "rnnattn_cli_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::system(("rm -rf '" + dir_ + "' && mkdir -p '" + dir_ + "'").c_str());
  }
  void TearDown() override {
    if (!dir_.empty()) std::system(("rm -rf '" + dir_ + "'").c_str());
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
  std::string dir_;
};

const std::string kSun = std::string(RNNATTN_SOURCE_DIR) + "/data/sunspots.csv";

TEST_F(Cli, BadInputIsRefusedClearly) {
  file("text.csv", "year,v\n1,1\n2,2\n3,abc\n4,4\n");
  expect_refused("train --data text.csv --column v --steps 2 --epochs 1",
                 {"text.csv:4:", "column 2", "'abc' is not a number"});
  file("empty_value.csv", "year,v\n1,1\n2,\n3,3\n");
  expect_refused("train --data empty_value.csv --steps 1", {"empty_value.csv:3:", "missing value"});
  file("nan.csv", "year,v\n1,1\n2,NaN\n3,3\n");
  expect_refused("train --data nan.csv --steps 1", {"nan.csv:3:", "not a finite number"});
  file("inf.csv", "year,v\n1,1\n2,-inf\n3,3\n");
  expect_refused("train --data inf.csv --steps 1", {"inf.csv:3:", "not a finite number"});
  file("ragged.csv", "year,v\n1,1\n2\n3,3\n");
  expect_refused("train --data ragged.csv --steps 1", {"ragged.csv:3:", "ragged row"});
  file("empty.csv", "");
  expect_refused("train --data empty.csv", {"empty.csv", "empty"});
  expect_refused("train --data " + kSun + " --column SPOTS", {"no column named 'SPOTS'"});
  file("short.csv", "v\n1\n2\n3\n4\n5\n");
  expect_refused("train --data short.csv --steps 4", {"too short", "T + 2 = 6"});
  expect_refused("train --data missing.csv", {"cannot open 'missing.csv'"});
  expect_refused("train --hidden 0", {"--hidden", "got 0"});
  expect_refused("train --lr -0.01", {"--lr", "positive"});
  expect_refused("train --lr abc", {"--lr", "'abc'"});
  expect_refused("train --epochs 3x", {"--epochs", "integer"});
  expect_refused("train --frobnicate 3", {"unknown option '--frobnicate'"});
  expect_refused("train --device tpu", {"unknown device 'tpu'"});
  expect_refused("train --head relu", {"unknown head activation 'relu'"});
  expect_refused("train --model lstm", {"--model", "'lstm'"});
  expect_refused("train --loss bce", {"bce needs the sigmoid head"});
  expect_refused("train --compare", {"--save writes one model"});
  expect_refused("train --hidden", {"--hidden needs a value"});
  const Result r = run("frobnicate");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown command"), std::string::npos);
}

TEST_F(Cli, CudaWithoutGpuIsAClearError) {
  if (rnnattn::cuda_device_count() > 0) GTEST_SKIP() << "a GPU is present: --device cuda runs here";
  const Result r = run("train --device cuda --epochs 1 --json out.json");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("device cuda"), std::string::npos) << r.err;
  EXPECT_FALSE(exists(dir_ + "/out.json"));
}

TEST_F(Cli, HelpOnEverySubcommand) {
  for (const char* c : {"train", "predict", "inspect"}) {
    const Result r = run(std::string(c) + " --help");
    EXPECT_EQ(r.code, 0) << c;
    EXPECT_NE(r.out.find(std::string("usage: rnnattn ") + c), std::string::npos) << r.out;
  }
  EXPECT_EQ(run("--help").code, 0);
}

TEST_F(Cli, TrainPredictInspectRoundTrip) {
  Result r = run("train --data fib --epochs 2 --device cpu --seed 3 --json run.json --save m.bin");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("device: cpu"), std::string::npos);
  EXPECT_NE(r.out.find("Epoch 2/2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("predict_zero (baseline)"), std::string::npos) << r.out;
  const std::string json = slurp(dir_ + "/run.json");
  for (const char* key :
       {"\"data\":\"fib\"", "\"device\":\"cpu\"", "\"runs\":[", "\"model\":\"attention\"",
        "\"seed\":3", "\"epochs\":2", "\"train_mse\":", "\"test_mse\":", "\"test_rmse\":",
        "\"seconds\":", "\"baselines\":", "\"predict_zero\""}) {
    EXPECT_NE(json.find(key), std::string::npos) << key << " missing in " << json;
  }

  r = run("inspect --model m.bin");
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* s : {"attention D=1 H=2 T=20 O=1", "33 parameters", "Wx [1,2]", "Wh [2,2]",
                        "ba [20,1]", "bd [1,1]", "2 epochs", "1652 Adam steps"}) {
    EXPECT_NE(r.out.find(s), std::string::npos) << s << " missing in " << r.out;
  }
  r = run("inspect --model m.bin --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("\"parameters\":33"), std::string::npos) << r.out;

  r = run("predict --model m.bin --data fib --attention --json pred.json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("test windows of fib (354)"), std::string::npos) << r.out;
  EXPECT_NE(slurp(dir_ + "/pred.json").find("\"attention\":["), std::string::npos);
  // The test MSE predict reports is the one train reported.
  const auto tm = json.find("\"test_mse\":");
  const double train_said = std::atof(json.c_str() + tm + 11);
  const auto pm = r.out.find("# test MSE ");
  ASSERT_NE(pm, std::string::npos);
  EXPECT_NEAR(std::atof(r.out.c_str() + pm + 11), train_said, 0.01 * train_said);
}

TEST_F(Cli, CompareOnACsvSeries) {
  const Result r =
      run("train --data " + kSun + " --compare --seeds 2 --epochs 2 --hidden 4 --json c.json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("| attention | 2 |"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| plain | 2 |"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("persistence (baseline)"), std::string::npos) << r.out;
  const std::string json = slurp(dir_ + "/c.json");
  EXPECT_NE(json.find("\"column\":\"SUNACTIVITY\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"persistence\""), std::string::npos);
}

TEST_F(Cli, BadCheckpointsAreRefused) {
  file("junk.bin", "definitely not a model");
  Result r = run("inspect --model junk.bin");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("not an rnnattn checkpoint"), std::string::npos) << r.err;
  r = run("predict --model nothere.bin --data fib");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("nothere.bin"), std::string::npos) << r.err;
  ASSERT_EQ(run("train --epochs 1 --save m.bin").code, 0);
  const std::string good = slurp(dir_ + "/m.bin");
  file("cut.bin", good.substr(0, good.size() / 2));
  r = run("predict --model cut.bin --data fib --json p.json");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("truncated"), std::string::npos) << r.err;
  EXPECT_FALSE(exists(dir_ + "/p.json"));
  // A failed run leaves the earlier model intact.
  EXPECT_NE(run("train --epochs 1 --hidden 0 --save m.bin").code, 0);
  EXPECT_EQ(slurp(dir_ + "/m.bin"), good);
}

}  // namespace
