// The Label issues panel on the embedded val split with the bundled model:
// find, rank, open with the fix drawn, A / R / Ctrl+Z, filter, export a
// corrected VOC folder, reopen it; the dataset's own files keep their bytes.
#include <QComboBox>
#include <QDirIterator>
#include <QDockWidget>
#include <QPushButton>
#include <QTableWidget>
#include <QTemporaryDir>
#include <map>

#include "panels/dataset_panel.h"
#include "panels/label_issues_panel.h"
#include "studio_test_util.h"

using namespace rcnn::api;

namespace {
std::map<QString, QByteArray> annotationBytes(const QString& root) {
  std::map<QString, QByteArray> out;
  QDirIterator it(root + "/Annotations", {"*.xml"});
  while (it.hasNext()) {
    QFile f(it.next());
    if (f.open(QIODevice::ReadOnly)) out[f.fileName()] = f.readAll();
  }
  return out;
}
}  // namespace

class LabelIssuesTest : public QObject, StudioFixture {
  Q_OBJECT

 private slots:
  void initTestCase() {
    QVERIFY(openWindow());
    quiesce();
  }

  void findOpenDecideExportAndReopen() {
    const QString root = QString::fromStdString(default_dataset_dir());
    const auto before = annotationBytes(root);
    QVERIFY(before.size() >= 60);
    auto* p = w->labelIssuesPanel();
    w->findChild<QDockWidget*>("Label issues")->raise();
    p->setSplit("val");
    p->setFolds(0);
    QSignalSpy done(p, &studio::LabelIssuesPanel::finished);
    QTest::mouseClick(p->findChild<QPushButton*>("labelRun"), Qt::LeftButton);
    QTRY_VERIFY_WITH_TIMEOUT(done.count() == 1, 180000);
    auto* t = p->table();
    const auto& dec = p->decisions();
    QVERIFY(t->rowCount() > 5);
    QCOMPARE(size_t(t->rowCount()), dec.size());
    for (int r = 1; r < t->rowCount(); ++r)  // ranked
      QVERIFY(t->item(r - 1, 3)->text().toDouble() >= t->item(r, 3)->text().toDouble());
    QVERIFY(!t->item(0, 0)->icon().isNull());  // a thumbnail

    // Selecting a row opens its image with the issue drawn.
    const int traces = w->tracesReceived();
    t->setFocus();
    t->setCurrentCell(0, 1);
    const auto first = dec[0];
    QTRY_COMPARE(w->context()->labelMark().path.isEmpty(), false);
    QVERIFY(w->context()->labelMark().path.endsWith(QString::fromStdString(first.image) + ".jpg"));
    QCOMPARE(w->context()->stage(), Stage::Image);
    waitNewTrace(traces);
    quiesce();
    QCOMPARE(QString::fromStdString(w->context()->trace()->image_path), w->context()->labelMark().path);
    settle();
    QVERIFY(w->grab().save(artifacts + "/label_issue.png"));

    // A accepts and moves on; R rejects; Ctrl+Z takes the reject back.
    QTest::keyClick(t, Qt::Key_A);
    QCOMPARE(int(dec[0].state), int(LabelDecisionState::Accepted));
    QCOMPARE(t->currentRow(), 1);
    QCOMPARE(t->item(0, 6)->text(), QString("accepted"));
    QTest::keyClick(t, Qt::Key_R);
    QCOMPARE(int(dec[1].state), int(LabelDecisionState::Rejected));
    QTest::keyClick(t, Qt::Key_Z, Qt::ControlModifier);
    QCOMPARE(int(dec[1].state), int(LabelDecisionState::Undecided));
    QCOMPARE(t->item(1, 6)->text(), QString());
    quiesce();  // row 1's image, its trace, then its mark
    QCOMPARE(QString::fromStdString(w->context()->trace()->image_path), w->context()->labelMark().path);
    settle();
    QVERIFY(w->grab().save(artifacts + "/label_issue_accepted.png"));

    // Filtering by kind hides every other kind.
    p->setFilter(int(first.issue.kind), -1);
    int shown = 0;
    for (int r = 0; r < t->rowCount(); ++r)
      if (!t->isRowHidden(r)) {
        ++shown;
        QCOMPARE(t->item(r, 2)->text(), QString(label_issue_kind_name(first.issue.kind)));
      }
    QVERIFY(shown >= 1);
    p->setFilter(-1, -1);

    // Export: the accepted fix is in the copy; the dataset's files are as they were.
    QTemporaryDir tmp;
    const QString out = tmp.path() + "/corrected";
    qApp->setProperty("rcnn_export_path", out);
    QTest::mouseClick(p->findChild<QPushButton*>("labelExport"), Qt::LeftButton);
    QVERIFY(QFile::exists(out + "/decisions.json"));
    QVERIFY(annotationBytes(root) == before);
    OpenOptions oo;
    oo.split = "val";
    const auto orig = open_dataset(root.toStdString(), oo), fixed = open_dataset(out.toStdString(), oo);
    QCOMPARE(fixed.size(), orig.size());
    const ImageEntry *a = nullptr, *b = nullptr;
    for (size_t i = 0; i < orig.size(); ++i)
      if (orig.images[i].id == first.image) a = &orig.images[i], b = &fixed.images[i];
    QVERIFY(a && b);
    const auto& is = first.issue;
    switch (is.kind) {
      case LabelIssueKind::Missing:
        QCOMPARE(b->objects.size(), a->objects.size() + 1);
        QCOMPARE(b->objects.back().label, is.suggested_label);
        break;
      case LabelIssueKind::Swapped:
        QCOMPARE(b->objects[size_t(is.gt_index)].label, is.suggested_label);
        break;
      case LabelIssueKind::BadLoc:
        QVERIFY(box_iou(b->objects[size_t(is.gt_index)].box, *is.suggested_box) > 0.9f);
        break;
      default:
        QCOMPARE(b->objects.size() + 1, a->objects.size());
    }
    // The corrected folder opens in the studio, at the fixed image.
    QVERIFY(w->openDataset(out, "val"));
    quiesce();
    const int t2 = w->tracesReceived();
    w->findChild<studio::DatasetPanel*>()->select(int(b - fixed.images.data()));
    waitNewTrace(t2);
    quiesce();
    QCOMPARE(int(w->context()->trace()->gt.size()), int(b->objects.size()));
    QVERIFY(w->context()->labelMark().path.isEmpty());  // the mark belonged to the original image
    settle();
    QVERIFY(w->grab().save(artifacts + "/label_exported.png"));
    qApp->setProperty("rcnn_export_path", QVariant());
  }

  void cleanupTestCase() { delete w; }
};

QTEST_MAIN(LabelIssuesTest)
#include "test_label_issues.moc"
