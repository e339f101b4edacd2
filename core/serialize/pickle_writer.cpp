#include "serialize/pickle_writer.h"

#include <map>
#include <stdexcept>

namespace rcnn::serialize {
namespace {

class Pickler {
 public:
  std::string out;
  void op(char c) { out.push_back(c); }
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(char((v >> (8 * i)) & 0xff));
  }
  void global(const std::string& module, const std::string& name) {
    op('c');
    out += module + "\n" + name + "\n";
  }
  void str(const std::string& s) {
    op('X');  // BINUNICODE
    u32(uint32_t(s.size()));
    out += s;
  }
  void integer(int64_t v) {
    if (v >= INT32_MIN && v <= INT32_MAX) {
      op('J');  // BININT
      u32(uint32_t(int32_t(v)));
      return;
    }
    op(char(0x8a));  // LONG1, 8 bytes two's complement
    out.push_back(char(8));
    for (int i = 0; i < 8; ++i) out.push_back(char((uint64_t(v) >> (8 * i)) & 0xff));
  }
  void int_tuple(c10::IntArrayRef v) {
    if (v.empty()) {
      op(')');
      return;
    }
    op('(');
    for (int64_t x : v) integer(x);
    op('t');
  }
  void empty_ordered_dict() {
    global("collections", "OrderedDict");
    op(')');
    op('R');
  }
};

std::string storage_name(torch::ScalarType t) {
  static const std::map<torch::ScalarType, std::string> names{
      {torch::kDouble, "DoubleStorage"}, {torch::kFloat, "FloatStorage"}, {torch::kHalf, "HalfStorage"},
      {torch::kBFloat16, "BFloat16Storage"}, {torch::kLong, "LongStorage"}, {torch::kInt, "IntStorage"},
      {torch::kShort, "ShortStorage"}, {torch::kChar, "CharStorage"}, {torch::kByte, "ByteStorage"},
      {torch::kBool, "BoolStorage"}};
  const auto it = names.find(t);
  if (it == names.end()) throw std::runtime_error(std::string("cannot save tensors of type ") + c10::toString(t));
  return it->second;
}

}  // namespace

std::string pickle_state_dict(const std::vector<std::pair<std::string, torch::Tensor>>& entries,
                              const std::vector<std::string>& keys) {
  Pickler p;
  p.op(char(0x80));  // PROTO 2
  p.out.push_back(char(2));
  p.empty_ordered_dict();
  p.op('(');  // MARK for SETITEMS
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& [name, t] = entries[i];
    p.str(name);
    p.global("torch._utils", "_rebuild_tensor_v2");
    p.op('(');
    p.op('(');  // the persistent id
    p.str("storage");
    p.global("torch", storage_name(t.scalar_type()));
    p.str(keys[i]);
    p.str("cpu");
    p.integer(t.numel());
    p.op('t');
    p.op('Q');  // BINPERSID
    p.integer(0);
    p.int_tuple(t.sizes());
    p.int_tuple(t.contiguous().strides());
    p.op(char(0x89));  // requires_grad False
    p.empty_ordered_dict();  // backward hooks
    p.op('t');
    p.op('R');
  }
  p.op('u');  // SETITEMS
  p.op('.');
  return p.out;
}

}  // namespace rcnn::serialize
