/*
 * fuzz_ml_xgb.c - the XGBoost JSON model importer on arbitrary bytes
 * (invariants in fuzz_ml_import.inc).
 */
#define FUZZ_TREES cairn_model__xgboost_trees
#define FUZZ_IMPORT cairn_model_import_xgboost
#include "fuzz_ml_import.inc"
