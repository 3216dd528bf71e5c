/*
 * ntk_mpi_solve.c -- distributed kernel regression (K + lambda I) alpha = Y with the limit NTK,
 * by preconditioned conjugate gradients over MPI, on the ntk C API (tiles).
 *
 * Layout: the N training points are split into contiguous row blocks, one per rank. Every rank
 * prepares the per-point chains of ALL N points once (ntk_limit_points_create, O(N L)) and owns
 * the rows r0..r1-1 of K and of every CG vector (alpha, r, z, p, q: (r1-r0) x k). Per iteration:
 *   - matvec: MPI_Allgatherv of the search directions p (N x k), then the local rows of K p,
 *     from tiles K(X[a:b], X[c:c+8192]) of 256 rows recomputed on the fly (matrix-free: one tile
 *     buffer, O(N k) memory per rank) or, with -C, from the rank's (r1-r0) x N block cached once
 *     (8 N^2 / p bytes per rank);
 *   - dot products: local partial sums, MPI_Allreduce (k values).
 * Preconditioner (distributed, the library's): a rank-r pivoted partial Cholesky factor L
 * (K ~ L L^T), each rank holding its rows of L. Pivot = argmax of the remaining diagonal
 * (MPI_Allreduce MAXLOC, lowest index on ties); the owner broadcasts the pivot's row of L; every
 * rank computes K(x_piv, own rows) with one tile and updates its rows in the library's order,
 * so L is bit-identical to the single-process factor. Applied by Woodbury,
 *   P^-1 v = (v - L (s I + L^T L)^-1 L^T v) / s,   s = lambda + tr(K - L L^T)/N,
 * with L^T L and L^T v reduced by MPI_Allreduce (r x r once, r x k per application).
 * Stopping as in ntk_solver_solve: the recursive relative residual of every column <= rtol,
 * then the true residual from one more matvec; columns above rtol restart from their alpha.
 * Predictions: test points split the same way, K(X*_own, X) alpha from tiles, gathered.
 *
 * Check (-c): rank 0 also runs the single-process solver (ntk_solver_create/_solve/_predict with
 * the same kernel, rank, lambda and rtol) and compares alpha and the predictions: relative
 * difference <= 1e-10. Exit status 0 iff the checks pass; the last line of rank 0 is PASS/FAIL.
 * Bench (-b): prints setup and solve times (max over ranks), iterations, the kernel rate and
 * each rank's peak memory (VmHWM), no check.
 *
 * Options: -N train points (1000)  -M test points (200)  -d input dim (8)  -L depth (3)
 *          -B beta (0.1)  -k right-hand sides (2)  -r preconditioner rank (50, 0 = none)
 *          -l lambda as a fraction of tr(K)/N (1e-4)  -t rtol (1e-12)  -i max iterations (5000)
 *          -C cache each rank's block  -1 one library thread per rank  -c check  -b bench
 *          -w hidden width (64; the limit kernel depends on it only in the standard
 *          parameterization)  --w-std, --b-std, --parameterization ntk|standard, --activation:
 *          per-layer or uniform architecture (ntk_mpi_arch.h; the defaults are the uniform
 *          sigma_w = 1, sigma_b = beta, ReLU, NTK network), built with ntk_network_create_arch
 * Inputs: N + M points on the unit sphere in d dimensions; targets sin(3 x_0 + j) + (j+1) x_1 x_2.
 *
 * Run: mpirun -np 2 ./ntk_mpi_solve -c -1        (as root: mpirun --allow-run-as-root ...)
 */
#include <mpi.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ntk.h"
#include "ntk_mpi_arch.h"
#include "ntk_mpi_common.h"

#define ROWS 256
#define COLS 8192

typedef struct {
    size_t n, m, d, depth, k, rank, max_it, width;
    double beta, lambda_frac, rtol;
    int cache, one_thread, check, bench;
    arch_options arch;
} options;

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
    return kb / 1024.0;
}

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

/* Deterministic points on the unit sphere (identical on every rank), row-major n x d. */
static void sphere(double *x, size_t n, size_t d, unsigned long seed) {
    size_t i, j;
    unsigned long s = seed * 2654435761UL + 12345UL;
    for (i = 0; i < n; i++) {
        double nr = 0.0;
        for (j = 0; j < d; j++) {
            double u = 0.0;
            int t;
            for (t = 0; t < 3; t++) {
                s = (s * 1103515245UL + 12345UL) & 0x7fffffffUL;
                u += (double)s / 2147483648.0 - 0.5;
            }
            x[i * d + j] = u;
            nr += u * u;
        }
        nr = sqrt(nr);
        for (j = 0; j < d; j++) x[i * d + j] /= nr;
    }
}

/* The distributed operator: this rank's rows [r0, r0 + rows) of K. */
typedef struct {
    const ntk_limit_points *p;
    size_t n, r0, rows;
    double *cache; /* rows x n row-major, or NULL (matrix-free) */
    double *tile;  /* ROWS x COLS */
    double *full;  /* n x k gathered vector */
    int *cnt, *dsp, *cntk, *dspk;
    double t_kernel;
    unsigned long long entries;
} op;

static void tile(op *o, size_t i0, size_t i1, size_t j0, size_t j1, double *out, ptrdiff_t rs) {
    ntk_matrix_mut v = ntk_matrix_strided_mut(out, i1 - i0, j1 - j0, rs, 1);
    double t = MPI_Wtime();
    NTK_OK(ntk_kernel_limit_tile(o->p, i0, i1, o->p, j0, j1, NULL, NULL, &v, NULL));
    o->t_kernel += MPI_Wtime() - t;
    o->entries += (unsigned long long)(i1 - i0) * (j1 - j0);
}

/* q_loc (rows x k, row-major) = K[own rows, :] v, with v_loc (rows x k) gathered first. The
 * product accumulates over column blocks in order. */
static void matvec(op *o, const double *v_loc, size_t k, double *q_loc) {
    size_t a, c, i, j, l;
    MPI_Allgatherv(v_loc, (int)(o->rows * k), MPI_DOUBLE, o->full, o->cntk, o->dspk, MPI_DOUBLE, MPI_COMM_WORLD);
    memset(q_loc, 0, o->rows * k * sizeof *q_loc);
    for (a = 0; a < o->rows; a += ROWS) {
        size_t h = a + ROWS < o->rows ? ROWS : o->rows - a;
        for (c = 0; c < o->n; c += COLS) {
            size_t w = c + COLS < o->n ? COLS : o->n - c;
            const double *t;
            ptrdiff_t rs;
            if (o->cache != NULL) {
                t = o->cache + a * o->n + c;
                rs = (ptrdiff_t)o->n;
            } else {
                tile(o, o->r0 + a, o->r0 + a + h, c, c + w, o->tile, (ptrdiff_t)w);
                t = o->tile;
                rs = (ptrdiff_t)w;
            }
            for (i = 0; i < h; i++) {
                const double *ti = t + (ptrdiff_t)i * rs;
                double *qi = q_loc + (a + i) * k;
                for (j = 0; j < k; j++) {
                    double s = 0.0;
                    const double *vj = o->full + c * k + j;
                    for (l = 0; l < w; l++) s += ti[l] * vj[l * k];
                    qi[j] += s;
                }
            }
        }
    }
}

/* out[j] = sum over all ranks' rows of a[i, j] b[i, j] (local sums, then MPI_Allreduce). */
static void dots(const double *a, const double *b, size_t rows, size_t k, double *out, const int *active) {
    size_t i, j;
    double *loc = (double *)xmalloc(k * sizeof *loc);
    for (j = 0; j < k; j++) {
        double s = 0.0;
        if (active == NULL || active[j])
            for (i = 0; i < rows; i++) s += a[i * k + j] * b[i * k + j];
        loc[j] = s;
    }
    MPI_Allreduce(loc, out, (int)k, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    free(loc);
}

/* The distributed preconditioner: this rank's rows of L (rows x r, column-major), the Cholesky
 * factor of M = s I + L^T L (r x r, column-major lower), the shift s. */
typedef struct {
    double *l, *chol, shift, trace, trace_residual;
    size_t r, rows;
} precond;

static void build_precond(op *o, size_t r_req, precond *pc) {
    size_t rows = o->rows, n = o->n, i, j, m, a;
    double *diag = (double *)xmalloc(rows * sizeof *diag), *d = (double *)xmalloc(rows * sizeof *d);
    double *krow = (double *)xmalloc((rows > 0 ? rows : 1) * sizeof *krow), *lpiv;
    double *blk = (double *)xmalloc(ROWS * ROWS * sizeof *blk), loc, dmax0;
    pc->rows = rows;
    /* The diagonal from diagonal tiles (its entries are the per-point chains). */
    for (a = 0; a < rows; a += ROWS) {
        size_t h = a + ROWS < rows ? ROWS : rows - a;
        tile(o, o->r0 + a, o->r0 + a + h, o->r0 + a, o->r0 + a + h, blk, (ptrdiff_t)h);
        for (i = 0; i < h; i++) diag[a + i] = blk[i * h + i];
    }
    loc = 0.0;
    for (i = 0; i < rows; i++) loc += diag[i];
    MPI_Allreduce(&loc, &pc->trace, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    loc = 0.0;
    for (i = 0; i < rows; i++) loc = diag[i] > loc ? diag[i] : loc;
    MPI_Allreduce(&loc, &dmax0, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    memcpy(d, diag, rows * sizeof *d);
    pc->l = (double *)xmalloc(rows * (r_req > 0 ? r_req : 1) * sizeof *pc->l);
    lpiv = (double *)xmalloc((r_req > 0 ? r_req : 1) * sizeof *lpiv);
    for (m = 0; m < r_req; m++) {
        struct {
            double v;
            int i;
        } mine, best;
        size_t piv;
        int owner;
        double inv, *col = pc->l + m * rows;
        mine.v = -INFINITY;
        mine.i = 0;
        for (i = 0; i < rows; i++)
            if (d[i] > mine.v) {
                mine.v = d[i];
                mine.i = (int)(o->r0 + i);
            }
        if (rows == 0) mine.i = (int)n;
        MPI_Allreduce(&mine, &best, 1, MPI_DOUBLE_INT, MPI_MAXLOC, MPI_COMM_WORLD);
        if (!(best.v > 1e-14 * dmax0)) break;
        piv = (size_t)best.i;
        for (owner = 0; owner + 1 < size_ && piv >= (size_t)o->dsp[owner + 1]; owner++)
            ;
        if (owner == rank_)
            for (j = 0; j < m; j++) lpiv[j] = pc->l[j * rows + (piv - o->r0)];
        if (m > 0) MPI_Bcast(lpiv, (int)m, MPI_DOUBLE, owner, MPI_COMM_WORLD);
        /* L[:, m] = (K[:, piv] - sum_l L[:, l] L[piv, l]) / sqrt(d_piv), the library's order. */
        if (rows > 0) tile(o, piv, piv + 1, o->r0, o->r0 + rows, krow, (ptrdiff_t)rows);
        inv = 1.0 / sqrt(best.v);
        memcpy(col, krow, rows * sizeof *col);
        for (j = 0; j < m; j++) {
            const double *lc = pc->l + j * rows;
            double w = lpiv[j];
            for (i = 0; i < rows; i++) col[i] -= w * lc[i];
        }
        for (i = 0; i < rows; i++) {
            col[i] *= inv;
            d[i] -= col[i] * col[i];
        }
        if (owner == rank_) d[piv - o->r0] = 0.0;
    }
    pc->r = m;
    loc = 0.0;
    for (i = 0; i < rows; i++) loc += d[i] > 0.0 ? d[i] : 0.0;
    MPI_Allreduce(&loc, &pc->trace_residual, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    pc->chol = NULL;
    free(diag);
    free(d);
    free(krow);
    free(lpiv);
    free(blk);
}

/* M = s I + L^T L reduced over ranks, factored (lower, column-major). */
static void factor_precond(precond *pc, double lambda, size_t n) {
    size_t r = pc->r, i, j, p;
    double *loc;
    pc->shift = lambda + pc->trace_residual / (double)n;
    free(pc->chol);
    pc->chol = NULL;
    if (r == 0 || !(pc->shift > 0.0)) {
        pc->r = 0;
        return;
    }
    loc = (double *)xmalloc(r * r * sizeof *loc);
    pc->chol = (double *)xmalloc(r * r * sizeof *pc->chol);
    for (j = 0; j < r; j++)
        for (i = 0; i < r; i++) {
            double s = 0.0;
            for (p = 0; p < pc->rows; p++) s += pc->l[i * pc->rows + p] * pc->l[j * pc->rows + p];
            loc[j * r + i] = s;
        }
    MPI_Allreduce(loc, pc->chol, (int)(r * r), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    free(loc);
    for (i = 0; i < r; i++) pc->chol[i * r + i] += pc->shift;
    for (j = 0; j < r; j++) {
        double dd = pc->chol[j * r + j];
        for (p = 0; p < j; p++) dd -= pc->chol[p * r + j] * pc->chol[p * r + j];
        if (!(dd > 0.0)) {
            fprintf(stderr, "rank %d: preconditioner matrix not positive definite\n", rank_);
            MPI_Abort(MPI_COMM_WORLD, 4);
        }
        dd = sqrt(dd);
        pc->chol[j * r + j] = dd;
        for (i = j + 1; i < r; i++) {
            double s = pc->chol[j * r + i];
            for (p = 0; p < j; p++) s -= pc->chol[p * r + i] * pc->chol[p * r + j];
            pc->chol[j * r + i] = s / dd;
        }
    }
}

/* z = P^-1 v (rows x k, row-major). */
static void apply_precond(const precond *pc, const double *v, size_t k, double *z) {
    size_t r = pc->r, rows = pc->rows, i, j, p;
    double *wl, *w;
    if (r == 0) {
        memcpy(z, v, rows * k * sizeof *z);
        return;
    }
    wl = (double *)xmalloc(r * k * sizeof *wl);
    w = (double *)xmalloc(r * k * sizeof *w);
    for (j = 0; j < k; j++)
        for (p = 0; p < r; p++) {
            double s = 0.0;
            for (i = 0; i < rows; i++) s += pc->l[p * rows + i] * v[i * k + j];
            wl[j * r + p] = s;
        }
    MPI_Allreduce(wl, w, (int)(r * k), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    for (j = 0; j < k; j++) {
        double *b = w + j * r;
        for (i = 0; i < r; i++) {
            double s = b[i];
            for (p = 0; p < i; p++) s -= pc->chol[p * r + i] * b[p];
            b[i] = s / pc->chol[i * r + i];
        }
        for (i = r; i-- > 0;) {
            double s = b[i];
            for (p = i + 1; p < r; p++) s -= pc->chol[i * r + p] * b[p];
            b[i] = s / pc->chol[i * r + i];
        }
    }
    for (i = 0; i < rows; i++)
        for (j = 0; j < k; j++) {
            double s = v[i * k + j];
            for (p = 0; p < r; p++) s -= pc->l[p * rows + i] * w[j * r + p];
            z[i * k + j] = s / pc->shift;
        }
    free(wl);
    free(w);
}

/* Distributed PCG; returns the iterations (or (size_t)-1 when max_it was reached). */
static size_t pcg(op *o, const precond *pc, double lambda, const double *y, size_t k, double rtol, size_t max_it,
                  double *x, double *final_residual, size_t *passes) {
    size_t rows = o->rows, nk = rows * k, i, j, it = 0;
    double *r = (double *)xmalloc(nk * sizeof *r), *z = (double *)xmalloc(nk * sizeof *z);
    double *p = (double *)xmalloc(nk * sizeof *p), *q = (double *)xmalloc(nk * sizeof *q);
    double *ynorm = (double *)xmalloc(k * sizeof *ynorm), *rz = (double *)xmalloc(k * sizeof *rz);
    double *tmp = (double *)xmalloc(k * sizeof *tmp), *rel = (double *)xmalloc(k * sizeof *rel);
    int *active = (int *)xmalloc(k * sizeof *active), any;
    dots(y, y, rows, k, ynorm, NULL);
    for (j = 0; j < k; j++) {
        ynorm[j] = sqrt(ynorm[j]);
        active[j] = ynorm[j] > 0.0;
        rel[j] = active[j] ? 1.0 : 0.0;
    }
    memset(x, 0, nk * sizeof *x);
    memcpy(r, y, nk * sizeof *r);
    *passes = 0;
#define RESTART()                                                                                \
    do {                                                                                         \
        apply_precond(pc, r, k, z);                                                              \
        dots(r, z, rows, k, tmp, active);                                                        \
        for (j = 0; j < k; j++)                                                                  \
            if (active[j]) {                                                                     \
                rz[j] = tmp[j];                                                                  \
                for (i = 0; i < rows; i++) p[i * k + j] = z[i * k + j];                          \
            }                                                                                    \
    } while (0)
    RESTART();
    for (;;) {
        any = 0;
        for (j = 0; j < k; j++) any |= active[j];
        if (!any) {
            double worst = 0.0;
            matvec(o, x, k, q);
            (*passes)++;
            for (i = 0; i < nk; i++) r[i] = y[i] - (q[i] + lambda * x[i]);
            dots(r, r, rows, k, tmp, NULL);
            for (j = 0; j < k; j++) {
                if (ynorm[j] == 0.0) continue;
                rel[j] = sqrt(tmp[j]) / ynorm[j];
                if (rel[j] > rtol) active[j] = 1;
                if (rel[j] > worst) worst = rel[j];
            }
            *final_residual = worst;
            any = 0;
            for (j = 0; j < k; j++) any |= active[j];
            if (!any) break;
            RESTART();
        }
        if (it >= max_it) {
            it = (size_t)-1;
            break;
        }
        matvec(o, p, k, q);
        (*passes)++;
        it++;
        for (i = 0; i < nk; i++) q[i] += lambda * p[i];
        dots(p, q, rows, k, tmp, active);
        for (j = 0; j < k; j++) {
            double a;
            if (!active[j]) continue;
            if (!(tmp[j] > 0.0)) {
                if (rank_ == 0) fprintf(stderr, "K + lambda I is not positive definite along a CG direction\n");
                MPI_Abort(MPI_COMM_WORLD, 5);
            }
            a = rz[j] / tmp[j];
            for (i = 0; i < rows; i++) {
                x[i * k + j] += a * p[i * k + j];
                r[i * k + j] -= a * q[i * k + j];
            }
        }
        dots(r, r, rows, k, tmp, active);
        for (j = 0; j < k; j++)
            if (active[j]) {
                rel[j] = sqrt(tmp[j]) / ynorm[j];
                if (rel[j] <= rtol) active[j] = 0;
            }
        any = 0;
        for (j = 0; j < k; j++) any |= active[j];
        if (any) {
            apply_precond(pc, r, k, z);
            dots(r, z, rows, k, tmp, active);
            for (j = 0; j < k; j++) {
                double b;
                if (!active[j]) continue;
                b = tmp[j] / rz[j];
                rz[j] = tmp[j];
                for (i = 0; i < rows; i++) p[i * k + j] = z[i * k + j] + b * p[i * k + j];
            }
        }
    }
#undef RESTART
    free(r);
    free(z);
    free(p);
    free(q);
    free(ynorm);
    free(rz);
    free(tmp);
    free(rel);
    free(active);
    return it;
}

static double rel_diff(const double *a, const double *b, size_t n) {
    double num = 0.0, den = 0.0;
    size_t i;
    for (i = 0; i < n; i++) {
        num += (a[i] - b[i]) * (a[i] - b[i]);
        den += b[i] * b[i];
    }
    return den > 0.0 ? sqrt(num / den) : sqrt(num);
}

int main(int argc, char **argv) {
    options o;
    op K;
    precond pc;
    ntk_network *net = NULL;
    ntk_limit_points *pts = NULL, *tpts = NULL;
    size_t *widths, i, j, l, n, m, d, k, rows, t0, trows, it, passes = 0;
    int *cnt, *dsp, *cntk, *dspk, *tcnt, *tdsp, *tcntk, *tdspk, r, failures = 0;
    double *x, *xt, *y, *yloc, *aloc, *afull, *ploc, *pall = NULL, *aall = NULL, lambda, residual = NAN;
    double t_start, t_setup, t_solve, t_pred, hwm, hwm_max, hwm_sum, buf[3], red[3];

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    memset(&o, 0, sizeof o);
    o.n = 1000;
    o.m = 200;
    o.d = 8;
    o.depth = 3;
    o.k = 2;
    o.rank = 50;
    o.max_it = 5000;
    o.beta = 0.1;
    o.lambda_frac = 1e-4;
    o.rtol = 1e-12;
    o.width = 64;
    arch_defaults(&o.arch);
    for (r = 1; r < argc; r++) {
        const char *a = argv[r], *v = r + 1 < argc ? argv[r + 1] : "0";
        int ar = arch_parse_option(&o.arch, argc, argv, &r, rank_);
        if (ar < 0) {
            MPI_Finalize();
            return 2;
        } else if (ar > 0) continue;
        else if (!strcmp(a, "-N")) o.n = (size_t)atol(v), r++;
        else if (!strcmp(a, "-w")) o.width = (size_t)atol(v), r++;
        else if (!strcmp(a, "-M")) o.m = (size_t)atol(v), r++;
        else if (!strcmp(a, "-d")) o.d = (size_t)atol(v), r++;
        else if (!strcmp(a, "-L")) o.depth = (size_t)atol(v), r++;
        else if (!strcmp(a, "-k")) o.k = (size_t)atol(v), r++;
        else if (!strcmp(a, "-r")) o.rank = (size_t)atol(v), r++;
        else if (!strcmp(a, "-i")) o.max_it = (size_t)atol(v), r++;
        else if (!strcmp(a, "-B")) o.beta = atof(v), r++;
        else if (!strcmp(a, "-l")) o.lambda_frac = atof(v), r++;
        else if (!strcmp(a, "-t")) o.rtol = atof(v), r++;
        else if (!strcmp(a, "-C")) o.cache = 1;
        else if (!strcmp(a, "-1")) o.one_thread = 1;
        else if (!strcmp(a, "-c")) o.check = 1;
        else if (!strcmp(a, "-b")) o.bench = 1;
        else {
            if (rank_ == 0) fprintf(stderr, "unknown option %s (see the comment at the top of ntk_mpi_solve.c)\n", a);
            MPI_Finalize();
            return 2;
        }
    }
    n = o.n;
    m = o.m;
    d = o.d;
    k = o.k;
    if (n < (size_t)size_ || m < (size_t)size_ || d == 0 || k == 0 || o.depth == 0 || o.width == 0) {
        if (rank_ == 0) fprintf(stderr, "need N, M >= ranks and d, k, L, w >= 1\n");
        MPI_Finalize();
        return 2;
    }
    if (!arch_check(&o.arch, o.depth, rank_)) {
        MPI_Finalize();
        return 2;
    }
    if (rank_ == 0) arch_print(&o.arch, o.depth, o.beta);
    if (o.one_thread) NTK_OK(ntk_set_num_threads(1));

    widths = (size_t *)xmalloc((o.depth + 1) * sizeof *widths);
    widths[0] = d;
    /* The limit kernel uses the depth, per-layer sigmas and activations, and (standard
     * parameterization only) the hidden widths. */
    for (l = 1; l < o.depth; l++) widths[l] = o.width;
    widths[o.depth] = 1;
    NTK_OK(arch_network_create(&o.arch, widths, o.depth + 1, o.beta, &net));

    cnt = (int *)xmalloc((size_t)size_ * sizeof *cnt);
    dsp = (int *)xmalloc((size_t)size_ * sizeof *dsp);
    cntk = (int *)xmalloc((size_t)size_ * sizeof *cntk);
    dspk = (int *)xmalloc((size_t)size_ * sizeof *dspk);
    tcnt = (int *)xmalloc((size_t)size_ * sizeof *tcnt);
    tdsp = (int *)xmalloc((size_t)size_ * sizeof *tdsp);
    tcntk = (int *)xmalloc((size_t)size_ * sizeof *tcntk);
    tdspk = (int *)xmalloc((size_t)size_ * sizeof *tdspk);
    split(n, cnt, dsp);
    split(m, tcnt, tdsp);
    for (r = 0; r < size_; r++) {
        cntk[r] = cnt[r] * (int)k;
        dspk[r] = dsp[r] * (int)k;
        tcntk[r] = tcnt[r] * (int)k;
        tdspk[r] = tdsp[r] * (int)k;
    }
    t0 = (size_t)tdsp[rank_];
    trows = (size_t)tcnt[rank_];
    rows = (size_t)cnt[rank_];

    x = (double *)xmalloc(n * d * sizeof *x);
    xt = (double *)xmalloc(m * d * sizeof *xt);
    sphere(x, n, d, 1);
    sphere(xt, m, d, 2);
    y = (double *)xmalloc(n * k * sizeof *y); /* row-major n x k */
    for (i = 0; i < n; i++)
        for (j = 0; j < k; j++) y[i * k + j] = sin(3.0 * x[i * d] + (double)j) + (double)(j + 1) * x[i * d + 1] * x[i * d + 2 % d];
    yloc = y + (size_t)dsp[rank_] * k;

    MPI_Barrier(MPI_COMM_WORLD);
    t_start = MPI_Wtime();
    memset(&K, 0, sizeof K);
    NTK_OK(ntk_limit_points_create(net, ntk_matrix_row_major(x, n, d), NULL, &pts));
    K.p = pts;
    K.n = n;
    K.r0 = (size_t)dsp[rank_];
    K.rows = rows;
    K.cnt = cnt;
    K.dsp = dsp;
    K.cntk = cntk;
    K.dspk = dspk;
    K.tile = (double *)xmalloc((size_t)ROWS * COLS * sizeof *K.tile);
    K.full = (double *)xmalloc(n * k * sizeof *K.full);
    if (o.cache) {
        size_t a, c;
        K.cache = (double *)xmalloc(rows * n * sizeof *K.cache);
        for (a = 0; a < rows; a += ROWS) {
            size_t h = a + ROWS < rows ? ROWS : rows - a;
            for (c = 0; c < n; c += COLS) {
                size_t w = c + COLS < n ? COLS : n - c;
                tile(&K, K.r0 + a, K.r0 + a + h, c, c + w, K.cache + a * n + c, (ptrdiff_t)n);
            }
        }
    }
    build_precond(&K, o.rank, &pc);
    lambda = o.lambda_frac * pc.trace / (double)n;
    factor_precond(&pc, lambda, n);
    buf[0] = MPI_Wtime() - t_start;
    MPI_Allreduce(buf, &t_setup, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);

    aloc = (double *)xmalloc(rows * k * sizeof *aloc);
    MPI_Barrier(MPI_COMM_WORLD);
    t_start = MPI_Wtime();
    K.t_kernel = 0.0;
    K.entries = 0;
    it = pcg(&K, &pc, lambda, yloc, k, o.rtol, o.max_it, aloc, &residual, &passes);
    buf[0] = MPI_Wtime() - t_start;
    buf[1] = K.t_kernel;
    buf[2] = (double)K.entries;
    MPI_Allreduce(buf, red, 3, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    t_solve = red[0];
    {
        double ent = 0.0, tk = 0.0;
        MPI_Allreduce(&buf[2], &ent, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        MPI_Allreduce(&buf[1], &tk, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        if (rank_ == 0)
            printf("N = %zu, ranks = %d, k = %zu, rank r = %zu, lambda = %.3e (%.1e tr(K)/N), rtol = %.1e, %s\n"
                   "solve: %s %zu iterations, %zu kernel passes, true relative residual %.3e\n"
                   "times (max over ranks): setup %.2f s, solve %.2f s; kernel entries %.3e in %.2f s of "
                   "rank-time (%.2f ns per entry per rank)\n",
                   n, size_, k, pc.r, lambda, o.lambda_frac, o.rtol, o.cache ? "rows cached" : "matrix-free",
                   it == (size_t)-1 ? "NOT CONVERGED after" : "converged in", it == (size_t)-1 ? o.max_it : it,
                   passes, residual, t_setup, t_solve, ent, tk, ent > 0 ? 1e9 * tk / ent : 0.0);
    }

    /* Predictions: own test rows against all training points, alpha gathered. */
    afull = (double *)xmalloc(n * k * sizeof *afull);
    MPI_Allgatherv(aloc, (int)(rows * k), MPI_DOUBLE, afull, cntk, dspk, MPI_DOUBLE, MPI_COMM_WORLD);
    ploc = (double *)xmalloc((trows > 0 ? trows : 1) * k * sizeof *ploc);
    t_start = MPI_Wtime();
    NTK_OK(ntk_limit_points_create(net, ntk_matrix_row_major(xt + t0 * d, trows, d), NULL, &tpts));
    {
        size_t a, c, q;
        memset(ploc, 0, trows * k * sizeof *ploc);
        for (a = 0; a < trows; a += ROWS) {
            size_t h = a + ROWS < trows ? ROWS : trows - a;
            for (c = 0; c < n; c += COLS) {
                size_t w = c + COLS < n ? COLS : n - c;
                ntk_matrix_mut v = ntk_matrix_row_major_mut(K.tile, h, w);
                NTK_OK(ntk_kernel_limit_tile(tpts, a, a + h, pts, c, c + w, NULL, NULL, &v, NULL));
                for (i = 0; i < h; i++)
                    for (j = 0; j < k; j++) {
                        double s = 0.0;
                        for (q = 0; q < w; q++) s += K.tile[i * w + q] * afull[(c + q) * k + j];
                        ploc[(a + i) * k + j] += s;
                    }
            }
        }
    }
    buf[0] = MPI_Wtime() - t_start;
    MPI_Allreduce(buf, &t_pred, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    if (rank_ == 0) {
        pall = (double *)xmalloc(m * k * sizeof *pall);
        aall = afull;
    }
    MPI_Gatherv(ploc, (int)(trows * k), MPI_DOUBLE, pall, tcntk, tdspk, MPI_DOUBLE, 0, MPI_COMM_WORLD);

    hwm = vmhwm_mib();
    MPI_Allreduce(&hwm, &hwm_max, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    MPI_Allreduce(&hwm, &hwm_sum, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    if (rank_ == 0)
        printf("predictions: %zu test points in %.2f s; peak memory (VmHWM) per rank: max %.1f MiB, mean %.1f MiB\n",
               m, t_pred, hwm_max, hwm_sum / size_);
    if (it == (size_t)-1) failures++;

    if (o.check && rank_ == 0) {
        ntk_solver *s = NULL;
        ntk_solver_config sc;
        ntk_solve_info info;
        double *aref = (double *)xmalloc(n * k * sizeof *aref), *pref = (double *)xmalloc(m * k * sizeof *pref);
        double ea, ep;
        sc.kernel = NTK_SOLVER_KERNEL_LIMIT_NTK;
        sc.cache_bytes = 0;
        sc.precond_rank = o.rank;
        NTK_OK(ntk_solver_create(net, ntk_matrix_row_major(x, n, d), &sc, NULL, &s));
        NTK_OK(ntk_solver_solve(s, lambda, ntk_matrix_row_major(y, n, k), o.rtol, o.max_it,
                                ntk_matrix_row_major_mut(aref, n, k), &info, NULL));
        NTK_OK(ntk_solver_predict(s, ntk_matrix_row_major(xt, m, d), ntk_matrix_row_major(aref, n, k),
                                  ntk_matrix_row_major_mut(pref, m, k), NULL));
        ea = rel_diff(aall, aref, n * k);
        ep = rel_diff(pall, pref, m * k);
        printf("single-process ntk_solver_solve: %zu iterations, residual %.3e\n", info.iterations, info.residual);
        printf("check: alpha vs single-process: relative difference %.3e (<= 1e-10 %s)\n", ea,
               ea <= 1e-10 ? "ok" : "FAILED");
        printf("check: predictions vs single-process: relative difference %.3e (<= 1e-10 %s)\n", ep,
               ep <= 1e-10 ? "ok" : "FAILED");
        if (!(ea <= 1e-10)) failures++;
        if (!(ep <= 1e-10)) failures++;
        ntk_solver_free(s);
        free(aref);
        free(pref);
    }
    MPI_Bcast(&failures, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (rank_ == 0 && !o.bench) printf("%s\n", failures == 0 ? "PASS" : "FAIL");

    ntk_limit_points_free(pts);
    ntk_limit_points_free(tpts);
    ntk_network_free(net);
    free(widths);
    free(x);
    free(xt);
    free(y);
    free(aloc);
    free(afull);
    free(ploc);
    free(pall);
    free(K.tile);
    free(K.full);
    free(K.cache);
    free(pc.l);
    free(pc.chol);
    free(cnt);
    free(dsp);
    free(cntk);
    free(dspk);
    free(tcnt);
    free(tdsp);
    free(tcntk);
    free(tdspk);
    MPI_Finalize();
    return failures == 0 ? 0 : 1;
}
