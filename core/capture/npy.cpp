#include "capture/npy.h"

#include <cstring>
#include <limits>

namespace rcnn::capture {

namespace {
struct DtypeInfo {
  Dtype type;
  const char* descr;
  size_t size;
};
constexpr DtypeInfo kTypes[] = {{Dtype::U8, "|u1", 1},  {Dtype::I8, "|i1", 1},  {Dtype::I32, "<i4", 4},
                                {Dtype::I64, "<i8", 8}, {Dtype::U64, "<u8", 8}, {Dtype::F16, "<f2", 2},
                                {Dtype::F32, "<f4", 4}, {Dtype::F64, "<f8", 8}};
const char kMagic[] = "\x93NUMPY";

// The value after 'key': in a header dict, from `from` on; npos when absent.
size_t value_of(const std::string& h, const char* key) {
  const std::string k = std::string("'") + key + "'";
  size_t p = h.find(k);
  if (p == std::string::npos) return p;
  p = h.find(':', p + k.size());
  if (p == std::string::npos) return p;
  ++p;
  while (p < h.size() && h[p] == ' ') ++p;
  return p;
}
}  // namespace

const char* dtype_descr(Dtype t) {
  for (const auto& i : kTypes)
    if (i.type == t) return i.descr;
  return "?";
}
size_t dtype_size(Dtype t) {
  for (const auto& i : kTypes)
    if (i.type == t) return i.size;
  return 0;
}

uint16_t float_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u, absx = x & 0x7fffffffu;
  if (absx >= 0x7f800000u) return uint16_t(sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0));  // inf, NaN
  if (absx >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // rounds past 65504: inf
  if (absx < 0x38800000u) {  // a half subnormal (or zero): shift the 24-bit significand, round to nearest even
    if (absx < 0x33000000u) return uint16_t(sign);
    const uint32_t e = absx >> 23, m = (absx & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126 - e;  // 14 - (e - 127) - 1 + 24 - 10 - ... : m >> (126 - e) is the half significand
    const uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    return uint16_t(sign | (q + (rem > half || (rem == half && (q & 1)))));
  }
  const uint32_t q = (absx >> 13) - (112u << 10), rem = absx & 0x1fffu;
  return uint16_t(sign | (q + (rem > 0x1000u || (rem == 0x1000u && (q & 1)))));
}

float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  uint32_t x;
  if (e == 0x1f) {
    x = sign | 0x7f800000u | (m << 13);
  } else if (e != 0) {
    x = sign | ((e + 112) << 23) | (m << 13);
  } else if (m == 0) {
    x = sign;
  } else {  // subnormal: normalise
    int k = -1;
    uint32_t mm = m;
    do {
      ++k;
      mm <<= 1;
    } while (!(mm & 0x400u));
    x = sign | (uint32_t(112 - k) << 23) | ((mm & 0x3ffu) << 13);
  }
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

size_t NpyArray::elements() const {
  size_t n = 1;
  for (size_t d : shape) n *= d;
  return n;
}

std::string npy_encode(Dtype dtype, const std::vector<size_t>& shape, const void* data, size_t bytes) {
  std::string dict = std::string("{'descr': '") + dtype_descr(dtype) + "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i)
    dict += std::to_string(shape[i]) + (shape.size() == 1 ? ",)" : i + 1 < shape.size() ? ", " : ")");
  if (shape.empty()) dict += ")";
  dict += ", }";
  // magic (6) + version (2) + length (2) + dict + padding + '\n' is a multiple of 64.
  const size_t unpadded = 10 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict += '\n';
  std::string out(kMagic, 6);
  out += char(1);
  out += char(0);
  const auto len = uint16_t(dict.size());
  out += char(len & 0xff);
  out += char(len >> 8);
  out += dict;
  out.append(static_cast<const char*>(data), bytes);
  return out;
}

NpyArray npy_decode(const std::string& b) {
  if (b.size() < 10 || std::memcmp(b.data(), kMagic, 6) != 0) throw NpyError("not a .npy array (no \\x93NUMPY magic)");
  const int major = uint8_t(b[6]);
  size_t header_len = 0, start = 0;
  if (major == 1) {
    header_len = size_t(uint8_t(b[8])) | size_t(uint8_t(b[9])) << 8;
    start = 10;
  } else if (major == 2 || major == 3) {
    if (b.size() < 12) throw NpyError("truncated .npy header");
    for (int i = 0; i < 4; ++i) header_len |= size_t(uint8_t(b[size_t(8 + i)])) << (8 * i);
    start = 12;
  } else {
    throw NpyError(".npy format version " + std::to_string(major) + " is not 1, 2 or 3");
  }
  if (header_len > b.size() - start) throw NpyError("truncated .npy header");
  const std::string h = b.substr(start, header_len);
  NpyArray a;
  size_t p = value_of(h, "descr");
  if (p == std::string::npos || p >= h.size() || (h[p] != '\'' && h[p] != '"'))
    throw NpyError("the header has no 'descr'");
  const size_t q = h.find(h[p], p + 1);
  if (q == std::string::npos) throw NpyError("the header's 'descr' is not a string");
  const std::string descr = h.substr(p + 1, q - p - 1);
  bool known = false;
  for (const auto& i : kTypes)
    if (descr == i.descr || (i.size == 1 && descr == std::string("<") + (i.descr + 1)) ||
        (i.size == 1 && descr == std::string("=") + (i.descr + 1))) {
      a.dtype = i.type;
      known = true;
    }
  if (!known) throw NpyError("element type '" + descr + "' is not one a capture holds (u1 i1 <i4 <i8 <u8 <f2 <f4 <f8)");
  p = value_of(h, "fortran_order");
  if (p == std::string::npos) throw NpyError("the header has no 'fortran_order'");
  if (h.compare(p, 4, "True") == 0) throw NpyError("Fortran-ordered arrays are not read");
  if (h.compare(p, 5, "False") != 0) throw NpyError("the header's 'fortran_order' is not True or False");
  p = value_of(h, "shape");
  if (p == std::string::npos || p >= h.size() || h[p] != '(') throw NpyError("the header has no 'shape' tuple");
  const size_t end = h.find(')', p);
  if (end == std::string::npos) throw NpyError("the header's 'shape' is not closed");
  size_t elements = 1;
  for (size_t i = p + 1; i < end;) {
    while (i < end && (h[i] == ' ' || h[i] == ',')) ++i;
    if (i == end) break;
    if (h[i] < '0' || h[i] > '9') throw NpyError("the header's 'shape' holds something other than sizes");
    size_t v = 0;
    while (i < end && h[i] >= '0' && h[i] <= '9') {
      if (v > (std::numeric_limits<size_t>::max() - 9) / 10) throw NpyError("a dimension of 'shape' overflows");
      v = v * 10 + size_t(h[i++] - '0');
    }
    if (v != 0 && elements > std::numeric_limits<size_t>::max() / v) throw NpyError("'shape' overflows");
    elements *= v;
    a.shape.push_back(v);
  }
  const size_t have = b.size() - start - header_len, size = dtype_size(a.dtype);
  if (elements > have / size || elements * size != have)
    throw NpyError("holds " + std::to_string(have) + " data bytes, its shape needs " +
                   (elements > have / size ? "more" : std::to_string(elements * size)));
  a.data = b.substr(start + header_len);
  return a;
}

}  // namespace rcnn::capture
