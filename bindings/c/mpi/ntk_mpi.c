/*
 * ntk_mpi.c -- distributed kernels and kernel gradient descent with MPI on the ntk C API.
 *
 * The N training points are split into contiguous row blocks, one per rank (sizes differ by at
 * most one). Every rank prepares the per-point data of ALL N points once (the columns of its
 * block: O(N L) for the limit kernel, O(N * width) for the empirical one) and computes its block
 * K(X[r0:r1], X) with one tile call -- no rank ever holds more than its (r1 - r0) x N block.
 * Limit: rows and columns use the same points handle (the kernel of X2 = X1, whose diagonal
 * comes from the per-point chains, as in the single-process kernel). Empirical: the rank
 * prepares features of its own rows only (a point's features do not depend on its batch).
 *
 * Kernels (-k): "limit" = the infinite-width NTK Theta_inf (ntk_kernel_limit_tile),
 *               "empirical" = the trace-mode empirical NTK of a finite network
 *               (ntk_kernel_empirical_tile); "both" runs one after the other.
 *
 * Flow: MSE kernel gradient descent with explicit steps from f = 0,
 *     f <- f - (eta/N) K (f - y),        f_test <- f_test - (eta/N) K(X_test, X) (f - y),
 * each step one local block x vector product and one MPI_Allgatherv of the updated rows; the test
 * rows are distributed too and use the gathered residual. Every dot product runs over j = 0..N-1
 * in order, exactly as in the single-process loop.
 *
 * Check (-c): rank 0 also computes the single-process kernels (ntk_kernel_limit /
 * ntk_kernel_empirical on all points) and the same flow, and compares: gathered kernel blocks
 * (train and test) bit for bit, flow outputs to 1e-12 (relative to max(1, |value|)).
 * Exit status 0 iff every check passed; the last line of rank 0 is "PASS" or "FAIL".
 *
 * Bench (-b): only the kernel blocks; prints the time (max over ranks, between barriers) and
 * each rank's peak resident memory (VmHWM).
 *
 * Options: -N train points (400)  -M test points (100)  -d input dim (10)  -L depth (3)
 *          -w hidden width of the empirical network (64)  -B beta (0.1)  -s steps (50)
 *          -e eta (0.5)  -k limit|empirical|both (both)  -1 one library thread per rank
 *          -c check against single-process  -b benchmark the kernel only
 *          --w-std, --b-std, --parameterization ntk|standard, --activation: per-layer or uniform
 *          architecture (ntk_mpi_arch.h; the defaults are the uniform sigma_w = 1, sigma_b = beta,
 *          ReLU, NTK network of the options above). The network is built with
 *          ntk_network_create_arch; the limit kernel's hidden widths are the -w width (they only
 *          matter in the standard parameterization).
 *
 * Run: mpirun -np 2 ./ntk_mpi -c -1        (as root: mpirun --allow-run-as-root ...)
 */
#include <mpi.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ntk.h"
#include "ntk_mpi_arch.h"
#include "ntk_mpi_common.h"

#define KIND_LIMIT 0
#define KIND_EMPIRICAL 1

typedef struct {
    size_t n, m, d, depth, width, steps;
    double beta, eta;
    int kinds, one_thread, check, bench;
    arch_options arch;
} options;

/* Deterministic inputs in [-1.5, 1.5) (identical on every rank). */
static void fill(double *x, size_t n, unsigned long seed) {
    size_t i;
    unsigned long s = seed * 2654435761UL + 12345UL;
    for (i = 0; i < n; i++) {
        s = (s * 1103515245UL + 12345UL) & 0x7fffffffUL;
        x[i] = 3.0 * ((double)s / 2147483648.0) - 1.5;
    }
}

/* Peak resident set size of this process in MiB (VmHWM), or -1. */
static double vmhwm_mib(void) {
    char line[256];
    double kb = -1.0;
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL) return -1.0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "VmHWM:", 6) == 0) {
            kb = atof(line + 6);
            break;
        }
    }
    fclose(f);
    return kb < 0 ? -1.0 : kb / 1024.0;
}

/* Contiguous row split: counts/displacements of n rows over the ranks. */
static void split(size_t n, int *counts, int *displs) {
    int r;
    size_t off = 0;
    for (r = 0; r < size_; r++) {
        size_t c = n / (size_t)size_ + ((size_t)r < n % (size_t)size_ ? 1 : 0);
        counts[r] = (int)c;
        displs[r] = (int)off;
        off += c;
    }
}

/* The kernel of one kind: its model and per-point data. */
typedef struct {
    int kind;
    ntk_network *net; /* the network (empirical) or just its architecture (limit) */
} kernel;

typedef struct {
    ntk_empirical_features *ef;
    ntk_limit_points *lp;
} prepared;

static prepared prepare(const kernel *k, const double *x, size_t n, size_t d) {
    prepared p;
    p.ef = NULL;
    p.lp = NULL;
    if (k->kind == KIND_EMPIRICAL)
        NTK_OK(ntk_empirical_features_create(k->net, ntk_matrix_row_major(x, n, d), NULL, &p.ef));
    else
        NTK_OK(ntk_limit_points_create(k->net, ntk_matrix_row_major(x, n, d), NULL, &p.lp));
    return p;
}

static void release(prepared *p) {
    ntk_empirical_features_free(p->ef);
    ntk_limit_points_free(p->lp);
}

/* out (i1-i0) x (j1-j0), row-major: K(rows[i0:i1], cols[j0:j1]). */
static void block(const kernel *k, const prepared *rows, size_t i0, size_t i1, const prepared *cols, size_t j0,
                  size_t j1, double *out) {
    ntk_matrix_mut o = ntk_matrix_strided_mut(out, i1 - i0, j1 - j0, (ptrdiff_t)(j1 - j0), 1);
    if (k->kind == KIND_EMPIRICAL)
        NTK_OK(ntk_kernel_empirical_tile(k->net, rows->ef, i0, i1, cols->ef, j0, j1, NTK_KERNEL_MODE_TRACE, o,
                                         NULL));
    else
        NTK_OK(ntk_kernel_limit_tile(rows->lp, i0, i1, cols->lp, j0, j1, NULL, NULL, &o, NULL));
}

/* Single-process kernel K(X1, X2) (x2 = NULL: X2 = X1), n1 x n2 row-major. */
static void whole(const kernel *k, const double *x1, size_t n1, const double *x2, size_t n2, size_t d, double *out) {
    ntk_matrix a = ntk_matrix_row_major(x1, n1, d), b;
    ntk_matrix_mut o = ntk_matrix_strided_mut(out, n1, x2 != NULL ? n2 : n1, (ptrdiff_t)(x2 != NULL ? n2 : n1), 1);
    if (x2 != NULL) b = ntk_matrix_row_major(x2, n2, d);
    if (k->kind == KIND_EMPIRICAL)
        NTK_OK(ntk_kernel_empirical(k->net, a, x2 != NULL ? &b : NULL, NTK_KERNEL_MODE_TRACE,
                                    NTK_KERNEL_METHOD_STRUCTURED, o, NULL));
    else
        NTK_OK(ntk_kernel_limit(k->net, a, x2 != NULL ? &b : NULL, NULL, NULL, &o, NULL));
}

/* rows x n block times the residual, in the fixed order j = 0..n-1: u -= c * K r. */
static void step_rows(const double *kb, size_t rows, size_t n, const double *r, double c, double *u) {
    size_t i, j;
    for (i = 0; i < rows; i++) {
        const double *ki = kb + i * n;
        double acc = 0.0;
        for (j = 0; j < n; j++) acc += ki[j] * r[j];
        u[i] -= c * acc;
    }
}

static double max_rel_diff(const double *a, const double *b, size_t n) {
    size_t i;
    double worst = 0.0;
    for (i = 0; i < n; i++) {
        double e = fabs(a[i] - b[i]) / fmax(1.0, fmax(fabs(a[i]), fabs(b[i])));
        if (!(e <= worst)) worst = e;
    }
    return worst;
}

static size_t bits_differ(const double *a, const double *b, size_t n) {
    size_t i, bad = 0;
    for (i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof(double)) != 0) bad++;
    return bad;
}

/* Gathers row blocks (each count[r] rows of n doubles) to rank 0. */
static void gather_rows(const double *local, size_t rows, size_t n, const int *counts, const int *displs, double *all) {
    int r, *rc = (int *)xmalloc((size_t)size_ * sizeof(int)), *rd = (int *)xmalloc((size_t)size_ * sizeof(int));
    for (r = 0; r < size_; r++) {
        rc[r] = counts[r] * (int)n;
        rd[r] = displs[r] * (int)n;
    }
    MPI_Gatherv(local, (int)(rows * n), MPI_DOUBLE, all, rc, rd, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    free(rc);
    free(rd);
}

/* Runs one kernel kind; returns the number of failed checks (rank 0), 0 elsewhere. */
static int run_kind(const options *o, int kind, const double *x, const double *y, const double *xt) {
    const char *name = kind == KIND_LIMIT ? "limit" : "empirical";
    kernel k;
    prepared all, mine, mine_t;
    int *cnt = (int *)xmalloc((size_t)size_ * sizeof(int)), *dsp = (int *)xmalloc((size_t)size_ * sizeof(int));
    int *cnt_t = (int *)xmalloc((size_t)size_ * sizeof(int)), *dsp_t = (int *)xmalloc((size_t)size_ * sizeof(int));
    size_t n = o->n, m = o->m, d = o->d, r0, rows, t0, trows, s;
    double *kb, *kt, *f, *ft, *res, *floc, *ftloc, t_start, t_kernel, hwm, cpu, c = o->eta / (double)o->n;
    clock_t cpu_start;
    int failures = 0;

    memset(&k, 0, sizeof k);
    k.kind = kind;
    {
        /* The limit kernel uses the network's depth, per-layer sigmas and activations, and (in
         * the standard parameterization only) its hidden widths. */
        size_t *widths = (size_t *)xmalloc((o->depth + 1) * sizeof(size_t)), l;
        widths[0] = d;
        for (l = 1; l < o->depth; l++) widths[l] = o->width;
        widths[o->depth] = 1;
        NTK_OK(arch_network_create(&o->arch, widths, o->depth + 1, o->beta, &k.net));
        free(widths);
    }
    split(n, cnt, dsp);
    split(m, cnt_t, dsp_t);
    r0 = (size_t)dsp[rank_];
    rows = (size_t)cnt[rank_];
    t0 = (size_t)dsp_t[rank_];
    trows = (size_t)cnt_t[rank_];

    /* Kernel blocks: K(X[r0:r0+rows], X) and K(X_test[t0:t0+trows], X). */
    MPI_Barrier(MPI_COMM_WORLD);
    t_start = MPI_Wtime();
    cpu_start = clock();
    all = prepare(&k, x, n, d);
    kb = (double *)xmalloc(rows * n * sizeof(double));
    memset(&mine, 0, sizeof mine);
    if (kind == KIND_LIMIT) {
        /* Same handle for rows and columns: the kernel of X2 = X1 (diagonal from the per-point
         * chains, as in the single-process symmetric kernel). Preparing all N points costs O(N L). */
        if (rows > 0) block(&k, &all, r0, r0 + rows, &all, 0, n, kb);
    } else if (rows > 0) {
        /* Empirical: features of this rank's rows only (equal to those computed in any batch). */
        mine = prepare(&k, x + r0 * d, rows, d);
        block(&k, &mine, 0, rows, &all, 0, n, kb);
    }
    kt = (double *)xmalloc(trows * n * sizeof(double));
    memset(&mine_t, 0, sizeof mine_t);
    if (!o->bench && trows > 0) {
        mine_t = prepare(&k, xt + t0 * d, trows, d);
        block(&k, &mine_t, 0, trows, &all, 0, n, kt);
    }
    t_kernel = MPI_Wtime() - t_start;
    cpu = (double)(clock() - cpu_start) / CLOCKS_PER_SEC;
    MPI_Barrier(MPI_COMM_WORLD);
    {
        double tmax;
        MPI_Reduce(&t_kernel, &tmax, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
        t_kernel = tmax;
    }
    hwm = vmhwm_mib();
    if (o->bench) {
        double *h = (double *)xmalloc(2 * (size_t)size_ * sizeof(double)), mine2[2];
        int r;
        mine2[0] = hwm;
        mine2[1] = cpu;
        MPI_Gather(mine2, 2, MPI_DOUBLE, h, 2, MPI_DOUBLE, 0, MPI_COMM_WORLD);
        if (rank_ == 0) {
            printf("%s kernel: N = %lu, ranks = %d, time %.3f s (max over ranks), block %lu x %lu per rank\n", name,
                   (unsigned long)n, size_, t_kernel, (unsigned long)cnt[0], (unsigned long)n);
            for (r = 0; r < size_; r++)
                printf("  rank %d: VmHWM %.1f MiB, CPU time %.3f s\n", r, h[2 * r], h[2 * r + 1]);
        }
        free(h);
        goto done;
    }
    if (rank_ == 0)
        printf("%s: N = %lu, M = %lu, %d ranks, kernel blocks in %.3f s\n", name, (unsigned long)n,
               (unsigned long)m, size_, t_kernel);

    /* Distributed flow. */
    f = (double *)xmalloc(n * sizeof(double));
    ft = (double *)xmalloc((m > 0 ? m : 1) * sizeof(double));
    res = (double *)xmalloc(n * sizeof(double));
    floc = (double *)xmalloc((rows > 0 ? rows : 1) * sizeof(double));
    ftloc = (double *)xmalloc((trows > 0 ? trows : 1) * sizeof(double));
    memset(f, 0, n * sizeof(double));
    memset(ftloc, 0, (trows > 0 ? trows : 1) * sizeof(double));
    for (s = 0; s < o->steps; s++) {
        size_t i;
        for (i = 0; i < n; i++) res[i] = f[i] - y[i];
        memcpy(floc, f + r0, rows * sizeof(double));
        step_rows(kb, rows, n, res, c, floc);
        step_rows(kt, trows, n, res, c, ftloc);
        MPI_Allgatherv(floc, (int)rows, MPI_DOUBLE, f, cnt, dsp, MPI_DOUBLE, MPI_COMM_WORLD);
    }
    MPI_Gatherv(ftloc, (int)trows, MPI_DOUBLE, ft, cnt_t, dsp_t, MPI_DOUBLE, 0, MPI_COMM_WORLD);

    if (o->check) {
        double *kall = rank_ == 0 ? (double *)xmalloc(n * n * sizeof(double)) : NULL;
        double *ktall = rank_ == 0 ? (double *)xmalloc((m > 0 ? m : 1) * n * sizeof(double)) : NULL;
        gather_rows(kb, rows, n, cnt, dsp, kall);
        gather_rows(kt, trows, n, cnt_t, dsp_t, ktall);
        if (rank_ == 0) {
            double *kref = (double *)xmalloc(n * n * sizeof(double));
            double *ktref = (double *)xmalloc((m > 0 ? m : 1) * n * sizeof(double));
            double *fr = (double *)xmalloc(n * sizeof(double)), *ftr = (double *)xmalloc((m > 0 ? m : 1) * sizeof(double));
            double *fnew = (double *)xmalloc(n * sizeof(double));
            double df, dft, loss0 = 0.0, loss = 0.0;
            size_t bad_k, bad_t, i;
            whole(&k, x, n, NULL, 0, d, kref);
            if (m > 0) whole(&k, xt, m, x, n, d, ktref);
            memset(fr, 0, n * sizeof(double));
            memset(ftr, 0, (m > 0 ? m : 1) * sizeof(double));
            for (s = 0; s < o->steps; s++) {
                for (i = 0; i < n; i++) res[i] = fr[i] - y[i];
                memcpy(fnew, fr, n * sizeof(double));
                step_rows(kref, n, n, res, c, fnew);
                step_rows(ktref, m, n, res, c, ftr);
                memcpy(fr, fnew, n * sizeof(double));
            }
            bad_k = bits_differ(kall, kref, n * n);
            bad_t = bits_differ(ktall, ktref, m * n);
            df = max_rel_diff(f, fr, n);
            dft = max_rel_diff(ft, ftr, m);
            for (i = 0; i < n; i++) {
                loss0 += y[i] * y[i];
                loss += (f[i] - y[i]) * (f[i] - y[i]);
            }
            printf("%s: train kernel blocks vs single-process: %lu of %lu entries differ bitwise\n", name,
                   (unsigned long)bad_k, (unsigned long)(n * n));
            printf("%s: test kernel blocks vs single-process: %lu of %lu entries differ bitwise\n", name,
                   (unsigned long)bad_t, (unsigned long)(m * n));
            printf("%s: %lu steps, eta = %g: train loss %.6g -> %.6g; flow vs single-process: train %.3g, test %.3g"
                   " (max relative difference)\n",
                   name, (unsigned long)o->steps, o->eta, loss0 / (double)n, loss / (double)n, df, dft);
            failures += bad_k != 0;
            failures += bad_t != 0;
            failures += !(df <= 1e-12);
            failures += !(dft <= 1e-12);
            failures += !(loss < loss0); /* gradient descent must decrease the loss */
            free(kref);
            free(ktref);
            free(fr);
            free(ftr);
            free(fnew);
        }
        free(kall);
        free(ktall);
    }
    free(f);
    free(ft);
    free(res);
    free(floc);
    free(ftloc);
done:
    release(&all);
    release(&mine);
    release(&mine_t);
    free(kb);
    free(kt);
    free(cnt);
    free(dsp);
    free(cnt_t);
    free(dsp_t);
    ntk_network_free(k.net);
    return failures;
}

static size_t arg_size(const char *s) {
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*end != '\0') {
        fprintf(stderr, "bad number: %s\n", s);
        exit(1);
    }
    return (size_t)v;
}

int main(int argc, char **argv) {
    options o;
    int i, failures = 0, total = 0;
    double *x, *y, *xt;
    size_t j;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    o.n = 400;
    o.m = 100;
    o.d = 10;
    o.depth = 3;
    o.width = 64;
    o.steps = 50;
    o.beta = 0.1;
    o.eta = 0.5;
    o.kinds = 3;
    o.one_thread = 0;
    o.check = 0;
    o.bench = 0;
    arch_defaults(&o.arch);
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : "";
        int ar = arch_parse_option(&o.arch, argc, argv, &i, rank_);
        if (ar < 0) o.kinds = 0;
        else if (ar > 0) continue;
        else if (strcmp(a, "-1") == 0) o.one_thread = 1;
        else if (strcmp(a, "-c") == 0) o.check = 1;
        else if (strcmp(a, "-b") == 0) o.bench = 1;
        else if (strcmp(a, "-N") == 0) o.n = arg_size(v), i++;
        else if (strcmp(a, "-M") == 0) o.m = arg_size(v), i++;
        else if (strcmp(a, "-d") == 0) o.d = arg_size(v), i++;
        else if (strcmp(a, "-L") == 0) o.depth = arg_size(v), i++;
        else if (strcmp(a, "-w") == 0) o.width = arg_size(v), i++;
        else if (strcmp(a, "-s") == 0) o.steps = arg_size(v), i++;
        else if (strcmp(a, "-B") == 0) o.beta = atof(v), i++;
        else if (strcmp(a, "-e") == 0) o.eta = atof(v), i++;
        else if (strcmp(a, "-k") == 0) {
            o.kinds = strcmp(v, "limit") == 0 ? 1 : strcmp(v, "empirical") == 0 ? 2 : strcmp(v, "both") == 0 ? 3 : 0;
            i++;
        } else o.kinds = 0;
        if (o.kinds == 0 || o.n == 0 || o.d == 0 || o.depth == 0) {
            if (rank_ == 0) fprintf(stderr, "usage: ntk_mpi [-N n] [-M m] [-d d] [-L depth] [-w width] [-B beta] "
                                            "[-s steps] [-e eta] [-k limit|empirical|both] [-1] [-c] [-b] "
                                            "[--w-std s[,s...]] [--b-std s[,s...]] "
                                            "[--parameterization ntk|standard] [--activation a[,a...]]\n");
            MPI_Finalize();
            return 1;
        }
    }
    if (!arch_check(&o.arch, o.depth, rank_)) {
        MPI_Finalize();
        return 1;
    }
    if (rank_ == 0) arch_print(&o.arch, o.depth, o.beta);
    if (o.one_thread) NTK_OK(ntk_set_num_threads(1));

    x = (double *)xmalloc(o.n * o.d * sizeof(double));
    y = (double *)xmalloc(o.n * sizeof(double));
    xt = (double *)xmalloc((o.m > 0 ? o.m : 1) * o.d * sizeof(double));
    fill(x, o.n * o.d, 1);
    fill(xt, o.m * o.d, 2);
    for (j = 0; j < o.n; j++) y[j] = sin(2.0 * x[j * o.d]) + 0.5 * x[j * o.d + (o.d > 1 ? 1 : 0)];

    if (o.kinds & 1) {
        failures += run_kind(&o, KIND_LIMIT, x, y, xt);
        total++;
    }
    if (o.kinds & 2) {
        failures += run_kind(&o, KIND_EMPIRICAL, x, y, xt);
        total++;
    }
    free(x);
    free(y);
    free(xt);
    if (rank_ == 0 && o.check) printf("%s\n", failures == 0 ? "PASS" : "FAIL");
    MPI_Bcast(&failures, 1, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Finalize();
    (void)total;
    return failures == 0 ? 0 : 1;
}
