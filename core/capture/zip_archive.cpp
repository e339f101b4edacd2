#include "capture/zip_archive.h"

#include <zip.h>

#include <cstdio>
#include <deque>
#include <stdexcept>

namespace rcnn::capture {

namespace {
std::string zip_message(zip_error_t* e) {
  const std::string s = zip_error_strerror(e);
  zip_error_fini(e);
  return s;
}
}  // namespace

struct ZipWriter::Impl {
  zip_source_t* src = nullptr;
  zip_t* za = nullptr;
  std::deque<std::string> held;  // libzip reads the members' bytes at zip_close
};

ZipWriter::ZipWriter() : d_(new Impl) {
  zip_error_t e;
  zip_error_init(&e);
  d_->src = zip_source_buffer_create(nullptr, 0, 0, &e);
  if (!d_->src) throw std::runtime_error("capture: " + zip_message(&e));
  zip_source_keep(d_->src);
  d_->za = zip_open_from_source(d_->src, ZIP_TRUNCATE, &e);
  if (!d_->za) {
    zip_source_free(d_->src);
    throw std::runtime_error("capture: " + zip_message(&e));
  }
  zip_error_fini(&e);
}

ZipWriter::~ZipWriter() {
  if (d_->za) zip_discard(d_->za);
  if (d_->src) zip_source_free(d_->src);
}

void ZipWriter::add(const std::string& name, std::string bytes, int level) {
  d_->held.push_back(std::move(bytes));
  const std::string& b = d_->held.back();
  zip_source_t* src = zip_source_buffer(d_->za, b.data(), b.size(), 0);
  if (!src) throw std::runtime_error(std::string("capture: ") + zip_strerror(d_->za));
  const zip_int64_t i = zip_file_add(d_->za, name.c_str(), src, ZIP_FL_ENC_UTF_8 | ZIP_FL_OVERWRITE);
  if (i < 0) {
    zip_source_free(src);
    throw std::runtime_error("capture: cannot add " + name + " (" + zip_strerror(d_->za) + ")");
  }
  zip_set_file_compression(d_->za, zip_uint64_t(i), level > 0 ? ZIP_CM_DEFLATE : ZIP_CM_STORE, zip_uint32_t(level));
}

std::string ZipWriter::finish() {
  if (zip_close(d_->za) != 0) throw std::runtime_error(std::string("capture: ") + zip_strerror(d_->za));
  d_->za = nullptr;
  d_->held.clear();
  std::string out;
  if (zip_source_open(d_->src) != 0) throw std::runtime_error("capture: cannot read the archive back");
  zip_source_seek(d_->src, 0, SEEK_END);
  const zip_int64_t n = zip_source_tell(d_->src);
  zip_source_seek(d_->src, 0, SEEK_SET);
  out.resize(size_t(n > 0 ? n : 0));
  const zip_int64_t got = out.empty() ? 0 : zip_source_read(d_->src, &out[0], out.size());
  zip_source_close(d_->src);
  if (got != zip_int64_t(out.size())) throw std::runtime_error("capture: cannot read the archive back");
  return out;
}

struct ZipReader::Impl {
  std::string bytes, origin;
  zip_t* za = nullptr;
};

ZipReader::ZipReader(std::string bytes, std::string origin) : d_(new Impl) {
  d_->bytes = std::move(bytes);
  d_->origin = std::move(origin);
  zip_error_t e;
  zip_error_init(&e);
  zip_source_t* src = zip_source_buffer_create(d_->bytes.data(), d_->bytes.size(), 0, &e);
  if (!src) throw std::runtime_error(d_->origin + ": " + zip_message(&e));
  d_->za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &e);
  if (!d_->za) {
    zip_source_free(src);
    throw std::runtime_error(d_->origin + ": not a capture (not a zip archive: " + zip_message(&e) + ")");
  }
  zip_error_fini(&e);
}

ZipReader::~ZipReader() {
  if (d_->za) zip_discard(d_->za);
}

std::vector<std::string> ZipReader::names() const {
  std::vector<std::string> out;
  const zip_int64_t n = zip_get_num_entries(d_->za, 0);
  for (zip_int64_t i = 0; i < n; ++i)
    if (const char* s = zip_get_name(d_->za, zip_uint64_t(i), 0)) out.emplace_back(s);
  return out;
}

bool ZipReader::has(const std::string& name) const {
  return zip_name_locate(d_->za, name.c_str(), 0) >= 0;
}

std::string ZipReader::read(const std::string& name, size_t limit) const {
  const std::string where = d_->origin + ": member " + name;
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat(d_->za, name.c_str(), 0, &st) != 0) throw std::runtime_error(where + " is missing");
  if (!(st.valid & ZIP_STAT_SIZE) || st.size > limit)
    throw std::runtime_error(where + " is too large (" + std::to_string(st.size) + " bytes)");
  // Deflate expands at most about 1032:1: a member that claims more than that is damaged (and is not
  // allocated for).
  if ((st.valid & ZIP_STAT_COMP_SIZE) && st.size / 1100 > st.comp_size + 4096)
    throw std::runtime_error(where + " is damaged (" + std::to_string(st.size) + " bytes from " +
                             std::to_string(st.comp_size) + " compressed)");
  zip_file_t* f = zip_fopen(d_->za, name.c_str(), 0);
  if (!f) throw std::runtime_error(where + " cannot be read (" + zip_strerror(d_->za) + ")");
  std::string out(size_t(st.size), '\0');
  zip_int64_t got = 0;
  while (size_t(got) < out.size()) {
    const zip_int64_t r = zip_fread(f, &out[size_t(got)], out.size() - size_t(got));
    if (r < 0) {
      const std::string why = zip_file_strerror(f);
      zip_fclose(f);
      throw std::runtime_error(where + " is damaged (" + why + ")");
    }
    if (r == 0) break;
    got += r;
  }
  // A short read, or bytes after the stated size, or a CRC mismatch (reported at the end of the stream).
  char extra;
  const zip_int64_t more = zip_fread(f, &extra, 1);
  const std::string why = more < 0 ? zip_file_strerror(f) : "";
  zip_fclose(f);
  if (size_t(got) != out.size() || more != 0)
    throw std::runtime_error(where + " is damaged (" + (why.empty() ? "its size is not the stated one" : why) + ")");
  return out;
}

}  // namespace rcnn::capture
