#include "serialize/pickle_reader.h"

#include <cstring>
#include <map>
#include <stdexcept>
#include <unordered_map>

namespace rcnn::serialize {
namespace {

using K = PyValue::Kind;

PyRef make(K k) {
  auto v = std::make_shared<PyValue>();
  v->kind = k;
  return v;
}

torch::ScalarType storage_dtype(const std::string& name, const std::string& what) {
  static const std::map<std::string, torch::ScalarType> types{
      {"torch.DoubleStorage", torch::kDouble}, {"torch.FloatStorage", torch::kFloat},
      {"torch.HalfStorage", torch::kHalf},     {"torch.BFloat16Storage", torch::kBFloat16},
      {"torch.LongStorage", torch::kLong},     {"torch.IntStorage", torch::kInt},
      {"torch.ShortStorage", torch::kShort},   {"torch.CharStorage", torch::kChar},
      {"torch.ByteStorage", torch::kByte},     {"torch.BoolStorage", torch::kBool}};
  const auto it = types.find(name);
  if (it == types.end()) throw std::runtime_error(what + ": unsupported storage type " + name);
  return it->second;
}

class Machine {
 public:
  Machine(const char* d, size_t n, const StorageLoader& load, const std::string& what)
      : p_(d), end_(d + n), load_(load), what_(what) {}

  PyRef run() {
    while (true) {
      const uint8_t op = u8();
      switch (op) {
        case 0x80: u8(); break;                    // PROTO
        case 0x95: bytes(8); break;                // FRAME: the length only
        case '(': marks_.push_back(stack_.size()); break;
        case '.': return pop();                    // STOP
        case '0': pop(); break;                    // POP
        case '1': pop_mark(); break;               // POP_MARK
        case '2': push(top()); break;              // DUP
        case 'N': push(make(K::None)); break;
        case 0x88: push(boolean(true)); break;    // NEWTRUE
        case 0x89: push(boolean(false)); break;   // NEWFALSE
        case 'J': push(integer(int32_t(le(4)))); break;  // BININT
        case 'K': push(integer(int64_t(le(1)))); break;  // BININT1
        case 'M': push(integer(int64_t(le(2)))); break;  // BININT2
        case 0x8a: push(integer(long_bytes(le(1)))); break;  // LONG1
        case 0x8b: push(integer(long_bytes(le(4)))); break;  // LONG4
        case 'G': push(binfloat()); break;
        case 'X': push(str(K::Str, le(4))); break;     // BINUNICODE
        case 0x8c: push(str(K::Str, le(1))); break;    // SHORT_BINUNICODE
        case 0x8d: push(str(K::Str, le(8))); break;    // BINUNICODE8
        case 'T': push(str(K::Bytes, le(4))); break;   // BINSTRING
        case 'U': push(str(K::Bytes, le(1))); break;   // SHORT_BINSTRING
        case 'B': push(str(K::Bytes, le(4))); break;   // BINBYTES
        case 'C': push(str(K::Bytes, le(1))); break;   // SHORT_BINBYTES
        case 0x8e: push(str(K::Bytes, le(8))); break;  // BINBYTES8
        case ')': push(make(K::Tuple)); break;
        case ']': push(make(K::List)); break;
        case '}': push(make(K::Dict)); break;
        case 0x8f: push(make(K::List)); break;         // EMPTY_SET (kept as a list)
        case 't': { auto t = make(K::Tuple); t->items = pop_mark(); push(t); break; }
        case 'l': { auto t = make(K::List); t->items = pop_mark(); push(t); break; }
        case 0x91: { auto t = make(K::List); t->items = pop_mark(); push(t); break; }  // FROZENSET
        case 0x85: tuple_n(1); break;
        case 0x86: tuple_n(2); break;
        case 0x87: tuple_n(3); break;
        case 'a': { auto v = pop(); list_target(top())->items.push_back(v); break; }  // APPEND
        case 'e': case 0x90: {                                                        // APPENDS, ADDITEMS
          auto vs = pop_mark();
          auto l = list_target(top());
          l->items.insert(l->items.end(), vs.begin(), vs.end());
          break;
        }
        case 'd': { auto d = make(K::Dict); set_items(d, pop_mark()); push(d); break; }  // DICT
        case 's': {  // SETITEM
          auto v = pop();
          auto k = pop();
          set_items(top(), {k, v});
          break;
        }
        case 'u': { auto kv = pop_mark(); set_items(top(), kv); break; }  // SETITEMS
        case 'q': memo_[le(1)] = top(); break;     // BINPUT
        case 'r': memo_[le(4)] = top(); break;     // LONG_BINPUT
        case 0x94: memo_[memo_.size()] = top(); break;  // MEMOIZE
        case 'h': push(memo(le(1))); break;        // BINGET
        case 'j': push(memo(le(4))); break;        // LONG_BINGET
        case 'c': {                                // GLOBAL
          auto g = make(K::Global);
          const std::string module = line();  // two lines, in this order
          g->s = module + "." + line();
          push(g);
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          auto name = pop(), module = pop();
          auto g = make(K::Global);
          g->s = module->s + "." + name->s;
          push(g);
          break;
        }
        case 'Q': push(persistent(pop())); break;  // BINPERSID
        case 'R': {                                // REDUCE
          auto args = pop(), fn = pop();
          push(reduce(fn, args));
          break;
        }
        case 0x81: {  // NEWOBJ: cls.__new__(cls, *args)
          pop();
          auto o = make(K::Opaque);
          o->s = pop()->s;
          push(o);
          break;
        }
        case 0x92: {  // NEWOBJ_EX
          pop(), pop();
          auto o = make(K::Opaque);
          o->s = pop()->s;
          push(o);
          break;
        }
        case 'b': pop(); break;  // BUILD: an OrderedDict's _metadata, an object's state: not needed
        default: fail("unsupported pickle opcode 0x" + hex(op));
      }
    }
  }

 private:
  [[noreturn]] void fail(const std::string& m) const {
    throw std::runtime_error(what_ + ": " + m + " (at byte " + std::to_string(pos()) + ")");
  }
  size_t pos() const { return size_t(p_ - start_); }
  static std::string hex(unsigned v) {
    const char* d = "0123456789abcdef";
    return std::string{d[(v >> 4) & 15], d[v & 15]};
  }
  const char* bytes(uint64_t n) {
    if (n > uint64_t(end_ - p_)) fail("truncated pickle");
    const char* r = p_;
    p_ += n;
    return r;
  }
  uint8_t u8() { return uint8_t(*bytes(1)); }
  uint64_t le(int n) {
    const auto* b = reinterpret_cast<const uint8_t*>(bytes(uint64_t(n)));
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | b[i];
    return v;
  }
  int64_t long_bytes(uint64_t n) {
    if (n > 8) fail("integer wider than 64 bits");
    if (n == 0) return 0;
    const auto* b = reinterpret_cast<const uint8_t*>(bytes(n));
    uint64_t v = 0;
    for (int i = int(n) - 1; i >= 0; --i) v = (v << 8) | b[i];
    if (n < 8 && (b[n - 1] & 0x80)) v |= ~uint64_t(0) << (8 * n);  // sign-extend
    return int64_t(v);
  }
  std::string line() {
    const char* s = p_;
    while (p_ < end_ && *p_ != '\n') ++p_;
    if (p_ == end_) fail("truncated GLOBAL");
    return std::string(s, size_t(p_++ - s));
  }
  PyRef str(K k, uint64_t n) {
    auto v = make(k);
    const char* b = bytes(n);
    v->s.assign(b, size_t(n));
    return v;
  }
  PyRef boolean(bool b) {
    auto v = make(K::Bool);
    v->i = b;
    return v;
  }
  PyRef integer(int64_t i) {
    auto v = make(K::Int);
    v->i = i;
    return v;
  }
  PyRef binfloat() {
    const auto* b = reinterpret_cast<const uint8_t*>(bytes(8));
    uint64_t u = 0;
    for (int i = 0; i < 8; ++i) u = (u << 8) | b[i];  // big-endian
    auto v = make(K::Float);
    std::memcpy(&v->f, &u, 8);
    return v;
  }
  void push(PyRef v) {
    if (stack_.size() > (1u << 24)) fail("pickle stack too deep");
    stack_.push_back(std::move(v));
  }
  PyRef pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) fail("pickle stack underflow");
    auto v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  PyRef& top() {
    if (stack_.empty()) fail("pickle stack underflow");
    return stack_.back();
  }
  std::vector<PyRef> pop_mark() {
    if (marks_.empty()) fail("MARK missing");
    const size_t m = marks_.back();
    marks_.pop_back();
    if (m > stack_.size()) fail("MARK beyond the stack");
    std::vector<PyRef> out(stack_.begin() + std::ptrdiff_t(m), stack_.end());
    stack_.resize(m);
    return out;
  }
  void tuple_n(size_t n) {
    auto t = make(K::Tuple);
    t->items.resize(n);
    for (size_t i = n; i-- > 0;) t->items[i] = pop();
    push(t);
  }
  PyRef list_target(const PyRef& v) {
    if (v->kind != K::List) fail(std::string("APPEND to a ") + v->kind_name());
    return v;
  }
  void set_items(const PyRef& d, const std::vector<PyRef>& kv) {
    if (kv.size() % 2) fail("SETITEMS with an odd count");
    if (d->kind == K::Opaque) return;  // a dict subclass we do not model
    if (d->kind != K::Dict) fail(std::string("SETITEMS on a ") + d->kind_name());
    for (size_t i = 0; i < kv.size(); i += 2) d->entries.emplace_back(kv[i], kv[i + 1]);
  }
  PyRef memo(uint64_t k) {
    const auto it = memo_.find(k);
    if (it == memo_.end()) fail("memo key " + std::to_string(k) + " not set");
    return it->second;
  }
  PyRef persistent(const PyRef& pid) {
    // ('storage', <storage type>, key, location, numel)
    if (pid->kind != K::Tuple || pid->items.size() < 5 || pid->items[0]->s != "storage" ||
        pid->items[1]->kind != K::Global || pid->items[4]->kind != K::Int)
      fail("unsupported persistent id (not a tensor storage)");
    const auto dtype = storage_dtype(pid->items[1]->s, what_);
    const std::string key = pid->items[2]->s;
    auto it = storages_.find(key);
    if (it == storages_.end()) {
      auto s = make(K::Storage);
      s->tensor = load_(key, dtype, pid->items[4]->i);
      it = storages_.emplace(key, s).first;
    }
    return it->second;
  }
  std::vector<int64_t> ints(const PyRef& t, const char* name) {
    if (t->kind != K::Tuple) fail(std::string("tensor ") + name + " is not a tuple");
    std::vector<int64_t> out;
    for (const auto& v : t->items) {
      if (v->kind != K::Int) fail(std::string("tensor ") + name + " holds a non-integer");
      out.push_back(v->i);
    }
    return out;
  }
  PyRef reduce(const PyRef& fn, const PyRef& args) {
    const std::string& f = fn->s;
    const auto& a = args->items;
    if (fn->kind == K::Global && f == "collections.OrderedDict") return make(K::Dict);
    if (fn->kind == K::Global && (f == "torch._utils._rebuild_tensor_v2" || f == "torch._utils._rebuild_tensor")) {
      if (a.size() < 4 || a[0]->kind != K::Storage || a[1]->kind != K::Int) fail("malformed tensor record");
      const auto size = ints(a[2], "size"), stride = ints(a[3], "stride");
      if (size.size() != stride.size()) fail("tensor size and stride differ in length");
      int64_t last = a[1]->i;  // the furthest element it reads
      bool empty = false;
      for (size_t d = 0; d < size.size(); ++d) {
        if (size[d] < 0 || stride[d] < 0) fail("negative tensor size or stride");
        if (size[d] == 0) empty = true;
        else last += (size[d] - 1) * stride[d];
      }
      const auto& st = a[0]->tensor;
      if (a[1]->i < 0 || (!empty && last >= st.numel())) fail("tensor reads beyond its storage");
      auto v = make(K::Tensor);
      v->tensor = st.as_strided(size, stride, a[1]->i);
      return v;
    }
    if (fn->kind == K::Global &&
        (f == "torch._utils._rebuild_parameter" || f == "torch._utils._rebuild_parameter_with_state")) {
      if (a.empty() || a[0]->kind != K::Tensor) fail("malformed parameter record");
      return a[0];
    }
    if (fn->kind == K::Global && f == "_codecs.encode" && !a.empty() && a[0]->kind == K::Str) {
      auto b = make(K::Bytes);  // protocol 2 bytes: latin-1 text
      b->s = a[0]->s;
      return b;
    }
    auto o = make(K::Opaque);
    o->s = fn->kind == K::Global ? f : std::string("call result");
    return o;
  }

  const char* p_;
  const char* const end_;
  const char* const start_ = p_;
  const StorageLoader& load_;
  const std::string& what_;
  std::vector<PyRef> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, PyRef> memo_;
  std::unordered_map<std::string, PyRef> storages_;
};

}  // namespace

const char* PyValue::kind_name() const {
  static const char* n[] = {"None", "bool",   "int",    "float",   "str",     "bytes", "tuple",
                            "list", "dict",   "global", "tensor",  "storage", "object"};
  return n[int(kind)];
}

PyRef PyValue::get(const std::string& key) const {
  for (const auto& [k, v] : entries)
    if (k->kind == Kind::Str && k->s == key) return v;
  return nullptr;
}

PyRef read_pickle(const char* data, size_t size, const StorageLoader& load_storage, const std::string& what) {
  return Machine(data, size, load_storage, what).run();
}

}  // namespace rcnn::serialize
