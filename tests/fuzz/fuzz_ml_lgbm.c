/*
 * fuzz_ml_lgbm.c - the LightGBM text model importer on arbitrary bytes
 * (invariants in fuzz_ml_import.inc).
 */
#define FUZZ_TREES cairn_model__lightgbm_trees
#define FUZZ_IMPORT cairn_model_import_lightgbm
#include "fuzz_ml_import.inc"
