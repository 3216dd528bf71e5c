// example.cpp -- the ntk C API from C++11: RAII handles, exceptions for failed calls, std::vector
// storage passed as strided views. It computes the limit NTK of a one-hidden-layer ReLU network
// on points of the unit circle and checks it against the arc-cosine closed form
//   Sigma1 = x.x'/n_0 + beta^2,  cos t = Sigma1(x,x') / sqrt(Sigma1(x,x) Sigma1(x',x')),
//   Sigma2 = sqrt(Sigma1(x,x) Sigma1(x',x')) (sin t + (pi - t) cos t) / (2 pi) + beta^2,
//   Sigma-dot2 = (pi - t) / (2 pi),  Theta2 = Sigma1 Sigma-dot2 + Sigma2;
// then trains a finite network by gradient descent and prints its loss. Exit status 1 on a
// mismatch or a failed call.
//
// Build:  c++ -std=c++11 example.cpp $(pkg-config --cflags --libs ntk)
//   or with CMake: find_package(ntk 0.2 REQUIRED) + target_link_libraries(app PRIVATE ntk::ntk)
#include <cmath>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "ntk.h"

namespace {

// A failed ntk call: the status name and the library's message for this thread.
struct ntk_error : std::runtime_error {
    ntk_status status;
    ntk_error(ntk_status s, const char *what)
        : std::runtime_error(std::string(ntk_status_str(static_cast<int>(s))) + ": " + ntk_last_error() +
                             " (in " + what + ")"),
          status(s) {}
};

void check(ntk_status s, const char *what) {
    if (s != NTK_STATUS_OK) throw ntk_error(s, what);
}

struct network_deleter {
    void operator()(ntk_network *p) const { ntk_network_free(p); }
};
typedef std::unique_ptr<ntk_network, network_deleter> network_ptr;

network_ptr make_network(const std::vector<size_t> &widths, int activation, double beta, uint64_t seed) {
    ntk_network_config config = ntk_network_config();
    config.widths = widths.data();
    config.num_widths = widths.size();
    config.activation = activation;
    config.beta = beta;
    config.seed = seed;
    ntk_network *raw = NULL;
    check(ntk_network_create(&config, &raw), "ntk_network_create");
    return network_ptr(raw);
}

// A row-major rows x cols matrix stored in a std::vector, viewed without copying.
struct matrix {
    size_t rows, cols;
    std::vector<double> data;
    matrix(size_t r, size_t c) : rows(r), cols(c), data(r * c, 0.0) {}
    double &operator()(size_t i, size_t j) { return data[i * cols + j]; }
    double operator()(size_t i, size_t j) const { return data[i * cols + j]; }
    ntk_matrix view() const {
        return ntk_matrix_row_major(data.data(), rows, cols);
    }
    ntk_matrix_mut view_mut() {
        return ntk_matrix_row_major_mut(data.data(), rows, cols);
    }
};

}  // namespace

int main() {
    try {
        const double pi = 3.14159265358979323846, beta = 0.1;
        const size_t n = 6;
        std::printf("ntk %s (header %s), C++ example\n", ntk_version(), NTK_VERSION_STRING);
        std::vector<size_t> widths;
        widths.push_back(2);
        widths.push_back(512);
        widths.push_back(1);
        network_ptr net = make_network(widths, NTK_ACTIVATION_RELU, beta, 7);

        matrix x(n, 2);
        for (size_t i = 0; i < n; i++) {
            double g = 2.0 * pi * static_cast<double>(i) / static_cast<double>(n);
            x(i, 0) = std::cos(g);
            x(i, 1) = std::sin(g);
        }
        matrix theta(n, n);
        ntk_matrix_mut theta_view = theta.view_mut();
        check(ntk_kernel_limit(net.get(), x.view(), NULL, NULL, NULL, &theta_view, NULL), "ntk_kernel_limit");

        double worst = 0.0;
        for (size_t i = 0; i < n; i++) {
            for (size_t j = 0; j < n; j++) {
                double s11 = (x(i, 0) * x(i, 0) + x(i, 1) * x(i, 1)) / 2.0 + beta * beta;
                double s22 = (x(j, 0) * x(j, 0) + x(j, 1) * x(j, 1)) / 2.0 + beta * beta;
                double s12 = (x(i, 0) * x(j, 0) + x(i, 1) * x(j, 1)) / 2.0 + beta * beta;
                double c = s12 / std::sqrt(s11 * s22);
                if (c > 1.0) c = 1.0;
                double t = std::acos(c);
                double sigma2 = std::sqrt(s11 * s22) * (std::sin(t) + (pi - t) * c) / (2.0 * pi) + beta * beta;
                double ref = s12 * (pi - t) / (2.0 * pi) + sigma2;
                double rel = std::fabs(theta(i, j) - ref) / std::fabs(ref);
                if (rel > worst) worst = rel;
            }
        }
        std::printf("limit NTK Theta(x_0, x_1) = %.15f; largest relative difference from the closed form: %.2e\n",
                    theta(0, 1), worst);
        if (!(worst < 1e-10)) {
            std::fprintf(stderr, "example.cpp: limit NTK differs from the closed form\n");
            return 1;
        }

        matrix y(n, 1);
        for (size_t i = 0; i < n; i++) y(i, 0) = x(i, 0) * x(i, 1);
        std::vector<double> losses(51);
        check(ntk_network_train(net.get(), x.view(), y.view(), NTK_COST_MSE, 1.0, 50, losses.data(), NULL),
              "ntk_network_train");
        std::printf("gradient descent, 50 steps: loss %.6g -> %.6g\n", losses.front(), losses.back());
        if (!(losses.back() < losses.front())) return 1;

        // A failed call becomes an exception carrying the library's message.
        try {
            matrix bad(n, 3);
            matrix out(n, 1);
            check(ntk_network_forward(net.get(), bad.view(), out.view_mut()), "ntk_network_forward");
            std::fprintf(stderr, "example.cpp: a wrong shape was accepted\n");
            return 1;
        } catch (const ntk_error &e) {
            std::printf("expected error: %s\n", e.what());
            if (e.status != NTK_STATUS_INVALID_ARGUMENT) return 1;
        }
        return 0;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "example.cpp: %s\n", e.what());
        return 1;
    }
}
