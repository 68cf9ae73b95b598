// Files: reading whole files and writing them atomically (a temporary file renamed over the
// target), with errors naming the path (io.hpp).
#include "io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "rnnattn/error.hpp"

namespace rnnattn {

std::string read_file(const std::string& path) {
  // A directory opens as a stream on Linux and then reads as empty: say what it is instead.
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    throw DataError("'" + path + "' is a directory, not a file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError("cannot open '" + path + "': " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw DataError("cannot read '" + path + "'");
  return ss.str();
}

namespace {

// Writes `bytes` to a new temporary file beside `path` and flushes it to disk; returns its name.
std::string stage(const std::string& path, const std::string& bytes) {
  std::vector<char> tmpl(path.begin(), path.end());
  const char suffix[] = ".tmp.XXXXXX";
  tmpl.insert(tmpl.end(), suffix, suffix + sizeof(suffix));  // includes the terminating NUL
  const int fd = ::mkstemp(tmpl.data());
  if (fd < 0) {  // the file is written beside its final name first: its folder must take it
    throw Error("cannot write '" + path + "': cannot create a file in its folder (" +
                std::strerror(errno) + ")");
  }
  const std::string tmp(tmpl.data());
  auto fail = [&](const char* call) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    ::unlink(tmp.c_str());
    throw Error("cannot write '" + path + "': " + call + " failed: " + why);
  };
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write");
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fchmod(fd, 0644) != 0) fail("fchmod");
  if (::fsync(fd) != 0) fail("fsync");
  if (::close(fd) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    throw Error("cannot write '" + path + "': close failed: " + why);
  }
  return tmp;
}

}  // namespace

void write_file_atomic(const std::string& path, const std::string& bytes) {
  write_files_atomic({OutputFile{path, bytes}});
}

void write_files_atomic(const std::vector<OutputFile>& files) {
  std::vector<std::string> temps;
  try {
    for (const OutputFile& f : files) temps.push_back(stage(f.path, f.bytes));
  } catch (...) {
    for (const std::string& t : temps) ::unlink(t.c_str());
    throw;
  }
  // Keep each earlier target reachable until every rename has succeeded.
  std::vector<std::string> backups(files.size());
  for (std::size_t i = 0; i < files.size(); ++i) {
    const std::string b = temps[i] + ".prev";
    if (::link(files[i].path.c_str(), b.c_str()) == 0) backups[i] = b;
  }
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (std::rename(temps[i].c_str(), files[i].path.c_str()) != 0) {
      const std::string why = std::strerror(errno);
      for (std::size_t j = 0; j < i; ++j) {  // undo the renames already done
        if (!backups[j].empty()) {
          std::rename(backups[j].c_str(), files[j].path.c_str());
        } else {
          ::unlink(files[j].path.c_str());
        }
      }
      for (std::size_t j = i; j < files.size(); ++j) ::unlink(temps[j].c_str());
      for (std::size_t j = i; j < files.size(); ++j) {
        if (!backups[j].empty()) ::unlink(backups[j].c_str());
      }
      throw Error("cannot write '" + files[i].path + "': rename failed: " + why +
                  " (no output was written)");
    }
  }
  for (const std::string& b : backups) {
    if (!b.empty()) ::unlink(b.c_str());
  }
}

void check_output_path(const std::string& what, const std::string& path) {
  if (path.empty()) throw Error(what + ": the file name is empty");
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    throw Error(what + " '" + path + "' is a directory; name a file");
  }
  const std::filesystem::path p(path);
  const std::string dir = p.has_parent_path() ? p.parent_path().string() : ".";
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    throw Error(what + " '" + path + "': the folder '" + dir + "' does not exist");
  }
  // The only sure test of "can a file be created here" is to create one.
  std::string probe = (std::filesystem::path(dir) / ".rnnattn-probe.XXXXXX").string();
  const int fd = ::mkstemp(probe.data());
  if (fd < 0) {
    throw Error(what + " '" + path + "': cannot create a file in '" + dir +
                "': " + std::strerror(errno));
  }
  ::close(fd);
  ::unlink(probe.c_str());
}

std::string shortest_text(double v) {
  char buf[32];
  return std::string(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}
std::string shortest_text(float v) {
  char buf[32];
  return std::string(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

bool same_file(const std::string& a, const std::string& b) {
  std::error_code ec;
  if (std::filesystem::exists(a, ec) && std::filesystem::exists(b, ec)) {
    return std::filesystem::equivalent(a, b, ec);
  }
  const auto ca = std::filesystem::weakly_canonical(std::filesystem::absolute(a, ec), ec);
  const auto cb = std::filesystem::weakly_canonical(std::filesystem::absolute(b, ec), ec);
  return ca == cb;
}

}  // namespace rnnattn
