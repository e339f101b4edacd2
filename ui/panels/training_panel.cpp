#include "training_panel.h"

#include <QChart>
#include <QChartView>
#include <QComboBox>
#include <QDateTime>
#include <QDir>
#include <QDockWidget>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QLineSeries>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QTabWidget>
#include <QVBoxLayout>
#include <QValueAxis>

#include "api/devices.h"
#include "config/config_fields.h"
#include "job_runner.h"
#include "probe_timeline.h"

namespace studio {

namespace {
QChart* makeChart(const QString& title, std::initializer_list<QLineSeries*> series, QValueAxis*& x, QValueAxis*& y) {
  auto* c = new QChart;
  c->setTitle(title);
  c->legend()->setAlignment(Qt::AlignBottom);
  x = new QValueAxis;
  y = new QValueAxis;
  x->setTitleText("iteration");
  x->setRange(0, 10);
  y->setRange(0, 1);
  c->addAxis(x, Qt::AlignBottom);
  c->addAxis(y, Qt::AlignLeft);
  for (auto* s : series) {
    c->addSeries(s);
    s->attachAxis(x);
    s->attachAxis(y);
  }
  return c;
}
QLineSeries* series(const QString& name) {
  auto* s = new QLineSeries;
  s->setName(name);
  return s;
}
QString hms(double s) {
  if (!(s >= 0)) return "--";
  const int t = int(s);
  return QString("%1:%2").arg(t / 60).arg(t % 60, 2, 10, QChar('0'));
}
}  // namespace

TrainingPanel::TrainingPanel(JobRunner& runner, QWidget* parent) : QWidget(parent), m_runner(runner) {
  auto* lay = new QVBoxLayout(this);
  auto* form = new QFormLayout;
  m_dataset = new QLineEdit(this);
  auto* browse = new QPushButton("…", this);
  auto* dsRow = new QHBoxLayout;
  dsRow->addWidget(m_dataset, 1);
  dsRow->addWidget(browse);
  m_preset = new QComboBox(this);
  m_preset->setObjectName("trainPreset");
  m_preset->addItems({"default", "fast", "seed"});
  for (const auto& p : rcnn::torchvision_presets()) m_preset->addItem(QString::fromStdString(p));
  m_name = new QLineEdit("studio-run", this);
  m_name->setObjectName("runName");
  m_iters = new QSpinBox(this);
  m_iters->setObjectName("trainIters");
  m_iters->setRange(1, 1000000);
  m_iters->setValue(2000);
  form->addRow("Dataset", dsRow);
  form->addRow("Preset", m_preset);
  form->addRow("Run name (runs/…)", m_name);
  form->addRow("Iterations", m_iters);
  // Data parallelism: N processes of solver.batch_size images each (Gloo on
  // the CPU; on CUDA one process per GPU, NCCL).
  m_procs = new QSpinBox(this);
  m_procs->setObjectName("trainProcs");
  m_procs->setRange(1, 64);
  m_procs->setValue(1);
  m_procs->setToolTip("Data-parallel processes (each trains on solver.batch_size images; the learning rate is for "
                      "the global batch). With CUDA: one process per GPU.");
  m_device = new QComboBox(this);
  m_device->setObjectName("trainDevice");
  for (const auto& d : rcnn::api::compute_devices())
    m_device->addItem(QString::fromStdString(d.label), QString::fromStdString(d.id));
  if (m_device->count() > 2) m_device->addItem("CUDA (every GPU, one process each)", "cuda");
  const auto noCuda = rcnn::api::cuda_unavailable_reason();
  if (!noCuda.empty()) m_device->setToolTip(QString("CUDA: %1").arg(QString::fromStdString(noCuda)));
  m_probes = new QSpinBox(this);
  m_probes->setObjectName("trainProbes");
  m_probes->setRange(0, 64);
  m_probes->setValue(8);
  m_probes->setToolTip(
      "The first N val images are captured at every evaluation: the Timeline tab steps through "
      "them (0: none).");
  form->addRow("Probe images", m_probes);
  form->addRow("Processes", m_procs);
  form->addRow("Device", m_device);
  lay->addLayout(form);
  auto* buttons = new QHBoxLayout;
  m_start = new QPushButton("Start", this);
  m_start->setObjectName("trainStart");
  m_stop = new QPushButton("Stop", this);
  m_stop->setObjectName("trainStop");
  m_resume = new QPushButton("Resume", this);
  m_use = new QPushButton("Inspect latest checkpoint", this);
  m_use->setObjectName("useCheckpoint");
  m_stop->setEnabled(false);
  m_use->setEnabled(false);
  for (auto* b : {m_start, m_stop, m_resume, m_use}) buttons->addWidget(b);
  lay->addLayout(buttons);
  m_progress = new QProgressBar(this);
  m_status = new QLabel("idle", this);
  m_status->setObjectName("trainStatus");
  lay->addWidget(m_progress);
  lay->addWidget(m_status);
  m_total = series("total");
  m_rpnObj = series("rpn_obj");
  m_rpnBox = series("rpn_box");
  m_roiCls = series("roi_cls");
  m_roiBox = series("roi_box");
  m_lr = series("lr");
  m_map = series("val mAP@0.5");
  m_lossChart = makeChart("Losses", {m_total, m_rpnObj, m_rpnBox, m_roiCls, m_roiBox}, m_lossX, m_lossY);
  m_lrChart = makeChart("Learning rate", {m_lr}, m_lrX, m_lrY);
  m_mapChart = makeChart("Validation mAP@0.5", {m_map}, m_mapX, m_mapY);
  auto* tabs = m_tabs = new QTabWidget(this);
  for (auto* c : {m_lossChart, m_lrChart, m_mapChart}) {
    auto* v = new QChartView(c, tabs);
    v->setRenderHint(QPainter::Antialiasing);
    v->setMinimumHeight(200);
    tabs->addTab(v, c->title());
  }
  m_log = new QPlainTextEdit(this);
  m_log->setObjectName("trainLog");
  m_log->setReadOnly(true);
  m_log->setMaximumBlockCount(5000);
  tabs->addTab(m_log, "Log");
  m_timeline = new ProbeTimeline(tabs);
  tabs->addTab(m_timeline, "Timeline");
  connect(m_timeline, &ProbeTimeline::message, this, &TrainingPanel::message);
  lay->addWidget(tabs, 1);
  connect(browse, &QPushButton::clicked, this, [this] {
    const QString d = QFileDialog::getExistingDirectory(this, "Dataset directory", m_dataset->text());
    if (!d.isEmpty()) m_dataset->setText(d);
  });
  connect(m_start, &QPushButton::clicked, this, [this] { start(false); });
  connect(m_resume, &QPushButton::clicked, this, [this] { start(true); });
  connect(m_stop, &QPushButton::clicked, this, &TrainingPanel::stop);
  connect(m_use, &QPushButton::clicked, this, [this] {
    if (!m_lastCheckpoint.isEmpty()) emit useCheckpoint(m_lastCheckpoint);
  });
}

TrainingPanel::~TrainingPanel() = default;  // the JobRunner stops and joins a run at shutdown

std::vector<std::string> TrainingPanel::overrides() const {
  std::vector<std::string> out;
  if (!m_hasCurrent) return out;
  rcnn::DetectorConfig preset;
  try {
    preset = rcnn::load_preset(m_preset->currentText().toStdString());
  } catch (...) {
    return out;
  }
  // The panel's edits are relative to what it shows: a seed preset's edits do
  // not carry to a torchvision preset, nor one torchvision preset's to another.
  if (preset.is_torchvision() != m_current.is_torchvision() ||
      (preset.is_torchvision() && preset.name != m_current.name))
    return out;
  for (const auto& key : rcnn::changed_fields(preset, m_current)) {
    const auto* f = rcnn::find_field(key);
    if (f->from_model) continue;  // classes come from the dataset
    out.push_back(key + "=" + rcnn::field_json(m_current, *f));
  }
  return out;
}

void TrainingPanel::setDataset(const QString& p) {
  m_dataset->setText(p);
}
void TrainingPanel::showTimelineTab() {
  m_tabs->setCurrentWidget(m_timeline);
  if (auto* dock = qobject_cast<QDockWidget*>(parentWidget())) dock->raise();
}
void TrainingPanel::setProbeImages(int n) {
  m_probes->setValue(n);
}
void TrainingPanel::setIterations(int n) {
  m_iters->setValue(n);
}
QString TrainingPanel::runDir() const {
  return QDir("runs").filePath(m_name->text());
}
int TrainingPanel::logLines() const {
  return m_log->blockCount();
}

void TrainingPanel::start(bool resume) {
  if (m_running) return;
  rcnn::api::TrainRequest r;
  r.dataset = m_dataset->text().toStdString();
  r.config = m_preset->currentText().toStdString();
  r.run_dir = runDir().toStdString();
  r.resume = resume;
  r.max_iters = m_iters->value();
  r.nproc = m_procs->value();
  r.device = m_device->currentData().toString().toStdString();
  r.eval_max_images = 60;
  r.probe_images = m_probes->value();
  r.overrides = overrides();
  // A torchvision preset fine-tunes the torchvision model the studio has open.
  if (rcnn::is_torchvision(r.config) && m_initCheckpoint.endsWith(".pth"))
    r.init_checkpoint = m_initCheckpoint.toStdString();
  if (!resume) {
    for (auto* s : {m_total, m_rpnObj, m_rpnBox, m_roiCls, m_roiBox, m_lr, m_map}) s->clear();
    m_maxLoss = 0.1;
  }
  m_start->setEnabled(false);
  m_resume->setEnabled(false);
  m_stop->setEnabled(true);
  m_status->setText(resume ? "resuming…" : "starting…");
  appendLog(QString("%1 %2 on %3 → %4")
                .arg(resume ? "resume" : "start", m_preset->currentText(),
                     m_dataset->text().isEmpty() ? "the embedded dataset" : m_dataset->text(), runDir()));
  {
    QStringList o;
    for (const auto& kv : r.overrides) o << QString::fromStdString(kv);
    if (!r.init_checkpoint.empty()) appendLog("fine-tuning " + m_initCheckpoint);
    appendLog(o.isEmpty() ? QString("config: the preset as is (no edits of it in the Parameters panel)")
                          : QString("config: the preset with the Parameters panel's edits: %1").arg(o.join(", ")));
  }
  rcnn::api::TrainEvents ev;
  ev.on_progress = [this](const rcnn::api::TrainProgress& p) {
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    if (now - m_lastUi < 100 && p.iter != p.max_iters) return;  // at most 10 UI updates per second
    m_lastUi = now;
    QMetaObject::invokeMethod(
        this, [this, p] { onProgress(p); }, Qt::QueuedConnection);
  };
  ev.on_log = [this](const rcnn::api::TrainProgress& p) {
    QMetaObject::invokeMethod(
        this, [this, p] { onLog(p); }, Qt::QueuedConnection);
  };
  ev.on_message = [this](const std::string& m) {
    QMetaObject::invokeMethod(
        this, [this, s = QString::fromStdString(m)] { appendLog(s); }, Qt::QueuedConnection);
  };
  ev.on_eval = [this](int64_t it, double m) {
    QMetaObject::invokeMethod(
        this,
        [this, it, m] {
          m_map->append(double(it), m);
          m_mapX->setRange(0, std::max<double>(10, double(it)));
          appendLog(QString("eval @%1: val mAP@0.5 = %2").arg(it).arg(m, 0, 'f', 4));
          m_timeline->load(runDir());  // this evaluation's probes are written just before
        },
        Qt::QueuedConnection);
  };
  ev.on_checkpoint = [this](const std::string& path, bool best) {
    QMetaObject::invokeMethod(
        this,
        [this, p = QString::fromStdString(path), best] {
          m_lastCheckpoint = p;
          m_use->setEnabled(true);
          appendLog(QString("checkpoint %1%2").arg(p, best ? " (best)" : ""));
          emit checkpointWritten(p, best);
        },
        Qt::QueuedConnection);
  };
  m_running = m_runner.startTraining(r, ev, [this](const rcnn::api::TrainOutcome& o) {
    QMetaObject::invokeMethod(
        this, [this, o] { finish(o); }, Qt::QueuedConnection);
  });
}

void TrainingPanel::stop() {
  if (!m_running) return;
  m_runner.stopTraining();
  m_status->setText("stopping after this iteration…");
}

void TrainingPanel::finish(const rcnn::api::TrainOutcome& o) {
  m_running = false;
  m_start->setEnabled(true);
  m_resume->setEnabled(true);
  m_stop->setEnabled(false);
  const QString msg = QString::fromStdString(o.message);
  m_status->setText(QString("%1: %2").arg(QString::fromStdString(o.state), msg));
  appendLog(QString("%1: %2").arg(QString::fromStdString(o.state), msg));
  m_timeline->load(runDir());
  if (o.state == "failed") emit message("Training failed: " + msg);
  emit finished(QString::fromStdString(o.state), msg);
}

void TrainingPanel::onProgress(const rcnn::api::TrainProgress& p) {
  m_progress->setRange(0, int(p.max_iters));
  m_progress->setValue(int(p.iter));
  m_status->setText(QString("iter %1/%2 · epoch %3 · loss %4 · lr %5 · %6 img/s · ETA %7")
                        .arg(p.iter)
                        .arg(p.max_iters)
                        .arg(p.epoch)
                        .arg(p.loss, 0, 'f', 3)
                        .arg(p.lr, 0, 'g', 3)
                        .arg(p.images_per_s, 0, 'f', 1)
                        .arg(hms(p.eta_s)));
}

void TrainingPanel::onLog(const rcnn::api::TrainProgress& p) {
  onProgress(p);
  const double x = double(p.iter);
  auto get = [&](const char* k) {
    auto it = p.losses.find(k);
    return it == p.losses.end() ? 0.0 : it->second;
  };
  m_total->append(x, p.loss);
  m_rpnObj->append(x, get("rpn_obj"));
  m_rpnBox->append(x, get("rpn_box"));
  m_roiCls->append(x, get("roi_cls"));
  m_roiBox->append(x, get("roi_box"));
  m_lr->append(x, p.lr);
  m_maxLoss = std::max(m_maxLoss, p.loss * 1.05);
  m_lossX->setRange(0, std::max<double>(10, x));
  m_lossY->setRange(0, m_maxLoss);
  m_lrX->setRange(0, std::max<double>(10, x));
  m_lrY->setRange(0, std::max(m_lrY->max(), p.lr * 1.1));
  appendLog(QString("iter %1: loss %2 (rpn_obj %3, rpn_box %4, roi_cls %5, roi_box %6) lr %7")
                .arg(p.iter)
                .arg(p.loss, 0, 'f', 4)
                .arg(get("rpn_obj"), 0, 'f', 4)
                .arg(get("rpn_box"), 0, 'f', 4)
                .arg(get("roi_cls"), 0, 'f', 4)
                .arg(get("roi_box"), 0, 'f', 4)
                .arg(p.lr, 0, 'g', 3));
}

void TrainingPanel::appendLog(const QString& s) {
  m_log->appendPlainText(s);
}

}  // namespace studio
