#include "explain/explain_cache.h"

#include <QStringList>

namespace studio {

QString ExplainCache::key(const QString& imagePath, quint64 generation, const ExplainTarget& target,
                          const ExplainSettings& s, const rcnn::api::ExplainRequest& r) {
  // The masks and seed only change D-RISE; the level and backbone only the CAMs. Joined, not QString::arg'ed:
  // a path may hold a '%1'.
  const bool cam = explainOnLevel(s.method), drise = s.method == "drise";
  return QStringList{imagePath,
                     QString("trace %1").arg(generation),
                     target.text(),
                     QString::fromStdString(s.method),
                     QString("level %1").arg(cam ? r.level : -1),
                     QString("backbone %1").arg(cam && r.backbone ? 1 : 0),
                     "delta " + QString::fromStdString(r.delta),
                     "score " + QString::fromStdString(r.score),
                     QString("masks %1 grid %2 p %3 seed %4 batch %5")
                         .arg(drise ? r.masks : 0)
                         .arg(drise ? r.grid : 0)
                         .arg(drise ? r.prob : 0.0)
                         .arg(drise ? qulonglong(r.seed) : 0ull)
                         .arg(drise ? r.batch : 0),
                     "fill " + (drise ? QString::fromStdString(r.fill) : QString())}
      .join('|');
}

std::shared_ptr<const rcnn::api::ExplainResult> ExplainCache::get(const QString& key) {
  for (auto it = m_items.begin(); it != m_items.end(); ++it)
    if (it->first == key) {
      m_items.splice(m_items.begin(), m_items, it);
      return m_items.front().second;
    }
  return nullptr;
}

void ExplainCache::put(const QString& key, std::shared_ptr<const rcnn::api::ExplainResult> r) {
  for (auto it = m_items.begin(); it != m_items.end(); ++it)
    if (it->first == key) {
      m_items.erase(it);
      break;
    }
  m_items.emplace_front(key, std::move(r));
  while (m_items.size() > m_capacity) m_items.pop_back();
}

}  // namespace studio
