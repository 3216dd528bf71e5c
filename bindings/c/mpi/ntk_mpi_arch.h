/*
 * ntk_mpi_arch.h -- the architecture options shared by ntk_mpi.c and ntk_mpi_solve.c, and the
 * network they describe (built with ntk_network_create_arch).
 *
 *   --w-std S | S0,S1,...,S_{L-1}   sigma_w of every weight layer, or one per layer (default 1)
 *   --b-std S | S0,S1,...,S_{L-1}   sigma_b of every weight layer, or one per layer
 *                                   (default: the -B beta, the original uniform configuration)
 *   --parameterization ntk|standard (default ntk)
 *   --activation A | A1,...,A_{L-1} the activation after every hidden layer, or one per hidden
 *                                   layer: relu, erf, tanh, sigmoid, softplus, gelu, sin, cos,
 *                                   identity, leaky_relu:a (default relu)
 *
 * Forward pass of weight layer l (n_l inputs):
 *   NTK:       z = sigma_w W h / sqrt(n_l) + sigma_b b,   W, b ~ N(0, 1);
 *   standard:  z = W h + b,   W ~ N(0, sigma_w^2 / n_l), b ~ N(0, sigma_b^2).
 * With none of these options the network is the uniform one of ntk_network_create (sigma_w = 1,
 * sigma_b = beta, ReLU, NTK parameterization, seed 2018): the same parameters and the same
 * kernels bit for bit. In the standard parameterization the limit kernel depends on the hidden
 * widths (Theta^(l+1) = Theta^(l) dSigma^(l+1) + n_l E + 1), so they are the -w width.
 */
#ifndef NTK_MPI_ARCH_H
#define NTK_MPI_ARCH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ntk.h"

#define ARCH_MAX_LAYERS 64

typedef struct {
    int parameterization;
    /* Number of values given (0 = default; 1 = uniform; L or L-1 = per layer). */
    size_t n_w, n_b, n_act;
    double w[ARCH_MAX_LAYERS], b[ARCH_MAX_LAYERS];
    int act[ARCH_MAX_LAYERS];
    double act_param[ARCH_MAX_LAYERS];
} arch_options;

static void arch_defaults(arch_options *a) {
    memset(a, 0, sizeof *a);
    a->parameterization = NTK_PARAMETERIZATION_NTK;
}

/* Parses "v" or "v0,v1,..." into out (at most ARCH_MAX_LAYERS); returns the count, 0 on error. */
static size_t arch_parse_list(const char *s, double *out) {
    size_t n = 0;
    const char *p = s;
    while (*p != '\0') {
        char *end;
        double v = strtod(p, &end);
        if (end == p || n == ARCH_MAX_LAYERS || (*end != ',' && *end != '\0')) return 0;
        out[n++] = v;
        p = *end == ',' ? end + 1 : end;
        if (*end == ',' && *p == '\0') return 0;
    }
    return n;
}

/* One activation name (with ":a" for the leaky slope); returns 0 on an unknown name. */
static int arch_parse_activation(const char *s, size_t len, int *act, double *param) {
    static const struct {
        const char *name;
        int act;
    } names[] = {{"relu", NTK_ACTIVATION_RELU},         {"erf", NTK_ACTIVATION_ERF},
                 {"tanh", NTK_ACTIVATION_TANH},         {"sigmoid", NTK_ACTIVATION_SIGMOID},
                 {"softplus", NTK_ACTIVATION_SOFTPLUS}, {"gelu", NTK_ACTIVATION_GELU},
                 {"sin", NTK_ACTIVATION_SIN},           {"cos", NTK_ACTIVATION_COS},
                 {"identity", NTK_ACTIVATION_IDENTITY}};
    size_t i;
    *param = 0.0;
    if (len > 11 && strncmp(s, "leaky_relu:", 11) == 0) {
        char buf[64], *end;
        if (len - 11 >= sizeof buf) return 0;
        memcpy(buf, s + 11, len - 11);
        buf[len - 11] = '\0';
        *param = strtod(buf, &end);
        if (end == buf || *end != '\0') return 0;
        *act = NTK_ACTIVATION_LEAKY_RELU;
        return 1;
    }
    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i].name) == len && strncmp(s, names[i].name, len) == 0) {
            *act = names[i].act;
            return 1;
        }
    return 0;
}

/* Consumes argv[*i] (and its value) when it is an architecture option: returns 1 when it was
 * one, 0 when it is not, -1 on a bad value (message on stderr from rank 0). */
static int arch_parse_option(arch_options *a, int argc, char **argv, int *i, int rank) {
    const char *opt = argv[*i], *v;
    if (strcmp(opt, "--w-std") != 0 && strcmp(opt, "--b-std") != 0 && strcmp(opt, "--parameterization") != 0 &&
        strcmp(opt, "--activation") != 0)
        return 0;
    if (*i + 1 >= argc) {
        if (rank == 0) fprintf(stderr, "%s needs a value\n", opt);
        return -1;
    }
    v = argv[++*i];
    if (strcmp(opt, "--w-std") == 0) {
        a->n_w = arch_parse_list(v, a->w);
        if (a->n_w == 0) goto bad;
    } else if (strcmp(opt, "--b-std") == 0) {
        a->n_b = arch_parse_list(v, a->b);
        if (a->n_b == 0) goto bad;
    } else if (strcmp(opt, "--parameterization") == 0) {
        if (strcmp(v, "ntk") == 0) a->parameterization = NTK_PARAMETERIZATION_NTK;
        else if (strcmp(v, "standard") == 0) a->parameterization = NTK_PARAMETERIZATION_STANDARD;
        else goto bad;
    } else {
        const char *p = v;
        a->n_act = 0;
        for (;;) {
            const char *comma = strchr(p, ',');
            size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
            if (a->n_act == ARCH_MAX_LAYERS ||
                !arch_parse_activation(p, len, &a->act[a->n_act], &a->act_param[a->n_act]))
                goto bad;
            a->n_act++;
            if (comma == NULL) break;
            p = comma + 1;
        }
    }
    return 1;
bad:
    if (rank == 0) fprintf(stderr, "bad value for %s: %s\n", opt, v);
    return -1;
}

/* Checks the counts against the depth L: sigma lists have 1 or L entries, activations 1 or
 * L-1. Returns 0 (message from rank 0) when they do not fit. */
static int arch_check(const arch_options *a, size_t depth, int rank) {
    int ok = depth <= ARCH_MAX_LAYERS;
    ok = ok && (a->n_w <= 1 || a->n_w == depth);
    ok = ok && (a->n_b <= 1 || a->n_b == depth);
    ok = ok && (a->n_act <= 1 || a->n_act + 1 == depth);
    if (!ok && rank == 0)
        fprintf(stderr,
                "architecture: depth L = %lu (at most %d) takes 1 or L values of --w-std/--b-std "
                "(got %lu, %lu) and 1 or L-1 of --activation (got %lu)\n",
                (unsigned long)depth, ARCH_MAX_LAYERS, (unsigned long)a->n_w, (unsigned long)a->n_b,
                (unsigned long)a->n_act);
    return ok;
}

static const char *arch_param_name(const arch_options *a) {
    return a->parameterization == NTK_PARAMETERIZATION_STANDARD ? "standard" : "ntk";
}

/* Creates the network of widths n_0 ... n_L (num_widths = L + 1) with the options; beta is the
 * sigma_b when --b-std is not given. Seed 2018 (same parameters on every rank). */
static enum ntk_status arch_network_create(const arch_options *a, const size_t *widths, size_t num_widths,
                                           double beta, ntk_network **out) {
    ntk_architecture arch;
    ntk_layer layers[ARCH_MAX_LAYERS];
    size_t l, depth = num_widths - 1;
    enum ntk_status st;
    if (num_widths < 2 || depth > ARCH_MAX_LAYERS) return NTK_STATUS_INVALID_ARGUMENT;
    st = ntk_architecture_init(&arch, sizeof arch);
    if (st != NTK_STATUS_OK) return st;
    for (l = 0; l < depth; l++) {
        st = ntk_layer_init(&layers[l], sizeof layers[l]);
        if (st != NTK_STATUS_OK) return st;
        layers[l].sigma_w = a->n_w == 0 ? 1.0 : a->w[a->n_w == 1 ? 0 : l];
        layers[l].sigma_b = a->n_b == 0 ? beta : a->b[a->n_b == 1 ? 0 : l];
        if (l + 1 < depth) {
            size_t k = a->n_act <= 1 ? 0 : l;
            layers[l].activation = a->n_act == 0 ? NTK_ACTIVATION_RELU : a->act[k];
            layers[l].activation_param = a->n_act == 0 ? 0.0 : a->act_param[k];
        } else {
            layers[l].activation = NTK_ACTIVATION_NONE;
        }
    }
    arch.parameterization = a->parameterization;
    arch.widths = widths;
    arch.num_widths = num_widths;
    arch.layers = layers;
    arch.num_layers = depth;
    arch.seed = 2018;
    return ntk_network_create_arch(&arch, out);
}

/* One line describing the architecture (rank 0 prints it); nothing for the default one, so that
 * the default output is unchanged. */
static void arch_print(const arch_options *a, size_t depth, double beta) {
    size_t l;
    if (a->n_w == 0 && a->n_b == 0 && a->n_act == 0 && a->parameterization == NTK_PARAMETERIZATION_NTK) return;
    printf("architecture: L = %lu, %s parameterization, sigma_w =", (unsigned long)depth, arch_param_name(a));
    for (l = 0; l < depth; l++) printf(" %g", a->n_w == 0 ? 1.0 : a->w[a->n_w == 1 ? 0 : l]);
    printf(", sigma_b =");
    for (l = 0; l < depth; l++) printf(" %g", a->n_b == 0 ? beta : a->b[a->n_b == 1 ? 0 : l]);
    printf("\n");
}

#endif
