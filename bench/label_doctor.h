#pragma once
// rcnn_bench --label-doctor (bench/label_doctor.cpp): the label doctor against
// known answers, beside FiftyOne's and ObjectLab's rules on the same predictions.
namespace rcnn::bench {
int label_doctor_main(int argc, char** argv);
}  // namespace rcnn::bench
