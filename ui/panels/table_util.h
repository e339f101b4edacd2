#pragma once
// A read-only, row-selecting table with the given headers (the panels' lists).
#include <QHeaderView>
#include <QTableWidget>

namespace studio {

// A number cell that sorts as a number (decimals < 0: an integer).
inline QTableWidgetItem* numItem(double v, int decimals = -1) {
  auto* it = new QTableWidgetItem;
  it->setData(Qt::DisplayRole, decimals < 0 ? QVariant(int(v)) : QVariant(QString::number(v, 'f', decimals)));
  return it;
}

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
