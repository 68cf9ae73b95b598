// The command line's options, declared once (internal): one table row per option and meaning,
// naming the commands that take it, its value, its help, its integer range and what --resume
// makes of it. Each command's help text, the parser's vocabulary, the range checks and train's
// --resume conflicts are generated from it (options.cpp), so an option is spelled in one place.
#pragma once

#include <string>
#include <vector>

namespace rnnattn::cli {

// The commands, as bits: a row names the commands that take its option with its meaning.
enum Command : unsigned {
  kTrain = 1,
  kPredict = 2,
  kForecast = 4,
  kProfile = 8,
  kInspect = 16,
  kExport = 32,
  kImport = 64,
};
const char* command_name(Command c);

// What `train --resume` makes of an option.
enum class OnResume {
  kAllowed,
  // The option describes the model or its data, which come from the checkpoint: refused.
  kFromCheckpoint,
  // The run's seed, batch size and validation split: refused where the checkpoint records them,
  // needed (seed and batch) where it does not.
  kFromRecord,
};

// The data an option of train's applies to: any, labelled texts only (--text-column), or CSV
// series only (not texts); train refuses it, by name, for other data.
enum class AppliesTo { kAny, kTexts, kSeries };

struct Option {
  const char* name;     // "--batch"
  unsigned commands;    // the Command bits that take it with this meaning
  const char* value;    // the value's form in the help ("B", "FILE", "a|b"); nullptr: a flag
  const char* help;     // one paragraph, wrapped by the help text
  long lo = 0, hi = 0;  // an integer option's range (both 0: not an integer option)
  OnResume on_resume = OnResume::kAllowed;
  AppliesTo applies_to = AppliesTo::kAny;
};

// Every option of every command, in the order each command's help lists them.
const std::vector<Option>& options();

// The row of `name` for command `c`, or nullptr.
const Option* find_option(Command c, const std::string& name);

// The `rnnattn <c> --help` text: usage, what the command does, its options (from the table),
// and any closing notes.
std::string help_text(Command c);

}  // namespace rnnattn::cli
