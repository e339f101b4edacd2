#pragma once
// The sample seed's spin box and Re-roll button, shared by the Sampling and
// RoI sampling stages (both samplers draw from the one seeded generator): a
// new value asks the model thread for a new draw.
#include <QFormLayout>
#include <QPushButton>
#include <QRandomGenerator>
#include <QSpinBox>

#include "studio_context.h"

namespace studio {

struct SeedControls {
  QSpinBox* spin = nullptr;
  bool filling = false;

  void add(QFormLayout* l, QWidget* w, StudioContext& ctx, const char* spinName, const char* buttonName) {
    spin = new QSpinBox(w);
    spin->setObjectName(spinName);
    spin->setRange(0, 1 << 30);
    auto* reroll = new QPushButton("Re-roll", w);
    reroll->setObjectName(buttonName);
    l->addRow("Seed", spin);
    l->addRow(reroll);
    QObject::connect(spin, qOverload<int>(&QSpinBox::valueChanged), w, [this, &ctx](int v) {
      if (!filling) ctx.requestSampleSeed(quint64(v));
    });
    QObject::connect(reroll, &QPushButton::clicked, w,
                     [this] { spin->setValue(int(QRandomGenerator::global()->bounded(1 << 30))); });
  }
  // Shows the trace's seed without asking for a draw.
  void show(uint64_t seed) {
    if (!spin) return;
    filling = true;
    spin->setValue(int(seed));
    filling = false;
  }
};

}  // namespace studio
