/* predict_r.h -- .Call routines of the predictive law (predict_r.c), registered by ntk_r.c. */
#ifndef NTK_PREDICT_R_H
#define NTK_PREDICT_R_H
#include <Rinternals.h>

SEXP C_predictor_create(SEXP kernel_train, SEXP nngp_train, SEXP y, SEXP config);
SEXP C_predictor_test_create(SEXP predictor, SEXP kernel_test_train, SEXP nngp_test_train,
                             SEXP nngp_test_test);
SEXP C_predictor_law(SEXP test, SEXP t, SEXP cov);
SEXP C_ensemble_law(SEXP net, SEXP x_train, SEXP y, SEXP x_test, SEXP t, SEXP config, SEXP cov);
SEXP C_predictor_free(SEXP obj);

#define NTK_PREDICT_ENTRIES                                                                    \
    ENTRY(C_predictor_create, 4), ENTRY(C_predictor_test_create, 4), ENTRY(C_predictor_law, 3), \
        ENTRY(C_ensemble_law, 7), ENTRY(C_predictor_free, 1)
#endif
