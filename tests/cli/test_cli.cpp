// The command line end to end: bad input gets one clear message, a non-zero exit and no output
// file; good runs write their JSON and checkpoints; predict and inspect read them back.
#include <regex>

#include "cli/cli_test.hpp"
#include "rnnattn/checkpoint.hpp"
#include "rnnattn/trainer.hpp"

namespace {

using rnnattn::test::Cli;
using rnnattn::test::exists;
using rnnattn::test::kSun;
using rnnattn::test::Result;
using rnnattn::test::slurp;

// A learning rate that throws the model to a saturated output ends with results (the run is the
// user's), and a warning that names the constant output it does far worse than and the --lr used;
// a run that learns says nothing of it.
TEST_F(Cli, ARunWorseThanAConstantOutputIsSaidToBe) {
  const Result bad = run("train --data fib --epochs 2 --device cpu --lr 1e30");
  ASSERT_EQ(bad.code, 0) << bad.err;
  for (const char* part :
       {"warning: attention seed 1 ends with a train MSE of", "more than twice the",
        "of a constant output (the mean training target)", "diverged", "1e+30"}) {
    EXPECT_NE(bad.err.find(part), std::string::npos) << bad.err;
  }
  const Result good = run("train --data fib --epochs 3 --device cpu");
  ASSERT_EQ(good.code, 0) << good.err;
  EXPECT_EQ(good.err.find("constant output"), std::string::npos) << good.err;
}

TEST_F(Cli, BadInputIsRefusedClearly) {
  file("text.csv", "year,v\n1,1\n2,2\n3,abc\n4,4\n");
  expect_refused("train --data text.csv --column v --steps 2 --epochs 1",
                 {"text.csv:4:", "column 2", "'abc' is not a number"});
  file("empty_value.csv", "year,v\n1,1\n2,\n3,3\n");
  expect_refused("train --data empty_value.csv --steps 1", {"empty_value.csv:3:", "missing value"});
  file("nan.csv", "year,v\n1,1\n2,NaN\n3,3\n");
  // NaN is how pandas and spreadsheets write a missing value: one, by the --missing rule.
  expect_refused("train --data nan.csv --steps 1", {"nan.csv:3:", "missing value", "--missing"});
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
  expect_refused("train --data sentiment --loss cce --head sigmoid",
                 {"cce needs the softmax head"});
  expect_refused("train --head softmax", {"softmax head needs output_size (O) >= 2"});
  expect_refused("train --loss cce", {"--loss cce classifies texts"});
  expect_refused("train --recurrent-dropout 1", {"--recurrent-dropout must be in [0, 1)"});
  expect_refused("train --input-dropout -0.5", {"--input-dropout must be in [0, 1)"});
  expect_refused("train --compare", {"--save writes one model"});
  expect_refused("train --hidden", {"--hidden needs a value"});
  const Result r = run("frobnicate");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown command"), std::string::npos);
}

// Outputs are checked before training: not a directory, not an input, not another output, in a
// folder that exists; a refused run writes nothing and leaves every earlier file as it was.
TEST_F(Cli, OutputsAreCheckedBeforeTraining) {
  const std::string csv = "year,v\n1,1\n2,2\n3,4\n4,3\n5,5\n6,6\n7,8\n8,7\n";
  file("data.csv", csv);
  Result r = run("train --data data.csv --steps 2 --epochs 1 --json data.csv");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--json 'data.csv' is the --data input file"), std::string::npos) << r.err;
  EXPECT_EQ(slurp(dir_ + "/data.csv"), csv);  // the data survived

  r = run("train --epochs 1 --json same.out --save ./same.out");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--json and --save name the same file"), std::string::npos) << r.err;
  EXPECT_FALSE(exists(dir_ + "/same.out"));

  std::system(("mkdir -p '" + dir_ + "/sub'").c_str());
  // One rule for every output that cannot be written: bad usage, exit 2, no "error:".
  r = run("train --epochs 1 --json out.json --save sub");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err.find("error:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--save 'sub' is a directory"), std::string::npos) << r.err;
  EXPECT_FALSE(exists(dir_ + "/out.json"));

  r = run("train --epochs 1 --json out.json --save nowhere/m.bin");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err.find("error:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("the folder 'nowhere' does not exist"), std::string::npos) << r.err;
  EXPECT_FALSE(exists(dir_ + "/out.json"));
  // Refused before any work: no epoch ran.
  EXPECT_EQ(r.out.find("Epoch"), std::string::npos) << r.out;

  ASSERT_EQ(run("train --epochs 1 --save m.bin").code, 0);
  const std::string model = slurp(dir_ + "/m.bin");
  r = run("predict --model m.bin --data fib --json m.bin");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--json 'm.bin' is the --model input file"), std::string::npos) << r.err;
  EXPECT_EQ(slurp(dir_ + "/m.bin"), model);
}

TEST_F(Cli, DirectoriesAndShortSeriesAreNamedClearly) {
  std::system(("mkdir -p '" + dir_ + "/adir'").c_str());
  Result r = run("train --data adir");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("'adir' is a directory"), std::string::npos) << r.err;
  r = run("inspect --model adir");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("'adir' is a directory"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("truncated"), std::string::npos) << r.err;
  file("short.csv", "v\n1\n2\n3\n");
  r = run("train --data short.csv --steps 4");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("short.csv: series of 3 values is too short"), std::string::npos) << r.err;
  file("bom.csv", "\xEF\xBB\xBFYEAR,SUN\n1,1\n2,3\n3,2\n4,5\n5,4\n6,6\n7,5\n");
  r = run("train --data bom.csv --steps 2 --epochs 1 --json b.json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(slurp(dir_ + "/b.json").find("\"column\":\"SUN\""), std::string::npos);
}

TEST_F(Cli, BatchLargerThanTheTrainingSetIsSaid) {
  const Result r = run("train --epochs 1 --batch 5000 --device cpu");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("--batch 5000 is larger than the 826 training windows"), std::string::npos)
      << r.err;
  EXPECT_NE(r.out.find("Epoch 1/1 - 1/1 - loss"), std::string::npos) << r.out;
}

// A model trained on sunspots (values up to ~200) asked about Fibonacci numbers up to 1e250:
// a warning about the scaling, then an error (exit 1) rather than "test MSE inf".
TEST_F(Cli, PredictFarOutsideTheScalingIsAnError) {
  ASSERT_EQ(run("train --data " + kSun + " --epochs 1 --save sun.bin").code, 0);
  Result r = run("predict --model sun.bin --data fib --json p.json");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.err.find("warning: the data spans"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("far outside"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("inf"), std::string::npos) << r.out;
  EXPECT_FALSE(exists(dir_ + "/p.json"));
  // Moderately outside (the series times 3): a warning, and the predictions are printed.
  std::ifstream in(kSun);
  std::string line, scaled = "YEAR,SUNACTIVITY\n";
  std::getline(in, line);
  while (std::getline(in, line)) {
    const auto comma = line.find(',');
    scaled += line.substr(0, comma) + "," +
              std::to_string(3 * std::atof(line.c_str() + comma + 1)) + "\n";
  }
  file("sun3.csv", scaled);
  r = run("predict --model sun.bin --data sun3.csv");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("warning: the data spans"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("# test MSE"), std::string::npos) << r.out;
}

// Piped output is flushed line by line: a run killed in the middle still shows its epochs.
TEST_F(Cli, PipedOutputShowsEpochsOfAKilledRun) {
  const std::string cmd = std::string("cd '") + dir_ + "' && timeout -s KILL 4 '" + RNNATTN_CLI +
                          "' train --epochs 100000 --device cpu | cat > out.txt";
  std::system(cmd.c_str());
  const std::string out = slurp(dir_ + "/out.txt");
  EXPECT_NE(out.find("data: fib"), std::string::npos) << out;
  EXPECT_NE(out.find("Epoch 1/100000 - 826/826"), std::string::npos) << out;
}

// The library with TrainOptions::seed = S and the CLI's --seed S train the same model.
TEST_F(Cli, LibrarySeedMatchesTheCommandLine) {
  ASSERT_EQ(run("train --epochs 2 --seed 5 --device cpu --json r.json").code, 0);
  const std::string json = slurp(dir_ + "/r.json");
  const auto at = json.find("\"test_mse\":");
  ASSERT_NE(at, std::string::npos);
  const double cli_mse = std::atof(json.c_str() + at + 11);

  const rnnattn::SplitData d = rnnattn::fibonacci_data(20);
  rnnattn::Model m = rnnattn::make_model(rnnattn::ModelConfig{}, 5);
  auto be = rnnattn::make_backend(rnnattn::Device::kCpu);
  rnnattn::fit(*be, m, d.train, {.epochs = 2, .batch_size = 1, .seed = 5});
  const double lib_mse = rnnattn::mean_squared_error(rnnattn::predict(*be, m, d.test), d.test);
  EXPECT_EQ(cli_mse, lib_mse);
}

// --cell lstm|gru trains, saves (format version 8), inspects and predicts on the CPU; the CUDA
// paths refuse it by name before any work, and --resume takes the cell from the checkpoint.
TEST_F(Cli, GatedCellsTrainSaveAndPredict) {
  for (const std::string cell : {"lstm", "gru"}) {
    SCOPED_TRACE(cell);
    const Result t =
        run("train --cell " + cell +
            " --hidden 3 --epochs 2 --batch 32 --device cpu --save m.bin --json r.json");
    ASSERT_EQ(t.code, 0) << t.err;
    EXPECT_NE(t.out.find("cell=" + cell), std::string::npos) << t.out;
    const Result i = run("inspect --model m.bin");
    EXPECT_NE(i.out.find("format version " + std::to_string(rnnattn::kCheckpointVersion)),
              std::string::npos)
        << i.out;
    EXPECT_NE(i.out.find("cell=" + cell), std::string::npos) << i.out;
    EXPECT_NE(i.out.find(cell == "lstm" ? "Wx [1,12]" : "Wx [1,9]"), std::string::npos) << i.out;
    const Result p = run("predict --model m.bin --data fib --device cpu");
    EXPECT_EQ(p.code, 0) << p.err;
    const Result r = run("train --resume m.bin --epochs 3 --device cpu");
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("cell=" + cell), std::string::npos) << r.out;
    expect_refused("train --resume m.bin --epochs 4 --cell elman", {"drop --cell"});
  }
  expect_refused("train --cell lstn", {"unknown cell 'lstn' (expected elman, lstm or gru)"});
}

// --attention dot|dot-scaled (Keras' dot-product Attention) trains on the sentiment sequences,
// saves, inspects and predicts on the CPU, and --resume keeps it; the CUDA paths refuse it by name
// before any work, and so does --model plain.
TEST_F(Cli, DotProductAttentionTrainsSavesAndPredicts) {
  for (const std::string score : {"dot", "dot-scaled"}) {
    SCOPED_TRACE(score);
    const Result t = run("train --data sentiment --attention " + score +
                         " --cell lstm --bidirectional --hidden 3 --steps 12 --epochs 1 --batch 32"
                         " --train-sequences 64 --test-sequences 16 --device cpu --save m.bin");
    ASSERT_EQ(t.code, 0) << t.err;
    EXPECT_NE(t.out.find("score=" + score), std::string::npos) << t.out;
    const Result i = run("inspect --model m.bin --json");
    EXPECT_NE(i.out.find("\"attention\":\"" + score + "\""), std::string::npos) << i.out;
    EXPECT_EQ(i.out.find("\"wa\""), std::string::npos) << "no additive weights: " << i.out;
    const Result p = run("predict --model m.bin --data sentiment --attention --device cpu");
    EXPECT_EQ(p.code, 0) << p.err;
    const Result r = run("train --resume m.bin --epochs 2 --device cpu");
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("score=" + score), std::string::npos) << r.out;
  }
  expect_refused("train --attention dot --model plain", {"--attention applies to attention"});
  expect_refused("train --attention cosine",
                 {"unknown attention 'cosine' (expected additive, dot or dot-scaled)"});
}

// --seeds and --compare with several threads run their runs side by side (on the CPU one thread
// each; on the GPU a host thread, a stream and a cuBLAS handle each): the same
// lines and numbers, in the same order, as one run at a time.
class CliSideBySide : public Cli {
 protected:
  void expect_matches_one_at_a_time(const std::string& device);
};

void CliSideBySide::expect_matches_one_at_a_time(const std::string& device) {
  std::string args = "train --data fib --compare --seeds 3 --epochs 3 --hidden 12 --batch 32";
  args += " --verbose --device ";
  args += device;
  const Result one = run(args + " --threads 1 --json r.json");
  ASSERT_EQ(one.code, 0) << one.err;
  const std::string one_json = slurp(dir_ + "/r.json");
  const Result three = run(args + " --threads 3 --json r.json");
  ASSERT_EQ(three.code, 0) << three.err;
  // Every line but the timings (seconds at the end of result and epoch lines, "seconds" in JSON)
  // and the heartbeat lines ("Epoch 2/3 - 13/26 - loss: ... - running, 12s"), which a run writes
  // to a pipe when an epoch has taken heartbeat_seconds (10 s) so far: on a loaded machine the
  // simulator build's epochs can, in one of the two runs and not the other.
  const auto untimed = [](std::string text) {
    text = std::regex_replace(text, std::regex(R"(Epoch [^\n]* - running, [0-9]+s\n)"), "");
    text = std::regex_replace(text, std::regex(R"( - [0-9.]+s\n)"), "\n");
    text = std::regex_replace(text, std::regex(R"(  [0-9.]+s\n)"), "\n");
    return std::regex_replace(text, std::regex(R"("seconds":[0-9.e+-]+)"), "");
  };
  EXPECT_EQ(untimed(three.out), untimed(one.out));
  EXPECT_EQ(untimed(slurp(dir_ + "/r.json")), untimed(one_json));
  EXPECT_NE(one.out.find("Epoch 3/3"), std::string::npos) << one.out;
  EXPECT_NE(one.out.find("device: " + device), std::string::npos) << one.out;
  // The runs' lines come in order: attention seeds 1..3, then plain seeds 1..3.
  const std::size_t a3 = three.out.find("attention seed 3"),
                    p1 = three.out.find("plain     seed 1");
  ASSERT_NE(a3, std::string::npos) << three.out;
  ASSERT_NE(p1, std::string::npos) << three.out;
  EXPECT_LT(a3, p1);
}

TEST_F(CliSideBySide, CpuRunsMatchOneAtATime) { expect_matches_one_at_a_time("cpu"); }

// The same on the GPU (the simulator build runs the host threads' CUDA work one thread at a time,
// each run on its own stream): the tutorial's model trains its epochs in the small-model kernel.
TEST_F(CliSideBySide, GpuRunsMatchOneAtATime) {
  if (!rnnattn::cuda_backend_available()) GTEST_SKIP() << "no CUDA GPU on this machine";
  expect_matches_one_at_a_time("cuda");
}

// On a GPU (or in the simulator build), --device cuda and cuda-unfused train what the CPU trains,
// with each cell.
TEST_F(Cli, TrainsOnTheGpuLikeOnTheCpu) {
  if (!rnnattn::cuda_backend_available()) GTEST_SKIP() << "no CUDA GPU on this machine";
  for (const std::string cell : {"", " --cell lstm --hidden 5", " --cell gru --hidden 5"}) {
    SCOPED_TRACE(cell);
    auto test_mse = [&](const std::string& device) {
      const Result r = run("train --epochs 1 --seed 3" + cell + " --device " + device + " --json " +
                           device + ".json");
      EXPECT_EQ(r.code, 0) << r.err;
      EXPECT_NE(r.out.find("device: " + device), std::string::npos) << r.out;
      const std::string json = slurp(dir_ + "/" + device + ".json");
      const auto at = json.find("\"test_mse\":");
      return at == std::string::npos ? -1.0 : std::atof(json.c_str() + at + 11);
    };
    const double cpu = test_mse("cpu");
    ASSERT_GT(cpu, 0);
    EXPECT_NEAR(test_mse("cuda"), cpu, 1e-3 * cpu);
    EXPECT_NEAR(test_mse("cuda-unfused"), cpu, 1e-3 * cpu);
  }
}

// Keras-like training: a validation split, early stopping with the best weights kept, the history
// in the JSON, and the epoch kept in the table.
TEST_F(Cli, ValidationEarlyStoppingAndHistory) {
  const Result r = run("train --data " + kSun + " --hidden 4 --epochs 60 --lr 0.02 " +
                       "--validation-split 0.25 --early-stopping 3 --device cpu --json h.json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("152 train, 50 validation, 87 test"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" - val_loss: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("epoch kept (per seed)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("restored the weights of epoch"), std::string::npos) << r.out;
  const std::string json = slurp(dir_ + "/h.json");
  for (const char* key : {"\"history\":[{\"epoch\":1,\"loss\":", "\"val_loss\":", "\"best_epoch\":",
                          "\"stopped_early\":", "\"validation_windows\":50",
                          "\"test\":{\"label_name\":\"YEAR\",\"labels\":[\"1922\"",
                          "\"test_predictions\":[", "\"test_attention\":[["}) {
    EXPECT_NE(json.find(key), std::string::npos) << key << " missing";
  }
}

// A model run on another domain's series (the Fibonacci model on sunspots, inside its enormous
// scaling range, so no value is out of range) is said to be one; on its own data it is not.
TEST_F(Cli, OtherDataThanTheModelsIsSaidSo) {
  ASSERT_EQ(run("train --data fib --hidden 2 --epochs 1 --quiet --device cpu --save f.bin").code,
            0);
  Result r = run("predict --model f.bin --data " + kSun + " --device cpu");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("rnnattn predict: warning: the data's values span"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("it was trained on other data"), std::string::npos) << r.err;
  r = run("forecast --model f.bin --data " + kSun + " --horizon 2 --device cpu");
  EXPECT_NE(r.err.find("rnnattn forecast: warning: the data's values span"), std::string::npos)
      << r.err;
  r = run("predict --model f.bin --data fib --device cpu");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err.find("other data"), std::string::npos) << r.err;
}

// predict labels rows by the target's YEAR and prints values at the data's precision; forecast
// continues the YEAR column past the end.
TEST_F(Cli, PredictLabelsAndForecast) {
  ASSERT_EQ(run("train --data " + kSun + " --hidden 4 --epochs 2 --device cpu --save s.bin").code,
            0);
  Result r = run("predict --model s.bin --data " + kSun + " --device cpu");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("# YEAR  target  prediction"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\n1922  14.2  "), std::string::npos) << r.out;  // one decimal, as the file
  r = run("forecast --model s.bin --data " + kSun + " --horizon 3 --device cpu --json f.json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("3 steps past YEAR 2008"), std::string::npos) << r.out;
  for (const char* year : {"\n2009  ", "\n2010  ", "\n2011  "}) {
    EXPECT_NE(r.out.find(year), std::string::npos) << year << " in " << r.out;
  }
  EXPECT_NE(slurp(dir_ + "/f.json").find("\"label\":\"2011\""), std::string::npos);
  EXPECT_NE(run("forecast --model s.bin --data " + kSun).code, 0);  // no horizon
}

// Several features per step: --column takes a list, --target names the predicted column.
TEST_F(Cli, SeveralFeaturesPerStep) {
  std::string csv = "YEAR,SUN,LAG\n";
  std::ifstream in(kSun);
  std::string line, prev = "0";
  std::getline(in, line);
  while (std::getline(in, line)) {
    const std::string v = line.substr(line.find(',') + 1);
    csv += line.substr(0, line.find(',')) + "," + v + "," + prev + "\n";
    prev = v;
  }
  file("two.csv", csv);
  Result r = run("train --data two.csv --column SUN,LAG --epochs 2 --hidden 4 --device cpu");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("--target"), std::string::npos) << r.err;
  r =
      run("train --data two.csv --column SUN,LAG --target SUN --epochs 2 --hidden 4 --device cpu "
          "--save two.bin");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("inputs SUN LAG"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("D=2"), std::string::npos) << r.out;
  r = run("inspect --model two.bin");
  EXPECT_NE(r.out.find("input 2: LAG"), std::string::npos) << r.out;
  r = run("predict --model two.bin --data two.csv --device cpu");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("# test MSE"), std::string::npos) << r.out;
  r = run("forecast --model two.bin --data two.csv --horizon 2 --device cpu");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("only input is the column it predicts"), std::string::npos) << r.err;
}

// tools/plot.py draws the three pictures from a short run's JSON; none is blank.
TEST_F(Cli, PlotsFromTheJson) {
  if (std::system("python3 -c 'import matplotlib' > /dev/null 2>&1") != 0) {
    GTEST_FAIL() << "python3 cannot import matplotlib (tools/build.sh installs it)";
  }
  ASSERT_EQ(
      run("train --data " + kSun + " --compare --hidden 4 --epochs 3 --validation-split 0.2 " +
          "--device cpu --json p.json")
          .code,
      0);
  const std::string plot = std::string("cd '") + dir_ + "' && python3 '" + RNNATTN_SOURCE_DIR +
                           "/tools/plot.py' p.json pics > plot.txt 2>&1";
  ASSERT_EQ(std::system(plot.c_str()), 0) << slurp(dir_ + "/plot.txt");
  for (const char* png : {"loss.png", "predictions.png", "attention.png"}) {
    const std::string path = dir_ + "/pics/" + png;
    ASSERT_TRUE(exists(path)) << png;
    // Not blank: many distinct colours (a blank canvas has one).
    const std::string check =
        "python3 -c \"import matplotlib.image as m, numpy as n, sys; "
        "a = m.imread(sys.argv[1]); "
        "sys.exit(0 if len(n.unique(a.reshape(-1, a.shape[-1]), axis=0)) > 50 "
        "else 1)\" '" +
        path + "'";
    EXPECT_EQ(std::system(check.c_str()), 0) << png << " is blank";
  }
}

// A classifier's pictures suit classification: probabilities by true class, accuracy per epoch
// (not a line chart of 0/1 labels under "test RMSE").
TEST_F(Cli, ClassifierPlots) {
  if (std::system("python3 -c 'import matplotlib' > /dev/null 2>&1") != 0) {
    GTEST_FAIL() << "python3 cannot import matplotlib (tools/build.sh installs it)";
  }
  const Result r =
      run("train --data sentiment --steps 12 --train-sequences 60 --test-sequences 30 --hidden 3 "
          "--epochs 2 --batch 8 --validation-split 0.25 --device cpu --json s.json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("val_accuracy: "), std::string::npos) << r.out;
  const std::string json = slurp(dir_ + "/s.json");
  EXPECT_NE(json.find("\"task\":\"classification\""), std::string::npos);
  EXPECT_NE(json.find("\"val_accuracy\":"), std::string::npos);
  const std::string plot = std::string("cd '") + dir_ + "' && python3 '" + RNNATTN_SOURCE_DIR +
                           "/tools/plot.py' s.json pics > plot.txt 2>&1";
  ASSERT_EQ(std::system(plot.c_str()), 0) << slurp(dir_ + "/plot.txt");
  const std::string said = slurp(dir_ + "/plot.txt");
  EXPECT_NE(said.find("predictions.png: predicted probability by true class"), std::string::npos)
      << said;
  EXPECT_NE(said.find("loss.png: loss per epoch and validation accuracy per epoch"),
            std::string::npos)
      << said;
  EXPECT_TRUE(exists(dir_ + "/pics/predictions.png"));
}

// rnnattn profile: every kernel of a training step, with times (GPU) or counters (simulator).
TEST_F(Cli, ProfileListsEveryKernel) {
  if (!rnnattn::cuda_backend_available()) {
    const Result r = run("profile --batch 2 --steps 2 --input 1 --hidden 2");
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find(rnnattn::built_with_cuda() ? "no CUDA GPU"
                                                    : "this build of rnnattn has no CUDA"),
              std::string::npos)
        << r.err;
    return;
  }
  const Result r =
      run("profile --batch 4 --steps 3 --input 2 --hidden 8 --pass train --json p.json");
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string json = slurp(dir_ + "/p.json");
  for (const char* k : {"segment_forward_kernel<elman, head", "segment_backward_kernel<elman, head",
                        "transpose_kernel", "loss_kernel", "adam_kernel"}) {
    EXPECT_NE(r.out.find(k), std::string::npos) << k << " in " << r.out;
    EXPECT_NE(json.find(std::string("\"kernel\":\"") + k), std::string::npos)
        << k << " in " << json;
  }
#ifdef RNNATTN_GPU_SIMULATOR
  EXPECT_NE(json.find("\"global_load_efficiency\":"), std::string::npos) << json;
  EXPECT_NE(json.find("\"shared_wavefronts_per_request\":"), std::string::npos) << json;
  EXPECT_NE(json.find("\"shared_wavefronts_per_ideal\":"), std::string::npos) << json;
#else
  EXPECT_NE(json.find("\"ms\":"), std::string::npos) << json;
#endif
  EXPECT_EQ(run("profile --batch 4 --steps 3 --input 2").code, 2);  // no --hidden
}

// rnnattn profile --plan: the model's choice without running (and without a GPU); --recurrence
// forces a design, and a bad value is a usage error.
TEST_F(Cli, ProfilePlanAndRecurrence) {
  if (!rnnattn::built_with_cuda()) {  // a CPU-only build: no CUDA backend to plan for
    const Result r = run("profile --batch 1 --steps 20 --input 1 --hidden 2 --plan");
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("has no CUDA"), std::string::npos) << r.err;
    return;
  }
  const Result seed = run("profile --batch 1 --steps 20 --input 1 --hidden 2 --plan");
  ASSERT_EQ(seed.code, 0) << seed.err;
  EXPECT_NE(seed.out.find("plan: B=1 H=2"), std::string::npos) << seed.out;
  EXPECT_NE(seed.out.find(": segment (model: segment "), std::string::npos) << seed.out;
  const Result wide = run("profile --batch 32 --steps 100 --input 256 --hidden 1024 --plan");
  ASSERT_EQ(wide.code, 0) << wide.err;
  EXPECT_NE(wide.out.find(": persistent (model: segment "), std::string::npos) << wide.out;
  EXPECT_NE(wide.out.find("passes (model, T=100, D=256): forward "), std::string::npos) << wide.out;
  EXPECT_NE(wide.out.find(", training step "), std::string::npos) << wide.out;
  EXPECT_EQ(run("profile --batch 2 --steps 2 --input 1 --hidden 2 --recurrence fast").code, 2);
  // The gated cells: their segment kernels' prediction, Wh's place by the cell's G x H columns.
  const Result lstm =
      run("profile --batch 128 --steps 200 --input 100 --hidden 256 --cell lstm --plan");
  ASSERT_EQ(lstm.code, 0) << lstm.err;
  EXPECT_NE(lstm.out.find("plan: B=128 H=256 cell=lstm"), std::string::npos) << lstm.out;
  EXPECT_NE(lstm.out.find("segment, 4 columns of Wh a thread"), std::string::npos) << lstm.out;
  EXPECT_NE(lstm.out.find("in L2 in the forward, L2 in the backward"), std::string::npos)
      << lstm.out;
  const Result gru =
      run("profile --batch 64 --steps 100 --input 32 --hidden 128 --cell gru --plan");
  EXPECT_NE(gru.out.find("shared memory in the forward, shared memory in the backward"),
            std::string::npos)
      << gru.out;
  // A stacked Elman model's blocks may be forced onto the persistent kernels too.
  const Result stacked = run(
      "profile --batch 2 --steps 2 --input 1 --hidden 2 --layers 2 --recurrence persistent --plan");
  EXPECT_EQ(stacked.code, 0) << stacked.err;
  if (!rnnattn::cuda_backend_available()) return;
  const Result sp =
      run("profile --batch 3 --steps 2 --input 2 --hidden 8 --layers 2 --pass train --recurrence "
          "persistent");
  ASSERT_EQ(sp.code, 0) << sp.err;
  EXPECT_NE(sp.out.find("recurrence: persistent"), std::string::npos) << sp.out;
  for (const char* k : {"persistent_forward_kernel<elman>", "persistent_backward_kernel<elman>",
                        "attention_head_forward_kernel"}) {
    EXPECT_NE(sp.out.find(k), std::string::npos) << k << " in " << sp.out;
  }
  // A one-layer LSTM runs its head inside the recurrence's kernels, a bidirectional GRU the
  // block kernels and then the attention-and-head kernels.
  const Result g = run("profile --batch 3 --steps 2 --input 2 --hidden 8 --cell lstm --pass train");
  ASSERT_EQ(g.code, 0) << g.err;
  for (const char* k : {"segment_forward_kernel<lstm, head, Wh in smem>",
                        "segment_backward_kernel<lstm, head, Wh in smem>"}) {
    EXPECT_NE(g.out.find(k), std::string::npos) << k << " in " << g.out;
  }
  EXPECT_EQ(g.out.find("attention_head_"), std::string::npos) << g.out;
  const Result bi = run(
      "profile --batch 3 --steps 2 --input 2 --hidden 8 --cell gru --bidirectional --pass train");
  ASSERT_EQ(bi.code, 0) << bi.err;
  for (const char* k :
       {"segment_forward_kernel<gru, Wh in smem>", "segment_backward_kernel<gru, Wh in smem>",
        "attention_head_forward_kernel", "attention_head_backward_kernel"}) {
    EXPECT_NE(bi.out.find(k), std::string::npos) << k << " in " << bi.out;
  }
  // Forced, the gated persistent kernels, then the attention-and-head kernels.
  const Result gp =
      run("profile --batch 3 --steps 2 --input 2 --hidden 8 --cell gru --pass train --recurrence "
          "persistent");
  ASSERT_EQ(gp.code, 0) << gp.err;
  EXPECT_NE(gp.out.find("recurrence: persistent"), std::string::npos) << gp.out;
  for (const char* k : {"persistent_forward_kernel<gru>", "persistent_backward_kernel<gru>",
                        "attention_head_forward_kernel"}) {
    EXPECT_NE(gp.out.find(k), std::string::npos) << k << " in " << gp.out;
  }
  const Result r = run(
      "profile --batch 3 --steps 2 --input 2 --hidden 8 --pass backward --recurrence persistent");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("recurrence: persistent"), std::string::npos) << r.out;
  for (const char* k :
       {"persistent_forward_kernel<elman, head>", "persistent_backward_kernel<elman, head>"}) {
    EXPECT_NE(r.out.find(k), std::string::npos) << k << " in " << r.out;
  }
}

TEST_F(Cli, CudaWithoutGpuIsAClearError) {
  if (rnnattn::cuda_device_count() > 0) GTEST_SKIP() << "a GPU is present: --device cuda runs here";
  const Result r = run("train --device cuda --epochs 1 --json out.json");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("device cuda"), std::string::npos) << r.err;
  EXPECT_FALSE(exists(dir_ + "/out.json"));
}

TEST_F(Cli, HelpOnEverySubcommand) {
  for (const char* c : {"train", "predict", "forecast", "inspect", "export", "import"}) {
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
  EXPECT_NE(r.out.find("train_mean (baseline)"), std::string::npos) << r.out;
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

// train --resume: N epochs saved, then resumed to N + M, writes the very checkpoint of one
// N + M-epoch run (weights, Adam state, epoch count and record alike), on the three kinds of data;
// options that contradict the checkpoint are refused.
TEST_F(Cli, ResumeGivesTheBitsOfOneRun) {
  const std::vector<std::pair<std::string, std::string>> runs = {
      {"--data fib --seed 5 --batch 7 --validation-split 0.2", "3"},
      {"--data " + kSun + " --hidden 3 --steps 9 --batch 16 --seed 2", "1"},
      {"--data sentiment --steps 12 --train-sequences 40 --test-sequences 20 --hidden 3 --batch 8",
       "2"},
      // the notebook's head: dot-product attention and dropout, whose masks follow the steps
      {"--data sentiment --steps 12 --train-sequences 40 --test-sequences 20 --hidden 3 --batch 8"
       " --attention dot --dropout 0.5",
       "1"},
      // the recurrent layers' dropout (Keras' LSTM(dropout=, recurrent_dropout=)) too
      {"--data sentiment --steps 12 --train-sequences 40 --test-sequences 20 --hidden 3 --batch 8"
       " --cell lstm --bidirectional --input-dropout 0.3 --recurrent-dropout 0.4",
       "2"}};
  for (const auto& [options, first] : runs) {
    SCOPED_TRACE(options);
    Result r =
        run("train " + options + " --quiet --device cpu --epochs " + first + " --save a.bin");
    ASSERT_EQ(r.code, 0) << r.err;
    r = run("train " + options + " --quiet --device cpu --epochs 4 --save whole.bin");
    ASSERT_EQ(r.code, 0) << r.err;
    r = run("train --resume a.bin --epochs 4 --device cpu --json resumed.json --save a.bin");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("resumed: a.bin after " + first + " epochs"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("Epoch 4/4"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("Epoch 1/4"), std::string::npos) << r.out;
    const std::string resumed = slurp(dir_ + "/a.bin"), whole = slurp(dir_ + "/whole.bin");
    EXPECT_FALSE(resumed.empty());
    EXPECT_TRUE(resumed == whole) << "the resumed run's checkpoint differs from one run's";
    EXPECT_NE(slurp(dir_ + "/resumed.json").find("\"initial_epoch\":" + first), std::string::npos);
  }
  for (const char* extra : {"--hidden 4", "--seed 5", "--lr 0.01", "--column X"}) {
    expect_refused(std::string("train --resume whole.bin --epochs 9 ") + extra, {"drop"});
  }
  // Other data under a resumed run: refused, as the model's other settings are.
  expect_refused("train --resume whole.bin --epochs 9 --data " + kSun,
                 {"--data: with --resume the data come from the checkpoint", "drop --data"});
  expect_refused("train --resume whole.bin --epochs 9 --data fib", {"drop --data"});
  expect_refused("train --resume whole.bin", {"--resume needs --epochs"});
  expect_refused("train --resume whole.bin --epochs 4", {"already trained 4 epochs"});
  expect_refused("train --resume missing.bin --epochs 9", {"missing.bin"});
  const Result r = run("train --resume whole.bin --epochs 9 --json whole.bin");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("the --resume checkpoint"), std::string::npos) << r.err;
  EXPECT_EQ(slurp(dir_ + "/whole.bin").substr(0, 7), "RNNATTN");
}

// A CSV changed since the checkpoint's model was trained on it (one digit, so the same size; or a
// row more) is refused by name on --resume; the file as it was resumes.
TEST_F(Cli, ResumeRefusesAChangedDataFile) {
  const std::string original = slurp(kSun);
  file("series.csv", original);
  Result r =
      run("train --data series.csv --hidden 2 --steps 5 --epochs 1 --quiet --device cpu "
          "--save c.bin");
  ASSERT_EQ(r.code, 0) << r.err;
  std::string edited = original;
  const std::size_t digit = edited.find_first_of("123456789", edited.find('\n', 200));
  edited[digit] = edited[digit] == '9' ? '8' : static_cast<char>(edited[digit] + 1);
  for (const std::string& changed : {edited, original + "2009,3.1\n"}) {
    file("series.csv", changed);
    expect_refused("train --resume c.bin --epochs 2 --device cpu",
                   {"series.csv has changed since the model in c.bin was trained on it",
                    std::to_string(original.size()) + " bytes then", "without --resume"});
  }
  file("series.csv", original);
  r = run("train --resume c.bin --epochs 2 --device cpu --quiet");
  EXPECT_EQ(r.code, 0) << r.err;
}

// export / import: a trained model through safetensors and back predicts the same numbers;
// bad invocations are refused before anything is written.
TEST_F(Cli, ExportImportPredictsTheSame) {
  Result r = run("train --data " + kSun + " --epochs 1 --hidden 3 --steps 6 --quiet --save m.bin");
  ASSERT_EQ(r.code, 0) << r.err;
  r = run("export --model m.bin --output m.safetensors");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("wrote m.safetensors"), std::string::npos) << r.out;
  r = run("import --input m.safetensors --save back.bin");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("trained on " + kSun), std::string::npos) << r.out;
  const Result a = run("predict --model m.bin --data " + kSun);
  const Result b = run("predict --model back.bin --data " + kSun);
  ASSERT_EQ(a.code, 0) << a.err;
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_GT(std::count(a.out.begin(), a.out.end(), '\n'), 50);

  r = run("export --model m.bin --output m.bin");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("would destroy the input"), std::string::npos) << r.err;
  r = run("export --model m.bin --output x.onnx --format onnx");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--format must be safetensors"), std::string::npos) << r.err;
  EXPECT_FALSE(exists(dir_ + "/x.onnx"));
  file("bad.safetensors", "not a safetensors file at all");
  r = run("import --input bad.safetensors --save bad.bin");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("bad.safetensors: the header length"), std::string::npos) << r.err;
  EXPECT_FALSE(exists(dir_ + "/bad.bin"));
  r = run("import --input m.safetensors --save x.bin --head linear");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("records its head, tanh"), std::string::npos) << r.err;
}

// A model saved without its data (as the Python API's Model.save() without data saves one) goes
// through export and import; import says what the file lacks (a data source), not that it has no
// rnnattn metadata (it has).
TEST_F(Cli, ImportSaysWhatTheFileLacks) {
  rnnattn::Checkpoint ck;
  ck.model = rnnattn::make_model(rnnattn::ModelConfig{}, 1);
  rnnattn::save_checkpoint(dir_ + "/nodata.bin", ck);
  ASSERT_EQ(run("export --model nodata.bin --output nodata.safetensors").code, 0);
  const Result r = run("import --input nodata.safetensors --save back.bin");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("(no data source recorded; scaling [0.00e+00, 1.00e+00])"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("no rnnattn metadata"), std::string::npos) << r.out;
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
  EXPECT_NE(json.find("\"baselines\":[{\"name\":\"persistence\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"name\":\"train_mean\""), std::string::npos) << json;
  EXPECT_NE(r.out.find("train_mean (baseline)"), std::string::npos) << r.out;
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

namespace {

// The sentiment task from the command line: the three models of --compare, accuracy in the table
// and the JSON, the structure in the checkpoint, predict on it, and what does not apply refused.
TEST_F(Cli, SentimentCompareReportsAccuracy) {
  const Result r =
      run("train --data sentiment --steps 24 --hidden 3 --epochs 2 --batch 8 --train-sequences 30 "
          "--test-sequences 11 --compare --device cpu --json s.json");
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* want :
       {"41 windows of T=24 (30 train, 11 test, generated, lengths 7..24)", "| plain | 1 |",
        "| attention | 1 |", "| bi-attention | 1 |", "| bi-lstm-attn | 1 |",
        "loss=bce bidirectional cell=lstm", "test accuracy min / median / max",
        "| majority class (baseline) |", "loss=bce bidirectional"}) {
    EXPECT_NE(r.out.find(want), std::string::npos) << want << " missing from:\n" << r.out;
  }
  const std::string json = slurp(dir_ + "/s.json");
  for (const char* key : {"\"train_accuracy\":", "\"test_accuracy\":", "\"test_loss\":",
                          "\"bidirectional\":false", "\"layers\":1"}) {
    EXPECT_NE(json.find(key), std::string::npos) << key << " missing";
  }
  const Result t =
      run("train --data sentiment --steps 16 --hidden 2 --epochs 1 --train-sequences 10 "
          "--test-sequences 5 --layers 2 --bidirectional --device cpu --save m.bin");
  ASSERT_EQ(t.code, 0) << t.err;
  const Result i = run("inspect --model m.bin");
  EXPECT_NE(i.out.find("layers=2 bidirectional"), std::string::npos) << i.out;
  EXPECT_NE(i.out.find("l1.rev.Wx"), std::string::npos) << i.out;
  const Result p = run("predict --model m.bin --data sentiment --attention --device cpu");
  EXPECT_EQ(p.code, 0) << p.err;
  const Result f = run("forecast --model m.bin --data sentiment --horizon 3");
  EXPECT_NE(f.code, 0);
  EXPECT_NE(f.err.find("labelled sequences"), std::string::npos) << f.err;
  expect_refused("train --data fib --train-sequences 5", {"apply to --data sentiment"});
  expect_refused("train --data fib --loss bce --head sigmoid", {"not 0/1"});
}

}  // namespace
