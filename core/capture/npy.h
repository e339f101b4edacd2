#pragma once
// NumPy's .npy format, version 1.0 (numpy/lib/format.py): the magic
// "\x93NUMPY", the version bytes 1 0, a little-endian uint16 header length,
// then an ASCII dict {'descr': '<f4', 'fortran_order': False, 'shape': (N, 4), }
// padded with spaces to a multiple of 64 bytes and ended by '\n', then the
// data in C order. Only the little-endian scalar types a capture holds are
// read and written. No torch here.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace rcnn::capture {

// The element types: their numpy descr and size.
enum class Dtype { U8, I8, I32, I64, U64, F16, F32, F64 };
const char* dtype_descr(Dtype t);  // "|u1", "|i1", "<i4", "<i8", "<u8", "<f2", "<f4", "<f8"
size_t dtype_size(Dtype t);

template <class T>
Dtype dtype_of();
template <>
inline Dtype dtype_of<uint8_t>() {
  return Dtype::U8;
}
template <>
inline Dtype dtype_of<int8_t>() {
  return Dtype::I8;
}
template <>
inline Dtype dtype_of<int32_t>() {
  return Dtype::I32;
}
template <>
inline Dtype dtype_of<int64_t>() {
  return Dtype::I64;
}
template <>
inline Dtype dtype_of<uint64_t>() {
  return Dtype::U64;
}
template <>
inline Dtype dtype_of<float>() {
  return Dtype::F32;
}
template <>
inline Dtype dtype_of<double>() {
  return Dtype::F64;
}

// IEEE half precision (numpy's float16), round to nearest even.
uint16_t float_to_half(float f);
float half_to_float(uint16_t h);

struct NpyArray {
  Dtype dtype = Dtype::F32;
  std::vector<size_t> shape;  // () is a scalar: one element
  std::string data;           // C order, little-endian
  size_t elements() const;
};

// A malformed member: the message says what is wrong (the caller adds the member's name).
struct NpyError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string npy_encode(Dtype dtype, const std::vector<size_t>& shape, const void* data, size_t bytes);
// Throws NpyError: a bad magic or version, a header that is not the dict above, an unknown or big-endian
// descr, Fortran order, or data whose size is not the shape's.
NpyArray npy_decode(const std::string& bytes);

}  // namespace rcnn::capture
