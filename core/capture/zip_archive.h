#pragma once
// A zip archive of named members (libzip), made and read in memory: what
// NumPy's savez writes and numpy.load opens.
#include <memory>
#include <string>
#include <vector>

namespace rcnn::capture {

class ZipWriter {
 public:
  ZipWriter();
  ~ZipWriter();
  // Deflated at `level` (1 fastest .. 9 smallest; 0 stores).
  void add(const std::string& name, std::string bytes, int level = 1);
  // The archive's bytes. Throws std::runtime_error.
  std::string finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> d_;
};

class ZipReader {
 public:
  // Throws std::runtime_error naming `origin` when the bytes are not a zip archive.
  ZipReader(std::string bytes, std::string origin);
  ~ZipReader();
  std::vector<std::string> names() const;
  bool has(const std::string& name) const;
  // Throws std::runtime_error naming the member when it is absent or cannot be inflated (a CRC mismatch,
  // a truncated stream), or larger than `limit` bytes.
  std::string read(const std::string& name, size_t limit = size_t(1) << 32) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> d_;
};

}  // namespace rcnn::capture
