#pragma once
// A small LRU of explain results keyed by the request's full identity (image,
// trace, target, method, parameters; ExplainCache::key), so that going back to
// a box or a method shows its map without computing it again.
#include <QString>
#include <list>
#include <memory>
#include <utility>

#include "api/explain.h"
#include "explain/explain_state.h"

namespace studio {

class ExplainCache {
 public:
  explicit ExplainCache(size_t capacity = 16) : m_capacity(capacity) {}
  // The identity of a request on a trace: everything its map depends on.
  static QString key(const QString& imagePath, quint64 generation, const ExplainTarget& target,
                     const ExplainSettings& s, const rcnn::api::ExplainRequest& r);
  // The result for `key` (made most recent), or null.
  std::shared_ptr<const rcnn::api::ExplainResult> get(const QString& key);
  void put(const QString& key, std::shared_ptr<const rcnn::api::ExplainResult> r);
  void clear() { m_items.clear(); }
  size_t size() const { return m_items.size(); }
  size_t capacity() const { return m_capacity; }

 private:
  size_t m_capacity;
  std::list<std::pair<QString, std::shared_ptr<const rcnn::api::ExplainResult>>> m_items;  // most recent first
};

}  // namespace studio
