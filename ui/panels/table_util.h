#pragma once
// A read-only, row-selecting table with the given headers (the panels' lists).
#include <QHeaderView>
#include <QTableWidget>

namespace studio {

inline QTableWidget* makeTable(QWidget* parent, const QStringList& headers, const char* name) {
  auto* t = new QTableWidget(0, int(headers.size()), parent);
  t->setObjectName(name);
  t->setHorizontalHeaderLabels(headers);
  t->setEditTriggers(QAbstractItemView::NoEditTriggers);
  t->setSelectionBehavior(QAbstractItemView::SelectRows);
  t->setSelectionMode(QAbstractItemView::SingleSelection);
  t->verticalHeader()->hide();
  t->horizontalHeader()->setStretchLastSection(true);
  return t;
}

}  // namespace studio
