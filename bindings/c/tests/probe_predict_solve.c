/* Process-level memory cases of the predictive law and the CG solver, one per run:
 * `probe_predict_solve CASE HEADROOM_MB EXPECT`. After its setup the probe limits its own address
 * space (setrlimit(RLIMIT_AS)) to what it uses now plus HEADROOM_MB, as a host under
 * `ulimit -v` whose memory runs out mid-session would. It exits 0 when every call returned OK or
 * ALLOCATION (never INTERNAL, never another status) and, with `expect` = "alloc" / "ok", when
 * that status was seen; an abort (faer's infallible per-thread GEMM buffer) or a hang is caught
 * by the runner (tests/c_reliability.rs).
 *
 * (Not named reliability_*.c: scripts/sanitizers.sh runs those without arguments.)
 *
 * Cases:
 *   predictor  a 64 x 64 law (Theta, Sigma from a 64-point problem) is created without a limit;
 *              then ntk_set_num_threads gives a NEW pool, whose threads have not yet got faer's
 *              GEMM buffer, the limit is set, and ntk_predictor_test_create + ntk_predictor_law
 *              run their faer products on those threads; then ntk_predictor_create of a second
 *              law and ntk_ensemble_law. Without the guard (ensure_gemm_workspace) a small
 *              headroom aborted in the backend's buffer allocation.
 *   solver     ntk_solver_create of 4000 points with rank 200 and a 64 MiB row cache (8 N r =
 *              6.4 MB and the cache, allocated before any kernel work), then solve and predict.
 *
 * Usage: probe_predict_solve CASE HEADROOM_MB EXPECT with EXPECT "alloc" (at least one
 * ALLOCATION), "ok" (all OK) or "any"; HEADROOM_MB = 0 sets no limit (the controls).
 */
#define _POSIX_C_SOURCE 200809L
#include "ntk_test.h"

#include <sys/resource.h>
#include <time.h>

static int allocs = 0, oks = 0;

/* A call under the limit: OK or ALLOCATION (counted), never another status. */
static void seen(ntk_status st, const char *what) {
    printf("%s: %s %s\n", what, ntk_status_str(st), st == NTK_STATUS_OK ? "" : ntk_last_error());
    if (st == NTK_STATUS_OK)
        oks++;
    else if (st == NTK_STATUS_ALLOCATION)
        allocs++;
    CHECKF(st == NTK_STATUS_OK || st == NTK_STATUS_ALLOCATION, "%s: %s (want OK or ALLOCATION)", what,
           ntk_status_str(st));
}

/* The address space in use now (VmSize of /proc/self/status), in bytes; 0 if unknown. */
static unsigned long long vm_size(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    unsigned long long kb = 0;
    if (!f) return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %llu kB", &kb) == 1) break;
    fclose(f);
    return kb << 10;
}

/* headroom_mb = 0: no limit (the controls). */
static int limit_to(unsigned long long headroom_mb) {
    unsigned long long now = vm_size();
    if (headroom_mb == 0) {
        printf("limit: none\n");
        return 0;
    }
    if (now == 0) {
        fprintf(stderr, "no /proc/self/status VmSize\n");
        return 1;
    }
    struct rlimit r;
    r.rlim_cur = r.rlim_max = (rlim_t)(now + (headroom_mb << 20));
    if (setrlimit(RLIMIT_AS, &r) != 0) {
        perror("setrlimit");
        return 1;
    }
    printf("limit: %llu MB in use + %llu MB\n", now >> 20, headroom_mb);
    return 0;
}

static ntk_network *network(size_t n0) {
    const size_t widths[] = {n0, 64, 64, 1};
    ntk_network_config c;
    ntk_network *net = NULL;
    memset(&c, 0, sizeof c);
    c.widths = widths;
    c.num_widths = 4;
    c.activation = NTK_ACTIVATION_RELU;
    c.beta = 0.1;
    c.seed = 7;
    CHECK_STATUS(ntk_network_create(&c, &net), NTK_STATUS_OK);
    return net;
}

#define NP 64 /* training points */
#define MP 64 /* test points */

static int case_predictor(unsigned long long headroom) {
    static double x[(NP + MP) * 2], theta[(NP + MP) * (NP + MP)], sigma[(NP + MP) * (NP + MP)];
    static double y[NP], mean[MP], cov[MP * MP];
    const size_t t = NP + MP;
    ntk_network *net = network(2);
    ntk_predictor *p = NULL, *p2 = NULL;
    ntk_predictor_test *ts = NULL;
    if (!net) return 1;
    for (size_t i = 0; i < t; i++) {
        x[2 * i] = cos(0.37 * (double)i);
        x[2 * i + 1] = sin(0.37 * (double)i) * (1.0 + 0.01 * (double)i);
        if (i < NP) y[i] = sin(3.0 * x[2 * i]);
    }
    ntk_matrix xv = ntk_matrix_row_major(x, t, 2);
    ntk_matrix_mut sv = ntk_matrix_row_major_mut(sigma, t, t), tv = ntk_matrix_row_major_mut(theta, t, t);
    CHECK_STATUS(ntk_kernel_limit(net, xv, NULL, &sv, NULL, &tv, NULL), NTK_STATUS_OK);
    /* Blocks of the (NP + MP) x (NP + MP) kernels as strided views. */
    ntk_matrix txx = ntk_matrix_strided(theta, NP, NP, (ptrdiff_t)t, 1), sxx = ntk_matrix_strided(sigma, NP, NP, (ptrdiff_t)t, 1);
    ntk_matrix ttx = ntk_matrix_strided(theta + NP * t, MP, NP, (ptrdiff_t)t, 1);
    ntk_matrix stx = ntk_matrix_strided(sigma + NP * t, MP, NP, (ptrdiff_t)t, 1);
    ntk_matrix stt = ntk_matrix_strided(sigma + NP * t + NP, MP, MP, (ptrdiff_t)t, 1);
    ntk_matrix yv = ntk_matrix_row_major(y, NP, 1);
    ntk_matrix_mut mv = ntk_matrix_row_major_mut(mean, MP, 1), cv = ntk_matrix_row_major_mut(cov, MP, MP);
    ntk_matrix xtr = ntk_matrix_row_major(x, NP, 2), xte = ntk_matrix_row_major(x + 2 * NP, MP, 2);
    ntk_status st;
    CHECK_STATUS(ntk_predictor_create(NULL, txx, &sxx, yv, NULL, &p), NTK_STATUS_OK);
    if (p == NULL) return 1;
    /* A new pool: its threads have not run a faer product yet. They start asynchronously; give
     * them time to finish starting before the limit (a thread that starts under an exhausted
     * address space dies in glibc's TLS-destructor registration, outside the library's reach). */
    CHECK_STATUS(ntk_set_num_threads(3), NTK_STATUS_OK);
    {
        struct timespec pause = {0, 300000000L};
        nanosleep(&pause, NULL);
    }
    if (limit_to(headroom)) return 1;
    for (int rep = 0; rep < 2; rep++) {
        st = ntk_predictor_test_create(p, ttx, &stx, &stt, NULL, &ts);
        seen(st, "predictor_test_create");
        if (st == NTK_STATUS_OK) {
            seen(ntk_predictor_law(ts, 10.0, &mv, &cv, NULL), "predictor_law");
            ntk_predictor_test_free(ts);
            ts = NULL;
        }
        st = ntk_predictor_create(NULL, txx, &sxx, yv, NULL, &p2);
        seen(st, "predictor_create");
        ntk_predictor_free(p2);
        p2 = NULL;
        seen(ntk_ensemble_law(net, NULL, xtr, yv, xte, 10.0, &mv, &cv, NULL), "ensemble_law");
    }
    ntk_predictor_free(p);
    ntk_network_free(net);
    return 0;
}

#define NS 4000

static int case_solver(unsigned long long headroom) {
    static double x[NS * 3], y[NS], alpha[NS], f[NS];
    ntk_network *net = network(3);
    ntk_solver *s = NULL;
    ntk_solver_config cfg;
    if (!net) return 1;
    for (size_t i = 0; i < NS; i++) {
        x[3 * i] = cos(0.011 * (double)i);
        x[3 * i + 1] = sin(0.013 * (double)i);
        x[3 * i + 2] = cos(0.017 * (double)i + 1.0);
        y[i] = sin(2.0 * x[3 * i]) + x[3 * i + 1];
    }
    ntk_matrix xv = ntk_matrix_row_major(x, NS, 3), yv = ntk_matrix_row_major(y, NS, 1);
    ntk_matrix_mut av = ntk_matrix_row_major_mut(alpha, NS, 1), fv = ntk_matrix_row_major_mut(f, NS, 1);
    memset(&cfg, 0, sizeof cfg);
    cfg.kernel = NTK_SOLVER_KERNEL_LIMIT_NTK;
    cfg.precond_rank = 200;
    cfg.cache_bytes = (size_t)64 << 20;
    /* The pool first, its threads started (see case_predictor): the lazy creation of the default
     * pool under an exhausted address space is another matter (src/parallel.rs). */
    CHECK_STATUS(ntk_set_num_threads(2), NTK_STATUS_OK);
    {
        struct timespec pause = {0, 300000000L};
        nanosleep(&pause, NULL);
    }
    if (limit_to(headroom)) return 1;
    ntk_status st = ntk_solver_create(net, xv, &cfg, NULL, &s);
    seen(st, "solver_create");
    if (st == NTK_STATUS_OK) {
        ntk_solve_info info;
        st = ntk_solver_solve(s, 1e-2, yv, 1e-8, 2000, av, &info, NULL);
        seen(st, "solver_solve");
        if (st == NTK_STATUS_OK) {
            ntk_matrix a = ntk_matrix_row_major(alpha, NS, 1);
            seen(ntk_solver_predict(s, xv, a, fv, NULL), "solver_predict");
        }
    }
    ntk_solver_free(s);
    ntk_network_free(net);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 4) return 2;
    unsigned long long headroom = strtoull(argv[2], NULL, 10);
    int r;
    if (!strcmp(argv[1], "predictor")) r = case_predictor(headroom);
    else if (!strcmp(argv[1], "solver")) r = case_solver(headroom);
    else return 2;
    printf("%s +%llu MB: %d OK, %d ALLOCATION\n", argv[1], headroom, oks, allocs);
    CHECKF(r == 0, "%s: setup failed", argv[1]);
    int expect_alloc = !strcmp(argv[3], "alloc");
#if defined(__x86_64__) && defined(__GNUC__)
    /* Without AVX2+FMA or AVX-512 faer's products use no per-thread buffer: nothing to refuse. */
    if (expect_alloc && !strcmp(argv[1], "predictor") &&
        !((__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ||
          __builtin_cpu_supports("avx512f"))) {
        printf("no AVX2/FMA or AVX-512: faer's GEMM buffer is not used, ALLOCATION not required\n");
        expect_alloc = 0;
    }
#endif
    if (expect_alloc) CHECKF(allocs > 0, "no ALLOCATION under a headroom of %llu MB", headroom);
    if (!strcmp(argv[3], "ok"))
        CHECKF(allocs == 0 && oks > 0, "not all OK under a headroom of %llu MB", headroom);
    char name[64];
    snprintf(name, sizeof name, "probe_predict_solve %s %s", argv[1], argv[2]);
    return ntk_test_summary(name);
}
