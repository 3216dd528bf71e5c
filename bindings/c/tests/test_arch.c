/*
 * test_arch.c -- C API test of per-layer architectures (issue #13): ntk_architecture_init,
 * ntk_layer_init, ntk_network_create_arch. The success path uses case31 of
 * tests/data/arch_nt.txt (tools/arch_reference.py): neural-tangents 0.6.5's
 * stax.serial(Dense(6, W_std=2.3217..., b_std=0.1047..., parameterization='standard'),
 * LeakyRelu(0.2837...), Dense(1, W_std=0.7441..., b_std=0.0913..., 'standard')) on 5 points, with
 * neural-tangents' own parameters: forward outputs within 1e-12, the limit NNGP and NTK within
 * 1e-12 off the diagonal (neural-tangents' arccos loses ~1e-8 at correlation 1, so the
 * diagonal is checked to 1e-7). Every error class names the field; outputs stay untouched.
 */
#include "ntk_test.h"

static const size_t WIDTHS[] = {3, 6, 1};
#define N 5
static const double X[] = {
    1.2926564680423105, -0.5039789363519267, -0.07068264284296921,
    -0.9944541950516808, 1.1354766192717063, 1.5476706388744939,
    -0.31718711522750276, -0.7849163900317857, 0.759749310336725,
    0.9363769874615754, -0.556693931724315, -0.11951312914832803,
    -1.6347507645433275, -2.787576253637131, -1.8921650468153062};
static const double THETA[] = {
    -0.365430539131975, 2.0897125794555858, 0.4282749020651985,
    0.5613647610494185, 1.2043369720349497, -0.664676801185494,
    -0.6384240213554058, -1.5482850573259364, -0.8966167540199773,
    -0.31949164189303014, 1.1857514756979755, 0.2216721039302386,
    0.6334855610981082, -0.5556940727581535, 0.04628136394957903,
    -1.573501233008695, 1.7961053459868708, 0.13610596387572793,
    0.02369251108742619, -0.03322426966104672, 0.07355529558415384,
    -0.1021519345469774, -0.010382502804523944, 0.18458752490080996,
    -0.2018232034798918, 0.07459151433459166, 0.1390067134770157,
    0.1464397386559339, 0.018265358131211964, -0.06560879578820272,
    -0.040433080485738813};
static const double F_NT[] = {
    0.09436181950372766, -0.8223413475738346, 0.08894847252167754,
    0.12099992491805076, 1.1474605959830615};
static const double NNGP_NT[] = {
    1.0490447282052937, -0.4969849555961423, 0.11189035001956345,
    0.8178356921864038, 0.2012429152970494, -0.4969849555961423,
    2.5238407554687843, 0.4632622943471021, -0.4580373582592262,
    -1.059842467662869, 0.11189035001956345, 0.4632622943471021,
    0.7071496604043321, 0.13285187353672556, 0.8935597406537452,
    0.8178356921864038, -0.4580373582592262, 0.13285187353672556,
    0.6571972387006798, 0.44713968895580536, 0.2012429152970494,
    -1.059842467662869, 0.8935597406537452, 0.44713968895580536,
    7.549747544554633};
static const double NTK_NT[] = {
    13.153016252956663, -4.664860996957253, 2.3330609687262847,
    10.499279931219196, 3.185237904973799, -4.664860996957253,
    29.953685404447196, 6.312330848085775, -4.196110937897072,
    -11.273732466586353, 2.3330609687262847, 6.312330848085775,
    9.258195672711006, 2.5906840784026017, 11.140499567760289,
    10.499279931219196, -4.196110937897072, 2.5906840784026017,
    8.689144702377154, 6.042663224243215, 3.185237904973799,
    -11.273732466586353, 11.140499567760289, 6.042663224243215,
    87.20810946628762};

static double max_abs(const double *a, size_t n) {
    double m = 0.0;
    size_t i;
    for (i = 0; i < n; i++) m = fabs(a[i]) > m ? fabs(a[i]) : m;
    return m;
}

static void setup(ntk_architecture *arch, ntk_layer layers[2]) {
    CHECK_STATUS(ntk_architecture_init(arch, sizeof *arch), NTK_STATUS_OK);
    CHECK_STATUS(ntk_layer_init(&layers[0], sizeof layers[0]), NTK_STATUS_OK);
    CHECK_STATUS(ntk_layer_init(&layers[1], sizeof layers[1]), NTK_STATUS_OK);
    layers[0].sigma_w = 2.3217470493985846;
    layers[0].sigma_b = 0.10471142392411237;
    layers[0].activation = NTK_ACTIVATION_LEAKY_RELU;
    layers[0].activation_param = 0.28373339231895034;
    layers[1].sigma_w = 0.7441399783926761;
    layers[1].sigma_b = 0.0912668397000318;
    arch->parameterization = NTK_PARAMETERIZATION_STANDARD;
    arch->widths = WIDTHS;
    arch->num_widths = 3;
    arch->layers = layers;
    arch->num_layers = 2;
    arch->seed = 1;
}

static void test_matches_neural_tangents(void) {
    ntk_architecture arch;
    ntk_layer layers[2];
    ntk_network *net = NULL;
    double f[N], nngp[N * N], ntk[N * N];
    ntk_matrix_mut mn, mt;
    size_t i, j;
    setup(&arch, layers);
    CHECK(arch.struct_size == sizeof arch);
    CHECK(arch.version == NTK_ARCHITECTURE_VERSION_CURRENT);
    CHECK(arch.layer_size == sizeof(ntk_layer));
    CHECK_STATUS(ntk_network_create_arch(&arch, &net), NTK_STATUS_OK);
    if (!net) return;
    CHECK_STATUS(ntk_network_set_params(net, THETA, sizeof THETA / sizeof THETA[0]), NTK_STATUS_OK);
    CHECK_STATUS(ntk_network_forward(net, ntk_matrix_row_major(X, N, 3), ntk_matrix_row_major_mut(f, N, 1)), NTK_STATUS_OK);
    for (i = 0; i < N; i++) CHECK(fabs(f[i] - F_NT[i]) <= 1e-12 * max_abs(F_NT, N));
    mn = ntk_matrix_row_major_mut(nngp, N, N);
    mt = ntk_matrix_row_major_mut(ntk, N, N);
    CHECK_STATUS(ntk_kernel_limit(net, ntk_matrix_row_major(X, N, 3), NULL, &mn, NULL, &mt, NULL), NTK_STATUS_OK);
    for (i = 0; i < N; i++) {
        for (j = 0; j < N; j++) {
            double tol = i == j ? 1e-7 : 1e-12;
            CHECK(fabs(nngp[i * N + j] - NNGP_NT[i * N + j]) <= tol * max_abs(NNGP_NT, N * N));
            CHECK(fabs(ntk[i * N + j] - NTK_NT[i * N + j]) <= tol * max_abs(NTK_NT, N * N));
        }
    }
    ntk_network_free(net);
}

static void test_errors_name_the_field(void) {
    ntk_architecture arch;
    ntk_layer layers[2];
    ntk_network *sentinel = (ntk_network *)&arch;
    ntk_network *net = sentinel;
    CHECK_ERROR(ntk_architecture_init(NULL, sizeof arch), NTK_STATUS_NULL_POINTER, "arch");
    CHECK_ERROR(ntk_architecture_init(&arch, sizeof arch - 8), NTK_STATUS_INVALID_ARGUMENT,
                "struct_size");
    CHECK_ERROR(ntk_layer_init(&layers[0], sizeof layers[0] + 8), NTK_STATUS_INVALID_ARGUMENT,
                "layer_size");
    setup(&arch, layers);
    CHECK_ERROR(ntk_network_create_arch(NULL, &net), NTK_STATUS_NULL_POINTER, "arch");
    CHECK_ERROR(ntk_network_create_arch(&arch, NULL), NTK_STATUS_NULL_POINTER, "out");
    /* A struct from another header version (size or version) is rejected, never misread. */
    arch.struct_size = sizeof arch + 16;
    CHECK_ERROR(ntk_network_create_arch(&arch, &net), NTK_STATUS_INVALID_ARGUMENT,
                "arch.struct_size");
    setup(&arch, layers);
    arch.version = 2;
    CHECK_ERROR(ntk_network_create_arch(&arch, &net), NTK_STATUS_INVALID_ARGUMENT, "arch.version");
    setup(&arch, layers);
    arch.layer_size = sizeof(ntk_layer) - 8;
    CHECK_ERROR(ntk_network_create_arch(&arch, &net), NTK_STATUS_INVALID_ARGUMENT,
                "arch.layer_size");
    setup(&arch, layers);
    arch.parameterization = 7;
    CHECK_ERROR(ntk_network_create_arch(&arch, &net), NTK_STATUS_INVALID_ARGUMENT,
                "arch.parameterization");
    setup(&arch, layers);
    arch.num_layers = 1;
    CHECK_ERROR(ntk_network_create_arch(&arch, &net), NTK_STATUS_INVALID_ARGUMENT,
                "arch.num_layers");
    setup(&arch, layers);
    layers[1].sigma_w = 0.0;
    CHECK_ERROR(ntk_network_create_arch(&arch, &net), NTK_STATUS_INVALID_ARGUMENT,
                "arch.layers[1].sigma_w");
    setup(&arch, layers);
    layers[0].sigma_w = NAN;
    CHECK_ERROR(ntk_network_create_arch(&arch, &net), NTK_STATUS_NON_FINITE,
                "arch.layers[0].sigma_w");
    setup(&arch, layers);
    layers[1].sigma_b = -0.5;
    CHECK_ERROR(ntk_network_create_arch(&arch, &net), NTK_STATUS_INVALID_ARGUMENT,
                "arch.layers[1].sigma_b");
    setup(&arch, layers);
    layers[0].sigma_b = INFINITY;
    CHECK_ERROR(ntk_network_create_arch(&arch, &net), NTK_STATUS_NON_FINITE,
                "arch.layers[0].sigma_b");
    setup(&arch, layers);
    layers[1].activation = NTK_ACTIVATION_RELU;
    CHECK_ERROR(ntk_network_create_arch(&arch, &net), NTK_STATUS_INVALID_ARGUMENT,
                "arch.layers[1].activation");
    setup(&arch, layers);
    layers[0].activation = NTK_ACTIVATION_NONE;
    CHECK_ERROR(ntk_network_create_arch(&arch, &net), NTK_STATUS_INVALID_ARGUMENT,
                "arch.layers[0].activation");
    setup(&arch, layers);
    layers[0].activation = 99;
    CHECK_ERROR(ntk_network_create_arch(&arch, &net), NTK_STATUS_INVALID_ARGUMENT,
                "arch.layers[0].activation");
    setup(&arch, layers);
    layers[0].activation_param = NAN;
    CHECK_ERROR(ntk_network_create_arch(&arch, &net), NTK_STATUS_NON_FINITE,
                "arch.layers[0].activation_param");
    setup(&arch, layers);
    layers[0].activation = NTK_ACTIVATION_CUSTOM;
    CHECK_ERROR(ntk_network_create_arch(&arch, &net), NTK_STATUS_NULL_POINTER,
                "arch.layers[0].custom_sigma");
    setup(&arch, layers);
    arch.layers = NULL;
    CHECK_ERROR(ntk_network_create_arch(&arch, &net), NTK_STATUS_NULL_POINTER, "arch.layers");
    CHECK(net == sentinel); /* out untouched on every error */
}

int main(void) {
    test_matches_neural_tangents();
    test_errors_name_the_field();
    return ntk_test_summary("test_arch");
}
