#pragma once
// `nnspec export`: a study's trials and per-epoch histories as CSV or JSON, for
// pandas, spreadsheets and plotting scripts.
//
// Trials (CSV, one row per trial, refits with fold -1): study, sweep, trial id, point,
// fold, replicate, status, rank of the point in its sweep, one `param.NAME` column per
// param, one column per final metric, `mean.NAME` and `std.NAME` of each metric over
// the point's folds and replicates, then epochs, seconds, attempts, seed, end_epoch,
// reason, started_at, ended_at. Epochs (CSV): one row per trial and epoch with the
// trial's keys, the epoch, its seconds and one column per metric.
// JSON: one document with the study, its spec, every sweep with its ranked points
// (mean, std and values of each metric), and every trial with its epochs.

#include <string>

#include "runtime/report/study_data.h"

namespace nnspec::rt {

std::string exportTrialsCsv(const StudyData& study);
std::string exportEpochsCsv(const StudyData& study);
std::string exportJson(const StudyData& study);

}  // namespace nnspec::rt
