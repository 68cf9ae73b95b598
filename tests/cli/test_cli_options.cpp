// The command line's option table (host/cli/options.cpp): each option declared once per command,
// the help generated from it, train's --resume conflicts taken from it, and the parser refusing
// what the table does not declare or declares once.
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "cli/cli_test.hpp"
#include "cli/options.hpp"

namespace rnnattn::cli {
namespace {

constexpr Command kCommands[] = {kTrain, kPredict, kForecast, kProfile, kInspect, kExport, kImport};

TEST(CliOptions, EachOptionIsDeclaredOncePerCommand) {
  for (Command c : kCommands) {
    SCOPED_TRACE(command_name(c));
    std::set<std::string> seen;
    for (const Option& o : options()) {
      if (!(o.commands & c)) continue;
      EXPECT_TRUE(seen.insert(o.name).second) << o.name << " declared twice";
      EXPECT_EQ(std::string(o.name).rfind("--", 0), 0u) << o.name;
      EXPECT_GT(std::string(o.help).size(), 2u) << o.name;
      EXPECT_LE(o.lo, o.hi) << o.name;
      if (o.lo != o.hi) {
        EXPECT_NE(o.value, nullptr) << o.name << ": an integer flag";
      }
      if (o.on_resume != OnResume::kAllowed) {
        EXPECT_EQ(c, kTrain) << o.name;
      }
    }
    EXPECT_FALSE(seen.empty());
  }
}

// The help lists every option the command takes, within 100 columns.
TEST(CliOptions, HelpIsGeneratedFromTheTable) {
  for (Command c : kCommands) {
    SCOPED_TRACE(command_name(c));
    const std::string help = help_text(c);
    EXPECT_EQ(help.rfind(std::string("usage: rnnattn ") + command_name(c), 0), 0u) << help;
    for (const Option& o : options()) {
      if (!(o.commands & c)) continue;
      const std::string head = std::string("\n  ") + o.name + (o.value ? " " : "");
      EXPECT_NE(help.find(head), std::string::npos) << o.name;
    }
    std::istringstream lines(help);
    for (std::string line; std::getline(lines, line);) EXPECT_LE(line.size(), 100u) << line;
  }
}

using rnnattn::test::Cli;

// Every option the table marks as the checkpoint's is refused with --resume, by name.
TEST_F(Cli, ResumeRefusesEachOptionTheCheckpointHolds) {
  for (const Option& o : options()) {
    if (!(o.commands & kTrain) || o.on_resume != OnResume::kFromCheckpoint) continue;
    expect_refused(
        std::string("train --resume none.bin --epochs 9 ") + o.name + (o.value ? " 1" : ""),
        {std::string(o.name) + ": with --resume", std::string("drop ") + o.name});
  }
}

// Every option the table marks as the texts' is refused for a series, and every option marked as
// the series' for texts, by name.
TEST_F(Cli, OptionsForOtherDataAreRefusedByTheirMarks) {
  file("texts.csv", "text,label\ngood film,pos\nbad film,neg\nfine,pos\nawful,neg\n");
  const std::string texts = "train --data texts.csv --text-column text --label-column label ";
  int marked = 0;
  for (const Option& o : options()) {
    if (!(o.commands & kTrain) || o.applies_to == AppliesTo::kAny) continue;
    ++marked;
    const std::string value = o.value ? " 1" : "";
    if (o.applies_to == AppliesTo::kTexts) {
      expect_refused(std::string("train --data fib ") + o.name + value,
                     {std::string(o.name) + " applies to texts"});
    } else {
      expect_refused(texts + o.name + value, {std::string(o.name) + " applies to CSV series"});
    }
  }
  EXPECT_EQ(marked, 12);
}

TEST_F(Cli, AnOptionGivenTwiceIsRefused) {
  expect_refused("train --epochs 3 --epochs 4", {"--epochs is given twice"});
  expect_refused("train --quiet --quiet", {"--quiet is given twice"});
  expect_refused("predict --model a.bin --model b.bin", {"--model is given twice"});
  expect_refused("train --batch 0", {"--batch must be in [1, 16777216], got 0"});
}

}  // namespace
}  // namespace rnnattn::cli
