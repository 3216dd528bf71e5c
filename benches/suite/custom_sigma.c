/* A user activation for the "limit custom" bench rows: sigma = tanh, sigma' = 1 - tanh^2, through
 * the C callback interface (ntk_scalar_fn), so the numerical path runs without knowing the
 * activation. Built by ntk_workloads.custom_fns() with the system C compiler. */
#include <math.h>
double ntk_bench_sigma(double x, void *user_data) { (void)user_data; return tanh(x); }
double ntk_bench_dsigma(double x, void *user_data) {
    (void)user_data;
    double t = tanh(x);
    return 1.0 - t * t;
}
