// A classifier's scores as the commands print and write them: the confusion matrix and each
// class's precision, recall and F1 (the matrix itself: rnnattn/trainer.hpp's Confusion).
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "cli/common.hpp"
#include "cli/json.hpp"

namespace rnnattn::cli {

std::vector<std::string> class_names(const std::vector<std::string>& labels, int classes) {
  if (static_cast<int>(labels.size()) == classes) return labels;
  std::vector<std::string> names;
  for (int k = 0; k < classes; ++k) names.push_back(std::to_string(k));
  return names;
}

namespace {

// The mean of a per-class score over the classes where it is defined (NaN where none is).
template <typename Score>
double macro_average(const Confusion& cm, Score score) {
  double sum = 0;
  int n = 0;
  for (int k = 0; k < cm.classes; ++k) {
    const double v = score(k);
    if (!std::isnan(v)) sum += v, ++n;
  }
  return n ? sum / n : NAN;
}

// A score as printed: four decimals, or "-" where it is undefined.
std::string shown(double v) {
  if (std::isnan(v)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

}  // namespace

void print_confusion(const Confusion& cm, const std::vector<std::string>& names) {
  const int K = cm.classes;
  int width = 9;  // "predicted"
  for (const std::string& n : names) width = std::max(width, static_cast<int>(n.size()));
  std::printf("# confusion (rows: true class, columns: predicted)\n# %-*s", width, "");
  for (int p = 0; p < K; ++p) std::printf("  %*s", width, names[p].c_str());
  std::printf("\n");
  for (int t = 0; t < K; ++t) {
    std::printf("# %-*s", width, names[t].c_str());
    for (int p = 0; p < K; ++p) std::printf("  %*ld", width, cm.at(t, p));
    std::printf("\n");
  }
  std::printf("# %-*s  precision  recall     F1         support\n", width, "class");
  for (int k = 0; k < K; ++k) {
    long support = 0;
    for (int p = 0; p < K; ++p) support += cm.at(k, p);
    std::printf("# %-*s  %-9s  %-9s  %-9s  %ld\n", width, names[k].c_str(),
                shown(cm.precision(k)).c_str(), shown(cm.recall(k)).c_str(),
                shown(cm.f1(k)).c_str(), support);
  }
  std::printf("# %-*s  %-9s  %-9s  %-9s  %ld\n", width, "macro avg",
              shown(macro_average(cm, [&](int k) { return cm.precision(k); })).c_str(),
              shown(macro_average(cm, [&](int k) { return cm.recall(k); })).c_str(),
              shown(macro_average(cm, [&](int k) { return cm.f1(k); })).c_str(), cm.total());
}

void confusion_json(Json& j, const Confusion& cm, const std::vector<std::string>& names) {
  const int K = cm.classes;
  j.begin_object("confusion");
  j.begin_array("classes");
  for (const std::string& n : names) j.value(nullptr, n);
  j.end_array();
  j.begin_array("matrix");  // rows: true class
  for (int t = 0; t < K; ++t) {
    j.begin_array();
    for (int p = 0; p < K; ++p) j.value(nullptr, static_cast<long long>(cm.at(t, p)));
    j.end_array();
  }
  j.end_array();
  j.begin_array("per_class");
  for (int k = 0; k < K; ++k) {
    long support = 0;
    for (int p = 0; p < K; ++p) support += cm.at(k, p);
    j.begin_object()
        .value("class", names[k])
        .value("precision", cm.precision(k))
        .value("recall", cm.recall(k))
        .value("f1", cm.f1(k))
        .value("support", static_cast<long long>(support))
        .end_object();
  }
  j.end_array();
  j.value("macro_f1", macro_average(cm, [&](int k) { return cm.f1(k); }));
  if (K == 2) {
    j.value("true_negative", static_cast<long long>(cm.at(0, 0)))
        .value("false_positive", static_cast<long long>(cm.at(0, 1)))
        .value("false_negative", static_cast<long long>(cm.at(1, 0)))
        .value("true_positive", static_cast<long long>(cm.at(1, 1)));
  }
  j.end_object();
}

}  // namespace rnnattn::cli
